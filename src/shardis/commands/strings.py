"""String commands (t_string.c): GET, SET and family, counters, ranges, LCS.

Strings are stored as ``bytes`` (or ``bytearray`` once modified in place, see
keyspace/objects.py).  GET and plain SET are the hottest handlers of the
server, so they are written flat: one lookup, one store, a pre-encoded reply.
Every variant of SET (SETNX, SETEX, PSETEX, GETSET) goes through
``set_generic`` with the option parser Redis uses for SET and GETEX.
"""

from __future__ import annotations

import time

from ..keyspace import notify as kn
from ..server import replies as R
from ..server.commandtable import command

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

_STRING_TYPES = (bytes, bytearray)


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


def parse_extended_args(argv, command_type: int):
    """parseExtendedStringArgumentsOrReply for SET and GETEX.

    Returns (flags, expire_arg, unit_is_seconds) or an error frame (bytes).
    """
    flags = 0
    expire = None
    j = 2 if command_type == COMMAND_GET else 3
    argc = len(argv)
    is_set = command_type == COMMAND_SET
    while j < argc:
        opt = argv[j].upper()
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


def set_generic(c, key, value, flags: int = 0, expire_ms=None, ok_reply=R.OK, abort_reply=None):
    """setGenericCommand: the one implementation behind SET and its variants."""
    db = c.db
    node = c.node
    reply = None
    if flags & OBJ_SET_GET:
        old = db.lookup_read(key)
        reply = reply_string(c, old)
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
        c.propagate_argv = [b"SET", key, value, b"PXAT", b"%d" % expire_ms] + (
            [b"GET"] if flags & OBJ_SET_GET else []
        )
        if node.notify_flags:
            node.notify(kn.GENERIC, b"expire", key, db.id)
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
        # The common case, flat: no options to parse.
        key = argv[1]
        db = c.db
        db.set(key, argv[2])
        node = c.node
        node.dirty += 1
        if node.notify_flags:
            node.notify(kn.STRING, b"set", key, db.id)
        return R.OK
    parsed = parse_extended_args(argv, COMMAND_SET)
    if parsed.__class__ is bytes:
        return parsed
    flags, expire = parsed
    expire_ms = None
    if expire is not None:
        expire_ms = expire_ms_or_error("set", expire, flags)
        if expire_ms.__class__ is bytes:
            return expire_ms
    return set_generic(c, argv[1], argv[2], flags, expire_ms)
