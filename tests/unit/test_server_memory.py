"""server/memory.py: jemalloc size classes, Redis's object sizes for MEMORY USAGE, the used-memory estimate."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shardis.keyspace.objects import Hash, List, Set, ZSet
from shardis.server import memory


# --- jemalloc size classes --------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=1 << 40))
def test_size_class_fits_and_is_tight(n):
    size = memory.jemalloc_size(n)
    assert size >= n
    # Classes are 8, multiples of 16 up to 128, then four per doubling: never more than 25% slack past 128.
    if n > 128:
        assert size - n < size / 4 + 1
    assert memory.jemalloc_size(size) == size  # a class maps to itself


def test_size_classes_sequence():
    classes = sorted({memory.jemalloc_size(n) for n in range(1, 1100)})
    assert classes[:12] == [8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224]
    assert [c for c in classes if 256 <= c <= 1024] == [256, 320, 384, 448, 512, 640, 768, 896, 1024]


@given(st.integers(min_value=1, max_value=1 << 20), st.integers(min_value=1, max_value=1 << 20))
def test_size_class_is_monotonic(a, b):
    if a <= b:
        assert memory.jemalloc_size(a) <= memory.jemalloc_size(b)


# --- MEMORY USAGE -------------------------------------------------------------------------------


def test_string_encodings_sizes_follow_redis_layout():
    key = memory.key_overhead(b"a")  # sds type 5 "a" -> 8, plus the 24-byte dict entry
    assert key == 8 + 24
    assert memory.value_usage(b"a", b"123") == 16 + key  # int: the robj alone
    assert memory.value_usage(b"a", b"abc") == 32 + key  # embstr: robj + sdshdr8 in one allocation
    emb44 = memory.value_usage(b"a", b"x" * 44)
    raw45 = memory.value_usage(b"a", b"x" * 45)
    assert emb44 == memory.jemalloc_size(16 + 3 + 44 + 1) + key
    assert raw45 == memory.jemalloc_size(3 + 45 + 1) + 16 + key  # raw: separate sds
    assert memory.value_usage(b"a", bytearray(b"abc")) == memory.jemalloc_size(3 + 3 + 1) + 16 + key


@given(st.binary(max_size=300), st.binary(min_size=1, max_size=80))
def test_usage_grows_with_the_value(value, key):
    small = memory.value_usage(key, value)
    big = memory.value_usage(key, value + b"z" * 300)
    assert big >= small > 0


def test_containers_by_encoding():
    h = Hash({b"f": b"v"})
    lp = memory.value_usage(b"h", h)
    h.encoding = b"hashtable"
    ht = memory.value_usage(b"h", h)
    assert ht > lp  # a hash table costs more than a listpack for one field
    s = Set({b"1", b"2", b"70000"})
    assert memory.value_usage(b"s", s) == 16 + memory.jemalloc_size(8 + 4 * 3) + memory.key_overhead(b"s")
    z = ZSet()
    z.add(b"a", 1.0)
    z_lp = memory.value_usage(b"z", z)
    z.encoding = b"skiplist"
    assert memory.value_usage(b"z", z) > z_lp
    lst = List([b"a", b"b", b"1"])
    # robj + quicklist + one node + its listpack (6 header + 3 + 3 + 2 + 1 end = 15 -> 16)
    assert memory.value_usage(b"l", lst) == 16 + 40 + 40 + 16 + memory.key_overhead(b"l")


def test_sampling_scales_the_average():
    s = Set({b"%d" % i * 5 for i in range(200)})
    s.encoding = b"hashtable"
    all_samples = memory.value_usage(b"s", s, samples=0)
    five = memory.value_usage(b"s", s, samples=5)
    assert abs(all_samples - five) < all_samples * 0.2


def test_quicklist_splits_by_listpack_size():
    items = [b"x" * 100] * 500
    nodes = memory._quicklist_nodes(items, -2)
    assert len(nodes) == 7 and all(n <= 8192 for n in nodes)
    assert len(memory._quicklist_nodes(items, 10)) == 50  # positive fill: at most 10 entries per node


# --- process figures -----------------------------------------------------------------------------


def test_used_memory_is_cached_and_refreshable():
    a = memory.used_memory()
    assert a > 0
    assert memory.used_memory() == a  # within the refresh interval the figure is reused
    blob = [bytes([i % 256]) * 100 for i in range(100_000)]  # ~13 MB of small objects
    fresh = memory.refresh()
    assert fresh > a + 5_000_000
    del blob
    assert memory.refresh() < fresh  # freed objects leave the estimate at once
    assert memory.peak_memory() >= fresh


def test_startup_and_peak():
    memory.mark_startup()
    assert memory.startup_memory() > 0
    memory.reset_peak()
    assert memory.peak_memory() >= memory.used_memory()


def test_rss_and_system_memory():
    assert memory.process_rss() > 1_000_000
    assert memory.total_system_memory() > memory.process_rss()


def test_human_bytes_as_redis_prints_them():
    assert memory.human_bytes(0) == "0B"
    assert memory.human_bytes(1023) == "1023B"
    assert memory.human_bytes(1024) == "1.00K"
    assert memory.human_bytes(1386800) == "1.32M"
    assert memory.human_bytes(25276510208) == "23.54G"
