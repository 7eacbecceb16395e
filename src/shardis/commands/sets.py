"""Set commands (t_set.c), and the random sampling and SCAN cursors shared with hashes.

A set is a ``keyspace.objects.Set`` (a Python set of bytes).  Its
``encoding`` follows Redis 7.0: ``intset`` while every member is a canonical
64-bit integer and there are at most ``set-max-intset-entries`` of them,
``hashtable`` from the first member that breaks either rule on (and never
back, except where Redis itself builds a new set: the STORE commands and
SPOP's "keep the remainder" strategy).  Replies that list an intset list it
in ascending numeric order, exactly as Redis walks an intset, so SMEMBERS,
SINTER, SSCAN ... of small integer sets are byte-identical to Redis's; a
hashtable's order is unspecified in Redis and arbitrary here.

Two helpers serve both sets and hashes (commands/hashes.py imports them):

* random members.  Python sets and dicts have no O(1) random access, so a
  container that is sampled (SRANDMEMBER, SPOP, HRANDFIELD) while larger than
  ``SAMPLE_INDEX_MIN`` gets a side index, an array of its members plus a
  member -> position dict, kept exact by the write commands (``note_added`` /
  ``note_removed``: O(1) swap-removal) for as long as it is tracked.  Smaller
  containers are sampled from a fresh tuple.
* SCAN cursors over ``hashtable`` encodings.  Like Redis's reverse-binary
  bucket cursor, a cursor here is a position in a hash order that inserts
  and deletes do not disturb: the members sorted by their (process-stable)
  hash.  A scan returns the members whose hash is at or after the cursor,
  so a member present for the whole scan is returned (exactly once, unless
  Redis-like duplicates through equal hashes), and the next cursor is the
  hash of the first member not returned, plus one; 0 ends the scan.  The
  sorted order is kept in the same side index, built when a scan starts
  (cursor 0) after members were added, reused by later calls (members
  deleted since are skipped; members added since may or may not be
  returned, as SCAN allows).  Compact encodings (intset, listpack) are
  returned whole in one call with cursor 0, as Redis does.

The side indexes live in a small bounded table keyed by the container's
identity (which cannot be reused while the table holds the container).
"""

from __future__ import annotations

import random
from bisect import bisect_left
from itertools import chain, compress
from math import floor as _floor

from ..keyspace import notify as kn
from ..keyspace.objects import Set
from ..protocol.resp import bulk, bulk_array, bulk_replies
from ..server import replies as R
from ..server.commandtable import KeySpecError, batch, command
from ..server.dispatch import propagate_as as _propagate_as
from .strings import parse_int

_random = random.random

LONG_MAX = 2**63 - 1
SPOP_MOVE_STRATEGY_MUL = 5  # t_set.c: keep-the-remainder strategy when remaining*5 <= count
SAMPLE_INDEX_MIN = 128  # members: smaller containers are sampled from a fresh tuple
TRACKED_MAX = 64  # containers with a side index at once
HASH_MASK = (1 << 63) - 1  # scan positions are 63-bit, so position + 1 fits a cursor

_EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"


# --- side indexes: random sampling and scan order --------------------------------------------


class _Track:
    """The side index of one container (a Set, or a Hash's fields)."""

    __slots__ = ("obj", "items", "pos", "scan_hashes", "scan_items", "scan_stale")

    def __init__(self, obj):
        self.obj = obj
        self.items = None  # list of members (sampling), or None
        self.pos = None  # member -> index in items
        self.scan_hashes = None  # sorted scan positions
        self.scan_items = None  # members in scan order
        self.scan_stale = False  # members were added since the scan order was built


_TRACKED: dict = {}  # id(container) -> _Track


def _track(obj) -> _Track:
    t = _TRACKED.get(id(obj))
    if t is None or t.obj is not obj:
        if len(_TRACKED) >= TRACKED_MAX:
            del _TRACKED[next(iter(_TRACKED))]
        t = _TRACKED[id(obj)] = _Track(obj)
    return t


def note_added(obj, member) -> None:
    """A write command added ``member`` to ``obj`` (call only when ``_TRACKED`` is non-empty)."""
    t = _TRACKED.get(id(obj))
    if t is None or t.obj is not obj:
        return
    if t.items is not None and member not in t.pos:
        t.pos[member] = len(t.items)
        t.items.append(member)
    t.scan_stale = True


