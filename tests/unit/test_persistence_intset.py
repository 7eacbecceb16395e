"""Intset blobs: widths, order, and the deep validation Redis applies."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardis.persistence import intset
from shardis.persistence.intset import IntsetError


def test_layout_and_width_selection():
    assert intset.encode([3, 1, 2]) == struct.pack("<II3h", 2, 3, 1, 2, 3)
    assert intset.encode([1, 40000]) == struct.pack("<II2i", 4, 2, 1, 40000)
    assert intset.encode([-(2**40), 1]) == struct.pack("<II2q", 8, 2, -(2**40), 1)


@given(st.sets(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=60))
def test_round_trip(values):
    assert intset.decode(intset.encode(values)) == sorted(values)


@pytest.mark.parametrize(
    "blob",
    [
        b"\x02\x00\x00",  # short header
        struct.pack("<II", 3, 1) + b"\x00\x00\x00",  # bad width
        struct.pack("<II", 2, 2) + struct.pack("<h", 1),  # size mismatch
        struct.pack("<II", 2, 0),  # empty
        struct.pack("<II2h", 2, 2, 5, 5),  # duplicate
        struct.pack("<II2h", 2, 2, 5, 4),  # out of order
    ],
)
def test_malformed(blob):
    with pytest.raises(IntsetError):
        intset.decode(blob)


def test_huge_claimed_count_is_rejected_without_allocation():
    with pytest.raises(IntsetError):
        intset.decode(struct.pack("<II", 8, 0xFFFFFFFF) + b"\x00" * 8)
