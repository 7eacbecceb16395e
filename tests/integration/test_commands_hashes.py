"""Hash commands, differential against redis-server 7.0: same request, byte-equal reply.

Every test drives a shardis node and a redis-server side by side (the
``diff`` fixture) and compares raw reply bytes, in RESP2 and RESP3.  Small
hashes are listpacks in Redis, whose order is insertion order, so their
HGETALL/HKEYS/HVALS/HSCAN replies are compared byte for byte; only replies
of ``hashtable``-encoded hashes (whose order is a hash table's) are sorted
before comparing.  Also checked against the real server: OBJECT ENCODING
across the listpack -> hashtable conversions, keyspace events, the dirty
counter, HINCRBYFLOAT's long double arithmetic and formatting, HRANDFIELD's
shapes, and complete HSCAN iterations that keep their guarantee while the
hash changes.  Hypothesis replays random mixed-type command sequences.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.testing import dirty
from shardis.testing.rawclient import split_frames

pytestmark = pytest.mark.timeout(600)

RESP_VERSIONS = ["2", "3"]
LONG = "x" * 65  # one byte past hash-max-listpack-value


# --- helpers -----------------------------------------------------------------------------------


def run(d, *commands):
    """check() every command (a string split on spaces, or a tuple of arguments)."""
    return [d.check(*(c.split(" ") if isinstance(c, str) else c)) for c in commands]


def elements(reply: bytes):
    """(header, element frames) of an aggregate reply."""
    eol = reply.index(b"\r\n")
    frames, rest = split_frames(reply[eol + 2:])
    assert rest == b"", reply
    return reply[:eol + 2], frames


def sort_frames(args, reply: bytes) -> bytes:
    if reply[:1] not in (b"*", b"~", b"%") or reply[1:3] == b"-1":
        return reply
    header, frames = elements(reply)
    return header + b"".join(sorted(frames))


def sort_pairs(args, reply: bytes) -> bytes:
    """HGETALL of a hashtable: sort field/value pairs (RESP2 flat array or RESP3 map)."""
    if reply[:1] not in (b"*", b"%") or reply[1:3] == b"-1":
        return reply
    header, frames = elements(reply)
    pairs = sorted(zip(frames[0::2], frames[1::2]))
    return header + b"".join(a + b for a, b in pairs)


def encoding(d, key) -> bytes:
    return d.check("OBJECT", "ENCODING", key)


def check_unordered(d, *args):
    """Exact when the hash is a listpack on redis-server, sorted when it is a hashtable."""
    enc = d.redis.request("OBJECT", "ENCODING", args[1])
    d.shardis.request("OBJECT", "ENCODING", args[1])
    if b"hashtable" not in enc or d.redis.request("TYPE", args[1]) != b"+hash\r\n":
        return d.check(*args)
    name = args[0].upper() if isinstance(args[0], str) else args[0].decode().upper()
    return d.check(*args, normalize=sort_pairs if name == "HGETALL" else sort_frames)


# --- replies and errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("resp", RESP_VERSIONS)
def test_basic_replies_and_errors(diff, resp):
    d = diff
    d.check("HELLO", resp)
    run(
        d,
        "SET str v",
        "HSET h a 1 b 2 c 3",
        "HSET h a 10 d 4",
        "HSET h a",
        "HSET h a 1 b",
        "HMSET h a 1 b",
        "HMSET h e 5 f 6",
        "HSET str a 1",
        "HMSET str a 1",
        "HGET h a",
        "HGET h nope",
        "HGET nokey a",
        "HGET str a",
        "HMGET h a nope b",
        "HMGET nokey a b",
        "HMGET str a",
        "HGETALL h",
        "HGETALL nokey",
        "HGETALL str",
        "HKEYS h",
        "HVALS h",
        "HKEYS nokey",
        "HVALS str",
        "HLEN h",
        "HLEN nokey",
        "HLEN str",
        "HSTRLEN h a",
        "HSTRLEN h nope",
        "HSTRLEN nokey a",
        "HSTRLEN str a",
        "HEXISTS h a",
        "HEXISTS h nope",
        "HEXISTS nokey a",
        "HEXISTS str a",
        "HSETNX h a 99",
        "HSETNX h z 26",
        "HSETNX newh f v",
        "HSETNX str f v",
        "HDEL h a nope b",
        "HDEL h nope",
        "HDEL nokey a",
        "HDEL str a",
        "HGETALL h",
        "HDEL newh f",
        "EXISTS newh",
        "HDEL h c d e f z",
        "EXISTS h",
        "HSET",
        "HGET h",
        "HDEL h",
        "HSTRLEN h",
        "HGETALL a b",
    )


@pytest.mark.parametrize("resp", RESP_VERSIONS)
def test_hincrby(diff, resp):
    d = diff
    d.check("HELLO", resp)
    run(
        d,
        "SET str v",
        "HINCRBY h f 1",
        "HINCRBY h f -11",
        "HINCRBY h f x",
        "HINCRBY h f 1.5",
        "HINCRBY h f 9223372036854775808",
        "HINCRBY str f 1",
        "HINCRBY str f x",
        "HINCRBY nokey f 5",
        "HSET h big 9223372036854775807 small -9223372036854775808 s abc fl 1.5 sp  1 lz 01",
        "HINCRBY h big 1",
        "HINCRBY h big 0",
        "HINCRBY h big -1",
        "HINCRBY h small -1",
        "HINCRBY h small 1",
        "HINCRBY h s 1",
        "HINCRBY h fl 1",
        "HINCRBY h sp 1",
        "HINCRBY h lz 1",
        ("HINCRBY", "h", "x" * 70, "3"),
        "OBJECT ENCODING h",
        "HGETALL nokey",
    )
    check_unordered(d, "HGETALL", "h")


@pytest.mark.parametrize("resp", RESP_VERSIONS)
def test_hincrbyfloat_long_double(diff, resp):
    d = diff
    d.check("HELLO", resp)
    run(
        d,
        "SET str v",
        "HINCRBYFLOAT h f 0.1",
        "HINCRBYFLOAT h f 0.2",
        "HINCRBYFLOAT h f -0.3",
        "HINCRBYFLOAT h f 1e-20",
        "HINCRBYFLOAT h f 5.0e3",
        "HINCRBYFLOAT h f 0x10",
        "HINCRBYFLOAT h f +.5",
        "HINCRBYFLOAT h f 5.",
        "HINCRBYFLOAT h f inf",
        "HINCRBYFLOAT h f -Infinity",
        "HINCRBYFLOAT h f nan",
        "HINCRBYFLOAT h f abc",
        "HINCRBYFLOAT h f 1e5000",
        "HINCRBYFLOAT h f 1e-5000",
        "HINCRBYFLOAT h f 1_0",
        ("HINCRBYFLOAT", "h", "f", " 1"),
        ("HINCRBYFLOAT", "h", "f", "1 "),
        ("HINCRBYFLOAT", "h", "f", ""),
        "HINCRBYFLOAT h g 1e308",
        "HINCRBYFLOAT h g 1e308",
        "HINCRBYFLOAT h g 1e4000",
        "HINCRBYFLOAT h g -1e4000",
        "HINCRBYFLOAT h m 1.18973149535723176502e+4932",
        "HINCRBYFLOAT h m 1e4932",
        "HGET h m",
        "HINCRBYFLOAT h m -1.18973149535723176502e+4932",
        "HINCRBYFLOAT h t 3.6e-4951",
        "HINCRBYFLOAT h t2 0x1p-16445",
        "HINCRBYFLOAT h t3 0.3333333333333333333333",
        "HINCRBYFLOAT h t3 1e-18",
        "HINCRBYFLOAT h t4 5.0000000000000000005e-18",
        "HINCRBYFLOAT h t5 -5e-18",
        "HINCRBYFLOAT h t6 0.000000000000000015",
        "HINCRBYFLOAT h t7 0.000000000000000025",
        "HSET h s abc i 12 neg -3 inf inf",
        "HINCRBYFLOAT h s 1",
        "HINCRBYFLOAT h i 0.5",
        "HINCRBYFLOAT h neg 3",
        "HINCRBYFLOAT h inf 1",
        "HINCRBYFLOAT str f 1",
        "HINCRBYFLOAT str f x",
        "HINCRBYFLOAT nokey f x",
        "EXISTS nokey",
    )
    check_unordered(d, "HGETALL", "h")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False).map(repr),
            st.integers(0, 25).flatmap(lambda p: st.decimals(allow_nan=False, allow_infinity=False, places=p)).map(str),
            st.integers(-(10**30), 10**30).map(str),
            st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 999), st.integers(-4960, 4940)),
            st.sampled_from(["0.1", "-0.1", "1e-17", "0.5", "1.5", "2.5", "-2.5", "1e20", "-0", "0x1p-2", "3.0"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_hincrbyfloat_random_increments(diff_servers, steps):
    with diff_servers.differential() as d:
        d.check("DEL", "h")
        for s in steps:
            d.check("HINCRBYFLOAT", "h", "f", s)
        d.check("HGET", "h", "f")


@pytest.mark.parametrize("resp", RESP_VERSIONS)
def test_hrandfield(diff, resp):
    d = diff
    d.check("HELLO", resp)
    run(
        d,
        "SET str v",
        "HSET h a 1 b 2 c 3 d 4",
        "HRANDFIELD nokey",
        "HRANDFIELD nokey 3",
        "HRANDFIELD nokey -3 WITHVALUES",
        "HRANDFIELD str",
        "HRANDFIELD str 1",
        "HRANDFIELD h 0",
        "HRANDFIELD h 0 WITHVALUES",
        "HRANDFIELD h 4",
        "HRANDFIELD h 100",
        "HRANDFIELD h 100 WITHVALUES",
        "HRANDFIELD h 4 withvalues",
        "HRANDFIELD h x",
        "HRANDFIELD h x withvalues",
        "HRANDFIELD h 1 WITHVALUE",
        "HRANDFIELD h 1 WITHVALUES extra",
        "HRANDFIELD h -9223372036854775808",
        "HRANDFIELD h 9223372036854775807 x",
        "HRANDFIELD h 4611686018427387904 WITHVALUES",
        "HRANDFIELD h -4611686018427387904 WITHVALUES",
        "HRANDFIELD h 9223372036854775808",
    )
    fields = {b"a": b"1", b"b": b"2", b"c": b"3", b"d": b"4"}
    for conn in (d.shardis, d.redis):
        for count, withvalues in ((1, False), (2, True), (3, False), (-7, True), (-2, False)):
            args = ["HRANDFIELD", "h", str(count)] + (["WITHVALUES"] if withvalues else [])
            header, frames = elements(conn.request(*args))
            n = abs(count)
            if withvalues and resp == "2":
                assert header == b"*%d\r\n" % (2 * n)
                pairs = list(zip(frames[0::2], frames[1::2]))
            elif withvalues:
                assert header == b"*%d\r\n" % n
                pairs = [tuple(elements(f)[1]) for f in frames]
            else:
                pairs = [(f, None) for f in frames]
            assert len(pairs) == n
            for f, v in pairs:
                name = f.split(b"\r\n")[1]
                assert name in fields
                if v is not None:
                    assert v.split(b"\r\n")[1] == fields[name]
            if count > 0:
                assert len(set(pairs)) == n  # distinct
        single = conn.request("HRANDFIELD", "h")
        assert single.split(b"\r\n")[1] in fields


def test_hrandfield_distribution_large_hash(diff):
    """A hashtable-encoded hash: every field comes up, none is invented."""
    d = diff
    fields = [f"f{i}" for i in range(600)]
    args = []
    for f in fields:
        args += [f, "v"]
    d.check("HSET", "h", *args)
    assert encoding(d, "h") == b"$9\r\nhashtable\r\n"
    for conn in (d.shardis, d.redis):
        seen = set()
        for _ in range(20):
            _, frames = elements(conn.request("HRANDFIELD", "h", "-500"))
            seen.update(f.split(b"\r\n")[1] for f in frames)
        assert seen <= {f.encode() for f in fields}
        assert len(seen) > 590
        _, frames = elements(conn.request("HRANDFIELD", "h", "599"))
        assert len(set(frames)) == 599


# --- encodings ------------------------------------------------------------------------------------


def test_listpack_to_hashtable_conversions(diff):
    d = diff
    # entries: 512 stay a listpack, the 513th converts
    args = []
    for i in range(512):
        args += [f"f{i}", str(i)]
    d.check("HSET", "h", *args)
    assert encoding(d, "h") == b"$8\r\nlistpack\r\n"
    d.check("HGETALL", "h")  # insertion order, byte for byte
    d.check("HSCAN", "h", "0")
    d.check("HSETNX", "h", "f0", "again")
    d.check("HSET", "h", "f511", "updated")
    assert encoding(d, "h") == b"$8\r\nlistpack\r\n"
    d.check("HSET", "h", "f512", "x")
    assert encoding(d, "h") == b"$9\r\nhashtable\r\n"
    d.check("HDEL", "h", *[f"f{i}" for i in range(500)])
    assert encoding(d, "h") == b"$9\r\nhashtable\r\n"  # never back
    check_unordered(d, "HGETALL", "h")
    # value and field lengths: 64 bytes fit, 65 convert
    run(d, ("HSET", "v", "a", "x" * 64), "OBJECT ENCODING v", ("HSET", "v", "b", LONG), "OBJECT ENCODING v")
    run(d, ("HSET", "f", "x" * 64, "1"), "OBJECT ENCODING f", ("HSET", "f", LONG, "1"), "OBJECT ENCODING f")
    # a long argument converts even when HSET rewrites an existing field
    run(d, "HSET u a 1", ("HSET", "u", "a", LONG), "OBJECT ENCODING u")
    # HSETNX of an existing field converts nothing; of a new one, it does
    run(d, "HSET n a 1", ("HSETNX", "n", "a", LONG), "OBJECT ENCODING n",
        ("HSETNX", "n", "b", LONG), "OBJECT ENCODING n")
    # HINCRBY and HINCRBYFLOAT with a long field name convert
    run(d, "HSET i a 1", ("HINCRBY", "i", LONG, "1"), "OBJECT ENCODING i")
    run(d, "HSET j a 1", ("HINCRBYFLOAT", "j", LONG, "1.5"), "OBJECT ENCODING j")
    # the thresholds are live configuration
    for conn in (d.shardis, d.redis):
        conn.request("CONFIG", "SET", "hash-max-listpack-entries", "2")
        conn.request("CONFIG", "SET", "hash-max-listpack-value", "3")
    try:
        run(d, "HSET c1 a 1 b 2", "OBJECT ENCODING c1", "HSET c1 c 3", "OBJECT ENCODING c1",
            "HSET c2 a abc", "OBJECT ENCODING c2", "HSET c2 b abcd", "OBJECT ENCODING c2")
    finally:
        for conn in (d.shardis, d.redis):
            conn.request("CONFIG", "SET", "hash-max-listpack-entries", "512")
            conn.request("CONFIG", "SET", "hash-max-listpack-value", "64")


# --- keyspace events, dirty, WATCH -------------------------------------------------------------------


def test_keyspace_events(diff, events):
    d = diff
    run(
        d,
        "HSET h a 1 b 2",
        "HSET h a 1",
        "HMSET h c 3",
        "HSETNX h c 4",
        "HSETNX h d 4",
        "HINCRBY h n 5",
        "HINCRBYFLOAT h x 1.5",
        "HINCRBY h a x",
        "HDEL h nope",
        "HDEL h a b",
        "HDEL h c d n x",
        "HSET str2 a 1",
        "HDEL str2 a",
        "HINCRBY new f 1",
        "HINCRBYFLOAT new2 f 1",
    )
    events.check()


def test_dirty_counter(diff):
    d = diff
    cmds = [
        "HSET h a 1 b 2", "HSET h a 1", "HMSET h c 3 d 4", "HSETNX h a 1", "HSETNX h z 1",
        "HDEL h nope", "HDEL h a b nope", "HINCRBY h n 1", "HINCRBY h a x", "HINCRBYFLOAT h f 1.5",
        "HGET h a", "HGETALL h", "HDEL h c d z n f", "HDEL h x",
    ]
    for cmd in cmds:
        before = (dirty(d.shardis), dirty(d.redis))
        d.check(*cmd.split(" "))
        after = (dirty(d.shardis), dirty(d.redis))
        assert after[0] - before[0] == after[1] - before[1], cmd


def test_watch_sees_hash_changes(diff):
    d = diff
    for cmd in ("HSET h a 2", "HSETNX h b 1", "HINCRBY h a 1", "HINCRBYFLOAT h a 1", "HDEL h a", "HDEL h nope"):
        w, o = d.pair()
        for conn in (d.shardis, d.redis):
            conn.request("DEL", "h")
            conn.request("HSET", "h", "a", "1")
        for conn in (w, o):
            assert conn.request("WATCH", "h") == b"+OK\r\n"
            conn.request("MULTI")
            conn.request("PING")
        d.check(*cmd.split(" "))
        assert w.request("EXEC") == o.request("EXEC"), cmd


# --- HSCAN ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("resp", RESP_VERSIONS)
def test_hscan_options_and_small_hashes(diff, resp):
    d = diff
    d.check("HELLO", resp)
    run(
        d,
        "SET str v",
        "HSET h alpha 1 beta 2 gamma 3 delta 4 a1 5",
        "HSCAN h 0",
        "HSCAN h 123",
        "HSCAN h 0 COUNT 1",
        "HSCAN h 0 MATCH a*",
        "HSCAN h 0 MATCH *a COUNT 100",
        "HSCAN h 0 match ?eta",
        "HSCAN h 0 MATCH *",
        "HSCAN h 0 COUNT 0",
        "HSCAN h 0 COUNT -1",
        "HSCAN h 0 COUNT x",
        "HSCAN h 0 MATCH",
        "HSCAN h 0 TYPE string",
        "HSCAN h 0 NOVALUES",
        "HSCAN h x",
        "HSCAN h -1",
        "HSCAN h +5",
        ("HSCAN", "h", ""),
        ("HSCAN", "h", " 1"),
        "HSCAN h 18446744073709551615",
        "HSCAN h 18446744073709551616",
        "HSCAN nokey 0",
        "HSCAN nokey 0 COUNT 0",
        "HSCAN nokey x",
        "HSCAN str 0",
        "HSCAN str x",
    )


def _full_scan(conn, key, count=10, match=None, mutate=None):
    cursor = b"0"
    seen = {}
    calls = 0
    while True:
        args = ["HSCAN", key, cursor, "COUNT", str(count)] + (["MATCH", match] if match else [])
        reply = conn.request(*args)
        _, (cur, items) = elements(reply)
        cursor = cur.split(b"\r\n")[1]
        _, frames = elements(items)
        for f, v in zip(frames[0::2], frames[1::2]):
            seen[f.split(b"\r\n")[1]] = v.split(b"\r\n")[1]
        calls += 1
        if mutate is not None:
            mutate(conn, calls)
        if cursor == b"0" or calls > 10000:
            return seen, calls


def test_hscan_full_iteration_hashtable(diff):
    d = diff
    n = 2000
    args = []
    for i in range(n):
        args += [f"field:{i}", str(i)]
    d.check("HSET", "h", *args)
    assert encoding(d, "h") == b"$9\r\nhashtable\r\n"
    results = [_full_scan(conn, "h", count=37) for conn in (d.shardis, d.redis)]
    assert results[0][0] == results[1][0]
    assert len(results[0][0]) == n
    assert results[0][1] > 1  # really incremental
    matched = [_full_scan(conn, "h", count=50, match="field:1*")[0] for conn in (d.shardis, d.redis)]
    assert matched[0] == matched[1] and len(matched[0]) == 1111


def test_hscan_guarantee_while_hash_changes(diff):
    """Fields present for the whole scan are returned, whatever else is added or deleted meanwhile."""
    d = diff
    rng = random.Random(7)
    stable = [f"stable:{i}" for i in range(700)]
    churn = [f"churn:{i}" for i in range(700)]
    args = []
    for f in stable + churn:
        args += [f, "1"]
    for conn in (d.shardis, d.redis):
        conn.request("HSET", "h", *args)

    def mutate(conn, calls):
        # delete some churn fields, add new ones: the table is resized under the scan
        conn.request("HDEL", "h", *rng.sample(churn, 20))
        conn.request("HSET", "h", *[x for i in range(30) for x in (f"new:{calls}:{i}", "2")])

    for conn in (d.shardis, d.redis):
        seen, calls = _full_scan(conn, "h", count=25, mutate=mutate)
        assert set(stable) <= {k.decode() for k in seen}
        assert calls > 5


# --- random sequences ------------------------------------------------------------------------------

KEYS = ["k1", "k2", "k3"]
FIELDS = ["a", "b", "c", "1", "-2", "f" * 5, LONG[:66]]
VALUES = ["1", "-5", "1.5", "abc", "", "9223372036854775807", "-9223372036854775808", "0.1", LONG]


def hcommand():
    key = st.sampled_from(KEYS)
    field = st.sampled_from(FIELDS)
    value = st.sampled_from(VALUES)
    pairs = st.lists(st.tuples(field, value), min_size=1, max_size=4).map(lambda ps: [x for p in ps for x in p])
    return st.one_of(
        st.tuples(st.just("HSET"), key).flatmap(lambda t: pairs.map(lambda p: t + tuple(p))),
        st.tuples(st.just("HMSET"), key).flatmap(lambda t: pairs.map(lambda p: t + tuple(p))),
        st.tuples(st.just("HSETNX"), key, field, value),
        st.tuples(st.just("HGET"), key, field),
        st.tuples(st.just("HMGET"), key, field, field),
        st.tuples(st.just("HDEL"), key, field, field),
        st.tuples(st.just("HEXISTS"), key, field),
        st.tuples(st.just("HLEN"), key),
        st.tuples(st.just("HSTRLEN"), key, field),
        st.tuples(st.just("HINCRBY"), key, field, st.sampled_from(["1", "-3", "x", "9223372036854775807"])),
        st.tuples(st.just("HINCRBYFLOAT"), key, field, st.sampled_from(["0.1", "-2.5", "1e3", "inf", "x"])),
        st.tuples(st.sampled_from(["HGETALL", "HKEYS", "HVALS"]), key),
        st.tuples(st.just("HRANDFIELD"), key, st.just("100")),
        st.tuples(st.just("HSCAN"), key, st.just("0"), st.just("COUNT"), st.just("100")),
        st.tuples(st.just("OBJECT"), st.just("ENCODING"), key),
        st.tuples(st.just("TYPE"), key),
        st.tuples(st.just("DEL"), key),
        st.tuples(st.just("SET"), key, value),
        st.tuples(st.just("LPUSH"), key, value),
        st.tuples(st.just("SADD"), key, value),
        st.tuples(st.just("EXISTS"), key),
    )


_UNORDERED = {"HGETALL", "HKEYS", "HVALS", "HRANDFIELD", "HSCAN"}


def _replay(diff_servers, resp, commands, entries="512", value="64"):
    with diff_servers.differential() as d:
        d.check("FLUSHALL")
        d.check("HELLO", resp)
        for conn in (d.shardis, d.redis):
            conn.request("CONFIG", "SET", "hash-max-listpack-entries", entries)
            conn.request("CONFIG", "SET", "hash-max-listpack-value", value)
        try:
            for cmd in commands:
                if cmd[0] in _UNORDERED and cmd[0] != "HSCAN":
                    check_unordered(d, *cmd)
                elif cmd[0] == "HSCAN":
                    enc = d.redis.request("OBJECT", "ENCODING", cmd[1])
                    d.shardis.request("OBJECT", "ENCODING", cmd[1])
                    kind = d.redis.request("TYPE", cmd[1])
                    d.shardis.request("TYPE", cmd[1])
                    if b"hashtable" in enc and kind == b"+hash\r\n":
                        # cursor values differ; the whole hash comes back over a full scan
                        a = _full_scan(d.shardis, cmd[1])[0]
                        b = _full_scan(d.redis, cmd[1])[0]
                        assert a == b
                    else:
                        d.check(*cmd)
                else:
                    d.check(*cmd)
        finally:
            for conn in (d.shardis, d.redis):
                conn.request("CONFIG", "SET", "hash-max-listpack-entries", "512")
                conn.request("CONFIG", "SET", "hash-max-listpack-value", "64")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resp=st.sampled_from(RESP_VERSIONS), commands=st.lists(hcommand(), min_size=1, max_size=40))
def test_random_sequences(diff_servers, resp, commands):
    _replay(diff_servers, resp, commands)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resp=st.sampled_from(RESP_VERSIONS), commands=st.lists(hcommand(), min_size=1, max_size=40))
def test_random_sequences_small_thresholds(diff_servers, resp, commands):
    """With tiny listpack limits, conversions happen within a few commands."""
    _replay(diff_servers, resp, commands, entries="3", value="4")
