"""The RDB codec without a server: primitives, value round trips for every type
and encoding (with the encoding a load must produce), every legacy type Redis
7.0 still loads, DUMP payload checks, fuzzing (malformed input raises only the
RdbError family, quickly and without large allocations), and the file writer
and streaming reader.

Cross-checks against a real redis-server live in
tests/integration/test_persistence_rdb_redis.py.
"""

from __future__ import annotations

import dataclasses
import io
import math
import struct
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.keyspace.objects import Hash, List, Set, ZSet
from shardis.persistence import intset, listpack, lzf, rdb, ziplist, zipmap
from shardis.persistence.crc64 import crc64
from shardis.persistence.rdb import (
    AuxField,
    BadDataFormat,
    DumpPayloadError,
    EmptyKeyError,
    EndOfFile,
    FunctionLibrary,
    KeyValue,
    ModuleAux,
    RdbCorruptError,
    RdbError,
    RdbReader,
    RdbUnsupportedError,
    RdbWriter,
    ResizeDb,
    SelectDb,
    Thresholds,
    UnsupportedTypeError,
    decode_value,
    dump_value,
    encode_length,
    encode_string,
    encode_value,
    load_dump_payload,
    read_rdb,
    verify_dump_payload,
    write_rdb,
)
from shardis.persistence.listpack import string_to_int64

DEFAULT = rdb.DEFAULT_THRESHOLDS
TINY = Thresholds(
    hash_max_listpack_entries=6,
    hash_max_listpack_value=12,
    set_max_intset_entries=6,
    zset_max_listpack_entries=6,
    zset_max_listpack_value=12,
    list_max_listpack_size=-1,
)


def payload(rdb_type: int, body: bytes, version: int = 10) -> bytes:
    head = bytes((rdb_type,)) + body + version.to_bytes(2, "little")
    return head + crc64(0, head).to_bytes(8, "little")


def read_length(data: bytes) -> int:
    return rdb._Cursor(memoryview(data)).length()


# ---------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, encoded",
    [
        (0, b"\x00"),
        (63, b"\x3f"),
        (64, b"\x40\x40"),
        (16383, b"\x7f\xff"),
        (16384, b"\x80\x00\x00\x40\x00"),
        (2**32 - 1, b"\x80\xff\xff\xff\xff"),
        (2**32, b"\x81\x00\x00\x00\x01\x00\x00\x00\x00"),
        (2**64 - 1, b"\x81" + b"\xff" * 8),
    ],
)
def test_length_encodings(n, encoded):
    assert encode_length(n) == encoded
    assert read_length(encoded) == n


def test_length_limits():
    with pytest.raises(ValueError):
        encode_length(-1)
    with pytest.raises(ValueError):
        encode_length(2**64)
    with pytest.raises(BadDataFormat):
        read_length(b"\x82")  # 10xxxxxx other than 0x80/0x81
    # rdbLoadLen(rdb, NULL) reads a special-encoding byte as its low 6 bits.
    assert read_length(b"\xc5") == 5


@pytest.mark.parametrize(
    "text, encoded",
    [
        (b"0", b"\xc0\x00"),
        (b"-1", b"\xc0\xff"),
        (b"127", b"\xc0\x7f"),
        (b"-128", b"\xc0\x80"),
        (b"128", b"\xc1\x80\x00"),
        (b"-32768", b"\xc1\x00\x80"),
        (b"32768", b"\xc2\x00\x80\x00\x00"),
        (b"2147483647", b"\xc2\xff\xff\xff\x7f"),
        (b"-2147483648", b"\xc2\x00\x00\x00\x80"),
        (b"2147483648", b"\x0a2147483648"),  # beyond int32: verbatim
        (b"01", b"\x0201"),  # not canonical: verbatim
        (b"-0", b"\x02-0"),
        (b"", b"\x00"),
        (b"a" * 20, b"\x14" + b"a" * 20),  # 20 bytes are never compressed
    ],
)
def test_string_encodings(text, encoded):
    assert encode_string(text) == encoded
    assert decode_value(rdb.TYPE_STRING, encoded) == text


def test_long_strings_are_lzf_compressed_when_it_pays():
    text = b"a" * 21
    enc = encode_string(text)
    assert enc[0] == 0xC3
    assert decode_value(rdb.TYPE_STRING, enc) == text
    assert encode_string(text, compress=False) == b"\x15" + text
    noise = bytes(range(256))
    assert encode_string(noise) == encode_length(256) + noise


def test_lzf_string_declaring_zero_bytes_is_empty_like_in_redis():
    assert decode_value(rdb.TYPE_STRING, b"\xc3\x02\x00\x00a") == b""


def test_lzf_string_with_impossible_length_is_rejected_without_work():
    enc = b"\xc3" + encode_length(2) + encode_length(2**40) + b"\x00a"
    with pytest.raises(BadDataFormat):
        decode_value(rdb.TYPE_STRING, enc)


def test_unknown_string_encoding():
    with pytest.raises(BadDataFormat):
        decode_value(rdb.TYPE_STRING, b"\xc4")


@pytest.mark.parametrize(
    "encoded, value",
    [
        (b"\xfd", math.nan),
        (b"\xfe", math.inf),
        (b"\xff", -math.inf),
        (b"\x031.5", 1.5),
        (b"\x04-2e3", -2000.0),
        (b"\x130.10000000000000001", 0.1),
    ],
)
def test_string_doubles(encoded, value):
    got = rdb._Cursor(memoryview(encoded)).string_double()
    if math.isnan(value):
        assert math.isnan(got)
    else:
        assert got == value


@pytest.mark.parametrize("encoded", [b"\x03abc", b"\x031_0", b"\x02 1", b"\x00", b"\x02\xff\xfe"])
def test_bad_string_doubles(encoded):
    with pytest.raises(BadDataFormat):
        rdb._Cursor(memoryview(encoded)).string_double()