def note_removed(obj, member) -> None:
    """A write command removed ``member`` from ``obj``."""
    t = _TRACKED.get(id(obj))
    if t is None or t.obj is not obj or t.items is None:
        return
    i = t.pos.pop(member, None)
    if i is None:
        return
    last = t.items.pop()
    if i < len(t.items):
        t.items[i] = last
        t.pos[last] = i


def forget(obj) -> None:
    """Drop the side index of a container that was deleted or replaced."""
    t = _TRACKED.get(id(obj))
    if t is not None and t.obj is obj:
        del _TRACKED[id(obj)]


def _members(obj) -> list:
    """A list of the members, through the side index for large containers."""
    if len(obj) < SAMPLE_INDEX_MIN:
        return list(obj)
    t = _TRACKED.get(id(obj))  # _track(obj), without the call when it is tracked already
    if t is None or t.obj is not obj:
        t = _track(obj)
    items = t.items
    if items is None or len(items) != len(obj):
        items = t.items = list(obj)
        t.pos = {m: i for i, m in enumerate(items)}
    return items


def random_member(obj):
    """One member chosen uniformly (``obj`` not empty).

    ``int(random() * n)`` rather than ``randrange(n)``: the same uniform
    choice for any container size (a bias below n / 2**53), without
    randrange's three Python-level calls per draw.
    """
    items = _members(obj)
    return items[int(_random() * len(items))]


def pop_random_member(s) -> bytes:
    """Remove and return a uniformly chosen member of the set ``s`` (not empty): SPOP's draw.

    One lookup of the side index serves both the draw and the swap-removal
    (random_member, then _set_remove's note_removed, would find it twice).
    """
    if len(s) >= SAMPLE_INDEX_MIN:
        t = _TRACKED.get(id(s))
        if t is not None and t.obj is s:
            items = t.items
            if items is not None and len(items) == len(s):
                i = int(_random() * len(items))
                m = items[i]
                last = items.pop()
                pos = t.pos
                del pos[m]
                if i < len(items):
                    items[i] = last
                    pos[last] = i
                s.discard(m)
                return m
    m = random_member(s)
    _set_remove(s, m)
    return m


def random_members(obj, count: int) -> list:
    """``count`` members chosen uniformly with repetition."""
    items = _members(obj)
    n = len(items)
    rr = random.randrange
    return [items[rr(n)] for _ in range(count)]


def sample_members(obj, count: int) -> list:
    """``count`` distinct members (``count`` < len(obj)), uniformly."""
    return random.sample(_members(obj), count)


def scan_members(obj, cursor: int, count: int):
    """One step of a cursor scan over a hashtable-encoded container: (next cursor, members)."""
    t = _track(obj)
    if t.scan_hashes is None or (cursor == 0 and t.scan_stale):
        pairs = sorted((hash(m) & HASH_MASK, m) for m in obj)
        t.scan_hashes = [h for h, _ in pairs]
        t.scan_items = [m for _, m in pairs]
        t.scan_stale = False
    hashes = t.scan_hashes
    items = t.scan_items
    n = len(hashes)
    i = bisect_left(hashes, cursor - 1) if cursor else 0
    out = []
    budget = count * 10  # Redis visits at most 10*COUNT buckets per call
    while i < n and len(out) < count and budget:
        m = items[i]
        if m in obj:
            out.append(m)
        i += 1
        budget -= 1
    # Never split members of one hash between two calls.
    while i < n and i > 0 and hashes[i] == hashes[i - 1]:
        if items[i] in obj:
            out.append(items[i])
        i += 1
    return (hashes[i] + 1 if i < n else 0), out


def parse_scan_cursor(arg: bytes):
    """parseScanCursorOrReply: strtoul's reading of a cursor, or None when invalid."""
    if not arg:
        return 0
    if arg[:1].isspace():
        return None
    s = arg
    neg = False
    if s[:1] in (b"+", b"-"):
        neg = s[:1] == b"-"
        s = s[1:]
    if not s.isdigit():
        return None
    v = int(s)
    if v > 2**64 - 1:
        return None  # ERANGE
    return (2**64 - v) % 2**64 if neg else v


