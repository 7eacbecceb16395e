"""Listpack: the compact sequence Redis 7 uses for small hashes and sorted sets
and for every quicklist node, and that RDB stores as one opaque string.

Layout (all little-endian)::

    <total-bytes u32> <num-elements u16> <entry> ... <0xFF>
    entry = <encoding+data> <backlen>

Encodings, chosen by the first byte:

    0xxxxxxx                 7-bit unsigned int 0..127
    10xxxxxx                 string, 6-bit length, then the bytes
    110xxxxx yyyyyyyy        13-bit signed int (two's complement)
    1110xxxx yyyyyyyy        string, 12-bit length, then the bytes
    11110000 <u32 len>       string, 32-bit length, then the bytes
    11110001 / 0010 / 0011 / 0100   16 / 24 / 32 / 64-bit signed int
    11111111                 end of listpack

``backlen`` is the size of ``<encoding+data>`` written so that it can be read
right to left: 7 bits per byte, most significant group first, every byte but
the first with the high bit set.  ``num-elements`` saturates at 65535
("unknown, count by walking").

Like Redis's ``lpAppend`` the encoder stores a string as an integer when it is
the canonical decimal form of an int64 (no sign but '-', no leading zeros, no
"-0"), so a listpack we build is byte-for-byte what Redis would build from
the same sequence of appends.  The decoder validates everything it walks over
(bounds, backlen, terminator, count) and raises ``ListpackError`` rather than
trusting any length it reads.
"""

from __future__ import annotations

import struct

__all__ = [
    "ListpackError",
    "encode",
    "decode",
    "entry_size",
    "encode_entry",
    "from_entries",
    "string_to_int64",
    "HEADER_SIZE",
    "NUMELE_UNKNOWN",
]

HEADER_SIZE = 6  # u32 total bytes + u16 element count
NUMELE_UNKNOWN = 0xFFFF
EOF = 0xFF
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

_U32 = struct.Struct("<I")
_HDR = struct.Struct("<IH")


class ListpackError(ValueError):
    """The listpack blob is malformed."""


def string_to_int64(s) -> int | None:
    """The int64 that ``s`` spells canonically, else None (Redis's string2ll).

    Accepts exactly the strings that print back identically: "0", "-12",
    "9223372036854775807"; rejects "", "+1", " 1", "01", "-0", "1.0" and
    anything out of the int64 range.
    """
    n = len(s)
    if n == 0 or n > 20:
        return None
    first = s[0]
    if first == 0x2D:  # '-'
        if n == 1:
            return None
        lead = s[1]
        digits = s[1:]
    else:
        lead = first
        digits = s
    if not 0x31 <= lead <= 0x39:  # must start with 1-9, except "0" itself
        return 0 if n == 1 and first == 0x30 else None
    if not digits.isdigit():
        return None
    value = int(s)
    if INT64_MIN <= value <= INT64_MAX:
        return value
    return None


def _backlen(size: int) -> bytes:
    if size <= 127:
        return bytes((size,))
    if size < 16383:
        return bytes((size >> 7, (size & 127) | 128))
    if size < 2097151:
        return bytes((size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128))
    if size < 268435455:
        return bytes(
            (size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128, (size & 127) | 128)
        )
    return bytes(
        (
            size >> 28,
            ((size >> 21) & 127) | 128,
            ((size >> 14) & 127) | 128,
            ((size >> 7) & 127) | 128,
            (size & 127) | 128,
        )
    )