@pytest.mark.parametrize(
    "score, text",
    [
        (0.0, b"0"),
        (-0.0, b"0"),  # double2ll loses the sign, as in Redis
        (1.0, b"1"),
        (-3.0, b"-3"),
        (1.5, b"1.5"),
        (0.1, b"0.10000000000000001"),
        (-1.5e-7, b"-1.4999999999999999e-07"),
        (9.3e18, b"9.3e+18"),
        (1e300, b"1.0000000000000001e+300"),
        (math.inf, b"inf"),
        (-math.inf, b"-inf"),
        (2.0**62, b"4611686018427387904"),
        (-(2.0**62), b"-4611686018427387904"),
        (2.0**63, b"9.2233720368547758e+18"),
    ],
)
def test_scores_are_spelled_like_zzlinsertat(score, text):
    # Spellings observed in DUMPs of redis-server 7.0.15.
    assert rdb._score_text(score) == text
    assert float(text) == score


# ---------------------------------------------------------------------------
# Value strategies and the encoding a load must give (Redis 7.0's rules)
# ---------------------------------------------------------------------------

int_text = st.integers(-(2**63), 2**63 - 1).map(lambda v: b"%d" % v)
small_int_text = st.integers(-100, 100000).map(lambda v: b"%d" % v)
elements = st.one_of(
    st.binary(max_size=14),
    small_int_text,
    int_text,
    st.sampled_from([b"", b"0", b"-0", b"01", b"+1", b"1.5"]),
    st.binary(min_size=60, max_size=70),
)
repetitive = st.builds(lambda w, n: w * n, st.binary(min_size=1, max_size=6), st.integers(4, 300))
strings = st.one_of(elements, st.binary(max_size=400), repetitive)
scores = st.one_of(
    st.floats(allow_nan=False),
    st.integers(-(2**60), 2**60).map(float),
    st.sampled_from([0.0, -0.0, math.inf, -math.inf, 0.1, 1e300]),
)


def make_hash(d, enc):
    h = Hash(d)
    h.encoding = enc
    return h


def make_set(members, enc):
    s = Set(members)
    s.encoding = enc
    return s


def make_zset(d, enc):
    z = ZSet()
    for member, score in d.items():
        z.add(member, score)
    z.encoding = enc
    return z


hashes = st.builds(
    make_hash,
    st.dictionaries(elements, elements, min_size=1, max_size=12),
    st.sampled_from([b"listpack", b"hashtable"]),
)
sets = st.builds(
    make_set,
    st.one_of(st.sets(elements, min_size=1, max_size=12), st.sets(small_int_text, min_size=1, max_size=12)),
    st.sampled_from([b"intset", b"hashtable"]),
)
zsets = st.builds(
    make_zset,
    st.dictionaries(elements, scores, min_size=1, max_size=12),
    st.sampled_from([b"listpack", b"skiplist"]),
)
lists = st.builds(List, st.lists(strings, min_size=1, max_size=30))
values = st.one_of(strings, hashes, sets, zsets, lists)


def expected_encoding(value, th: Thresholds):
    """The encoding redis-server 7.0 reports after loading what we wrote."""
    if isinstance(value, Hash):
        small = len(value) <= th.hash_max_listpack_entries and all(
            len(x) <= th.hash_max_listpack_value for pair in value.items() for x in pair
        )
        return b"listpack" if small else b"hashtable"
    if isinstance(value, Set):
        ints = all(string_to_int64(m) is not None for m in value)
        return b"intset" if ints and len(value) <= th.set_max_intset_entries else b"hashtable"
    if isinstance(value, ZSet):
        small = len(value) <= th.zset_max_listpack_entries and all(
            len(m) <= th.zset_max_listpack_value for m in value.dict
        )
        return b"listpack" if small else b"skiplist"
    if isinstance(value, List):
        return b"quicklist"
    return None


def zset_items(z: ZSet, signless_zero: bool = False):
    """(member, exact score bits) in order -- tells -0.0 from 0.0 unless asked."""
    return [(m, struct.pack("<d", s + 0.0 if signless_zero else s)) for s, m in z.sl]


def assert_same_value(got, want):
    if isinstance(want, (bytes, bytearray)):
        assert got.__class__ is bytes
        assert got == want
        return
    assert type(got) is type(want)
    if isinstance(want, ZSet):
        # A listpack stores -0.0 as the integer 0, as Redis does.
        assert zset_items(got, True) == zset_items(want, True)
        if got.encoding == b"skiplist":
            assert zset_items(got) == zset_items(want)
        assert got.dict == want.dict
    elif isinstance(want, List):
        assert list(got) == list(want)
    else:
        assert got == want


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(values, st.sampled_from([DEFAULT, TINY]), st.booleans())
def test_dump_round_trip(value, th, compress):
    data = dump_value(value, compress=compress, thresholds=th)
    got = load_dump_payload(data, thresholds=th)
    assert_same_value(got, value)
    assert getattr(got, "encoding", None) == expected_encoding(value, th)


@settings(max_examples=200, deadline=None)
@given(values)
def test_encode_decode_value(value):
    rdb_type, body = encode_value(value)
    assert_same_value(decode_value(rdb_type, body), value)


@given(hashes)
def test_hash_types_written(h):
    rdb_type, _ = encode_value(h)
    fits = expected_encoding(h, DEFAULT) == b"listpack"
    assert rdb_type == (rdb.TYPE_HASH_LISTPACK if h.encoding == b"listpack" and fits else rdb.TYPE_HASH)


