"""Hash commands (t_hash.c): fields and values under one key, counters, random fields, HSCAN.

A hash is a ``keyspace.objects.Hash`` (a dict field -> value).  Python dicts
keep insertion order and update values in place, which is exactly the order
of a Redis listpack-encoded hash (new fields appended, updated fields keep
their place, deleted ones close up), so HGETALL, HKEYS, HVALS and HSCAN of a
small hash are byte-identical to Redis's.  ``encoding`` turns from
``listpack`` to ``hashtable`` when a field or value longer than
``hash-max-listpack-value`` is written or the hash grows past
``hash-max-listpack-entries``, at the points t_hash.c converts, and never
back.

HINCRBYFLOAT computes in x87 80-bit ``long double`` as Redis does, and
prints with Redis's "%.17Lf, trailing zeros removed" format, so that
``HINCRBYFLOAT h f 0.1`` answers ``0.1`` and not ``0.10000000000000001``;
it shares INCRBYFLOAT's exact long double emulation (commands/strings.py).

Random fields and HSCAN cursors share the side index of commands/sets.py.
"""

from __future__ import annotations

import random
from itertools import compress

from ..keyspace import notify as kn
from ..keyspace.objects import Hash
from ..protocol.resp import bulk, bulk_replies
from ..server import replies as R
from ..server.commandtable import batch, command
from . import sets as _side
from .strings import format_long_double, ld_add, parse_int, parse_long_double

LONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
_EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"


# --- hash helpers ---------------------------------------------------------------------------------


def _lookup_write_or_create(c, key):
    """hashTypeLookupWriteOrCreate: the hash at ``key`` (created empty if missing) or WRONGTYPE."""
    db = c.db
    h = db.lookup_write(key)
    if h is None:
        h = Hash()
        db.set(key, h)  # emits the "new" event
        return h
    if not isinstance(h, Hash):
        return R.WRONGTYPE
    return h


def _try_conversion(c, h: Hash, args) -> None:
    """hashTypeTryConversion: any field/value argument too long for a listpack converts."""
    if h.encoding == b"listpack":
        limit = c.node.config["hash-max-listpack-value"]
        for a in args:
            if len(a) > limit:
                h.encoding = b"hashtable"
                return


def _hash_set(c, h: Hash, field: bytes, value: bytes) -> bool:
    """hashTypeSet: store, convert past the listpack limits; True when the field is new."""
    if h.encoding == b"listpack":
        limit = c.node.config["hash-max-listpack-value"]
        if len(field) > limit or len(value) > limit:
            h.encoding = b"hashtable"
    new = field not in h
    h[field] = value
    if new:
        if h.encoding == b"listpack" and len(h) > c.node.config["hash-max-listpack-entries"]:
            h.encoding = b"hashtable"
        if _side._TRACKED:
            _side.note_added(h, field)
    return new


def _fits_listpack(c, h: Hash, field: bytes, value: bytes) -> bool:
    """Whether setting one field keeps a listpack-encoded hash a listpack."""
    cfg = c.node.config
    limit = cfg["hash-max-listpack-value"]
    if len(field) > limit or len(value) > limit:
        return False
    return field in h or len(h) < cfg["hash-max-listpack-entries"]


def _get_hash_read(c, key):
    h = c.db.lookup_read(key)
    if h is not None and not isinstance(h, Hash):
        return R.WRONGTYPE
    return h


def _pairs_reply(c, pairs, withvalues: bool) -> bytes:
    """HRANDFIELD's reply: fields, or field/value pairs (flat in RESP2, 2-arrays in RESP3)."""
    resp3 = c.resp.version > 2
    parts = [b"*%d\r\n" % (len(pairs) * 2 if withvalues and not resp3 else len(pairs))]
    for f, v in pairs:
        if withvalues:
            if resp3:
                parts.append(b"*2\r\n")
            parts.append(b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(f), f, len(v), v))
        else:
            parts.append(b"$%d\r\n%b\r\n" % (len(f), f))
    return b"".join(parts)


# --- commands -------------------------------------------------------------------------------------


def _hset_generic(c, argv, ok_reply: bool) -> bytes:
    if len(argv) % 2 == 1:
        return R.wrong_arity(argv[0])
    key = argv[1]
    h = _lookup_write_or_create(c, key)
    if h.__class__ is bytes:
        return h
    _try_conversion(c, h, argv[2:])
    created = 0
    for i in range(2, len(argv), 2):
        if _hash_set(c, h, argv[i], argv[i + 1]):
            created += 1
    db = c.db
    db.modified(key)
    node = c.node
    if node.notify_flags:
        node.notify(kn.HASH, b"hset", key, db.id)
    node.dirty += (len(argv) - 2) // 2
    return R.OK if ok_reply else b":%d\r\n" % created


