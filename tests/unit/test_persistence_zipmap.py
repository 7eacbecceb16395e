"""Zipmap (Redis < 2.6 small hashes): layout, free bytes, big lengths and
validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardis.persistence import zipmap
from shardis.persistence.zipmap import ZipmapError


def test_documented_layout():
    # zipmap.c: "foo" => "bar", "hello" => "world"
    blob = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff"
    assert zipmap.decode(blob) == [(b"foo", b"bar"), (b"hello", b"world")]
    assert zipmap.encode([(b"foo", b"bar"), (b"hello", b"world")]) == blob


def test_free_bytes_are_skipped_and_big_lengths_read():
    pairs = [(b"k" * 300, b"v"), (b"a", b"w" * 500)]
    assert zipmap.decode(zipmap.encode(pairs, free=3)) == pairs


@given(st.lists(st.tuples(st.binary(max_size=300), st.binary(max_size=300)), min_size=1, max_size=20))
def test_round_trip(pairs):
    assert zipmap.decode(zipmap.encode(pairs)) == pairs


def test_count_254_means_walk():
    pairs = [(b"%d" % i, b"x") for i in range(300)]
    blob = zipmap.encode(pairs)
    assert blob[0] == 254
    assert zipmap.decode(blob) == pairs


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x00",
        b"\x00\xff",  # empty
        b"\x02\x03foo\x03\x00bar\xff",  # wrong count
        b"\x01\x03foo\x09\x00bar\xff",  # value past end
        b"\x01\x03foo\x03\x05bar\xff",  # free past end
        b"\x01\xfe\x01\x00\x00",  # big length truncated
        b"\x01\x03foo\x03\x00bar\xff\x00\xff",  # terminator inside data
    ],
)
def test_malformed(blob):
    with pytest.raises(ZipmapError):
        zipmap.decode(blob)
