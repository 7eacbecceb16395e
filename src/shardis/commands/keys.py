"""Keyspace commands (db.c, expire.c, object.c): DEL, EXISTS, RENAME, COPY, SCAN, EXPIRE ...

These commands treat a key as a name with a value of any type.  They follow
Redis 7.0's lookups to the letter, because the lookup flavour decides what a
client can observe: read lookups count keyspace hits/misses, ``NOTOUCH``
lookups (EXISTS, TYPE, TTL, OBJECT) leave the access clock alone, write
lookups count nothing, and every lookup deletes a key whose TTL has passed.

SCAN over a Python dict
-----------------------
Redis's SCAN guarantee is: a key present from the first call to the last is
returned at least once, however the keyspace changes in between.  Redis gets
it from the reverse-binary cursor over its hash table buckets.  A Python dict
offers no stable position: deleting a key shifts the index of every later
one, and a resize reorders nothing but compacts.  So SCAN here iterates a
*snapshot* of the key names:

* ``SCAN 0`` takes ``list(db.data)`` (one C-level copy, ~15 ms per million
  keys), or shares the newest snapshot when it still holds exactly the
  current key names (checked: same dict, same ``node.dirty``, same size,
  every name still present), so many scanners of a quiet keyspace cost
  one snapshot.
* The cursor is ``snapshot_id << 40 | position``.  Each call walks the
  snapshot from ``position``, skipping names no longer present, until it has
  COUNT live keys (or looked at 10 x COUNT names, as Redis bounds its
  bucket walk), then filters by MATCH, TYPE and expiry in Redis's order.
* A key present for the whole scan was present when the snapshot was taken,
  so it is in the snapshot and is reached: the guarantee holds.  Keys added
  during the scan may or may not be returned, as in Redis; a key is never
  returned twice by one scan unless the scan had to restart (below).
* Snapshots are kept per database, at most ``SCAN_MAX_SNAPSHOTS`` and each
  for ``SCAN_SNAPSHOT_IDLE`` seconds after its last use, and dropped when
  the last scan using them completes.  A cursor whose snapshot is gone (evicted, or a
  cursor from another process) restarts the walk on a fresh snapshot:
  every key is then returned again, which repeats keys but keeps the
  guarantee.
* A keyspace that fits in one call is answered from the dict directly with
  cursor 0, like Redis answers small tables in one go.

Cursor parsing is strtoul's, as Redis's: ``""`` is 0, ``-1`` wraps to
2**64-1, leading spaces and trailing junk are "invalid cursor".
"""

from __future__ import annotations

import copy
import random
import time
from collections import OrderedDict
from itertools import islice

from ..keyspace import notify as kn
from ..keyspace.glob import compile_pattern
from ..keyspace.lfu import idle_seconds, lfu_freq
from ..keyspace.objects import Hash, List, Set, ZSet, string_encoding, type_name
from ..protocol.resp import bulk, integer
from ..server import replies as R
from ..server.commandtable import command, subcommand
from ..server.dispatch import propagate_as as _propagate_as
from .strings import LLONG_MAX, parse_int

__all__ = ["dup_value", "lookup_notouch", "parse_scan_cursor", "scan_keys"]

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
ULONG_MAX = 2**64 - 1
LLONG_MAX_DIV_1000 = LLONG_MAX // 1000  # C truncating division: 9223372036854775
LLONG_MIN_DIV_1000 = -LLONG_MAX_DIV_1000  # C truncates toward zero: -9223372036854775

OBJ_SHARED_INTEGERS = 10000  # Redis shares the objects for 0..9999 (server.h)
OBJ_SHARED_REFCOUNT = INT_MAX  # the refcount OBJECT REFCOUNT shows for shared objects