@command("hset", -4, "write denyoom fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Set the string value of a hash field", since="2.0.0",
         complexity="O(1) for each field/value pair added, so O(N) to add N field/value pairs when the "
                    "command is called with multiple field/value pairs.")
def hset_command(c, argv):
    if len(argv) == 4:
        # Fast path: one field into an existing hash that does not change
        # encoding (a hashtable never converts back; a listpack stays one while
        # the field and value fit and the field count stays within the limit).
        # The steps of _hset_generic, flat.
        db = c.db
        key = argv[1]
        h = db.lookup_write(key)
        if h.__class__ is Hash and (h.encoding == b"hashtable" or _fits_listpack(c, h, argv[2], argv[3])):
            field = argv[2]
            new = field not in h
            h[field] = argv[3]
            if new and _side._TRACKED:
                _side.note_added(h, field)
            if db.watched:
                db.modified(key)
            node = c.node
            if node.notify_flags:
                node.notify(kn.HASH, b"hset", key, db.id)
            node.dirty += 1
            return R.CONE if new else R.CZERO
    return _hset_generic(c, argv, False)


@command("hmset", -4, "write denyoom fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Set multiple hash fields to multiple values", since="2.0.0",
         complexity="O(N) where N is the number of fields being set.")
def hmset_command(c, argv):
    return _hset_generic(c, argv, True)


@command("hsetnx", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Set the value of a hash field, only if the field does not exist", since="2.0.0",
         complexity="O(1)")
def hsetnx_command(c, argv):
    key = argv[1]
    h = _lookup_write_or_create(c, key)
    if h.__class__ is bytes:
        return h
    if argv[2] in h:
        return R.CZERO
    _try_conversion(c, h, argv[2:4])
    _hash_set(c, h, argv[2], argv[3])
    db = c.db
    db.modified(key)
    node = c.node
    if node.notify_flags:
        node.notify(kn.HASH, b"hset", key, db.id)
    node.dirty += 1
    return R.CONE


@command("hget", 3, "readonly fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Get the value of a hash field", since="2.0.0", complexity="O(1)")
def hget_command(c, argv):
    h = c.db.lookup_read(argv[1])
    if h is None:
        return c.resp.null
    if not isinstance(h, Hash):
        return R.WRONGTYPE
    v = h.get(argv[2])
    if v is None:
        return c.resp.null
    return b"$%d\r\n%b\r\n" % (len(v), v)


@command("hmget", -3, "readonly fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Get the values of all the given hash fields", since="2.0.0",
         complexity="O(N) where N is the number of fields being requested.")
def hmget_command(c, argv):
    h = _get_hash_read(c, argv[1])
    if h.__class__ is bytes:
        return h
    if h is None:
        h = {}
    null = c.resp.null
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    for f in argv[2:]:
        v = h.get(f)
        parts.append(null if v is None else b"$%d\r\n%b\r\n" % (len(v), v))
    return b"".join(parts)


@command("hdel", -3, "write fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Delete one or more hash fields", since="2.0.0",
         complexity="O(N) where N is the number of fields to be removed.")
def hdel_command(c, argv):
    key = argv[1]
    db = c.db
    h = db.lookup_write(key)
    if h is None:
        return R.CZERO
    if not isinstance(h, Hash):
        return R.WRONGTYPE
    deleted = 0
    removed_key = False
    for f in argv[2:]:
        if f in h:
            del h[f]
            if _side._TRACKED:
                _side.note_removed(h, f)
            deleted += 1
            if not h:
                db.delete(key)
                if _side._TRACKED:
                    _side.forget(h)
                removed_key = True
                break
    if deleted:
        node = c.node
        db.modified(key)
        if node.notify_flags:
            node.notify(kn.HASH, b"hdel", key, db.id)
            if removed_key:
                node.notify(kn.GENERIC, b"del", key, db.id)
        node.dirty += deleted
    return b":%d\r\n" % deleted


@command("hlen", 2, "readonly fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Get the number of fields in a hash", since="2.0.0", complexity="O(1)")
def hlen_command(c, argv):
    h = _get_hash_read(c, argv[1])
    if h.__class__ is bytes:
        return h
    return b":%d\r\n" % (len(h) if h is not None else 0)


@command("hstrlen", 3, "readonly fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Get the length of the value of a hash field", since="3.2.0", complexity="O(1)")
def hstrlen_command(c, argv):
    h = _get_hash_read(c, argv[1])
    if h.__class__ is bytes:
        return h
    v = h.get(argv[2]) if h is not None else None
    return b":%d\r\n" % (len(v) if v is not None else 0)


