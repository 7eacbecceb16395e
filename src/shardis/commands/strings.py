"""String commands (t_string.c): GET, SET and family, counters, ranges, LCS.

Strings are stored as ``bytes`` (or ``bytearray`` once modified in place, see
keyspace/objects.py).  GET and plain SET are the hottest handlers of the
server, so they are written flat: one lookup, one store, a pre-encoded reply.
Every variant of SET (SETNX, SETEX, PSETEX, GETSET) goes through
``set_generic`` with the option parser Redis uses for SET and GETEX.

Where a Redis command edits a string in place (APPEND, SETRANGE) Redis first
"unshares" it into a raw string, and OBJECT ENCODING says ``raw`` from then
on; here the value becomes a ``bytearray`` at exactly those points, which
both reports ``raw`` and makes the edit cheap.  One case cannot be told
apart: an INCRBYFLOAT result that reads as an integer ("6") is an embstr in
Redis (it skips tryObjectEncoding) but a plain ``bytes`` here, so OBJECT
ENCODING says ``int`` for it (a distinct string type would have to be
accepted by every reader of strings in the code base).

INCRBYFLOAT computes in x87 80-bit ``long double`` in Redis and prints the
result with ``%.17Lf`` before trimming zeros, so its answers (``0.1 + 0.2`` is
``0.30000000000000000``, trimmed to ``0.3``; large sums show binary
artefacts in the last digits) are those of that format, not of Python
floats.  The ``ld_*`` helpers below reproduce it exactly with integer
arithmetic: ``parse_long_double`` is glibc's strtold (decimal, hex floats,
``inf``; round-half-even to a 64-bit significand, subnormals, overflow),
``ld_from_ratio`` rounds an exact rational to the nearest long double and
``format_long_double`` is ``%.17Lf`` plus Redis's trimming.  A finite value
is held as a pair ``(m, e)`` meaning ``m * 2**e`` (every long double is a
dyadic rational), so every step is exact integer arithmetic followed by one
rounding, like the hardware's.

LCS is computed with the bit-parallel LCS-length recurrence (one big-int
row per character of the shorter string: ``V = (V + U) | (V - U)`` with
``U = V & match_mask``), where the row after i characters encodes the DP
row: bit j is 0 exactly when the LCS length grows between columns j and
j+1.  The rows are kept to walk back through the table and emit the same
string and match ranges as Redis's traceback, which prefers moving up in
the first string only when that side is strictly longer.
"""

from __future__ import annotations

import time
from fractions import Fraction
from itertools import accumulate, chain, compress, repeat
from operator import add, neg

from ..keyspace import notify as kn
from ..protocol.resp import bulk_replies
from ..server import replies as R
from ..server.commandtable import batch, command
from ..server.dispatch import propagate_as as _propagate_as

# Option flags of parse_extended_args (t_string.c OBJ_* flags).
OBJ_NX = 1 << 0
OBJ_XX = 1 << 1
OBJ_EX = 1 << 2
OBJ_PX = 1 << 3
OBJ_KEEPTTL = 1 << 4
OBJ_SET_GET = 1 << 5
OBJ_EXAT = 1 << 6
OBJ_PXAT = 1 << 7
OBJ_PERSIST = 1 << 8
_ANY_EXPIRE = OBJ_EX | OBJ_PX | OBJ_EXAT | OBJ_PXAT

COMMAND_GET = 0
COMMAND_SET = 1

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)

MAX_LONG_DOUBLE_CHARS = 5 * 1024  # string2ld's buffer (util.h): longer input is not a number

_STRING_TYPES = (bytes, bytearray)
_EMPTY_BULK = b"$0\r\n\r\n"


def parse_int(b: bytes):
    """string2ll: a canonical signed 64-bit decimal, else None."""
    if not b or len(b) > 20:
        return None
    c0 = b[0]
    if not (48 <= c0 <= 57 or c0 == 45):
        return None
    try:
        v = int(b)
    except ValueError:
        return None
    if b"%d" % v != b or not LLONG_MIN <= v <= LLONG_MAX:
        return None
    return v


def _cstr(b: bytes) -> bytes:
    """What C string functions see of an argument: up to the first NUL."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]




def _string_too_long(c, size: int) -> bool:
    """checkStringLength: over proto-max-bulk-len (our master's writes are exempt)."""
    return size > c.node.config["proto-max-bulk-len"] and not c.is_master_link


def parse_extended_args(argv, command_type: int):
    """parseExtendedStringArgumentsOrReply for SET and GETEX.

    Returns (flags, expire_arg) or an error frame (bytes).  Options are
    compared as C strings (up to a NUL byte), as Redis does.
    """
    flags = 0
    expire = None
    j = 2 if command_type == COMMAND_GET else 3
    argc = len(argv)
    is_set = command_type == COMMAND_SET
    while j < argc:
        opt = _cstr(argv[j]).upper()
        nxt = argv[j + 1] if j + 1 < argc else None
        if opt == b"NX" and not flags & OBJ_XX and is_set:
            flags |= OBJ_NX
        elif opt == b"XX" and not flags & OBJ_NX and is_set:
            flags |= OBJ_XX
        elif opt == b"GET" and is_set:
            flags |= OBJ_SET_GET
        elif opt == b"KEEPTTL" and not flags & (OBJ_PERSIST | _ANY_EXPIRE) and is_set:
            flags |= OBJ_KEEPTTL
        elif opt == b"PERSIST" and not is_set and not flags & (_ANY_EXPIRE | OBJ_KEEPTTL):
            flags |= OBJ_PERSIST
        elif opt == b"EX" and not flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EXAT | OBJ_PX | OBJ_PXAT) and nxt is not None:
            flags |= OBJ_EX
            expire = nxt
            j += 1
        elif opt == b"PX" and not flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_EXAT | OBJ_PXAT) and nxt is not None:
            flags |= OBJ_PX
            expire = nxt
            j += 1
        elif opt == b"EXAT" and not flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_PX | OBJ_PXAT) and nxt is not None:
            flags |= OBJ_EXAT
            expire = nxt
            j += 1
        elif opt == b"PXAT" and not flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_EXAT | OBJ_PX) and nxt is not None:
            flags |= OBJ_PXAT
            expire = nxt
            j += 1
        else:
            return R.SYNTAX
        j += 1
    return flags, expire


