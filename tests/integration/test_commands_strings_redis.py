"""Differential tests of the string commands against redis-server 7.0.

Same method as test_commands_keys: every request goes to a shardis node and
to redis-server, raw replies must be byte-equal (remaining TTLs are
normalised), and generated sequences also compare ``dirty`` after each
command.  INCRBYFLOAT gets its own generated test over many value shapes
(decimal, exponent, hex floats, huge and tiny magnitudes, inf) because its
replies expose the x87 long double arithmetic and its printing digit by
digit; LCS gets one over random strings with every option.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.testing import dirty_pair

pytestmark = pytest.mark.timeout(300)

KEYS = [b"s1", b"s2", b"s3", b"n"]


def run_sequence(diff, commands):
    diff.check("FLUSHALL")
    for args in commands:
        d0 = dirty_pair(diff)
        diff.check(*args)
        d1 = dirty_pair(diff)
        assert d1[0] - d0[0] == d1[1] - d0[1], f"dirty differs after {args}"


# --- scripted ----------------------------------------------------------------------------------------------

SCRIPTED = [
    ["SET", "s", "hello"], ["GET", "s"], ["GET", "nokey"], ["SETNX", "s", "x"], ["SETNX", "n", "1"],
    ["SET", "s", "v", "NX"], ["SET", "s", "v", "XX", "GET"], ["SET", "nokey2", "v", "XX", "GET"],
    ["SET", "s", "v", "EX", "0"], ["SET", "s", "v", "EX", "-1"], ["SET", "s", "v", "EX", "x"],
    ["SET", "s", "v", "EX", "9223372036854776"], ["SET", "s", "v", "PX", "9223372036854775807"],
    ["SET", "s", "v", "EX", "10", "PX", "10"], ["SET", "s", "v", "KEEPTTL", "EX", "1"], ["SET", "s", "v", "NX", "XX"],
    ["SET", "s", "v", "EX"], ["SET", "s", "v", "FOO"], ["SET", "s", "v", "EXAT", "1"], ["GET", "s"],
    ["SET", "s", "v", "PXAT", "99999999999999"], ["PTTL", "s"], ["SET", "s", "w", "KEEPTTL"], ["PTTL", "s"],
    ["SET", "s", "v", "nx\x00junk"], ["SET", "s", "v", "GET", "GET"],
    ["SETEX", "e", "100", "v"], ["SETEX", "e", "0", "v"], ["SETEX", "e", "x", "v"], ["PSETEX", "e", "-1", "v"],
    ["PSETEX", "e", "100000", "v"], ["TTL", "e"], ["SETEX", "e"],
    ["GETSET", "s", "new"], ["GETSET", "nokey3", "v"], ["RPUSH", "l", "x"], ["GETSET", "l", "x"], ["SET", "l", "x", "GET"],
    ["GETDEL", "s"], ["GETDEL", "s"], ["GETDEL", "l"],
    ["SET", "g", "v"], ["GETEX", "g"], ["GETEX", "g", "EX", "100"], ["TTL", "g"], ["GETEX", "g", "PERSIST"], ["TTL", "g"],
    ["GETEX", "g", "PX", "0"], ["GETEX", "g", "EXAT", "x"], ["GETEX", "g", "EX"], ["GETEX", "g", "FOO"],
    ["GETEX", "g", "PERSIST", "EX", "1"], ["GETEX", "g", "KEEPTTL"], ["GETEX", "nokey", "EX", "x"], ["GETEX", "l"],
    ["GETEX", "g", "PXAT", "1"], ["EXISTS", "g"],
    ["MSET", "a", "1", "b"], ["MSET", "a", "1", "b", "2"], ["MGET", "a", "b", "nokey", "l"],
    ["MSETNX", "a", "1", "c", "3"], ["MSETNX", "c", "3", "d", "4"], ["MSETNX", "c"],
    ["APPEND", "a", "xyz"], ["OBJECT", "ENCODING", "a"], ["APPEND", "newk", "123"], ["OBJECT", "ENCODING", "newk"],
    ["APPEND", "newk", ""], ["OBJECT", "ENCODING", "newk"], ["APPEND", "l", "x"], ["STRLEN", "a"], ["STRLEN", "nokey"],
    ["STRLEN", "l"],
    ["INCR", "b"], ["INCR", "a"], ["INCRBY", "b", "10"], ["INCRBY", "b", "x"], ["DECRBY", "b", "5"], ["DECR", "b"],
    ["DECRBY", "b", "-9223372036854775808"], ["INCRBY", "b", "9223372036854775807"], ["INCR", "l"],
    ["SET", "big", "9223372036854775807"], ["INCR", "big"], ["SET", "neg", "-9223372036854775808"], ["DECR", "neg"],
    ["SET", "w", " 1"], ["INCR", "w"], ["SET", "w", "+1"], ["INCR", "w"], ["SET", "w", "01"], ["INCR", "w"],
    ["SET", "w", "-0"], ["INCR", "w"], ["OBJECT", "ENCODING", "b"],
    ["INCRBYFLOAT", "f", "1.5"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "0.2"], ["INCRBYFLOAT", "f", "-1.8"],
    ["INCRBYFLOAT", "f", "1e308"], ["INCRBYFLOAT", "f", "inf"], ["INCRBYFLOAT", "f", "nan"], ["INCRBYFLOAT", "f", "abc"],
    ["INCRBYFLOAT", "f", "0x10"], ["INCRBYFLOAT", "f", "1e5000"], ["INCRBYFLOAT", "f", "1e-5000"],
    ["INCRBYFLOAT", "l", "1"], ["SET", "f", "3.0e3"], ["INCRBYFLOAT", "f", "1"], ["SET", "f", " 1"], ["INCRBYFLOAT", "f", "1"],
    ["SET", "str", "hello world"], ["GETRANGE", "str", "0", "4"], ["GETRANGE", "str", "-5", "-1"],
    ["GETRANGE", "str", "-1", "-5"], ["GETRANGE", "str", "5", "2"], ["GETRANGE", "str", "0", "100"],
    ["GETRANGE", "str", "100", "200"], ["GETRANGE", "nokey", "0", "1"], ["SUBSTR", "str", "1", "3"],
    ["GETRANGE", "str", "a", "1"], ["GETRANGE", "l", "0", "1"],
    ["GETRANGE", "str", "-9223372036854775808", "9223372036854775807"],
    ["SETRANGE", "sr", "5", "abc"], ["GET", "sr"], ["OBJECT", "ENCODING", "sr"], ["SETRANGE", "sr", "-1", "x"],
    ["SETRANGE", "sr", "0", ""], ["SETRANGE", "sr", "1", "XY"], ["GET", "sr"], ["SETRANGE", "str", "20", "!"],
    ["GET", "str"], ["SETRANGE", "nokey", "5", ""], ["EXISTS", "nokey"], ["SETRANGE", "sr", "536870912", "x"],
    ["SETRANGE", "sr", "x", "y"], ["SETRANGE", "l", "0", "x"], ["SET", "i", "12"], ["SETRANGE", "i", "0", ""],
    ["OBJECT", "ENCODING", "i"], ["SETRANGE", "i", "0", "3"], ["OBJECT", "ENCODING", "i"],
    ["SET", "l1", "ohmytext"], ["SET", "l2", "mynewtext"], ["LCS", "l1", "l2"], ["LCS", "l1", "l2", "LEN"],
    ["LCS", "l1", "l2", "IDX"], ["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4"],
    ["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"], ["LCS", "l1", "l2", "IDX", "WITHMATCHLEN"],
    ["LCS", "l1", "nokey", "IDX"], ["LCS", "nokey", "nokey"], ["LCS", "l1", "l2", "LEN", "IDX"], ["LCS", "l1", "l"],
    ["LCS", "l", "l1", "FOO"], ["LCS", "l1", "l2", "FOO"], ["LCS", "l1", "l2", "MINMATCHLEN"],
    ["LCS", "l1", "l2", "MINMATCHLEN", "x"], ["LCS", "l1", "l2", "MINMATCHLEN", "-5", "IDX"],
    ["SET", "e44", "x" * 44], ["OBJECT", "ENCODING", "e44"], ["APPEND", "e44", "y"], ["OBJECT", "ENCODING", "e44"],
]


def test_scripted_string_commands(diff):
    for args in SCRIPTED:
        diff.check(*args)


def test_scripted_string_commands_resp3(diff):
    diff.check("HELLO", "3")
    for args in SCRIPTED:
        diff.check(*args)


# --- generated sequences --------------------------------------------------------------------------------------

keys = st.sampled_from(KEYS + [b"nokey"])
values = st.sampled_from([b"", b"0", b"1", b"-5", b"12", b"abc", b"3.5", b"9223372036854775807",
                          b"-9223372036854775808", b"x" * 50, b"1e3", b" 1", b"hello world", b"007"])
ints = st.sampled_from([b"0", b"1", b"-1", b"5", b"100", b"-100", b"abc", b"", b"9223372036854775807",
                        b"-9223372036854775808", b"9223372036854775808", b"2", b"-3", b"10"])
rel_times = st.sampled_from([b"-1", b"0", b"abc", b"", b"100000", b"1000000", b"9223372036854775807",
                             b"-9223372036854775808", b"9223372036854775808", b"-100"])
abs_times = st.sampled_from([b"1", b"-1", b"0", b"abc", b"99999999999", b"9999999999999", b"9223372036854775807"])


def _cmd(*parts):
    return st.tuples(*[p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]).map(list)


def _with(base, extra):
    return st.tuples(base, extra).map(lambda t: t[0] + list(t[1]))


set_options = st.lists(st.sampled_from([[b"NX"], [b"XX"], [b"GET"], [b"KEEPTTL"], [b"EX", b"100000"],
                                        [b"PX", b"0"], [b"EXAT", b"1"], [b"PXAT", b"99999999999999"], [b"EX"]]),
                       max_size=3).map(lambda ls: [x for part in ls for x in part])
getex_options = st.one_of(
    st.just([]), st.just([b"PERSIST"]), st.tuples(st.sampled_from([b"EX", b"PX"]), rel_times),
    st.tuples(st.sampled_from([b"EXAT", b"PXAT"]), abs_times), st.just([b"EX"]), st.just([b"FOO"]),
)

STRING_COMMANDS = st.one_of(
    _with(_cmd(b"SET", keys, values), set_options),
    _cmd(b"SETNX", keys, values), _cmd(b"SETEX", keys, rel_times, values), _cmd(b"PSETEX", keys, rel_times, values),
    _cmd(b"GETSET", keys, values), _cmd(b"GETDEL", keys), _with(_cmd(b"GETEX", keys), getex_options),
    _with(st.just([b"MGET"]), st.lists(keys, min_size=1, max_size=4)),
    _with(st.just([b"MSET"]), st.lists(st.tuples(keys, values), min_size=1, max_size=3).map(
        lambda ps: [x for p in ps for x in p])),
    _with(st.just([b"MSETNX"]), st.lists(st.tuples(keys, values), min_size=1, max_size=3).map(
        lambda ps: [x for p in ps for x in p])),
    _cmd(b"MSET", keys, values, keys),
    _cmd(b"APPEND", keys, values), _cmd(b"STRLEN", keys), _cmd(b"GET", keys),
    _cmd(st.sampled_from([b"INCR", b"DECR"]), keys), _cmd(st.sampled_from([b"INCRBY", b"DECRBY"]), keys, ints),
    _cmd(b"INCRBYFLOAT", keys, st.sampled_from([b"1.5", b"-0.1", b"abc", b"1e10", b"inf", b"0", b"0x1p3"])),
    _cmd(st.sampled_from([b"GETRANGE", b"SUBSTR"]), keys, ints, ints),
    _cmd(b"SETRANGE", keys, st.sampled_from([b"0", b"1", b"5", b"-1", b"abc", b"20"]), values),
    _with(_cmd(b"LCS", keys, keys), st.lists(st.sampled_from([b"LEN", b"IDX", b"WITHMATCHLEN", b"MINMATCHLEN"]),
                                             max_size=3)),
    _cmd(b"RPUSH", keys, values), _cmd(b"TTL", keys), _cmd(b"DEL", keys),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(STRING_COMMANDS, min_size=1, max_size=25))
def test_generated_string_sequences(diff, commands):
    run_sequence(diff, commands)


# --- INCRBYFLOAT over many number shapes ----------------------------------------------------------------------

float_texts = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: repr(x).encode()),
    st.builds(lambda m, e: b"%de%d" % (m, e), st.integers(-10**20, 10**20), st.integers(-4960, 4940)),
    st.builds(lambda i, f: b"%d.%d" % (i, f), st.integers(-10**6, 10**6), st.integers(0, 10**25)),
    st.builds(lambda m, e: b"0x%xp%d" % (m, e), st.integers(0, 2**70), st.integers(-16520, 16400)),
    st.integers(-(2**70), 2**70).map(lambda n: b"%d" % n),
    st.sampled_from([b"inf", b"-inf", b"Infinity", b"nan", b"1e", b".5", b"5.", b"+.5e1", b"-0", b"0x", b"1 ",
                     b" 1", b"1\x00", b"3.6451995318824746025e-4951", b"1.18973149535723176502e+4932",
                     b"1.18973149535723176509e+4932"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.none(), float_texts), st.lists(float_texts, min_size=1, max_size=4))
def test_incrbyfloat_matches_redis(diff, start, increments):
    diff.check("DEL", "f")
    if start is not None:
        diff.check("SET", "f", start)
    for inc in increments:
        diff.check("INCRBYFLOAT", "f", inc)
    diff.check("GET", "f")


# --- LCS ----------------------------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=40).map(lambda b: bytes(x % 4 + 97 for x in b)),
       st.binary(max_size=40).map(lambda b: bytes(x % 4 + 97 for x in b)),
       st.integers(min_value=-1, max_value=5), st.booleans())
def test_lcs_matches_redis(diff, a, b, minmatchlen, withmatchlen):
    diff.check("SET", "a", a)
    diff.check("SET", "b", b)
    diff.check("LCS", "a", "b")
    diff.check("LCS", "a", "b", "LEN")
    opts = ["IDX", "MINMATCHLEN", minmatchlen] + (["WITHMATCHLEN"] if withmatchlen else [])
    diff.check("LCS", "a", "b", *opts)


def test_lcs_long_strings(diff):
    a = bytes((i * 7919) % 23 + 97 for i in range(1500))
    b = bytes((i * 104729) % 23 + 97 for i in range(1200))
    diff.check("SET", "a", a)
    diff.check("SET", "b", b)
    diff.check("LCS", "a", "b")
    diff.check("LCS", "a", "b", "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN")
    diff.check("LCS", "b", "a", "IDX")


# --- redis-py ------------------------------------------------------------------------------------------------------------


def test_redis_py_smoke(shardis_node):
    r = shardis_node.client()
    assert r.set("a", "1", ex=100, get=True) is None
    assert r.get("a") == b"1"
    assert r.incr("a") == 2
    assert r.incrbyfloat("a", 0.5) == 2.5
    assert r.append("a", "x") == 4
    assert r.getrange("a", 0, 1) == b"2."
    assert r.setrange("a", 0, "9") == 4
    assert r.mset({"b": "2", "c": "3"}) is True
    assert r.mget("a", "b", "nokey") == [b"9.5x", b"2", None]
    assert r.msetnx({"b": "9", "d": "4"}) is False
    assert r.getex("b", ex=100) == b"2"
    assert r.getdel("b") == b"2"
    assert r.lcs("a", "c") == b""
    r.set("x", "ohmytext")
    r.set("y", "mynewtext")
    assert r.lcs("x", "y") == b"mytext"
    assert r.lcs("x", "y", len=True) == 6