@given(sets)
def test_set_types_written(s):
    rdb_type, _ = encode_value(s)
    fits = expected_encoding(s, DEFAULT) == b"intset"
    assert rdb_type == (rdb.TYPE_SET_INTSET if s.encoding == b"intset" and fits else rdb.TYPE_SET)


@given(zsets)
def test_zset_types_written(z):
    rdb_type, _ = encode_value(z)
    fits = expected_encoding(z, DEFAULT) == b"listpack"
    assert rdb_type == (rdb.TYPE_ZSET_LISTPACK if z.encoding == b"listpack" and fits else rdb.TYPE_ZSET_2)


def test_zset_2_is_written_highest_score_first():
    z = make_zset({b"a": 1.0, b"b": 2.0, b"c": 3.0}, b"skiplist")
    rdb_type, body = encode_value(z)
    assert rdb_type == rdb.TYPE_ZSET_2
    expected = b"\x03" + b"".join(b"\x01" + m + struct.pack("<d", s) for m, s in ((b"c", 3), (b"b", 2), (b"a", 1)))
    assert body == expected


def test_zset_listpack_layout():
    z = make_zset({b"b": 2.5, b"a": 1.0}, b"listpack")
    rdb_type, body = encode_value(z)
    assert rdb_type == rdb.TYPE_ZSET_LISTPACK
    blob = decode_value(rdb.TYPE_STRING, body)
    assert listpack.decode(blob) == [b"a", b"1", b"b", b"2.5"]


@pytest.mark.parametrize(
    "fill, sizes",
    [
        (-2, None),  # 8 KB nodes
        (-1, None),  # 4 KB nodes
        (-5, None),  # 64 KB nodes
        (3, None),  # at most 3 per node
    ],
)
def test_list_nodes_follow_list_max_listpack_size(fill, sizes):
    items = [b"%05d" % i + b"x" * 95 for i in range(2000)]
    th = Thresholds(list_max_listpack_size=fill)
    rdb_type, body = encode_value(List(items), thresholds=th)
    assert rdb_type == rdb.TYPE_LIST_QUICKLIST_2
    cur = rdb._Cursor(memoryview(body))
    nodes = cur.length()
    limit = {-1: 4096, -2: 8192, -5: 65536}.get(fill, 8192)
    seen = []
    for _ in range(nodes):
        assert cur.length() == rdb.QUICKLIST_PACKED
        blob = cur.string()
        node = listpack.decode(blob)
        assert len(blob) <= limit
        if fill > 0:
            assert len(node) <= fill
        seen.extend(node)
    assert seen == items
    # Nodes are full: another element would not have fitted.
    assert nodes <= len(items) * 108 // limit + 2 if fill < 0 else nodes == math.ceil(len(items) / fill)


def test_element_bigger_than_a_node_gets_its_own_node():
    items = [b"a", b"b" * 10000, b"c"]
    rdb_type, body = encode_value(List(items))
    cur = rdb._Cursor(memoryview(body))
    assert cur.length() == 3
    assert list(decode_value(rdb_type, body)) == items


def test_stale_compact_encoding_is_not_trusted():
    h = Hash({b"f%d" % i: b"v" for i in range(600)})  # constructor says listpack
    assert h.encoding == b"listpack"
    assert encode_value(h)[0] == rdb.TYPE_HASH
    s = Set([b"a", b"1"])  # says intset, holds a non-integer
    assert encode_value(s)[0] == rdb.TYPE_SET
    z = make_zset({b"m" * 65: 1.0}, b"listpack")
    assert encode_value(z)[0] == rdb.TYPE_ZSET_2


def test_bytearray_strings_serialize_as_strings():
    assert dump_value(bytearray(b"abc")) == dump_value(b"abc")


@pytest.mark.parametrize("value", [Hash(), Set(), ZSet(), List()])
def test_empty_containers_cannot_be_serialized(value):
    with pytest.raises(ValueError):
        dump_value(value)


def test_unknown_object_cannot_be_serialized():
    with pytest.raises(TypeError):
        dump_value(42)


# ---------------------------------------------------------------------------
# Load rules at the thresholds (measured against redis-server 7.0.15)
# ---------------------------------------------------------------------------


def hash_listpack_body(n, vlen=1):
    items = []
    for i in range(n):
        items += [b"f%d" % i, b"v" * vlen]
    return encode_string(listpack.encode(items))


def test_default_thresholds_are_redis_7_0_defaults():
    assert DEFAULT == Thresholds(512, 64, 512, 128, 64, -2)


@pytest.mark.parametrize(
    "rdb_type, body, encoding",
    [
        # Compact hash types: only the count is checked on load.
        (rdb.TYPE_HASH_LISTPACK, hash_listpack_body(512), b"listpack"),
        (rdb.TYPE_HASH_LISTPACK, hash_listpack_body(513), b"hashtable"),
        (rdb.TYPE_HASH_LISTPACK, hash_listpack_body(3, 100), b"listpack"),
        (rdb.TYPE_HASH_ZIPLIST, encode_string(ziplist.encode([b"f", b"v" * 100])), b"listpack"),
        # A zipmap also checks element sizes.
        (rdb.TYPE_HASH_ZIPMAP, encode_string(zipmap.encode([(b"f", b"v" * 64)])), b"listpack"),
        (rdb.TYPE_HASH_ZIPMAP, encode_string(zipmap.encode([(b"f", b"v" * 65)])), b"hashtable"),
        # The plain hash checks both.
        (rdb.TYPE_HASH, b"\x01\x01f" + encode_string(b"v" * 64), b"listpack"),
        (rdb.TYPE_HASH, b"\x01\x01f" + encode_string(b"v" * 65), b"hashtable"),
        (rdb.TYPE_SET_INTSET, encode_string(intset.encode(range(512))), b"intset"),
        (rdb.TYPE_SET_INTSET, encode_string(intset.encode(range(513))), b"hashtable"),
        (rdb.TYPE_SET, b"\x02\x02-0\xc0\x01", b"hashtable"),
        (rdb.TYPE_SET, b"\x02\xc0\x05\xc0\x01", b"intset"),
        (
            rdb.TYPE_ZSET_LISTPACK,
            encode_string(listpack.encode([b"m" * 100, b"1"])),
            b"listpack",
        ),
        (rdb.TYPE_ZSET_2, b"\x01" + encode_string(b"m" * 65) + struct.pack("<d", 1), b"skiplist"),
        (rdb.TYPE_ZSET_2, b"\x01" + encode_string(b"m" * 64) + struct.pack("<d", 1), b"listpack"),
    ],
)
def test_encoding_after_load(rdb_type, body, encoding):
    assert decode_value(rdb_type, body).encoding == encoding