def expire_ms_or_error(cmdname: str, expire: bytes, flags: int):
    """getExpireMillisecondsOrReply: absolute unix ms, or an error frame."""
    ms = parse_int(expire)
    if ms is None:
        return R.NOT_INTEGER
    seconds = bool(flags & (OBJ_EX | OBJ_EXAT))
    if ms <= 0 or (seconds and ms > LLONG_MAX // 1000):
        return R.err_fmt(R.INVALID_EXPIRE_TIME, cmdname)
    if seconds:
        ms *= 1000
    if flags & (OBJ_PX | OBJ_EX):
        ms += int(time.time() * 1000)
    if ms <= 0 or ms > LLONG_MAX:
        return R.err_fmt(R.INVALID_EXPIRE_TIME, cmdname)
    return ms


def reply_string(c, v) -> bytes:
    """A stored value as a bulk reply (WRONGTYPE for non-strings, null for None)."""
    if v is None:
        return c.resp.null
    if v.__class__ is bytes or v.__class__ is bytearray:
        return b"$%d\r\n%b\r\n" % (len(v), v)
    return R.WRONGTYPE


def set_generic(c, key, value, flags: int = 0, expire_ms=None, ok_reply=R.OK, abort_reply=None, argv=None):
    """setGenericCommand: the one implementation behind SET and its variants."""
    db = c.db
    node = c.node
    reply = None
    if flags & OBJ_SET_GET:
        reply = reply_string(c, db.lookup_read(key))
        if reply is R.WRONGTYPE:
            return reply
    found = db.lookup_write(key) is not None
    if (flags & OBJ_NX and found) or (flags & OBJ_XX and not found):
        if flags & OBJ_SET_GET:
            return reply
        return abort_reply if abort_reply is not None else c.resp.null
    db.set(key, value, keepttl=bool(flags & OBJ_KEEPTTL))
    node.dirty += 1
    if node.notify_flags:
        node.notify(kn.STRING, b"set", key, db.id)
    if expire_ms is not None:
        db.set_expire(key, expire_ms)
        # Propagated with an absolute time so replicas and the AOF agree.
        _propagate_as(c, [b"SET", key, value, b"PXAT", b"%d" % expire_ms])
        if node.notify_flags:
            node.notify(kn.GENERIC, b"expire", key, db.id)
    elif flags & OBJ_SET_GET and argv is not None and node.propagate_hooks:
        # Replicas get the SET without its GET arguments.
        c.propagate_argv = argv[:3] + [a for a in argv[3:] if _cstr(a).upper() != b"GET"]
    if flags & OBJ_SET_GET:
        return reply
    return ok_reply


@command("get", 2, "readonly fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Get the value of a key", since="1.0.0", complexity="O(1)")
def get_command(c, argv):
    v = c.db.lookup_read(argv[1])
    if v is None:
        return c.resp.null
    if v.__class__ is bytes or v.__class__ is bytearray:
        return b"$%d\r\n%b\r\n" % (len(v), v)
    return R.WRONGTYPE


@command("set", -3, "write denyoom", keys=(1, 1, 1), group="string", categories="string",
         summary="Set the string value of a key", since="1.0.0", complexity="O(1)")
def set_command(c, argv):
    if len(argv) == 3:
        node = c.node
        if not node.notify_flags:
            # The common case, flat: no options to parse, nobody to notify.
            c.db.set(argv[1], argv[2])
            node.dirty += 1
            return R.OK
        return set_generic(c, argv[1], argv[2])
    parsed = parse_extended_args(argv, COMMAND_SET)
    if parsed.__class__ is bytes:
        return parsed
    flags, expire = parsed
    expire_ms = None
    if expire is not None:
        expire_ms = expire_ms_or_error("set", expire, flags)
        if expire_ms.__class__ is bytes:
            return expire_ms
    return set_generic(c, argv[1], argv[2], flags, expire_ms, argv=argv)


@command("setnx", 3, "write denyoom fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Set the value of a key, only if the key does not exist", since="1.0.0",
         complexity="O(1)")
def setnx_command(c, argv):
    return set_generic(c, argv[1], argv[2], OBJ_NX, None, R.CONE, R.CZERO)


@command("setex", 4, "write denyoom", keys=(1, 1, 1), group="string", categories="string",
         summary="Set the value and expiration of a key", since="2.0.0", complexity="O(1)")
def setex_command(c, argv):
    expire_ms = expire_ms_or_error("setex", argv[2], OBJ_EX)
    if expire_ms.__class__ is bytes:
        return expire_ms
    return set_generic(c, argv[1], argv[3], OBJ_EX, expire_ms)


@command("psetex", 4, "write denyoom", keys=(1, 1, 1), group="string", categories="string",
         summary="Set the value and expiration in milliseconds of a key", since="2.6.0",
         complexity="O(1)")
def psetex_command(c, argv):
    expire_ms = expire_ms_or_error("psetex", argv[2], OBJ_PX)
    if expire_ms.__class__ is bytes:
        return expire_ms
    return set_generic(c, argv[1], argv[3], OBJ_PX, expire_ms)


@command("getset", 3, "write denyoom fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Set the string value of a key and return its old value", since="1.0.0",
         complexity="O(1)")
def getset_command(c, argv):
    db = c.db
    node = c.node
    key = argv[1]
    reply = reply_string(c, db.lookup_read(key))
    if reply is R.WRONGTYPE:
        return reply
    if node.lfu:
        db.lookup_write(key)  # setKey's own lookup: a second access (LFUDatabase.set)
    db.set(key, argv[2])
    if node.notify_flags:
        node.notify(kn.STRING, b"set", key, db.id)
    node.dirty += 1
    _propagate_as(c, [b"SET", key, argv[2]])
    return reply


@command("getdel", 2, "write fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Get the value of a key and delete the key", since="6.2.0", complexity="O(1)")
def getdel_command(c, argv):
    db = c.db
    key = argv[1]
    reply = reply_string(c, db.lookup_read(key))
    if reply is R.WRONGTYPE:
        return reply
    if db.delete(key):
        node = c.node
        _propagate_as(c, [b"UNLINK" if node.config["lazyfree-lazy-user-del"] else b"DEL", key])
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", key, db.id)
        node.dirty += 1
    return reply


@command("getex", -2, "write fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Get the value of a key and optionally set its expiration", since="6.2.0",
         complexity="O(1)")
def getex_command(c, argv):
    parsed = parse_extended_args(argv, COMMAND_GET)
    if parsed.__class__ is bytes:
        return parsed
    flags, expire = parsed
    db = c.db
    node = c.node
    key = argv[1]
    v = db.lookup_read(key)
    if v is None:
        return c.resp.null
    if v.__class__ is not bytes and v.__class__ is not bytearray:
        return R.WRONGTYPE
    ms = None
    if expire is not None:
        ms = expire_ms_or_error("getex", expire, flags)
        if ms.__class__ is bytes:
            return ms
    reply = b"$%d\r\n%b\r\n" % (len(v), v)
    if (
        flags & (OBJ_PXAT | OBJ_EXAT)
        and ms <= int(time.time() * 1000)
        and not node.loading
        and node.master is None
    ):
        # An absolute time already in the past deletes the key.
        db.delete(key)
        _propagate_as(c, [b"UNLINK" if node.config["lazyfree-lazy-expire"] else b"DEL", key])
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", key, db.id)
        node.dirty += 1
    elif ms is not None:
        db.set_expire(key, ms)
        db.modified(key)
        _propagate_as(c, [b"PEXPIREAT", key, b"%d" % ms])
        if node.notify_flags:
            node.notify(kn.GENERIC, b"expire", key, db.id)
        node.dirty += 1
    elif flags & OBJ_PERSIST:
        if db.persist(key):
            db.modified(key)
            _propagate_as(c, [b"PERSIST", key])
            if node.notify_flags:
                node.notify(kn.GENERIC, b"persist", key, db.id)
            node.dirty += 1
    return reply


@command("mget", -2, "readonly fast", keys=(1, -1, 1), group="string", categories="string",
         summary="Get the values of all the given keys", since="1.0.0",
         complexity="O(N) where N is the number of keys to retrieve.")
def mget_command(c, argv):
    lookup = c.db.lookup_read
    null = c.resp.null
    parts = [b"*%d\r\n" % (len(argv) - 1)]
    for key in argv[1:]:
        v = lookup(key)
        if v is not None and (v.__class__ is bytes or v.__class__ is bytearray):
            parts.append(b"$%d\r\n%b\r\n" % (len(v), v))
        else:
            parts.append(null)
    return b"".join(parts)


def _mset_generic(c, argv, nx: bool):
    argc = len(argv)
    if argc % 2 == 0:
        return R.wrong_arity(b"msetnx" if nx else b"mset")
    db = c.db
    if nx:
        for j in range(1, argc, 2):
            if db.lookup_write(argv[j]) is not None:
                return R.CZERO
    node = c.node
    if node.notify_flags:
        dbid = db.id
        for j in range(1, argc, 2):
            key = argv[j]
            db.set(key, argv[j + 1])
            node.notify(kn.STRING, b"set", key, dbid)
    else:
        dbset = db.set
        for j in range(1, argc, 2):
            dbset(argv[j], argv[j + 1])
    node.dirty += (argc - 1) // 2
    return R.CONE if nx else R.OK


@command("mset", -3, "write denyoom", keys=(1, -1, 2), group="string", categories="string",
         summary="Set multiple keys to multiple values", since="1.0.1",
         complexity="O(N) where N is the number of keys to set.")
def mset_command(c, argv):
    return _mset_generic(c, argv, False)


@command("msetnx", -3, "write denyoom", keys=(1, -1, 2), group="string", categories="string",
         summary="Set multiple keys to multiple values, only if none of the keys exist",
         since="1.0.1", complexity="O(N) where N is the number of keys to set.")
def msetnx_command(c, argv):
    return _mset_generic(c, argv, True)


@command("append", 3, "write denyoom fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Append a value to a key", since="2.0.0", complexity="O(1).")
def append_command(c, argv):
    db = c.db
    node = c.node
    key = argv[1]
    arg = argv[2]
    v = db.lookup_write(key)
    if v is None:
        db.set(key, arg)
        total = len(arg)
    else:
        if v.__class__ is bytes:
            total = len(v) + len(arg)
            if _string_too_long(c, total):
                return R.STRING_TOO_LONG
            # Redis unshares the value into a raw string before appending.
            v = bytearray(v)
            v += arg
            db.set(key, v, True)
        elif v.__class__ is bytearray:
            total = len(v) + len(arg)
            if _string_too_long(c, total):
                return R.STRING_TOO_LONG
            v += arg
            db.modified(key)
        else:
            return R.WRONGTYPE
    if node.notify_flags:
        node.notify(kn.STRING, b"append", key, db.id)
    node.dirty += 1
    return b":%d\r\n" % total


@command("strlen", 2, "readonly fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Get the length of the value stored in a key", since="2.2.0", complexity="O(1)")
def strlen_command(c, argv):
    v = c.db.lookup_read(argv[1])
    if v is None:
        return R.CZERO
    if v.__class__ is bytes or v.__class__ is bytearray:
        return b":%d\r\n" % len(v)
    return R.WRONGTYPE


# --- counters ---------------------------------------------------------------------------------


def _incr_decr(c, key, incr: int):
    """incrDecrCommand."""
    db = c.db
    v = db.lookup_write(key)
    if v is None:
        old = 0
    elif v.__class__ is bytes or v.__class__ is bytearray:
        old = parse_int(bytes(v) if v.__class__ is bytearray else v)
        if old is None:
            return R.NOT_INTEGER
    else:
        return R.WRONGTYPE
    new = old + incr
    if not LLONG_MIN <= new <= LLONG_MAX:
        return R.OVERFLOW
    s = b"%d" % new
    db.set(key, s, True)
    node = c.node
    if node.notify_flags:
        node.notify(kn.STRING, b"incrby", key, db.id)
    node.dirty += 1
    return b":" + s + b"\r\n"


@command("incr", 2, "write denyoom fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Increment the integer value of a key by one", since="1.0.0", complexity="O(1)")
def incr_command(c, argv):
    # Fast path: a missing counter, or one holding a plain decimal of at most
    # 18 digits -- canonical ("0" or no leading zero) and far from overflow,
    # so neither parse_int's round trip nor the range check is needed.
    # Anything else (signs, bytearrays, other types) takes _incr_decr.
    db = c.db
    key = argv[1]
    v = db.lookup_write(key)
    if v is None:
        db.set(key, b"1", True)
        s = b"1"
    elif v.__class__ is bytes and v.isdigit() and len(v) < 19 and (v[0] != 48 or len(v) == 1):
        s = b"%d" % (int(v) + 1)
        # Same key, same type, same TTL: Database.set's other steps (expiry,
        # "new" event, slot index, access clock) have nothing to do.
        db.replace_value(key, s)
        if db.watched:
            db.modified(key)
    else:
        return _incr_decr(c, key, 1)
    node = c.node
    if node.notify_flags:
        node.notify(kn.STRING, b"incrby", key, db.id)
    node.dirty += 1
    return b":" + s + b"\r\n"


@command("decr", 2, "write denyoom fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Decrement the integer value of a key by one", since="1.0.0", complexity="O(1)")
def decr_command(c, argv):
    return _incr_decr(c, argv[1], -1)


@command("incrby", 3, "write denyoom fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Increment the integer value of a key by the given amount", since="1.0.0",
         complexity="O(1)")
def incrby_command(c, argv):
    incr = parse_int(argv[2])
    if incr is None:
        return R.NOT_INTEGER
    return _incr_decr(c, argv[1], incr)


@command("decrby", 3, "write denyoom fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Decrement the integer value of a key by the given number", since="1.0.0",
         complexity="O(1)")
def decrby_command(c, argv):
    incr = parse_int(argv[2])
    if incr is None:
        return R.NOT_INTEGER
    if incr == LLONG_MIN:
        return R.DECR_OVERFLOW
    return _incr_decr(c, argv[1], -incr)


# --- long double (x87 80-bit extended) emulation -------------------------------------------------

LD_MANT_DIG = 64  # significand bits, the integer bit included
LD_MIN_EXP = -16382  # exponent of the smallest normal: 2**-16382
LD_MAX_EXP = 16384  # values >= 2**16384 overflow
LD_QUANTUM_MIN = LD_MIN_EXP - (LD_MANT_DIG - 1)  # subnormal spacing: 2**-16445

LD_INF = float("inf")
LD_NINF = float("-inf")

_DECDIGITS = frozenset(b"0123456789")
_HEXDIGITS = b"0123456789abcdefABCDEF"

# Python refuses int <-> decimal str conversions beyond 4300 digits (a guard
# against quadratic work); long doubles reach ~4950 digits, so convert in
# chunks below that limit.
_DIGIT_CHUNK = 4000
_DIGIT_BASE = 10**_DIGIT_CHUNK


def _digits_to_int(d: bytes) -> int:
    if len(d) <= _DIGIT_CHUNK:
        return int(d)
    n = 0
    for i in range(0, len(d), _DIGIT_CHUNK):
        part = d[i:i + _DIGIT_CHUNK]
        n = n * 10 ** len(part) + int(part)
    return n


def _int_to_digits(n: int) -> bytes:
    """Decimal digits of a non-negative int of any size."""
    base = _DIGIT_BASE
    if n < base:
        return b"%d" % n
    parts = []
    while n:
        n, r = divmod(n, base)
        parts.append(r)
    return b"%d" % parts[-1] + b"".join(b"%0*d" % (_DIGIT_CHUNK, p) for p in reversed(parts[:-1]))


def _ld_round(mag: int, e: int, neg: bool, sticky: bool = False):
    """Round mag * 2**e (plus a sliver more when ``sticky``) to a long double.

    Returns (m, qexp) meaning m * 2**qexp with |m| < 2**64, or +-inf on
    overflow.  Ties go to even; ``sticky`` says inexact bits were dropped
    below ``mag``, which callers guarantee leaves at least two spare bits.
    """
    if mag == 0:
        return (0, 0)
    top = mag.bit_length() + e - 1  # the value lies in [2**top, 2**(top+1))
    qexp = max(top - (LD_MANT_DIG - 1), LD_QUANTUM_MIN)
    shift = qexp - e
    if shift > 0:
        q = mag >> shift
        rem = mag & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and (sticky or q & 1)):
            q += 1
    else:
        q = mag << -shift
    if q == 0:
        return (0, 0)
    if q.bit_length() + qexp > LD_MAX_EXP:
        return LD_NINF if neg else LD_INF
    return (-q if neg else q, qexp)


