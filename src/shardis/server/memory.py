"""Memory accounting: the node's used memory, the process RSS, and MEMORY USAGE estimates.

Redis counts every byte it allocates (zmalloc) and reports the total as
``used_memory``; the maxmemory check in dispatch compares against it before
every ``denyoom`` command.  A Python process has no such counter, so
``used_memory()`` estimates it from what the allocators know:

* glibc's ``mallinfo2()``: bytes in use in the malloc heap plus mmap'd
  chunks (where CPython puts large objects, dict tables, list arrays);
* CPython's small-object allocator: ``sys.getallocatedblocks()`` blocks,
  each counted at ``PYMALLOC_MEAN_BLOCK`` bytes.

Unlike the RSS, both numbers drop as soon as objects are freed, so a
FLUSHALL really does get a node back under its maxmemory.  Counting the
small-object blocks walks every pool (a few microseconds per MB of data), so
the figure is cached and refreshed at most every ``REFRESH_MIN`` seconds, or
less often when the walk gets expensive (never more than about 2% of the
time).  Where mallinfo2 does not exist the RSS stands in.

``value_usage`` answers MEMORY USAGE the way Redis's objectComputeSize does,
from the sizes Redis's own structures would have (robj, sds headers,
listpacks, dict entries) rounded to jemalloc's size classes, so a string key
reports the same figure on shardis as on redis-server; containers encoded as
hash tables are sampled like Redis samples them.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time

__all__ = [
    "used_memory",
    "process_rss",
    "peak_memory",
    "startup_memory",
    "mark_startup",
    "total_system_memory",
    "jemalloc_size",
    "value_usage",
    "key_overhead",
    "human_bytes",
    "release_free_memory",
]

PYMALLOC_MEAN_BLOCK = 64  # bytes: a typical small object (short bytes key or value)
REFRESH_MIN = 0.01  # seconds between two measurements, at least
REFRESH_COST_FACTOR = 50  # refresh no more often than 50 x the cost of one measurement

# Sizes of Redis's structures on a 64-bit build (server.h, dict.h, quicklist.h).
ROBJ_SIZE = 16  # robj: type/encoding/lru bits, refcount, ptr
DICT_ENTRY_SIZE = 24  # dictEntry: key, value, next
DICT_SIZE = 56  # dict: type, two tables (pointer + size exponent), rehash index ...
ZSET_SIZE = 16  # zset: dict pointer + skiplist pointer
SKIPLIST_SIZE = 32  # zskiplist: header, tail, length, level
SKIPLIST_NODE_BASE = 24  # zskiplistNode without levels: ele, score, backward
SKIPLIST_LEVEL_SIZE = 16  # one level: forward pointer + span
SKIPLIST_MAXLEVEL = 32  # the header node has every level
QUICKLIST_SIZE = 40  # quicklist: head, tail, count, len, fill/compress/bookmarks bits
QUICKLIST_NODE_SIZE = 40  # quicklistNode: prev, next, entry, sz, 32 bits of count/encoding flags, padding
INTSET_HEADER = 8  # intset: encoding u32 + length u32
LISTPACK_HEADER = 6  # total bytes u32 + element count u16
EMBSTR_MAX = 44  # longest string stored as embstr


# --- jemalloc size classes ------------------------------------------------------------


def jemalloc_size(n: int) -> int:
    """The allocation jemalloc makes for a request of ``n`` bytes (its size classes).

    8, then multiples of 16 up to 128, then four classes per doubling
    (160 192 224 256, 320 384 448 512, ...).
    """
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    # Four classes between 2^k and 2^(k+1): spacing 2^(k-2).
    k = (n - 1).bit_length() - 1  # 2^k < n <= 2^(k+1)
    spacing = 1 << (k - 2)
    return (n + spacing - 1) // spacing * spacing


def _sds_header(length: int, allow_type5: bool = False) -> int:
    """sdsReqType's header size for a string of ``length`` bytes."""
    if allow_type5 and 0 < length < 32:
        return 1
    if length < 1 << 8:
        return 3
    if length < 1 << 16:
        return 5
    if length < 1 << 32:
        return 9
    return 17


def sds_alloc(length: int, allow_type5: bool = False) -> int:
    """Bytes jemalloc gives an sds string of ``length`` bytes (header + data + NUL)."""
    return jemalloc_size(_sds_header(length, allow_type5) + length + 1)


# --- MEMORY USAGE -------------------------------------------------------------------


def _is_int_encodable(s) -> bool:
    if not s or len(s) > 20:
        return False
    try:
        v = int(s)
    except ValueError:
        return False
    return b"%d" % v == bytes(s) and -(2**63) <= v < 2**63


