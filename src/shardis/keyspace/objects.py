"""The in-memory value types of the keyspace.

A value stored under a key is one of:

* ``bytes``      -- a string; OBJECT ENCODING reports ``int``/``embstr``/``raw``
                    from its content, exactly as Redis's tryObjectEncoding would.
* ``bytearray``  -- a string that was modified in place (APPEND, SETRANGE,
                    SETBIT ...).  Redis keeps such strings ``raw``; we mirror
                    that by keeping them mutable, which also makes the
                    in-place edit cheap.
* ``Hash``       -- a dict subclass (field -> value).
* ``List``       -- a deque subclass.
* ``Set``        -- a set subclass.
* ``ZSet``       -- a dict of member -> score plus a SortedList of
                    (score, member), the pair Redis keeps as dict + skiplist.

Builtin containers are used directly (subclassed only to carry the encoding
Redis would report) because the hot path then stays in C: a hash lookup is a
dict lookup.  ``encoding`` follows Redis 7.0's conversion rules: a small
container starts compact (listpack/intset) and is converted once it crosses a
threshold, and is never converted back (Redis only does that on reload).
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedList

__all__ = [
    "Hash",
    "List",
    "Set",
    "ZSet",
    "type_name",
    "string_encoding",
    "OBJ_STRING",
    "OBJ_LIST",
    "OBJ_SET",
    "OBJ_ZSET",
    "OBJ_HASH",
]

# Redis's object type codes (server.h), also used by RDB and SCAN TYPE.
OBJ_STRING = 0
OBJ_LIST = 1
OBJ_SET = 2
OBJ_ZSET = 3
OBJ_HASH = 4

# Longest string Redis stores as embstr (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
EMBSTR_SIZE_LIMIT = 44


class Hash(dict):
    """field -> value; ``encoding`` is b"listpack" or b"hashtable"."""

    __slots__ = ("encoding",)
    type_name = b"hash"
    type_code = OBJ_HASH

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.encoding = b"listpack"


class List(deque):
    """A Redis list.  Redis 7.0 always reports ``quicklist``."""

    __slots__ = ("encoding",)
    type_name = b"list"
    type_code = OBJ_LIST

    def __init__(self, *args):
        super().__init__(*args)
        self.encoding = b"quicklist"


class Set(set):
    """A Redis set; ``encoding`` is b"intset" or b"hashtable" (7.0 has no listpack sets)."""

    __slots__ = ("encoding",)
    type_name = b"set"
    type_code = OBJ_SET

    def __init__(self, *args):
        super().__init__(*args)
        self.encoding = b"intset"


class ZSet:
    """A sorted set: ``dict`` member -> score and ``sl`` ordered by (score, member).

    Ordering by (score, member) with bytes comparison is exactly Redis's
    skiplist order (score, then memcmp of the member); -0.0 and 0.0 compare
    equal there as they do in C.  ``encoding`` is b"listpack" or
    b"skiplist" with Redis 7.0's rules, applied by ``insert`` (the limits are
    passed in by the caller, who read them from the config).

    A listpack stores a score as text written by d2string, which spells -0.0
    as "0": a listpack-encoded set therefore never holds -0.0, while a
    skiplist keeps the sign.  ``insert``/``update`` reproduce that, because
    clients see it (ZSCORE answers "0" or "-0").

    Every mutation goes through a method here so that ``scan_cache`` (the
    hash-ordered member list ZSCAN walks, built on demand) is dropped when
    the set changes.
    """

    __slots__ = ("dict", "sl", "encoding", "scan_cache")
    type_name = b"zset"
    type_code = OBJ_ZSET

    def __init__(self):
        self.dict: dict[bytes, float] = {}
        self.sl: SortedList = SortedList()
        self.encoding = b"listpack"
        self.scan_cache = None

    def __len__(self) -> int:
        return len(self.dict)

    def add(self, member: bytes, score: float) -> None:
        """Insert or update ``member`` with ``score`` (no encoding rules; loaders use it)."""
        old = self.dict.get(member)
        if old is not None:
            if old == score:
                return
            self.sl.remove((old, member))
        self.dict[member] = score
        self.sl.add((score, member))
        self.scan_cache = None

    def insert(self, member: bytes, score: float, max_entries: int, max_value: int) -> None:
        """Add a member that is not present (zsetAdd's insert branch).

        A listpack that would exceed ``max_entries`` members, or receive a
        member longer than ``max_value`` bytes, becomes a skiplist first.
        """
        d = self.dict
        if self.encoding == b"listpack":
            if len(d) >= max_entries or len(member) > max_value:
                self.encoding = b"skiplist"
            elif score == 0.0:
                score = 0.0  # zzlInsertAt writes -0 as "0"
        d[member] = score
        self.sl.add((score, member))
        self.scan_cache = None

    def update(self, member: bytes, old: float, new: float) -> None:
        """Move a present member from score ``old`` to ``new`` (the caller checked old != new)."""
        if new == 0.0 and self.encoding == b"listpack":
            new = 0.0
        sl = self.sl
        sl.remove((old, member))
        sl.add((new, member))
        self.dict[member] = new
        self.scan_cache = None

    def remove(self, member: bytes) -> bool:
        score = self.dict.pop(member, None)
        if score is None:
            return False
        self.sl.remove((score, member))
        self.scan_cache = None
        return True

    def pop(self, last: bool):
        """Remove and return the lowest (or highest) (score, member)."""
        score, member = self.sl.pop(-1 if last else 0)
        del self.dict[member]
        self.scan_cache = None
        return score, member

    def remove_slice(self, start: int, stop: int) -> int:
        """Remove the members ranked start..stop-1; returns how many."""
        sl = self.sl
        gone = sl[start:stop]
        if not gone:
            return 0
        del sl[start:stop]
        d = self.dict
        for _, member in gone:
            del d[member]
        self.scan_cache = None
        return len(gone)

    def compact_if_fits(self, max_entries: int, max_value: int) -> None:
        """zsetConvertToListpackIfNeeded: a result set small enough becomes a listpack."""
        if self.encoding == b"listpack" or len(self.dict) > max_entries:
            return
        if any(len(m) > max_value for m in self.dict):
            return
        self.encoding = b"listpack"
        if any(s == 0.0 for s in self.dict.values()):
            d = self.dict
            for m, s in d.items():
                if s == 0.0:
                    d[m] = 0.0
            self.sl = SortedList((s, m) for m, s in d.items())
        self.scan_cache = None

    def score(self, member: bytes):
        return self.dict.get(member)

    def rank(self, member: bytes):
        score = self.dict.get(member)
        if score is None:
            return None
        return self.sl.index((score, member))

    def dup(self) -> "ZSet":
        """A copy with the same members, scores and encoding (COPY, ZRANGESTORE of a whole set)."""
        n = ZSet()
        n.dict = dict(self.dict)
        n.sl = self.sl.copy()
        n.encoding = self.encoding
        return n

    def __iter__(self):
        """(score, member) pairs in order."""
        return iter(self.sl)


_TYPE_NAMES = {bytes: b"string", bytearray: b"string"}


def type_name(value) -> bytes:
    """The name TYPE replies with for a stored value."""
    name = _TYPE_NAMES.get(value.__class__)
    return name if name is not None else value.type_name


def _is_int_encodable(s: bytes) -> bool:
    """True when Redis would store ``s`` as a long (string2l round-trips)."""
    if not s or len(s) > 20:
        return False
    try:
        n = int(s)
    except ValueError:
        return False
    # string2l only accepts the canonical form ("12", "-3"), no "+1", " 1", "01", "-0".
    return b"%d" % n == s and -(2**63) <= n < 2**63


def string_encoding(value) -> bytes:
    """OBJECT ENCODING for a string value."""
    if value.__class__ is bytearray:
        return b"raw"
    if _is_int_encodable(value):
        return b"int"
    return b"embstr" if len(value) <= EMBSTR_SIZE_LIMIT else b"raw"