def ld_from_ratio(num: int, den: int):
    """The long double nearest to num/den (den > 0): (m, e), or +-inf."""
    neg = num < 0
    num = -num if neg else num
    if num == 0:
        return (0, 0)
    if den == 1:
        return _ld_round(num, 0, neg)
    # enough quotient bits for 64 significant ones plus rounding information
    shift = max(0, LD_MANT_DIG + 2 + den.bit_length() - num.bit_length())
    q, r = divmod(num << shift, den)  # q has at least 66 bits: rounding drops 2 or more
    return _ld_round(q, -shift, neg, r != 0)


def ld_to_fraction(v) -> Fraction:
    """A finite long double (m, e) as an exact Fraction."""
    m, e = v
    return Fraction(m << e) if e >= 0 else Fraction(m, 1 << -e)


def _ld_from_parts(mant: int, exp: int, base: int, ndigits: int = 0):
    """Round mant * base**exp (base 10 or 2) to a long double.

    Returns (m, e), or None when strtold would report ERANGE with an
    infinite or zero result (overflow, or underflow to zero).
    """
    if mant == 0:
        return (0, 0)
    # Cheap magnitude bounds first, so absurd exponents need no huge integers.
    if base == 10:
        mag2 = (ndigits + exp) * 3.3219280948873626  # ~log2 of the value, +-4
    else:
        mag2 = mant.bit_length() + exp
    if mag2 > LD_MAX_EXP + 8 or mag2 < LD_QUANTUM_MIN - 8:
        return None
    if base == 2:
        v = _ld_round(mant, exp, False)
    elif exp >= 0:
        v = _ld_round(mant * 10**exp, 0, False)
    else:
        v = ld_from_ratio(mant, 10**-exp)
    if v.__class__ is float or v[0] == 0:
        return None
    return v