def string_usage(s) -> int:
    """objectComputeSize for a string value (the robj plus its sds)."""
    if s.__class__ is bytes and _is_int_encodable(s):
        return ROBJ_SIZE
    n = len(s)
    if s.__class__ is bytes and n <= EMBSTR_MAX:
        return jemalloc_size(ROBJ_SIZE + 3 + n + 1)  # robj and sdshdr8 in one allocation
    return sds_alloc(n) + ROBJ_SIZE


def _listpack_entry(item) -> int:
    """Bytes one element takes in a listpack (encoding + data + backlen)."""
    if not isinstance(item, (bytes, bytearray)):
        item = b"%d" % item if isinstance(item, int) else repr(item).encode()
    n = len(item)
    if n <= 20 and _is_int_encodable(item):
        v = int(item)
        if 0 <= v <= 127:
            body = 1
        elif -4096 <= v <= 4095:
            body = 2
        elif -(2**15) <= v < 2**15:
            body = 3
        elif -(2**23) <= v < 2**23:
            body = 4
        elif -(2**31) <= v < 2**31:
            body = 5
        else:
            body = 9
    elif n < 64:
        body = 1 + n
    elif n < 4096:
        body = 2 + n
    else:
        body = 5 + n
    if body < 128:
        back = 1
    elif body < 16384:
        back = 2
    elif body < 2097152:
        back = 3
    elif body < 268435456:
        back = 4
    else:
        back = 5
    return body + back


def listpack_bytes(items) -> int:
    return LISTPACK_HEADER + sum(_listpack_entry(i) for i in items) + 1


def _score_text(score: float) -> bytes:
    if score == int(score) and abs(score) < 2**53:
        return b"%d" % int(score)
    return b"%.17g" % score


def _dict_usage(n: int) -> int:
    """A dict with ``n`` entries: the struct and its bucket array (entries counted apart).

    Redis counts the bucket array as slots x pointer size, unrounded; a table
    grows to the next power of two (at least 4) when it is full.
    """
    buckets = 4
    while buckets < n:
        buckets <<= 1
    return DICT_SIZE + buckets * 8


def _sampled(items, total: int, samples: int, size_of) -> int:
    """Redis's sampling: average the first ``samples`` elements, scale to ``total``."""
    if samples <= 0:
        samples = total
    seen = 0
    acc = 0
    for item in items:
        if seen >= samples:
            break
        acc += size_of(item)
        seen += 1
    if not seen:
        return 0
    return acc * total // seen if seen < total else acc


def container_usage(value, samples: int = 5, list_fill: int = -2) -> int:
    """objectComputeSize for a hash, list, set or sorted set."""
    from ..keyspace.objects import Hash, List, Set, ZSet

    enc = getattr(value, "encoding", b"")
    if isinstance(value, Hash):
        if enc == b"listpack":
            return ROBJ_SIZE + jemalloc_size(listpack_bytes(x for kv in value.items() for x in kv))
        size = ROBJ_SIZE + _dict_usage(len(value))
        return size + _sampled(
            value.items(), len(value), samples,
            lambda kv: DICT_ENTRY_SIZE + sds_alloc(len(kv[0])) + sds_alloc(len(kv[1])),
        )
    if isinstance(value, Set):
        if enc == b"intset":
            width = 2  # int16, widened to int32/int64 by the largest member
            for m in value:
                v = int(m)
                if not -(2**31) <= v < 2**31:
                    width = 8
                    break
                if not -(2**15) <= v < 2**15:
                    width = 4
            return ROBJ_SIZE + jemalloc_size(INTSET_HEADER + width * len(value))
        size = ROBJ_SIZE + _dict_usage(len(value))
        return size + _sampled(value, len(value), samples, lambda m: DICT_ENTRY_SIZE + sds_alloc(len(m)))
    if isinstance(value, ZSet):
        if enc == b"listpack":
            items = []
            for score, member in value.sl:
                items.append(member)
                items.append(_score_text(score))
            return ROBJ_SIZE + jemalloc_size(listpack_bytes(items))
        n = len(value)
        header = jemalloc_size(SKIPLIST_NODE_BASE + SKIPLIST_MAXLEVEL * SKIPLIST_LEVEL_SIZE)
        size = ROBJ_SIZE + ZSET_SIZE + SKIPLIST_SIZE + _dict_usage(n) + header
        node = _SKIPLIST_NODE_MEAN
        return size + _sampled(
            value.sl, n, samples,
            lambda sm: DICT_ENTRY_SIZE + node + sds_alloc(len(sm[1]), allow_type5=True),
        )
    if isinstance(value, List):
        nodes = _quicklist_nodes(value, list_fill)
        size = ROBJ_SIZE + QUICKLIST_SIZE
        return size + _sampled(nodes, len(nodes), samples, lambda n: QUICKLIST_NODE_SIZE + jemalloc_size(n))
    return ROBJ_SIZE


