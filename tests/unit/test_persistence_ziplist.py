"""Ziplist (Redis <= 6.2 compact lists): layouts from ziplist.c, round trips
through our encoder, and validation of malformed blobs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardis.persistence import ziplist
from shardis.persistence.ziplist import ZiplistError


def test_known_layout():
    # A ziplist of "2" and "5" as ziplist.c documents it:
    # [0f 00 00 00] [0c 00 00 00] [02 00] [00 f3] [02 f6] [ff]
    blob = bytes.fromhex("0f0000000c0000000200" "00f3" "02f6" "ff")
    assert ziplist.decode(blob) == [b"2", b"5"]
    assert ziplist.encode([b"2", b"5"]) == blob


@pytest.mark.parametrize(
    "item, body",
    [
        (b"12", b"\xfd"),
        (b"13", b"\xfe\x0d"),
        (b"-128", b"\xfe\x80"),
        (b"300", b"\xc0\x2c\x01"),
        (b"100000", b"\xf0\xa0\x86\x01"),
        (b"-100000000", b"\xd0\x00\x1f\x0a\xfa"),
        (b"%d" % 2**40, b"\xe0" + (2**40).to_bytes(8, "little")),
        (b"hello", b"\x05hello"),
        (b"x" * 100, b"\x40\x64" + b"x" * 100),
        (b"x" * 20000, b"\x80\x00\x00\x4e\x20" + b"x" * 20000),
    ],
)
def test_entry_encodings(item, body):
    blob = ziplist.encode([item])
    assert blob[11:-1] == body
    assert ziplist.decode(blob) == [item]


@given(st.lists(st.one_of(st.binary(max_size=300), st.integers(-(2**63), 2**63 - 1).map(lambda v: b"%d" % v)), max_size=40))
def test_round_trip(items):
    assert ziplist.decode(ziplist.encode(items)) == items


def test_large_prevlen():
    items = [b"a" * 300, b"b", b"c" * 70000, b"d"]
    assert ziplist.decode(ziplist.encode(items)) == items


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:-1],  # total bytes mismatch
        lambda b: b[:-1] + b"\x00",  # no terminator
        lambda b: b[:4] + struct.pack("<I", 99) + b[8:],  # tail offset out of range
        lambda b: b[:4] + struct.pack("<I", 10) + b[8:],  # tail offset wrong
        lambda b: b[:8] + struct.pack("<H", 3) + b[10:],  # wrong count
        lambda b: b[:11] + b"\x3f" + b[12:],  # string length past end
        lambda b: b[:14] + b"\x07" + b[15:],  # wrong prevlen of second entry
    ],
)
def test_malformed(mutate):
    good = ziplist.encode([b"ab", b"cd"])
    assert ziplist.decode(good) == [b"ab", b"cd"]
    with pytest.raises(ZiplistError):
        ziplist.decode(mutate(good))


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_fuzz_raises_only_ziplist_error(junk):
    blob = struct.pack("<IIH", len(junk) + 11, 10, 0xFFFF) + junk + b"\xff"
    try:
        ziplist.decode(blob)
    except ZiplistError:
        pass