def parse_scan_options(argv, first: int):
    """The COUNT/MATCH options of xSCAN: (count, match function or None), or an error frame."""
    count = 10
    pattern = None
    argc = len(argv)
    i = first
    while i < argc:
        more = argc - i
        opt = argv[i].lower()
        if opt == b"count" and more >= 2:
            count = parse_int(argv[i + 1])
            if count is None:
                return R.NOT_INTEGER
            if count < 1:
                return R.SYNTAX
            i += 2
        elif opt == b"match" and more >= 2:
            pattern = argv[i + 1]
            i += 2
        else:
            return R.SYNTAX
    match = None
    if pattern is not None and pattern != b"*":
        from ..keyspace.glob import compile_pattern

        match = compile_pattern(bytes(pattern))
    return count, match


def scan_reply(cursor: int, items: list) -> bytes:
    c = b"%d" % cursor
    return b"*2\r\n$%d\r\n%b\r\n" % (len(c), c) + bulk_array(items)


# --- set helpers --------------------------------------------------------------------------------


def _is_int(member: bytes) -> bool:
    return parse_int(member) is not None


def _ordered(s) -> list:
    """Members in Redis's iteration order where it is defined (intset: ascending)."""
    if s.encoding == b"intset":
        return sorted(s, key=int)
    return list(s)


def _new_set(first_member: bytes) -> Set:
    """setTypeCreate: an intset if the first member is an integer, else a hashtable."""
    s = Set()
    if not _is_int(first_member):
        s.encoding = b"hashtable"
    return s


def _set_add(s, member: bytes, max_intset: int) -> bool:
    """setTypeAdd with Redis's intset -> hashtable conversions; True when added."""
    if member in s:
        return False
    s.add(member)
    if s.encoding == b"intset" and (not _is_int(member) or len(s) > max_intset):
        s.encoding = b"hashtable"
    if _TRACKED:
        note_added(s, member)
    return True


def _set_remove(s, member: bytes) -> bool:
    if member not in s:
        return False
    s.discard(member)
    if _TRACKED:
        note_removed(s, member)
    return True


def _result_set(members, max_intset: int) -> Set:
    """A set built by adding ``members`` to an empty intset, as the STORE commands do."""
    s = Set(members)
    if len(s) > max_intset or not all(_is_int(m) for m in s):
        s.encoding = b"hashtable"
    return s


def _delete_key(c, db, key) -> None:
    """Delete an emptied set: the key goes, with a ``del`` event."""
    v = db.peek(key)
    db.delete(key)
    if v is not None and _TRACKED:
        forget(v)
    node = c.node
    if node.notify_flags:
        node.notify(kn.GENERIC, b"del", key, db.id)



def _set_reply(c, members) -> bytes:
    """A RESP3 set (RESP2 array) of bulk strings."""
    parts = [c.resp.set_header(len(members))]
    for m in members:
        parts.append(b"$%d\r\n%b\r\n" % (len(m), m))
    return b"".join(parts)


# --- commands -----------------------------------------------------------------------------------


