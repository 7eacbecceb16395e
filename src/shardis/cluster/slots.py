"""Key to hash slot mapping, slot ranges and the bus's slot bitmap.

Redis Cluster splits the keyspace into 16384 slots. A key's slot is the
CRC16 (XMODEM variant: polynomial 0x1021, initial value 0, no reflection)
of the key, or of its hash tag, modulo 16384. ``binascii.crc_hqx(data, 0)``
is exactly that CRC and runs in C, so ``key_slot`` is one ``find``, at most
one more ``find`` and one C call: it sits on every keyed command's path.

Slot sets travel in two shapes. Replies (CLUSTER NODES, SLOTS, SHARDS) and
commands (ADDSLOTSRANGE, DELSLOTSRANGE) speak in sorted inclusive ranges;
the cluster bus speaks in a 2048-byte bitmap where slot ``i`` is bit
``i % 8`` (least significant first) of byte ``i // 8``. That bit order is
the one of a little-endian integer, so the bitmap converts to and from a
Python ``int`` with ``int.from_bytes(..., "little")`` and range scans use
integer bit tricks instead of a Python loop over 16384 bits.
"""

from __future__ import annotations

from binascii import crc_hqx
from typing import Iterable

__all__ = [
    "CLUSTER_SLOTS",
    "SLOT_MASK",
    "SLOT_BITMAP_LEN",
    "key_slot",
    "slots_to_ranges",
    "ranges_to_slots",
    "format_ranges",
    "empty_bitmap",
    "slots_to_bitmap",
    "ranges_to_bitmap",
    "bitmap_to_slots",
    "bitmap_to_ranges",
    "bitmap_count",
    "bitmap_test",
    "bitmap_set",
    "bitmap_clear",
]

CLUSTER_SLOTS = 16384  # number of hash slots, fixed by the protocol
SLOT_MASK = CLUSTER_SLOTS - 1  # CRC16 & SLOT_MASK == CRC16 % 16384 (a power of two)
SLOT_BITMAP_LEN = CLUSTER_SLOTS // 8  # bytes: one bit per slot, as the bus carries it



def key_slot(key: bytes) -> int:
    """Return the hash slot of ``key`` (bytes or bytearray).

    Hash tag rule: if the key has a ``{`` and a ``}`` somewhere after it,
    and at least one byte between the first ``{`` and the first ``}`` that
    follows it, only those bytes are hashed. Otherwise the whole key is.
    So ``b"foo{}{bar}"`` hashes whole (the first tag is empty) and
    ``b"foo{{bar}}zap"`` hashes ``b"{bar"``.
    """
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return crc_hqx(key[start + 1:end], 0) & SLOT_MASK
    return crc_hqx(key, 0) & SLOT_MASK


def _check_slot(slot: int) -> None:
    if not 0 <= slot < CLUSTER_SLOTS:
        raise ValueError(f"slot {slot} out of range 0..{CLUSTER_SLOTS - 1}")


