"""Sorted-set commands (t_zset.c): ZADD and friends, ranges, set algebra, pops, ZSCAN.

Values are ``keyspace.objects.ZSet``: a dict member -> score next to a
SortedList of (score, member), which is Redis's dict + skiplist pair with the
skiplist's order.  Rank lookups and rank ranges use the SortedList's
positional index (O(log n) to reach a rank, then a slice), score ranges
bisect on ``(score,)`` keys, so ZRANGE on a million-member set costs what
the reply costs.

What clients can see is reproduced from Redis 7.0 to the byte, including
the corners that follow from Redis's C code rather than from its docs:

* numbers: scores and weights are read with ``string2d`` rules (strtod, no
  leading space, no trailing bytes, no NaN, overflow and underflow to zero
  refused; hex floats and "inf"/"infinity" accepted), range bounds with
  zslParseRange's plain strtod on the C string (so "" is 0, "1e400" is inf
  and anything after a NUL byte is ignored), lex bounds with
  zslParseLexRangeItem;
* encodings: a set starts as a listpack and becomes a skiplist when an
  insert would exceed zset-max-listpack-entries or -value; results of
  ZUNIONSTORE & co are built as skiplists and compacted when they fit; a
  listpack stores -0 as 0 (see ZSet);
* lex ranges on a listpack are evaluated with Redis's linear scans, which
  also fixes what they return when scores differ (documented as undefined,
  but deterministic for a listpack); on a skiplist the equal-score
  assumption is used to bisect;
* iteration order where it leaks: Redis's set-operation iterator walks a
  sorted set from its tail, which is the order ZRANDMEMBER returns a whole
  set in;
* keyspace events (zadd, zincr, zrem, zremrangeby*, z*store, zpopmin/max,
  del, new), ``node.dirty`` increments and propagation rewrites (ZMPOP and
  served blocking pops replicate as ZPOPMIN/ZPOPMAX with a count).

Blocking pops (BZPOPMIN, BZPOPMAX, BZMPOP) go through keyspace.blocking; a
handler that creates a sorted set calls ``signal_key_ready`` so waiting
clients are served after it.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_left, bisect_right, insort
from collections import deque
from itertools import compress, repeat
from math import copysign, inf, nextafter
from operator import is_, ne

from sortedcontainers import SortedList

from ..keyspace import notify as kn
from ..keyspace.blocking import (
    block_for_keys,
    deadline_ms,
    must_not_block,
    parse_timeout,
    signal_key_ready,
)
from ..keyspace.glob import compile_pattern
from ..keyspace.objects import Set, ZSet
from ..protocol.resp import format_double
from ..server import replies as R
from ..server.commandtable import KeySpecError, batch, command
from ..server.dispatch import propagate_as as _propagate_as
from .strings import parse_int

LONG_MAX = 2**63 - 1
ULONG_MAX = 2**64 - 1

ZSET_MIN = 0
ZSET_MAX = 1
_POP_NAME = (b"ZPOPMIN", b"ZPOPMAX")
_POP_EVENT = (b"zpopmin", b"zpopmax")

EMPTY_ARRAY = b"*0\r\n"
EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"


# --- numbers ----------------------------------------------------------------------------

# glibc strtod's grammar (C locale) for what may follow optional leading spaces.
_STRTOD = re.compile(
    rb"""[+-]?(?:
        (?P<inf>inf(?:inity)?)
      | (?P<nan>nan(?:\([0-9a-z_]*\))?)
      | (?P<hex>0x(?:[0-9a-f]+(?:\.[0-9a-f]*)?|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?)
      | (?P<dec>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?)
    )""",
    re.X | re.I,
)
_SPACES = b" \t\n\v\f\r"


def _strtod(b: bytes, pos: int = 0):
    """strtod from ``pos`` (no space skipping): (value, end, range_error) or None if nothing parses."""
    m = _STRTOD.match(b, pos)
    if m is None:
        return None
    neg = b[pos] == 45  # '-'
    if m.group("inf") is not None:
        v = inf
        erange = False
    elif m.group("nan") is not None:
        v = float("nan")
        erange = False
    elif m.group("hex") is not None:
        text = m.group("hex")
        try:
            v = float.fromhex(text.decode())
        except OverflowError:
            v = inf
        erange = v == inf or (v == 0.0 and text.split(b"p")[0].split(b"P")[0].strip(b"0xX.") != b"")
    else:
        text = m.group("dec")
        v = float(text)
        mant = text.split(b"e")[0].split(b"E")[0]
        erange = v == inf or (v == 0.0 and mant.strip(b"0.") != b"")
    return (-v if neg else v), m.end(), erange


def parse_score(b: bytes):
    """getDoubleFromObject (string2d): a float, or None for Redis's "not a valid float"."""
    if b.isdigit() and len(b) < 16:
        return float(b)
    if not b or b[0] in _SPACES:
        return None
    r = _strtod(b)
    if r is None:
        return None
    v, end, erange = r
    if end != len(b) or erange or v != v:
        return None
    return v


def score_text(d: float) -> bytes:
    """A score as Redis prints it: format_double, minus its cost for finite scores.

    format_double spells the non-finite values (nan, inf, -inf) and is
    otherwise %.17g; a finite score (the usual case) goes straight to %.17g,
    one comparison instead of format_double's three and its call.
    """
    if -inf < d < inf:
        return b"%.17g" % d
    return format_double(d)


def _cstr_end(b: bytes, end: int) -> bool:
    """True when a C parser stopped at ``end`` would see the end of the string (or a NUL)."""
    return end == len(b) or b[end] == 0


def _parse_score_bound(b: bytes):
    """One bound of zslParseRange: (value, exclusive) or None."""
    ex = False
    pos = 0
    if b[:1] == b"(":
        ex = True
        pos = 1
    start = pos
    n = len(b)
    while pos < n and b[pos] in _SPACES:
        pos += 1
    r = _strtod(b, pos)
    if r is None:
        # No conversion: strtod returns 0 with its end pointer at the start.
        return (0.0, ex) if _cstr_end(b, start) else None
    v, end, _ = r
    if not _cstr_end(b, end) or v != v:
        return None
    return v, ex


def parse_score_range(bmin: bytes, bmax: bytes):
    """zslParseRange: (min, minex, max, maxex) or None ("min or max is not a float")."""
    lo = _parse_score_bound(bmin)
    if lo is None:
        return None
    hi = _parse_score_bound(bmax)
    if hi is None:
        return None
    return lo[0], lo[1], hi[0], hi[1]


class _LexBound:
    """The "-" and "+" lex bounds (Redis's shared.minstring / maxstring)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


LEX_MIN = _LexBound("-")
LEX_MAX = _LexBound("+")


def _parse_lex_item(b: bytes):
    """zslParseLexRangeItem: (bound, exclusive) or None."""
    c0 = b[0] if b else 0
    if c0 == 43:  # '+'
        return (LEX_MAX, True) if len(b) == 1 or b[1] == 0 else None
    if c0 == 45:  # '-'
        return (LEX_MIN, True) if len(b) == 1 or b[1] == 0 else None
    if c0 == 40:  # '('
        return b[1:], True
    if c0 == 91:  # '['
        return b[1:], False
    return None


def parse_lex_range(bmin: bytes, bmax: bytes):
    """zslParseLexRange: (min, minex, max, maxex) or None ("not valid string range item")."""
    lo = _parse_lex_item(bmin)
    if lo is None:
        return None
    hi = _parse_lex_item(bmax)
    if hi is None:
        return None
    return lo[0], lo[1], hi[0], hi[1]


def _lex_cmp(a, b) -> int:
    """sdscmplex: bytes order with "-"/"+" as -inf/+inf (a bound equals only itself)."""
    if a is b:
        return 0
    if a is LEX_MIN or b is LEX_MAX:
        return -1
    if a is LEX_MAX or b is LEX_MIN:
        return 1
    return (a > b) - (a < b)


def _lex_gte_min(v: bytes, spec) -> bool:
    mn = spec[0]
    if mn is LEX_MIN:
        return True
    if mn is LEX_MAX:
        return False
    return v > mn if spec[1] else v >= mn


def _lex_lte_max(v: bytes, spec) -> bool:
    mx = spec[2]
    if mx is LEX_MAX:
        return True
    if mx is LEX_MIN:
        return False
    return v < mx if spec[3] else v <= mx


def _lex_range_empty(spec) -> bool:
    cmp = _lex_cmp(spec[0], spec[2])
    return cmp > 0 or (cmp == 0 and (spec[1] or spec[3]))


def _opt(b: bytes) -> bytes:
    """An option word as strcasecmp sees it: lower case, up to the first NUL."""
    i = b.find(b"\0")
    return (b if i < 0 else b[:i]).lower()


def _positive_long(b: bytes):
    """getPositiveLongFromObjectOrReply (no custom message): value or the error frame."""
    v = parse_int(b)
    if v is None or v < 0:
        return R.MIN_ONE
    return v


# --- range positions ----------------------------------------------------------------------


def _score_bounds(z: ZSet, spec):
    """[lo, hi): the ranks of the members whose scores are inside ``spec``."""
    mn, minex, mx, maxex = spec
    sl = z.sl
    n = len(sl)
    if minex:
        lo = n if mn == inf else sl.bisect_left((nextafter(mn, inf),))
    else:
        lo = sl.bisect_left((mn,))
    if maxex:
        hi = sl.bisect_left((mx,))
    else:
        hi = n if mx == inf else sl.bisect_left((nextafter(mx, inf),))
    return lo, max(lo, hi)


def _bisect_pred(sl, lo: int, hi: int, pred) -> int:
    """First rank in [lo, hi) whose member makes ``pred`` false (pred monotone true->false)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(sl[mid][1]):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _lex_first(z: ZSet, spec) -> int:
    """zzlFirstInLexRange / zslFirstInLexRange: rank of the first member in range, or -1."""
    sl = z.sl
    n = len(sl)
    if not n or _lex_range_empty(spec):
        return -1
    if not _lex_gte_min(sl[-1][1], spec) or not _lex_lte_max(sl[0][1], spec):
        return -1
    if z.encoding == b"listpack":
        for i, (_, m) in enumerate(sl):
            if _lex_gte_min(m, spec):
                return i if _lex_lte_max(m, spec) else -1
        return -1
    i = _bisect_pred(sl, 0, n, lambda m: not _lex_gte_min(m, spec))
    if i >= n or not _lex_lte_max(sl[i][1], spec):
        return -1
    return i


def _lex_last(z: ZSet, spec) -> int:
    """zzlLastInLexRange / zslLastInLexRange: rank of the last member in range, or -1."""
    sl = z.sl
    n = len(sl)
    if not n or _lex_range_empty(spec):
        return -1
    if not _lex_gte_min(sl[-1][1], spec) or not _lex_lte_max(sl[0][1], spec):
        return -1
    if z.encoding == b"listpack":
        for i in range(n - 1, -1, -1):
            m = sl[i][1]
            if _lex_lte_max(m, spec):
                return i if _lex_gte_min(m, spec) else -1
        return -1
    i = _bisect_pred(sl, 0, n, lambda m: _lex_lte_max(m, spec)) - 1
    if i < 0 or not _lex_gte_min(sl[i][1], spec):
        return -1
    return i


def _lex_run_end(z: ZSet, spec, first: int) -> int:
    """From an in-range rank, the end of the forward run of members <= max."""
    sl = z.sl
    n = len(sl)
    if z.encoding == b"listpack":
        i = first
        while i < n and _lex_lte_max(sl[i][1], spec):
            i += 1
        return i
    return _bisect_pred(sl, first, n, lambda m: _lex_lte_max(m, spec))


def _lex_run_start(z: ZSet, spec, last: int) -> int:
    """From an in-range rank, the start of the backward run of members >= min."""
    sl = z.sl
    if z.encoding == b"listpack":
        i = last
        while i >= 0 and _lex_gte_min(sl[i][1], spec):
            i -= 1
        return i + 1
    return _bisect_pred(sl, 0, last + 1, lambda m: not _lex_gte_min(m, spec))


def _window(lo: int, hi: int, offset: int, limit: int, reverse: bool):
    """Apply ZRANGEBYSCORE/BYLEX's LIMIT to the in-range ranks [lo, hi): a rank range.

    Redis skips ``offset`` members one by one (a negative offset never stops
    skipping, so it yields nothing) and then emits while ``limit--`` is
    non-zero (a negative limit means no limit).
    """
    if offset < 0:
        return 0, 0
    if reverse:
        top = hi - offset
        if top <= lo:
            return 0, 0
        bottom = lo if limit < 0 else max(lo, top - limit)
        return bottom, top
    start = lo + offset
    if start >= hi:
        return 0, 0
    stop = hi if limit < 0 else min(hi, start + limit)
    return start, stop


def _items(z: ZSet, start: int, stop: int, reverse: bool) -> list:
    if stop <= start:
        return []
    return list(z.sl.islice(start, stop, reverse=reverse))


# --- replies ------------------------------------------------------------------------------


def _reply_items(c, items, withscores: bool) -> bytes:
    """An array of members, with their scores flat (RESP2) or as pairs (RESP3)."""
    if not withscores:
        out = [b"*%d\r\n" % len(items)]
        out += [b"$%d\r\n%b\r\n" % (len(m), m) for _, m in items]
        return b"".join(out)
    if c.resp.version == 2:
        out = [b"*%d\r\n" % (2 * len(items))]
        for s, m in items:
            f = score_text(s)
            out.append(b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(m), m, len(f), f))
    else:
        out = [b"*%d\r\n" % len(items)]
        for s, m in items:
            out.append(b"*2\r\n$%d\r\n%b\r\n,%b\r\n" % (len(m), m, score_text(s)))
    return b"".join(out)