@command("hexists", 3, "readonly fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Determine if a hash field exists", since="2.0.0", complexity="O(1)")
def hexists_command(c, argv):
    h = _get_hash_read(c, argv[1])
    if h.__class__ is bytes:
        return h
    return R.CONE if h is not None and argv[2] in h else R.CZERO


def _getall_generic(c, argv, keys: bool, values: bool) -> bytes:
    h = _get_hash_read(c, argv[1])
    if h.__class__ is bytes:
        return h
    both = keys and values
    if h is None:
        return c.resp.map_header(0) if both else b"*0\r\n"
    if both:
        parts = [c.resp.map_header(len(h))]
        for f, v in h.items():
            parts.append(b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(f), f, len(v), v))
    else:
        parts = [b"*%d\r\n" % len(h)]
        for x in (h.keys() if keys else h.values()):
            parts.append(b"$%d\r\n%b\r\n" % (len(x), x))
    return b"".join(parts)


@command("hkeys", 2, "readonly", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Get all the fields in a hash", since="2.0.0",
         complexity="O(N) where N is the size of the hash.", tips=("nondeterministic_output_order",))
def hkeys_command(c, argv):
    return _getall_generic(c, argv, True, False)


@command("hvals", 2, "readonly", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Get all the values in a hash", since="2.0.0",
         complexity="O(N) where N is the size of the hash.", tips=("nondeterministic_output_order",))
def hvals_command(c, argv):
    return _getall_generic(c, argv, False, True)


@command("hgetall", 2, "readonly", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Get all the fields and values in a hash", since="2.0.0",
         complexity="O(N) where N is the size of the hash.", tips=("nondeterministic_output_order",))
def hgetall_command(c, argv):
    return _getall_generic(c, argv, True, True)


@command("hincrby", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Increment the integer value of a hash field by the given number", since="2.0.0",
         complexity="O(1)")
def hincrby_command(c, argv):
    incr = parse_int(argv[3])
    if incr is None:
        return R.NOT_INTEGER
    key = argv[1]
    h = _lookup_write_or_create(c, key)
    if h.__class__ is bytes:
        return h
    field = argv[2]
    old = h.get(field)
    value = 0
    if old is not None:
        value = parse_int(old)
        if value is None:
            return R.HASH_NOT_INTEGER
    new = value + incr
    if not LLONG_MIN <= new <= LONG_MAX:
        return R.OVERFLOW
    _hash_set(c, h, field, b"%d" % new)
    db = c.db
    db.modified(key)
    node = c.node
    if node.notify_flags:
        node.notify(kn.HASH, b"hincrby", key, db.id)
    node.dirty += 1
    return b":%d\r\n" % new


@command("hincrbyfloat", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Increment the float value of a hash field by the given amount", since="2.6.0",
         complexity="O(1)")
def hincrbyfloat_command(c, argv):
    incr = parse_long_double(argv[3])
    if incr is None:
        return R.NOT_FLOAT
    if incr.__class__ is float:  # only infinities come back as floats
        return R.VALUE_NAN_OR_INF
    key = argv[1]
    h = _lookup_write_or_create(c, key)
    if h.__class__ is bytes:
        return h
    field = argv[2]
    old = h.get(field)
    value = (0, 0)
    if old is not None:
        value = parse_long_double(old)
        if value is None:
            return R.HASH_NOT_FLOAT
    total = ld_add(value, incr)
    if total.__class__ is not tuple:  # an infinity or NaN
        return R.INCR_FLOAT_NAN
    new = format_long_double(total)
    _hash_set(c, h, field, new)
    db = c.db
    db.modified(key)
    node = c.node
    if node.notify_flags:
        node.notify(kn.HASH, b"hincrbyfloat", key, db.id)
    node.dirty += 1
    # Replicated as HSET with the final value, so replicas cannot drift.  Only
    # while something is propagated: on the connection's fast path (nothing
    # propagated) no one would consume it, and a stale rewrite left on the
    # client would be propagated in place of its next write.
    if node.propagate_hooks:
        c.propagate_argv = [b"HSET", key, field, new]
    return b"$%d\r\n%b\r\n" % (len(new), new)


@command("hrandfield", -2, "readonly", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Get one or multiple random fields from a hash", since="6.2.0",
         complexity="O(N) where N is the number of fields returned", tips=("nondeterministic_output",))