def _mean_skiplist_node() -> int:
    """Expected allocation of a skiplist node: Redis draws level L with probability 3/4 * (1/4)^(L-1)."""
    total = 0.0
    for level in range(1, SKIPLIST_MAXLEVEL + 1):
        p = 0.75 * 0.25 ** (level - 1)
        total += p * jemalloc_size(SKIPLIST_NODE_BASE + level * SKIPLIST_LEVEL_SIZE)
    return round(total)


_SKIPLIST_NODE_MEAN = _mean_skiplist_node()

# Byte limits of a quicklist node for negative list-max-listpack-size values.
_LIST_FILL_BYTES = (4096, 8192, 16384, 32768, 65536)


def _quicklist_nodes(items, fill: int) -> list[int]:
    """The byte sizes of the listpack nodes a quicklist would split ``items`` into."""
    if fill < 0:
        limit = _LIST_FILL_BYTES[min(-fill, len(_LIST_FILL_BYTES)) - 1]
        max_count = None
    else:
        limit = 8192  # SIZE_SAFETY_LIMIT for count-limited nodes
        max_count = max(fill, 1)
    nodes = []
    size = LISTPACK_HEADER + 1
    count = 0
    for item in items:
        e = _listpack_entry(item)
        if count and (size + e > limit or (max_count is not None and count >= max_count)):
            nodes.append(size)
            size = LISTPACK_HEADER + 1
            count = 0
        size += e
        count += 1
    if count:
        nodes.append(size)
    return nodes


def key_overhead(key) -> int:
    """The key's sds and its dict entry in the main table."""
    return sds_alloc(len(key), allow_type5=True) + DICT_ENTRY_SIZE


def value_usage(key, value, samples: int = 5, list_fill: int = -2) -> int:
    """MEMORY USAGE: the value, the key and the dict entry holding them."""
    if value.__class__ is bytes or value.__class__ is bytearray:
        size = string_usage(value)
    else:
        size = container_usage(value, samples, list_fill)
    return size + key_overhead(key)


# --- process-level figures ------------------------------------------------------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


def _load_mallinfo2():
    try:
        libc = ctypes.CDLL(None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    fn.argtypes = []
    return fn


_mallinfo2 = _load_mallinfo2()


def release_free_memory() -> None:
    """MEMORY PURGE: hand free heap pages back to the system (glibc malloc_trim), where available."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_rss() -> int:
    """Resident set size of this process, in bytes (0 when unknown)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        try:
            import resource

            # ru_maxrss is the peak, in KB on Linux: the best available fallback.
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        except (ImportError, OSError):
            return 0


def _measure() -> int:
    if _mallinfo2 is None:
        return process_rss()
    mi = _mallinfo2()
    return mi.uordblks + mi.hblkhd + sys.getallocatedblocks() * PYMALLOC_MEAN_BLOCK


_cached = 0
_cached_at = -1.0
_interval = REFRESH_MIN
_peak = 0
_startup = 0


def used_memory() -> int:
    """Bytes the node is using (estimated; see the module docstring).  Cheap to call."""
    global _cached, _cached_at, _interval, _peak
    now = time.monotonic()
    if now - _cached_at < _interval:
        return _cached
    _cached = _measure()
    done = time.monotonic()
    _cached_at = done
    _interval = max(REFRESH_MIN, (done - now) * REFRESH_COST_FACTOR)
    if _cached > _peak:
        _peak = _cached
    return _cached


def refresh() -> int:
    """Measure now (INFO and MEMORY STATS want a fresh figure)."""
    global _cached_at
    _cached_at = -1.0
    return used_memory()


def peak_memory() -> int:
    return max(_peak, used_memory())


def reset_peak() -> None:
    """CONFIG RESETSTAT / MEMORY ... : the peak restarts from the current figure."""
    global _peak
    _peak = refresh()


def mark_startup() -> None:
    """Record the memory used by an empty node (INFO used_memory_startup)."""
    global _startup
    _startup = refresh()


def startup_memory() -> int:
    return _startup or used_memory()


def total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def human_bytes(n: float) -> str:
    """bytesToHuman: 1.32M, 32.00K, 200B ..."""
    if n < 1024:
        return "%dB" % n
    for unit, scale in (("K", 1024), ("M", 1024**2), ("G", 1024**3), ("T", 1024**4), ("P", 1024**5)):
        if n < scale * 1024 or unit == "P":
            return "%.2f%s" % (n / scale, unit)
    return "%dB" % n