SCAN_MAX_SNAPSHOTS = 64  # live SCAN snapshots per database
SCAN_SNAPSHOT_IDLE = 600.0  # seconds a snapshot survives without a SCAN call using it
SCAN_POS_BITS = 40  # low bits of a cursor: position in the snapshot
SCAN_ID_LIMIT = 1 << 23  # snapshot ids wrap here, so a cursor stays below 2**63
RANDOMKEY_EXACT_LIMIT = 4096  # up to this many keys RANDOMKEY picks by walking the dict
RANDOMKEY_TRIES = 100  # replica bail-out, as dbRandomKey

_OBJECT_HELP = (
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
)
_OBJECT_HELP_REPLY = b"*%d\r\n" % len(_OBJECT_HELP) + b"".join(
    b"+" + line.encode() + b"\r\n" for line in _OBJECT_HELP
)


# --- helpers ---------------------------------------------------------------------------


def _cstr(b: bytes) -> bytes:
    """What C string functions see of an argument: up to the first NUL."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def _now_ms() -> int:
    return int(time.time() * 1000)


def lookup_notouch(db, key, keymiss: bool = True):
    """lookupKeyReadWithFlags(LOOKUP_NOTOUCH): expiry, hit/miss stats and the
    "keymiss" event (unless ``keymiss`` is False: LOOKUP_NONOTIFY), no access clock."""
    v = db.peek(key)
    if v is None:
        db.misses += 1
        node = db.node
        if keymiss and node.notify_flags:
            node.notify(kn.KEY_MISS, b"keymiss", key, db.id)
    else:
        db.hits += 1
    return v


def _parse_int32(b: bytes):
    """getIntFromObject: a canonical integer in C int range, else None."""
    v = parse_int(b)
    if v is None or not INT_MIN <= v <= INT_MAX:
        return None
    return v


def _signal_ready(db, key) -> None:
    """dbAdd's signalKeyAsReady: wake clients blocked on ``key`` (cheap when none is)."""
    if db.blocking and key in db.blocking:
        from ..keyspace.blocking import signal_key_ready

        signal_key_ready(db, key)



def dup_value(v):
    """A deep copy of a stored value that keeps its type and encoding (COPY)."""
    cls = v.__class__
    if cls is bytes:
        return v
    if cls is bytearray:
        return bytearray(v)
    dup = getattr(v, "dup", None)
    if dup is not None:
        return dup()
    if isinstance(v, ZSet):
        n = cls.__new__(cls)
        ZSet.__init__(n)
        n.dict = dict(v.dict)
        n.sl = v.sl.copy()
        n.encoding = v.encoding
        return n
    if isinstance(v, (Hash, List, Set)):
        n = cls(v)
        n.encoding = v.encoding
        return n
    return copy.deepcopy(v)


def _expired(db, key, now_ms: int) -> bool:
    """keyIsExpired: the key has a TTL in the past (nothing is deleted)."""
    when = db.expires.get(key)
    return when is not None and when <= now_ms


# --- DEL, UNLINK, EXISTS, TYPE, TOUCH ---------------------------------------------------


def _del_generic(c, argv):
    db = c.db
    node = c.node
    dbid = db.id
    n = 0
    for key in argv[1:]:
        db.peek(key)  # expireIfNeeded: an expired key goes away as expired, not deleted
        if db.delete(key):
            n += 1
            if node.notify_flags:
                node.notify(kn.GENERIC, b"del", key, dbid)
    node.dirty += n
    return b":%d\r\n" % n


@command("del", -2, "write", keys=(1, -1, 1), categories="keyspace",
         summary="Delete a key", since="1.0.0",
         complexity="O(N) where N is the number of keys that will be removed.")
def del_command(c, argv):
    return _del_generic(c, argv)


@command("unlink", -2, "write fast", keys=(1, -1, 1), categories="keyspace",
         summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
         since="4.0.0", complexity="O(1) for each key removed regardless of its size.")
def unlink_command(c, argv):
    # Memory is reclaimed by Python's refcounting either way; UNLINK only
    # differs from DEL in Redis by freeing in a background thread.
    return _del_generic(c, argv)