def _scan_mantissa(s: bytes, j: int, digit_set):
    """Digits, then an optional '.' and more digits, from s[j]: (the digits, how many follow the point, end)."""
    n = len(s)
    digits = bytearray()
    frac = 0
    while j < n and s[j] in digit_set:
        digits.append(s[j])
        j += 1
    if j < n and s[j] == 46:
        j += 1
        while j < n and s[j] in digit_set:
            digits.append(s[j])
            frac += 1
            j += 1
    return bytes(digits), frac, j


def _scan_exponent(s: bytes, j: int, letters: bytes):
    """An optional exponent at s[j] -- a letter of ``letters``, a sign, digits: (its value, end).

    Without digits after the letter there is no exponent (strtold stops before the letter).
    """
    n = len(s)
    if j < n and s[j] in letters:
        k = j + 1
        negative = False
        if k < n and s[k] in b"+-":
            negative = s[k] == 45
            k += 1
        start = k
        while k < n and 48 <= s[k] <= 57:
            k += 1
        if k > start:
            exp = _digits_to_int(s[start:k])
            return (-exp if negative else exp), k
    return 0, j


def _strtold(s: bytes):
    """glibc strtold on ``s``: (value, number of bytes consumed, out_of_range).

    ``value`` is (m, e) for m * 2**e, +-inf or "nan"; consumed is 0 when no number
    could be read.  out_of_range is True for ERANGE with an infinite or zero
    result, the only case string2ld rejects.
    """
    n = len(s)
    i = 0
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 45
        i += 1
    low = s[i:i + 8].lower()
    if low.startswith(b"inf"):
        used = i + (8 if low == b"infinity" else 3)
        return (LD_NINF if neg else LD_INF), used, False
    if low.startswith(b"nan"):
        used = i + 3
        if used < n and s[used] == 40:  # "nan(chars)"
            close = s.find(b")", used)
            if close > 0 and all(ch == 95 or 48 <= ch <= 57 or 65 <= ch <= 90 or 97 <= ch <= 122
                                 for ch in s[used + 1:close]):
                used = close + 1
        return "nan", used, False
    if low[:2] == b"0x" and i + 2 < n and (
        s[i + 2] in _HEXDIGITS or (s[i + 2] == 46 and i + 3 < n and s[i + 3] in _HEXDIGITS)
    ):
        digits, frac, j = _scan_mantissa(s, i + 2, _HEXDIGITS)
        exp, j = _scan_exponent(s, j, b"pP")
        mant = int(digits, 16)
        v = _ld_from_parts(mant, exp - 4 * frac, 2)
        if v is None:
            return (0, 0), j, True
        return ((-v[0], v[1]) if neg else v), j, False
    # decimal
    digits, frac, j = _scan_mantissa(s, i, _DECDIGITS)
    if not digits:
        return (0, 0), 0, False
    exp, j = _scan_exponent(s, j, b"eE")
    sig = digits.lstrip(b"0")
    mant = _digits_to_int(sig) if sig else 0
    v = _ld_from_parts(mant, exp - frac, 10, len(sig))
    if v is None:
        return (0, 0), j, True
    return ((-v[0], v[1]) if neg else v), j, False


