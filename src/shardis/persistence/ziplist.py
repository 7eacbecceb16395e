"""Ziplist: the compact sequence of Redis 2.6-6.2, still found in old RDB files.

Redis 7.0 never writes ziplists but loads them (hash, zset and list types 10,
12, 13 and the nodes of quicklist type 14), converting them to listpacks.  We
decode them for the same reason, and keep a small encoder so tests can build
the blobs an older Redis would have produced.

Layout (integers little-endian unless noted)::

    <zlbytes u32> <zltail u32> <zllen u16> <entry> ... <0xFF>
    entry = <prevlen> <encoding> <data>

``prevlen`` is one byte when below 254, else 0xFE and a u32.  Encodings:

    00pppppp                    string, 6-bit length
    01pppppp qqqqqqqq           string, 14-bit length (big-endian)
    10000000 <u32 big-endian>   string, 32-bit length
    11000000 / 11010000 / 11100000   int16 / int32 / int64
    11110000                    int24
    11111110                    int8
    1111xxxx (0001..1101)       immediate 0..12 (xxxx - 1)

``zllen`` saturates at 65535.  The decoder checks every length against the
blob (prevlen included) and raises ``ZiplistError`` on anything off.
"""

from __future__ import annotations

import struct

from .listpack import string_to_int64

__all__ = ["ZiplistError", "decode", "encode"]

_HDR = struct.Struct("<IIH")
HEADER_SIZE = 10
END = 0xFF
BIGLEN = 0xFE


class ZiplistError(ValueError):
    """The ziplist blob is malformed."""


def _signed(u: int, bits: int) -> int:
    return u - (1 << bits) if u >> (bits - 1) else u


def decode(blob) -> list[bytes]:
    """The entries of a ziplist, integers rendered as decimal bytes."""
    data = bytes(blob)
    size = len(data)
    if size < HEADER_SIZE + 1:
        raise ZiplistError("ziplist shorter than its header")
    zlbytes, zltail, zllen = _HDR.unpack_from(data, 0)
    if zlbytes != size:
        raise ZiplistError("ziplist total bytes mismatch")
    if data[-1] != END:
        raise ZiplistError("ziplist not terminated")
    if zltail > size - 1:
        raise ZiplistError("ziplist tail offset out of range")
    end = size - 1
    out: list[bytes] = []
    p = HEADER_SIZE
    prev_size = 0
    last_start = None
    while p < end:
        start = p
        b = data[p]
        if b < BIGLEN:
            stored_prev = b
            p += 1
        else:
            if b != BIGLEN or p + 5 > end:
                raise ZiplistError("ziplist bad prevlen")
            stored_prev = struct.unpack_from("<I", data, p + 1)[0]
            p += 5
        if stored_prev != prev_size:
            raise ZiplistError("ziplist prevlen mismatch")
        if p >= end:
            raise ZiplistError("ziplist entry past end")
        enc = data[p]
        kind = enc >> 6
        if kind == 0:
            length = enc & 0x3F
            p += 1
        elif kind == 1:
            if p + 2 > end:
                raise ZiplistError("ziplist entry past end")
            length = ((enc & 0x3F) << 8) | data[p + 1]
            p += 2
        elif kind == 2:
            if enc != 0x80 or p + 5 > end:
                raise ZiplistError("ziplist bad string encoding")
            length = struct.unpack_from(">I", data, p + 1)[0]
            p += 5
        else:
            length = None
        if length is not None:
            if p + length > end:
                raise ZiplistError("ziplist string past end")
            out.append(data[p : p + length])
            p += length
        else:
            p += 1
            if enc == 0xC0:
                width = 2
            elif enc == 0xD0:
                width = 4
            elif enc == 0xE0:
                width = 8
            elif enc == 0xF0:
                width = 3
            elif enc == 0xFE:
                width = 1
            elif 0xF1 <= enc <= 0xFD:
                width = 0
            else:
                raise ZiplistError("ziplist bad integer encoding")
            if p + width > end:
                raise ZiplistError("ziplist integer past end")
            if width:
                value = _signed(int.from_bytes(data[p : p + width], "little"), width * 8)
            else:
                value = (enc & 0x0F) - 1
            out.append(b"%d" % value)
            p += width
        prev_size = p - start
        last_start = start
    if p != end:
        raise ZiplistError("ziplist entry overruns terminator")
    if zllen != 0xFFFF and zllen != len(out):
        raise ZiplistError("ziplist entry count mismatch")
    expected_tail = last_start if last_start is not None else HEADER_SIZE
    if zltail != expected_tail:
        raise ZiplistError("ziplist tail offset mismatch")
    return out


def _encode_body(item: bytes) -> bytes:
    v = string_to_int64(item) if len(item) <= 32 else None
    if v is not None:
        if 0 <= v <= 12:
            return bytes((0xF1 + v,))
        if -128 <= v <= 127:
            return b"\xfe" + (v & 0xFF).to_bytes(1, "little")
        if -32768 <= v <= 32767:
            return b"\xc0" + (v & 0xFFFF).to_bytes(2, "little")
        if -8388608 <= v <= 8388607:
            return b"\xf0" + (v & 0xFFFFFF).to_bytes(3, "little")
        if -2147483648 <= v <= 2147483647:
            return b"\xd0" + (v & 0xFFFFFFFF).to_bytes(4, "little")
        return b"\xe0" + (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    n = len(item)
    if n <= 0x3F:
        return bytes((n,)) + item
    if n <= 0x3FFF:
        return bytes((0x40 | (n >> 8), n & 0xFF)) + item
    return b"\x80" + struct.pack(">I", n) + item


def encode(items) -> bytes:
    """A ziplist of ``items`` (bytes), integers encoded as Redis 6 would."""
    body = bytearray()
    prev = 0
    tail = HEADER_SIZE
    count = 0
    for item in items:
        tail = HEADER_SIZE + len(body)
        prevlen = bytes((prev,)) if prev < BIGLEN else b"\xfe" + struct.pack("<I", prev)
        entry = prevlen + _encode_body(bytes(item))
        body += entry
        prev = len(entry)
        count += 1
    total = HEADER_SIZE + len(body) + 1
    return _HDR.pack(total, tail, min(count, 0xFFFF)) + bytes(body) + b"\xff"