@command("exists", -2, "readonly fast", keys=(1, -1, 1), categories="keyspace",
         summary="Determine if a key exists", since="1.0.0",
         complexity="O(N) where N is the number of keys to check.")
def exists_command(c, argv):
    db = c.db
    n = 0
    for key in argv[1:]:
        if lookup_notouch(db, key) is not None:
            n += 1
    return b":%d\r\n" % n


@command("type", 2, "readonly fast", keys=(1, 1, 1), categories="keyspace",
         summary="Determine the type stored at key", since="1.0.0", complexity="O(1)")
def type_command(c, argv):
    v = lookup_notouch(c.db, argv[1])
    return b"+none\r\n" if v is None else b"+" + type_name(v) + b"\r\n"


@command("touch", -2, "readonly fast", keys=(1, -1, 1), categories="keyspace",
         summary="Alters the last access time of a key(s). Returns the number of existing keys specified.",
         since="3.2.1", complexity="O(N) where N is the number of keys that will be touched.")
def touch_command(c, argv):
    db = c.db
    n = 0
    for key in argv[1:]:
        if db.lookup_read(key) is not None:
            n += 1
    return b":%d\r\n" % n


# --- RENAME, RENAMENX, MOVE, COPY --------------------------------------------------------


def _rename_generic(c, argv, nx: bool):
    db = c.db
    node = c.node
    src, dst = argv[1], argv[2]
    v = db.lookup_write(src)
    if v is None:
        return R.NO_SUCH_KEY
    if src == dst:
        return R.CZERO if nx else R.OK
    expire = db.get_expire(src)
    if db.lookup_write(dst) is not None:
        if nx:
            return R.CZERO
        db.delete(dst)
    db.set(dst, v)
    if expire is not None:
        db.set_expire(dst, expire)
    db.delete(src)
    if node.notify_flags:
        node.notify(kn.GENERIC, b"rename_from", src, db.id)
        node.notify(kn.GENERIC, b"rename_to", dst, db.id)
    node.dirty += 1
    _signal_ready(db, dst)
    return R.CONE if nx else R.OK


@command("rename", 3, "write", keys=(1, 2, 1), categories="keyspace",
         summary="Rename a key", since="1.0.0", complexity="O(1)")
def rename_command(c, argv):
    return _rename_generic(c, argv, False)


@command("renamenx", 3, "write fast", keys=(1, 2, 1), categories="keyspace",
         summary="Rename a key, only if the new key does not exist", since="1.0.0", complexity="O(1)")
def renamenx_command(c, argv):
    return _rename_generic(c, argv, True)


@command("move", 3, "write fast", keys=(1, 1, 1), categories="keyspace",
         summary="Move a key to another database", since="1.0.0", complexity="O(1)")
def move_command(c, argv):
    node = c.node
    if node.cluster is not None:
        return R.MOVE_CLUSTER
    src = c.db
    dbid = _parse_int32(argv[2])
    if dbid is None:
        return R.NOT_INTEGER
    if not 0 <= dbid < len(node.dbs):
        return R.DB_INDEX_OUT_OF_RANGE
    dst = node.dbs[dbid]
    if dst is src:
        return R.SAME_OBJECT
    key = argv[1]
    v = src.lookup_write(key)
    if v is None:
        return R.CZERO
    expire = src.get_expire(key)
    if dst.lookup_write(key) is not None:
        return R.CZERO
    dst.set(key, v)
    if expire is not None:
        dst.set_expire(key, expire)
    src.delete(key)
    if node.notify_flags:
        node.notify(kn.GENERIC, b"move_from", key, src.id)
        node.notify(kn.GENERIC, b"move_to", key, dst.id)
    node.dirty += 1
    _signal_ready(dst, key)
    return R.CONE


@command("copy", -3, "write denyoom", keys=(1, 2, 1), categories="keyspace",
         summary="Copy a key", since="6.2.0",
         complexity="O(N) worst case for collections, where N is the number of nested items. "
                    "O(1) for string values.")