def parse_long_double(b: bytes):
    """string2ld: the long double a string holds ((m, e) or +-inf), or None if it is not one."""
    if not b or len(b) >= MAX_LONG_DOUBLE_CHARS:
        return None
    s = bytes(b)
    if b"\0" in s:
        return None  # strtold stops at the NUL, short of the whole string
    if s[:1] in (b" ", b"\t", b"\n", b"\v", b"\f", b"\r"):
        return None
    value, used, out_of_range = _strtold(s)
    if used != len(s) or out_of_range or value == "nan":
        return None
    return value


def ld_add(a, b):
    """a + b in long double arithmetic: (m, e), +-inf, or "nan"."""
    if a.__class__ is float or b.__class__ is float:
        if a.__class__ is float and b.__class__ is float and a != b:
            return "nan"
        return a if a.__class__ is float else b
    (m1, e1), (m2, e2) = a, b
    if e1 < e2:
        total, e = m1 + (m2 << (e2 - e1)), e1
    else:
        total, e = (m1 << (e1 - e2)) + m2, e2
    if total == 0:
        return (0, 0)
    return _ld_round(-total if total < 0 else total, e, total < 0)


_SCALE_17 = 10**17


def format_long_double(v) -> bytes:
    """ld2string(LD_STR_HUMAN) of (m, e): %.17Lf, trailing zeros and dot removed, "-0" as "0"."""
    m, e = v
    if m == 0:
        return b"0"
    sign = b"-" if m < 0 else b""
    mag = -m if m < 0 else m
    if e >= 0:
        return sign + _int_to_digits(mag << e)
    scaled = mag * _SCALE_17
    shift = -e
    q = scaled >> shift
    rem = scaled - (q << shift)
    half = 1 << (shift - 1)
    if rem > half or (rem == half and q & 1):  # the exact value, ties to even, as glibc printf
        q += 1
    if q == 0:
        return b"0"
    ip, fp = divmod(q, _SCALE_17)
    frac = (b"%017d" % fp).rstrip(b"0")
    return sign + _int_to_digits(ip) + (b"." + frac if frac else b"")


