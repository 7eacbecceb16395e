"""Differential tests of the bitmap commands against redis-server 7.0.

Every request goes to a shardis node and to redis-server and the raw
replies must be equal.  Hypothesis draws sequences of SETBIT, GETBIT,
BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO with argument shapes that
reach every branch: negative and out-of-range offsets, BYTE/BIT units,
``#`` offsets, every field width and overflow mode, bad types and
subcommands.  Offsets stay small so that no test allocates a 512MB string.
After each command the values of the keys and ``dirty`` are compared too.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.testing import dirty_pair

pytestmark = pytest.mark.timeout(300)

KEYS = [b"b1", b"b2", b"b3", b"L"]


keys = st.sampled_from(KEYS + [b"nokey"])
small = st.integers(min_value=-40, max_value=300).map(lambda n: b"%d" % n)
offset_args = st.one_of(small, st.sampled_from([b"abc", b"", b"-1", b"#3", b"#-1", b"#0", b"+1",
                                                b"9223372036854775807", b"4294967296", b"#9223372036854775807"]))
range_args = st.one_of(small, st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda n: b"%d" % n),
                       st.sampled_from([b"abc", b"9223372036854775808"]))
bit_args = st.sampled_from([b"0", b"1", b"1", b"0", b"2", b"-1", b"x"])
units = st.sampled_from([b"BIT", b"BYTE", b"bit", b"byte", b"foo"])
field_types = st.one_of(
    st.builds(lambda s, n: b"%s%d" % (s, n), st.sampled_from([b"i", b"u"]), st.integers(1, 64)),
    st.sampled_from([b"u64", b"i65", b"i0", b"x8", b"U8", b"I8", b"i", b"u-1"]),
)
values = st.one_of(st.integers(-300, 300), st.integers(-(2**63), 2**63 - 1)).map(lambda n: b"%d" % n)


def _cmd(*parts):
    return st.tuples(*[p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]).map(list)


def _with(base, extra):
    return st.tuples(base, extra).map(lambda t: t[0] + list(t[1]))


bitfield_ops = st.lists(st.one_of(
    st.tuples(st.just(b"GET"), field_types, offset_args),
    st.tuples(st.sampled_from([b"SET", b"INCRBY"]), field_types, offset_args, values),
    st.tuples(st.just(b"OVERFLOW"), st.sampled_from([b"WRAP", b"SAT", b"FAIL", b"fail", b"bad"])),
    st.tuples(st.sampled_from([b"GET", b"SET", b"foo"])),
), max_size=5).map(lambda ops: [x for op in ops for x in op])

BIT_COMMANDS = st.one_of(
    _cmd(b"SETBIT", keys, offset_args, bit_args),
    _cmd(b"GETBIT", keys, offset_args),
    _with(_cmd(b"BITCOUNT", keys), st.one_of(
        st.just([]), st.tuples(range_args), st.tuples(range_args, range_args),
        st.tuples(range_args, range_args, units), st.tuples(range_args, range_args, units, st.just(b"x")))),
    _with(_cmd(b"BITPOS", keys, bit_args), st.one_of(
        st.just([]), st.tuples(range_args), st.tuples(range_args, range_args),
        st.tuples(range_args, range_args, units), st.tuples(range_args, range_args, units, st.just(b"x")))),
    _with(_cmd(b"BITOP", st.sampled_from([b"AND", b"OR", b"XOR", b"NOT", b"and", b"foo"]), keys),
          st.lists(keys, min_size=1, max_size=3)),
    _with(_cmd(st.sampled_from([b"BITFIELD", b"BITFIELD", b"BITFIELD_RO"]), keys), bitfield_ops),
    _cmd(b"SET", keys, st.sampled_from([b"", b"abc", b"12", b"\xff\x00\x0f", b"hello world", b"\x80"])),
    _cmd(b"APPEND", keys, st.sampled_from([b"\x01\x80", b"z"])),
    _cmd(b"DEL", keys),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(BIT_COMMANDS, min_size=1, max_size=20))
def test_generated_bitmap_sequences(diff, commands):
    diff.check("FLUSHALL")
    diff.check("RPUSH", "L", "x")
    for args in commands:
        d0 = dirty_pair(diff)
        diff.check(*args)
        d1 = dirty_pair(diff)
        assert d1[0] - d0[0] == d1[1] - d0[1], f"dirty differs after {args}"
    for k in KEYS:
        diff.check("GET", k)
        diff.check("OBJECT", "ENCODING", k)


SCRIPTED = [
    ["SET", "s", "hello"], ["BITPOS", "s", "2"], ["BITOP", "NOT", "d", "s", "s"], ["BITOP", "FOO", "d", "s"],
    ["BITFIELD", "s", "GET", "x8", "0"], ["BITFIELD", "s", "OVERFLOW", "FOO"], ["BITFIELD_RO", "s", "SET", "u8", "0", "1"],
    ["BITFIELD_RO", "s", "GET", "u8", "0", "SET", "u8", "0", "1"], ["BITFIELD", "s", "GET", "u64", "0"],
    ["BITFIELD", "s", "GET", "u8", "#2"], ["BITFIELD", "s", "FOO"], ["BITFIELD", "s", "GET", "u8"], ["BITFIELD", "s"],
    ["SETBIT", "s", "-1", "1"], ["SETBIT", "s", "1", "2"], ["SETBIT", "s", "4294967296", "1"],
    ["GETBIT", "s", "4294967296"], ["GETBIT", "s", "1"], ["SETBIT", "n", "0", "1"], ["OBJECT", "ENCODING", "n"],
    ["SET", "i", "12"], ["SETBIT", "i", "0", "0"], ["OBJECT", "ENCODING", "i"],
    ["BITCOUNT", "s"], ["BITCOUNT", "s", "1", "2"], ["BITCOUNT", "s", "1", "2", "BIT"], ["BITCOUNT", "s", "0"],
    ["BITCOUNT", "s", "-1", "-5", "FOO"], ["BITCOUNT", "nokey", "a", "b"], ["BITCOUNT", "s", "a", "b"],
    ["BITPOS", "s", "1", "2", "-1", "BIT"], ["BITPOS", "s", "0", "0", "-1"], ["BITPOS", "nokey", "0"],
    ["BITPOS", "nokey", "1", "x"], ["BITPOS", "s", "1", "0", "a", "foo"],
    ["SET", "ff", "\xff\xff"], ["BITPOS", "ff", "0"], ["BITPOS", "ff", "0", "0"], ["BITPOS", "ff", "0", "0", "-1"],
    ["BITOP", "AND", "dst", "s", "ff"], ["GET", "dst"], ["OBJECT", "ENCODING", "dst"], ["BITOP", "OR", "dst", "nokey"],
    ["EXISTS", "dst"], ["BITOP", "XOR", "dst", "s", "nokey", "ff"], ["GET", "dst"],
    ["BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "100"], ["EXISTS", "bf"], ["GET", "bf"],
    ["BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "SET", "i8", "8", "200", "INCRBY", "i64", "16",
     "9223372036854775807", "INCRBY", "i64", "16", "1"],
    ["BITFIELD", "bf", "GET", "i64", "16", "OVERFLOW", "WRAP", "INCRBY", "i64", "16", "1", "INCRBY", "u63", "0", "-1"],
]


def test_scripted_bitmap_commands(diff):
    for args in SCRIPTED:
        diff.check(*args)


def test_scripted_bitmap_commands_resp3(diff):
    diff.check("HELLO", "3")
    for args in SCRIPTED:
        diff.check(*args)


def test_large_bitmaps(diff):
    for off in (0, 7, 1000, 65535, 1000003, 8000000):
        diff.check("SETBIT", "big", off, "1")
    diff.check("BITCOUNT", "big")
    diff.check("BITCOUNT", "big", "100", "-1")
    diff.check("BITCOUNT", "big", "8", "7999999", "BIT")
    diff.check("BITPOS", "big", "1", "1")
    diff.check("BITPOS", "big", "1", "1001", "-1", "BIT")
    diff.check("BITPOS", "big", "0")
    diff.check("BITOP", "NOT", "inv", "big")
    diff.check("BITPOS", "inv", "0", "1")
    diff.check("BITCOUNT", "inv")
    diff.check("BITFIELD", "big", "GET", "u63", "1000000", "INCRBY", "i37", "#9000", "12345")


def test_redis_py_smoke(shardis_node):
    r = shardis_node.client()
    assert r.setbit("b", 7, 1) == 0
    assert r.getbit("b", 7) == 1
    assert r.bitcount("b") == 1
    assert r.bitpos("b", 1) == 7
    assert r.bitop("NOT", "n", "b") == 1
    bf = r.bitfield("f")
    assert bf.set("u8", 0, 255).incrby("u8", 0, 10).execute() == [0, 9]
    bf = r.bitfield("f", default_overflow="FAIL")
    assert bf.incrby("u8", 0, 300).execute() == [None]
    assert r.bitfield_ro("f", "u8", 0) == [9]