def hrandfield_command(c, argv):
    argc = len(argv)
    if argc >= 3:
        count = parse_int(argv[2])
        if count is None:
            return R.NOT_INTEGER
        if count < -LONG_MAX:
            return R.COUNT_OUT_OF_LONG_RANGE
        withvalues = False
        if argc > 4 or (argc == 4 and argv[3].lower() != b"withvalues"):
            return R.SYNTAX
        if argc == 4:
            withvalues = True
            if not -(LONG_MAX // 2) <= count <= LONG_MAX // 2:
                return R.VALUE_OUT_OF_RANGE
        return _hrandfield_count(c, argv[1], count, withvalues)
    h = _get_hash_read(c, argv[1])
    if h.__class__ is bytes:
        return h
    if h is None:
        return c.resp.null
    return bulk(_side.random_member(h))


def _hrandfield_count(c, key, count: int, withvalues: bool) -> bytes:
    h = _get_hash_read(c, key)
    if h.__class__ is bytes:
        return h
    if h is None or count == 0:
        return b"*0\r\n"
    if count < 0 or count == 1:
        # With repetition (or a single field): independent draws.
        fields = _side.random_members(h, -count if count < 0 else 1)
    elif count >= len(h):
        fields = list(h)
    elif h.encoding == b"listpack":
        # Redis samples a small hash in listpack order.
        keys = list(h)
        fields = [keys[i] for i in sorted(random.sample(range(len(keys)), count))]
    else:
        fields = _side.sample_members(h, count)
    return _pairs_reply(c, [(f, h[f]) for f in fields], withvalues)


@command("hscan", -3, "readonly", keys=(1, 1, 1), group="hash", categories="hash",
         summary="Incrementally iterate hash fields and associated values", since="2.8.0",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command calls "
                    "for the cursor to return back to 0. N is the number of elements inside the collection..",
         tips=("nondeterministic_output",))
def hscan_command(c, argv):
    cursor = _side.parse_scan_cursor(argv[2])
    if cursor is None:
        return R.INVALID_CURSOR
    h = _get_hash_read(c, argv[1])
    if h.__class__ is bytes:
        return h
    if h is None:
        return _EMPTY_SCAN
    opts = _side.parse_scan_options(argv, 3)
    if opts.__class__ is bytes:
        return opts
    count, match = opts
    if h.encoding == b"listpack":
        cursor, fields = 0, list(h)
    else:
        cursor, fields = _side.scan_members(h, cursor, count)
    if match is not None:
        fields = [f for f in fields if match(f)]
    items = []
    for f in fields:
        items.append(f)
        items.append(h[f])
    return _side.scan_reply(cursor, items)


# --- batch forms (a pipeline of one command at once: connection.run_uniform) ----------------------
#
# Each does exactly what its handler would do request by request, or declines
# (returns None) having changed nothing; see the batch forms of commands/sets.py.


@batch("hset")
def hset_batch(c, columns, m):
    """m HSETs to one key: one ``dict.update`` for every pair, replies from one membership pass.

    A dict keeps the insertion order a listpack has, whether the pairs
    arrive one by one or in one update.  The encoding ends where the
    handler's conversions would leave it: a listpack becomes a hashtable
    when any field or value is longer than hash-max-listpack-value, or when
    a field is added to a hash already at hash-max-listpack-entries -- a hash
    only grows here, so that is "a field was added and the hash ends past the
    limit".  A missing key is created as the first request would create it.
    """
    nargs = len(columns)
    if nargs & 1:
        return None  # an odd count: every request is an arity error
    db = c.db
    key = db.batch_key(columns[1], m)
    if key is None:
        return None
    node = c.node
    h = db.data.get(key)
    if h is not None and h.__class__ is not Hash:
        return None  # WRONGTYPE
    fields = _side.flatten_columns(columns, 2, 2)
    values = _side.flatten_columns(columns, 3, 2)
    if h is None:
        h = Hash()
        db.set(key, h)
    present = list(map(h.__contains__, fields))
    before = len(h)
    h.update(zip(fields, values))
    added = len(h) - before
    flags = _side.gains(fields, present, added)
    if h.encoding == b"listpack":
        cfg = node.config
        limit = cfg["hash-max-listpack-value"]
        if (
            max(map(len, fields)) > limit
            or max(map(len, values)) > limit
            or (added and len(h) > cfg["hash-max-listpack-entries"])
        ):
            h.encoding = b"hashtable"
    if added and _side._TRACKED:
        for f in compress(fields, flags):
            _side.note_added(h, f)
    node.dirty += len(fields)
    db.access[key] = node.lru_clock
    return _side.count_replies(flags, (nargs - 2) // 2)


_HASH_ONLY = {Hash}


@batch("hget")
def hget_batch(c, columns, m):
    """m HGETs: the lookups (statistics, LRU clock) and field reads in C-level passes."""
    hashes = c.db.lookup_read_batch(columns[1], _HASH_ONLY)
    if hashes is None:
        return None
    if None in hashes:
        values = [None if h is None else h.get(f) for h, f in zip(hashes, columns[2])]
    else:
        values = list(map(dict.get, hashes, columns[2]))
    return bulk_replies(values, c.resp.null)