@command("incrbyfloat", 3, "write denyoom fast", keys=(1, 1, 1), group="string", categories="string",
         summary="Increment the float value of a key by the given amount", since="2.6.0",
         complexity="O(1)")
def incrbyfloat_command(c, argv):
    db = c.db
    key = argv[1]
    v = db.lookup_write(key)
    if v is None:
        value = (0, 0)
    elif v.__class__ is bytes or v.__class__ is bytearray:
        value = parse_long_double(v)
        if value is None:
            return R.NOT_FLOAT
    else:
        return R.WRONGTYPE
    incr = parse_long_double(argv[2])
    if incr is None:
        return R.NOT_FLOAT
    result = ld_add(value, incr)
    if result.__class__ is not tuple:
        return R.INCR_FLOAT_NAN
    s = format_long_double(result)
    db.set(key, s, True)
    node = c.node
    if node.notify_flags:
        node.notify(kn.STRING, b"incrbyfloat", key, db.id)
    node.dirty += 1
    # Replicated as the final value so float formatting cannot diverge.
    _propagate_as(c, [b"SET", key, s, b"KEEPTTL"])
    return b"$%d\r\n%b\r\n" % (len(s), s)


# --- ranges ---------------------------------------------------------------------------------------


def _getrange(c, argv):
    start = parse_int(argv[2])
    if start is None:
        return R.NOT_INTEGER
    end = parse_int(argv[3])
    if end is None:
        return R.NOT_INTEGER
    v = c.db.lookup_read(argv[1])
    if v is None:
        return _EMPTY_BULK
    if v.__class__ is not bytes and v.__class__ is not bytearray:
        return R.WRONGTYPE
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return _EMPTY_BULK
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return _EMPTY_BULK
    part = v[start:end + 1]
    return b"$%d\r\n%b\r\n" % (len(part), part)


@command("getrange", 4, "readonly", keys=(1, 1, 1), group="string", categories="string",
         summary="Get a substring of the string stored at a key", since="2.4.0",
         complexity="O(N) where N is the length of the returned string.")
def getrange_command(c, argv):
    return _getrange(c, argv)


@command("substr", 4, "readonly", keys=(1, 1, 1), group="string", categories="string",
         summary="Get a substring of the string stored at a key", since="1.0.0",
         complexity="O(N) where N is the length of the returned string.")
def substr_command(c, argv):
    return _getrange(c, argv)


@command("setrange", 4, "write denyoom", keys=(1, 1, 1), group="string", categories="string",
         summary="Overwrite part of a string at key starting at the specified offset", since="2.2.0",
         complexity="O(1), not counting the time taken to copy the new string in place.")
def setrange_command(c, argv):
    offset = parse_int(argv[2])
    if offset is None:
        return R.NOT_INTEGER
    if offset < 0:
        return R.OFFSET_OUT_OF_RANGE
    db = c.db
    node = c.node
    key = argv[1]
    value = argv[3]
    v = db.lookup_write(key)
    if v is None:
        if not value:
            return R.CZERO
        if _string_too_long(c, offset + len(value)):
            return R.STRING_TOO_LONG
        v = bytearray(offset)
        v += value
        db.set(key, v)
    else:
        if v.__class__ is not bytes and v.__class__ is not bytearray:
            return R.WRONGTYPE
        if not value:
            return b":%d\r\n" % len(v)
        if _string_too_long(c, offset + len(value)):
            return R.STRING_TOO_LONG
        if v.__class__ is bytes:
            v = bytearray(v)
            db.set(key, v, True)
        else:
            db.modified(key)
        n = len(v)
        if offset > n:
            v += bytes(offset - n)
        v[offset:offset + len(value)] = value
    if node.notify_flags:
        node.notify(kn.STRING, b"setrange", key, db.id)
    node.dirty += 1
    return b":%d\r\n" % len(v)


# --- LCS -----------------------------------------------------------------------------------------------


def _match_masks(s: bytes) -> dict:
    """For each byte of ``s``: an int whose bit j is set where s[j] is that byte."""
    masks = {}
    rev = s[::-1]
    for ch in set(s):
        table = bytearray(b"0" * 256)
        table[ch] = 49  # '1'
        masks[ch] = int(rev.translate(bytes(table)), 2)
    return masks


def _lcs_rows(rows_of: bytes, bits_of: bytes, keep: bool):
    """Bit-parallel LCS rows: V after each byte of ``rows_of`` (all of them if keep)."""
    m = len(bits_of)
    full = (1 << m) - 1
    masks = _match_masks(bits_of)
    v = full
    rows = [v] if keep else None
    get = masks.get
    for ch in rows_of:
        pm = get(ch)
        if pm is not None:
            u = v & pm
            v = ((v + u) | (v - u)) & full
        if keep:
            rows.append(v)
    return v, rows


def lcs(a: bytes, b: bytes, want_string: bool, minmatchlen: int = 0, want_ranges: bool = False):
    """The LCS of a and b as Redis reports it: (length, lcs string or None, ranges).

    ``ranges`` are (a_start, a_end, b_start, b_end, length) in the order
    Redis emits them (from the end of the strings backwards).
    """
    alen, blen = len(a), len(b)
    by_a = alen <= blen  # loop over the shorter string, bits over the longer
    if not (want_string or want_ranges):
        if alen == 0 or blen == 0:
            return 0, None, []
        v, _ = _lcs_rows(a, b, False) if by_a else _lcs_rows(b, a, False)
        width = blen if by_a else alen
        return width - v.bit_count(), None, []
    if by_a:
        v, rows = _lcs_rows(a, b, True)
        length = blen - v.bit_count()
    else:
        v, rows = _lcs_rows(b, a, True)
        length = alen - v.bit_count()
    result = bytearray(length)
    idx = length
    ranges = []
    i, j = alen, blen
    a_start = alen  # alen: no range being tracked
    a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == alen:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            # Redis: move up in a when LCS(i-1, j) > LCS(i, j-1), else left in b.
            if by_a:
                up = not (rows[i] >> (j - 1)) & 1
            elif (rows[j] >> (i - 1)) & 1:
                mask = (1 << i) - 1
                up = (rows[j - 1] & mask).bit_count() > (rows[j] & mask).bit_count()
            else:
                up = False
            if up:
                i -= 1
            else:
                j -= 1
            if a_start != alen:
                emit = True
        if emit:
            mlen = a_end - a_start + 1
            if minmatchlen == 0 or mlen >= minmatchlen:
                ranges.append((a_start, a_end, b_start, b_end, mlen))
            a_start = alen
    return length, bytes(result), ranges