def test_thresholds_argument_is_honoured():
    body = hash_listpack_body(10)
    assert decode_value(rdb.TYPE_HASH_LISTPACK, body).encoding == b"listpack"
    assert decode_value(rdb.TYPE_HASH_LISTPACK, body, Thresholds(hash_max_listpack_entries=9)).encoding == b"hashtable"
    zl = encode_string(listpack.encode([b"%d" % i for i in range(20)]))
    assert decode_value(rdb.TYPE_ZSET_LISTPACK, zl).encoding == b"listpack"
    assert decode_value(rdb.TYPE_ZSET_LISTPACK, zl, TINY).encoding == b"skiplist"


# ---------------------------------------------------------------------------
# Legacy types Redis 7.0 still loads
# ---------------------------------------------------------------------------


def test_plain_list():
    got = decode_value(rdb.TYPE_LIST, b"\x03\x01a\xc0\x0c" + encode_string(b"z" * 100))
    assert list(got) == [b"a", b"12", b"z" * 100]
    assert got.encoding == b"quicklist"


def test_list_ziplist():
    items = [b"a", b"12", b"-7", b"x" * 300]
    got = decode_value(rdb.TYPE_LIST_ZIPLIST, encode_string(ziplist.encode(items)))
    assert list(got) == items and got.encoding == b"quicklist"


def test_quicklist_of_ziplists_skips_empty_nodes():
    nodes = [ziplist.encode([b"a", b"b"]), ziplist.encode([]), ziplist.encode([b"c"])]
    body = encode_length(3) + b"".join(encode_string(n) for n in nodes)
    assert list(decode_value(rdb.TYPE_LIST_QUICKLIST, body)) == [b"a", b"b", b"c"]


def test_quicklist_2_plain_and_compressed_nodes():
    lp = listpack.encode([b"abc" * 30, b"1"])
    packed = lzf.compress(lp)
    assert packed is not None
    lzf_node = b"\xc3" + encode_length(len(packed)) + encode_length(len(lp)) + packed
    body = (
        encode_length(3)
        + encode_length(rdb.QUICKLIST_PLAIN) + encode_string(b"P" * 5000)
        + encode_length(rdb.QUICKLIST_PACKED) + lzf_node
        + encode_length(rdb.QUICKLIST_PACKED) + encode_string(listpack.encode([]))
    )
    assert list(decode_value(rdb.TYPE_LIST_QUICKLIST_2, body)) == [b"P" * 5000, b"abc" * 30, b"1"]


@pytest.mark.parametrize(
    "body",
    [
        encode_length(1) + encode_length(3) + encode_string(b"x"),  # bad container
        encode_length(1) + encode_length(rdb.QUICKLIST_PACKED) + encode_string(b""),  # empty node
        encode_length(1) + encode_length(rdb.QUICKLIST_PLAIN) + encode_string(b""),
        encode_length(1) + encode_length(rdb.QUICKLIST_PACKED) + encode_string(b"junk"),
    ],
)
def test_bad_quicklist_2(body):
    with pytest.raises(BadDataFormat):
        decode_value(rdb.TYPE_LIST_QUICKLIST_2, body)


def test_old_zset_with_text_scores():
    body = b"\x03" + b"\x01a\x031.5" + b"\x01b\xfe" + b"\x01c\xff"
    z = decode_value(rdb.TYPE_ZSET, body)
    assert [(m, s) for s, m in z.sl] == [(b"c", -math.inf), (b"a", 1.5), (b"b", math.inf)]
    assert z.encoding == b"listpack"


def test_zset_ziplist_and_hash_ziplist_and_zipmap():
    z = decode_value(rdb.TYPE_ZSET_ZIPLIST, encode_string(ziplist.encode([b"b", b"1.25", b"a", b"2"])))
    assert z.dict == {b"a": 2.0, b"b": 1.25} and z.encoding == b"listpack"
    h = decode_value(rdb.TYPE_HASH_ZIPLIST, encode_string(ziplist.encode([b"f", b"1", b"g", b"x"])))
    assert h == {b"f": b"1", b"g": b"x"} and h.encoding == b"listpack"
    h = decode_value(rdb.TYPE_HASH_ZIPMAP, encode_string(zipmap.encode([(b"f", b"v"), (b"g", b"w")], free=2)))
    assert h == {b"f": b"v", b"g": b"w"} and h.encoding == b"listpack"