def _limits(c):
    cfg = c.node.config
    return cfg["zset-max-listpack-entries"], cfg["zset-max-listpack-value"]


def _new_key(c, db, key, value) -> None:
    """dbAdd: store a new key (Database.set sends the "new" event)."""
    db.set(key, value)


def _signal(db, key) -> None:
    if db.blocking and key in db.blocking:
        signal_key_ready(db, key)


def _store_result(c, dstkey: bytes, z: ZSet, event: bytes) -> bytes:
    """setKey of a non-empty result, or deletion of the destination for an empty one."""
    db = c.db
    node = c.node
    n = len(z)
    if n:
        existed = db.lookup_write(dstkey) is not None
        db.set(dstkey, z)
        if node.notify_flags:
            node.notify(kn.ZSET, event, dstkey, db.id)
        node.dirty += 1
        if not existed:
            _signal(db, dstkey)
        return b":%d\r\n" % n
    if db.delete(dstkey):
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", dstkey, db.id)
        node.dirty += 1
    return R.CZERO



def _deleted_if_empty(c, db, key, z: ZSet) -> bool:
    if len(z):
        return False
    db.delete(key)
    node = c.node
    if node.notify_flags:
        node.notify(kn.GENERIC, b"del", key, db.id)
    return True


# --- key specs (COMMAND INFO, COMMAND GETKEYSANDFLAGS) ---------------------------------------------


def _spec(flags: str, index: int, lastkey: int = 0) -> dict:
    return {"flags": tuple(flags.split()), "begin_search": ("index", index), "find_keys": ("range", lastkey, 1, 0)}


def _keynum_spec(flags: str, index: int) -> dict:
    return {"flags": tuple(flags.split()), "begin_search": ("index", index), "find_keys": ("keynum", 0, 1, 1)}


_RW_DELETE = (_spec("RW delete", 1),)
_RW_POP = (_spec("RW access delete", 1),)
_STORE_SPECS = (_spec("OW update", 1), _keynum_spec("RO access", 2))
_READ_KEYNUM = (_keynum_spec("RO access", 1),)


# --- ZADD / ZINCRBY ----------------------------------------------------------------------------

ZADD_INCR = 1
ZADD_NX = 2
ZADD_XX = 4
ZADD_GT = 8
ZADD_LT = 16
ZADD_CH = 32
_ZADD_OPTS = {b"nx": ZADD_NX, b"xx": ZADD_XX, b"ch": ZADD_CH, b"incr": ZADD_INCR, b"gt": ZADD_GT, b"lt": ZADD_LT}


