"""CRC-64 (Jones, reflected) as Redis computes it: known vectors, and both
implementations -- anycrc's (C) and the pure-Python slicing-by-8 -- against a
plain bit-at-a-time reference and against each other."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardis.persistence.crc64 import ACCELERATED, crc64_py
from shardis.persistence.crc64 import crc64 as crc64_default

IMPLS = pytest.mark.parametrize("crc64", [crc64_default, crc64_py], ids=["crc64", "pure"])

JONES = 0xAD93D23594C935A9


def reference_crc64(crc: int, data: bytes) -> int:
    """Bit by bit, straight from the definition (reflected in and out)."""
    poly = int("{:064b}".format(JONES)[::-1], 2)
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc


@IMPLS
def test_redis_check_value(crc64):
    # crc64.c's own test: crc64(0, "123456789") == e9c6d914c4b8d9ca
    assert crc64(0, b"123456789") == 0xE9C6D914C4B8D9CA


@IMPLS
def test_empty_input_keeps_the_register(crc64):
    assert crc64(0, b"") == 0
    assert crc64(0x1234, b"") == 0x1234


@IMPLS
def test_redis_dump_trailer(crc64):
    # DUMP of the string "hello, dumping world!" (from the DUMP documentation,
    # RDB version 6): the last 8 bytes are the CRC of everything before.
    payload = b"\x00\x15hello, dumping world!\x06\x00"
    assert crc64(0, payload).to_bytes(8, "little") == b"E\xa0Z\x82\xd8r\xc1\xde"


@IMPLS
@settings(max_examples=300)
@given(st.binary(max_size=200), st.integers(0, 2**64 - 1))
def test_matches_bitwise_reference(crc64, data, start):
    assert crc64(start, data) == reference_crc64(start, data)


@IMPLS
@given(st.binary(max_size=100), st.binary(max_size=100))
def test_incremental_equals_one_shot(crc64, a, b):
    assert crc64(crc64(0, a), b) == crc64(0, a + b)


@IMPLS
def test_accepts_any_bytes_like(crc64):
    data = b"abcdefghijklmnopqrstuvwxyz" * 3
    want = crc64(0, data)
    assert crc64(0, bytearray(data)) == want
    assert crc64(0, memoryview(data)) == want
    assert crc64(0, memoryview(data)[5:]) == crc64(0, data[5:])


def test_anycrc_is_used():
    # anycrc is a declared dependency: the checksum of every DUMP, RESTORE,
    # MIGRATE and RDB file runs in C, not in the pure-Python fallback.
    assert ACCELERATED


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 4095, 65536 + 3, 1 << 20])
def test_c_and_pure_python_agree(size):
    data = os.urandom(size)
    for start in (0, 1, 2**64 - 1):
        assert crc64_default(start, data) == crc64_py(start, data)
