"""CRC-64 (Jones, reflected) as Redis computes it: known vectors, and the
slicing-by-8 fast path against a plain bit-at-a-time reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shardis.persistence.crc64 import crc64

JONES = 0xAD93D23594C935A9


def reference_crc64(crc: int, data: bytes) -> int:
    """Bit by bit, straight from the definition (reflected in and out)."""
    poly = int("{:064b}".format(JONES)[::-1], 2)
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc


def test_redis_check_value():
    # crc64.c's own test: crc64(0, "123456789") == e9c6d914c4b8d9ca
    assert crc64(0, b"123456789") == 0xE9C6D914C4B8D9CA


def test_empty_input_keeps_the_register():
    assert crc64(0, b"") == 0
    assert crc64(0x1234, b"") == 0x1234


def test_redis_dump_trailer():
    # DUMP of the string "hello, dumping world!" (from the DUMP documentation,
    # RDB version 6): the last 8 bytes are the CRC of everything before.
    payload = b"\x00\x15hello, dumping world!\x06\x00"
    assert crc64(0, payload).to_bytes(8, "little") == b"E\xa0Z\x82\xd8r\xc1\xde"


@settings(max_examples=300)
@given(st.binary(max_size=200), st.integers(0, 2**64 - 1))
def test_matches_bitwise_reference(data, start):
    assert crc64(start, data) == reference_crc64(start, data)


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_incremental_equals_one_shot(a, b):
    assert crc64(crc64(0, a), b) == crc64(0, a + b)


def test_accepts_any_bytes_like():
    data = b"abcdefghijklmnopqrstuvwxyz" * 3
    want = crc64(0, data)
    assert crc64(0, bytearray(data)) == want
    assert crc64(0, memoryview(data)) == want
    assert crc64(0, memoryview(data)[5:]) == crc64(0, data[5:])
