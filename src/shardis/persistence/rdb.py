"""The RDB codec: values, DUMP payloads and whole RDB files, as Redis 7.0 has them.

One format serves three jobs -- DUMP/RESTORE (and so MIGRATE), snapshot files,
and the full-sync payload of replication -- so it lives here once, pure: bytes
in, values or events out, no I/O.  The facts (type codes, opcodes, length and
string encodings, which compact encodings exist and when Redis converts them
on load) come from Redis 7.0's rdb.h/rdb.c, listpack.c, ziplist.c, intset.c,
zipmap.c, crc64.c and lzf; the code is ours.

What is written (what redis-server 7.0 writes, so it loads them with the same
OBJECT ENCODING):

* strings: type 0; short canonical integers as 8/16/32-bit "int-encoded"
  strings, strings over 20 bytes LZF-compressed when that saves 4+ bytes;
* hashes: type 16 (listpack) when the value is listpack-encoded, else type 4;
* sets: type 11 (intset) when intset-encoded, else type 2;
* sorted sets: type 17 (listpack) when listpack-encoded, else type 5
  (ZSET_2, binary doubles, highest score first like Redis);
* lists: type 18 (QUICKLIST_2), split into listpack nodes the way the
  default ``list-max-listpack-size -2`` (8 KB per node) splits them.  This is
  what redis-server 7.0 itself writes (our DUMPs come out byte-identical with
  ``rdbcompression no``), and Redis adopts each listpack as a quicklist node
  as is -- so the node size limit must be respected here.  The plain type 1
  would load too, but element by element, and no 7.0 server writes it.

A value's compact form is used only when its ``encoding`` says compact *and*
its contents fit the thresholds; the second test guards against a stale
``encoding`` (the object constructors default to compact) ever producing a
blob Redis would consider oversized.

What is read: every value type Redis 7.0 can produce or load -- 0-5 and 9-18
-- converting to our objects and setting ``encoding`` by Redis 7.0's load
rules (``Thresholds``).  Streams (15, 19) and module values (6, 7) raise
``UnsupportedTypeError``.  Unlike Redis's default (``sanitize-dump-payload
no``) every payload is validated deeply: duplicates, bad lengths, bad
listpacks are errors, never crashes, and nothing is allocated from a length
field before the bytes backing it have been seen.

Errors form one family, ``RdbError``: ``DumpPayloadError`` (RESTORE's "DUMP
payload version or checksum are wrong"), ``BadDataFormat`` (its "Bad data
format"; with ``EmptyKeyError`` and ``UnsupportedTypeError`` below it) and
``RdbCorruptError`` for files, which carries the byte offset.

A few redis-server 7.0 quirks are kept so that RESTORE answers the same:
a DUMP body that runs short reads on into its own footer (Redis loads from
the whole argument), a special-encoding byte where a plain length belongs
counts as its low 6 bits (rdbLoadLen), and an LZF string declaring 0 bytes
is empty (liblzf's "no room" return equals 0).  We are stricter where Redis
would store corrupt data: duplicate fields or members, sorted-set listpacks
out of order, scores that are not numbers.

``RdbReader`` is sans-I/O in the h11 manner: ``feed(bytes)``, ``feed_eof()``,
``next_event()``.  Before a record is parsed, a resumable scanner walks its
structure (lengths and string sizes only) and suspends where the buffered
bytes end, so each byte is scanned once and each record parsed once however
the input is chunked, and a complete record never waits for more input.
"""

from __future__ import annotations

import math
import struct
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from .. import REDIS_VERSION
from ..keyspace.objects import Hash, List, Set, ZSet
from . import intset, listpack, lzf, ziplist, zipmap
from .crc64 import crc64
from .listpack import string_to_int64

__all__ = [
    "RDB_VERSION",
    "Thresholds",
    "DEFAULT_THRESHOLDS",
    "RdbError",
    "DumpPayloadError",
    "BadDataFormat",
    "EmptyKeyError",
    "UnsupportedTypeError",
    "RdbCorruptError",
    "RdbUnsupportedError",
    "encode_length",
    "encode_string",
    "encode_value",
    "decode_value",
    "dump_value",
    "load_dump_payload",
    "verify_dump_payload",
    "RdbWriter",
    "default_aux",
    "write_rdb",
    "RdbReader",
    "read_rdb",
    "AuxField",
    "SelectDb",
    "ResizeDb",
    "KeyValue",
    "FunctionLibrary",
    "ModuleAux",
    "EndOfFile",
]

# ---------------------------------------------------------------------------
# Format constants (rdb.h)
# ---------------------------------------------------------------------------

RDB_VERSION = 10  # Redis 7.0 writes "REDIS0010" and refuses anything newer

# First byte of a length: the top two bits say how long it is.
LEN_6BIT = 0  # 00xxxxxx: the length is the low 6 bits
LEN_14BIT = 1  # 01xxxxxx yyyyyyyy: 14 bits, big-endian
LEN_32BIT = 0x80  # 10000000 + u32 big-endian
LEN_64BIT = 0x81  # 10000001 + u64 big-endian
LEN_ENCVAL = 3  # 11xxxxxx: not a length, a special string encoding follows

# Special string encodings (the low 6 bits after 11).
ENC_INT8 = 0  # 1 byte signed
ENC_INT16 = 1  # 2 bytes signed little-endian
ENC_INT32 = 2  # 4 bytes signed little-endian
ENC_LZF = 3  # <compressed len> <original len> <lzf bytes>

# Value types.
TYPE_STRING = 0
TYPE_LIST = 1  # linked list of strings (Redis < 3.2)
TYPE_SET = 2
TYPE_ZSET = 3  # scores as length-prefixed ASCII (Redis < 4.0)
TYPE_HASH = 4
TYPE_ZSET_2 = 5  # scores as binary little-endian doubles
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14  # quicklist of ziplists
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18  # quicklist of listpacks / plain nodes
TYPE_STREAM_LISTPACKS_2 = 19

