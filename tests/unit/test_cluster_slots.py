"""Tests for shardis.cluster.slots: key hashing, ranges and the slot bitmap.

Slot values are checked three ways: published values, a bit-by-bit CRC16
written here independently of ``binascii``, and a real redis-server 7.0
answering CLUSTER KEYSLOT for the same keys.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardis.cluster.slots import (
    CLUSTER_SLOTS,
    SLOT_BITMAP_LEN,
    bitmap_clear,
    bitmap_count,
    bitmap_set,
    bitmap_test,
    bitmap_to_ranges,
    bitmap_to_slots,
    empty_bitmap,
    format_ranges,
    key_slot,
    ranges_to_bitmap,
    ranges_to_slots,
    slots_to_bitmap,
    slots_to_ranges,
)


# --- an independent reference -------------------------------------------------


def crc16_xmodem_reference(data: bytes) -> int:
    """CRC16/XMODEM, bit by bit: poly 0x1021, init 0, no reflection, no xorout."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def slot_reference(key: bytes) -> int:
    """The hash tag rule written as a scan, not with find."""
    for i, ch in enumerate(key):
        if ch == ord("{"):
            for j in range(i + 1, len(key)):
                if key[j] == ord("}"):
                    if j > i + 1:
                        key = key[i + 1:j]
                    break
            break
    return crc16_xmodem_reference(key) % CLUSTER_SLOTS


# --- key_slot -------------------------------------------------------------------


def test_crc16_check_value():
    # The catalogue check value of CRC-16/XMODEM over "123456789" is 0x31C3.
    assert crc16_xmodem_reference(b"123456789") == 0x31C3
    assert key_slot(b"123456789") == 0x31C3 % CLUSTER_SLOTS


def test_known_slots():
    assert key_slot(b"foo") == 12182
    assert key_slot(b"somekey") == 11058
    assert key_slot(b"foo{hash_tag}") == 2515
    assert key_slot(b"") == 0


def test_hash_tags():
    assert key_slot(b"{user1000}.following") == key_slot(b"{user1000}.followers")
    assert key_slot(b"{user1000}.following") == key_slot(b"user1000")
    # Empty first tag: the whole key is hashed, the later {bar} is ignored.
    assert key_slot(b"foo{}{bar}") == crc16_xmodem_reference(b"foo{}{bar}") % CLUSTER_SLOTS
    assert key_slot(b"foo{}{bar}") != key_slot(b"bar")
    # The tag runs from the first '{' to the first '}' after it.
    assert key_slot(b"foo{{bar}}zap") == key_slot(b"{bar")
    assert key_slot(b"foo{bar}{zap}") == key_slot(b"bar")
    # No closing brace, or a '}' only before the '{': whole key.
    assert key_slot(b"foo{bar") == crc16_xmodem_reference(b"foo{bar") % CLUSTER_SLOTS
    assert key_slot(b"}foo{bar") == crc16_xmodem_reference(b"}foo{bar") % CLUSTER_SLOTS
    assert key_slot(b"a}b{c}") == key_slot(b"c")


def test_bytearray_keys():
    assert key_slot(bytearray(b"{user1000}.x")) == key_slot(b"user1000")


braces_heavy = st.lists(st.sampled_from([b"{", b"}", b"a", b"b", b"\x00", b"\xff"]), max_size=12).map(
    b"".join
)


@given(st.one_of(st.binary(max_size=64), braces_heavy))
def test_key_slot_matches_reference(key):
    assert key_slot(key) == slot_reference(key)


# --- ranges ---------------------------------------------------------------------


def test_slots_to_ranges():
    assert slots_to_ranges([]) == []
    assert slots_to_ranges({5}) == [(5, 5)]
    assert slots_to_ranges([3, 1, 2, 2, 7, 9, 8, 16383]) == [(1, 3), (7, 9), (16383, 16383)]
    assert slots_to_ranges(range(CLUSTER_SLOTS)) == [(0, 16383)]
    with pytest.raises(ValueError):
        slots_to_ranges([16384])
    with pytest.raises(ValueError):
        slots_to_ranges([-1, 3])


def test_ranges_to_slots():
    assert ranges_to_slots([]) == []
    assert ranges_to_slots([(5, 7), (1, 1), (6, 9)]) == [1, 5, 6, 7, 8, 9]
    with pytest.raises(ValueError):
        ranges_to_slots([(9, 5)])
    with pytest.raises(ValueError):
        ranges_to_slots([(0, 16384)])