def slots_to_ranges(slots: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted inclusive ``(start, end)`` ranges covering ``slots``.

    Duplicates are allowed; out-of-range slots raise ``ValueError``.
    """
    ordered = sorted(set(slots))
    if not ordered:
        return []
    _check_slot(ordered[0])
    _check_slot(ordered[-1])
    ranges: list[tuple[int, int]] = []
    start = prev = ordered[0]
    for slot in ordered[1:]:
        if slot != prev + 1:
            ranges.append((start, prev))
            start = slot
        prev = slot
    ranges.append((start, prev))
    return ranges


def ranges_to_slots(ranges: Iterable[tuple[int, int]]) -> list[int]:
    """Sorted, de-duplicated slots covered by inclusive ``(start, end)`` ranges.

    A range with ``start > end`` or a bound outside 0..16383 raises
    ``ValueError`` (the caller turns that into the command's error reply).
    """
    covered: set[int] = set()
    for start, end in ranges:
        _check_slot(start)
        _check_slot(end)
        if start > end:
            raise ValueError(f"slot range start {start} is greater than end {end}")
        covered.update(range(start, end + 1))
    return sorted(covered)


def format_ranges(ranges: Iterable[tuple[int, int]]) -> list[str]:
    """Ranges as CLUSTER NODES writes them: ``"0-5460"``, or ``"7"`` alone."""
    return [str(start) if start == end else f"{start}-{end}" for start, end in ranges]


def empty_bitmap() -> bytearray:
    """A fresh, mutable, all-clear slot bitmap."""
    return bytearray(SLOT_BITMAP_LEN)


def slots_to_bitmap(slots: Iterable[int]) -> bytes:
    """The 2048-byte bus bitmap with exactly ``slots`` set."""
    bitmap = bytearray(SLOT_BITMAP_LEN)
    for slot in slots:
        _check_slot(slot)
        bitmap[slot >> 3] |= 1 << (slot & 7)
    return bytes(bitmap)


def ranges_to_bitmap(ranges: Iterable[tuple[int, int]]) -> bytes:
    """The 2048-byte bus bitmap covering inclusive ``ranges``.

    Each range becomes one run of ones in an integer, so a full 0-16383
    assignment costs one shift, not 16384 bit writes.
    """
    value = 0
    for start, end in ranges:
        _check_slot(start)
        _check_slot(end)
        if start > end:
            raise ValueError(f"slot range start {start} is greater than end {end}")
        value |= ((1 << (end - start + 1)) - 1) << start
    return value.to_bytes(SLOT_BITMAP_LEN, "little")


def _as_int(bitmap: bytes | bytearray | memoryview) -> int:
    if len(bitmap) != SLOT_BITMAP_LEN:
        raise ValueError(f"slot bitmap must be {SLOT_BITMAP_LEN} bytes, got {len(bitmap)}")
    return int.from_bytes(bitmap, "little")


def bitmap_to_ranges(bitmap: bytes | bytearray | memoryview) -> list[tuple[int, int]]:
    """Sorted inclusive ranges of the slots set in a 2048-byte bitmap.

    Works run by run: the lowest set bit starts a range, the count of
    trailing ones from there gives its length. Cost grows with the number
    of ranges, not the number of slots.
    """
    value = _as_int(bitmap)
    ranges: list[tuple[int, int]] = []
    base = 0
    while value:
        low = (value & -value).bit_length() - 1  # index of the lowest set bit
        value >>= low
        run = (~value & (value + 1)).bit_length() - 1  # trailing ones
        start = base + low
        ranges.append((start, start + run - 1))
        value >>= run
        base = start + run
    return ranges


def bitmap_to_slots(bitmap: bytes | bytearray | memoryview) -> list[int]:
    """Sorted list of the slots set in a 2048-byte bitmap."""
    slots: list[int] = []
    for start, end in bitmap_to_ranges(bitmap):
        slots.extend(range(start, end + 1))
    return slots


def bitmap_count(bitmap: bytes | bytearray | memoryview) -> int:
    """Number of slots set in a 2048-byte bitmap."""
    return _as_int(bitmap).bit_count()


def bitmap_test(bitmap: bytes | bytearray | memoryview, slot: int) -> bool:
    """True if ``slot`` is set (bit ``slot % 8`` of byte ``slot // 8``)."""
    return bool(bitmap[slot >> 3] & (1 << (slot & 7)))


def bitmap_set(bitmap: bytearray, slot: int) -> None:
    """Set ``slot`` in a mutable bitmap."""
    _check_slot(slot)
    bitmap[slot >> 3] |= 1 << (slot & 7)


def bitmap_clear(bitmap: bytearray, slot: int) -> None:
    """Clear ``slot`` in a mutable bitmap."""
    _check_slot(slot)
    bitmap[slot >> 3] &= ~(1 << (slot & 7)) & 0xFF
