"""A pipeline of one command run at once (connection.run_uniform) does what the same requests do one by one.

Every test drives two nodes set up alike: one is given the pipeline as one
read, which ``run_uniform`` takes (a command's batch form, or its handler
over the rows), the other is given the same requests through the reader
and process_input, one at a time.  Then everything a client or another
command could observe is compared: the reply bytes, every database's keys,
values, TTLs and LRU clocks, hit/miss counters, the dirty counter,
keyspace events, WATCHers' state, and the command's call count.

``CASES`` says, per command, how requests are drawn; hypothesis draws a
starting state (strings, bytearrays, lists, TTLs in the past and the
future, watched keys, keyspace events on or off) and a few pipelines.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.commands import load_all
from shardis.keyspace import notify as kn
from shardis.keyspace.objects import Hash, List, Set, ZSet
from shardis.protocol.resp import encode_request, split_uniform
from shardis.server import connection
from shardis.server.commandtable import TABLE, lookup
from shardis.server.config import Config
from shardis.server.connection import Client
from shardis.server.node import Node
from shardis.testing.loop import PassLoop

load_all()

KEYS = [b"k0", b"k1", b"k2", b"k3", b"k4"]


class Transport:
    def __init__(self):
        self.data = bytearray()
        self.closed = False

    def write(self, data):
        self.data += data

    def close(self):
        self.closed = True

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return default


class Side:
    """One node, its client, a WATCHing client and an event recorder."""

    def __init__(self, notify: bool):
        self.node = Node(Config())
        self.node.loop = PassLoop()
        self.node.lru_clock = 1000
        self.c = self.client()
        self.watcher = self.client()
        self.events: list = []
        if notify:
            self.node.notify_flags = kn.ALL | kn.NEW | kn.KEY_MISS | kn.KEYSPACE | kn.KEYEVENT
            self.node.notify = lambda cls, ev, key, dbid: self.events.append((ev, key, dbid))

    def client(self):
        c = Client(self.node)
        c.transport = Transport()
        self.node.clients[c.id] = c
        c.update_fast()
        return c

    def run(self, c, argv):
        self.feed(c, encode_request(argv))

    def feed(self, c, data):
        c.data_received(data)
        self.node.loop.run()

    def state(self):
        dbs = []
        for db in self.node.dbs:
            if not (db.data or db.expires):
                continue
            dbs.append(
                (
                    db.id,
                    {k: dump_value(v) for k, v in db.data.items()},
                    dict(db.expires),
                    dict(db.access),
                    db.hits,
                    db.misses,
                    db.expired_keys,
                )
            )
        return dbs, self.node.dirty, list(self.events), self.watcher.dirty_cas


def strip_ttls(state):
    dbs, *rest = state
    return [d[:2] + d[3:] for d in dbs], *rest


def dump_value(v):
    if isinstance(v, (bytes, bytearray)):
        return (type(v).__name__, bytes(v))
    if isinstance(v, List):
        return ("list", list(v))
    if isinstance(v, (Set, Hash)):  # encoding, and contents in iteration order (what SMEMBERS/HGETALL show)
        return (type(v).__name__, v.encoding, list(v.items()) if isinstance(v, Hash) else list(v))
    if isinstance(v, ZSet):  # encoding, entries in order and the member index (repr: -0.0 is not 0.0)
        return ("ZSet", v.encoding, [(repr(s), m) for s, m in v.sl], sorted((m, repr(s)) for m, s in v.dict.items()))
    return (type(v).__name__, repr(v))


class Twin:
    def __init__(self, notify: bool = False):
        self.batch = Side(notify)
        self.single = Side(notify)
        self.uniform_runs = 0

    def setup(self, *argv):
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
        for side in (self.batch, self.single):
            side.run(side.c, argv)
            side.c.transport.data.clear()
            side.events.clear()

    def watch(self, key: bytes):
        for side in (self.batch, self.single):
            side.run(side.watcher, [b"WATCH", key])

    def pipeline(self, requests: list) -> bytes:
        data = b"".join(encode_request(r) for r in requests)
        cmd = lookup(requests[0][0])
        calls = cmd.calls
        # the batch side: the whole read at once
        b = self.batch
        if split_uniform(data) is not None and b.c.run_uniform(data):
            self.uniform_runs += 1
            b.node.loop.run()
        else:
            b.feed(b.c, data)
        assert cmd.calls - calls == len(requests)
        # the other side: the usual route, one request at a time
        s = self.single
        saved = connection.UNIFORM_MAX_BYTES
        connection.UNIFORM_MAX_BYTES = 0
        try:
            s.feed(s.c, data)
        finally:
            connection.UNIFORM_MAX_BYTES = saved
        assert cmd.calls - calls == 2 * len(requests)
        return self.compare()

    def one(self, request: list) -> bytes:
        """One request as one read: through data_received on the batch side
        (connection.run_one takes it when it may), the usual route on the other."""
        data = encode_request(request)
        b, s = self.batch, self.single
        b.feed(b.c, data)
        saved = connection.UNIFORM_MAX_BYTES
        connection.UNIFORM_MAX_BYTES = 0  # no run_uniform, no run_one
        try:
            s.feed(s.c, data)
        finally:
            connection.UNIFORM_MAX_BYTES = saved
        for side in (b, s):  # what INFO shows of the command
            side.stats = (side.node.stat_numcommands, getattr(side.c.last_cmd, "fullname", side.c.last_cmd))
        assert b.stats == s.stats
        return self.compare()

    def compare(self) -> bytes:
        """The replies and every observable piece of state of both sides are equal; the replies."""
        b, s = self.batch, self.single
        got, want = bytes(b.c.transport.data), bytes(s.c.transport.data)
        assert got == want
        sb, ss = b.state(), s.state()
        assert [d[2].keys() for d in sb[0]] == [d[2].keys() for d in ss[0]]
        for db_b, db_s in zip(sb[0], ss[0]):
            # TTLs set by the requests (PX) are read off each side's clock a moment apart
            assert all(abs(db_b[2][k] - db_s[2][k]) < 1000 for k in db_b[2])
        assert strip_ttls(sb) == strip_ttls(ss)
        b.c.transport.data.clear()
        s.c.transport.data.clear()
        return got


def count_batches(monkeypatch, name: bytes) -> list:
    """Record, for every call of the batch form of ``name``, whether it ran (True) or declined."""
    cmd = TABLE[name]
    form = cmd.batch
    taken = []

    def counted(c, columns, m):
        r = form(c, columns, m)
        taken.append(r is not None)
        return r

    monkeypatch.setattr(cmd, "batch", counted)
    return taken


# --- how each command's requests are drawn ------------------------------------------------------

keys = st.sampled_from(KEYS)
values = st.one_of(st.sampled_from([b"", b"x", b"12", b"-3", b"hello"]), st.binary(max_size=12))

CASES = {
    "GET": st.tuples(st.just(b"GET"), keys),
    "SET": st.one_of(
        st.tuples(st.just(b"SET"), keys, values),
        st.tuples(st.just(b"SET"), keys, values, st.sampled_from([b"NX", b"XX", b"GET", b"KEEPTTL"])),
        st.tuples(st.just(b"SET"), keys, values, st.just(b"PX"), st.sampled_from([b"100000", b"0", b"x"])),
    ),
}

# a starting state: (kind, key) pairs
state_ops = st.lists(
    st.tuples(st.sampled_from(["string", "bytearray", "list", "ttl", "past-ttl", "watch"]), keys), max_size=6
)


def apply_state(t: Twin, ops) -> None:
    now = int(time.time() * 1000)
    for kind, key in ops:
        if kind == "string":
            t.setup("SET", key, b"v-" + key)
        elif kind == "bytearray":
            t.setup("SET", key, b"abc")
            t.setup("SETRANGE", key, 1, b"Z")  # leaves a bytearray value
        elif kind == "list":
            t.setup("DEL", key)
            t.setup("RPUSH", key, b"a", b"b")
        elif kind == "ttl":
            t.setup("SET", key, b"t", "PXAT", now + 100_000)
        elif kind == "past-ttl":
            t.setup("SET", key, b"old")
            for side in (t.batch, t.single):
                side.node.dbs[0].expires[key] = now - 1000  # logically expired, not yet reclaimed
        elif kind == "watch":
            t.watch(key)


def shape(req) -> tuple:
    return (req[0], len(req))


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), notify=st.booleans(), ops=state_ops)
def test_a_pipeline_at_once_equals_its_requests_one_by_one(name, data, notify, ops):
    t = Twin(notify)
    apply_state(t, ops)
    for _ in range(data.draw(st.integers(1, 4))):
        first = data.draw(CASES[name])
        # one shape per pipeline (same arity and name): only then is it uniform
        rest = data.draw(st.lists(CASES[name].filter(lambda r: shape(r) == shape(first)), max_size=20))
        t.pipeline([list(first)] + [list(r) for r in rest])


# --- the batch forms are actually taken ------------------------------------------------------------


def test_get_and_set_batches_run_at_once():
    t = Twin()
    sets = [[b"SET", b"k%d" % (i % 7), b"v%d" % i] for i in range(20)]
    assert t.pipeline(sets) == b"+OK\r\n" * 20
    gets = [[b"GET", b"k%d" % (i % 9)] for i in range(20)]
    reply = t.pipeline(gets)
    assert reply.count(b"$-1\r\n") == sum(1 for i in range(20) if i % 9 >= 7)
    assert t.uniform_runs == 2
    db = t.batch.node.dbs[0]
    assert db.data[b"k6"] == b"v13" and db.hits == 20 - 4 and db.misses == 4


def test_batch_forms_are_declared_for_get_and_set():
    assert TABLE[b"get"].batch is not None and TABLE[b"set"].batch is not None


def test_a_request_that_wakes_a_blocked_client_ends_the_batch():
    # LPUSH on a key a client is blocked on: that client must be served before
    # the next LPUSH runs, as process_command does; the rest of the batch then
    # takes the usual route.
    t = Twin()
    for side in (t.batch, t.single):
        blocked = side.client()
        side.run(blocked, [b"BLPOP", b"q", b"0"])
        assert blocked.blocked
        side.blocked = blocked
    t.pipeline([[b"LPUSH", b"q", b"a%d" % i] for i in range(5)])
    for side in (t.batch, t.single):
        assert bytes(side.blocked.transport.data) == b"*2\r\n$1\r\nq\r\n$2\r\na0\r\n"
        assert list(side.node.dbs[0].data[b"q"]) == [b"a4", b"a3", b"a2", b"a1"]


def test_reads_that_are_not_uniform_go_the_usual_way():
    t = Twin()
    c = t.batch.c
    assert not c.run_uniform(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n")  # mixed
    assert not c.run_uniform(b"*2\r\n$3\r\nGET\r\n$4\r\nk\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")  # CRLF in a key
    assert not c.run_uniform(b"*2\r\n$3\r\nGET\r\n$01\r\nk\r\n*2\r\n$3\r\nGET\r\n$01\r\nk\r\n")  # non-canonical
    assert not c.run_uniform(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\n")  # partial
    assert not c.run_uniform(b"*2\r\n$4\r\nNOPE\r\n$1\r\nk\r\n*2\r\n$4\r\nNOPE\r\n$1\r\nk\r\n")  # unknown
    assert not c.run_uniform(b"*1\r\n$3\r\nGET\r\n*1\r\n$3\r\nGET\r\n")  # wrong arity: process_command's error
    assert c.transport.data == b""
    t.pipeline([[b"GET", b"k\r\nk"], [b"GET", b"k"]])


def test_split_uniform_columns():
    data = b"".join(encode_request([b"SET", b"k%d" % i, b"v" * i]) for i in range(12))
    cols = split_uniform(data)  # lengths vary: the split way
    assert cols == [[b"SET"] * 12, [b"k%d" % i for i in range(12)], [b"v" * i for i in range(12)]]
    data = b"".join(encode_request([b"SET", b"k%02d" % i, b"v\r\n%02d" % i]) for i in range(12))
    cols = split_uniform(data)  # one shape: the pattern way (CRLF in a payload is no obstacle)
    assert [list(c) for c in cols] == [[b"SET"] * 12, [b"k%02d" % i for i in range(12)],
                                       [b"v\r\n%02d" % i for i in range(12)]]
    assert split_uniform(data[:-1]) is None and split_uniform(data + data[:5]) is None
    bad = data.replace(b"v\r\n03\r\n", b"v\r\n0\r\n3")  # same length, but no CRLF after that payload
    assert len(bad) == len(data) and split_uniform(bad) is None
    assert split_uniform(data[:-1]) is None
    assert split_uniform(data + b"*1\r\n$3\r\nSET\r\n") is None
    assert split_uniform(encode_request([b"MSET"] + [b"a", b"b"] * 32)) is None  # wider than UNIFORM_MAX_ARGS (64)
    big = b"x" * 5000  # a header beyond the table of canonical ones
    assert [list(c) for c in split_uniform(encode_request([b"SET", b"k", big]) * 2)] == [[b"SET"] * 2, [b"k"] * 2,
                                                                                        [big] * 2]
    assert split_uniform(encode_request([b"SET", b"k", big]).replace(b"$5000", b"$5001") * 2) is None


def test_one_shape_with_one_argument_is_checked_byte_for_byte():
    # GET-like requests: the payloads joined back between the fixed bytes must give the read again.
    data = b"".join(encode_request([b"GET", b"key:%04d" % i]) for i in range(16))
    assert split_uniform(data) == [[b"GET"] * 16, [b"key:%04d" % i for i in range(16)]]
    size = len(data) // 16  # 27 bytes, the payload at 17..24
    for i in range(len(data)):
        if 17 <= i % size < 25:
            continue  # a payload byte: any value reads
        bad = bytearray(data)
        bad[i] ^= 0x20
        assert split_uniform(bytes(bad)) is None, i
    assert split_uniform(data[:-size] + data[:size].replace(b"GET", b"GEX")) is None
