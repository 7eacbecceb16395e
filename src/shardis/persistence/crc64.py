"""CRC-64 exactly as Redis computes it (the DUMP trailer and the RDB checksum).

Redis uses the "Jones" polynomial 0xad93d23594c935a9 with reflected input and
output, an initial value of 0 and no final xor; ``crc64(0, b"123456789")`` is
0xe9c6d914c4b8d9ca.  Because the register is reflected, the table-driven form
shifts right and uses the bit-reversed polynomial.

Pure Python cannot go fast byte by byte, so the bulk of the input is processed
eight bytes at a time ("slicing-by-8"): eight 256-entry tables, table ``k``
holding the effect of a byte followed by ``k`` zero bytes, let one loop
iteration fold a whole little-endian 64-bit word into the register.  The
eight tables are paired into four 65536-entry ones indexed by 16 bits (the
XOR of two byte tables for every pair of bytes), so a word costs four
lookups instead of eight: what limits pure Python is the number of
operations per word, not the table size.  They are ``array('Q')`` (2 MB,
not the ~11 MB of a list of int objects) and are built on first use (about
15 ms).  Measured on CPython 3.11, min of repeats: 118 bytes (a small DUMP
payload) 8.6 us against 12-20 us with the byte tables, 1 KB 66 us against
106-126 us, 8 KB 0.62 ms against 1.0-1.2 ms.  DUMP, RESTORE and MIGRATE
checksum every key, so small inputs matter most.

That is still 10-20 MB/s, and it made the checksum the largest cost of
moving keys (MIGRATE checksums every key on both nodes) and of saving and
loading RDB files.  So ``crc64`` runs in C through anycrc (its RevEng
catalogue model CRC64-REDIS is this very CRC; several GB/s) whenever anycrc
is importable, which it is wherever its wheels exist.  The pure-Python code
stays as the reference the tests hold anycrc to, and as the fallback.
"""

from __future__ import annotations

import struct
import sys
from array import array

__all__ = ["crc64", "crc64_py", "ACCELERATED", "POLY_REFLECTED"]

try:
    from anycrc import Model as _Model

    _calc = _Model("CRC64-REDIS").calc
except Exception:  # no anycrc (or no wheel for this platform): pure Python below
    _calc = None
ACCELERATED = _calc is not None

# The Jones polynomial 0xad93d23594c935a9, bit-reversed for the right-shifting
# (reflected) register.
POLY_REFLECTED = 0x95AC9329AC4BC9B5


def _build_tables() -> list[list[int]]:
    first = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ POLY_REFLECTED if reg & 1 else reg >> 1
        first.append(reg)
    tables = [first]
    for _ in range(7):
        prev = tables[-1]
        tables.append([(v >> 8) ^ first[v & 0xFF] for v in prev])
    return tables


_TABLES = _build_tables()
_T0 = _TABLES[0]
_WORDS = struct.Struct("<Q")
_WIDE: list = []  # the four 16-bit tables, low bytes of the word first; built on first use


def _pair(lo_table: list[int], hi_table: list[int]) -> array:
    """Entry ``hi << 8 | lo``: the effect of byte ``lo`` then byte ``hi`` (lo_table[lo] ^ hi_table[hi]).

    Each row of 256 entries is one XOR of big integers: the low table packed
    as 256 64-bit lanes, XORed with ``h`` copied into every lane.
    """
    order = sys.byteorder  # array's own byte order
    lanes = int.from_bytes(array("Q", lo_table).tobytes(), order)
    ones = int.from_bytes(array("Q", [1] * 256).tobytes(), order)  # h * ones: h in every lane, no carries
    size = 256 * 8
    out = array("Q")
    for h in hi_table:
        out.frombytes((lanes ^ h * ones).to_bytes(size, order))
    return out


def _wide_tables() -> list:
    if not _WIDE:
        t = _TABLES
        _WIDE.extend((_pair(t[7], t[6]), _pair(t[5], t[4]), _pair(t[3], t[2]), _pair(t[1], t[0])))
    return _WIDE


def crc64(crc: int, data) -> int:
    """Continue the CRC ``crc`` over ``data`` (any bytes-like object)."""
    if _calc is not None:
        return _calc(data, crc)
    return crc64_py(crc, data)


def crc64_py(crc: int, data) -> int:
    """``crc64`` in pure Python (slicing-by-8 over 16-bit tables)."""
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    n = len(view)
    aligned = n & ~7
    if aligned:
        w0, w1, w2, w3 = _WIDE or _wide_tables()
        for (word,) in _WORDS.iter_unpack(view[:aligned]):
            crc ^= word
            crc = w0[crc & 0xFFFF] ^ w1[(crc >> 16) & 0xFFFF] ^ w2[(crc >> 32) & 0xFFFF] ^ w3[crc >> 48]
    t0 = _T0
    for byte in view[aligned:]:
        crc = t0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc
