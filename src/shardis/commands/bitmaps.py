"""Bitmap commands (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

A bitmap is a string whose bits are numbered from the most significant bit
of the first byte.  Every command here that writes makes the string a
``bytearray`` first (Redis's lookupStringForBitCommand unshares it into a
raw string and grows it with zero bytes), so OBJECT ENCODING reports ``raw``
from then on, as in Redis, and the edit is done in place.

Whole-range work is done by the C parts of Python: counting bits is
``int.from_bytes(...).bit_count()``, finding the first set (clear) bit is
``lstrip`` of zero (0xff) bytes, BITOP combines the operands as big
integers.  Only the edge bytes of a BIT-unit range are handled bit by bit.

BITFIELD follows bitfieldGeneric: all operations are parsed (and any error
reported) before anything runs; writes first extend the string to the
highest bit any write touches; overflow control is mathematical (the exact
sum is compared with the type's range, then wrapped, saturated or the
write is skipped with a null reply).  Each SET/INCRBY that changed the value
(or created or grew the string) counts as one change for ``dirty``; a write
skipped by OVERFLOW FAIL does not, though
the string was still created or extended beforehand, as in Redis.
"""

from __future__ import annotations

from ..keyspace import notify as kn
from ..server import replies as R
from ..server.commandtable import command
from .strings import parse_int

BITOP_AND = 0
BITOP_OR = 1
BITOP_XOR = 2
BITOP_NOT = 3

BFOVERFLOW_WRAP = 0
BFOVERFLOW_SAT = 1
BFOVERFLOW_FAIL = 2

BITFIELDOP_GET = 0
BITFIELDOP_SET = 1
BITFIELDOP_INCRBY = 2

_U64 = (1 << 64) - 1


def _cstr(b: bytes) -> bytes:
    """What C string functions see of an argument: up to the first NUL."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def _bit_offset(c, arg: bytes, hash_ok: bool = False, bits: int = 0):
    """getBitOffsetFromArgument: a bit offset, or None (BIT_OFFSET error).

    With ``hash_ok`` (BITFIELD) ``#n`` means n * bits.  The product wraps
    like C's 64-bit arithmetic, and offsets past proto-max-bulk-len bytes
    are refused.
    """
    usehash = hash_ok and bits > 0 and arg[:1] == b"#"
    v = parse_int(arg[1:] if usehash else arg)
    if v is None:
        return None
    if usehash:
        v = (v * bits) & _U64
        if v >= 1 << 63:
            v -= 1 << 64
    if v < 0 or (v >> 3) >= c.node.config["proto-max-bulk-len"]:
        return None
    return v


def _string_for_bit_write(c, key, maxbit: int):
    """lookupStringForBitCommand: the bytearray to edit, grown to hold ``maxbit``.

    Returns (value, created_or_grown) or (WRONGTYPE, False).
    """
    db = c.db
    need = (maxbit >> 3) + 1
    v = db.lookup_write(key)
    if v is None:
        v = bytearray(need)
        db.set(key, v)
        return v, True
    cls = v.__class__
    if cls is bytes:
        # Unshared into a raw string: same value, so WATCH is not touched.
        v = bytearray(v)
        db.replace_value(key, v)
    elif cls is not bytearray:
        return R.WRONGTYPE, False
    grown = len(v) < need
    if grown:
        v.extend(bytes(need - len(v)))
    return v, grown


def _read_string(c, key):
    """lookupKeyRead for a bit reading command: (value or None, error or None)."""
    v = c.db.lookup_read(key)
    if v is None or v.__class__ is bytes or v.__class__ is bytearray:
        return v, None
    return None, R.WRONGTYPE


# --- SETBIT, GETBIT ------------------------------------------------------------------------------


@command("setbit", 4, "write denyoom", keys=(1, 1, 1), group="bitmap", categories="bitmap",
         summary="Sets or clears the bit at offset in the string value stored at key",
         since="2.2.0", complexity="O(1)")
def setbit_command(c, argv):
    offset = _bit_offset(c, argv[2])
    if offset is None:
        return R.BIT_OFFSET
    on = parse_int(argv[3])
    if on is None or on & ~1:
        return R.BIT_VALUE
    key = argv[1]
    v, dirty = _string_for_bit_write(c, key, offset)
    if v.__class__ is bytes:
        return v
    byte = offset >> 3
    mask = 1 << (7 - (offset & 7))
    old = v[byte] & mask
    if dirty or bool(old) != bool(on):
        if on:
            v[byte] |= mask
        else:
            v[byte] &= ~mask & 0xFF
        db = c.db
        db.modified(key)
        node = c.node
        if node.notify_flags:
            node.notify(kn.STRING, b"setbit", key, db.id)
        node.dirty += 1
    return R.CONE if old else R.CZERO


@command("getbit", 3, "readonly fast", keys=(1, 1, 1), group="bitmap", categories="bitmap",
         summary="Returns the bit value at offset in the string value stored at key",
         since="2.2.0", complexity="O(1)")
def getbit_command(c, argv):
    offset = _bit_offset(c, argv[2])
    if offset is None:
        return R.BIT_OFFSET
    v, error = _read_string(c, argv[1])
    if error is not None:
        return error
    if v is None:
        return R.CZERO
    byte = offset >> 3
    if byte >= len(v):
        return R.CZERO
    return R.CONE if v[byte] & (1 << (7 - (offset & 7))) else R.CZERO


# --- BITCOUNT, BITPOS ----------------------------------------------------------------------------


def _unit_is_bit(arg: bytes):
    """BYTE|BIT argument: True for BIT, False for BYTE, None for anything else."""
    u = _cstr(arg).lower()
    if u == b"bit":
        return True
    if u == b"byte":
        return False
    return None


@command("bitcount", -2, "readonly", keys=(1, 1, 1), group="bitmap", categories="bitmap",
         summary="Count set bits in a string", since="2.6.0", complexity="O(N)")
def bitcount_command(c, argv):
    v, error = _read_string(c, argv[1])
    if error is not None:
        return error
    if v is None:
        return R.CZERO
    argc = len(argv)
    strlen = len(v)
    first_mask = last_mask = 0
    if argc in (4, 5):
        start = parse_int(argv[2])
        if start is None:
            return R.NOT_INTEGER
        end = parse_int(argv[3])
        if end is None:
            return R.NOT_INTEGER
        if start < 0 and end < 0 and start > end:
            return R.CZERO  # (7.0 answers this before looking at the unit)
        isbit = False
        if argc == 5:
            isbit = _unit_is_bit(argv[4])
            if isbit is None:
                return R.SYNTAX
        total = strlen * 8 if isbit else strlen
        if start < 0:
            start += total
        if end < 0:
            end += total
        if start < 0:
            start = 0
        if end < 0:
            end = 0
        if end >= total:
            end = total - 1
        if isbit and start <= end:
            first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xFF
            last_mask = (1 << (7 - (end & 7))) - 1
            start >>= 3
            end >>= 3
    elif argc == 2:
        start, end = 0, strlen - 1
    else:
        return R.SYNTAX
    if start > end:
        return R.CZERO
    count = int.from_bytes(v[start:end + 1], "big").bit_count()
    if first_mask:
        count -= (v[start] & first_mask).bit_count()
    if last_mask:
        count -= (v[end] & last_mask).bit_count()
    return b":%d\r\n" % count


def _first_bit(seg: bytes, bit: int) -> int:
    """Position of the first ``bit`` (0/1) in ``seg``, or -1."""
    if bit:
        rest = seg.lstrip(b"\x00")
        if not rest:
            return -1
        return (len(seg) - len(rest)) * 8 + 8 - rest[0].bit_length()
    rest = seg.lstrip(b"\xff")
    if not rest:
        return -1
    return (len(seg) - len(rest)) * 8 + 8 - (rest[0] ^ 0xFF).bit_length()


@command("bitpos", -3, "readonly", keys=(1, 1, 1), group="bitmap", categories="bitmap",
         summary="Find first bit set or clear in a string", since="2.8.7", complexity="O(N)")
def bitpos_command(c, argv):
    bit = parse_int(argv[2])
    if bit is None:
        return R.NOT_INTEGER
    if bit != 0 and bit != 1:
        return R.BIT_ARG_0_OR_1
    v, error = _read_string(c, argv[1])
    if error is not None:
        return error
    if v is None:
        return R.CNEGONE if bit else R.CZERO
    argc = len(argv)
    strlen = len(v)
    end_given = False
    first_mask = last_mask = 0
    if argc in (4, 5, 6):
        start = parse_int(argv[3])
        if start is None:
            return R.NOT_INTEGER
        isbit = False
        if argc == 6:
            isbit = _unit_is_bit(argv[5])
            if isbit is None:
                return R.SYNTAX
        total = strlen
        if argc >= 5:
            end = parse_int(argv[4])
            if end is None:
                return R.NOT_INTEGER
            end_given = True
        else:
            end = (total << 3) + 7 if isbit else total - 1
        if isbit:
            total <<= 3
        if start < 0:
            start += total
        if end < 0:
            end += total
        if start < 0:
            start = 0
        if end < 0:
            end = 0
        if end >= total:
            end = total - 1
        if isbit and start <= end:
            first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xFF
            last_mask = (1 << (7 - (end & 7))) - 1
            start >>= 3
            end >>= 3
    elif argc == 3:
        start, end = 0, strlen - 1
    else:
        return R.SYNTAX
    if start > end:
        return R.CNEGONE
    seg = bytearray(v[start:end + 1])
    # Bits outside a BIT-unit range must not be found: make them the other value.
    if first_mask:
        seg[0] = seg[0] & ~first_mask & 0xFF if bit else seg[0] | first_mask
    if last_mask:
        seg[-1] = seg[-1] & ~last_mask & 0xFF if bit else seg[-1] | last_mask
    pos = _first_bit(bytes(seg), bit)
    if pos < 0:
        if bit or end_given:
            return R.CNEGONE
        # Looking for a clear bit with no explicit end: the string is
        # considered zero-padded on the right.
        pos = len(seg) * 8
    return b":%d\r\n" % (pos + start * 8)


# --- BITOP ----------------------------------------------------------------------------------------


@command("bitop", -4, "write denyoom", keys=(2, -1, 1), group="bitmap", categories="bitmap",
         summary="Perform bitwise operations between strings", since="2.6.0", complexity="O(N)")
def bitop_command(c, argv):
    name = _cstr(argv[1]).lower()
    if name == b"and":
        op = BITOP_AND
    elif name == b"or":
        op = BITOP_OR
    elif name == b"xor":
        op = BITOP_XOR
    elif name == b"not":
        op = BITOP_NOT
    else:
        return R.SYNTAX
    if op == BITOP_NOT and len(argv) != 4:
        return R.BITOP_NOT_ONE_KEY
    db = c.db
    srcs = []
    for key in argv[3:]:
        v = db.lookup_read(key)
        if v is None:
            srcs.append(b"")
        elif v.__class__ is bytes or v.__class__ is bytearray:
            srcs.append(v)
        else:
            return R.WRONGTYPE
    maxlen = max(len(s) for s in srcs)
    node = c.node
    target = argv[2]
    if maxlen:
        # Shorter operands count as zero-padded on the right.
        nums = [int.from_bytes(s, "big") << (8 * (maxlen - len(s))) for s in srcs]
        if op == BITOP_NOT:
            res = nums[0] ^ ((1 << (8 * maxlen)) - 1)
        else:
            res = nums[0]
            if op == BITOP_AND:
                for n in nums[1:]:
                    res &= n
            elif op == BITOP_OR:
                for n in nums[1:]:
                    res |= n
            else:
                for n in nums[1:]:
                    res ^= n
        db.set(target, bytearray(res.to_bytes(maxlen, "big")))
        if node.notify_flags:
            node.notify(kn.STRING, b"set", target, db.id)
        node.dirty += 1
    elif db.delete(target):
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", target, db.id)
        node.dirty += 1
    return b":%d\r\n" % maxlen


# --- BITFIELD -------------------------------------------------------------------------------------


def _bitfield_type(arg: bytes):
    """getBitfieldTypeFromArgument: (signed, bits) or None."""
    s = _cstr(arg)
    if not s:
        return None
    t = s[0]
    if t == 105:  # 'i' (lower case only)
        signed = True
    elif t == 117:  # 'u'
        signed = False
    else:
        return None
    bits = parse_int(s[1:])
    if bits is None or bits < 1 or (signed and bits > 64) or (not signed and bits > 63):
        return None
    return signed, bits


def _get_bits(buf, offset: int, bits: int) -> int:
    """The unsigned integer in ``bits`` bits at bit ``offset`` (zero past the end)."""
    b0 = offset >> 3
    nbytes = ((offset + bits - 1) >> 3) - b0 + 1
    chunk = buf[b0:b0 + nbytes]
    n = int.from_bytes(chunk, "big") << (8 * (nbytes - len(chunk)))
    return (n >> (nbytes * 8 - (offset & 7) - bits)) & ((1 << bits) - 1)


def _set_bits(buf: bytearray, offset: int, bits: int, value: int) -> None:
    """Store the low ``bits`` bits of ``value`` at bit ``offset`` (buf is long enough)."""
    b0 = offset >> 3
    nbytes = ((offset + bits - 1) >> 3) - b0 + 1
    shift = nbytes * 8 - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    n = int.from_bytes(buf[b0:b0 + nbytes], "big")
    n = (n & ~mask) | ((value << shift) & mask)
    buf[b0:b0 + nbytes] = n.to_bytes(nbytes, "big")


def _to_signed(u: int, bits: int) -> int:
    return u - (1 << bits) if u >> (bits - 1) else u


def _overflow(value: int, lo: int, hi: int, bits: int, signed: bool, owtype: int):
    """Apply OVERFLOW control to an exact result: (stored value, overflowed)."""
    if lo <= value <= hi:
        return value, False
    if owtype == BFOVERFLOW_SAT:
        return (hi if value > hi else lo), True
    # WRAP (FAIL does not store, but computing the wrap is harmless)
    w = value & ((1 << bits) - 1)
    return (_to_signed(w, bits) if signed else w), True


def _bitfield_generic(c, argv, readonly_cmd: bool):
    ops = []
    owtype = BFOVERFLOW_WRAP
    readonly = True
    highest = 0
    j = 2
    argc = len(argv)
    while j < argc:
        remargs = argc - j - 1
        sub = _cstr(argv[j]).lower()
        if sub == b"get" and remargs >= 2:
            opcode = BITFIELDOP_GET
        elif sub == b"set" and remargs >= 3:
            opcode = BITFIELDOP_SET
        elif sub == b"incrby" and remargs >= 3:
            opcode = BITFIELDOP_INCRBY
        elif sub == b"overflow" and remargs >= 1:
            name = _cstr(argv[j + 1]).lower()
            j += 2
            if name == b"wrap":
                owtype = BFOVERFLOW_WRAP
            elif name == b"sat":
                owtype = BFOVERFLOW_SAT
            elif name == b"fail":
                owtype = BFOVERFLOW_FAIL
            else:
                return R.BITFIELD_OVERFLOW_TYPE
            continue
        else:
            return R.SYNTAX
        t = _bitfield_type(argv[j + 1])
        if t is None:
            return R.BITFIELD_TYPE
        signed, bits = t
        offset = _bit_offset(c, argv[j + 2], True, bits)
        if offset is None:
            return R.BIT_OFFSET
        arg = 0
        if opcode != BITFIELDOP_GET:
            readonly = False
            if highest < offset + bits - 1:
                highest = offset + bits - 1
            arg = parse_int(argv[j + 3])
            if arg is None:
                return R.NOT_INTEGER
        ops.append((opcode, signed, bits, offset, arg, owtype))
        j += 3 if opcode == BITFIELDOP_GET else 4
    key = argv[1]
    if readonly:
        v, error = _read_string(c, key)
        if error is not None:
            return error
    else:
        if readonly_cmd:
            return R.BITFIELD_RO_GET_ONLY
        v, grew = _string_for_bit_write(c, key, highest)
        if v.__class__ is bytes:
            return v
    null = c.resp.null
    parts = [b"*%d\r\n" % len(ops)]
    changes = 0
    for opcode, signed, bits, offset, arg, ow in ops:
        if signed:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        else:
            lo, hi = 0, (1 << bits) - 1
        if opcode == BITFIELDOP_GET:
            if v is None:
                parts.append(R.CZERO)
                continue
            u = _get_bits(v, offset, bits)
            parts.append(b":%d\r\n" % (_to_signed(u, bits) if signed else u))
            continue
        u = _get_bits(v, offset, bits)
        old = _to_signed(u, bits) if signed else u
        if opcode == BITFIELDOP_INCRBY:
            new, overflowed = _overflow(old + arg, lo, hi, bits, signed, ow)
            retval = new
        else:
            # An unsigned field receives the 64-bit pattern of a negative value.
            target = arg if signed else arg & _U64
            new, overflowed = _overflow(target, lo, hi, bits, signed, ow)
            retval = old
        if overflowed and ow == BFOVERFLOW_FAIL:
            parts.append(null)
            continue
        _set_bits(v, offset, bits, new & ((1 << bits) - 1))
        if grew or old != new:  # 7.0.15: a write of the same value is no change
            changes += 1
        parts.append(b":%d\r\n" % retval)
    if changes:
        db = c.db
        db.modified(key)
        node = c.node
        if node.notify_flags:
            node.notify(kn.STRING, b"setbit", key, db.id)
        node.dirty += changes
    return b"".join(parts)


@command("bitfield", -2, "write denyoom", keys=(1, 1, 1), group="bitmap", categories="bitmap",
         summary="Perform arbitrary bitfield integer operations on strings", since="3.2.0",
         complexity="O(1) for each subcommand specified")
def bitfield_command(c, argv):
    return _bitfield_generic(c, argv, False)


@command("bitfield_ro", -2, "readonly fast", keys=(1, 1, 1), group="bitmap", categories="bitmap",
         summary="Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
         since="6.0.0", complexity="O(1) for each subcommand specified")
def bitfield_ro_command(c, argv):
    return _bitfield_generic(c, argv, True)
