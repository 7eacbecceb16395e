"""The 24-bit access field's arithmetic (keyspace/lfu.py) against Redis's evict.c rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardis.keyspace.lfu import (
    LFU_INIT_VAL,
    LRU_CLOCK_MAX,
    idle_seconds,
    lfu_decr_and_return,
    lfu_freq,
    lfu_log_incr,
    lfu_minutes,
    lfu_new,
    lfu_touch,
    restored_field,
)

T0 = 1_764_000_000  # a unix time


def field(minutes: int, counter: int) -> int:
    return (minutes << 8) | counter


def test_a_new_object_starts_at_the_initial_counter_stamped_with_the_minutes():
    assert lfu_new(T0) == field((T0 // 60) & 65535, LFU_INIT_VAL)
    assert lfu_decr_and_return(lfu_new(T0), T0, 1) == LFU_INIT_VAL


def test_the_counter_decays_by_one_per_decay_period_and_stops_at_zero():
    f = field(lfu_minutes(T0), 10)
    assert lfu_decr_and_return(f, T0 + 59, 1) == 10  # same minute
    assert lfu_decr_and_return(f, T0 + 60 * 3, 1) == 7
    assert lfu_decr_and_return(f, T0 + 60 * 3, 2) == 9  # 3 minutes, periods of 2: one period
    assert lfu_decr_and_return(f, T0 + 60 * 11, 1) == 0
    assert lfu_decr_and_return(f, T0 + 60 * 10_000, 0) == 10  # decay time 0: no decay


def test_the_minutes_wrap_at_sixteen_bits():
    # ldt just before the wrap, now just after: LFUTimeElapsed = 65535 - ldt + now
    now_minutes = 2
    unix = (T0 // 60 // 65536 + 1) * 65536 * 60 + now_minutes * 60
    assert lfu_minutes(unix) == now_minutes
    f = field(65534, 20)
    assert lfu_decr_and_return(f, unix, 1) == 20 - (65535 - 65534 + now_minutes)


def test_the_field_read_as_lfu_is_masked_to_24_bits():
    # An unmasked LRU clock left by the LRU policy reads as Redis reads its 24 bits.
    lru = T0
    assert lfu_decr_and_return(lru, T0, 0) == (lru & LRU_CLOCK_MAX) & 255


def test_the_log_increment_is_certain_up_to_the_initial_value_then_rarer():
    assert lfu_log_incr(0, 10, rand=lambda: 0.999999) == 1
    assert lfu_log_incr(LFU_INIT_VAL, 10, rand=lambda: 0.999999) == LFU_INIT_VAL + 1
    # counter 6: p = 1 / (1 * 10 + 1)
    assert lfu_log_incr(6, 10, rand=lambda: 1 / 11 - 1e-9) == 7
    assert lfu_log_incr(6, 10, rand=lambda: 1 / 11 + 1e-9) == 6
    assert lfu_log_incr(6, 0, rand=lambda: 0.999999) == 7  # factor 0: always
    assert lfu_log_incr(255, 0, rand=lambda: 0.0) == 255  # saturates


def test_a_touch_decays_counts_and_restamps():
    old = field(lfu_minutes(T0), 9)
    later = T0 + 60 * 3  # decays to 6, where an increment has p = 1/11
    assert lfu_touch(old, later, 1, 10, rand=lambda: 0.0) == field(lfu_minutes(later), 7)
    assert lfu_touch(old, later, 1, 10, rand=lambda: 0.99) == field(lfu_minutes(later), 6)


@given(st.integers(0, LRU_CLOCK_MAX), st.integers(0, LRU_CLOCK_MAX))
def test_idle_seconds_is_the_clock_distance_round_the_24_bit_circle(now, then):
    idle = idle_seconds(then, now)
    expected = now - then if now >= then else now + (LRU_CLOCK_MAX - then)
    assert idle == expected
    assert 0 <= idle <= LRU_CLOCK_MAX


def test_idle_seconds_of_unmasked_clocks():
    assert idle_seconds(T0 - 7, T0) == 7
    assert idle_seconds(T0, T0) == 0


@pytest.mark.parametrize("lfu", [False, True])
def test_restored_field_follows_the_policy(lfu):
    clock = T0
    if lfu:
        assert restored_field(42, None, clock, T0, True) == field(lfu_minutes(T0), 42)
        assert restored_field(None, 100, clock, T0, True) is None  # IDLETIME is ignored under LFU
    else:
        f = restored_field(None, 100, clock, T0, False)
        assert idle_seconds(f, clock) == 100
        assert restored_field(42, None, clock, T0, False) is None  # FREQ is ignored under LRU


def test_restored_idle_time_before_the_clock_started_lands_half_way_round():
    clock = T0
    masked = clock & LRU_CLOCK_MAX
    f = restored_field(None, masked + 1, clock, T0, False)
    assert f == (masked + LRU_CLOCK_MAX // 2) % LRU_CLOCK_MAX
    assert idle_seconds(f, clock) > LRU_CLOCK_MAX // 2 - 1


def test_a_key_without_a_field_reads_as_a_new_object():
    assert lfu_freq(None, T0, 1) == LFU_INIT_VAL
    assert lfu_freq(field(lfu_minutes(T0), 9), T0, 1) == 9