@pytest.mark.parametrize(
    "rdb_type, body",
    [
        (rdb.TYPE_HASH_LISTPACK, encode_string(listpack.encode([b"a", b"1", b"a", b"2"]))),
        (rdb.TYPE_HASH_LISTPACK, encode_string(listpack.encode([b"a", b"1", b"b"]))),
        (rdb.TYPE_HASH, b"\x02\x01a\x01x\x01a\x01y"),
        (rdb.TYPE_SET, b"\x02\x01a\x01a"),
        (rdb.TYPE_ZSET_2, b"\x02\x01a" + struct.pack("<d", 1) + b"\x01a" + struct.pack("<d", 2)),
        (rdb.TYPE_ZSET_2, b"\x01\x01a" + struct.pack("<d", math.nan)),
        (rdb.TYPE_ZSET_LISTPACK, encode_string(listpack.encode([b"a", b"notanumber"]))),
        (rdb.TYPE_ZSET_LISTPACK, encode_string(listpack.encode([b"a", b"nan"]))),
        (rdb.TYPE_ZSET_LISTPACK, encode_string(listpack.encode([b"b", b"2", b"a", b"1"]))),  # out of order
        (rdb.TYPE_ZSET_LISTPACK, encode_string(listpack.encode([b"b", b"1", b"a", b"1"]))),  # ties by member
        (rdb.TYPE_ZSET_ZIPLIST, encode_string(ziplist.encode([b"b", b"2", b"a", b"1"]))),
        (rdb.TYPE_SET_INTSET, encode_string(struct.pack("<II", 2, 0))),
        (rdb.TYPE_HASH_ZIPMAP, encode_string(b"\x00\xff")),
        (42, b""),
    ],
)
def test_malformed_values(rdb_type, body):
    with pytest.raises(BadDataFormat) as info:
        decode_value(rdb_type, body)
    assert not isinstance(info.value, EmptyKeyError)


@pytest.mark.parametrize(
    "rdb_type, body",
    [
        (rdb.TYPE_LIST, b"\x00"),
        (rdb.TYPE_SET, b"\x00"),
        (rdb.TYPE_HASH, b"\x00"),
        (rdb.TYPE_ZSET_2, b"\x00"),
        (rdb.TYPE_HASH_LISTPACK, encode_string(listpack.encode([]))),
        (rdb.TYPE_ZSET_LISTPACK, encode_string(listpack.encode([]))),
        (rdb.TYPE_LIST_ZIPLIST, encode_string(ziplist.encode([]))),
        (rdb.TYPE_LIST_QUICKLIST_2, b"\x00"),
    ],
)
def test_empty_values(rdb_type, body):
    with pytest.raises(EmptyKeyError):
        decode_value(rdb_type, body)


@pytest.mark.parametrize("rdb_type", [rdb.TYPE_STREAM_LISTPACKS, rdb.TYPE_STREAM_LISTPACKS_2, 6, 7])
def test_streams_and_modules_are_unsupported(rdb_type):
    with pytest.raises(UnsupportedTypeError, match="not supported"):
        decode_value(rdb_type, b"\x00")


# ---------------------------------------------------------------------------
# DUMP payloads
# ---------------------------------------------------------------------------


def test_dump_payload_layout():
    data = dump_value(b"hello")
    assert data[:7] == b"\x00\x05hello"
    assert data[7:9] == b"\x0a\x00"
    assert data[9:] == crc64(0, data[:9]).to_bytes(8, "little")
    assert verify_dump_payload(data) == 10


def test_documented_redis_2_6_payload_loads():
    # From the DUMP documentation: RDB version 6, older versions are accepted.
    data = b"\x00\x15hello, dumping world!\x06\x00E\xa0Z\x82\xd8r\xc1\xde"
    assert verify_dump_payload(data) == 6
    assert load_dump_payload(data) == b"hello, dumping world!"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x03abc",
        b"hello moto moto blah blah",  # the documentation's example of garbage
        payload(0, b"\x01a", version=11),  # newer than Redis 7.0
        payload(0, b"\x01a")[:-1] + b"\x00",  # checksum off by one byte
    ],
)
def test_bad_footer(data):
    with pytest.raises(DumpPayloadError, match="DUMP payload version or checksum are wrong"):
        load_dump_payload(data)


def test_checksum_check_can_be_skipped():
    data = payload(0, b"\x01a")[:-8] + b"\x00" * 8
    with pytest.raises(DumpPayloadError):
        load_dump_payload(data)
    assert load_dump_payload(data, verify_checksum=False) == b"a"


def test_bad_body():
    with pytest.raises(BadDataFormat):
        load_dump_payload(payload(0xFF, b""))  # an opcode, not a value type
    with pytest.raises(BadDataFormat):
        load_dump_payload(payload(rdb.TYPE_SET, b"\x01"))
    with pytest.raises(EmptyKeyError):
        load_dump_payload(payload(rdb.TYPE_HASH, b"\x00"))
    with pytest.raises(UnsupportedTypeError):
        load_dump_payload(payload(rdb.TYPE_STREAM_LISTPACKS_2, b"\x00"))


def test_short_body_reads_into_the_footer_like_redis():
    # Redis's RESTORE loads from the whole argument, so a string that claims
    # two bytes more than the body holds takes them from the version field.
    data = payload(0, b"\x03a")
    assert load_dump_payload(data) == b"a\x0a\x00"


# ---------------------------------------------------------------------------
# Fuzzing: malformed input raises only the RdbError family, fast, small
# ---------------------------------------------------------------------------


