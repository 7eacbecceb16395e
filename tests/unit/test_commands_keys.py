"""Unit tests of the keyspace commands (commands/keys.py), run in-process on a Node.

Each test drives the real dispatch path (``process_command``) on a node with
no sockets and records what the commands emit besides their replies:
keyspace events, ``dirty`` increments and the argv propagated to replicas.
The expected values are Redis 7.0's, as observed on redis-server 7.0.15
(the integration tests compare with a live redis-server as well).
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardis.commands as commands
from shardis.commands import keys as K
from shardis.keyspace import notify as kn
from shardis.keyspace.objects import Hash, List, Set, ZSet
from shardis.server import dispatch
from shardis.server.commandtable import lookup
from shardis.server.config import Config
from shardis.server.connection import Client
from shardis.server.node import Node

commands.load_all()


class Harness:
    """A node, one client, and recorders for events, dirty and propagation."""

    def __init__(self, **config):
        cfg = Config()
        for name, value in config.items():
            cfg.set_value(name.replace("_", "-"), value)
        self.node = Node(cfg)
        self.c = Client(self.node)
        self.events: list = []
        self.propagated: list = []
        self.node.notify_flags = kn.ALL | kn.NEW | kn.KEY_MISS | kn.KEYSPACE | kn.KEYEVENT
        self.node.notify = lambda cls, ev, key, dbid: self.events.append((ev, key, dbid))
        self.node.propagate_hooks = [lambda dbid, argv: self.propagated.append([bytes(a) for a in argv])]

    @property
    def db(self):
        return self.c.db

    def __call__(self, *args):
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        return dispatch.process_command(self.c, argv, lookup(argv[0]))

    def run(self, *args):
        """(reply, events, dirty delta, propagated) of one command."""
        self.events.clear()
        self.propagated.clear()
        d0 = self.node.dirty
        reply = self(*args)
        return reply, list(self.events), self.node.dirty - d0, list(self.propagated)


@pytest.fixture
def h():
    return Harness()


def now_ms() -> int:
    return int(time.time() * 1000)


# --- DEL, EXISTS, TYPE, TOUCH -------------------------------------------------------------


def test_del_counts_events_and_dirty(h):
    h("SET", "a", "1")
    h.db.set(b"l", List([b"x"]))
    reply, events, dirty, prop = h.run("DEL", "a", "l", "nokey", "a")
    assert reply == b":2\r\n"
    assert events == [(b"del", b"a", 0), (b"del", b"l", 0)]
    assert dirty == 2
    assert prop == [[b"DEL", b"a", b"l", b"nokey", b"a"]]
    reply, events, dirty, prop = h.run("UNLINK", "nokey")
    assert (reply, events, dirty, prop) == (b":0\r\n", [], 0, [])


def test_del_of_an_expired_key_is_an_expiry_not_a_deletion(h):
    h("SET", "a", "1")
    h.db.expires[b"a"] = now_ms() - 1
    reply, events, dirty, _ = h.run("DEL", "a")
    assert reply == b":0\r\n"
    assert events == [(b"expired", b"a", 0)]
    assert dirty == 0


def test_exists_type_touch(h):
    h("SET", "s", "v")
    h.db.set(b"st", Set([b"m"]))
    assert h("EXISTS", "s", "s", "nokey") == b":2\r\n"
    assert h("TYPE", "s") == b"+string\r\n"
    assert h("TYPE", "st") == b"+set\r\n"
    assert h("TYPE", "nokey") == b"+none\r\n"
    assert h("TOUCH", "s", "nokey", "st") == b":2\r\n"


def test_notouch_lookups_count_stats_but_keep_the_access_clock(h):
    h("SET", "s", "v")
    h.db.access[b"s"] = 123
    hits, misses = h.db.hits, h.db.misses
    h("EXISTS", "s", "nokey")
    h("TYPE", "s")
    h("TTL", "s")
    assert h.db.access[b"s"] == 123
    assert h.db.hits == hits + 3
    assert h.db.misses == misses + 1
    h("TOUCH", "s")
    assert h.db.access[b"s"] == h.node.lru_clock


def test_keymiss_events_follow_redis_lookup_flags(h):
    _, events, _, _ = h.run("EXISTS", "nokey")
    assert events == [(b"keymiss", b"nokey", 0)]
    _, events, _, _ = h.run("OBJECT", "ENCODING", "nokey")
    assert events == []  # OBJECT looks up with LOOKUP_NONOTIFY


# --- RENAME, MOVE, COPY ------------------------------------------------------------------------


def test_rename_moves_value_and_ttl(h):
    h("SET", "a", "1")
    h("PEXPIREAT", "a", now_ms() + 100000)
    when = h.db.get_expire(b"a")
    h("SET", "b", "old")
    reply, events, dirty, _ = h.run("RENAME", "a", "b")
    assert reply == b"+OK\r\n"
    assert events == [(b"new", b"b", 0), (b"rename_from", b"a", 0), (b"rename_to", b"b", 0)]
    assert dirty == 1
    assert h("GET", "b") == b"$1\r\n1\r\n"
    assert h.db.get_expire(b"b") == when
    assert h("EXISTS", "a") == b":0\r\n"


def test_rename_edge_cases(h):
    assert h("RENAME", "nokey", "x") == b"-ERR no such key\r\n"
    assert h("RENAMENX", "nokey", "x") == b"-ERR no such key\r\n"
    h("SET", "a", "1")
    assert h.run("RENAME", "a", "a")[:3] == (b"+OK\r\n", [], 0)
    assert h("RENAMENX", "a", "a") == b":0\r\n"
    h("SET", "b", "2")
    assert h("RENAMENX", "a", "b") == b":0\r\n"
    assert h("RENAMENX", "a", "c") == b":1\r\n"


def test_rename_drops_the_destination_ttl(h):
    h("SET", "a", "1")
    h("SET", "b", "2")
    h("EXPIRE", "b", "1000")
    h("RENAME", "a", "b")
    assert h("TTL", "b") == b":-1\r\n"


def test_move(h):
    h("SET", "a", "1")
    h("EXPIRE", "a", "1000")
    reply, events, dirty, _ = h.run("MOVE", "a", "3")
    assert reply == b":1\r\n"
    assert events == [(b"new", b"a", 3), (b"move_from", b"a", 0), (b"move_to", b"a", 3)]
    assert dirty == 1
    db3 = h.node.dbs[3]
    assert db3.data[b"a"] == b"1" and db3.get_expire(b"a") is not None
    assert b"a" not in h.db.data
    assert h("MOVE", "a", "3") == b":0\r\n"
    assert h("MOVE", "a", "0") == b"-ERR source and destination objects are the same\r\n"
    assert h("MOVE", "a", "16") == b"-ERR DB index is out of range\r\n"
    assert h("MOVE", "a", "-1") == b"-ERR DB index is out of range\r\n"
    assert h("MOVE", "a", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert h("MOVE", "a", "4294967296") == b"-ERR value is not an integer or out of range\r\n"
    h("SET", "b", "1")
    db3.set(b"b", b"other")
    assert h("MOVE", "b", "3") == b":0\r\n"


def _containers():
    hsh = Hash({b"f": b"v"})
    lst = List([b"a", b"b"])
    st_ = Set([b"1", b"2"])
    zs = ZSet()
    zs.add(b"m", 1.5)
    zs.add(b"n", 2.0)
    big = Hash({b"f%d" % i: b"v" for i in range(3)})
    big.encoding = b"hashtable"
    return {b"h": hsh, b"l": lst, b"s": st_, b"z": zs, b"hb": big}


def test_copy_is_deep_and_keeps_type_and_encoding(h):
    for key, value in _containers().items():
        h.db.set(key, value)
        assert h("COPY", key, key + b"2") == b":1\r\n"
        dup = h.db.data[key + b"2"]
        assert dup is not value
        assert type(dup) is type(value)
        assert dup.encoding == value.encoding
        if isinstance(value, ZSet):
            assert dup.dict == value.dict and list(dup.sl) == list(value.sl)
            dup.add(b"new", 9.0)
            assert b"new" not in value.dict
        else:
            assert dup == value
            if isinstance(value, Hash):
                dup[b"x"] = b"y"
            elif isinstance(value, List):
                dup.append(b"x")
            else:
                dup.add(b"x")
            assert dup != value


def test_copy_strings_and_raw_strings(h):
    h("SET", "s", "12")
    h("APPEND", "r", "x")
    h("APPEND", "r", "y")
    assert h("OBJECT", "ENCODING", "r") == b"$3\r\nraw\r\n"
    h("COPY", "r", "r2")
    h("APPEND", "r2", "z")
    assert h("GET", "r") == b"$2\r\nxy\r\n"
    assert h("OBJECT", "ENCODING", "r2") == b"$3\r\nraw\r\n"
    h("COPY", "s", "s2")
    assert h("OBJECT", "ENCODING", "s2") == b"$3\r\nint\r\n"


def test_copy_options_and_events(h):
    h("SET", "a", "1")
    h("EXPIRE", "a", "1000")
    reply, events, dirty, _ = h.run("COPY", "a", "b", "DB", "2")
    assert reply == b":1\r\n"
    assert events == [(b"new", b"b", 2), (b"copy_to", b"b", 2)]
    assert dirty == 1
    assert h.node.dbs[2].get_expire(b"b") == h.db.get_expire(b"a")
    assert h("COPY", "a", "b", "DB", "2") == b":0\r\n"
    assert h("COPY", "a", "b", "db", "2", "replace") == b":1\r\n"
    assert h("COPY", "a", "a") == b"-ERR source and destination objects are the same\r\n"
    assert h("COPY", "a", "a", "DB", "1") == b":1\r\n"
    assert h("COPY", "a", "x", "DB") == b"-ERR syntax error\r\n"
    assert h("COPY", "a", "x", "FOO") == b"-ERR syntax error\r\n"
    assert h("COPY", "a", "x", "DB", "16") == b"-ERR DB index is out of range\r\n"
    assert h("COPY", "a", "x", "DB", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert h("COPY", "nokey", "x") == b":0\r\n"


def test_cluster_mode_refuses_cross_db_copy_and_move(h):
    h.node.cluster = object()
    h("SET", "a", "1")
    assert h("MOVE", "a", "1") == b"-ERR MOVE is not allowed in cluster mode\r\n"
    assert h("COPY", "a", "b", "DB", "1") == (
        b"-ERR Copying to another database is not allowed in cluster mode\r\n"
    )
    h.node.cluster = None


# --- EXPIRE family -----------------------------------------------------------------------------


def test_expire_sets_and_propagates_absolute_time(h):
    h("SET", "a", "1")
    t0 = now_ms()
    reply, events, dirty, prop = h.run("EXPIRE", "a", "100", "NX")
    t1 = now_ms()
    assert reply == b":1\r\n"
    assert events == [(b"expire", b"a", 0)]
    assert dirty == 1
    (argv,) = prop
    assert argv[0] == b"PEXPIREAT" and argv[1] == b"a" and argv[3] == b"NX"
    assert t0 + 100000 <= int(argv[2]) <= t1 + 100000
    assert int(argv[2]) == h.db.get_expire(b"a")
    _, _, _, prop = h.run("PEXPIREAT", "a", str(t1 + 5000))
    assert prop == [[b"PEXPIREAT", b"a", b"%d" % (t1 + 5000)]]


def test_expire_in_the_past_deletes(h):
    h("SET", "a", "1")
    reply, events, dirty, prop = h.run("EXPIRE", "a", "-5")
    assert reply == b":1\r\n"
    assert events == [(b"del", b"a", 0)]
    assert dirty == 1
    assert prop == [[b"DEL", b"a"]]
    assert b"a" not in h.db.data
    h2 = Harness(lazyfree_lazy_expire=True)
    h2("SET", "a", "1")
    assert h2.run("PEXPIREAT", "a", "1")[3] == [[b"UNLINK", b"a"]]


def test_expire_in_the_past_on_a_replica_only_sets_the_time(h):
    h("SET", "a", "1")
    class Master:
        connected = True

    h.node.master = Master()
    h.c.is_master_link = True  # the write comes from our master
    try:
        assert h("PEXPIREAT", "a", "1") == b":1\r\n"
        assert h.db.expires[b"a"] == 1
    finally:
        h.node.master = None
        h.c.is_master_link = False


@pytest.mark.parametrize(
    "current, args, expected",
    [
        (None, ("NX",), 1), (500, ("NX",), 0),
        (None, ("XX",), 0), (500, ("XX",), 1),
        (None, ("GT",), 0), (500, ("GT",), 1), (5000, ("GT",), 0), (1000, ("GT",), 0),
        (None, ("LT",), 1), (500, ("LT",), 0), (5000, ("LT",), 1), (1000, ("LT",), 0),
        (500, ("XX", "GT"), 1), (5000, ("XX", "LT"), 1), (None, ("XX", "LT"), 0),
    ],
)
def test_expire_conditions(h, current, args, expected):
    base = now_ms() + 10**7  # absolute times, so equal means equal
    h("SET", "a", "1")
    if current is not None:
        h("PEXPIREAT", "a", str(base + current))
    assert h("PEXPIREAT", "a", str(base + 1000), *args) == b":%d\r\n" % expected


def test_expire_errors(h):
    h("SET", "a", "1")
    e = h
    assert e("EXPIRE", "a", "10", "NX", "XX") == b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    assert e("EXPIRE", "a", "10", "NX", "GT") == b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    assert e("EXPIRE", "a", "10", "XX", "GT", "LT") == b"-ERR GT and LT options at the same time are not compatible\r\n"
    assert e("EXPIRE", "a", "10", "foo") == b"-ERR Unsupported option foo\r\n"
    assert e("EXPIRE", "a", "10", b"f\x00oo") == b"-ERR Unsupported option f\r\n"
    assert e("EXPIRE", "a", "abc") == b"-ERR value is not an integer or out of range\r\n"
    assert e("EXPIRE", "a", "9223372036854775807") == b"-ERR invalid expire time in 'expire' command\r\n"
    assert e("EXPIRE", "a", "-9223372036854775808") == b"-ERR invalid expire time in 'expire' command\r\n"
    assert e("PEXPIRE", "a", "9223372036854775807") == b"-ERR invalid expire time in 'pexpire' command\r\n"
    assert e("EXPIREAT", "a", "9223372036854776") == b"-ERR invalid expire time in 'expireat' command\r\n"
    # the option errors come before the time is parsed, and the key is looked at last
    assert e("EXPIRE", "nokey", "abc", "bad") == b"-ERR Unsupported option bad\r\n"
    assert e("EXPIRE", "nokey", "10") == b":0\r\n"


def test_ttl_family(h):
    assert h("TTL", "nokey") == b":-2\r\n"
    assert h("PEXPIRETIME", "nokey") == b":-2\r\n"
    h("SET", "a", "1")
    assert h("TTL", "a") == b":-1\r\n"
    assert h("EXPIRETIME", "a") == b":-1\r\n"
    when = now_ms() + 100400
    h("PEXPIREAT", "a", str(when))
    assert h("PEXPIRETIME", "a") == b":%d\r\n" % when
    assert h("EXPIRETIME", "a") == b":%d\r\n" % ((when + 500) // 1000)
    assert h("TTL", "a") in (b":100\r\n", b":99\r\n")
    pttl = int(h("PTTL", "a")[1:-2])
    assert 99000 < pttl <= 100400


def test_persist(h):
    h("SET", "a", "1")
    assert h.run("PERSIST", "a")[:3] == (b":0\r\n", [], 0)
    h("EXPIRE", "a", "100")
    reply, events, dirty, _ = h.run("PERSIST", "a")
    assert (reply, events, dirty) == (b":1\r\n", [(b"persist", b"a", 0)], 1)
    assert h("TTL", "a") == b":-1\r\n"
    assert h("PERSIST", "nokey") == b":0\r\n"


def test_expire_touches_watchers(h):
    h("SET", "a", "1")

    class Watcher:
        dirty_cas = False

    w = Watcher()
    h.db.watched[b"a"] = {w}
    h("EXPIRE", "a", "100")
    assert w.dirty_cas
    w.dirty_cas = False
    h("EXPIRE", "a", "100", "NX")  # not applied: not a modification
    assert not w.dirty_cas
    h.db.watched.clear()


# --- OBJECT -----------------------------------------------------------------------------------


def test_object_encoding_of_strings(h):
    cases = [("12", b"int"), ("-9223372036854775808", b"int"), ("012", b"embstr"),
             ("x" * 44, b"embstr"), ("x" * 45, b"raw"), ("9223372036854775808", b"embstr")]
    for value, enc in cases:
        h("SET", "k", value)
        assert h("OBJECT", "ENCODING", "k") == b"$%d\r\n%b\r\n" % (len(enc), enc), value
    assert h("OBJECT", "ENCODING", "nokey") == b"$-1\r\n"
    from shardis.protocol.resp import RESP3

    h.c.resp = RESP3
    assert h("OBJECT", "ENCODING", "nokey") == b"_\r\n"


def test_object_refcount_shared_integers(h):
    for value, expected in (("5", 2147483647), ("9999", 2147483647), ("10000", 1), ("-1", 1), ("abc", 1)):
        h("SET", "k", value)
        assert h("OBJECT", "REFCOUNT", "k") == b":%d\r\n" % expected, value
    h2 = Harness(maxmemory=1 << 30, maxmemory_policy="allkeys-lru")
    h2("SET", "k", "5")
    assert h2("OBJECT", "REFCOUNT", "k") == b":1\r\n"


def test_object_idletime_and_freq(h):
    h("SET", "k", "v")
    h.db.access[b"k"] = h.node.lru_clock - 42
    assert h("OBJECT", "IDLETIME", "k") == b":42\r\n"
    assert h.db.access[b"k"] == h.node.lru_clock - 42  # OBJECT does not touch
    assert h("OBJECT", "FREQ", "k").startswith(b"-ERR An LFU maxmemory policy is not selected")
    h2 = Harness(maxmemory_policy="allkeys-lfu")
    h2("SET", "k", "v")
    assert h2("OBJECT", "IDLETIME", "k").startswith(b"-ERR An LFU maxmemory policy is selected")
    assert h2("OBJECT", "FREQ", "k") == b":5\r\n"


def test_object_help_and_errors(h):
    reply = h("OBJECT", "HELP")
    assert reply.startswith(b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n")
    assert reply.endswith(b"+HELP\r\n+    Prints this help.\r\n")
    assert h("OBJECT", "FOO", "k") == b"-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n"
    assert h("OBJECT", "ENCODING") == b"-ERR wrong number of arguments for 'object|encoding' command\r\n"


# --- KEYS, SCAN, RANDOMKEY ---------------------------------------------------------------------------


def _keys(reply: bytes) -> list:
    parts = reply.split(b"\r\n")
    n = int(parts[0][1:])
    return [parts[2 + 2 * i] for i in range(n)]


def test_keys_patterns_and_expired_keys(h):
    for k in (b"", b"a1", b"a2", b"b1", b"a*"):
        h.db.set(k, b"v")
    h.db.expires[b"a2"] = now_ms() - 1
    assert sorted(_keys(h("KEYS", "*"))) == [b"", b"a*", b"a1", b"b1"]
    assert sorted(_keys(h("KEYS", "**"))) == [b"a*", b"a1", b"b1"]  # "*" alone also matches ""
    assert sorted(_keys(h("KEYS", "a?"))) == [b"a*", b"a1"]
    assert _keys(h("KEYS", "a\\*")) == [b"a*"]
    assert b"a2" in h.db.data  # KEYS does not delete expired keys


def _scan_all(h, count=10, extra=(), between=None, limit=100000):
    cursor = b"0"
    seen = []
    calls = 0
    while True:
        reply = h("SCAN", cursor, "COUNT", count, *extra)
        parts = reply.split(b"\r\n")
        cursor = parts[2]
        seen += _keys(b"\r\n".join(parts[3:]))
        calls += 1
        if cursor == b"0":
            return seen, calls
        if between is not None:
            between(calls)
        assert calls < limit


def test_scan_small_keyspace_in_one_call(h):
    for i in range(5):
        h.db.set(b"k%d" % i, b"v")
    reply = h("SCAN", "0")
    assert reply.startswith(b"*2\r\n$1\r\n0\r\n*5\r\n")


def test_scan_returns_every_key_once_without_changes(h):
    keys = {b"key:%d" % i for i in range(1000)}
    for k in keys:
        h.db.set(k, b"v")
    seen, calls = _scan_all(h, count=7)
    assert sorted(seen) == sorted(keys)
    assert calls >= 1000 // 7


@settings(max_examples=40, deadline=None)
@given(
    initial=st.integers(min_value=0, max_value=300),
    ops=st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=600)), max_size=400),
    count=st.integers(min_value=1, max_value=50),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_scan_guarantee_under_concurrent_changes(initial, ops, count, seed):
    """A key present for the whole scan is returned at least once, whatever happens in between."""
    h = Harness()
    rng = random.Random(seed)
    for i in range(initial):
        h.db.set(b"k%d" % i, b"v")
    start_keys = set(h.db.data)
    removed: set = set()
    it = iter(ops)

    def between(_calls):
        for _ in range(rng.randint(0, 5)):
            op = next(it, None)
            if op is None:
                return
            add, n = op
            k = b"k%d" % n
            if add:
                h("SET", k, "v")
            else:
                h("DEL", k)
                removed.add(k)

    seen, _ = _scan_all(h, count=count, between=between)
    survivors = start_keys - removed
    assert survivors <= set(seen)
    # nothing is returned that never existed
    assert set(seen) <= start_keys | {b"k%d" % n for _, n in ops}


def test_scan_restarts_when_the_snapshot_is_gone(h):
    for i in range(100):
        h.db.set(b"k%d" % i, b"v")
    reply = h("SCAN", "0", "COUNT", "10")
    cursor = reply.split(b"\r\n")[2]
    assert cursor != b"0"
    K._REGISTRIES[h.db].snaps.clear()
    seen, _ = _scan_all(h, count=10)
    assert len(set(seen)) == 100
    # a cursor from nowhere behaves like a restart too
    reply = h("SCAN", str(12345 << K.SCAN_POS_BITS), "COUNT", "1000")
    assert len(_keys(b"\r\n".join(reply.split(b"\r\n")[3:]))) == 100


def test_scan_snapshots_are_bounded(h):
    for i in range(50):
        h.db.set(b"k%d" % i, b"v")
    for i in range(K.SCAN_MAX_SNAPSHOTS * 2):
        h("SET", "w%d" % i, "v")  # a write between scans forces a new snapshot
        h("SCAN", "0", "COUNT", "5")
    assert len(K._REGISTRIES[h.db].snaps) <= K.SCAN_MAX_SNAPSHOTS


def test_scan_reuses_the_snapshot_while_nothing_is_written(h):
    for i in range(50):
        h.db.set(b"k%d" % i, b"v")
    h("SCAN", "0", "COUNT", "5")
    h("SCAN", "0", "COUNT", "5")
    assert len(K._REGISTRIES[h.db].snaps) == 1


def test_scans_sharing_a_snapshot_do_not_restart_each_other(h):
    for i in range(100):
        h.db.set(b"k%d" % i, b"v")
    first = h("SCAN", "0", "COUNT", "10").split(b"\r\n")[2]
    seen_a, _ = _scan_all(h, count=30)  # a second scan, on the same snapshot, runs to the end
    assert len(K._REGISTRIES[h.db].snaps) == 1
    cursor, seen_b = first, []
    while cursor != b"0":
        parts = h("SCAN", cursor, "COUNT", "10").split(b"\r\n")
        cursor = parts[2]
        seen_b += _keys(b"\r\n".join(parts[3:]))
    assert len(seen_b) == 90 and len(set(seen_a)) == 100  # no restart: nothing repeated
    assert not K._REGISTRIES[h.db].snaps


def test_scan_does_not_share_a_snapshot_after_changes(h):
    for i in range(100):
        h.db.set(b"k%d" % i, b"v")
    h("SCAN", "0", "COUNT", "10")
    h.db.set(b"new", b"v")  # bypasses dirty: the exact check must notice
    seen, _ = _scan_all(h, count=10)
    assert b"new" in seen


def test_scan_filters(h):
    for i in range(30):
        h.db.set(b"s%d" % i, b"v")
    h.db.set(b"h", Hash({b"f": b"v"}))
    h.db.set(b"l", List([b"x"]))
    h.db.set(b"gone", b"v")
    h.db.expires[b"gone"] = now_ms() - 1
    seen, _ = _scan_all(h, count=4, extra=("TYPE", "LIST"))
    assert seen == [b"l"]
    seen, _ = _scan_all(h, count=4, extra=("MATCH", "s1*"))
    assert sorted(seen) == sorted([b"s1"] + [b"s%d" % i for i in range(10, 20)])
    seen, _ = _scan_all(h, count=4)
    assert b"gone" not in seen and b"gone" not in h.db.data  # expired keys are deleted


@pytest.mark.parametrize(
    "cursor, ok",
    [(b"", True), (b"0", True), (b"+0", True), (b"-1", True), (b"18446744073709551615", True),
     (b"18446744073709551616", False), (b"-18446744073709551616", False), (b" 0", False),
     (b"0 ", False), (b"x", False), (b"0x10", False), (b"+", False), (b"-", False), (b"0\x00", False)],
)
def test_scan_cursor_parsing(h, cursor, ok):
    reply = h("SCAN", cursor)
    if ok:
        assert reply.startswith(b"*2\r\n")
    else:
        assert reply == b"-ERR invalid cursor\r\n"


def test_parse_scan_cursor_wraps_negative_values():
    assert K.parse_scan_cursor(b"-1") == 2**64 - 1
    assert K.parse_scan_cursor(b"-18446744073709551615") == 1
    assert K.parse_scan_cursor(b"") == 0


def test_scan_option_errors(h):
    assert h("SCAN", "0", "COUNT", "0") == b"-ERR syntax error\r\n"
    assert h("SCAN", "0", "COUNT", "abc") == b"-ERR value is not an integer or out of range\r\n"
    assert h("SCAN", "0", "MATCH") == b"-ERR syntax error\r\n"
    assert h("SCAN", "x", "COUNT", "0") == b"-ERR invalid cursor\r\n"


def test_randomkey(h):
    assert h("RANDOMKEY") == b"$-1\r\n"
    keys = {b"a", b"b", b"c"}
    for k in keys:
        h.db.set(k, b"v")
    seen = {h("RANDOMKEY").split(b"\r\n")[1] for _ in range(200)}
    assert seen == keys


def test_randomkey_skips_and_deletes_expired_keys(h):
    h.db.set(b"live", b"v")
    for i in range(20):
        h.db.set(b"dead%d" % i, b"v")
        h.db.expires[b"dead%d" % i] = now_ms() - 1
    assert h("RANDOMKEY") == b"$4\r\nlive\r\n"


def test_randomkey_large_keyspace(h):
    n = K.RANDOMKEY_EXACT_LIMIT * 2
    for i in range(n):
        h.db.set(b"k%d" % i, b"v")
    for i in range(n // 2):
        h("DEL", "k%d" % i)
    for _ in range(50):
        k = h("RANDOMKEY").split(b"\r\n")[1]
        assert k in h.db.data