# Opcodes in a file, sharing the byte with the value types.
OPCODE_FUNCTION2 = 245  # a function library: one string, its code
OPCODE_FUNCTION_PRE_GA = 246  # 7.0 release candidates only; 7.0 GA refuses it
OPCODE_MODULE_AUX = 247  # module data outside the keyspace
OPCODE_IDLE = 248  # LRU idle time of the next key, seconds
OPCODE_FREQ = 249  # LFU counter of the next key, one byte
OPCODE_AUX = 250  # two strings: an informational key/value
OPCODE_RESIZEDB = 251  # two lengths: keys and keys-with-expire in this db
OPCODE_EXPIRETIME_MS = 252  # 8 bytes little-endian: absolute unix time, ms
OPCODE_EXPIRETIME = 253  # 4 bytes little-endian: absolute unix time, s (old)
OPCODE_SELECTDB = 254  # a length: the db the following keys belong to
OPCODE_EOF = 255  # end of data; an 8-byte CRC64 follows (version >= 5)

# Module serialisation opcodes (used to skip module data without the module).
MODULE_OPCODE_EOF = 0
MODULE_OPCODE_SINT = 1
MODULE_OPCODE_UINT = 2
MODULE_OPCODE_FLOAT = 3
MODULE_OPCODE_DOUBLE = 4
MODULE_OPCODE_STRING = 5

# QUICKLIST_2 node containers.
QUICKLIST_PLAIN = 1  # the node is one element, stored as is
QUICKLIST_PACKED = 2  # the node is a listpack

# Double encodings of the old ZSET type: special length bytes.
DOUBLE_NAN = 253
DOUBLE_POS_INF = 254
DOUBLE_NEG_INF = 255

# rdbSaveRawString: strings of at most this many bytes may be int-encoded...
INT_ENCODING_MAX_LEN = 11
# ...and strings longer than this are tried with LZF (shorter never shrink).
LZF_MIN_LEN = 20
# A compressed string must save at least this many bytes to be kept.
LZF_MIN_SAVING = 4

# list-max-listpack-size for negative fills: bytes per node (quicklist.c).
_LIST_FILL_BYTES = (4096, 8192, 16384, 32768, 65536)
# For positive fills (a count) a node still never exceeds this many bytes.
_LIST_SIZE_SAFETY_LIMIT = 8192

_OBJECT_TYPES = frozenset(range(0, 8)) | frozenset(range(9, 20))
# Value types serialized as a single string (a blob or the value itself).
_ONE_STRING_TYPES = frozenset(
    (TYPE_STRING, TYPE_HASH_ZIPMAP, TYPE_LIST_ZIPLIST, TYPE_SET_INTSET, TYPE_ZSET_ZIPLIST,
     TYPE_HASH_ZIPLIST, TYPE_HASH_LISTPACK, TYPE_ZSET_LISTPACK)
)
_UNSUPPORTED = {
    TYPE_MODULE_PRE_GA: "module values",
    TYPE_MODULE_2: "module values",
    TYPE_STREAM_LISTPACKS: "streams",
    TYPE_STREAM_LISTPACKS_2: "streams",
}

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_I64 = struct.Struct("<q")
_I32 = struct.Struct("<i")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The conversion limits that decide compact encodings (redis.conf names).

    The defaults are redis-server 7.0's own (``CONFIG GET`` on a server
    started without a config file): note hashes allow 512 entries, sorted
    sets 128.
    """

    hash_max_listpack_entries: int = 512
    hash_max_listpack_value: int = 64
    set_max_intset_entries: int = 512
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64
    list_max_listpack_size: int = -2


DEFAULT_THRESHOLDS = Thresholds()


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class RdbError(ValueError):
    """Any problem with RDB-encoded data."""


class DumpPayloadError(RdbError):
    """A DUMP payload whose footer (RDB version or CRC64) is wrong."""

    def __init__(self, message: str = "DUMP payload version or checksum are wrong"):
        super().__init__(message)


class BadDataFormat(RdbError):
    """The bytes of a value do not decode (RESTORE says "Bad data format")."""


class EmptyKeyError(BadDataFormat):
    """A container with no elements: RESTORE refuses it, RDB loading skips it."""


class UnsupportedTypeError(BadDataFormat):
    """A value type this codec does not handle (streams, modules)."""


class RdbCorruptError(RdbError):
    """An RDB stream that cannot be parsed; ``offset`` is where it went wrong."""

    def __init__(self, offset: int, reason: str):
        super().__init__("corrupt at offset %d: %s" % (offset, reason))
        self.offset = offset
        self.reason = reason


class RdbUnsupportedError(RdbCorruptError, UnsupportedTypeError):
    """An RDB stream holding a value of an unsupported type at ``offset``."""


# ---------------------------------------------------------------------------
# Reading primitives
# ---------------------------------------------------------------------------


class _ScanStop(Exception):
    """Internal: the record scanner met bytes it cannot walk; let the parser judge."""


class _NeedMore(Exception):
    """Internal: the record continues past the bytes buffered so far."""

    def __init__(self, needed: int):
        self.needed = needed


class _Cursor:
    """A read position over a buffer.

    ``final`` says whether the buffer is all there will ever be: running off
    its end is then a format error, otherwise a request for more bytes.
    """

    __slots__ = ("buf", "pos", "end", "final")

    def __init__(self, buf, pos: int = 0, end: Optional[int] = None, final: bool = True):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.final = final

    def _short(self, needed: int):
        if self.final:
            raise BadDataFormat("unexpected end of data")
        raise _NeedMore(needed)

    def take(self, n: int) -> bytes:
        p = self.pos
        q = p + n
        if q > self.end:
            self._short(q)
        self.pos = q
        return bytes(self.buf[p:q])

    def byte(self) -> int:
        p = self.pos
        if p >= self.end:
            self._short(p + 1)
        self.pos = p + 1
        return self.buf[p]

    def length(self) -> int:
        """A plain length.

        As in Redis's rdbLoadLen, a special-encoding byte (11xxxxxx) where a
        length belongs counts as its low 6 bits.
        """
        b = self.byte()
        kind = b >> 6
        if kind == LEN_6BIT or kind == LEN_ENCVAL:
            return b & 0x3F
        if kind == LEN_14BIT:
            return ((b & 0x3F) << 8) | self.byte()
        if b == LEN_32BIT:
            return int.from_bytes(self.take(4), "big")
        if b == LEN_64BIT:
            return int.from_bytes(self.take(8), "big")
        self.pos -= 1  # report the offending byte
        raise BadDataFormat("unexpected length encoding 0x%02x" % b)

    def string(self) -> bytes:
        """A string in any of its encodings (plain, int, LZF)."""
        b = self.byte()
        kind = b >> 6
        if kind == LEN_6BIT:
            n = b & 0x3F
        elif kind == LEN_14BIT:
            n = ((b & 0x3F) << 8) | self.byte()
        elif b == LEN_32BIT:
            n = int.from_bytes(self.take(4), "big")
        elif b == LEN_64BIT:
            n = int.from_bytes(self.take(8), "big")
        elif kind == LEN_ENCVAL:
            enc = b & 0x3F
            if enc == ENC_INT8:
                return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
            if enc == ENC_INT16:
                return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
            if enc == ENC_INT32:
                return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
            if enc == ENC_LZF:
                clen = self.length()
                ulen = self.length()
                if ulen > clen * lzf.MAX_EXPANSION:
                    raise BadDataFormat("LZF string claims an impossible length")
                data = self.take(clen)
                if ulen == 0:
                    # liblzf reports "no room" as 0 bytes written, which equals
                    # the declared 0, so Redis loads any such string as empty.
                    return b""
                try:
                    return lzf.decompress(data, ulen)
                except lzf.LZFError as exc:
                    raise BadDataFormat(str(exc)) from None
            self.pos -= 1  # report the offending byte
            raise BadDataFormat("unknown string encoding %d" % enc)
        else:
            self.pos -= 1
            raise BadDataFormat("unexpected length encoding 0x%02x" % b)
        return self.take(n)

    def binary_double(self) -> float:
        return _DOUBLE.unpack(self.take(8))[0]

    def string_double(self) -> float:
        n = self.byte()
        if n == DOUBLE_NAN:
            return math.nan
        if n == DOUBLE_POS_INF:
            return math.inf
        if n == DOUBLE_NEG_INF:
            return -math.inf
        return _parse_double(self.take(n))


def _parse_double(raw: bytes) -> float:
    """A score from its decimal text (what strtod would accept, minus oddities)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise BadDataFormat("score is not ASCII") from None
    if not text or "_" in text or text != text.strip():
        raise BadDataFormat("score is not a number")
    try:
        return float(text)
    except ValueError:
        raise BadDataFormat("score is not a number") from None


# ---------------------------------------------------------------------------
# Writing primitives
# ---------------------------------------------------------------------------


def encode_length(n: int) -> bytes:
    """A length in the smallest of the 6/14/32/64-bit forms."""
    if n < 0:
        raise ValueError("negative length")
    if n < 1 << 6:
        return bytes((n,))
    if n < 1 << 14:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    if n <= 0xFFFFFFFFFFFFFFFF:
        return b"\x81" + n.to_bytes(8, "big")
    raise ValueError("length does not fit 64 bits")


def _encode_int(v: int) -> bytes:
    if -128 <= v <= 127:
        return bytes((0xC0 | ENC_INT8, v & 0xFF))
    if -32768 <= v <= 32767:
        return bytes((0xC0 | ENC_INT16,)) + (v & 0xFFFF).to_bytes(2, "little")
    return bytes((0xC0 | ENC_INT32,)) + (v & 0xFFFFFFFF).to_bytes(4, "little")


def encode_string(s, compress: bool = True) -> bytes:
    """A string as rdbSaveRawString writes it: int, LZF or verbatim."""
    s = bytes(s)
    n = len(s)
    if n <= INT_ENCODING_MAX_LEN:
        v = string_to_int64(s)
        if v is not None and -(1 << 31) <= v < (1 << 31):
            return _encode_int(v)
    if compress and n > LZF_MIN_LEN:
        packed = lzf.compress(s, n - LZF_MIN_SAVING)
        if packed is not None:
            return b"\xc3" + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + s