def seed_payloads() -> list[bytes]:
    seeds = [
        dump_value(b"x"),
        dump_value(b"12345"),
        dump_value(b"abc" * 40),
        dump_value(make_hash({b"a": b"1", b"b": b"22"}, b"listpack")),
        dump_value(make_hash({b"a": b"1", b"b": b"x" * 70}, b"hashtable")),
        dump_value(make_set({b"1", b"-300", b"70000"}, b"intset")),
        dump_value(make_set({b"a", b"b"}, b"hashtable")),
        dump_value(make_zset({b"a": 1.5, b"b": -2.0}, b"listpack")),
        dump_value(make_zset({b"a": 1.5, b"b": math.inf}, b"skiplist")),
        dump_value(List([b"a", b"1", b"x" * 30])),
        payload(rdb.TYPE_LIST, b"\x02\x01a\x01b"),
        payload(rdb.TYPE_ZSET, b"\x01\x01a\x031.5"),
        payload(rdb.TYPE_HASH_ZIPMAP, encode_string(zipmap.encode([(b"f", b"v")]))),
        payload(rdb.TYPE_LIST_ZIPLIST, encode_string(ziplist.encode([b"a", b"7"]))),
        payload(rdb.TYPE_ZSET_ZIPLIST, encode_string(ziplist.encode([b"a", b"7"]))),
        payload(rdb.TYPE_HASH_ZIPLIST, encode_string(ziplist.encode([b"a", b"7"]))),
        payload(rdb.TYPE_LIST_QUICKLIST, b"\x01" + encode_string(ziplist.encode([b"a"]))),
    ]
    return seeds


SEEDS = seed_payloads()


def reframe(body: bytes) -> bytes:
    head = body + b"\x0a\x00"
    return head + crc64(0, head).to_bytes(8, "little")


fuzz_settings = settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@fuzz_settings
@given(st.binary(max_size=400))
def test_fuzz_random_payloads(data):
    try:
        load_dump_payload(data)
    except RdbError:
        pass


@fuzz_settings
@given(st.integers(0, 255), st.binary(max_size=400))
def test_fuzz_random_bodies_with_valid_footer(rdb_type, body):
    try:
        load_dump_payload(reframe(bytes((rdb_type,)) + body))
    except RdbError:
        pass


