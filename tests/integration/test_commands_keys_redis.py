"""Differential tests of the keyspace commands against redis-server 7.0.

A shardis node and a redis-server run side by side (the ``diff`` fixture of
shardis.testing); every request goes to both and the raw reply bytes must
be equal, errors included.  Replies that legitimately differ are normalised
before comparing: remaining TTLs (a few ms apart), the order of KEYS and
SCAN results (a hash table's order), SCAN cursors, RANDOMKEY's choice.

Besides replies, the sequences compare ``dirty`` (INFO's
rdb_changes_since_last_save) after every command, and a separate test
compares the keyspace events both servers publish.  Hypothesis draws
sequences mixing the keys, strings and bitmap families over a small key
space; KEYS patterns are drawn from the glob metacharacters.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.testing import dirty_pair
from shardis.testing.differential import normalize_array_sorted

# DEBUG (for SET-ACTIVE-EXPIRE) must be enabled on both servers of the pair.
pytestmark = [pytest.mark.timeout(300), pytest.mark.node_directives("enable-debug-command yes")]

KEYS = [b"k1", b"k2", b"k3", b"{t}x", b"n"]


# --- normalisers ---------------------------------------------------------------------------------------


def normalize_scan(args, reply: bytes) -> bytes:
    """SCAN: the cursor value is ours (a snapshot position), the keys are a set."""
    if not reply.startswith(b"*2\r\n"):
        return reply
    parts = reply.split(b"\r\n")
    cursor = parts[2]
    rest = b"\r\n".join(parts[3:])
    return b"SCAN cursor=" + (b"0" if cursor == b"0" else b"more") + b" " + normalize_array_sorted(args, rest)


def normalize_randomkey(args, reply: bytes) -> bytes:
    return reply[:1]


NORMALIZERS = {
    b"SCAN": normalize_scan,
    b"RANDOMKEY": normalize_randomkey,
}


def run(diff, *args):
    name = args[0].upper() if isinstance(args[0], bytes) else args[0].upper().encode()
    return diff.check(*args, normalize=NORMALIZERS.get(name))


def run_sequence(diff, commands, check_dirty=True):
    diff.check("FLUSHALL")
    for args in commands:
        d0 = dirty_pair(diff) if check_dirty else None
        run(diff, *args)
        if check_dirty:
            d1 = dirty_pair(diff)
            assert d1[0] - d0[0] == d1[1] - d0[1], f"dirty differs after {args}: shardis " \
                f"+{d1[0] - d0[0]}, redis +{d1[1] - d0[1]}"


# --- scripted edge cases ----------------------------------------------------------------------------------


SCRIPTED = [
    ["SET", "a", "1"], ["SET", "s", "hello"], ["RPUSH", "l", "x", "y"], ["SADD", "st", "m"],
    ["HSET", "h", "f", "v"], ["ZADD", "z", "1", "m"],
    ["DEL", "a", "nokey", "a"], ["UNLINK", "nokey"], ["EXISTS", "s", "s", "nokey", "l"],
    ["TYPE", "s"], ["TYPE", "l"], ["TYPE", "st"], ["TYPE", "h"], ["TYPE", "z"], ["TYPE", "nokey"],
    ["TOUCH", "s", "nokey", "l"],
    ["RENAME", "nokey", "x"], ["RENAMENX", "nokey", "x"], ["RENAME", "s", "s"], ["RENAMENX", "s", "s"],
    ["RENAME", "s", "s2"], ["RENAMENX", "s2", "l"], ["RENAMENX", "s2", "s"],
    ["COPY", "s", "s"], ["COPY", "s", "s", "DB", "1"], ["COPY", "s", "c", "DB", "16"], ["COPY", "s", "c", "DB", "-1"],
    ["COPY", "s", "c", "DB", "x"], ["COPY", "s", "c", "FOO"], ["COPY", "s", "c", "DB"], ["COPY", "s", "c", "REPLACE", "REPLACE"],
    ["COPY", "l", "l2"], ["LRANGE", "l2", "0", "-1"], ["COPY", "h", "h2"], ["HGETALL", "h2"], ["COPY", "z", "z2"],
    ["ZRANGE", "z2", "0", "-1", "WITHSCORES"], ["COPY", "st", "st2"], ["SMEMBERS", "st2"],
    ["OBJECT", "ENCODING", "l2"], ["OBJECT", "ENCODING", "h2"], ["OBJECT", "ENCODING", "z2"], ["OBJECT", "ENCODING", "st2"],
    ["COPY", "l", "l2"], ["COPY", "l", "l2", "REPLACE"],
    ["MOVE", "s", "0"], ["MOVE", "s", "16"], ["MOVE", "s", "x"], ["MOVE", "nokey", "1"], ["MOVE", "s", "1"], ["MOVE", "c", "1"],
    ["SELECT", "1"], ["GET", "s"], ["SELECT", "0"],
    ["EXPIRE", "c", "100"], ["TTL", "c"], ["PTTL", "c"], ["EXPIRETIME", "c"], ["PEXPIRETIME", "c"],
    ["PERSIST", "c"], ["TTL", "c"], ["PERSIST", "c"], ["PERSIST", "nokey"],
    ["EXPIRE", "c", "100", "XX"], ["EXPIRE", "c", "50", "NX"], ["EXPIRE", "c", "200", "GT"], ["EXPIRE", "c", "100", "LT"],
    ["EXPIRE", "c", "300", "LT"], ["EXPIRE", "c", "10", "GT"], ["EXPIRE", "c", "10", "XX", "GT"], ["EXPIRE", "nokey", "10"],
    ["EXPIRE", "c", "10", "NX", "XX"], ["EXPIRE", "c", "10", "gt", "lt"], ["EXPIRE", "c", "10", "nx", "gt"],
    ["EXPIRE", "c", "10", "foo"], ["EXPIRE", "c", "10", "f\x00oo"], ["EXPIRE", "c", "abc"],
    ["EXPIRE", "c", "9223372036854775807"], ["EXPIRE", "c", "-9223372036854775808"],
    ["PEXPIRE", "c", "9223372036854775807"], ["EXPIREAT", "c", "9223372036854776"],
    ["EXPIREAT", "c", "9223372036854775"], ["TTL", "c"], ["PEXPIREAT", "c", "-9223372036854775808"], ["EXISTS", "c"],
    ["SET", "c", "1"], ["EXPIRE", "c", "-1"], ["EXISTS", "c"], ["SET", "c", "1"], ["EXPIREAT", "c", "1"], ["EXISTS", "c"],
    ["TTL", "nokey"], ["PTTL", "nokey"], ["EXPIRETIME", "nokey"], ["PEXPIRETIME", "nokey"],
    ["SET", "n", "5"], ["OBJECT", "ENCODING", "n"], ["OBJECT", "REFCOUNT", "n"], ["SET", "n", "123456"],
    ["OBJECT", "REFCOUNT", "n"], ["OBJECT", "ENCODING", "nokey"], ["OBJECT", "REFCOUNT", "nokey"],
    ["OBJECT", "IDLETIME", "nokey"], ["OBJECT", "IDLETIME", "n"], ["OBJECT", "FREQ", "n"], ["OBJECT", "HELP"],
    ["OBJECT"], ["OBJECT", "FOO"], ["OBJECT", "ENCODING"], ["OBJECT", "HELP", "x"],
    ["SET", "e44", "x" * 44], ["OBJECT", "ENCODING", "e44"], ["SET", "e45", "x" * 45], ["OBJECT", "ENCODING", "e45"],
    ["KEYS", "*"], ["KEYS", "e4?"], ["KEYS", "[el]*"], ["KEYS", "*2"], ["KEYS"],
    ["SCAN", "0", "COUNT", "1000"], ["SCAN", "0", "COUNT", "1000", "TYPE", "list"],
    ["SCAN", "0", "COUNT", "1000", "TYPE", "STRING"], ["SCAN", "0", "COUNT", "1000", "TYPE", "zset"],
    ["SCAN", "0", "COUNT", "1000", "TYPE", "hash"], ["SCAN", "0", "COUNT", "1000", "TYPE", "set"],
    ["SCAN", "0", "COUNT", "1000", "TYPE", "nosuchtype"], ["SCAN", "0", "COUNT", "1000", "MATCH", "e*"],
    ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "-1"], ["SCAN", "0", "COUNT", "abc"], ["SCAN", "0", "MATCH"],
    ["SCAN", "x", "COUNT", "0"], ["SCAN", "0", "FOO", "bar"], ["SCAN", " 0"], ["SCAN", "0 "],
    ["SCAN", "18446744073709551616"], ["SCAN", "-18446744073709551616"], ["SCAN", "0x1"],
    ["RANDOMKEY"], ["DEL", "l", "l2", "st", "st2", "h", "h2", "z", "z2", "e44", "e45", "n", "s2"],
    ["RANDOMKEY"], ["DBSIZE"],
]


def test_scripted_keys_commands(diff):
    for args in SCRIPTED:
        run(diff, *args)


def test_scripted_keys_commands_resp3(diff):
    diff.check("HELLO", "3")
    for args in SCRIPTED:
        run(diff, *args)


# --- generated sequences ---------------------------------------------------------------------------------------

keys = st.sampled_from(KEYS + [b"nokey"])
values = st.sampled_from([b"", b"0", b"1", b"-5", b"12", b"abc", b"3.5", b"9223372036854775807", b"x" * 50,
                          b" 1", b"007", b"\xff\x00"])
ints = st.sampled_from([b"0", b"1", b"-1", b"5", b"100", b"-100", b"abc", b"", b"9223372036854775807",
                        b"-9223372036854775808", b"9223372036854775808", b"3"])
rel_times = st.sampled_from([b"-1", b"0", b"abc", b"", b"100000", b"1000000", b"9223372036854775807",
                             b"-9223372036854775808", b"-100"])
abs_times = st.sampled_from([b"1", b"-1", b"0", b"99999999999", b"9999999999999", b"9223372036854775807", b"x"])
expire_flags = st.lists(st.sampled_from([b"NX", b"XX", b"GT", b"LT"]), max_size=2)
dbs = st.sampled_from([b"0", b"1", b"x", b"16", b"-1"])


def _cmd(*parts):
    return st.tuples(*[p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]).map(list)


def _with(base, extra):
    return st.tuples(base, extra).map(lambda t: t[0] + list(t[1]))


KEY_COMMANDS = st.one_of(
    _cmd(b"SET", keys, values),
    _with(_cmd(b"SET", keys, values), st.one_of(st.just([b"EX", b"100000"]), st.just([b"PXAT", b"1"]),
                                               st.just([b"KEEPTTL"]), st.just([b"NX"]), st.just([b"GET"]))),
    _cmd(b"GET", keys), _cmd(b"INCR", keys), _cmd(b"APPEND", keys, values),
    _cmd(b"RPUSH", keys, values), _cmd(b"SADD", keys, values), _cmd(b"HSET", keys, b"f", values),
    _cmd(b"SETBIT", keys, st.sampled_from([b"1", b"7", b"100"]), st.sampled_from([b"0", b"1"])),
    _with(st.just([b"DEL"]), st.lists(keys, min_size=1, max_size=3)),
    _with(st.just([b"UNLINK"]), st.lists(keys, min_size=1, max_size=3)),
    _with(st.just([b"EXISTS"]), st.lists(keys, min_size=1, max_size=3)),
    _with(st.just([b"TOUCH"]), st.lists(keys, min_size=1, max_size=3)),
    _cmd(b"TYPE", keys),
    _cmd(b"RENAME", keys, keys), _cmd(b"RENAMENX", keys, keys),
    _with(_cmd(b"COPY", keys, keys), st.one_of(st.just([]), st.just([b"REPLACE"]), st.tuples(st.just(b"DB"), dbs),
                                              st.tuples(st.just(b"DB"), dbs, st.just(b"REPLACE")))),
    _cmd(b"MOVE", keys, dbs),
    _with(_cmd(st.sampled_from([b"EXPIRE", b"PEXPIRE"]), keys, rel_times), expire_flags),
    _with(_cmd(st.sampled_from([b"EXPIREAT", b"PEXPIREAT"]), keys, abs_times), expire_flags),
    _cmd(st.sampled_from([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"]), keys),
    _cmd(b"PERSIST", keys),
    _cmd(b"OBJECT", st.sampled_from([b"FREQ", b"HELP", b"FOO", b"IDLETIME"]), keys),
    _cmd(b"KEYS", st.sampled_from([b"*", b"k*", b"?1", b"[kn]*", b"{*", b"*x", b"k[^1]", b"\\{*"])),
    _with(_cmd(b"SCAN", b"0", b"COUNT", b"1000"), st.one_of(
        st.just([]), st.tuples(st.just(b"TYPE"), st.sampled_from([b"string", b"list", b"set", b"hash", b"none"])),
        st.tuples(st.just(b"MATCH"), st.sampled_from([b"k*", b"*", b"?"])))),
    _cmd(b"RANDOMKEY"), _cmd(b"DBSIZE"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(KEY_COMMANDS, min_size=1, max_size=25))
def test_generated_keyspace_sequences(diff, commands):
    # Keys set with a TTL already in the past are removed by each server's own
    # active expiry cycle at a moment of its choosing, so DBSIZE & co. would
    # depend on timing: with the cycle off, expiry is lazy and deterministic.
    diff.check("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        run_sequence(diff, commands)
    finally:
        diff.check("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# --- KEYS with generated glob patterns ------------------------------------------------------------------------

GLOB_KEYS = sorted({bytes(k) for k in (
    b"", b"a", b"b", b"ab", b"ba", b"aa", b"a]", b"]", b"^", b"-", b"\\", b"*", b"?", b"[", b"a-b", b"A",
    b"\x80", b"\xff", b"a\xffb", b"[a]", b"a*b", b"hello", b"hallo", b"hxllo", b"h[e]llo", b"z", b"-a", b"^a",
)})
glob_patterns = st.lists(st.sampled_from(list(b"ab*?[]^-\\\x80\xffAz")), max_size=8).map(bytes)


@pytest.fixture
def glob_keys_loaded(diff):
    for k in GLOB_KEYS:
        diff.check("SET", k, "1")
    return diff


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(glob_patterns)
def test_keys_glob_patterns_match_redis(glob_keys_loaded, pattern):
    glob_keys_loaded.check("KEYS", pattern)  # KEYS is sorted by the default normaliser
    glob_keys_loaded.check("SCAN", "0", "COUNT", "1000", "MATCH", pattern, normalize=normalize_scan)


# --- SCAN on a larger keyspace ------------------------------------------------------------------------------------


def _scan_everything(conn, count: int, extra=()) -> tuple[set, int]:
    cursor = b"0"
    seen: set = set()
    calls = 0
    while True:
        reply = conn.request("SCAN", cursor, "COUNT", count, *extra)
        parts = reply.split(b"\r\n")
        cursor = parts[2]
        n = int(parts[3][1:])
        seen.update(parts[5 + 2 * i] for i in range(n))
        calls += 1
        if cursor == b"0" or calls > 100000:
            return seen, calls


def test_full_scan_returns_the_same_keys(diff):
    pipe = [("SET", "key:%d" % i, "v") for i in range(3000)] + [("RPUSH", "list:%d" % i, "x") for i in range(200)]
    diff.check_many(*pipe)
    for extra in ((), ("TYPE", "list"), ("MATCH", "key:1*")):
        a, _ = _scan_everything(diff.shardis, 17, extra)
        b, _ = _scan_everything(diff.redis, 17, extra)
        assert a == b


def test_scan_keeps_its_guarantee_while_the_keyspace_changes(diff):
    conn = diff.shardis
    conn.pipeline(*[("SET", "k%d" % i, "v") for i in range(2000)])
    stable = {b"k%d" % i for i in range(0, 2000, 2)}
    cursor = b"0"
    seen: set = set()
    step = 0
    while True:
        reply = conn.request("SCAN", cursor, "COUNT", 25)
        parts = reply.split(b"\r\n")
        cursor = parts[2]
        seen.update(parts[5 + 2 * i] for i in range(int(parts[3][1:])))
        if cursor == b"0":
            break
        # churn: delete odd keys, add new ones, between every call
        conn.pipeline(("DEL", "k%d" % (2 * step + 1)), ("SET", "new%d" % step, "v"))
        step += 1
        assert step < 10000
    assert stable <= seen


# --- keyspace events -------------------------------------------------------------------------------------------------

EVENT_SCRIPT = [
    ["SET", "a", "1"], ["SET", "a", "2", "EX", "100"], ["SET", "a", "3", "GET"], ["SETNX", "b", "1"],
    ["SETEX", "e", "100", "x"], ["INCR", "c"], ["INCRBYFLOAT", "c", "1.5"], ["APPEND", "d", "x"],
    ["SETRANGE", "e", "2", "x"], ["GETSET", "e", "v"], ["GETDEL", "e"], ["GETEX", "a", "PERSIST"],
    ["GETEX", "a", "EX", "100"], ["GETEX", "a", "PXAT", "1"], ["SET", "a", "1"], ["EXPIRE", "a", "100"],
    ["PERSIST", "a"], ["EXPIRE", "a", "-1"], ["MSET", "x", "1", "y", "2"], ["MSETNX", "q", "1", "z", "2"],
    ["RENAME", "x", "z"], ["RENAMENX", "z", "w2"], ["COPY", "w2", "w"], ["COPY", "w", "w2", "REPLACE"],
    ["MOVE", "w", "1"], ["DEL", "y", "z", "nokey"], ["GET", "nokey"], ["EXISTS", "nokey"], ["TTL", "nokey"],
    ["OBJECT", "ENCODING", "nokey"], ["SETBIT", "bm", "3", "1"], ["SETBIT", "bm", "3", "1"],
    ["BITFIELD", "bm", "SET", "u8", "0", "1", "INCRBY", "u8", "0", "300"],
    ["BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "100"], ["BITOP", "AND", "dst", "bm", "bf"],
    ["BITOP", "AND", "dst", "nokey"], ["MGET", "nokey", "a"], ["SET", "p", "1", "PX", "1"],
]


def test_keyspace_events_match(diff):
    sub_a, sub_b = diff.pair()
    diff.check("CONFIG", "SET", "notify-keyspace-events", "KEAnm")
    try:
        for conn in (sub_a, sub_b):
            conn.request("PSUBSCRIBE", "*")
        for args in EVENT_SCRIPT:
            run(diff, *args)
        time.sleep(0.05)
        run(diff, "GET", "p")  # lazily expired: "expired" then "keymiss"
        run(diff, "SCAN", "0", "COUNT", "100", "TYPE", "string")
        run(diff, "PING")
        events_a, _ = sub_a.read_until_closed_or_idle(0.3)
        events_b, _ = sub_b.read_until_closed_or_idle(0.3)
        assert events_a == events_b
        assert events_b.count(b"pmessage") > 100
    finally:
        diff.check("CONFIG", "SET", "notify-keyspace-events", "")


# --- redis-py -------------------------------------------------------------------------------------------------------------


def test_redis_py_smoke(shardis_node):
    r = shardis_node.client()
    r.set("a", "1")
    assert r.exists("a", "nokey") == 1
    assert r.type("a") == b"string"
    assert r.expire("a", 100) is True
    assert 0 < r.ttl("a") <= 100
    assert r.persist("a") is True
    assert r.rename("a", "b") is True
    assert r.copy("b", "c") is True
    assert r.object("encoding", "c") == b"int"
    r.mset({"key:%d" % i: i for i in range(500)})
    assert set(r.scan_iter(match="key:*", count=37)) == {b"key:%d" % i for i in range(500)}
    assert sorted(r.keys("key:1?")) == sorted(b"key:1%d" % i for i in range(10))
    assert r.randomkey() is not None
    assert r.move("b", 2) is True
    assert r.delete("c", "nokey") == 1
    r3 = shardis_node.client(protocol=3)
    assert r3.get("nokey") is None
    assert r3.object("encoding", "nokey") is None