def copy_command(c, argv):
    node = c.node
    src = dst = c.db
    srcid = dbid = src.id
    replace = False
    j = 3
    argc = len(argv)
    while j < argc:
        opt = _cstr(argv[j]).lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < argc:
            dbid = _parse_int32(argv[j + 1])
            if dbid is None:
                return R.NOT_INTEGER
            if not 0 <= dbid < len(node.dbs):
                return R.DB_INDEX_OUT_OF_RANGE
            dst = node.dbs[dbid]
            j += 1
        else:
            return R.SYNTAX
        j += 1
    if node.cluster is not None and (srcid != 0 or dbid != 0):
        return R.COPY_CLUSTER
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        return R.SAME_OBJECT
    v = src.lookup_read(key)
    if v is None:
        return R.CZERO
    expire = src.get_expire(key)
    delete = False
    if dst.lookup_write(newkey) is not None:
        if not replace:
            return R.CZERO
        delete = True
    newv = dup_value(v)
    if delete:
        dst.delete(newkey)
    dst.set(newkey, newv)
    if expire is not None:
        dst.set_expire(newkey, expire)
    if node.notify_flags:
        node.notify(kn.GENERIC, b"copy_to", newkey, dst.id)
    node.dirty += 1
    _signal_ready(dst, newkey)
    return R.CONE


# --- KEYS, SCAN, RANDOMKEY -------------------------------------------------------------------


@command("keys", 2, "readonly", categories="keyspace dangerous",
         summary="Find all keys matching the given pattern", since="1.0.0",
         complexity="O(N) with N being the number of keys in the database, under the assumption "
                    "that the key names in the database and the given pattern have limited length.",
         tips=("request_policy:all_shards", "nondeterministic_output"))
def keys_command(c, argv):
    db = c.db
    pattern = argv[1]
    now = _now_ms()
    expires = db.expires
    if pattern == b"*":
        keys = list(db.data)
    else:
        match = compile_pattern(pattern)
        keys = [k for k in db.data if match(k)]
    if expires:
        keys = [k for k in keys if not (k in expires and expires[k] <= now)]
    parts = [b"*%d\r\n" % len(keys)]
    parts += [b"$%d\r\n%b\r\n" % (len(k), k) for k in keys]
    return b"".join(parts)


def parse_scan_cursor(arg: bytes):
    """parseScanCursorOrReply (strtoul semantics): the cursor as an int, or None if invalid."""
    s = _cstr(arg)
    if s[:1] in (b" ", b"\t", b"\n", b"\v", b"\f", b"\r"):
        return None
    if len(s) != len(arg):
        return None  # the C string ends early: eptr points at a NUL that is not the end
    body = s
    neg = False
    if body[:1] in (b"+", b"-"):
        neg = body[:1] == b"-"
        body = body[1:]
    if not body:
        return 0 if not s else None  # "" -> no conversion, eptr at "" -> 0; "+" -> junk
    if not body.isdigit():
        return None
    v = int(body)
    if v > ULONG_MAX:
        return None
    return (-v) & ULONG_MAX if neg else v


class _Snapshot:
    __slots__ = ("keys", "data", "dirty", "used", "scans")

    def __init__(self, keys, data, dirty):
        self.keys = keys
        self.data = data
        self.dirty = dirty
        self.used = time.monotonic()
        self.scans = 1  # scans started on it and not yet completed


