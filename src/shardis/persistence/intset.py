"""Intset: the sorted array of integers behind small all-integer sets.

RDB type 11 stores a set as its intset blob verbatim::

    <encoding u32> <length u32> <int> ... <int>     (little-endian)

``encoding`` is the width of every element in bytes (2, 4 or 8), the smallest
that holds them all; elements are signed and strictly ascending.  The decoder
checks the header, the exact size, that the set is not empty and the order
(no duplicates), raising ``IntsetError`` otherwise -- Redis's deep
``intsetValidateIntegrity``.
"""

from __future__ import annotations

import struct

__all__ = ["IntsetError", "decode", "encode", "MAX_ENTRIES_CAP"]

_HDR = struct.Struct("<II")
_FORMATS = {2: "h", 4: "i", 8: "q"}
# An intset's length is a u32; anything claiming more cannot be real.
MAX_ENTRIES_CAP = 0xFFFFFFFF


class IntsetError(ValueError):
    """The intset blob is malformed."""


def _width(lo: int, hi: int) -> int:
    if -32768 <= lo and hi <= 32767:
        return 2
    if -2147483648 <= lo and hi <= 2147483647:
        return 4
    if -(1 << 63) <= lo and hi < (1 << 63):
        return 8
    raise ValueError("intset element out of int64 range")


def encode(values) -> bytes:
    """The intset blob for the integers ``values`` (deduplicated, sorted)."""
    items = sorted(set(values))
    width = _width(items[0], items[-1]) if items else 2
    return _HDR.pack(width, len(items)) + struct.pack("<%d%s" % (len(items), _FORMATS[width]), *items)


def decode(blob) -> list[int]:
    """The elements of an intset blob, ascending."""
    data = bytes(blob)
    if len(data) < _HDR.size:
        raise IntsetError("intset shorter than its header")
    width, count = _HDR.unpack_from(data, 0)
    fmt = _FORMATS.get(width)
    if fmt is None:
        raise IntsetError("intset bad encoding")
    if _HDR.size + count * width != len(data):
        raise IntsetError("intset size mismatch")
    if count == 0:
        raise IntsetError("intset is empty")
    items = list(struct.unpack_from("<%d%s" % (count, fmt), data, _HDR.size))
    prev = items[0]
    for cur in items[1:]:
        if cur <= prev:
            raise IntsetError("intset out of order or duplicated")
        prev = cur
    return items
