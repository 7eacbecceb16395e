"""Listpack encoding: byte layouts from listpack.c, integer detection as
lpStringToInt64 does it, round trips, and validation of malformed blobs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardis.persistence import listpack
from shardis.persistence.listpack import ListpackError, string_to_int64


@pytest.mark.parametrize(
    "text, value",
    [
        (b"0", 0),
        (b"1", 1),
        (b"-1", -1),
        (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
    ],
)
def test_canonical_integers(text, value):
    assert string_to_int64(text) == value


@pytest.mark.parametrize(
    "text",
    [b"", b"-", b"+1", b" 1", b"1 ", b"01", b"-0", b"00", b"1.0", b"1e3", b"9223372036854775808",
     b"-9223372036854775809", b"12345678901234567890123", b"\xd9\xa1"],
)
def test_non_canonical_strings(text):
    assert string_to_int64(text) is None


@given(st.integers(-(2**63), 2**63 - 1))
def test_every_int64_prints_back(v):
    assert string_to_int64(b"%d" % v) == v


@pytest.mark.parametrize(
    "item, entry",
    [
        (b"5", b"\x05\x01"),  # 7-bit uint
        (b"127", b"\x7f\x01"),
        (b"-1", b"\xdf\xff\x02"),  # 13-bit: 0x1fff
        (b"4095", b"\xcf\xff\x02"),
        (b"-4096", b"\xd0\x00\x02"),
        (b"4096", b"\xf1\x00\x10\x03"),  # 16-bit
        (b"-32768", b"\xf1\x00\x80\x03"),
        (b"32768", b"\xf2\x00\x80\x00\x04"),  # 24-bit
        (b"8388608", b"\xf3\x00\x00\x80\x00\x05"),  # 32-bit
        (b"2147483648", b"\xf4\x00\x00\x00\x80\x00\x00\x00\x00\x09"),  # 64-bit
        (b"abc", b"\x83abc\x04"),  # 6-bit string
        (b"", b"\x80\x01"),
        (b"x" * 64, b"\xe0\x40" + b"x" * 64 + b"\x42"),  # 12-bit string, backlen 66
        (b"x" * 200, b"\xe0\xc8" + b"x" * 200 + b"\x01\xca"),  # 2-byte backlen (202)
        (b"y" * 4096, b"\xf0\x00\x10\x00\x00" + b"y" * 4096 + b"\x20\x85"),  # 32-bit string
    ],
)
def test_entry_layouts(item, entry):
    assert listpack.encode_entry(item) == entry
    blob = listpack.encode([item])
    assert blob == struct.pack("<IH", 6 + len(entry) + 1, 1) + entry + b"\xff"
    assert listpack.decode(blob) == [item]


def test_empty_listpack():
    assert listpack.encode([]) == b"\x07\x00\x00\x00\x00\x00\xff"
    assert listpack.decode(b"\x07\x00\x00\x00\x00\x00\xff") == []


def test_count_saturates_and_still_decodes():
    items = [b"%d" % (i % 100) for i in range(70000)]
    blob = listpack.encode(items)
    assert struct.unpack_from("<H", blob, 4)[0] == 0xFFFF
    assert listpack.decode(blob) == items


items_strategy = st.lists(
    st.one_of(
        st.binary(max_size=80),
        st.integers(-(2**63), 2**63 - 1).map(lambda v: b"%d" % v),
        st.binary(min_size=4000, max_size=4200),
    ),
    max_size=30,
)


@given(items_strategy)
def test_round_trip(items):
    assert listpack.decode(listpack.encode(items)) == items


def test_decode_accepts_raw_ints_as_input():
    assert listpack.decode(listpack.encode([7, -100000, 2**40])) == [b"7", b"-100000", b"%d" % 2**40]


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x07\x00\x00\x00\x00\x00",  # too short
        b"\x08\x00\x00\x00\x00\x00\xff",  # total bytes mismatch
        b"\x07\x00\x00\x00\x00\x00\x00",  # no terminator
        b"\x09\x00\x00\x00\x01\x00\x05\x02\xff",  # bad backlen
        b"\x09\x00\x00\x00\x02\x00\x05\x01\xff",  # wrong count
        b"\x09\x00\x00\x00\x01\x00\x85\x01\xff",  # string past end
        b"\x09\x00\x00\x00\x01\x00\xf5\x01\xff",  # undefined encoding
        b"\x0a\x00\x00\x00\x01\x00\xf1\x01\x02\xff",  # int past end
    ],
)
def test_malformed(blob):
    with pytest.raises(ListpackError):
        listpack.decode(blob)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_fuzz_raises_only_listpack_error(junk):
    for blob in (junk, struct.pack("<IH", len(junk) + 7, 0xFFFF) + junk + b"\xff"):
        try:
            listpack.decode(blob)
        except ListpackError:
            pass
