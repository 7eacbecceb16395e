"""LZF: our compressor against our decoder, the decoder against hand-built
liblzf streams, and the decoder's refusal of every malformed stream."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardis.persistence import lzf


def test_literal_run_and_back_reference_by_hand():
    # "abcabcabc": literal "abc" (ctrl 2), then a 6-byte reference at distance 3
    # (len code 4 -> ctrl 0x80, offset byte 2).
    stream = bytes([2]) + b"abc" + bytes([4 << 5, 2])
    assert lzf.decompress(stream, 9) == b"abcabcabc"


def test_long_reference_uses_the_extra_length_byte():
    # "a" then a 264-byte overlapping copy of distance 1: len code 262 = 7 + 255.
    stream = bytes([0]) + b"a" + bytes([7 << 5, 255, 0])
    assert lzf.decompress(stream, 265) == b"a" * 265


@pytest.mark.parametrize(
    "stream, size",
    [
        (bytes([5]) + b"abc", 6),  # literal run past the end of input
        (bytes([0]) + b"a" + bytes([1 << 5]), 4),  # reference missing its offset byte
        (bytes([0]) + b"a" + bytes([7 << 5, 3]), 20),  # long reference truncated
        (bytes([1 << 5, 0]), 3),  # reference before the start of output
        (bytes([0]) + b"a" + bytes([1 << 5, 5]), 4),  # distance beyond output
        (bytes([2]) + b"abc", 2),  # output longer than declared
        (bytes([2]) + b"abc", 4),  # output shorter than declared
        (b"", 1),  # nothing to inflate
    ],
)
def test_malformed_streams_are_rejected(stream, size):
    with pytest.raises(lzf.LZFError):
        lzf.decompress(stream, size)


def test_declared_size_beyond_max_expansion_is_rejected_before_work():
    with pytest.raises(lzf.LZFError):
        lzf.decompress(b"\x00a", 10**12)


@settings(max_examples=300)
@given(st.binary(max_size=3000))
def test_round_trip_random(data):
    packed = lzf.compress(data)
    if packed is not None:
        assert len(packed) < len(data)
        assert lzf.decompress(packed, len(data)) == data


@given(
    st.lists(st.sampled_from([b"a", b"ab", b"hello ", b"\x00\x01", b"xyz" * 5]), max_size=400),
    st.binary(max_size=20),
)
def test_round_trip_repetitive(words, noise):
    data = b"".join(words) + noise
    packed = lzf.compress(data)
    if len(data) > 40:
        assert packed is not None
    if packed is not None:
        assert lzf.decompress(packed, len(data)) == data


def test_long_runs_and_far_references():
    rnd = random.Random(7)
    block = bytes(rnd.getrandbits(8) for _ in range(5000))
    # A repeat 5000 bytes back is reachable (< 8192)...
    for data in (b"z" * 100000, block + block):
        packed = lzf.compress(data)
        assert packed is not None
        assert lzf.decompress(packed, len(data)) == data
    # ...one 11000 bytes back is not, though deflate's 32 KB window sees it.
    assert lzf.compress(block + os.urandom(6000) + block) is None


def test_incompressible_data_is_declined():
    assert lzf.compress(os.urandom(4096)) is None
    assert lzf.compress(b"abc") is None


def test_max_len_is_honoured():
    data = b"abcd" * 50
    packed = lzf.compress(data)
    assert lzf.compress(data, len(packed)) == packed
    assert lzf.compress(data, len(packed) - 1) is None


@settings(max_examples=500)
@given(st.binary(max_size=300), st.integers(0, 5000))
def test_decompress_fuzz_raises_only_lzferror(data, size):
    try:
        out = lzf.decompress(data, size)
    except lzf.LZFError:
        return
    assert len(out) == size