class _ScanRegistry:
    """The live SCAN snapshots of one database (see the module docstring)."""

    __slots__ = ("snaps", "next_id")

    def __init__(self):
        self.snaps: OrderedDict = OrderedDict()
        self.next_id = 1

    def expire_idle(self, now: float) -> None:
        snaps = self.snaps
        while snaps:
            sid, snap = next(iter(snaps.items()))
            if now - snap.used <= SCAN_SNAPSHOT_IDLE and len(snaps) <= SCAN_MAX_SNAPSHOTS:
                break
            del snaps[sid]

    def new(self, db, node):
        """A snapshot of the current key names (reusing the newest when nothing was written since)."""
        if self.snaps:
            sid = next(reversed(self.snaps))
            snap = self.snaps[sid]
            data = db.data
            if (
                snap.data is data
                and snap.dirty == node.dirty
                and len(snap.keys) == len(data)
                and all(map(data.__contains__, snap.keys))
            ):
                snap.used = time.monotonic()
                snap.scans += 1
                self.snaps.move_to_end(sid)
                return sid, snap
        sid = self.next_id
        self.next_id = sid + 1 if sid + 1 < SCAN_ID_LIMIT else 1
        snap = _Snapshot(list(db.data), db.data, node.dirty)
        self.snaps.pop(sid, None)
        self.snaps[sid] = snap
        self.expire_idle(snap.used)
        return sid, snap

    def get(self, sid: int):
        snap = self.snaps.get(sid)
        if snap is not None:
            snap.used = time.monotonic()
            self.snaps.move_to_end(sid)
        return snap


# Per-database state, keyed by the Database object itself (databases live as
# long as their node, and compare by identity).
_REGISTRIES: dict = {}  # db -> _ScanRegistry


def _registry(db) -> _ScanRegistry:
    reg = _REGISTRIES.get(db)
    if reg is None:
        reg = _REGISTRIES[db] = _ScanRegistry()
    return reg


def scan_keys(c, db, cursor: int, count: int):
    """Step 2 of scanGenericCommand for the keyspace: (next cursor, live key names)."""
    data = db.data
    node = c.node
    if cursor == 0 and len(data) <= count:
        return 0, list(data)
    reg = _registry(db)
    snap = None
    if cursor != 0:
        sid = cursor >> SCAN_POS_BITS
        pos = cursor & ((1 << SCAN_POS_BITS) - 1)
        snap = reg.get(sid)
    if snap is None:
        sid, snap = reg.new(db, node)
        pos = 0
    keys = snap.keys
    end = len(keys)
    out = []
    budget = count * 10
    while pos < end and len(out) < count and budget:
        k = keys[pos]
        pos += 1
        budget -= 1
        if k in data:
            out.append(k)
    if pos >= end:
        snap.scans -= 1
        if snap.scans <= 0:
            reg.snaps.pop(sid, None)
        return 0, out
    return (sid << SCAN_POS_BITS) | pos, out


@command("scan", -2, "readonly", categories="keyspace",
         summary="Incrementally iterate the keys space", since="2.8.0",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
                    "calls for the cursor to return back to 0. N is the number of elements inside "
                    "the collection.",
         tips=("nondeterministic_output", "request_policy:special"))
def scan_command(c, argv):
    cursor = parse_scan_cursor(argv[1])
    if cursor is None:
        return R.INVALID_CURSOR
    count = 10
    pattern = None
    typename = None
    i = 2
    argc = len(argv)
    while i < argc:
        opt = _cstr(argv[i]).lower()
        if opt == b"count" and argc - i >= 2:
            count = parse_int(argv[i + 1])
            if count is None:
                return R.NOT_INTEGER
            if count < 1:
                return R.SYNTAX
        elif opt == b"match" and argc - i >= 2:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
        elif opt == b"type" and argc - i >= 2:
            typename = _cstr(argv[i + 1]).lower()
        else:
            return R.SYNTAX
        i += 2
    db = c.db
    cursor, keys = scan_keys(c, db, cursor, count)
    if pattern is not None:
        match = compile_pattern(pattern)
        keys = [k for k in keys if match(k)]
    if typename is not None:
        kept = []
        for k in keys:
            v = lookup_notouch(db, k)
            if (b"none" if v is None else type_name(v)) == typename:
                kept.append(k)
        keys = kept
    if db.expires:
        now = _now_ms()
        kept = []
        for k in keys:
            if _expired(db, k, now):
                db.peek(k)  # expireIfNeeded deletes it (on a master)
            else:
                kept.append(k)
        keys = kept
    cur = b"%d" % cursor
    parts = [b"*2\r\n$%d\r\n%b\r\n*%d\r\n" % (len(cur), cur, len(keys))]
    parts += [b"$%d\r\n%b\r\n" % (len(k), k) for k in keys]
    return b"".join(parts)