@st.composite
def mutated_payloads(draw):
    seed = bytearray(draw(st.sampled_from(SEEDS))[:-10])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "drop"]))
        pos = draw(st.integers(0, max(len(seed) - 1, 0)))
        if op == "flip" and seed:
            seed[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and seed:
            seed[pos] = draw(st.sampled_from([0x00, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xC0, 0xC3, 0xFE, 0xFF]))
        elif op == "cut":
            del seed[pos:]
        elif op == "insert":
            seed[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "drop" and seed:
            del seed[pos]
    return reframe(bytes(seed))


@fuzz_settings
@given(mutated_payloads())
def test_fuzz_mutated_payloads(data):
    try:
        value = load_dump_payload(data)
    except RdbError:
        return
    # Whatever decodes must serialize again.
    if not (isinstance(value, (Hash, Set, List)) and not value):
        dump_value(value)


@pytest.mark.parametrize(
    "body",
    [
        bytes((rdb.TYPE_LIST,)) + b"\x81" + b"\xff" * 8 + b"\x01a",  # 2^64-1 elements claimed
        bytes((rdb.TYPE_STRING,)) + b"\x81" + b"\x7f" + b"\xff" * 7,  # a 2^63-byte string
        bytes((rdb.TYPE_STRING,)) + b"\xc3\x02\x81\x00\x00\x01\x00\x00\x00\x00\x00\x00a",  # LZF to 1 TB
        bytes((rdb.TYPE_SET_INTSET,)) + encode_string(struct.pack("<II", 8, 0xFFFFFFFF)),
        bytes((rdb.TYPE_HASH_LISTPACK,)) + encode_string(struct.pack("<IH", 11, 0xFFFF) + b"\xf0\xff\xff\xff\x7f\xff"),
        bytes((rdb.TYPE_LIST_QUICKLIST_2,)) + b"\x80\xff\xff\xff\xff" + b"\x02\x01a",
    ],
)
def test_huge_claims_cost_nothing(body):
    data = reframe(body)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(BadDataFormat):
            load_dump_payload(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1.0
    assert peak < 1 << 20


# ---------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------


def test_writer_layout():
    w = RdbWriter()
    head = w.header([(b"redis-ver", b"7.0.15"), (b"redis-bits", b"64")])
    assert head == b"REDIS0010" + b"\xfa\x09redis-ver\x067.0.15" + b"\xfa\x0aredis-bits\xc0\x40"
    sel = w.select_db(2, 5, 1)
    assert sel == b"\xfe\x02\xfb\x05\x01"
    key = w.key(b"k", b"v", expire_ms=1700000000123, lru_idle=70, lfu_freq=9)
    assert key == (
        b"\xfc" + struct.pack("<q", 1700000000123) + b"\xf8\x40\x46" + b"\xf9\x09" + b"\x00\x01k\x01v"
    )
    fn = w.function(b"#!lua name=lib\n")
    assert fn == b"\xf5\x0f#!lua name=lib\n"
    end = w.eof()
    assert end[:1] == b"\xff"
    assert end[1:] == crc64(0, head + sel + key + fn + b"\xff").to_bytes(8, "little")


def test_writer_without_checksum_writes_zero():
    w = RdbWriter(checksum=False)
    data = w.header([]) + w.key(b"a", b"b") + w.eof()
    assert data.endswith(b"\xff" + b"\x00" * 8)
    events = list(read_rdb(data))
    assert events[-1] == EndOfFile(0, False)


def test_default_aux_fields():
    aux = rdb.default_aux(ctime=1700000000, used_mem=1024)
    assert [k for k, _ in aux] == [b"redis-ver", b"redis-bits", b"ctime", b"used-mem", b"aof-base"]
    assert dict(aux)[b"redis-ver"] == b"7.0.15"
    repl = rdb.default_aux(ctime=1, repl_id="a" * 40, repl_offset=7, repl_stream_db=0)
    assert [k for k, _ in repl] == [
        b"redis-ver", b"redis-bits", b"ctime", b"used-mem", b"repl-stream-db", b"repl-id", b"repl-offset", b"aof-base",
    ]


# ---------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------


def sample_databases():
    return {
        0: [
            (b"str", b"hello", None),
            (b"int", b"-12345", 1900000000000),
            (b"hash", make_hash({b"a": b"1"}, b"listpack"), None),
            (b"zset", make_zset({b"m": 2.0}, b"skiplist"), 1800000000000),
        ],
        3: [
            (b"set", make_set({b"1", b"2"}, b"intset"), None),
            (b"list", List([b"x" * 50] * 400), None),
        ],
        5: [],
    }


def comparable(value):
    """A value in a form == can compare (ZSet has no __eq__), with its encoding."""
    enc = getattr(value, "encoding", None)
    if isinstance(value, ZSet):
        return ("zset", zset_items(value), enc)
    if isinstance(value, List):
        return ("list", list(value), enc)
    return (type(value).__name__, value, enc)


def norm(events):
    return [
        dataclasses.replace(e, value=comparable(e.value)) if isinstance(e, KeyValue) else e for e in events
    ]


def events_of(data: bytes, **kw):
    return list(read_rdb(data, **kw))


def test_write_then_read():
    data = b"".join(write_rdb(sample_databases(), aux=rdb.default_aux(ctime=1700000000)))
    events = events_of(data)
    assert events[:5] == [
        AuxField(b"redis-ver", b"7.0.15"),
        AuxField(b"redis-bits", b"64"),
        AuxField(b"ctime", b"1700000000"),
        AuxField(b"used-mem", b"0"),
        AuxField(b"aof-base", b"0"),
    ]
    assert events[5:7] == [SelectDb(0), ResizeDb(4, 2)]
    keys = [e for e in events if isinstance(e, KeyValue)]
    assert [(k.db, k.key, k.expire_ms) for k in keys] == [
        (0, b"str", None),
        (0, b"int", 1900000000000),
        (0, b"hash", None),
        (0, b"zset", 1800000000000),
        (3, b"set", None),
        (3, b"list", None),
    ]
    assert keys[2].value == {b"a": b"1"} and keys[2].value.encoding == b"listpack"
    assert list(keys[5].value) == [b"x" * 50] * 400
    assert SelectDb(5) not in events  # empty databases are not written
    assert events[-1].verified and events[-1].checksum == int.from_bytes(data[-8:], "little")


def test_writer_streams_in_chunks():
    dbs = {0: [(b"k%d" % i, b"v" * 100, None) for i in range(3000)]}
    chunks = list(write_rdb(dbs, chunk_size=4096))
    assert len(chunks) > 10
    assert all(len(c) < 4096 + 200 for c in chunks)
    assert len([e for e in events_of(b"".join(chunks)) if isinstance(e, KeyValue)]) == 3000


def test_write_rdb_accepts_a_generator_of_keys():
    def gen():
        yield (b"a", b"1", None)
        yield (b"b", b"2", 5)
    events = events_of(b"".join(write_rdb({0: gen()})))
    assert not any(isinstance(e, ResizeDb) for e in events)
    assert [e.key for e in events if isinstance(e, KeyValue)] == [b"a", b"b"]


SAMPLE = b"".join(write_rdb(sample_databases(), aux=rdb.default_aux(ctime=1700000000)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=60))
def test_chunked_feeding_gives_the_same_events(sizes):
    reader = RdbReader()
    events = []
    pos = 0
    i = 0
    while pos < len(SAMPLE):
        n = sizes[i % len(sizes)]
        i += 1
        reader.feed(SAMPLE[pos : pos + n])
        pos += n
        while (event := reader.next_event()) is not None:
            events.append(event)
    reader.feed_eof()
    assert reader.next_event() is None
    assert reader.done
    assert norm(events) == norm(events_of(SAMPLE))


def test_file_objects_are_read_in_chunks():
    assert norm(read_rdb(io.BytesIO(SAMPLE), chunk_size=7)) == norm(events_of(SAMPLE))


def test_every_truncation_is_reported_with_an_offset():
    for cut in range(0, len(SAMPLE) - 1, 97):
        with pytest.raises(RdbCorruptError) as info:
            events_of(SAMPLE[:cut])
        assert 0 <= info.value.offset <= cut
        assert str(info.value).startswith("corrupt at offset %d: " % info.value.offset)


def test_truncated_stream_waits_without_eof():
    reader = RdbReader()
    reader.feed(SAMPLE[: len(SAMPLE) // 2])
    got = []
    while (event := reader.next_event()) is not None:
        got.append(event)
    assert got and not reader.done
    assert norm(got) == norm(events_of(SAMPLE))[: len(got)]


def test_checksum_mismatch():
    bad = bytearray(SAMPLE)
    bad[bad.index(b"hello") + 1] ^= 0x20
    with pytest.raises(RdbCorruptError, match="RDB CRC error"):
        events_of(bytes(bad))
    events = events_of(bytes(bad), verify_checksum=False)
    assert KeyValue(0, b"str", b"hEllo") in events
    assert events[-1].verified is False


def test_zero_checksum_means_none():
    data = SAMPLE[:-8] + b"\x00" * 8
    assert events_of(data)[-1] == EndOfFile(0, False)


@pytest.mark.parametrize(
    "data, offset, match",
    [
        (b"RADIS0010\xff", 0, "wrong signature"),
        (b"REDIS0011\xff" + b"\x00" * 8, 5, "version 11"),
        (b"REDIS0000\xff", 5, "version 0"),
        (b"REDIS0010\x08", 9, "unknown RDB type 8"),
        (b"REDIS0010\xf6\x00", 9, "pre-release function"),
        (b"REDIS0010\x00\x01k\xc5", 12, "unknown string encoding"),
    ],
)
def test_corruption_offsets(data, offset, match):
    with pytest.raises(RdbCorruptError, match=match) as info:
        events_of(data)
    assert info.value.offset == offset


def test_old_versions_and_old_expire_opcode():
    # RDB version 3: no checksum after EOF, expire in seconds.
    data = b"REDIS0003" + b"\xfe\x00" + b"\xfd" + struct.pack("<i", 1700000000) + b"\x00\x01k\x01v" + b"\xff"
    events = events_of(data)
    assert events == [SelectDb(0), KeyValue(0, b"k", b"v", 1700000000000), EndOfFile(0, False)]


def test_max_version_option():
    data = b"REDIS0009\xff" + b"\x00" * 8
    assert events_of(data) == [EndOfFile(0, False)]
    with pytest.raises(RdbCorruptError):
        events_of(data, max_version=8)


def rdb_file(*records: bytes) -> bytes:
    head = b"REDIS0010" + b"".join(records) + b"\xff"
    return head + crc64(0, head).to_bytes(8, "little")


def test_module_aux_function_idle_and_freq():
    module_aux = (
        b"\xf7" + encode_length(0x1234567890) + encode_length(rdb.MODULE_OPCODE_UINT) + encode_length(2)
        + encode_length(rdb.MODULE_OPCODE_UINT) + encode_length(77)
        + encode_length(rdb.MODULE_OPCODE_SINT) + encode_length(5)
        + encode_length(rdb.MODULE_OPCODE_STRING) + encode_string(b"module data")
        + encode_length(rdb.MODULE_OPCODE_FLOAT) + struct.pack("<f", 1.5)
        + encode_length(rdb.MODULE_OPCODE_DOUBLE) + struct.pack("<d", 2.5)
        + encode_length(rdb.MODULE_OPCODE_EOF)
    )
    data = rdb_file(
        module_aux,
        b"\xf5" + encode_string(b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)"),
        b"\xfe\x01",
        b"\xf8" + encode_length(300) + b"\xf9\x05" + b"\x00\x01k\x01v",
        b"\x00\x01j\x01w",
    )
    assert events_of(data) == [
        ModuleAux(0x1234567890, 2),
        FunctionLibrary(b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)"),
        SelectDb(1),
        KeyValue(1, b"k", b"v", None, 300, 5),
        KeyValue(1, b"j", b"w"),
        EndOfFile(int.from_bytes(data[-8:], "little"), True),
    ]


def test_bad_module_aux():
    data = rdb_file(b"\xf7\x01\x01\x02\x00")
    with pytest.raises(RdbCorruptError, match="when_opcode"):
        events_of(data)
    data = rdb_file(b"\xf7\x01\x02\x02\x09\x00")
    with pytest.raises(RdbCorruptError, match="module opcode 9"):
        events_of(data)


def test_empty_keys_are_skipped_with_their_expire():
    data = rdb_file(
        b"\xfc" + struct.pack("<q", 99) + bytes((rdb.TYPE_HASH_LISTPACK,)) + b"\x01e" + encode_string(listpack.encode([])),
        b"\x00\x01k\x01v",
    )
    assert [e for e in events_of(data) if isinstance(e, KeyValue)] == [KeyValue(0, b"k", b"v")]


def test_streams_in_files_are_reported_as_unsupported():
    data = rdb_file(b"\x00\x01k\x01v", bytes((rdb.TYPE_STREAM_LISTPACKS_2,)) + b"\x01s\x00")
    reader = RdbReader()
    reader.feed(data)
    reader.feed_eof()
    assert isinstance(reader.next_event(), KeyValue)
    with pytest.raises(RdbUnsupportedError, match="streams") as info:
        reader.next_event()
    assert isinstance(info.value, RdbCorruptError) and isinstance(info.value, UnsupportedTypeError)
    assert info.value.offset == 9 + 5 + 3


def test_bytes_after_the_checksum_are_left_over():
    mark = b"0123456789" * 4  # what diskless replication appends
    reader = RdbReader()
    reader.feed(SAMPLE + mark)
    events = []
    while (event := reader.next_event()) is not None:
        events.append(event)
    assert reader.done and isinstance(events[-1], EndOfFile)
    assert reader.unconsumed() == mark
    assert reader.offset == len(SAMPLE)


def test_file_reading_stops_at_the_end_of_the_rdb():
    stream = io.BytesIO(SAMPLE + b"trailing")
    assert norm(read_rdb(stream, chunk_size=len(SAMPLE))) == norm(events_of(SAMPLE))
    assert stream.read() == b"trailing"


def test_each_record_is_parsed_once_however_it_is_chunked():
    big = List([b"%07d" % i for i in range(100000)])
    big.encoding = b"quicklist"
    data = b"".join(write_rdb({0: [(b"big", big, None)]}, compress=False))
    attempts = 0

    class Counting(RdbReader):
        def _parse_record(self, cur):
            nonlocal attempts
            attempts += 1
            return super()._parse_record(cur)

    reader = Counting()
    got = []
    for pos in range(0, len(data), 1000):
        reader.feed(data[pos : pos + 1000])
        while (event := reader.next_event()) is not None:
            got.append(event)
    assert reader.done
    assert list(got[-2].value) == list(big)
    records = len(got) + 1  # + the header
    assert attempts == records


def test_feed_after_eof_is_an_error():
    reader = RdbReader()
    reader.feed_eof()
    with pytest.raises(RuntimeError):
        reader.feed(b"x")


@fuzz_settings
@given(st.binary(max_size=300))
def test_fuzz_reader_random_bodies(body):
    try:
        events_of(b"REDIS0010" + body, verify_checksum=False)
    except RdbError:
        pass


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_reader_mutated_files(data):
    raw = bytearray(SAMPLE)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(9, len(raw) - 1))
        if data.draw(st.booleans()):
            raw[pos] = data.draw(st.integers(0, 255))
        else:
            del raw[pos : pos + data.draw(st.integers(1, 20))]
    try:
        events_of(bytes(raw), verify_checksum=False)
    except RdbError:
        pass
