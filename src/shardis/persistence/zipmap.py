"""Zipmap: the small-hash encoding of Redis before 2.6 (RDB type 9).

Redis 7.0 still loads it (converting to a listpack hash), so we decode it too;
the encoder exists for tests.  Layout::

    <zmlen u8> (<len> key <len> <free u8> value <free bytes>)* <0xFF>

``len`` is one byte below 254, else 254 followed by a little-endian u32; a
0xFF where a key length is expected ends the map.  ``zmlen`` is the pair
count while below 254 (254 means "count by walking").  ``free`` trailing
bytes after a value are slack left by in-place updates and are skipped.  As
in Redis's deep validation, an empty zipmap and a wrong count are errors.
"""

from __future__ import annotations

import struct

__all__ = ["ZipmapError", "decode", "encode"]

BIGLEN = 254
END = 255


class ZipmapError(ValueError):
    """The zipmap blob is malformed."""


def _read_len(data: bytes, p: int, end: int) -> tuple[int, int]:
    if p >= end:
        raise ZipmapError("zipmap length past end")
    b = data[p]
    if b < BIGLEN:
        return b, p + 1
    if p + 5 > end:
        raise ZipmapError("zipmap length past end")
    return struct.unpack_from("<I", data, p + 1)[0], p + 5


def decode(blob) -> list[tuple[bytes, bytes]]:
    """The (field, value) pairs of a zipmap, in stored order."""
    data = bytes(blob)
    size = len(data)
    if size < 2 or data[-1] != END:
        raise ZipmapError("zipmap not terminated")
    end = size - 1
    pairs: list[tuple[bytes, bytes]] = []
    p = 1
    while data[p] != END:
        klen, p = _read_len(data, p, end)
        if p + klen > end:
            raise ZipmapError("zipmap key past end")
        key = data[p : p + klen]
        p += klen
        vlen, p = _read_len(data, p, end)
        if p >= end:
            raise ZipmapError("zipmap value past end")
        free = data[p]
        p += 1
        if p + vlen + free > end:
            raise ZipmapError("zipmap value past end")
        pairs.append((key, data[p : p + vlen]))
        p += vlen + free
    if p != end:
        raise ZipmapError("zipmap terminator inside data")
    if not pairs:
        raise ZipmapError("zipmap is empty")
    if data[0] != BIGLEN and data[0] != len(pairs):
        raise ZipmapError("zipmap count mismatch")
    return pairs


def _enc_len(n: int) -> bytes:
    return bytes((n,)) if n < BIGLEN else b"\xfe" + struct.pack("<I", n)


def encode(pairs, free: int = 0) -> bytes:
    """A zipmap of ``pairs``; ``free`` slack bytes are left after each value."""
    out = bytearray()
    count = 0
    for key, value in pairs:
        out += _enc_len(len(key)) + key + _enc_len(len(value)) + bytes((free,)) + value + b"\0" * free
        count += 1
    return bytes((min(count, BIGLEN),)) + bytes(out) + b"\xff"