class _RandomSample:
    __slots__ = ("keys", "data", "dirty")

    def __init__(self, db, node):
        self.keys = list(db.data)
        self.data = db.data
        self.dirty = node.dirty


_SAMPLES: dict = {}  # db -> _RandomSample


def _random_key_name(db, node):
    """A key name picked at random (maybe logically expired), or None for an empty db."""
    data = db.data
    n = len(data)
    if n == 0:
        return None
    if n <= RANDOMKEY_EXACT_LIMIT:
        return next(islice(data, random.randrange(n), None))
    # Large keyspace: pick from a cached list of names, refreshed when the
    # keyspace moved on too much since it was taken (or a pick misses).
    sample = _SAMPLES.get(db)
    if (
        sample is None
        or sample.data is not data
        or node.dirty - sample.dirty > len(sample.keys) // 4
    ):
        sample = _SAMPLES[db] = _RandomSample(db, node)
    for _ in range(16):
        k = random.choice(sample.keys)
        if k in data:
            return k
    sample = _SAMPLES[db] = _RandomSample(db, node)
    return random.choice(sample.keys)


@command("randomkey", 1, "readonly", categories="keyspace",
         summary="Return a random key from the keyspace", since="1.0.0", complexity="O(1)",
         tips=("request_policy:all_shards", "nondeterministic_output"))
def randomkey_command(c, argv):
    db = c.db
    node = c.node
    all_volatile = len(db.data) == len(db.expires)
    tries = RANDOMKEY_TRIES
    while True:
        key = _random_key_name(db, node)
        if key is None:
            return c.resp.null
        if key in db.expires:
            tries -= 1
            if all_volatile and node.master is not None and tries == 0:
                # A replica whose keys all carry a TTL may hold only logically
                # expired keys it cannot delete: give one back rather than loop.
                return bulk(key)
            if db.peek(key) is None:
                continue
        return bulk(key)


# --- EXPIRE family, TTL family, PERSIST ----------------------------------------------------------

UNIT_SECONDS = 0
UNIT_MS = 1

EXPIRE_NX = 1 << 0
EXPIRE_XX = 1 << 1
EXPIRE_GT = 1 << 2
EXPIRE_LT = 1 << 3


def _parse_expire_flags(argv):
    """parseExtendedExpireArgumentsOrReply: flags, or an error frame."""
    flags = 0
    for a in argv[3:]:
        opt = _cstr(a).lower()
        if opt == b"nx":
            flags |= EXPIRE_NX
        elif opt == b"xx":
            flags |= EXPIRE_XX
        elif opt == b"gt":
            flags |= EXPIRE_GT
        elif opt == b"lt":
            flags |= EXPIRE_LT
        else:
            return R.err(R.UNSUPPORTED_OPTION % _cstr(a))
    if flags & EXPIRE_NX and flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT):
        return R.NX_XX_GT_LT
    if flags & EXPIRE_GT and flags & EXPIRE_LT:
        return R.GT_AND_LT
    return flags


