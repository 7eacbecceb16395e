"""The per-key access field, read the way Redis reads its ``robj.lru``: LRU clock or LFU counter.

Redis keeps 24 bits per object.  Under an LRU (or no-eviction) policy they
hold the LRU clock, seconds mod 2**24, of the last access; under an LFU
policy they hold the minutes of the last decrement (16 bits) and a
logarithmic access counter (8 bits).  The same bits are read either way
after a policy switch, which is why Redis's OBJECT FREQ warns that "LRU
and LFU data will take some time to adjust".

``Database.access`` holds that field per key (an LRU clock stays unmasked,
``node.lru_clock``; every reader masks it).  These functions are Redis's
evict.c arithmetic on it, pure so they test alone: ``lfu_decr_and_return``
is LFUDecrAndReturn, ``lfu_log_incr`` LFULogIncr, ``lfu_touch`` updateLFU
``idle_seconds`` estimateObjectIdleTime and ``restored_field``
objectSetLRUOrLFU.
"""

from __future__ import annotations

import random

__all__ = [
    "LFU_INIT_VAL",
    "LRU_CLOCK_MAX",
    "LFU_POLICIES",
    "lfu_minutes",
    "lfu_new",
    "lfu_decr_and_return",
    "lfu_freq",
    "lfu_log_incr",
    "lfu_touch",
    "idle_seconds",
    "restored_field",
]

LFU_INIT_VAL = 5  # the counter a new key starts with (server.h)
LRU_CLOCK_MAX = (1 << 24) - 1  # the field is 24 bits wide
LFU_POLICIES = ("volatile-lfu", "allkeys-lfu")


def lfu_minutes(unixtime: int) -> int:
    """LFUGetTimeInMinutes: minutes, mod 2**16."""
    return (unixtime // 60) & 65535


def lfu_new(unixtime: int) -> int:
    """The field of an object created under an LFU policy (createObject)."""
    return (lfu_minutes(unixtime) << 8) | LFU_INIT_VAL


def lfu_decr_and_return(field: int, unixtime: int, decay_time: int) -> int:
    """LFUDecrAndReturn: the counter less one per ``decay_time`` minutes since the field's time."""
    field &= LRU_CLOCK_MAX
    ldt = field >> 8
    counter = field & 255
    if not decay_time:
        return counter
    now = lfu_minutes(unixtime)
    elapsed = now - ldt if now >= ldt else 65535 - ldt + now
    periods = elapsed // decay_time
    return 0 if periods > counter else counter - periods


def lfu_freq(field, unixtime: int, decay_time: int) -> int:
    """What OBJECT FREQ shows for ``field``; None (a key loaded without one) reads as a new object's."""
    return lfu_decr_and_return(lfu_new(unixtime) if field is None else field, unixtime, decay_time)


def lfu_log_incr(counter: int, log_factor: int, rand=random.random) -> int:
    """LFULogIncr: one more, with probability 1 / ((counter - LFU_INIT_VAL) * factor + 1)."""
    if counter == 255:
        return 255
    baseval = max(0, counter - LFU_INIT_VAL)
    if rand() < 1.0 / (baseval * log_factor + 1):
        counter += 1
    return counter


def lfu_touch(field: int, unixtime: int, decay_time: int, log_factor: int, rand=random.random) -> int:
    """updateLFU: decay the counter, count this access, stamp the current minutes."""
    counter = lfu_log_incr(lfu_decr_and_return(field, unixtime, decay_time), log_factor, rand)
    return (lfu_minutes(unixtime) << 8) | counter


def idle_seconds(field: int, lru_clock: int) -> int:
    """estimateObjectIdleTime in seconds: the LRU clock less the field, both mod 2**24."""
    now = lru_clock & LRU_CLOCK_MAX
    field &= LRU_CLOCK_MAX
    return now - field if now >= field else now + (LRU_CLOCK_MAX - field)


def restored_field(lfu_freq, lru_idle, lru_clock: int, unixtime: int, lfu: bool):
    """objectSetLRUOrLFU: the field of a key loaded (RDB) or restored (RESTORE) with FREQ or IDLETIME.

    None when the policy has no use for what was given: the key then keeps
    the field of a new object.  An idle time reaching back past the clock's
    start gets a field half-way round the 24-bit clock, as in Redis, so it
    keeps reading as long idle.
    """
    if lfu:
        if lfu_freq is None or lfu_freq < 0:
            return None
        return (lfu_minutes(unixtime) << 8) | lfu_freq
    if lru_idle is None or lru_idle < 0:
        return None
    clock = lru_clock & LRU_CLOCK_MAX
    lru_abs = clock - lru_idle
    if lru_abs < 0:
        lru_abs = (clock + LRU_CLOCK_MAX // 2) % LRU_CLOCK_MAX
    return lru_abs