# double2ll's range: +-LLONG_MAX/2, which rounds to 2**62 as a double.
_SCORE_INT_LIMIT = float((2**63 - 1) // 2)


def _score_text(score: float) -> bytes:
    """A score as Redis 7.0's zzlInsertAt puts it into a listpack.

    Integral scores within +-2**62 become integers (double2ll; -0.0 turns
    into 0 on the way, as in Redis), everything else d2string's "%.17g".
    """
    if -_SCORE_INT_LIMIT <= score <= _SCORE_INT_LIMIT:
        as_int = int(score)
        if as_int == score:
            return b"%d" % as_int
    elif math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


# ---------------------------------------------------------------------------
# Values -> bytes
# ---------------------------------------------------------------------------


def _fits_listpack(pairs_len: int, max_entries: int, lengths, max_value: int) -> bool:
    if pairs_len > max_entries:
        return False
    return all(n <= max_value for n in lengths)


def _list_nodes(items, fill: int) -> list[bytes]:
    """Split list items into quicklist listpack nodes as list-max-listpack-size does."""
    if fill < 0:
        limit = _LIST_FILL_BYTES[min(-fill, len(_LIST_FILL_BYTES)) - 1]
        max_count = None
    else:
        limit = _LIST_SIZE_SAFETY_LIMIT
        max_count = max(fill, 1)
    nodes: list[bytes] = []
    entries: list[bytes] = []
    size = listpack.HEADER_SIZE + 1
    for item in items:
        entry = listpack.encode_entry(item)
        if entries and (
            size + len(entry) > limit or (max_count is not None and len(entries) >= max_count)
        ):
            nodes.append(listpack.from_entries(entries))
            entries = []
            size = listpack.HEADER_SIZE + 1
        entries.append(entry)
        size += len(entry)
    if entries:
        nodes.append(listpack.from_entries(entries))
    return nodes


def encode_value(
    value, compress: bool = True, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> tuple[int, bytes]:
    """(RDB type, serialized value) for a keyspace value."""
    cls = value.__class__
    if cls is bytes or cls is bytearray:
        return TYPE_STRING, encode_string(value, compress)
    th = thresholds
    if isinstance(value, Hash):
        if not value:
            raise ValueError("cannot serialize an empty hash")
        if value.encoding == b"listpack" and _fits_listpack(
            len(value),
            th.hash_max_listpack_entries,
            (len(x) for pair in value.items() for x in pair),
            th.hash_max_listpack_value,
        ):
            blob = listpack.encode(x for pair in value.items() for x in pair)
            return TYPE_HASH_LISTPACK, encode_string(blob, compress)
        parts = [encode_length(len(value))]
        for field, val in value.items():
            parts.append(encode_string(field, compress))
            parts.append(encode_string(val, compress))
        return TYPE_HASH, b"".join(parts)
    if isinstance(value, Set):
        if not value:
            raise ValueError("cannot serialize an empty set")
        if value.encoding == b"intset" and len(value) <= th.set_max_intset_entries:
            ints = [string_to_int64(m) for m in value]
            if None not in ints:
                return TYPE_SET_INTSET, encode_string(intset.encode(ints), compress)
        parts = [encode_length(len(value))]
        parts.extend(encode_string(m, compress) for m in value)
        return TYPE_SET, b"".join(parts)
    if isinstance(value, ZSet):
        if not len(value):
            raise ValueError("cannot serialize an empty sorted set")
        if value.encoding == b"listpack" and _fits_listpack(
            len(value),
            th.zset_max_listpack_entries,
            (len(m) for m in value.dict),
            th.zset_max_listpack_value,
        ):
            items = []
            for score, member in value.sl:
                items.append(member)
                items.append(_score_text(score))
            return TYPE_ZSET_LISTPACK, encode_string(listpack.encode(items), compress)
        parts = [encode_length(len(value))]
        pack = _DOUBLE.pack
        for score, member in reversed(value.sl):
            parts.append(encode_string(member, compress))
            parts.append(pack(score))
        return TYPE_ZSET_2, b"".join(parts)
    if isinstance(value, List):
        if not value:
            raise ValueError("cannot serialize an empty list")
        nodes = _list_nodes(value, th.list_max_listpack_size)
        parts = [encode_length(len(nodes))]
        packed = encode_length(QUICKLIST_PACKED)
        for node in nodes:
            parts.append(packed)
            parts.append(encode_string(node, compress))
        return TYPE_LIST_QUICKLIST_2, b"".join(parts)
    raise TypeError("cannot serialize %r" % cls.__name__)


# ---------------------------------------------------------------------------
# Bytes -> values
# ---------------------------------------------------------------------------


def _make_hash(pairs, compact: bool) -> Hash:
    h = Hash()
    for field, val in pairs:
        if field in h:
            raise BadDataFormat("duplicate hash field")
        h[field] = val
    if not h:
        raise EmptyKeyError("empty hash")
    if not compact:
        h.encoding = b"hashtable"
    return h


def _pairs(items: list, what: str):
    if len(items) & 1:
        raise BadDataFormat("%s with an odd number of elements" % what)
    it = iter(items)
    return zip(it, it)


def _make_zset(
    members_scores, max_entries: int, max_value: Optional[int], ordered: bool = False
) -> ZSet:
    """A ZSet from (member, score); listpack unless over the limits.

    ``max_value`` None means "do not look at element sizes" (what Redis does
    for the compact RDB types, where it only checks the count).  ``ordered``
    demands the (score, member) order a listpack or ziplist must be in: Redis
    does not check it and would serve such a set out of order.
    """
    d: dict[bytes, float] = {}
    maxlen = 0
    last = None
    for member, score in members_scores:
        if ordered:
            if last is not None and (score, member) <= last:
                raise BadDataFormat("sorted set listpack out of order")
            last = (score, member)
        if score != score:
            raise BadDataFormat("sorted set score is NaN")
        if member in d:
            raise BadDataFormat("duplicate sorted set member")
        d[member] = score
        if len(member) > maxlen:
            maxlen = len(member)
    if not d:
        raise EmptyKeyError("empty sorted set")
    z = ZSet()
    z.dict = d
    z.sl.update((score, member) for member, score in d.items())
    compact = len(d) <= max_entries and (max_value is None or maxlen <= max_value)
    z.encoding = b"listpack" if compact else b"skiplist"
    return z


def _blob(cur: _Cursor, codec, what: str):
    raw = cur.string()
    try:
        return codec.decode(raw)
    except ValueError as exc:
        raise BadDataFormat("%s: %s" % (what, exc)) from None


def _decode_list_nodes(cur: _Cursor, version2: bool) -> List:
    nodes = cur.length()
    out = List()
    for _ in range(nodes):
        container = QUICKLIST_PACKED
        if version2:
            container = cur.length()
            if container not in (QUICKLIST_PLAIN, QUICKLIST_PACKED):
                raise BadDataFormat("quicklist node container %d" % container)
        if container == QUICKLIST_PLAIN:
            element = cur.string()
            if not element:
                raise BadDataFormat("empty quicklist node")
            out.append(element)
            continue
        raw = cur.string()
        if not raw:
            raise BadDataFormat("empty quicklist node")
        codec = listpack if version2 else ziplist
        try:
            out.extend(codec.decode(raw))
        except ValueError as exc:
            raise BadDataFormat("quicklist node: %s" % exc) from None
    if not out:
        raise EmptyKeyError("empty list")
    return out


def _decode(rdb_type: int, cur: _Cursor, th: Thresholds):
    if rdb_type == TYPE_STRING:
        return cur.string()

    if rdb_type == TYPE_LIST:
        n = cur.length()
        out = List()
        for _ in range(n):
            out.append(cur.string())
        if not out:
            raise EmptyKeyError("empty list")
        return out
    if rdb_type == TYPE_LIST_QUICKLIST_2:
        return _decode_list_nodes(cur, True)
    if rdb_type == TYPE_LIST_QUICKLIST:
        return _decode_list_nodes(cur, False)
    if rdb_type == TYPE_LIST_ZIPLIST:
        out = List(_blob(cur, ziplist, "list ziplist"))
        if not out:
            raise EmptyKeyError("empty list")
        return out

    if rdb_type == TYPE_SET:
        n = cur.length()
        s = Set()
        all_ints = True
        for _ in range(n):
            member = cur.string()
            if member in s:
                raise BadDataFormat("duplicate set member")
            s.add(member)
            if all_ints and string_to_int64(member) is None:
                all_ints = False
        if not s:
            raise EmptyKeyError("empty set")
        if not all_ints or len(s) > th.set_max_intset_entries:
            s.encoding = b"hashtable"
        return s
    if rdb_type == TYPE_SET_INTSET:
        ints = _blob(cur, intset, "intset")
        s = Set(b"%d" % v for v in ints)
        if len(s) > th.set_max_intset_entries:
            s.encoding = b"hashtable"
        return s

    if rdb_type == TYPE_ZSET_2 or rdb_type == TYPE_ZSET:
        n = cur.length()
        read_score = cur.binary_double if rdb_type == TYPE_ZSET_2 else cur.string_double

        def members():
            for _ in range(n):
                member = cur.string()
                yield member, read_score()

        return _make_zset(members(), th.zset_max_listpack_entries, th.zset_max_listpack_value)
    if rdb_type == TYPE_ZSET_LISTPACK or rdb_type == TYPE_ZSET_ZIPLIST:
        codec = listpack if rdb_type == TYPE_ZSET_LISTPACK else ziplist
        items = _blob(cur, codec, "sorted set")
        pairs = ((m, _parse_double(s)) for m, s in _pairs(items, "sorted set"))
        return _make_zset(pairs, th.zset_max_listpack_entries, None, ordered=True)

    if rdb_type == TYPE_HASH:
        n = cur.length()
        pairs = []
        compact = n <= th.hash_max_listpack_entries
        limit = th.hash_max_listpack_value
        for _ in range(n):
            field = cur.string()
            val = cur.string()
            if compact and (len(field) > limit or len(val) > limit):
                compact = False
            pairs.append((field, val))
        return _make_hash(pairs, compact)
    if rdb_type == TYPE_HASH_LISTPACK or rdb_type == TYPE_HASH_ZIPLIST:
        codec = listpack if rdb_type == TYPE_HASH_LISTPACK else ziplist
        items = _blob(cur, codec, "hash")
        compact = len(items) // 2 <= th.hash_max_listpack_entries
        return _make_hash(_pairs(items, "hash"), compact)
    if rdb_type == TYPE_HASH_ZIPMAP:
        pairs = _blob(cur, zipmap, "zipmap")
        longest = max(max(len(f), len(v)) for f, v in pairs)
        compact = len(pairs) <= th.hash_max_listpack_entries and longest <= th.hash_max_listpack_value
        return _make_hash(pairs, compact)

    what = _UNSUPPORTED.get(rdb_type)
    if what is not None:
        raise UnsupportedTypeError("%s (RDB type %d) are not supported" % (what, rdb_type))
    raise BadDataFormat("unknown RDB value type %d" % rdb_type)


def decode_value(rdb_type: int, data, thresholds: Thresholds = DEFAULT_THRESHOLDS):
    """Decode one serialized value of type ``rdb_type`` that fills ``data``.

    Trailing bytes after the value are ignored, as RESTORE ignores them.
    """
    cur = _Cursor(memoryview(data).cast("B"))
    return _decode(rdb_type, cur, thresholds)


# ---------------------------------------------------------------------------
# DUMP payloads
# ---------------------------------------------------------------------------

_FOOTER = 10  # 2 bytes RDB version + 8 bytes CRC64, both little-endian


def dump_value(value, compress: bool = True, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> bytes:
    """The DUMP payload of ``value``: type, value, RDB version, CRC64."""
    rdb_type, body = encode_value(value, compress, thresholds)
    head = bytes((rdb_type,)) + body + RDB_VERSION.to_bytes(2, "little")
    return head + crc64(0, head).to_bytes(8, "little")


def verify_dump_payload(payload, verify_checksum: bool = True) -> int:
    """Check a DUMP payload's footer; return its RDB version.

    Raises ``DumpPayloadError`` exactly where RESTORE answers "DUMP payload
    version or checksum are wrong": too short, newer version, CRC mismatch.
    """
    view = memoryview(payload).cast("B")
    n = len(view)
    if n < _FOOTER:
        raise DumpPayloadError()
    version = view[n - 10] | (view[n - 9] << 8)
    if version > RDB_VERSION:
        raise DumpPayloadError()
    if verify_checksum:
        stored = int.from_bytes(view[n - 8 :], "little")
        if crc64(0, view[: n - 8]) != stored:
            raise DumpPayloadError()
    return version


def load_dump_payload(
    payload, thresholds: Thresholds = DEFAULT_THRESHOLDS, verify_checksum: bool = True
):
    """The value inside a DUMP payload.

    Raises ``DumpPayloadError`` for a bad footer and ``BadDataFormat`` (or a
    subclass) for a body that does not decode; nothing else.
    """
    verify_dump_payload(payload, verify_checksum)
    view = memoryview(payload).cast("B")
    # RESTORE hands Redis's loader the whole argument, footer included, so a
    # body that runs short reads into the footer rather than failing; doing
    # the same keeps such (checksummed, hand-made) payloads indistinguishable.
    cur = _Cursor(view)
    rdb_type = cur.byte()
    if rdb_type not in _OBJECT_TYPES:
        raise BadDataFormat("not a value type: %d" % rdb_type)
    return _decode(rdb_type, cur, thresholds)


# ---------------------------------------------------------------------------
# Writing whole files
# ---------------------------------------------------------------------------


def default_aux(
    redis_ver: str = REDIS_VERSION,
    ctime: Optional[int] = None,
    used_mem: int = 0,
    aof_base: bool = False,
    repl_stream_db: Optional[int] = None,
    repl_id: Optional[str] = None,
    repl_offset: Optional[int] = None,
) -> list[tuple[bytes, bytes]]:
    """The AUX fields redis-server 7.0 writes, in its order.

    The replication trio is included when ``repl_id`` is given (an RDB made
    for a replica or with replication info).
    """
    if ctime is None:
        ctime = int(time.time())
    fields = [
        (b"redis-ver", redis_ver.encode()),
        (b"redis-bits", b"64"),
        (b"ctime", b"%d" % ctime),
        (b"used-mem", b"%d" % used_mem),
    ]
    if repl_id is not None:
        fields.append((b"repl-stream-db", b"%d" % (repl_stream_db or 0)))
        fields.append((b"repl-id", repl_id.encode()))
        fields.append((b"repl-offset", b"%d" % (repl_offset or 0)))
    fields.append((b"aof-base", b"1" if aof_base else b"0"))
    return fields


class RdbWriter:
    """Produces an RDB file piece by piece; every method returns its bytes.

    Call ``header()``, then any of ``aux``/``function``/``select_db``/``key``,
    then ``eof()``; the writer keeps the running CRC64 over what it returned.
    With ``checksum=False`` the trailer is zero, which Redis reads as "no
    checksum" (``rdbchecksum no``).
    """

    def __init__(
        self,
        compress: bool = True,
        checksum: bool = True,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        version: int = RDB_VERSION,
    ):
        self.compress = compress
        self.checksum = checksum
        self.thresholds = thresholds
        self.version = version
        self._crc = 0

    def _out(self, data: bytes) -> bytes:
        if self.checksum:
            self._crc = crc64(self._crc, data)
        return data

    def header(self, aux: Optional[Iterable[tuple[bytes, bytes]]] = None) -> bytes:
        """Magic, version and AUX fields (``default_aux()`` when None)."""
        parts = [b"REDIS%04d" % self.version]
        for key, val in default_aux() if aux is None else aux:
            parts.append(self._aux_bytes(key, val))
        return self._out(b"".join(parts))

    def _aux_bytes(self, key, val) -> bytes:
        return bytes((OPCODE_AUX,)) + encode_string(key, self.compress) + encode_string(val, self.compress)

    def aux(self, key, val) -> bytes:
        return self._out(self._aux_bytes(key, val))

    def function(self, code) -> bytes:
        """A function library (FUNCTION LOAD source)."""
        return self._out(bytes((OPCODE_FUNCTION2,)) + encode_string(code, self.compress))

    def select_db(
        self, db: int, db_size: Optional[int] = None, expires_size: Optional[int] = None
    ) -> bytes:
        """SELECTDB, plus RESIZEDB when the sizes are known."""
        data = bytes((OPCODE_SELECTDB,)) + encode_length(db)
        if db_size is not None:
            data += bytes((OPCODE_RESIZEDB,)) + encode_length(db_size) + encode_length(expires_size or 0)
        return self._out(data)

    def key(
        self,
        key,
        value,
        expire_ms: Optional[int] = None,
        lru_idle: Optional[int] = None,
        lfu_freq: Optional[int] = None,
    ) -> bytes:
        """One key: optional expire/idle/freq opcodes, type, key, value."""
        parts = []
        if expire_ms is not None:
            parts.append(bytes((OPCODE_EXPIRETIME_MS,)) + _I64.pack(expire_ms))
        if lru_idle is not None:
            parts.append(bytes((OPCODE_IDLE,)) + encode_length(lru_idle))
        if lfu_freq is not None:
            parts.append(bytes((OPCODE_FREQ, lfu_freq)))
        rdb_type, body = encode_value(value, self.compress, self.thresholds)
        parts.append(bytes((rdb_type,)))
        parts.append(encode_string(key, self.compress))
        parts.append(body)
        return self._out(b"".join(parts))

    def eof(self) -> bytes:
        """EOF opcode and the CRC64 of everything before the checksum."""
        end = self._out(bytes((OPCODE_EOF,)))
        crc = self._crc if self.checksum else 0
        return end + crc.to_bytes(8, "little")


def write_rdb(
    databases,
    aux: Optional[Iterable[tuple[bytes, bytes]]] = None,
    functions: Iterable[bytes] = (),
    compress: bool = True,
    checksum: bool = True,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    chunk_size: int = 1 << 16,
) -> Iterator[bytes]:
    """A whole RDB file as a stream of chunks of about ``chunk_size`` bytes.

    ``databases`` maps a db index to its keys, an iterable of
    ``(key, value, expire_ms_or_None)``.  When the keys come as a sized
    collection, RESIZEDB is written; empty databases are skipped, as Redis
    skips them.
    """
    w = RdbWriter(compress=compress, checksum=checksum, thresholds=thresholds)
    pending = [w.header(aux)]
    size = len(pending[0])
    for code in functions:
        pending.append(w.function(code))
    items_by_db = databases.items() if hasattr(databases, "items") else databases
    for db, items in items_by_db:
        db_size = expires = None
        if hasattr(items, "__len__"):
            if len(items) == 0:
                continue
            if not hasattr(items, "__getitem__"):
                items = list(items)
            db_size = len(items)
            expires = sum(1 for item in items if item[2] is not None)
        pending.append(w.select_db(db, db_size, expires))
        for key, value, expire_ms in items:
            piece = w.key(key, value, expire_ms)
            pending.append(piece)
            size += len(piece)
            if size >= chunk_size:
                yield b"".join(pending)
                pending = []
                size = 0
    pending.append(w.eof())
    yield b"".join(pending)


# ---------------------------------------------------------------------------
# Reading whole files
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuxField:
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class SelectDb:
    db: int


@dataclass(frozen=True, slots=True)
class ResizeDb:
    db_size: int
    expires_size: int


@dataclass(frozen=True, slots=True)
class KeyValue:
    db: int
    key: bytes
    value: object
    expire_ms: Optional[int] = None
    lru_idle: Optional[int] = None
    lfu_freq: Optional[int] = None


@dataclass(frozen=True, slots=True)
class FunctionLibrary:
    code: bytes


@dataclass(frozen=True, slots=True)
class ModuleAux:
    """Module data outside the keyspace; its contents were skipped."""

    module_id: int
    when: int


@dataclass(frozen=True, slots=True)
class EndOfFile:
    """The end of the RDB; ``checksum`` is the stored CRC64 (0: none kept).

    ``verified`` says whether it was compared with the computed one.
    """

    checksum: int
    verified: bool


# Opcodes followed by a fixed number of bytes.
_FIXED_SIZE_OPCODES = {OPCODE_EXPIRETIME_MS: 8, OPCODE_EXPIRETIME: 4, OPCODE_FREQ: 1}

_HEADER = 0
_BODY = 1
_DONE = 2
_COMPACT_AT = 1 << 20  # drop consumed bytes from the buffer past this point


class RdbReader:
    """Incremental RDB parser: ``feed`` bytes in, take events out.

    ``next_event()`` returns the next event, or None when it needs more input
    (or after ``EndOfFile``).  Call ``feed_eof()`` when the input ends: an
    incomplete file then raises ``RdbCorruptError``.  Keys whose value is an
    empty container are skipped, as Redis skips them when loading.
    """

    def __init__(
        self,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        verify_checksum: bool = True,
        max_version: int = RDB_VERSION,
    ):
        self.thresholds = thresholds
        self.verify_checksum = verify_checksum
        self.max_version = max_version
        self.version: Optional[int] = None
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._pos = 0  # index in _buf of the first unparsed byte
        self._retry_at = 0  # do not look again before _buf holds this many bytes
        self._scanner = None  # the suspended scan of the record at _pos
        self._eof_in = False
        self._state = _HEADER
        self._crc = 0
        self._db = 0
        self._expire: Optional[int] = None
        self._idle: Optional[int] = None
        self._freq: Optional[int] = None

    @property
    def done(self) -> bool:
        return self._state == _DONE

    @property
    def offset(self) -> int:
        """Stream offset of the next byte to parse."""
        return self._base + self._pos

    def feed(self, data) -> None:
        if self._eof_in:
            raise RuntimeError("feed() after feed_eof()")
        self._buf += data

    def feed_eof(self) -> None:
        self._eof_in = True

    def unconsumed(self) -> bytes:
        """Bytes fed beyond the end of the RDB (e.g. a replication EOF mark)."""
        return bytes(self._buf[self._pos :])

    def next_event(self):
        while self._state != _DONE:
            if not self._eof_in and not self._record_complete():
                return None
            start = self._pos
            view = memoryview(self._buf)
            cur = _Cursor(view, start, len(view), self._eof_in)
            try:
                event, crc_end = self._parse_record(cur)
                if self.verify_checksum and crc_end > start:
                    self._crc = crc64(self._crc, view[start:crc_end])
            except _NeedMore as more:
                # Only when the scanner and the parser disagree on a malformed
                # record: wait for what the parser wants.
                self._retry_at = more.needed
                return None
            except RdbCorruptError:
                raise
            except UnsupportedTypeError as exc:
                raise RdbUnsupportedError(self._base + cur.pos, str(exc)) from None
            except BadDataFormat as exc:
                raise RdbCorruptError(self._base + cur.pos, str(exc)) from None
            finally:
                view.release()
            if isinstance(event, EndOfFile) and self.verify_checksum:
                event = self._check_crc(event, start)
            self._pos = cur.pos
            self._retry_at = 0
            if self._pos >= _COMPACT_AT:
                del self._buf[: self._pos]
                self._base += self._pos
                self._pos = 0
            if event is not None:
                return event
        return None

    def _record_complete(self) -> bool:
        """Whether the record at ``_pos`` is all buffered (or beyond scanning).

        A scanner walks the record's structure -- lengths, string sizes --
        without building anything and suspends where the bytes run out, so
        however the input is chunked each byte is scanned once and each record
        parsed once.  A scanner that meets something it does not understand
        gives up and lets the parser produce the real error.
        """
        if len(self._buf) < self._retry_at:
            return False
        if self._scanner is None:
            self._scanner = self._scan_record(self._pos)
        try:
            self._retry_at = next(self._scanner)
            return False
        except (StopIteration, _ScanStop):
            self._scanner = None
            return True

    # -- the scanner: generators that yield a buffer size they wait for ----

    def _wait(self, size: int):
        while len(self._buf) < size:
            yield size

    def _scan_len(self, p: int):
        b = self._buf
        if len(b) <= p:
            yield from self._wait(p + 1)
        first = b[p]
        kind = first >> 6
        if kind == LEN_6BIT or kind == LEN_ENCVAL:
            return first & 0x3F, p + 1
        if kind == LEN_14BIT:
            if len(b) < p + 2:
                yield from self._wait(p + 2)
            return ((first & 0x3F) << 8) | b[p + 1], p + 2
        if first == LEN_32BIT:
            width = 4
        elif first == LEN_64BIT:
            width = 8
        else:
            raise _ScanStop
        end = p + 1 + width
        if len(b) < end:
            yield from self._wait(end)
        return int.from_bytes(b[p + 1 : end], "big"), end

    def _scan_string(self, p: int):
        b = self._buf
        if len(b) <= p:
            yield from self._wait(p + 1)
        first = b[p]
        if first >> 6 == LEN_ENCVAL:
            enc = first & 0x3F
            if enc <= ENC_INT32:
                end = p + 1 + (1, 2, 4)[enc]
            elif enc == ENC_LZF:
                clen, q = yield from self._scan_len(p + 1)
                _, q = yield from self._scan_len(q)
                end = q + clen
            else:
                raise _ScanStop
        else:
            n, q = yield from self._scan_len(p)
            end = q + n
        if len(b) < end:
            yield from self._wait(end)
        return end

    def _scan_strings(self, p: int, count: int, extra: int = 0):
        """Skip ``count`` strings, each followed by ``extra`` fixed bytes."""
        b = self._buf
        for _ in range(count):
            # Fast path for short plain strings, no generator needed.
            if p < len(b):
                first = b[p]
                if first < 0x40:
                    q = p + 1 + first + extra
                    if q <= len(b):
                        p = q
                        continue
            p = yield from self._scan_string(p)
            if extra:
                p += extra
                if len(b) < p:
                    yield from self._wait(p)
        return p

    def _scan_record(self, p: int):
        b = self._buf
        if self._state == _HEADER:
            yield from self._wait(p + 9)
            return p + 9
        if len(b) <= p:
            yield from self._wait(p + 1)
        op = b[p]
        p += 1
        fixed = _FIXED_SIZE_OPCODES.get(op)
        if fixed is not None:
            yield from self._wait(p + fixed)
            return p + fixed
        if op == OPCODE_EOF:
            end = p + (8 if (self.version or 0) >= 5 else 0)
            yield from self._wait(end)
            return end
        if op in (OPCODE_SELECTDB, OPCODE_IDLE):
            _, p = yield from self._scan_len(p)
            return p
        if op == OPCODE_RESIZEDB:
            _, p = yield from self._scan_len(p)
            _, p = yield from self._scan_len(p)
            return p
        if op == OPCODE_AUX:
            return (yield from self._scan_strings(p, 2))
        if op == OPCODE_FUNCTION2:
            return (yield from self._scan_string(p))
        if op == OPCODE_MODULE_AUX:
            for _ in range(3):
                _, p = yield from self._scan_len(p)
            while True:
                opcode, p = yield from self._scan_len(p)
                if opcode == MODULE_OPCODE_EOF:
                    return p
                if opcode in (MODULE_OPCODE_SINT, MODULE_OPCODE_UINT):
                    _, p = yield from self._scan_len(p)
                elif opcode == MODULE_OPCODE_STRING:
                    p = yield from self._scan_string(p)
                elif opcode in (MODULE_OPCODE_FLOAT, MODULE_OPCODE_DOUBLE):
                    p += 4 if opcode == MODULE_OPCODE_FLOAT else 8
                    yield from self._wait(p)
                else:
                    raise _ScanStop
        if op not in _OBJECT_TYPES or op in _UNSUPPORTED:
            raise _ScanStop
        p = yield from self._scan_string(p)  # the key
        if op in _ONE_STRING_TYPES:
            return (yield from self._scan_string(p))
        count, p = yield from self._scan_len(p)
        if op in (TYPE_LIST, TYPE_SET, TYPE_LIST_QUICKLIST):
            return (yield from self._scan_strings(p, count))
        if op == TYPE_HASH:
            return (yield from self._scan_strings(p, 2 * count))
        if op == TYPE_ZSET_2:
            return (yield from self._scan_strings(p, count, 8))
        if op == TYPE_LIST_QUICKLIST_2:
            for _ in range(count):
                _, p = yield from self._scan_len(p)
                p = yield from self._scan_string(p)
            return p
        if op == TYPE_ZSET:
            for _ in range(count):
                p = yield from self._scan_string(p)
                if len(b) <= p:
                    yield from self._wait(p + 1)
                n = b[p]
                p += 1 if n >= DOUBLE_NAN else 1 + n
            yield from self._wait(p)
            return p
        raise _ScanStop  # pragma: no cover - every object type is handled above

    def _check_crc(self, event: EndOfFile, start: int) -> EndOfFile:
        if event.checksum == 0 or self.version < 5:
            return event
        if event.checksum != self._crc:
            raise RdbCorruptError(self._base + start + 1, "RDB CRC error")
        return EndOfFile(event.checksum, True)

    def _parse_record(self, cur: _Cursor):
        """Parse one record; return (event or None, end of CRC-covered bytes).

        State changes happen only after every read of the record succeeded,
        so a record abandoned for lack of bytes can simply be parsed again.
        """
        if self._state == _HEADER:
            magic = cur.take(9)
            if magic[:5] != b"REDIS" or not magic[5:].isdigit():
                raise RdbCorruptError(self._base, "wrong signature, not an RDB file")
            version = int(magic[5:])
            if not 1 <= version <= self.max_version:
                raise RdbCorruptError(self._base + 5, "can't handle RDB format version %d" % version)
            self.version = version
            self._state = _BODY
            return None, cur.pos

        op = cur.byte()
        if op == OPCODE_EXPIRETIME_MS:
            self._expire = _I64.unpack(cur.take(8))[0]
            return None, cur.pos
        if op == OPCODE_EXPIRETIME:
            self._expire = _I32.unpack(cur.take(4))[0] * 1000
            return None, cur.pos
        if op == OPCODE_FREQ:
            self._freq = cur.byte()
            return None, cur.pos
        if op == OPCODE_IDLE:
            self._idle = cur.length()
            return None, cur.pos
        if op == OPCODE_SELECTDB:
            self._db = cur.length()
            return SelectDb(self._db), cur.pos
        if op == OPCODE_RESIZEDB:
            db_size = cur.length()
            expires_size = cur.length()
            return ResizeDb(db_size, expires_size), cur.pos
        if op == OPCODE_AUX:
            key = cur.string()
            val = cur.string()
            return AuxField(key, val), cur.pos
        if op == OPCODE_FUNCTION2:
            return FunctionLibrary(cur.string()), cur.pos
        if op == OPCODE_MODULE_AUX:
            module_id = cur.length()
            when_opcode = cur.length()
            when = cur.length()
            if when_opcode != MODULE_OPCODE_UINT:
                raise BadDataFormat("bad module aux when_opcode %d" % when_opcode)
            _skip_module_value(cur)
            return ModuleAux(module_id, when), cur.pos
        if op == OPCODE_FUNCTION_PRE_GA:
            raise RdbCorruptError(self._base + cur.pos - 1, "pre-release function format not supported")
        if op == OPCODE_EOF:
            crc_end = cur.pos
            stored = 0
            if self.version >= 5:
                stored = int.from_bytes(cur.take(8), "little")
            self._state = _DONE
            return EndOfFile(stored, False), crc_end
        if op not in _OBJECT_TYPES:
            raise RdbCorruptError(self._base + cur.pos - 1, "unknown RDB type %d" % op)
        key = cur.string()
        try:
            value = _decode(op, cur, self.thresholds)
        except EmptyKeyError:
            event = None
        else:
            event = KeyValue(self._db, key, value, self._expire, self._idle, self._freq)
        self._expire = self._idle = self._freq = None
        return event, cur.pos


def _skip_module_value(cur: _Cursor) -> None:
    """Walk a module's annotated serialisation up to its EOF marker."""
    while True:
        opcode = cur.length()
        if opcode == MODULE_OPCODE_EOF:
            return
        if opcode in (MODULE_OPCODE_SINT, MODULE_OPCODE_UINT):
            cur.length()
        elif opcode == MODULE_OPCODE_STRING:
            cur.string()
        elif opcode == MODULE_OPCODE_FLOAT:
            cur.take(_FLOAT.size)
        elif opcode == MODULE_OPCODE_DOUBLE:
            cur.take(_DOUBLE.size)
        else:
            raise BadDataFormat("unknown module opcode %d" % opcode)


def read_rdb(source, chunk_size: int = 1 << 16, **options) -> Iterator:
    """Events of a whole RDB from bytes or a binary file object read in chunks.

    ``options`` go to ``RdbReader``.  Stops after ``EndOfFile``; raises
    ``RdbCorruptError`` on a malformed or truncated stream.
    """
    reader = RdbReader(**options)
    if isinstance(source, (bytes, bytearray, memoryview)):
        reader.feed(source)
        reader.feed_eof()
        read = None
    else:
        read = source.read
    while True:
        event = reader.next_event()
        if event is not None:
            yield event
            continue
        if reader.done:
            return
        if read is None:
            raise RdbCorruptError(reader.offset, "unexpected end of data")  # pragma: no cover
        chunk = read(chunk_size)
        if chunk:
            reader.feed(chunk)
        else:
            reader.feed_eof()
            read = None