def _expire_generic(c, argv, basetime: int, unit: int, name: str):
    flags = _parse_expire_flags(argv)
    if flags.__class__ is bytes:
        return flags
    when = parse_int(argv[2])
    if when is None:
        return R.NOT_INTEGER
    if unit == UNIT_SECONDS:
        if when > LLONG_MAX_DIV_1000 or when < LLONG_MIN_DIV_1000:
            return R.err_fmt(R.INVALID_EXPIRE_TIME, name)
        when *= 1000
    if when > LLONG_MAX - basetime:
        return R.err_fmt(R.INVALID_EXPIRE_TIME, name)
    when += basetime
    db = c.db
    node = c.node
    key = argv[1]
    if db.lookup_write(key) is None:
        return R.CZERO
    if flags:
        current = db.get_expire(key)
        if flags & EXPIRE_NX and current is not None:
            return R.CZERO
        if flags & EXPIRE_XX and current is None:
            return R.CZERO
        if flags & EXPIRE_GT and (current is None or when <= current):
            return R.CZERO
        if flags & EXPIRE_LT and current is not None and when >= current:
            return R.CZERO
    if when <= _now_ms() and not node.loading and node.master is None:
        # checkAlreadyExpired: a time in the past deletes the key now.
        db.delete(key)
        node.dirty += 1
        lazy = node.config["lazyfree-lazy-expire"]
        _propagate_as(c, [b"UNLINK" if lazy else b"DEL", key])
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", key, db.id)
        return R.CONE
    db.set_expire(key, when)
    db.modified(key)
    if node.propagate_hooks:
        prop = list(argv)
        prop[0] = b"PEXPIREAT"
        prop[2] = b"%d" % when
        c.propagate_argv = prop
    if node.notify_flags:
        node.notify(kn.GENERIC, b"expire", key, db.id)
    node.dirty += 1
    return R.CONE


@command("expire", -3, "write fast", keys=(1, 1, 1), categories="keyspace",
         summary="Set a key's time to live in seconds", since="1.0.0", complexity="O(1)")
def expire_command(c, argv):
    return _expire_generic(c, argv, _now_ms(), UNIT_SECONDS, "expire")


@command("pexpire", -3, "write fast", keys=(1, 1, 1), categories="keyspace",
         summary="Set a key's time to live in milliseconds", since="2.6.0", complexity="O(1)")
def pexpire_command(c, argv):
    return _expire_generic(c, argv, _now_ms(), UNIT_MS, "pexpire")


@command("expireat", -3, "write fast", keys=(1, 1, 1), categories="keyspace",
         summary="Set the expiration for a key as a UNIX timestamp", since="1.2.0", complexity="O(1)")
def expireat_command(c, argv):
    return _expire_generic(c, argv, 0, UNIT_SECONDS, "expireat")


@command("pexpireat", -3, "write fast", keys=(1, 1, 1), categories="keyspace",
         summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds",
         since="2.6.0", complexity="O(1)")
def pexpireat_command(c, argv):
    return _expire_generic(c, argv, 0, UNIT_MS, "pexpireat")