def test_format_ranges():
    assert format_ranges([(0, 5460), (7000, 7000)]) == ["0-5460", "7000"]


slot_sets = st.sets(st.integers(0, CLUSTER_SLOTS - 1), max_size=300)


@given(slot_sets)
def test_ranges_round_trip(slots):
    ranges = slots_to_ranges(slots)
    assert ranges_to_slots(ranges) == sorted(slots)
    # Ranges are sorted, disjoint and not adjacent (maximal).
    for (s1, e1), (s2, e2) in zip(ranges, ranges[1:]):
        assert s1 <= e1 < s2 - 1 < e2


# --- bitmap ---------------------------------------------------------------------


def test_bitmap_bit_order_is_lsb_first():
    # Slot i is bit i%8 of byte i//8, as Redis's bitmapTestBit reads it.
    bm = slots_to_bitmap([0])
    assert len(bm) == SLOT_BITMAP_LEN == 2048
    assert bm[0] == 0x01 and not any(bm[1:])
    assert slots_to_bitmap([7])[0] == 0x80
    assert slots_to_bitmap([8])[1] == 0x01
    assert slots_to_bitmap([16383])[2047] == 0x80
    assert slots_to_bitmap([1, 3, 10])[:2] == bytes([0b00001010, 0b00000100])


def test_bitmap_helpers():
    bm = empty_bitmap()
    assert bitmap_to_ranges(bm) == [] and bitmap_count(bm) == 0
    bitmap_set(bm, 0)
    bitmap_set(bm, 1)
    bitmap_set(bm, 16383)
    assert bitmap_test(bm, 1) and not bitmap_test(bm, 2)
    assert bitmap_to_ranges(bm) == [(0, 1), (16383, 16383)]
    bitmap_clear(bm, 0)
    assert bitmap_to_slots(bm) == [1, 16383]
    assert bitmap_count(bm) == 2
    full = ranges_to_bitmap([(0, 16383)])
    assert full == b"\xff" * 2048
    assert bitmap_to_ranges(full) == [(0, 16383)]
    assert bitmap_count(full) == 16384
    with pytest.raises(ValueError):
        bitmap_to_ranges(b"\x00" * 2047)
    with pytest.raises(ValueError):
        bitmap_set(bm, 16384)
    with pytest.raises(ValueError):
        ranges_to_bitmap([(10, 9)])


@given(slot_sets)
def test_bitmap_round_trip(slots):
    bm = slots_to_bitmap(slots)
    assert bitmap_to_slots(bm) == sorted(slots)
    assert bitmap_count(bm) == len(slots)
    assert bitmap_to_ranges(bm) == slots_to_ranges(slots)
    assert ranges_to_bitmap(slots_to_ranges(slots)) == bm
    for slot in list(slots)[:20]:
        assert bitmap_test(bm, slot)


@given(st.binary(min_size=SLOT_BITMAP_LEN, max_size=SLOT_BITMAP_LEN))
def test_arbitrary_bitmap_to_ranges(bm):
    expected = [i for i in range(CLUSTER_SLOTS) if bm[i // 8] >> (i % 8) & 1]
    assert bitmap_to_slots(bm) == expected
    assert slots_to_bitmap(expected) == bm


# --- cross-check with a real redis-server ----------------------------------------

REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server not installed")
def test_key_slot_matches_redis_server(tmp_path):
    redis = pytest.importorskip("redis")
    port, cport = _free_port(), _free_port()
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port", str(port),
            "--cluster-port", str(cport),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--dir", str(tmp_path),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(tmp_path / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        rng = random.Random(1234)
        keys = [
            b"foo", b"", b"{", b"}", b"{}", b"{}{a}", b"foo{}{bar}", b"foo{{bar}}zap",
            b"{user1000}.following", b"{user1000}.followers", b"a}b{c}", b"\x00{\xff}",
        ]
        alphabet = b"{}ab\x00\xff:x"
        for _ in range(500):
            keys.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 10))))
        for _ in range(500):
            keys.append(os.urandom(rng.randint(1, 40)))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("CLUSTER", "KEYSLOT", key)
        answers = pipe.execute()
        mismatches = [(k, a, key_slot(k)) for k, a in zip(keys, answers) if int(a) != key_slot(k)]
        assert mismatches == []
    finally:
        proc.kill()
        proc.wait(timeout=10)