@command("lcs", -3, "readonly", keys=(1, 2, 1), group="string", categories="string",
         summary="Find longest common substring", since="7.0.0",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively")
def lcs_command(c, argv):
    db = c.db
    va = db.lookup_read(argv[1])
    vb = db.lookup_read(argv[2])
    if (va is not None and va.__class__ not in _STRING_TYPES) or (
        vb is not None and vb.__class__ not in _STRING_TYPES
    ):
        return R.LCS_NOT_STRINGS
    a = bytes(va) if va is not None else b""
    b = bytes(vb) if vb is not None else b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    argc = len(argv)
    while j < argc:
        opt = _cstr(argv[j]).lower()
        if opt == b"idx":
            getidx = True
        elif opt == b"len":
            getlen = True
        elif opt == b"withmatchlen":
            withmatchlen = True
        elif opt == b"minmatchlen" and j + 1 < argc:
            minmatchlen = parse_int(argv[j + 1])
            if minmatchlen is None:
                return R.NOT_INTEGER
            if minmatchlen < 0:
                minmatchlen = 0
            j += 1
        else:
            return R.SYNTAX
        j += 1
    if getlen and getidx:
        return R.LCS_LEN_AND_IDX
    if len(a) >= 2**32 - 2 or len(b) >= 2**32 - 2:
        return R.LCS_TOO_LONG
    if (len(a) + 1) * (len(b) + 1) * 4 > c.node.config["proto-max-bulk-len"]:
        return R.LCS_MEMORY
    want_string = getidx or not getlen
    length, result, ranges = lcs(a, b, want_string, minmatchlen, getidx)
    if getidx:
        parts = [c.resp.map_header(2), b"$7\r\nmatches\r\n*%d\r\n" % len(ranges)]
        for a0, a1, b0, b1, mlen in ranges:
            if withmatchlen:
                parts.append(b"*3\r\n*2\r\n:%d\r\n:%d\r\n*2\r\n:%d\r\n:%d\r\n:%d\r\n" % (a0, a1, b0, b1, mlen))
            else:
                parts.append(b"*2\r\n*2\r\n:%d\r\n:%d\r\n*2\r\n:%d\r\n:%d\r\n" % (a0, a1, b0, b1))
        parts.append(b"$3\r\nlen\r\n:%d\r\n" % length)
        return b"".join(parts)
    if getlen:
        return b":%d\r\n" % length
    return b"$%d\r\n%b\r\n" % (len(result), result)



# --- batch forms: a pipeline of GETs or SETs at once (commandtable.batch) ---------------------

@batch("get")
def get_batch(c, columns, m):
    """m GETs: one C-level pass per step (lookups, replies, LRU clock) instead of m handler calls."""
    db = c.db
    keys = columns[1]
    values = db.read_batch(keys)
    if values is None:
        return None  # a TTL, or keymiss events
    try:
        reply = bulk_replies(values, c.resp.null)
    except TypeError:
        return None  # a value of another type: WRONGTYPE, request by request (bulk_replies is the type check)
    db.note_reads(keys, values)
    return reply


@batch("set")
def set_batch(c, columns, m):
    """m plain SETs (no options): two dict updates, as ``Database.set`` does per key."""
    if len(columns) != 3:
        return None  # options: the handler parses them
    db = c.db
    node = c.node
    keys = columns[1]
    if node.notify_flags or db.watched:
        return None
    expires = db.expires
    if expires and not expires.keys().isdisjoint(keys):
        return None  # SET clears TTLs (and expires stale keys first): Database.set per key
    _store_strings(db, node, keys, zip(keys, columns[2]))
    node.dirty += m
    return R.OK * m


def _store_strings(db, node, keys, pairs) -> None:
    """The stores of a batch of SET-like requests, as ``Database.set`` makes them one by one.

    ``keys`` in request order (repeats allowed), ``pairs`` the (key, value)
    writes in the same order.  New keys join the cluster slot index in the
    order they are created; every key's LRU clock is set.  TTLs, WATCH and
    keyspace events are the callers' to have declined.
    """
    data = db.data
    if db.slot_index is not None:
        add = db.slot_index.add
        for k in keys:
            if k not in data:
                add(k)
                data[k] = b""  # a later duplicate of k in this batch is no longer new
    data.update(pairs)
    db.access.update(zip(keys, repeat(node.lru_clock)))


# --- batch forms: counters and MSET ------------------------------------------------------------
#
# A counter batch succeeds only when no request would fail: every stored
# value a canonical 64-bit decimal (bytes, or a bytearray that the handler
# reads the same way and replaces with bytes), every increment one too, no
# result out of range.  Each key then holds its last result as ``bytes``,
# as ``incr_command``/``_incr_decr`` leave it.  The per-request steps are
# C-level passes over the batch: ``int`` mapped over the texts, one
# ``%``-formatting of all the numbers to check that they were canonical
# (parse_int's round trip), one more for the replies, whose split gives the
# values to store.


def _parse_counters(texts, m):
    """parse_int over m texts: (ints, small) or None if any is not a canonical 64-bit decimal.

    ``small``: every number has at most 18 characters (``|n| < 10**18``), so
    adding 1 or -1 to it fewer than 10**18 times stays in range.  ``b",".join`` also rejects anything that is
    not a bytes-like value (a stored list, hash... : WRONGTYPE for the handler).
    """
    try:
        joined = b",".join(texts)
        ints = list(map(int, texts))
        if (b"%d," * m) % tuple(ints) != joined + b",":
            return None
    except (TypeError, ValueError):
        return None
    if max(map(len, texts)) <= 18:
        return ints, True
    if min(ints) < LLONG_MIN or max(ints) > LLONG_MAX:
        return None
    return ints, False


def _counter_batch(c, keys, incs, m):
    """m INCRBYs on ``keys`` of ``incs`` (1 or -1 for every request, or a list of m ints), or None."""
    db = c.db
    node = c.node
    if node.notify_flags or db.watched:
        return None
    expires = db.expires
    if expires and not expires.keys().isdisjoint(keys):
        return None  # TTLs are kept, but an expired one is reclaimed first: the handler decides
    blocking = db.blocking
    if blocking and not blocking.keys().isdisjoint(keys):
        return None
    data = db.data
    first = keys[0]
    if keys.count(first) == m:
        # one counter (redis-benchmark without -r): a running sum
        parsed = _parse_counters([data.get(first, b"0")], 1)
        if parsed is None:
            return None
        old = parsed[0][0]
        if incs.__class__ is int:
            results = range(old + incs, old + incs * (m + 1), incs)
        else:
            results = list(accumulate(incs, initial=old))
            del results[0]
        if min(results) < LLONG_MIN or max(results) > LLONG_MAX:
            return None  # an overflow error
        reply = (b":%d\r\n" * m) % tuple(results)
        if db.slot_index is not None and first not in data:
            db.slot_index.add(first)
        data[first] = b"%d" % results[-1]
        db.access[first] = node.lru_clock
        node.dirty += m
        return reply
    if incs.__class__ is int:
        # INCR, DECR: a missing counter's result needs no arithmetic, only the
        # present ones are parsed and formatted; ``texts`` (key -> new value,
        # in request order) also tells whether a key repeats
        values = list(map(data.get, keys))
        texts = dict.fromkeys(keys, b"%d" % incs)
        if len(texts) == m:
            present = list(filter(None, values))
            n = len(present)
            if n != m - values.count(None):
                return None  # an empty string: not an integer
            if n:
                parsed = _parse_counters(present, n)
                if parsed is None:
                    return None
                olds, small = parsed
                results = list(map(add, olds, repeat(incs)))
                if not small and (min(results) < LLONG_MIN or max(results) > LLONG_MAX):
                    return None  # an overflow error
                # the present keys are those whose value is truthy (no empty value is left)
                texts.update(zip(compress(keys, values), ((b"%d," * n) % tuple(results))[:-1].split(b",")))
            _store_counters(db, node, texts, m)
            return b":" + b"\r\n:".join(texts.values()) + b"\r\n"
    return _counter_batch_general(c, keys, incs, m)


def _counter_batch_general(c, keys, incs, m):
    """_counter_batch for per-request increments or repeated keys: every value parsed and formatted."""
    db = c.db
    data = db.data
    values = list(map(data.get, keys, repeat(b"0")))  # a missing counter counts from 0
    parsed = _parse_counters(values, m)
    if parsed is None:
        return None
    olds, small = parsed
    one = incs.__class__ is int
    if len(set(keys)) == m:
        results = list(map(add, olds, repeat(incs) if one else incs))
    else:
        # a key repeats: each request sees the results of the earlier ones
        cur = dict(zip(keys, olds))
        results = []
        push = results.append
        for k, inc in zip(keys, repeat(incs) if one else incs):
            cur[k] = r = cur[k] + inc
            push(r)
    if not (small and one) and (min(results) < LLONG_MIN or max(results) > LLONG_MAX):
        return None  # an overflow error
    reply = (b":%d\r\n" * m) % tuple(results)
    # the last result of each key is what it holds (dict: later pairs win, order of first sight)
    _store_counters(db, c.node, dict(zip(keys, reply[1:-2].split(b"\r\n:"))), m)
    return reply


def _store_counters(db, node, texts: dict, m: int) -> None:
    """The writes of m counter requests: ``texts`` maps each key to its final value."""
    _store_strings(db, node, texts, texts.items())
    node.dirty += m


@batch("incr")
def incr_batch(c, columns, m):
    """m INCRs: the counters read, checked and written in C-level passes (see ``_counter_batch``)."""
    return _counter_batch(c, columns[1], 1, m)


@batch("decr")
def decr_batch(c, columns, m):
    return _counter_batch(c, columns[1], -1, m)


@batch("incrby")
def incrby_batch(c, columns, m):
    parsed = _parse_counters(columns[2], m)
    if parsed is None:
        return None  # not an integer: the handler's error
    return _counter_batch(c, columns[1], parsed[0], m)


@batch("decrby")
def decrby_batch(c, columns, m):
    parsed = _parse_counters(columns[2], m)
    if parsed is None or min(parsed[0]) == LLONG_MIN:
        return None  # not an integer, or "decrement would overflow"
    return _counter_batch(c, columns[1], list(map(neg, parsed[0])), m)


@batch("mset")
def mset_batch(c, columns, m):
    """m MSETs: every pair, in the order the requests set them, through one dict update."""
    nargs = len(columns)
    if not nargs & 1:
        return None  # key without a value: the handler's arity error
    db = c.db
    node = c.node
    if node.notify_flags or db.watched:
        return None
    keycols = columns[1::2]
    expires = db.expires
    if expires:
        keyset = expires.keys()
        for col in keycols:
            if not keyset.isdisjoint(col):
                return None  # MSET clears TTLs (and expires stale keys first): Database.set per key
    blocking = db.blocking
    if blocking:
        keyset = blocking.keys()
        for col in keycols:
            if not keyset.isdisjoint(col):
                return None
    # request by request, pair by pair: k, v, k, v ... (later pairs win, new keys in order)
    keys = list(chain.from_iterable(zip(*keycols)))
    flat = chain.from_iterable(zip(*columns[1:]))
    _store_strings(db, node, keys, zip(flat, flat))
    node.dirty += m * (nargs >> 1)
    return R.OK * m
