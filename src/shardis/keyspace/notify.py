"""Keyspace notifications: the event classes and their config letters (notify.c).

A command that changes the keyspace calls ``node.notify(cls, event, key, db)``
once per event; when the class is not enabled in ``notify-keyspace-events``
that is a single bit test.  When enabled, the event is published on
``__keyspace@<db>__:<key>`` (message: the event) and/or
``__keyevent@<db>__:<event>`` (message: the key), exactly as Redis does, so
existing subscribers of Redis notifications work unchanged.
"""

from __future__ import annotations

__all__ = [
    "KEYSPACE", "KEYEVENT", "GENERIC", "STRING", "LIST", "SET", "HASH", "ZSET",
    "EXPIRED", "EVICTED", "STREAM", "KEY_MISS", "LOADED", "MODULE", "NEW", "ALL",
    "flags_from_string", "flags_to_string", "channels",
]

KEYSPACE = 1 << 0  # K
KEYEVENT = 1 << 1  # E
GENERIC = 1 << 2  # g
STRING = 1 << 3  # $
LIST = 1 << 4  # l
SET = 1 << 5  # s
HASH = 1 << 6  # h
ZSET = 1 << 7  # z
EXPIRED = 1 << 8  # x
EVICTED = 1 << 9  # e
STREAM = 1 << 10  # t
KEY_MISS = 1 << 11  # m (not part of A, on purpose, as in Redis)
LOADED = 1 << 12  # modules only
MODULE = 1 << 13  # d
NEW = 1 << 14  # n (not part of A)
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_LETTERS = {
    "A": ALL, "g": GENERIC, "$": STRING, "l": LIST, "s": SET, "h": HASH, "z": ZSET,
    "x": EXPIRED, "e": EVICTED, "K": KEYSPACE, "E": KEYEVENT, "t": STREAM,
    "m": KEY_MISS, "d": MODULE, "n": NEW,
}


def flags_from_string(s: str) -> int:
    """keyspaceEventsStringToFlags.  Raises ValueError on an unknown letter."""
    flags = 0
    for ch in s:
        bit = _LETTERS.get(ch)
        if bit is None:
            raise ValueError(ch)
        flags |= bit
    return flags


def flags_to_string(flags: int) -> str:
    """keyspaceEventsFlagsToString: the canonical letters CONFIG GET shows."""
    out = []
    if flags & ALL == ALL:
        out.append("A")
    else:
        for ch, bit in (("g", GENERIC), ("$", STRING), ("l", LIST), ("s", SET), ("h", HASH),
                        ("z", ZSET), ("x", EXPIRED), ("e", EVICTED), ("t", STREAM), ("d", MODULE),
                        ("n", NEW)):
            if flags & bit:
                out.append(ch)
    # Redis 7.0 spells "n" only without "A": CONFIG GET shows "An" as "A".
    if flags & KEYSPACE:
        out.append("K")
    if flags & KEYEVENT:
        out.append("E")
    if flags & KEY_MISS:
        out.append("m")
    return "".join(out)


def channels(flags: int, event: bytes, key: bytes, dbid: int):
    """The (channel, message) pairs to publish for one event under ``flags``."""
    out = []
    if flags & KEYSPACE:
        out.append((b"__keyspace@%d__:%b" % (dbid, key), event))
    if flags & KEYEVENT:
        out.append((b"__keyevent@%d__:%b" % (dbid, event), key))
    return out