def _zadd_generic(c, argv, flags: int) -> bytes:
    """zaddGenericCommand for ZADD and ZINCRBY (which starts with the INCR flag)."""
    argc = len(argv)
    i = 2
    opts = _ZADD_OPTS
    while i < argc:
        f = opts.get(argv[i].lower())
        if f is None:
            if argv[i].find(b"\0") < 0:
                break
            f = opts.get(_opt(argv[i]))
            if f is None:
                break
        flags |= f
        i += 1
    elements = argc - i
    if elements & 1 or not elements:
        return R.SYNTAX
    nx = flags & ZADD_NX
    xx = flags & ZADD_XX
    gt = flags & ZADD_GT
    lt = flags & ZADD_LT
    incr = flags & ZADD_INCR
    if nx and xx:
        return R.ZADD_NX_XX
    if (gt and nx) or (lt and nx) or (gt and lt):
        return R.GT_LT_NX
    if incr and elements > 2:
        return R.ZADD_INCR_PAIR
    pairs = []
    for j in range(i, argc, 2):
        b = argv[j]
        score = float(b) if b.isdigit() and len(b) < 16 else parse_score(b)
        if score is None:
            return R.NOT_FLOAT
        pairs.append((score, argv[j + 1]))

    db = c.db
    key = argv[1]
    z = db.lookup_write(key)
    created = False
    if z is None:
        if xx:
            return c.resp.null if incr else R.CZERO
        z = ZSet()
        _new_key(c, db, key, z)
        created = True
    elif z.__class__ is not ZSet:
        return R.WRONGTYPE

    max_entries, max_value = _limits(c)
    d = z.dict
    added = updated = processed = 0
    score = 0.0
    for score, member in pairs:
        cur = d.get(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if score != score:
                    return R.ZSET_NAN
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            if score != cur:
                z.update(member, cur, score)
                updated += 1
        elif not xx:
            z.insert(member, score, max_entries, max_value)
            added += 1
            processed += 1
    node = c.node
    changed = added + updated
    if changed:
        node.dirty += changed
        if not created:
            db.modified(key)
        if node.notify_flags:
            node.notify(kn.ZSET, b"zincr" if incr else b"zadd", key, db.id)
        if created:
            _signal(db, key)
    if incr:
        return c.resp.double(score) if processed else c.resp.null
    n = changed if flags & ZADD_CH else added
    return b":%d\r\n" % n


@command("zadd", -4, "write denyoom fast", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Add one or more members to a sorted set, or update its score if it already exists",
         since="1.2.0",
         complexity="O(log(N)) for each item added, where N is the number of elements in the sorted set.")
def zadd_command(c, argv):
    if len(argv) == 4:
        # The common "ZADD key <integer score> member" (redis-benchmark's), flat.
        # A score made of digits only cannot be an option and parses exactly as float().
        b = argv[2]
        if b.isdigit() and len(b) < 16:
            db = c.db
            key = argv[1]
            z = db.lookup_write(key)
            if z.__class__ is ZSet:
                member = argv[3]
                score = float(b)
                cur = z.dict.get(member)
                if cur == score:
                    return R.CZERO
                node = c.node
                if cur is None:
                    if z.encoding == b"skiplist":
                        # A skiplist has no limits to apply (it never converts
                        # back): a plain insert, without reading the config.
                        z.add(member, score)
                    else:
                        cfg = node.config
                        z.insert(member, score, cfg["zset-max-listpack-entries"], cfg["zset-max-listpack-value"])
                    reply = R.CONE
                else:
                    z.update(member, cur, score)
                    reply = R.CZERO
                node.dirty += 1
                if db.watched:
                    db.modified(key)
                if node.notify_flags:
                    node.notify(kn.ZSET, b"zadd", key, db.id)
                return reply
    return _zadd_generic(c, argv, 0)


@command("zincrby", 4, "write denyoom fast", keys=(1, 1, 1), group="sorted-set", key_specs=(_spec("RW access update", 1),), categories="sortedset",
         summary="Increment the score of a member in a sorted set", since="1.2.0",
         complexity="O(log(N)) where N is the number of elements in the sorted set.")
def zincrby_command(c, argv):
    return _zadd_generic(c, argv, ZADD_INCR)


# --- ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK --------------------------------------------------------


def _read_zset(c, key):
    """lookupKeyRead + checkType: the ZSet, None when missing, or R.WRONGTYPE."""
    z = c.db.lookup_read(key)
    if z is None or z.__class__ is ZSet:
        return z
    return R.WRONGTYPE


@command("zrem", -3, "write fast", keys=(1, 1, 1), group="sorted-set", key_specs=_RW_DELETE, categories="sortedset",
         summary="Remove one or more members from a sorted set", since="1.2.0",
         complexity="O(M*log(N)) with N being the number of elements in the sorted set and M the "
                    "number of elements to be removed.")
def zrem_command(c, argv):
    db = c.db
    key = argv[1]
    z = db.lookup_write(key)
    if z is None:
        return R.CZERO
    if z.__class__ is not ZSet:
        return R.WRONGTYPE
    deleted = 0
    keyremoved = False
    for member in argv[2:]:
        if z.remove(member):
            deleted += 1
            if not len(z):
                db.delete(key)
                keyremoved = True
                break
    if deleted:
        node = c.node
        if node.notify_flags:
            node.notify(kn.ZSET, b"zrem", key, db.id)
            if keyremoved:
                node.notify(kn.GENERIC, b"del", key, db.id)
        if not keyremoved:
            db.modified(key)
        node.dirty += deleted
    return b":%d\r\n" % deleted


@command("zcard", 2, "readonly fast", keys=(1, 1, 1), group="sorted-set", key_specs=(_spec("RO", 1),), categories="sortedset",
         summary="Get the number of members in a sorted set", since="1.2.0", complexity="O(1)")
def zcard_command(c, argv):
    z = _read_zset(c, argv[1])
    if z is None:
        return R.CZERO
    if z is R.WRONGTYPE:
        return z
    return b":%d\r\n" % len(z)


@command("zscore", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Get the score associated with the given member in a sorted set", since="1.2.0",
         complexity="O(1)")
def zscore_command(c, argv):
    z = _read_zset(c, argv[1])
    if z is None:
        return c.resp.null
    if z is R.WRONGTYPE:
        return z
    s = z.dict.get(argv[2])
    return c.resp.null if s is None else c.resp.double(s)


@command("zmscore", -3, "readonly fast", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Get the score associated with the given members in a sorted set", since="6.2.0",
         complexity="O(N) where N is the number of members being requested.")
def zmscore_command(c, argv):
    z = _read_zset(c, argv[1])
    if z is R.WRONGTYPE:
        return z
    null = c.resp.null
    dbl = c.resp.double
    out = [b"*%d\r\n" % (len(argv) - 2)]
    d = z.dict if z is not None else {}
    for member in argv[2:]:
        s = d.get(member)
        out.append(null if s is None else dbl(s))
    return b"".join(out)


def _zrank_generic(c, argv, reverse: bool) -> bytes:
    z = _read_zset(c, argv[1])
    if z is None:
        return c.resp.null
    if z is R.WRONGTYPE:
        return z
    r = z.rank(argv[2])
    if r is None:
        return c.resp.null
    return b":%d\r\n" % (len(z) - 1 - r if reverse else r)


@command("zrank", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Determine the index of a member in a sorted set", since="2.0.0", complexity="O(log(N))")
def zrank_command(c, argv):
    return _zrank_generic(c, argv, False)


@command("zrevrank", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Determine the index of a member in a sorted set, with scores ordered from high to low",
         since="2.0.0", complexity="O(log(N))")
def zrevrank_command(c, argv):
    return _zrank_generic(c, argv, True)


# --- ZCOUNT, ZLEXCOUNT ------------------------------------------------------------------------


@command("zcount", 4, "readonly fast", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Count the members in a sorted set with scores within the given values", since="2.0.0",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def zcount_command(c, argv):
    spec = parse_score_range(argv[2], argv[3])
    if spec is None:
        return R.ZRANGE_NOT_FLOAT
    z = _read_zset(c, argv[1])
    if z is None:
        return R.CZERO
    if z is R.WRONGTYPE:
        return z
    lo, hi = _score_bounds(z, spec)
    return b":%d\r\n" % (hi - lo)


@command("zlexcount", 4, "readonly fast", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Count the number of members in a sorted set between a given lexicographical range",
         since="2.8.9", complexity="O(log(N)) with N being the number of elements in the sorted set.")
def zlexcount_command(c, argv):
    spec = parse_lex_range(argv[2], argv[3])
    if spec is None:
        return R.ZRANGE_NOT_LEX
    z = _read_zset(c, argv[1])
    if z is None:
        return R.CZERO
    if z is R.WRONGTYPE:
        return z
    first = _lex_first(z, spec)
    if first < 0:
        return R.CZERO
    if z.encoding == b"listpack":
        return b":%d\r\n" % (_lex_run_end(z, spec, first) - first)
    last = _lex_last(z, spec)
    n = last - first + 1 if last >= first else 0
    return b":%d\r\n" % n


# --- ZRANGE and its variants ---------------------------------------------------------------------

RANGE_AUTO = 0
RANGE_RANK = 1
RANGE_SCORE = 2
RANGE_LEX = 3
DIR_AUTO = 0
DIR_FORWARD = 1
DIR_REVERSE = 2


def _zrange_generic(c, argv, argc_start: int, store: bool, rangetype: int, direction: int):
    """zrangeGenericCommand: every ZRANGE form, and ZRANGESTORE when ``store``."""
    argc = len(argv)
    key = argv[argc_start]
    minidx = argc_start + 1
    maxidx = argc_start + 2
    withscores = False
    offset = 0
    limit = -1
    j = argc_start + 3
    while j < argc:
        leftargs = argc - j - 1
        opt = _opt(argv[j])
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and leftargs >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            if offset is None or limit is None:
                return R.NOT_INTEGER
            j += 2
        elif direction == DIR_AUTO and opt == b"rev":
            direction = DIR_REVERSE
        elif rangetype == RANGE_AUTO and opt == b"bylex":
            rangetype = RANGE_LEX
        elif rangetype == RANGE_AUTO and opt == b"byscore":
            rangetype = RANGE_SCORE
        else:
            return R.SYNTAX
        j += 1
    if direction == DIR_AUTO:
        direction = DIR_FORWARD
    if rangetype == RANGE_AUTO:
        rangetype = RANGE_RANK
    if limit != -1 and rangetype == RANGE_RANK:
        return R.ZRANGE_LIMIT
    if withscores and rangetype == RANGE_LEX:
        return R.ZRANGE_WITHSCORES_BYLEX
    reverse = direction == DIR_REVERSE
    if reverse and rangetype != RANGE_RANK:
        minidx, maxidx = maxidx, minidx

    if rangetype == RANGE_RANK:
        start = parse_int(argv[minidx])
        end = parse_int(argv[maxidx])
        if start is None or end is None:
            return R.NOT_INTEGER
    elif rangetype == RANGE_SCORE:
        spec = parse_score_range(argv[minidx], argv[maxidx])
        if spec is None:
            return R.ZRANGE_NOT_FLOAT
    else:
        spec = parse_lex_range(argv[minidx], argv[maxidx])
        if spec is None:
            return R.ZRANGE_NOT_LEX

    z = c.db.lookup_read(key)
    if z is None:
        if store:
            return _store_result(c, argv[1], ZSet(), b"zrangestore")
        return EMPTY_ARRAY
    if z.__class__ is not ZSet:
        return R.WRONGTYPE

    if rangetype == RANGE_RANK:
        n = len(z)
        if start < 0:
            start += n
        if end < 0:
            end += n
        if start < 0:
            start = 0
        if start > end or start >= n:
            items = []
        else:
            if end >= n:
                end = n - 1
            if reverse:
                items = _items(z, n - 1 - end, n - start, True)
            else:
                items = _items(z, start, end + 1, False)
    elif rangetype == RANGE_SCORE:
        lo, hi = _score_bounds(z, spec)
        s, e = _window(lo, hi, offset, limit, reverse)
        items = _items(z, s, e, reverse)
    else:
        items = _lex_items(z, spec, offset, limit, reverse)

    if store:
        dst = ZSet()
        max_entries, max_value = _limits(c)
        if rangetype == RANGE_RANK and len(items) > max_entries:
            # zsetTypeCreate(length): a rank range knows its length up front and
            # starts as a skiplist (keeping -0 scores); the other ranges start
            # as a listpack and convert on the insert that overflows it.
            dst.encoding = b"skiplist"
        for score, member in items:
            dst.insert(member, score, max_entries, max_value)
        return _store_result(c, argv[1], dst, b"zrangestore")
    return _reply_items(c, items, withscores)


def _lex_items(z: ZSet, spec, offset: int, limit: int, reverse: bool) -> list:
    """genericZrangebylexCommand: the (score, member) pairs in output order."""
    if offset < 0:
        return []
    if reverse:
        last = _lex_last(z, spec)
        if last < 0:
            return []
        first = _lex_run_start(z, spec, last)
        s, e = _window(first, last + 1, offset, limit, True)
        return _items(z, s, e, True)
    first = _lex_first(z, spec)
    if first < 0:
        return []
    end = _lex_run_end(z, spec, first)
    s, e = _window(first, end, offset, limit, False)
    return _items(z, s, e, False)


_RANGE_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M the number "
                     "of elements returned.")
_BY_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                  "elements being returned. If M is constant (e.g. always asking for the first 10 elements "
                  "with LIMIT), you can consider it O(log(N)).")


@command("zrange", -4, "readonly", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Return a range of members in a sorted set", since="1.2.0", complexity=_RANGE_COMPLEXITY)
def zrange_command(c, argv):
    return _zrange_generic(c, argv, 1, False, RANGE_AUTO, DIR_AUTO)


@command("zrangestore", -5, "write denyoom", keys=(1, 2, 1), group="sorted-set", key_specs=(_spec("OW update", 1), _spec("RO access", 2)), categories="sortedset",
         summary="Store a range of members from sorted set into another key", since="6.2.0",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number "
                    "of elements stored into the destination key.")
def zrangestore_command(c, argv):
    return _zrange_generic(c, argv, 2, True, RANGE_AUTO, DIR_AUTO)


@command("zrevrange", -4, "readonly", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Return a range of members in a sorted set, by index, with scores ordered from high to low",
         since="1.2.0", complexity=_RANGE_COMPLEXITY)
def zrevrange_command(c, argv):
    return _zrange_generic(c, argv, 1, False, RANGE_RANK, DIR_REVERSE)


@command("zrangebyscore", -4, "readonly", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Return a range of members in a sorted set, by score", since="1.0.5",
         complexity=_BY_COMPLEXITY)
def zrangebyscore_command(c, argv):
    return _zrange_generic(c, argv, 1, False, RANGE_SCORE, DIR_FORWARD)


@command("zrevrangebyscore", -4, "readonly", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Return a range of members in a sorted set, by score, with scores ordered from high to low",
         since="2.2.0", complexity=_BY_COMPLEXITY)
def zrevrangebyscore_command(c, argv):
    return _zrange_generic(c, argv, 1, False, RANGE_SCORE, DIR_REVERSE)


@command("zrangebylex", -4, "readonly", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Return a range of members in a sorted set, by lexicographical range", since="2.8.9",
         complexity=_BY_COMPLEXITY)
def zrangebylex_command(c, argv):
    return _zrange_generic(c, argv, 1, False, RANGE_LEX, DIR_FORWARD)


@command("zrevrangebylex", -4, "readonly", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Return a range of members in a sorted set, by lexicographical range, ordered from higher "
                 "to lower strings.", since="2.8.9", complexity=_BY_COMPLEXITY)
def zrevrangebylex_command(c, argv):
    return _zrange_generic(c, argv, 1, False, RANGE_LEX, DIR_REVERSE)


# --- ZREMRANGEBY* ----------------------------------------------------------------------------------

_ZREM_EVENTS = {RANGE_RANK: b"zremrangebyrank", RANGE_SCORE: b"zremrangebyscore", RANGE_LEX: b"zremrangebylex"}


def _zremrange_generic(c, argv, rangetype: int) -> bytes:
    if rangetype == RANGE_RANK:
        start = parse_int(argv[2])
        end = parse_int(argv[3])
        if start is None or end is None:
            return R.NOT_INTEGER
    elif rangetype == RANGE_SCORE:
        spec = parse_score_range(argv[2], argv[3])
        if spec is None:
            return R.ZRANGE_NOT_FLOAT
    else:
        spec = parse_lex_range(argv[2], argv[3])
        if spec is None:
            return R.ZRANGE_NOT_LEX
    db = c.db
    key = argv[1]
    z = db.lookup_write(key)
    if z is None:
        return R.CZERO
    if z.__class__ is not ZSet:
        return R.WRONGTYPE
    n = len(z)
    if rangetype == RANGE_RANK:
        if start < 0:
            start += n
        if end < 0:
            end += n
        if start < 0:
            start = 0
        if start > end or start >= n:
            return R.CZERO
        if end >= n:
            end = n - 1
        lo, hi = start, end + 1
    elif rangetype == RANGE_SCORE:
        lo, hi = _score_bounds(z, spec)
    else:
        lo = _lex_first(z, spec)
        hi = _lex_run_end(z, spec, lo) if lo >= 0 else lo
    deleted = z.remove_slice(lo, hi) if hi > lo else 0
    node = c.node
    if deleted:
        keyremoved = not len(z)
        if keyremoved:
            db.delete(key)
        else:
            db.modified(key)
        if node.notify_flags:
            node.notify(kn.ZSET, _ZREM_EVENTS[rangetype], key, db.id)
            if keyremoved:
                node.notify(kn.GENERIC, b"del", key, db.id)
    node.dirty += deleted
    return b":%d\r\n" % deleted


@command("zremrangebyrank", 4, "write", keys=(1, 1, 1), group="sorted-set", key_specs=_RW_DELETE, categories="sortedset",
         summary="Remove all members in a sorted set within the given indexes", since="2.0.0",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements removed by the operation.")
def zremrangebyrank_command(c, argv):
    return _zremrange_generic(c, argv, RANGE_RANK)


@command("zremrangebyscore", 4, "write", keys=(1, 1, 1), group="sorted-set", key_specs=_RW_DELETE, categories="sortedset",
         summary="Remove all members in a sorted set within the given scores", since="1.2.0",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements removed by the operation.")
def zremrangebyscore_command(c, argv):
    return _zremrange_generic(c, argv, RANGE_SCORE)


@command("zremrangebylex", 4, "write", keys=(1, 1, 1), group="sorted-set", key_specs=_RW_DELETE, categories="sortedset",
         summary="Remove all members in a sorted set between the given lexicographical range", since="2.8.9",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements removed by the operation.")
def zremrangebylex_command(c, argv):
    return _zremrange_generic(c, argv, RANGE_LEX)


# --- ZUNION, ZINTER, ZDIFF (and STORE), ZINTERCARD ----------------------------------------------------

OP_UNION = 0
OP_INTER = 1
OP_DIFF = 2
AGGR_SUM = 0
AGGR_MIN = 1
AGGR_MAX = 2
_STORE_EVENTS = (b"zunionstore", b"zinterstore", b"zdiffstore")


def _numkeys_getkeys(numkeys_index: int, dest: bool):
    """Key positions for the numkeys commands (the destination first for the STORE forms)."""

    def getkeys(argv):
        n = parse_int(argv[numkeys_index]) if len(argv) > numkeys_index else None
        if n is None or n <= 0 or n > len(argv) - numkeys_index - 1:
            raise KeySpecError("numkeys")
        keys = list(range(numkeys_index + 1, numkeys_index + 1 + n))
        return [1] + keys if dest else keys

    return getkeys


def _src_iter(obj):
    """(member, score) of an input, in the order Redis's zui iterator walks it (a zset from its tail)."""
    if obj.__class__ is ZSet:
        return ((m, s) for s, m in reversed(obj.sl))
    return ((m, 1.0) for m in obj)


def _src_find(obj, member):
    """zuiFind: the member's score in an input, or None."""
    if obj.__class__ is ZSet:
        return obj.dict.get(member)
    return 1.0 if member in obj else None


def _aggregate(target: float, val: float, aggr: int) -> float:
    if aggr == AGGR_SUM:
        target = target + val
        return 0.0 if target != target else target
    if aggr == AGGR_MIN:
        return val if val < target else target
    return val if val > target else target


def _zsetop(c, argv, dstkey, numkeys_index: int, op: int, card_only: bool = False) -> bytes:
    """zunionInterDiffGenericCommand."""
    setnum = parse_int(argv[numkeys_index])
    if setnum is None:
        return R.NOT_INTEGER
    if setnum < 1:
        return R.err_fmt(R.ZSET_NO_INPUT_KEY, _fullname(argv))
    argc = len(argv)
    if setnum > argc - (numkeys_index + 1):
        return R.SYNTAX
    db = c.db
    lookup = db.lookup_write if dstkey is not None else db.lookup_read
    srcs = []  # [object or None, weight]
    j = numkeys_index + 1
    for _ in range(setnum):
        obj = lookup(argv[j])
        if obj is not None and obj.__class__ is not ZSet and not isinstance(obj, Set):
            return R.WRONGTYPE
        srcs.append([obj, 1.0])
        j += 1

    aggr = AGGR_SUM
    withscores = False
    limit = 0
    while j < argc:
        remaining = argc - j
        opt = _opt(argv[j])
        if op != OP_DIFF and not card_only and remaining >= setnum + 1 and opt == b"weights":
            j += 1
            for src in srcs:
                w = parse_score(argv[j])
                if w is None:
                    return R.WEIGHT_NOT_FLOAT
                src[1] = w
                j += 1
        elif op != OP_DIFF and not card_only and remaining >= 2 and opt == b"aggregate":
            a = _opt(argv[j + 1])
            if a == b"sum":
                aggr = AGGR_SUM
            elif a == b"min":
                aggr = AGGR_MIN
            elif a == b"max":
                aggr = AGGR_MAX
            else:
                return R.SYNTAX
            j += 2
        elif remaining >= 1 and dstkey is None and not card_only and opt == b"withscores":
            withscores = True
            j += 1
        elif card_only and remaining >= 2 and opt == b"limit":
            limit = parse_int(argv[j + 1])
            if limit is None or limit < 0:
                return R.LIMIT_NEGATIVE
            j += 2
        else:
            return R.SYNTAX

    if op != OP_DIFF:
        srcs.sort(key=lambda s: len(s[0]) if s[0] is not None else 0)

    result: dict = {}
    if op == OP_INTER:
        first, w0 = srcs[0]
        if first is not None and len(first):
            count = 0
            rest = srcs[1:]
            for member, sc in _src_iter(first):
                score = w0 * sc
                if score != score:
                    score = 0.0
                for obj, w in rest:
                    if obj is first:
                        value = sc * w
                    else:
                        found = _src_find(obj, member) if obj is not None else None
                        if found is None:
                            break
                        value = found * w
                    score = _aggregate(score, value, aggr)
                else:
                    if card_only:
                        count += 1
                        if limit and count >= limit:
                            break
                    else:
                        result[member] = score
            if card_only:
                return b":%d\r\n" % count
        elif card_only:
            return R.CZERO
    elif op == OP_UNION:
        for obj, w in srcs:
            if obj is None or not len(obj):
                continue
            for member, sc in _src_iter(obj):
                score = w * sc
                if score != score:
                    score = 0.0
                cur = result.get(member)
                result[member] = score if cur is None else _aggregate(cur, score, aggr)
    else:
        first = srcs[0][0]
        if first is not None and len(first):
            others = [obj for obj, _ in srcs[1:] if obj is not None and len(obj)]
            for member, sc in _src_iter(first):
                for obj in others:
                    if _src_find(obj, member) is not None:
                        break
                else:
                    result[member] = sc

    if dstkey is not None:
        z = ZSet()
        z.encoding = b"skiplist"
        z.dict = result
        z.sl.update((s, m) for m, s in result.items())
        max_entries, max_value = _limits(c)
        z.compact_if_fits(max_entries, max_value)
        return _store_result(c, dstkey, z, _STORE_EVENTS[op])
    items = sorted((s, m) for m, s in result.items())
    return _reply_items(c, items, withscores)


def _fullname(argv) -> str:
    return argv[0].lower().decode("utf-8", "replace")


_UNION_COMPLEXITY = ("O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M "
                     "being the number of elements in the resulting sorted set.")
_INTER_COMPLEXITY = ("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "
                     "number of input sorted sets and M being the number of elements in the resulting sorted "
                     "set.")
_DIFF_COMPLEXITY = ("O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N "
                    "is the size of the first set, and K is the size of the result set.")


@command("zunion", -3, "readonly", group="sorted-set", key_specs=_READ_KEYNUM, categories="sortedset",
         getkeys=_numkeys_getkeys(1, False), summary="Add multiple sorted sets", since="6.2.0",
         complexity=_UNION_COMPLEXITY)
def zunion_command(c, argv):
    return _zsetop(c, argv, None, 1, OP_UNION)


@command("zinter", -3, "readonly", group="sorted-set", key_specs=_READ_KEYNUM, categories="sortedset",
         getkeys=_numkeys_getkeys(1, False), summary="Intersect multiple sorted sets", since="6.2.0",
         complexity=_INTER_COMPLEXITY)
def zinter_command(c, argv):
    return _zsetop(c, argv, None, 1, OP_INTER)


@command("zdiff", -3, "readonly", group="sorted-set", key_specs=_READ_KEYNUM, categories="sortedset",
         getkeys=_numkeys_getkeys(1, False), summary="Subtract multiple sorted sets", since="6.2.0",
         complexity=_DIFF_COMPLEXITY)
def zdiff_command(c, argv):
    return _zsetop(c, argv, None, 1, OP_DIFF)


@command("zunionstore", -4, "write denyoom", keys=(1, 1, 1), group="sorted-set", key_specs=_STORE_SPECS, categories="sortedset",
         getkeys=_numkeys_getkeys(2, True),
         summary="Add multiple sorted sets and store the resulting sorted set in a new key", since="2.0.0",
         complexity="O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being "
                    "the number of elements in the resulting sorted set.")
def zunionstore_command(c, argv):
    return _zsetop(c, argv, argv[1], 2, OP_UNION)


@command("zinterstore", -4, "write denyoom", keys=(1, 1, 1), group="sorted-set", key_specs=_STORE_SPECS, categories="sortedset",
         getkeys=_numkeys_getkeys(2, True),
         summary="Intersect multiple sorted sets and store the resulting sorted set in a new key",
         since="2.0.0", complexity=_INTER_COMPLEXITY)
def zinterstore_command(c, argv):
    return _zsetop(c, argv, argv[1], 2, OP_INTER)


@command("zdiffstore", -4, "write denyoom", keys=(1, 1, 1), group="sorted-set", key_specs=_STORE_SPECS, categories="sortedset",
         getkeys=_numkeys_getkeys(2, True),
         summary="Subtract multiple sorted sets and store the resulting sorted set in a new key",
         since="6.2.0", complexity=_DIFF_COMPLEXITY)
def zdiffstore_command(c, argv):
    return _zsetop(c, argv, argv[1], 2, OP_DIFF)


@command("zintercard", -3, "readonly", group="sorted-set", key_specs=_READ_KEYNUM, categories="sortedset",
         getkeys=_numkeys_getkeys(1, False),
         summary="Intersect multiple sorted sets and return the cardinality of the result", since="7.0.0",
         complexity="O(N*K) worst case with N being the smallest input sorted set, K being the number of input "
                    "sorted sets.")
def zintercard_command(c, argv):
    return _zsetop(c, argv, None, 1, OP_INTER, card_only=True)


# --- ZPOPMIN/ZPOPMAX, ZMPOP and the blocking forms -------------------------------------------------------


def _zpop(c, keys, where: int, emitkey: bool, count: int, nested: bool, nil_when_empty: bool):
    """genericZpopCommand: pop from the first existing key.  Returns (reply, key popped or None)."""
    db = c.db
    z = None
    key = None
    for k in keys:
        v = db.lookup_write(k)
        if v is None:
            continue
        if v.__class__ is not ZSet:
            return R.WRONGTYPE, None
        z = v
        key = k
        break
    if z is None:
        return (c.resp.null_array if nil_when_empty else EMPTY_ARRAY), None
    if count == 0:
        return EMPTY_ARRAY, None
    if count == -1:
        count = 1
    n = min(count, len(z))
    keyframe = b"$%d\r\n%b\r\n" % (len(key), key) if emitkey else b""
    if not nested and not emitkey:
        head = b"*%d\r\n" % (2 * n)
    elif nested and not emitkey:
        head = b"*%d\r\n" % n
    elif not nested:
        head = b"*%d\r\n" % (2 * n + 1) + keyframe
    else:
        head = b"*2\r\n" + keyframe + b"*%d\r\n" % n
    last = where == ZSET_MAX
    dbl = c.resp.double
    out = [head]
    for _ in range(n):
        score, member = z.pop(last)
        if nested:
            out.append(b"*2\r\n$%d\r\n%b\r\n%b" % (len(member), member, dbl(score)))
        else:
            out.append(b"$%d\r\n%b\r\n%b" % (len(member), member, dbl(score)))
    node = c.node
    node.dirty += n
    if node.notify_flags:
        node.notify(kn.ZSET, _POP_EVENT[where], key, db.id)
    if not _deleted_if_empty(c, db, key, z):
        db.modified(key)
    return b"".join(out), key


def _zpop_minmax(c, argv, where: int) -> bytes:
    argc = len(argv)
    if argc == 2:
        # One member, flat reply in both protocols: the hot ZPOPMIN/ZPOPMAX, inline
        # (and flatter still while the set stays non-empty: no deletion to consider).
        db = c.db
        key = argv[1]
        z = db.lookup_write(key)
        if z.__class__ is ZSet:
            score, member = z.pop(where == ZSET_MAX)
            node = c.node
            node.dirty += 1
            if node.notify_flags:
                node.notify(kn.ZSET, _POP_EVENT[where], key, db.id)
            if z.dict:
                if db.watched:
                    db.modified(key)
            else:
                _deleted_if_empty(c, db, key, z)
            s = score_text(score)
            if c.resp.version == 2:
                return b"*2\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(member), member, len(s), s)
            return b"*2\r\n$%d\r\n%b\r\n,%b\r\n" % (len(member), member, s)
    if argc > 3:
        return R.SYNTAX
    count = -1
    if len(argv) == 3:
        count = _positive_long(argv[2])
        if count.__class__ is bytes:
            return count
    nested = c.resp.version > 2 and count != -1
    reply, _ = _zpop(c, [argv[1]], where, False, count, nested, False)
    return reply


@command("zpopmin", -2, "write fast", keys=(1, 1, 1), group="sorted-set", key_specs=_RW_POP, categories="sortedset",
         summary="Remove and return members with the lowest scores in a sorted set", since="5.0.0",
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M being the number "
                    "of elements popped.")
def zpopmin_command(c, argv):
    return _zpop_minmax(c, argv, ZSET_MIN)


@command("zpopmax", -2, "write fast", keys=(1, 1, 1), group="sorted-set", key_specs=_RW_POP, categories="sortedset",
         summary="Remove and return members with the highest scores in a sorted set", since="5.0.0",
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M being the number "
                    "of elements popped.")
def zpopmax_command(c, argv):
    return _zpop_minmax(c, argv, ZSET_MAX)


def _serve_zpop(where: int, count: int, nested: bool):
    """The serve callback of a blocked BZPOPMIN/BZPOPMAX (count -1) or BZMPOP client."""

    def serve(c, key):
        db = c.db
        z = db.peek(key)
        if z.__class__ is not ZSet or not len(z):
            return None
        node = c.node
        argv = [_POP_NAME[where], key]
        if count != -1:
            argv.append(b"%d" % count)
        reply, _ = _zpop(c, [key], where, True, count, nested, False)
        node.propagate(db.id, argv)
        return reply

    return serve


def _blocking_zpop(c, keys, where: int, timeout_arg: bytes, count: int, nested: bool, nil_when_empty: bool):
    """blockingGenericZpopCommand."""
    seconds = parse_timeout(timeout_arg)
    if seconds.__class__ is bytes:
        return seconds
    db = c.db
    for key in keys:
        z = db.lookup_write(key)
        if z is None:
            continue
        if z.__class__ is not ZSet:
            return R.WRONGTYPE
        if not len(z):
            continue
        reply, _ = _zpop(c, [key], where, True, count, nested, nil_when_empty)
        argv = [_POP_NAME[where], key]
        if count != -1:
            argv.append(b"%d" % count)
        _propagate_as(c, argv)
        return reply
    if must_not_block(c):
        return c.resp.null_array
    return block_for_keys(c, db, keys, deadline_ms(seconds), _serve_zpop(where, count, nested))


@command("bzpopmin", -3, "write noscript blocking fast", keys=(1, -2, 1), group="sorted-set", key_specs=(_spec("RW access delete", 1, -2),),
         categories="sortedset",
         summary="Remove and return the member with the lowest score from one or more sorted sets, or block "
                 "until one is available", since="5.0.0",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def bzpopmin_command(c, argv):
    return _blocking_zpop(c, argv[1:-1], ZSET_MIN, argv[-1], -1, False, False)


@command("bzpopmax", -3, "write noscript blocking fast", keys=(1, -2, 1), group="sorted-set", key_specs=(_spec("RW access delete", 1, -2),),
         categories="sortedset",
         summary="Remove and return the member with the highest score from one or more sorted sets, or block "
                 "until one is available", since="5.0.0",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def bzpopmax_command(c, argv):
    return _blocking_zpop(c, argv[1:-1], ZSET_MAX, argv[-1], -1, False, False)


def _parse_zmpop(argv, numkeys_index: int):
    """zmpopGenericCommand's argument parsing: (keys, where, count) or an error frame."""
    numkeys = parse_int(argv[numkeys_index])
    if numkeys is None or numkeys < 1:
        return R.NUMKEYS_NOT_POSITIVE
    where_index = numkeys_index + numkeys + 1
    argc = len(argv)
    if where_index >= argc:
        return R.SYNTAX
    w = _opt(argv[where_index])
    if w == b"min":
        where = ZSET_MIN
    elif w == b"max":
        where = ZSET_MAX
    else:
        return R.SYNTAX
    count = -1
    j = where_index + 1
    while j < argc:
        if count == -1 and _opt(argv[j]) == b"count" and argc - 1 - j > 0:
            j += 1
            count = parse_int(argv[j])
            if count is None or count < 1:
                return R.COUNT_NOT_POSITIVE
        else:
            return R.SYNTAX
        j += 1
    if count == -1:
        count = 1
    return argv[numkeys_index + 1:where_index], where, count


_MPOP_COMPLEXITY = ("O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements "
                    "in the sorted set, and M being the number of elements popped.")


def _zmpop_getkeys(numkeys_index: int):
    def getkeys(argv):
        n = parse_int(argv[numkeys_index]) if len(argv) > numkeys_index else None
        if n is None or n <= 0 or n > len(argv) - numkeys_index - 1:
            raise KeySpecError("numkeys")
        return list(range(numkeys_index + 1, numkeys_index + 1 + n))

    return getkeys


@command("zmpop", -4, "write", group="sorted-set", key_specs=(_keynum_spec("RW access delete", 1),), categories="sortedset", getkeys=_zmpop_getkeys(1),
         summary="Remove and return members with scores in a sorted set", since="7.0.0",
         complexity=_MPOP_COMPLEXITY)
def zmpop_command(c, argv):
    parsed = _parse_zmpop(argv, 1)
    if parsed.__class__ is bytes:
        return parsed
    keys, where, count = parsed
    reply, key = _zpop(c, keys, where, True, count, True, True)
    if key is not None:
        _propagate_as(c, [_POP_NAME[where], key, b"%d" % count])
    return reply


@command("bzmpop", -5, "write blocking", group="sorted-set", key_specs=(_keynum_spec("RW access delete", 2),), categories="sortedset", getkeys=_zmpop_getkeys(2),
         summary="Remove and return members with scores in a sorted set or block until one is available",
         since="7.0.0", complexity=_MPOP_COMPLEXITY)
def bzmpop_command(c, argv):
    parsed = _parse_zmpop(argv, 2)
    if parsed.__class__ is bytes:
        return parsed
    keys, where, count = parsed
    return _blocking_zpop(c, keys, where, argv[1], count, True, True)


# --- ZRANDMEMBER -----------------------------------------------------------------------------------------


@command("zrandmember", -2, "readonly", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Get one or multiple random elements from a sorted set", since="6.2.0",
         complexity="O(N) where N is the number of elements returned", tips=("nondeterministic_output",))
def zrandmember_command(c, argv):
    argc = len(argv)
    if argc >= 3:
        n = parse_int(argv[2])
        if n is None:
            return R.NOT_INTEGER
        if n < -LONG_MAX:
            return R.err_fmt(R.INT_RANGE, -LONG_MAX, LONG_MAX)
        withscores = False
        if argc > 4 or (argc == 4 and _opt(argv[3]) != b"withscores"):
            return R.SYNTAX
        if argc == 4:
            withscores = True
            if n < -(LONG_MAX // 2) or n > LONG_MAX // 2:  # C division truncates
                return R.VALUE_OUT_OF_RANGE
        return _zrandmember_count(c, argv[1], n, withscores)
    z = _read_zset(c, argv[1])
    if z is None:
        return c.resp.null
    if z is R.WRONGTYPE:
        return z
    _, m = z.sl[random.randrange(len(z))]
    return b"$%d\r\n%b\r\n" % (len(m), m)


def _zrandmember_count(c, key, n: int, withscores: bool) -> bytes:
    z = _read_zset(c, key)
    if z is None:
        return EMPTY_ARRAY
    if z is R.WRONGTYPE:
        return z
    size = len(z)
    uniq = n >= 0
    count = n if uniq else -n
    if count == 0:
        return EMPTY_ARRAY
    sl = z.sl
    if not uniq or count == 1:
        # Case 1: independent draws, in random order.
        if count * 8 > size:
            pool = list(sl)
            items = random.choices(pool, k=count)
        else:
            rr = random.randrange
            items = [sl[rr(size)] for _ in range(count)]
    elif count >= size:
        # Case 2: the whole set, in the order the zui iterator walks it (from the tail).
        items = list(reversed(sl))
    elif z.encoding == b"listpack":
        # Case 2.5: distinct members picked from a listpack come out in listpack order.
        items = [sl[i] for i in sorted(random.sample(range(size), count))]
    else:
        # Cases 3 and 4: distinct members in no particular order.
        items = [sl[i] for i in random.sample(range(size), count)]
    return _reply_items(c, items, withscores)


# --- ZSCAN -------------------------------------------------------------------------------------------------

ZSCAN_HASH_MASK = (1 << 63) - 1


# double2ll's range: integral scores up to LLONG_MAX/2 (2**62 once a double) print as integers.
_LISTPACK_INT_LIMIT = float(LONG_MAX // 2)


def _listpack_score_text(score: float) -> bytes:
    """A score as zzlInsertAt writes it into a listpack, which is what ZSCAN returns for one.

    Integral scores within +-2**62 are stored as integers (double2ll), the
    rest as d2string's "%.17g" (inf/-inf spelled out).
    """
    if -_LISTPACK_INT_LIMIT <= score <= _LISTPACK_INT_LIMIT:
        i = int(score)
        if i == score:
            return b"%d" % i
    return format_double(score)


def _parse_cursor(arg: bytes):
    """parseScanCursorOrReply (strtoul): the cursor, or None for "invalid cursor"."""
    i = arg.find(b"\0")
    s = arg if i < 0 else arg[:i]
    if i >= 0 or (s and s[0] in _SPACES):
        return None
    body = s
    neg = body[:1] == b"-"
    if body[:1] in (b"+", b"-"):
        body = body[1:]
    if not body:
        return 0 if not s else None
    if not body.isdigit():
        return None
    v = int(body)
    if v > ULONG_MAX:
        return None
    return (-v) & ULONG_MAX if neg else v


def _scan_skiplist(z: ZSet, cursor: int, count: int):
    """A step of a hash-ordered walk: (next cursor, [(score, member)]).

    Members are visited in order of a 63-bit hash of their name, the cursor
    being the next hash to visit.  A member present for the whole scan is
    returned exactly when the cursor passes its hash, however the set
    changes in between, which is SCAN's guarantee; the sorted hash list is
    cached on the set until it changes.
    """
    cache = z.scan_cache
    if cache is None:
        entries = sorted(((hash(m) & ZSCAN_HASH_MASK) or 1, m) for m in z.dict)
        cache = z.scan_cache = ([h for h, _ in entries], [m for _, m in entries])
    hashes, members = cache
    n = len(hashes)
    i = bisect_left(hashes, cursor)
    j = min(n, i + count)
    while 0 < j < n and hashes[j] == hashes[j - 1]:
        j += 1
    d = z.dict
    out = [(d[m], m) for m in members[i:j]]
    return (hashes[j] if j < n else 0), out


@command("zscan", -3, "readonly", keys=(1, 1, 1), group="sorted-set", categories="sortedset",
         summary="Incrementally iterate sorted sets elements and associated scores", since="2.8.0",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command calls for "
                    "the cursor to return back to 0. N is the number of elements inside the collection..",
         tips=("nondeterministic_output",))
def zscan_command(c, argv):
    cursor = _parse_cursor(argv[2])
    if cursor is None:
        return R.INVALID_CURSOR
    z = _read_zset(c, argv[1])
    if z is None:
        return EMPTY_SCAN
    if z is R.WRONGTYPE:
        return z
    count = 10
    pattern = None
    i = 3
    argc = len(argv)
    while i < argc:
        left = argc - i
        opt = _opt(argv[i])
        if opt == b"count" and left >= 2:
            count = parse_int(argv[i + 1])
            if count is None:
                return R.NOT_INTEGER
            if count < 1:
                return R.SYNTAX
        elif opt == b"match" and left >= 2:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
        else:
            return R.SYNTAX
        i += 2
    if z.encoding == b"listpack":
        cursor, items = 0, list(z.sl)
        spell = _listpack_score_text
    else:
        cursor, items = _scan_skiplist(z, cursor, count)
        spell = format_double
    if pattern is not None:
        match = compile_pattern(pattern)
        items = [it for it in items if match(it[1])]
    cur = b"%d" % cursor
    out = [b"*2\r\n$%d\r\n%b\r\n*%d\r\n" % (len(cur), cur, 2 * len(items))]
    for s, m in items:
        f = spell(s)
        out.append(b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(m), m, len(f), f))
    return b"".join(out)


# --- batch forms (a pipeline of one command, see commandtable.batch) -----------------------------
#
# ZADD and the pops take the shape redis-benchmark sends -- every request on
# the same key, no options -- and ZSCORE/ZCARD any keys; each declines
# (returns None, having changed nothing) whatever would need the handler's
# per-request rules: keyspace events, WATCHed keys, a TTL on a key, clients
# blocked on it, a request that would fail.


# The batch forms change a SortedList by runs of entries where its public API
# goes one entry at a time: add() is a dozen Python steps per entry, and
# popping from the front moves the first sublist once per entry.  They use
# its layout instead (sortedcontainers 2.x, see SortedList._check): ``_lists``
# are sorted sublists of at most 2 * ``_load`` entries and, all but the last,
# of more than ``_load`` / 2; ``_maxes`` holds each sublist's last entry;
# ``_len`` the total; ``_index`` is a positional tree over the sublist
# lengths that may be emptied at any time (SortedList rebuilds it on demand,
# and empties it itself on every split).  Without that layout, the public API.
_SL_LAYOUT = all(hasattr(SortedList(), a) for a in ("_lists", "_maxes", "_index", "_len", "_load", "_offset"))


def _sl_insert(sl, entries: list) -> None:
    """Add distinct entries absent from ``sl``: insorted into their sublists in C, then oversized sublists split.

    Each entry goes to the sublist add() would choose (the first whose
    last entry is greater, else the last one); a sublist that ends up over
    2 * load is split at load, as add() does.  Fewer than load entries keep
    every sublist under 3 * load, so one split per sublist is enough.
    """
    maxes = sl._maxes if _SL_LAYOUT else None
    if not maxes or len(entries) > sl._load:
        sl.update(entries)
        return
    lists = sl._lists
    top = len(maxes) - 1
    poss = list(map(bisect_right, repeat(maxes), entries))
    if top + 1 in poss:
        poss = list(map(min, poss, repeat(top)))
    deque(map(insort, map(lists.__getitem__, poss), entries), 0)
    maxes[top] = lists[top][-1]
    sl._len += len(entries)
    del sl._index[:]
    load = sl._load
    double = load << 1
    for pos in sorted(set(poss), reverse=True):  # from the end: a split shifts the sublists after it
        part = lists[pos]
        if len(part) > double:
            half = part[load:]
            del part[load:]
            maxes[pos] = part[-1]
            lists.insert(pos + 1, half)
            maxes.insert(pos + 1, half[-1])


def _sl_take(sl, k: int, last: bool) -> list:
    """Remove the k lowest entries (``last``: the k highest) and return them in pop order.

    When the end sublist keeps more than load / 2 entries (or is the only
    one) that is one slice deletion -- k pops would each have moved it --
    and the lengths on the index path; otherwise SortedList's own slice
    deletion, which merges sublists as its pops would.
    """
    if _SL_LAYOUT:
        lists = sl._lists
        pos = len(lists) - 1 if last else 0
        part = lists[pos]
        if len(part) - k > sl._load >> 1 or (len(lists) == 1 and len(part) > k):
            if last:
                taken = part[-k:]
                del part[-k:]
                sl._maxes[pos] = part[-1]
                taken.reverse()
            else:
                taken = part[:k]
                del part[:k]
            sl._len -= k
            index = sl._index
            if index:
                child = sl._offset + pos
                while child > 0:
                    index[child] -= k
                    child = (child - 1) >> 1
                index[0] -= k
            return taken
    n = len(sl)
    if last:
        taken = sl[n - k:]
        del sl[n - k:]
        taken.reverse()
    else:
        taken = sl[:k]
        del sl[:k]
    return taken


def _batch_scores(col):
    """The scores of a ZADD column as the handler reads them, or None if any would not parse (or is -0).

    -0 is declined because a request giving it to a member scored 0 changes
    nothing (equal scores) while the batch's last-score-wins update would
    store the sign.
    """
    if all(map(bytes.isdigit, col)) and max(map(len, col)) < 16:
        return list(map(float, col))  # what parse_score does for these, without its call
    scores = list(map(parse_score, col))
    if None in scores:
        return None  # "value is not a valid float" (or an option): the handler replies
    if 0.0 in scores and any(s == 0.0 and copysign(1.0, s) < 0 for s in scores):
        return None
    return scores


@batch("zadd")
def zadd_batch(c, columns, m):
    """m "ZADD key score member" on one key: the set changes once, by bulk operations.

    The replies are 1 for a member new at its request (a member added by an
    earlier request of the batch is no longer new) and 0 otherwise, and
    every request that changes a score counts in ``dirty``, as the handler
    does.  Distinct members need no per-request order: one dict lookup pass
    gives every reply, the SortedList loses the old entries of the members
    that move and takes the new ones.  Repeated members run through a loop
    with the handler's rules.  The listpack -> skiplist conversion happens
    during the batch exactly when it happens at the end of it: inserts only
    grow the set, so some insert found it at zset-max-listpack-entries
    exactly when the set ends larger than that.
    """
    if len(columns) != 4:
        return None  # options, or several pairs: the handler parses them
    key = c.db.batch_key(columns[1], m)
    if key is None:
        return None
    scores = _batch_scores(columns[2])
    if scores is None:
        return None
    db = c.db
    z = db.data.get(key)
    if z is None:
        z = ZSet()
        created = True
    elif z.__class__ is ZSet:
        created = False
    else:
        return None  # WRONGTYPE
    members = columns[3]
    node = c.node
    d = z.dict
    sl = z.sl
    # Decided: from here on every request succeeds.
    if created:
        db.set(key, z)
    else:
        db.access[key] = node.lru_clock
    if len(set(members)) == m:
        old = list(map(d.get, members))
        moves = list(map(ne, old, scores))  # a new member, or a new score (None != any score)
        changed = moves.count(True)
        if not changed:
            return R.CZERO * m
        fresh = old.count(None)
        if changed > fresh:
            remove = sl.remove
            for o, member in compress(zip(old, members), moves):
                if o is not None:
                    remove((o, member))
        if changed == m:
            _sl_insert(sl, list(zip(scores, members)))
        else:
            _sl_insert(sl, list(compress(zip(scores, members), moves)))
        d.update(zip(members, scores))
        if fresh:
            is_new = list(map(is_, old, repeat(None)))
            replies = map(_ZADD_REPLY.__getitem__, is_new)  # 1 for a new member, else 0
            inserted = compress(members, is_new)
    else:
        fresh = changed = 0
        replies = []
        inserted = []
        for s, member in zip(scores, members):
            o = d.get(member)
            if o == s:
                replies.append(R.CZERO)
                continue
            if o is None:
                d[member] = s
                sl.add((s, member))
                inserted.append(member)
                replies.append(R.CONE)
                fresh += 1
            else:
                sl.remove((o, member))
                sl.add((s, member))
                d[member] = s
                replies.append(R.CZERO)
            changed += 1
        if not changed:
            return R.CZERO * m
    z.scan_cache = None
    if fresh and z.encoding == b"listpack":
        cfg = node.config
        if len(d) > cfg["zset-max-listpack-entries"] or max(map(len, inserted)) > cfg["zset-max-listpack-value"]:
            z.encoding = b"skiplist"
    node.dirty += changed
    if not fresh:
        return R.CZERO * m
    return b"".join(replies)


_ZADD_REPLY = (R.CZERO, R.CONE)


_POP2 = b"*2\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n".__mod__  # member, score as a bulk (RESP2)
_POP3 = b"*2\r\n$%d\r\n%b\r\n,%b\r\n".__mod__  # member, score as a double (RESP3)
_G17 = b"%.17g".__mod__


def _zpop_batch(c, columns, m, last: bool):
    """m "ZPOPMIN key" (or ZPOPMAX) on one key: the first (last) m entries taken as one slice.

    Popping m times from one end is removing the m lowest (highest) entries,
    in order; once the set is empty it is deleted (the request that empties
    it does that) and the requests left reply an empty array, as for a
    missing key.
    """
    if len(columns) != 2:
        return None  # a count: the handler
    key = c.db.batch_key(columns[1], m)
    if key is None:
        return None
    db = c.db
    z = db.data.get(key)
    if z is None:
        return EMPTY_ARRAY * m
    if z.__class__ is not ZSet:
        return None  # WRONGTYPE
    n = len(z.dict)
    if not n:
        return None
    k = n if n < m else m
    items = _sl_take(z.sl, k, last)
    scores, members = zip(*items)
    d = z.dict
    deque(map(d.__delitem__, members), 0)
    z.scan_cache = None
    node = c.node
    node.dirty += k
    if k == n:
        db.delete(key)
    else:
        db.access[key] = node.lru_clock
    if -inf < items[0][0] < inf and -inf < items[-1][0] < inf:
        texts = list(map(_G17, scores))  # sorted: the ends bound the rest
    else:
        texts = list(map(score_text, scores))
    if c.resp.version == 2:
        out = b"".join(map(_POP2, zip(map(len, members), members, map(len, texts), texts)))
    else:
        out = b"".join(map(_POP3, zip(map(len, members), members, texts)))
    if k < m:
        out += EMPTY_ARRAY * (m - k)
    return out


@batch("zpopmin")
def zpopmin_batch(c, columns, m):
    return _zpop_batch(c, columns, m, False)


@batch("zpopmax")
def zpopmax_batch(c, columns, m):
    return _zpop_batch(c, columns, m, True)


_ZSET_ONLY = {ZSet}
_CARD = b":%d\r\n".__mod__


@batch("zcard")
def zcard_batch(c, columns, m):
    values = c.db.lookup_read_batch(columns[1], _ZSET_ONLY)
    if values is None:
        return None
    return b"".join([R.CZERO if v is None else _CARD(len(v.dict)) for v in values])


@batch("zscore")
def zscore_batch(c, columns, m):
    values = c.db.lookup_read_batch(columns[1], _ZSET_ONLY)
    if values is None:
        return None
    null = c.resp.null
    double = c.resp.double
    out = []
    for v, member in zip(values, columns[2]):
        s = None if v is None else v.dict.get(member)
        out.append(null if s is None else double(s))
    return b"".join(out)