@command("sadd", -3, "write denyoom fast", keys=(1, 1, 1), group="set", categories="set",
         summary="Add one or more members to a set", since="1.0.0",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
def sadd_command(c, argv):
    key = argv[1]
    db = c.db
    s = db.lookup_write(key)
    if len(argv) == 3 and s.__class__ is Set and s.encoding == b"hashtable":
        # Fast path: one member into a hashtable set, which has no conversion
        # to consider (it never turns back into an intset).  The steps of the
        # general path below, flat.
        m = argv[2]
        if m in s:
            return R.CZERO
        s.add(m)
        if _TRACKED:
            note_added(s, m)
        if db.watched:
            db.modified(key)
        node = c.node
        if node.notify_flags:
            node.notify(kn.SET, b"sadd", key, db.id)
        node.dirty += 1
        return R.CONE
    node = c.node
    if s is None:
        s = _new_set(argv[2])
        db.set(key, s)
    elif not isinstance(s, Set):
        return R.WRONGTYPE
    max_intset = node.config["set-max-intset-entries"]
    added = 0
    for m in argv[2:]:
        if _set_add(s, m, max_intset):
            added += 1
    if added:
        db.modified(key)
        if node.notify_flags:
            node.notify(kn.SET, b"sadd", key, db.id)
    node.dirty += added
    return b":%d\r\n" % added


@command("srem", -3, "write fast", keys=(1, 1, 1), group="set", categories="set",
         summary="Remove one or more members from a set", since="1.0.0",
         complexity="O(N) where N is the number of members to be removed.")
def srem_command(c, argv):
    key = argv[1]
    db = c.db
    s = db.lookup_write(key)
    if s is None:
        return R.CZERO
    if not isinstance(s, Set):
        return R.WRONGTYPE
    deleted = 0
    for m in argv[2:]:
        if _set_remove(s, m):
            deleted += 1
            if not s:
                break
    if deleted:
        node = c.node
        db.modified(key)
        if node.notify_flags:
            node.notify(kn.SET, b"srem", key, db.id)
        if not s:
            _delete_key(c, db, key)
        node.dirty += deleted
    return b":%d\r\n" % deleted


@command("smove", 4, "write fast", keys=(1, 2, 1), group="set", categories="set",
         summary="Move a member from one set to another", since="1.0.0", complexity="O(1)")
def smove_command(c, argv):
    srckey, dstkey, member = argv[1], argv[2], argv[3]
    db = c.db
    src = db.lookup_write(srckey)
    dst = db.lookup_write(dstkey)
    if src is None:
        return R.CZERO
    if not isinstance(src, Set) or (dst is not None and not isinstance(dst, Set)):
        return R.WRONGTYPE
    if src is dst:
        return R.CONE if member in src else R.CZERO
    if not _set_remove(src, member):
        return R.CZERO
    node = c.node
    if node.notify_flags:
        node.notify(kn.SET, b"srem", srckey, db.id)
    if not src:
        _delete_key(c, db, srckey)
    else:
        db.modified(srckey)
    if dst is None:
        dst = _new_set(member)
        db.set(dstkey, dst)
    else:
        db.modified(dstkey)
    node.dirty += 1
    if _set_add(dst, member, node.config["set-max-intset-entries"]):
        node.dirty += 1
        if node.notify_flags:
            node.notify(kn.SET, b"sadd", dstkey, db.id)
    return R.CONE


@command("sismember", 3, "readonly fast", keys=(1, 1, 1), group="set", categories="set",
         summary="Determine if a given value is a member of a set", since="1.0.0", complexity="O(1)")
def sismember_command(c, argv):
    s = c.db.lookup_read(argv[1])
    if s is None:
        return R.CZERO
    if not isinstance(s, Set):
        return R.WRONGTYPE
    return R.CONE if argv[2] in s else R.CZERO


@command("smismember", -3, "readonly fast", keys=(1, 1, 1), group="set", categories="set",
         summary="Returns the membership associated with the given elements for a set", since="6.2.0",
         complexity="O(N) where N is the number of elements being checked for membership")
def smismember_command(c, argv):
    s = c.db.lookup_read(argv[1])
    if s is None:
        s = ()
    elif not isinstance(s, Set):
        return R.WRONGTYPE
    members = argv[2:]
    return b"*%d\r\n" % len(members) + b"".join(R.CONE if m in s else R.CZERO for m in members)


@command("scard", 2, "readonly fast", keys=(1, 1, 1), group="set", categories="set",
         summary="Get the number of members in a set", since="1.0.0", complexity="O(1)")
def scard_command(c, argv):
    s = c.db.lookup_read(argv[1])
    if s is None:
        return R.CZERO
    if not isinstance(s, Set):
        return R.WRONGTYPE
    return b":%d\r\n" % len(s)


@command("smembers", 2, "readonly", keys=(1, 1, 1), group="set", categories="set",
         summary="Get all the members in a set", since="1.0.0",
         complexity="O(N) where N is the set cardinality.", tips=("nondeterministic_output_order",))
def smembers_command(c, argv):
    s = c.db.lookup_read(argv[1])
    if s is None:
        return c.resp.set_header(0)
    if not isinstance(s, Set):
        return R.WRONGTYPE
    return _set_reply(c, _ordered(s))


def _spop_with_count(c, argv) -> bytes:
    count = parse_int(argv[2])
    if count is None or count < 0:
        return R.MIN_ONE
    key = argv[1]
    db = c.db
    s = db.lookup_write(key)
    if s is None:
        return c.resp.set_header(0)
    if not isinstance(s, Set):
        return R.WRONGTYPE
    if count == 0:
        return c.resp.set_header(0)
    size = len(s)
    node = c.node
    if node.notify_flags:
        node.notify(kn.SET, b"spop", key, db.id)
    node.dirty += min(count, size)  # one change per member popped
    if count >= size:
        # The whole set goes: reply with it, delete the key, propagate a DEL.
        reply = _set_reply(c, _ordered(s))
        db.delete(key)
        if _TRACKED:
            forget(s)
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", key, db.id)
        _propagate_as(c, [b"DEL", key])
        return reply
    remaining = size - count
    if remaining * SPOP_MOVE_STRATEGY_MUL > count:
        popped = sample_members(s, count)
        for m in popped:
            _set_remove(s, m)
        db.modified(key)
    else:
        # Keep a random remainder in a new set (built as a new set is: its
        # encoding starts over), and return the rest.
        kept = sample_members(s, remaining)
        for m in kept:
            s.discard(m)
        popped = list(s) if s.encoding != b"intset" else sorted(s, key=int)
        newset = _new_set(kept[0])
        max_intset = node.config["set-max-intset-entries"]
        for m in kept:
            _set_add(newset, m, max_intset)
        if _TRACKED:
            forget(s)
        db.replace_value(key, newset)
        db.modified(key)
    # Propagated as the removal of exactly these members (Redis sends one
    # SREM per member inside MULTI/EXEC; one SREM with all of them is the
    # same change, applied atomically).
    _propagate_as(c, [b"SREM", key] + popped)
    return _set_reply(c, popped)


@command("spop", -2, "write fast", keys=(1, 1, 1), group="set", categories="set",
         summary="Remove and return one or multiple random members from a set", since="1.0.0",
         complexity="Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
         tips=("nondeterministic_output",))
def spop_command(c, argv):
    if len(argv) == 3:
        return _spop_with_count(c, argv)
    if len(argv) > 3:
        return R.SYNTAX
    key = argv[1]
    db = c.db
    s = db.lookup_write(key)
    if s.__class__ is Set and len(s) > 1:
        # Fast path: one member from a set that stays non-empty (no key
        # deletion).  The steps of the general path below, flat.
        m = pop_random_member(s)
        node = c.node
        if node.notify_flags:
            node.notify(kn.SET, b"spop", key, db.id)
        if node.propagate_hooks:
            c.propagate_argv = [b"SREM", key, m]
        if db.watched:
            db.modified(key)
        node.dirty += 1
        return b"$%d\r\n%b\r\n" % (len(m), m)
    if s is None:
        return c.resp.null
    if not isinstance(s, Set):
        return R.WRONGTYPE
    m = random_member(s)
    _set_remove(s, m)
    node = c.node
    if node.notify_flags:
        node.notify(kn.SET, b"spop", key, db.id)
    _propagate_as(c, [b"SREM", key, m])
    if not s:
        _delete_key(c, db, key)
    else:
        db.modified(key)
    node.dirty += 1
    return bulk(m)


@command("srandmember", -2, "readonly", keys=(1, 1, 1), group="set", categories="set",
         summary="Get one or multiple random members from a set", since="1.0.0",
         complexity="Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
         tips=("nondeterministic_output",))
def srandmember_command(c, argv):
    argc = len(argv)
    if argc == 3:
        count = parse_int(argv[2])
        if count is None:
            return R.NOT_INTEGER
        if count < -LONG_MAX:
            return R.COUNT_OUT_OF_LONG_RANGE
        s = c.db.lookup_read(argv[1])
        if s is None:
            return b"*0\r\n"
        if not isinstance(s, Set):
            return R.WRONGTYPE
        if count == 0:
            return b"*0\r\n"
        if count < 0:
            return bulk_array(random_members(s, -count))
        if count >= len(s):
            return bulk_array(_ordered(s))
        return bulk_array(sample_members(s, count))
    if argc > 3:
        return R.SYNTAX
    s = c.db.lookup_read(argv[1])
    if s is None:
        return c.resp.null
    if not isinstance(s, Set):
        return R.WRONGTYPE
    return bulk(random_member(s))


# --- algebra ---------------------------------------------------------------------------------------


def _lookup_sets(c, keys, write: bool):
    """Every key's set (None when missing), or WRONGTYPE if any key holds another type."""
    db = c.db
    lookup = db.lookup_write if write else db.lookup_read
    sets = []
    for k in keys:
        s = lookup(k)
        if s is not None and not isinstance(s, Set):
            return R.WRONGTYPE
        sets.append(s)
    return sets


def _intersection(sets: list, limit: int = 0):
    """Members of every set, in the iteration order of the smallest (stable by size)."""
    ordered = sorted(sets, key=len)
    first = ordered[0]
    others = [s for s in ordered[1:] if s is not first]
    out = []
    for m in _ordered(first):
        for s in others:
            if m not in s:
                break
        else:
            out.append(m)
            if limit and len(out) >= limit:
                break
    return out


def _store(c, dstkey, members, event: bytes) -> bytes:
    """Store a STORE command's result (or delete the destination when it is empty)."""
    db = c.db
    node = c.node
    old = db.peek(dstkey)
    if members:
        s = _result_set(members, node.config["set-max-intset-entries"])
        db.set(dstkey, s)
        if old is not None and _TRACKED:
            forget(old)
        if node.notify_flags:
            node.notify(kn.SET, event, dstkey, db.id)
        node.dirty += 1
        return b":%d\r\n" % len(s)
    if old is not None:
        # An empty result deletes the destination (nothing happens if there was none).
        db.delete(dstkey)
        if _TRACKED:
            forget(old)
        node.dirty += 1
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", dstkey, db.id)
    return R.CZERO


def _sinter_generic(c, keys, dstkey=None):
    sets = _lookup_sets(c, keys, dstkey is not None)
    if sets.__class__ is bytes:
        return sets
    if any(s is None for s in sets):
        if dstkey is None:
            return c.resp.set_header(0)
        db = c.db
        node = c.node
        old = db.peek(dstkey)
        if old is not None:
            db.delete(dstkey)
            if _TRACKED:
                forget(old)
            node.dirty += 1
            if node.notify_flags:
                node.notify(kn.GENERIC, b"del", dstkey, db.id)
        return R.CZERO
    members = _intersection(sets)
    if dstkey is None:
        return _set_reply(c, members)
    return _store(c, dstkey, members, b"sinterstore")


def _union_diff(sets: list, union: bool) -> list:
    if union:
        out = set()
        for s in sets:
            if s is not None:
                out |= s
        return out
    first = sets[0]
    if first is None:
        return set()
    out = set(first)
    for s in sets[1:]:
        if s is not None:
            if s is first:
                return set()
            out -= s
            if not out:
                break
    return out


def _sunion_diff_generic(c, keys, union: bool, dstkey=None):
    sets = _lookup_sets(c, keys, dstkey is not None)
    if sets.__class__ is bytes:
        return sets
    members = _union_diff(sets, union)
    if dstkey is None:
        result = _result_set(members, c.node.config["set-max-intset-entries"])
        return _set_reply(c, _ordered(result))
    return _store(c, dstkey, members, b"sunionstore" if union else b"sdiffstore")


@command("sinter", -2, "readonly", keys=(1, -1, 1), group="set", categories="set",
         summary="Intersect multiple sets", since="1.0.0",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
         tips=("nondeterministic_output_order",))
def sinter_command(c, argv):
    return _sinter_generic(c, argv[1:])


@command("sinterstore", -3, "write denyoom", keys=(1, -1, 1), group="set", categories="set",
         summary="Intersect multiple sets and store the resulting set in a key", since="1.0.0",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")
def sinterstore_command(c, argv):
    return _sinter_generic(c, argv[2:], argv[1])


def _sintercard_getkeys(argv):
    n = parse_int(argv[1]) if len(argv) > 1 else None
    if n is None or n <= 0 or n > len(argv) - 2:
        raise KeySpecError("numkeys")
    return list(range(2, 2 + n))


@command("sintercard", -3, "readonly", group="set", categories="set", getkeys=_sintercard_getkeys,
         summary="Intersect multiple sets and return the cardinality of the result", since="7.0.0",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")
def sintercard_command(c, argv):
    numkeys = parse_int(argv[1])
    if numkeys is None or numkeys <= 0:
        return R.NUMKEYS_NOT_POSITIVE
    argc = len(argv)
    if numkeys > argc - 2:
        return R.NUMKEYS_OVER_ARGS
    limit = 0
    j = 2 + numkeys
    while j < argc:
        if argv[j].upper() == b"LIMIT" and argc - 1 - j > 0:
            j += 1
            limit = parse_int(argv[j])
            if limit is None or limit < 0:
                return R.LIMIT_NEGATIVE
        else:
            return R.SYNTAX
        j += 1
    sets = _lookup_sets(c, argv[2:2 + numkeys], False)
    if sets.__class__ is bytes:
        return sets
    if any(s is None for s in sets):
        return R.CZERO
    return b":%d\r\n" % len(_intersection(sets, limit))


@command("sunion", -2, "readonly", keys=(1, -1, 1), group="set", categories="set",
         summary="Add multiple sets", since="1.0.0",
         complexity="O(N) where N is the total number of elements in all given sets.",
         tips=("nondeterministic_output_order",))
def sunion_command(c, argv):
    return _sunion_diff_generic(c, argv[1:], True)


@command("sunionstore", -3, "write denyoom", keys=(1, -1, 1), group="set", categories="set",
         summary="Add multiple sets and store the resulting set in a key", since="1.0.0",
         complexity="O(N) where N is the total number of elements in all given sets.")
def sunionstore_command(c, argv):
    return _sunion_diff_generic(c, argv[2:], True, argv[1])


@command("sdiff", -2, "readonly", keys=(1, -1, 1), group="set", categories="set",
         summary="Subtract multiple sets", since="1.0.0",
         complexity="O(N) where N is the total number of elements in all given sets.",
         tips=("nondeterministic_output_order",))
def sdiff_command(c, argv):
    return _sunion_diff_generic(c, argv[1:], False)


@command("sdiffstore", -3, "write denyoom", keys=(1, -1, 1), group="set", categories="set",
         summary="Subtract multiple sets and store the resulting set in a key", since="1.0.0",
         complexity="O(N) where N is the total number of elements in all given sets.")
def sdiffstore_command(c, argv):
    return _sunion_diff_generic(c, argv[2:], False, argv[1])


@command("sscan", -3, "readonly", keys=(1, 1, 1), group="set", categories="set",
         summary="Incrementally iterate Set elements", since="2.8.0",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command calls "
                    "for the cursor to return back to 0. N is the number of elements inside the collection..",
         tips=("nondeterministic_output",))
def sscan_command(c, argv):
    cursor = parse_scan_cursor(argv[2])
    if cursor is None:
        return R.INVALID_CURSOR
    s = c.db.lookup_read(argv[1])
    if s is None:
        return _EMPTY_SCAN
    if not isinstance(s, Set):
        return R.WRONGTYPE
    opts = parse_scan_options(argv, 3)
    if opts.__class__ is bytes:
        return opts
    count, match = opts
    if s.encoding == b"intset":
        cursor, items = 0, _ordered(s)
    else:
        cursor, items = scan_members(s, cursor, count)
    if match is not None:
        items = [m for m in items if match(m)]
    return scan_reply(cursor, items)


__all__ = [
    "note_added",
    "note_removed",
    "forget",
    "random_member",
    "random_members",
    "sample_members",
    "scan_members",
    "parse_scan_cursor",
    "parse_scan_options",
    "scan_reply",
]


# --- batch forms (a pipeline of one command at once: connection.run_uniform) ----------------------
#
# Each does exactly what its handler would do request by request, or declines
# (returns None) having changed nothing.  The common shape is one key for the
# whole pipeline (redis-benchmark's SADD/SPOP myset), so requests on several
# keys, keyspace events, WATCHed keys and keys with a TTL are declined by the
# writes.  Replies are built without a format per request: flags become the
# bytes of one ``bytes`` object, expanded by ``replace`` into ``:1``/``:0``
# frames, and bulk strings of one length share one header (bulk_replies).

_NOT = bytes.maketrans(b"\x00\x01", b"\x01\x00")


def flatten_columns(columns, first: int, step: int = 1) -> list:
    """Arguments first, first+step ... of every request, request after request."""
    if len(columns) <= first + step:
        return columns[first]
    return list(chain.from_iterable(zip(*columns[first::step])))


def gains(items: list, present: list, added: int) -> bytes:
    """Per item, 1 when its occurrence adds it, 0 when the container already holds it (as bytes).

    ``present`` says which items the container held before the batch and
    ``added`` how many it gained.  When every absent item is distinct (the
    common case) an item is added exactly when it was absent; otherwise the
    first occurrence of a repeated absent item adds it, the later ones find it.
    """
    if present.count(False) == added:
        return bytes(present).translate(_NOT)
    seen = set()
    out = bytearray()
    for x, p in zip(items, present):
        if p or x in seen:
            out.append(0)
        else:
            seen.add(x)
            out.append(1)
    return bytes(out)


def flag_replies(flags: bytes) -> bytes:
    """``:1`` for every 1 byte of ``flags``, ``:0`` for every 0 byte, in order."""
    return flags.replace(b"\x01", R.CONE).replace(b"\x00", R.CZERO)


def count_replies(flags: bytes, per_request: int) -> bytes:
    """The ``:n`` replies of requests of ``per_request`` items each, n the sum of their flags."""
    if per_request == 1:
        return flag_replies(flags)
    counts = list(map(sum, zip(*[iter(flags)] * per_request)))
    if per_request > 9:
        return b"".join(map(b":%d\r\n".__mod__, counts))
    # Each count is then one byte below 10 (not "\r" nor "\n"), and no frame
    # holds such a byte: the replacements cannot meet each other's output.
    out = bytes(counts)
    for n in set(counts):
        out = out.replace(bytes((n,)), b":%d\r\n" % n)
    return out


@batch("sadd")
def sadd_batch(c, columns, m):
    """m SADDs to one key: one ``set.update`` for every member, replies from one membership pass.

    The encoding ends where the handler's conversions would leave it: an
    intset becomes a hashtable once a non-integer member is added or it
    grows past set-max-intset-entries, and a set only grows here, so
    checking the members added and the final size is checking every step.
    A missing key is created as the first request would create it.
    """
    db = c.db
    key = db.batch_key(columns[1], m)
    if key is None:
        return None
    node = c.node
    s = db.data.get(key)
    if s is not None and s.__class__ is not Set:
        return None  # WRONGTYPE
    members = columns[2] if len(columns) == 3 else flatten_columns(columns, 2)
    if s is None:
        s = _new_set(members[0])
        db.set(key, s)
    present = list(map(s.__contains__, members))
    before = len(s)
    s.update(members)
    added = len(s) - before
    flags = gains(members, present, added)
    if added:
        if s.encoding == b"intset" and (
            len(s) > node.config["set-max-intset-entries"] or not all(map(_is_int, compress(members, flags)))
        ):
            s.encoding = b"hashtable"
        if _TRACKED:
            for x in compress(members, flags):
                note_added(s, x)
        node.dirty += added
    db.access[key] = node.lru_clock
    return count_replies(flags, len(columns) - 2)


def _pop_many(s, k: int) -> list:
    """k successive ``pop_random_member(s)`` draws (k <= len(s)), the same random numbers used the same way.

    When every draw finds the side index exact and the set at least
    SAMPLE_INDEX_MIN large, pop_random_member's swap-removal runs inline,
    and the members leave the set at the end, in one call.  (A loop of
    plain statements: 3.11's specialised bytecodes cost less here than
    chained ``map``/``starmap`` calls, counted with callgrind.)
    """
    n = len(s)
    if n - k + 1 >= SAMPLE_INDEX_MIN:
        t = _TRACKED.get(id(s))
        if t is not None and t.obj is s and t.items is not None and len(t.items) == n:
            items = t.items
            pos = t.pos
            pop = items.pop
            out = []
            append = out.append
            for size in range(n, n - k, -1):
                i = _floor(_random() * size)  # int(): the same for a non-negative float, without a type call
                x = items[i]
                last = pop()
                del pos[x]
                if last is not x:  # x was not at the end: the last member takes its place
                    items[i] = last
                    pos[last] = i
                append(x)
            s.difference_update(out)
            return out
    return [pop_random_member(s) for _ in range(k)]


@batch("spop")
def spop_batch(c, columns, m):
    """m SPOPs (no count) of one key: the members drawn as the handler draws them, then the replies at once.

    Each request pops one member while there is one; the request that takes
    the last deletes the key, and the requests after it find none (null).
    Nothing is propagated on the fast path, so no SREM rewrite is left on
    the client (the handler sets none there either).
    """
    if len(columns) != 2:
        return None  # SPOP key count: the handler
    db = c.db
    key = db.batch_key(columns[1], m)
    if key is None:
        return None
    s = db.data.get(key)
    if s is None:
        return c.resp.null * m  # lookup_write of a missing key counts nothing
    node = c.node
    if s.__class__ is not Set:
        return None
    n = len(s)
    k = m if m < n else n
    popped = _pop_many(s, k)
    node.dirty += k
    if k == n:
        _delete_key(c, db, key)
        return bulk_replies(popped) + c.resp.null * (m - k)
    db.access[key] = node.lru_clock
    return bulk_replies(popped)


_SET_ONLY = {Set}


@batch("sismember")
def sismember_batch(c, columns, m):
    """m SISMEMBERs: the lookups (statistics, LRU clock) and membership tests in C-level passes."""
    sets = c.db.lookup_read_batch(columns[1], _SET_ONLY)
    if sets is None:
        return None
    if None in sets:
        return flag_replies(bytes([s is not None and x in s for s, x in zip(sets, columns[2])]))
    return flag_replies(bytes(map(set.__contains__, sets, columns[2])))