def _encode_int(v: int) -> bytes:
    if 0 <= v <= 127:
        return bytes((v,))
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes(((u >> 8) | 0xC0, u & 0xFF))
    if -32768 <= v <= 32767:
        return b"\xf1" + (v & 0xFFFF).to_bytes(2, "little")
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little")
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + (v & 0xFFFFFFFF).to_bytes(4, "little")
    return b"\xf4" + (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")


def _encode_str(s: bytes) -> bytes:
    n = len(s)
    if n < 64:
        return bytes((0x80 | n,)) + s
    if n < 4096:
        return bytes(((n >> 8) | 0xE0, n & 0xFF)) + s
    return b"\xf0" + _U32.pack(n) + s


def encode_entry(item) -> bytes:
    """One encoded entry (encoding, data, backlen) for ``item``."""
    if isinstance(item, int):
        if not INT64_MIN <= item <= INT64_MAX:
            raise ValueError("listpack integer out of int64 range")
        body = _encode_int(item)
    else:
        v = string_to_int64(item) if len(item) <= 20 else None
        body = _encode_int(v) if v is not None else _encode_str(bytes(item))
    return body + _backlen(len(body))


def entry_size(item) -> int:
    """Bytes ``item`` takes inside a listpack (encoding, data and backlen)."""
    return len(encode_entry(item))


def from_entries(entries: list) -> bytes:
    """A listpack from entries already made by ``encode_entry``."""
    body = b"".join(entries)
    total = HEADER_SIZE + len(body) + 1
    if total > 0xFFFFFFFF:
        raise ValueError("listpack too large")
    count = len(entries)
    return _HDR.pack(total, count if count < NUMELE_UNKNOWN else NUMELE_UNKNOWN) + body + b"\xff"


def encode(items) -> bytes:
    """A listpack holding ``items`` (bytes-like or int) in order."""
    return from_entries([encode_entry(item) for item in items])


def _signed(u: int, bits: int) -> int:
    return u - (1 << bits) if u >> (bits - 1) else u


def decode(blob) -> list[bytes]:
    """The elements of a listpack, integers rendered as decimal bytes."""
    data = bytes(blob)
    size = len(data)
    if size < HEADER_SIZE + 1:
        raise ListpackError("listpack shorter than its header")
    total, count = _HDR.unpack_from(data, 0)
    if total != size:
        raise ListpackError("listpack total bytes mismatch")
    if data[-1] != EOF:
        raise ListpackError("listpack not terminated")
    end = size - 1
    out: list[bytes] = []
    append = out.append
    p = HEADER_SIZE
    while p < end:
        b = data[p]
        if b < 0x80:
            value = b"%d" % b
            body = 1
        elif b < 0xC0:
            body = 1 + (b & 0x3F)
            if p + body > end:
                raise ListpackError("listpack string past end")
            value = data[p + 1 : p + body]
        elif b < 0xE0:
            body = 2
            if p + 2 > end:
                raise ListpackError("listpack int past end")
            value = b"%d" % _signed(((b & 0x1F) << 8) | data[p + 1], 13)
        elif b < 0xF0:
            if p + 2 > end:
                raise ListpackError("listpack string past end")
            body = 2 + (((b & 0x0F) << 8) | data[p + 1])
            if p + body > end:
                raise ListpackError("listpack string past end")
            value = data[p + 2 : p + body]
        elif b == 0xF0:
            if p + 5 > end:
                raise ListpackError("listpack string past end")
            body = 5 + _U32.unpack_from(data, p + 1)[0]
            if p + body > end:
                raise ListpackError("listpack string past end")
            value = data[p + 5 : p + body]
        elif 0xF1 <= b <= 0xF4:
            width = (2, 3, 4, 8)[b - 0xF1]
            body = 1 + width
            if p + body > end:
                raise ListpackError("listpack int past end")
            raw = int.from_bytes(data[p + 1 : p + body], "little")
            value = b"%d" % _signed(raw, width * 8)
        else:
            raise ListpackError("listpack bad entry encoding")
        back = _backlen(body)
        q = p + body
        if data[q : q + len(back)] != back:
            raise ListpackError("listpack backlen mismatch")
        p = q + len(back)
        append(value)
    if p != end:
        raise ListpackError("listpack entry overruns terminator")
    if count != NUMELE_UNKNOWN and count != len(out):
        raise ListpackError("listpack element count mismatch")
    return out
