"""Unit tests of the bitmap commands (commands/bitmaps.py), in-process.

The commands are checked against small models written bit by bit (a list
of 0/1 per bit, two's complement by hand), which share no code with the
big-integer implementation, plus the events, ``dirty`` counts and
encodings redis-server 7.0.15 shows.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardis.keyspace.objects import Hash

from test_commands_keys import Harness  # noqa: E402  (same directory)


@pytest.fixture
def h():
    return Harness()


def bits_of(data: bytes) -> list:
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]


def value_of(h, key) -> bytes:
    reply = h("GET", key)
    if reply == b"$-1\r\n":
        return b""
    n = int(reply[1:reply.index(b"\r\n")])
    start = reply.index(b"\r\n") + 2
    return reply[start:start + n]


def integer(reply: bytes) -> int:
    assert reply.startswith(b":"), reply
    return int(reply[1:-2])


# --- SETBIT / GETBIT ----------------------------------------------------------------------------------


def test_setbit_getbit_events_and_dirty(h):
    reply, events, dirty, _ = h.run("SETBIT", "b", "7", "1")
    assert (reply, dirty) == (b":0\r\n", 1)
    assert events == [(b"new", b"b", 0), (b"setbit", b"b", 0)]
    assert value_of(h, "b") == b"\x01"
    assert h.run("SETBIT", "b", "7", "1")[:3] == (b":1\r\n", [], 0)  # no change: nothing happens
    assert h.run("SETBIT", "b", "20", "0")[2] == 1  # the string grew: a change
    assert value_of(h, "b") == b"\x01\x00\x00"
    assert h("GETBIT", "b", "7") == b":1\r\n"
    assert h("GETBIT", "b", "1000") == b":0\r\n"
    assert h("GETBIT", "nokey", "0") == b":0\r\n"


def test_setbit_makes_the_string_raw_even_without_change(h):
    h("SET", "s", "12")
    h("SETBIT", "s", "0", "0")
    assert h("OBJECT", "ENCODING", "s") == b"$3\r\nraw\r\n"


def test_setbit_errors(h):
    assert h("SETBIT", "b", "-1", "1") == b"-ERR bit offset is not an integer or out of range\r\n"
    assert h("SETBIT", "b", "4294967296", "1") == b"-ERR bit offset is not an integer or out of range\r\n"
    assert h("SETBIT", "b", "#1", "1") == b"-ERR bit offset is not an integer or out of range\r\n"
    assert h("SETBIT", "b", "0", "2") == b"-ERR bit is not an integer or out of range\r\n"
    assert h("SETBIT", "b", "0", "-1") == b"-ERR bit is not an integer or out of range\r\n"
    assert h("GETBIT", "b", "x") == b"-ERR bit offset is not an integer or out of range\r\n"
    h.db.set(b"h", Hash())
    assert h("SETBIT", "h", "0", "1").startswith(b"-WRONGTYPE")
    assert h("GETBIT", "h", "0").startswith(b"-WRONGTYPE")


# --- BITCOUNT / BITPOS model -------------------------------------------------------------------------


def _norm_range(start, end, total):
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = max(end, 0)
    end = min(end, total - 1)
    return start, end


def model_bitcount(data: bytes, start=None, end=None, unit_bit=False):
    bits = bits_of(data)
    if start is None:
        return sum(bits)
    if start < 0 and end < 0 and start > end:
        return 0
    total = len(bits) if unit_bit else len(data)
    start, end = _norm_range(start, end, total)
    if start > end:
        return 0
    if unit_bit:
        return sum(bits[start:end + 1])
    return sum(bits[start * 8:end * 8 + 8])


def model_bitpos(data: bytes, bit, start=None, end=None, unit_bit=False):
    bits = bits_of(data)
    end_given = end is not None
    if start is None:
        start, end = 0, len(data) - 1
        lo, hi = 0, len(bits) - 1
    else:
        total = len(bits) if unit_bit else len(data)
        if end is None:
            end = total - 1
        start, end = _norm_range(start, end, total)
        if start > end:
            return -1
        lo, hi = (start, end) if unit_bit else (start * 8, end * 8 + 7)
    if lo > hi:
        return -1
    for i in range(lo, hi + 1):
        if bits[i] == bit:
            return i
    if bit == 1 or end_given:
        return -1
    return hi + 1


offsets = st.integers(min_value=-40, max_value=40)


@settings(max_examples=400)
@given(st.binary(max_size=6), st.one_of(st.none(), st.tuples(offsets, offsets, st.booleans())))
def test_bitcount_matches_the_model(data, rng, ):
    h = Harness()
    h.db.set(b"k", data)
    if rng is None:
        assert integer(h("BITCOUNT", "k")) == model_bitcount(data)
    else:
        start, end, unit_bit = rng
        reply = h("BITCOUNT", "k", start, end, "BIT" if unit_bit else "BYTE")
        assert integer(reply) == model_bitcount(data, start, end, unit_bit)
        if not unit_bit:
            assert h("BITCOUNT", "k", start, end) == reply


@settings(max_examples=400)
@given(st.binary(max_size=6), st.integers(min_value=0, max_value=1),
       st.one_of(st.none(), st.tuples(offsets, st.one_of(st.none(), offsets), st.booleans())))
def test_bitpos_matches_the_model(data, bit, rng):
    h = Harness()
    h.db.set(b"k", data)
    if rng is None:
        assert integer(h("BITPOS", "k", bit)) == model_bitpos(data, bit)
        return
    start, end, unit_bit = rng
    if end is None:
        assert integer(h("BITPOS", "k", bit, start)) == model_bitpos(data, bit, start)
    else:
        reply = h("BITPOS", "k", bit, start, end, "BIT" if unit_bit else "BYTE")
        assert integer(reply) == model_bitpos(data, bit, start, end, unit_bit)


def test_bitpos_and_bitcount_edges(h):
    assert h("BITPOS", "nokey", "0") == b":0\r\n"
    assert h("BITPOS", "nokey", "1") == b":-1\r\n"
    assert h("BITPOS", "nokey", "2") == b"-ERR The bit argument must be 1 or 0.\r\n"
    h("SET", "k", b"\xff\xff")
    assert h("BITPOS", "k", "0") == b":16\r\n"  # zero-padded on the right
    assert h("BITPOS", "k", "0", "0", "-1") == b":-1\r\n"  # but not with an explicit end
    assert h("BITPOS", "k", "1", "0", "1", "FOO") == b"-ERR syntax error\r\n"
    assert h("BITCOUNT", "k", "0") == b"-ERR syntax error\r\n"
    assert h("BITCOUNT", "k", "-1", "-5", "FOO") == b":0\r\n"  # 7.0 answers before checking the unit
    assert h("BITCOUNT", "k", "0", "1", "FOO") == b"-ERR syntax error\r\n"
    assert h("BITCOUNT", "nokey", "a", "b") == b":0\r\n"


# --- BITOP ---------------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.sampled_from(["AND", "OR", "XOR", "NOT"]), st.lists(st.one_of(st.none(), st.binary(max_size=5)),
                                                                min_size=1, max_size=3))
def test_bitop_matches_bytewise_model(op, srcs):
    h = Harness()
    if op == "NOT":
        srcs = srcs[:1]
    names = []
    for i, s in enumerate(srcs):
        name = b"s%d" % i
        if s is not None:
            h.db.set(name, s)
        names.append(name)
    datas = [s or b"" for s in srcs]
    n = max(len(d) for d in datas)
    padded = [d + bytes(n - len(d)) for d in datas]
    if op == "NOT":
        want = bytes(255 - x for x in padded[0])
    else:
        want = bytearray(padded[0])
        for d in padded[1:]:
            for i in range(n):
                want[i] = {"AND": want[i] & d[i], "OR": want[i] | d[i], "XOR": want[i] ^ d[i]}[op]
        want = bytes(want)
    h.db.set(b"dest", b"old")
    reply, events, dirty, _ = h.run("BITOP", op, "dest", *names)
    assert reply == b":%d\r\n" % n
    if n:
        assert value_of(h, "dest") == want
        assert events[-1] == (b"set", b"dest", 0)
        assert h("OBJECT", "ENCODING", "dest") == b"$3\r\nraw\r\n"
    else:
        assert b"dest" not in h.db.data
        assert events[-1] == (b"del", b"dest", 0)
    assert dirty == 1


def test_bitop_errors(h):
    assert h("BITOP", "NOT", "d", "a", "b") == b"-ERR BITOP NOT must be called with a single source key.\r\n"
    assert h("BITOP", "NAND", "d", "a") == b"-ERR syntax error\r\n"
    h.db.set(b"h", Hash())
    assert h("BITOP", "AND", "d", "h").startswith(b"-WRONGTYPE")
    assert h.run("BITOP", "AND", "d", "nokey")[:3] == (b":0\r\n", [(b"keymiss", b"nokey", 0)], 0)


# --- BITFIELD ---------------------------------------------------------------------------------------------


def model_get(bits: list, offset: int, width: int, signed: bool) -> int:
    chunk = bits[offset:offset + width]
    chunk += [0] * (width - len(chunk))
    u = 0
    for b in chunk:
        u = u * 2 + b
    if signed and chunk[0]:
        u -= 1 << width
    return u


def model_set(bits: list, offset: int, width: int, value: int) -> None:
    value %= 1 << width
    need = offset + width
    if len(bits) < need:
        bits.extend([0] * (need - len(bits)))
    for i in range(width):
        bits[offset + i] = (value >> (width - 1 - i)) & 1


def model_bitfield(data: bytes, ops):
    """Replies (None = null), the final bytes and the change count, following the documented semantics.

    A write counts as a change when it altered the field's value or the string
    was created or grown for the command (redis-server 7.0.15's rule).
    """
    bits = bits_of(data)
    grew = False
    changes = 0
    writes = [o for o in ops if o[0] != "OVERFLOW" and o[0] != "GET"]
    if writes:
        hi = max(o[3] + o[2] for o in writes)
        need = ((hi - 1) // 8 + 1) * 8
        if len(bits) < need:
            bits.extend([0] * (need - len(bits)))
            grew = True
    out = []
    ow = "WRAP"
    for op in ops:
        if op[0] == "OVERFLOW":
            ow = op[1]
            continue
        kind, signed, width, offset = op[:4]
        lo, hi_ = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
        old = model_get(bits, offset, width, signed)
        if kind == "GET":
            out.append(old)
            continue
        arg = op[4]
        target = old + arg if kind == "INCRBY" else (arg if signed else arg % (1 << 64))
        if lo <= target <= hi_:
            new = target
        elif ow == "FAIL":
            out.append(None)
            continue
        elif ow == "SAT":
            new = hi_ if target > hi_ else lo
        else:
            new = target % (1 << width)
            if signed and new > hi_:
                new -= 1 << width
        model_set(bits, offset, width, new)
        if grew or new != old:
            changes += 1
        out.append(new if kind == "INCRBY" else old)
    packed = bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))
    return out, packed, changes


field_types = st.one_of(
    st.tuples(st.just(True), st.integers(min_value=1, max_value=64)),
    st.tuples(st.just(False), st.integers(min_value=1, max_value=63)),
)
bf_ops = st.one_of(
    st.tuples(st.just("OVERFLOW"), st.sampled_from(["WRAP", "SAT", "FAIL"])),
    st.builds(lambda t, off: ("GET", t[0], t[1], off), field_types, st.integers(0, 40)),
    st.builds(lambda k, t, off, v: (k, t[0], t[1], off, v), st.sampled_from(["SET", "INCRBY"]),
              field_types, st.integers(0, 40),
              st.one_of(st.integers(-300, 300), st.integers(-(2**63), 2**63 - 1))),
)


@settings(max_examples=500)
@given(st.binary(max_size=8), st.lists(bf_ops, max_size=6))
def test_bitfield_matches_the_model(data, ops):
    h = Harness()
    h.db.set(b"k", data)
    argv = []
    for op in ops:
        if op[0] == "OVERFLOW":
            argv += ["OVERFLOW", op[1]]
        else:
            argv += [op[0], ("i" if op[1] else "u") + str(op[2]), op[3]]
            if op[0] != "GET":
                argv.append(op[4])
    reply, events, dirty, _ = h.run("BITFIELD", "k", *argv)
    want, packed, changes = model_bitfield(data, ops)
    frames = [b"$-1\r\n" if v is None else b":%d\r\n" % v for v in want]
    assert reply == b"*%d\r\n" % len(want) + b"".join(frames)
    assert value_of(h, "k") == packed
    assert dirty == changes
    assert ((b"setbit", b"k", 0) in events) == bool(changes)


def test_bitfield_hash_offsets_and_errors(h):
    h("SET", "k", "abc")
    assert h("BITFIELD", "k", "GET", "u8", "#2") == b"*1\r\n:99\r\n"
    assert h("BITFIELD", "k", "GET", "U8", "0") == (
        b"-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n"
    )
    assert h("BITFIELD", "k", "GET", "u64", "0").startswith(b"-ERR Invalid bitfield type")
    assert h("BITFIELD", "k", "GET", "i65", "0").startswith(b"-ERR Invalid bitfield type")
    assert h("BITFIELD", "k", "GET", "u8", "#-1") == b"-ERR bit offset is not an integer or out of range\r\n"
    assert h("BITFIELD", "k", "GET", "i64", "#9223372036854775807") == (
        b"-ERR bit offset is not an integer or out of range\r\n"
    )
    assert h("BITFIELD", "k", "OVERFLOW", "FOO") == b"-ERR Invalid OVERFLOW type specified\r\n"
    assert h("BITFIELD", "k", "GET", "u8") == b"-ERR syntax error\r\n"
    assert h("BITFIELD", "k", "SET", "u8", "0", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert h("BITFIELD", "k") == b"*0\r\n"
    assert h("BITFIELD_RO", "k", "GET", "u8", "0", "SET", "u8", "0", "1") == (
        b"-ERR BITFIELD_RO only supports the GET subcommand\r\n"
    )
    assert h("BITFIELD_RO", "k", "GET", "u8", "0") == b"*1\r\n:97\r\n"
    assert h("BITFIELD_RO", "nokey", "GET", "u8", "0") == b"*1\r\n:0\r\n"


def test_bitfield_fail_still_creates_the_key(h):
    reply, events, dirty, _ = h.run("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "100")
    assert reply == b"*1\r\n$-1\r\n"
    assert dirty == 0
    assert events == [(b"new", b"k", 0)]
    assert h("EXISTS", "k") == b":1\r\n"