def _ttl_generic(c, argv, output_ms: bool, output_abs: bool):
    db = c.db
    key = argv[1]
    if lookup_notouch(db, key) is None:
        return R.CNEGTWO
    expire = db.get_expire(key)
    if expire is None:
        return R.CNEGONE
    ttl = expire if output_abs else expire - _now_ms()
    if ttl < 0:
        ttl = 0
    return b":%d\r\n" % (ttl if output_ms else (ttl + 500) // 1000)


@command("ttl", 2, "readonly fast", keys=(1, 1, 1), categories="keyspace",
         summary="Get the time to live for a key in seconds", since="1.0.0", complexity="O(1)")
def ttl_command(c, argv):
    return _ttl_generic(c, argv, False, False)


@command("pttl", 2, "readonly fast", keys=(1, 1, 1), categories="keyspace",
         summary="Get the time to live for a key in milliseconds", since="2.6.0", complexity="O(1)")
def pttl_command(c, argv):
    return _ttl_generic(c, argv, True, False)


@command("expiretime", 2, "readonly fast", keys=(1, 1, 1), categories="keyspace",
         summary="Get the expiration Unix timestamp for a key", since="7.0.0", complexity="O(1)")
def expiretime_command(c, argv):
    return _ttl_generic(c, argv, False, True)


@command("pexpiretime", 2, "readonly fast", keys=(1, 1, 1), categories="keyspace",
         summary="Get the expiration Unix timestamp for a key in milliseconds", since="7.0.0",
         complexity="O(1)")
def pexpiretime_command(c, argv):
    return _ttl_generic(c, argv, True, True)


@command("persist", 2, "write fast", keys=(1, 1, 1), categories="keyspace",
         summary="Remove the expiration from a key", since="2.2.0", complexity="O(1)")
def persist_command(c, argv):
    db = c.db
    key = argv[1]
    if db.lookup_write(key) is None:
        return R.CZERO
    if not db.persist(key):
        return R.CZERO
    db.modified(key)
    node = c.node
    if node.notify_flags:
        node.notify(kn.GENERIC, b"persist", key, db.id)
    node.dirty += 1
    return R.CONE


# --- OBJECT -------------------------------------------------------------------------------------------


def object_encoding(v) -> bytes:
    """What OBJECT ENCODING says for a stored value."""
    cls = v.__class__
    if cls is bytes or cls is bytearray:
        return string_encoding(v)
    return getattr(v, "encoding", b"unknown")


def object_refcount(node, v) -> int:
    """OBJECT REFCOUNT: shared small integers report INT_MAX, everything else 1.

    Redis shares the objects for 0..9999 unless an LRU/LFU maxmemory policy
    is set (those need a per-object clock).  Values stored here are never
    shared between keys, so any other value has one reference.  Not told
    apart: a COPY of a shared integer and an integer-looking INCRBYFLOAT
    result, which Redis holds in private objects (refcount 1).
    """
    if v.__class__ is bytes and string_encoding(v) == b"int":
        n = int(v)
        if 0 <= n < OBJ_SHARED_INTEGERS:
            policy = node.config["maxmemory-policy"]
            if not (node.config["maxmemory"] and ("lru" in policy or "lfu" in policy)):
                return OBJ_SHARED_REFCOUNT
    return 1


def _object_lookup(c, argv):
    return lookup_notouch(c.db, argv[2], keymiss=False)


@subcommand("object", "encoding", 3, "readonly", keys=(2, 2, 1), categories="keyspace",
            group="generic", summary="Inspect the internal encoding of a Redis object",
            since="2.2.3", complexity="O(1)")
def object_encoding_command(c, argv):
    v = _object_lookup(c, argv)
    if v is None:
        return c.resp.null
    return bulk(object_encoding(v))


@subcommand("object", "refcount", 3, "readonly", keys=(2, 2, 1), categories="keyspace",
            group="generic", summary="Get the number of references to the value of the key",
            since="2.2.3", complexity="O(1)")
def object_refcount_command(c, argv):
    v = _object_lookup(c, argv)
    if v is None:
        return c.resp.null
    return integer(object_refcount(c.node, v))


@subcommand("object", "idletime", 3, "readonly", keys=(2, 2, 1), categories="keyspace",
            group="generic", summary="Get the time since a Redis object was last accessed",
            since="2.2.3", complexity="O(1)")
def object_idletime_command(c, argv):
    v = _object_lookup(c, argv)
    if v is None:
        return c.resp.null
    node = c.node
    if node.lfu:
        return R.IDLETIME_LFU
    clock = node.lru_clock
    return integer(idle_seconds(c.db.access.get(argv[2], clock), clock))


@subcommand("object", "freq", 3, "readonly", keys=(2, 2, 1), categories="keyspace",
            group="generic", summary="Get the logarithmic access frequency counter of a Redis object",
            since="4.0.0", complexity="O(1)")
def object_freq_command(c, argv):
    v = _object_lookup(c, argv)
    if v is None:
        return c.resp.null
    node = c.node
    if not node.lfu:
        return R.FREQ_NOT_LFU
    return integer(lfu_freq(c.db.access.get(argv[2]), node.unixtime, node.config["lfu-decay-time"]))


@subcommand("object", "help", 2, "loading stale", categories="keyspace", group="generic",
            summary="Show helpful text about the different subcommands", since="6.2.0",
            complexity="O(1)")
def object_help_command(c, argv):
    return _OBJECT_HELP_REPLY
