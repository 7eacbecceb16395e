"""RESP2/RESP3: the request reader and the reply encoders.  Pure: bytes in, values out.

Reading requests
----------------
Requests are parsed by hiredis (C) on the fast path: a well-formed pipeline of
multibulk requests costs one ``gets()`` call per command.  hiredis parses the
*reply* grammar, which is wider than the request grammar Redis accepts
(``*1\\r\\n:5\\r\\n`` is a valid reply, a protocol error as a request), and it
knows nothing of inline commands or of Redis's size limits.  So the reader
keeps a shadow of the bytes hiredis holds and, on anything unusual, re-reads
them with a small pure-Python parser that follows networking.c
(processMultibulkBuffer / processInlineBuffer) step for step and yields
Redis's exact protocol errors.  Inline requests and unauthenticated clients
(whose limits are tighter) always use the pure parser.

The shadow costs nothing while reads end on command boundaries (the common
case: the shadow is dropped as soon as hiredis is empty).  A partial command
left in hiredis is validated by the pure parser each time it doubles in size,
so a bad length header is caught early while validation stays O(n) overall.

Encoding replies
----------------
Functions that build complete frames.  The frames that differ between RESP2
and RESP3 (null, map, set, double, boolean, push) live on two small classes,
``RESP2`` and ``RESP3``; a client holds the one its HELLO chose.
"""

from __future__ import annotations

import re
import struct
from itertools import chain
from operator import itemgetter

import hiredis

__all__ = [
    "ProtocolError",
    "RequestReader",
    "PureParser",
    "split_args",
    "split_uniform",
    "uniform_batch",
    "one_request",
    "Shape",
    "encode_request",
    "bulk",
    "bulk_replies",
    "integer",
    "simple",
    "bulk_array",
    "array_header",
    "RESP2",
    "RESP3",
    "format_double",
    "PROTO_INLINE_MAX_SIZE",
]

PROTO_INLINE_MAX_SIZE = 1024 * 64  # bytes: longest inline request / count line (server.h)
INT_MAX = 2**31 - 1
UNAUTH_MAX_MULTIBULK = 10  # args an unauthenticated client may send (networking.c)
UNAUTH_MAX_BULK = 16384  # bytes per arg for an unauthenticated client
# An array header of a million elements or more: left to the exact parser (see feed).
_BIG_COUNT = re.compile(rb"\*[1-9][0-9]{6}")
# What RequestReader._classify returns for an empty request ("*0", "*-1"), which Redis skips.
_SKIP = object()
# The RESP3 types hiredis reads as bytes besides '$': '+', '=', '('.
_BYTES_TYPES = frozenset(b"+=(")


class ProtocolError(Exception):
    """A request that breaks the protocol.  ``str(e)`` is Redis's detail text."""


def _string2ll(b: bytes):
    """Redis's strict string2ll: canonical decimal only, else None."""
    n = len(b)
    if n == 0 or n > 20:
        return None
    if n == 1 and b == b"0":
        return 0
    start = 1 if b[0] == 45 else 0  # '-'
    if start == n or not (49 <= b[start] <= 57):  # first digit 1-9
        return None
    for c in b[start + 1 :]:
        if not (48 <= c <= 57):
            return None
    v = int(b)
    if not (-(2**63) <= v < 2**63):
        return None
    return v


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def _is_space(c: int) -> bool:
    return c in (32, 9, 10, 11, 12, 13)


def split_args(line: bytes):
    """sdssplitargs: split an inline request into arguments, honouring quotes.

    Returns a list of bytes, or None for unbalanced quotes.
    """
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and _is_space(line[i]):
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if (
                    c == 92
                    and i + 3 < n
                    and line[i + 1] == 120
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    c = line[i]
                    cur.append(_ESCAPES.get(c, c))
                elif c == 34:
                    # closing quote must be followed by a space or nothing
                    if i + 1 < n and not _is_space(line[i + 1]):
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and not _is_space(line[i + 1]):
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if _is_space(c):
                    break
                if c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


def _cstr_end(buf, pos: int) -> int:
    """Where C's strchr() from ``pos`` would stop: the first NUL byte (or the end).

    Redis finds request line ends with strchr(), so a NUL before the line end
    hides it and Redis keeps waiting for more input; we do the same.
    """
    nul = buf.find(b"\0", pos)
    return nul if nul >= 0 else len(buf)


class PureParser:
    """A request parser that follows Redis's networking.c exactly.

    Feed bytes with ``feed``; ``gets`` returns the next command (list of
    bytes), ``False`` when more input is needed, and raises ProtocolError with
    Redis's detail text.  ``[]`` is never returned: empty requests (a blank
    inline line, ``*0``/``*-1``) are skipped as Redis skips them.
    """

    __slots__ = ("buf", "pos", "max_bulk", "unauth", "_mb_left", "_bulklen", "_argv")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024, unauth: bool = False):
        self.buf = bytearray()
        self.pos = 0
        self.max_bulk = max_bulk
        self.unauth = unauth
        self._mb_left = 0  # args still expected by the current multibulk (0: at a boundary)
        self._bulklen = -1  # length of the bulk being read (-1: need its header)
        self._argv: list = []

    def feed(self, data) -> None:
        if self.pos and self.pos == len(self.buf):
            self.buf.clear()
            self.pos = 0
        self.buf += data

    def pending(self) -> int:
        """Bytes not yet consumed."""
        return len(self.buf) - self.pos

    def at_boundary(self) -> bool:
        return self._mb_left == 0 and self.pos == len(self.buf)

    def bytes_until_decision(self) -> int:
        """After ``gets`` returned False: how many more bytes could change its answer."""
        pending = len(self.buf) - self.pos
        if self._mb_left == 0 or self._bulklen == -1:
            # Waiting for a line end, which any byte may bring (an inline line
            # ends at "\n", which hiredis would not see as an end): check again
            # on the next read.  Header lines are short, so this stays cheap.
            return 1
        # waiting for a bulk payload (and its CRLF)
        return max(1, self._bulklen + 2 - pending)

    def take_rest(self) -> bytes:
        """Remove and return unconsumed bytes (only valid at a command boundary)."""
        rest = bytes(self.buf[self.pos :])
        self.buf.clear()
        self.pos = 0
        return rest

    def gets(self):
        while True:
            if self._mb_left == 0:
                if self.pos >= len(self.buf):
                    if self.pos:
                        self.buf.clear()
                        self.pos = 0
                    return False
                if self.buf[self.pos] == 42:  # '*'
                    r = self._multibulk_header()
                else:
                    r = self._inline()
                if r is False:
                    return False
                if r is None:
                    continue  # empty request, skipped
                if r is not True:
                    return r  # an inline command
            cmd = self._multibulk_body()
            if cmd is False:
                return False
            return cmd

    def _inline(self):
        buf, pos = self.buf, self.pos
        nl = buf.find(b"\n", pos, _cstr_end(buf, pos))
        if nl < 0:
            if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("too big inline request")
            return False
        end = nl - 1 if nl != pos and buf[nl - 1] == 13 else nl
        args = split_args(bytes(buf[pos:end]))
        self.pos = nl + 1
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        return args or None

    def _multibulk_header(self):
        buf, pos = self.buf, self.pos
        cr = buf.find(b"\r", pos, _cstr_end(buf, pos))
        if cr < 0:
            if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("too big mbulk count string")
            return False
        if cr - pos > len(buf) - pos - 2:
            return False
        ll = _string2ll(bytes(buf[pos + 1 : cr]))
        if ll is None or ll > INT_MAX:
            raise ProtocolError("invalid multibulk length")
        if ll > UNAUTH_MAX_MULTIBULK and self.unauth:
            raise ProtocolError("unauthenticated multibulk length")
        self.pos = cr + 2
        if ll <= 0:
            return None
        self._mb_left = ll
        self._argv = []
        return True

    def _multibulk_body(self):
        buf = self.buf
        while self._mb_left:
            pos = self.pos
            if self._bulklen == -1:
                cr = buf.find(b"\r", pos, _cstr_end(buf, pos))
                if cr < 0:
                    if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                        raise ProtocolError("too big bulk count string")
                    return False
                if cr - pos > len(buf) - pos - 2:
                    return False
                if buf[pos] != 36:  # '$'
                    raise ProtocolError("expected '$', got '%s'" % chr(buf[pos]))
                ll = _string2ll(bytes(buf[pos + 1 : cr]))
                if ll is None or ll < 0 or ll > self.max_bulk:
                    raise ProtocolError("invalid bulk length")
                if ll > UNAUTH_MAX_BULK and self.unauth:
                    raise ProtocolError("unauthenticated bulk length")
                self.pos = pos = cr + 2
                self._bulklen = ll
            if len(buf) - pos < self._bulklen + 2:
                return False
            end = pos + self._bulklen
            self._argv.append(bytes(buf[pos:end]))
            self.pos = end + 2
            self._bulklen = -1
            self._mb_left -= 1
        argv, self._argv = self._argv, []
        return argv


_BULK_HEADER = b"$%d".__mod__
# Canonical headers and the numbers they stand for: a column of headers is then
# checked with a dict lookup per request, not a parse or a formatting.
_HEADER_LEN = {b"$%d" % i: i for i in range(4096)}.get
# The widest request taken (wider ones go the usual way): MSET of up to 31 pairs
# (redis-benchmark's has 10, 21 arguments); see bench/micro.py --tests mset.
UNIFORM_MAX_ARGS = 64
_COUNT_HEADER = {b"*%d" % i: i for i in range(1, UNIFORM_MAX_ARGS + 1)}.get


def split_uniform(data):
    """``uniform_batch(data)``'s columns alone (or None)."""
    found = uniform_batch(data)
    return None if found is None else found[0]


def uniform_batch(data, shape=None):
    """A read made only of whole requests of one command, cut into argument columns.

    Returns ``(columns, shape)``: ``columns[j][i]`` is argument j of request
    i (all columns as long; lists or tuples; ``columns[0]`` the command
    name, the same bytes in every request), and the read's ``Shape`` when
    it has one (see below), for the caller to offer back with the next read
    -- or None when ``data`` is anything else: inline, a partial request, a
    mixed pipeline, more than UNIFORM_MAX_ARGS arguments, a non-canonical
    header such as ``$03`` or ``*+2``...  The caller then reads it the
    usual way.

    Why: a client pipelining one command (redis-benchmark -P, bulk loads,
    loops of GETs or SETs in a pipeline) is the common case of a busy
    connection, and in CPython the per-request cost of the usual route --
    one hiredis ``gets()`` and a dozen checks per request -- is most of the
    node's time.  Two ways, neither with a Python loop per request:

    * Requests of one shape -- every argument as long as in the first
      request: fixed-size keys and values, as benchmarks and most bulk
      loads send -- are records of one size whose bytes outside the
      payloads (the header lines, the name) are the same in every record.
      ``Shape.match`` checks those bytes for all records at once (one
      integer AND and compare) and takes the payloads out with one
      ``struct`` unpacking.
    * Otherwise one ``split`` cuts the read into its lines, C slices with a
      stride gather each argument position into a column, and each column
      of headers is checked in one go (``count``, ``map``).

    Exactness: only canonical headers are accepted (``*N`` and ``$LEN`` as
    ``%d`` prints them), and each payload is exactly LEN bytes followed by
    CRLF, so the columns are what Redis would have read.  (With ``split``,
    a payload holding CRLF splits into two lines, the counts stop matching
    and the read goes the usual way; a shape takes it in its stride.)
    """
    if shape is not None:
        columns = shape.match(data)
        if columns is not None:
            return columns, shape
    if data[:1] != b"*":
        return None
    first = _first_request(data)
    if first is not None:
        name, lengths, size, prefix = first
        if len(data) > size and not data.startswith(prefix, size):
            return None  # the second request is another command (or another arity)
        if not len(data) % size:
            key = (name, lengths)
            shape = _SHAPES.get(key)
            if shape is None:
                if len(_SHAPES) >= _SHAPES_MAX:
                    _SHAPES.clear()
                shape = _SHAPES[key] = Shape(name, lengths)
            columns = shape.match(data)
            if columns is not None:
                return columns, shape
    columns = _split_lines(data)
    return None if columns is None else (columns, None)


class Shape:
    """One shape of request: a command name and the length of each argument.

    A request of this shape is ``size`` bytes, and every byte outside its
    payloads (header lines, the name, CRLFs) is fixed.  ``match`` checks
    those bytes across a whole read at once, as integers: the read, masked
    to the fixed positions, must equal the fixed bytes of m requests.  Then
    one ``struct`` call unpacks the payloads of every request.

    Requests of one argument after the name (GET key, LPOP key ...) are
    checked the other way round, cheaper for them: their payloads, joined
    back with the fixed bytes between them (``between``), must give the read
    again.  Building the integer costs several instructions per byte of the
    read; the join is one C loop per request.  (With two payloads or more, a
    join per request costs more than the integer.)
    """

    __slots__ = ("name", "lengths", "size", "prefix", "_mask", "_fixed", "unpack", "_checks", "_head", "_between")

    def __init__(self, name: bytes, lengths: tuple):
        self.name = name
        self.lengths = lengths
        record = bytearray(b"*%d\r\n$%d\r\n" % (len(lengths), len(name)) + name + b"\r\n")
        self.prefix = bytes(record)
        mask = bytearray(b"\xff" * len(record))  # 0xff where a byte is fixed, 0 in payloads
        fmt = ["%dx" % len(record)]
        for length in lengths[1:]:
            head = b"$%d\r\n" % length
            record += head
            mask += b"\xff" * len(head)
            fmt.append("%dx%ds" % (len(head), length))
            record += b"\0" * length  # a payload: any bytes
            mask += b"\0" * length
            record += b"\r\n"
            mask += b"\xff\xff"
            fmt.append("2x")
        self.size = len(record)
        self._mask = bytes(mask)
        self._fixed = bytes(record)  # the fixed bytes, payloads zeroed
        unpacker = struct.Struct("=" + "".join(fmt))  # "=": no alignment padding
        assert unpacker.size == self.size
        self.unpack = unpacker.iter_unpack if len(lengths) > 1 else None
        self._checks: dict = {}  # number of requests -> (mask, fixed bytes) as integers
        if len(lengths) == 2:
            self._head = self.prefix + b"$%d\r\n" % lengths[1]
            self._between = (b"\r\n" + self._head).join  # from one request's payload to the next one's

    def match(self, data):
        """The columns of ``data`` when it is nothing but requests of this shape, else None."""
        m, rest = divmod(len(data), self.size)
        if rest or not m:
            return None
        if len(self.lengths) == 2:
            column = list(map(_first_item, self.unpack(data)))
            if self._head + self._between(column) + b"\r\n" != data:
                return None
            return [[self.name] * m, column]
        check = self._checks.get(m)
        if check is None:
            check = (int.from_bytes(self._mask * m, "little"), int.from_bytes(self._fixed * m, "little"))
            if m <= 4096:  # reads are at most a few hundred KB: few sizes recur
                if len(self._checks) >= 16:
                    self._checks.clear()
                self._checks[m] = check
        mask, fixed = check
        if int.from_bytes(data, "little") & mask != fixed:
            return None
        names = [self.name] * m
        n = len(self.lengths)
        if n == 1:
            return [names]
        rows = list(self.unpack(data))
        return [names, *zip(*rows)]


_first_item = itemgetter(0)
# (name, argument lengths) -> Shape
_SHAPES: dict = {}
_SHAPES_MAX = 256


def _first_request(data):
    """(name, payload lengths, size in bytes, bytes up to the name's end) of the canonical request opening ``data``."""
    end = data.find(b"\r\n")
    n = _COUNT_HEADER(data[:end]) if end > 0 else None
    if n is None:
        return None
    pos = end + 2
    lengths = []
    name_end = 0
    for _ in range(n):
        end = data.find(b"\r\n", pos, pos + 8)
        if end < 0:
            return None
        length = _HEADER_LEN(data[pos:end])
        if length is None:
            return None
        pos = end + 2 + length
        if data[pos : pos + 2] != b"\r\n":
            return None
        if not name_end:
            name_end = pos
        lengths.append(length)
        pos += 2
    name = data[name_end - lengths[0] : name_end]
    return name, tuple(lengths), pos, data[: name_end + 2]


def _split_lines(data):
    """split_uniform's second way: requests of one command, payload lengths varying."""
    parts = data.split(b"\r\n")
    if parts[-1]:
        return None  # does not end on a line end: a partial request (or garbage)
    head = parts[0]
    n = _COUNT_HEADER(head)
    if n is None:
        return None
    stride = 2 * n + 1
    total = len(parts) - 1
    m, rest = divmod(total, stride)
    if rest or parts[0:total:stride].count(head) != m:
        return None
    # the command name: one value, so one header and one length for the column
    names = parts[2:total:stride]
    h = parts[1]
    if names.count(names[0]) != m or parts[1:total:stride].count(h) != m or _HEADER_LEN(h) != len(names[0]):
        return None
    columns = [names]
    for j in range(3, stride, 2):
        payloads = parts[j + 1 : total : stride]
        headers = parts[j:total:stride]
        h = headers[0]
        length = _HEADER_LEN(h)
        if length is not None and headers.count(h) == m:
            # one header for the whole column (keys of one shape, values of one size)
            if list(map(len, payloads)).count(length) != m:
                return None
        else:
            lengths = list(map(len, payloads))
            if list(map(_HEADER_LEN, headers)) != lengths and headers != list(map(_BULK_HEADER, lengths)):
                return None
        columns.append(payloads)
    return columns


def one_request(data):
    """The arguments of ``data`` when it is exactly one canonical request, else None.

    A client that waits for each reply (no pipelining: most application
    clients, redis-benchmark -P 1) sends one request per read.  One
    ``split`` and a check of each header read it, where the request
    reader's feed and hiredis calls and their checks cost several times
    more in CPython.  Exactness as in uniform_batch: canonical headers only
    (``*N`` with N up to UNIFORM_MAX_ARGS, ``$LEN`` with LEN below 4096 --
    far under any proto-max-bulk-len, whose floor is 1mb), each payload
    exactly LEN bytes and followed by CRLF, nothing after the request.
    Reading the same bytes by their length headers from the start cuts them
    at the same places, so the arguments are what Redis would have read; a
    payload holding CRLF adds lines, and the lengths stop matching.
    """
    parts = data.split(b"\r\n")
    n = len(parts)  # *N, then a header and a payload per argument, then b"" after the last CRLF
    # Requests of two and three arguments, the commonest, spelled out: the
    # general loop below costs them about a tenth of a request's instructions.
    if n == 8:  # three (SET key value, HGET key field ...)
        if (
            parts[0] == b"*3"
            and not parts[7]
            and _HEADER_LEN(parts[1]) == len(name := parts[2])
            and _HEADER_LEN(parts[3]) == len(key := parts[4])
            and _HEADER_LEN(parts[5]) == len(arg := parts[6])
        ):
            return [name, key, arg]
        return None
    if n == 6:  # two (GET key, INCR key ...)
        if (
            parts[0] == b"*2"
            and not parts[5]
            and _HEADER_LEN(parts[1]) == len(name := parts[2])
            and _HEADER_LEN(parts[3]) == len(key := parts[4])
        ):
            return [name, key]
        return None
    if n & 1 or parts[-1] or _COUNT_HEADER(parts[0]) != (n - 2) >> 1:
        return None
    argv = parts[2:-1:2]
    i = 1
    for a in argv:
        if _HEADER_LEN(parts[i]) != len(a):
            return None
        i += 2
    return argv


def encode_request(argv) -> bytes:
    """A request as clients send it (and the AOF stores it): ``*<argc>`` then one bulk per argument."""
    return b"*%d\r\n" % len(argv) + b"".join([b"$%d\r\n%b\r\n" % (len(a), a) for a in argv])


class RequestReader:
    """Requests from one client connection: hiredis fast path, exact slow path.

    Use ``feed(data)`` then call ``gets()`` until it returns False.

    The shadow (the bytes hiredis holds) may only be dropped at a command
    boundary.  hiredis cannot tell us where one is: ``has_data()`` is also
    false while it holds a partly parsed aggregate whose bytes it has already
    consumed.  So a boundary is recognised only as "no unread bytes right
    after a complete command was returned": ``gets`` asks ``has_data()``
    before each hiredis ``gets()`` and remembers whether the last call left a
    partial command (``_partial``).
    """

    __slots__ = (
        "_hr",
        "fast",
        "_shadow",
        "_shadow_len",
        "taken",
        "_partial",
        "_next_check",
        "_pure",
        "max_bulk",
        "unauth",
    )

    def __init__(self, max_bulk: int = 512 * 1024 * 1024):
        self.max_bulk = max_bulk
        self.unauth = False
        self._new_hiredis()
        self._pure: PureParser | None = None
        self.fast = True

    def _new_hiredis(self):
        self._hr = hiredis.Reader()
        self._shadow: list = []
        self._shadow_len = 0
        self.taken = 0  # commands returned by hiredis since the shadow began
        self._partial = False  # hiredis holds part of a command
        self._next_check = 0

    def buffered(self) -> int:
        """Bytes received and not yet consumed (for the query buffer limit and CLIENT LIST)."""
        if self.fast:
            return self._shadow_len
        return self._pure.pending()

    def feed(self, data) -> None:
        if self.fast:
            if self._shadow_len == 0 and (data[0] != 42 or self.unauth):
                # An inline request (or a client under tighter limits): read it exactly.
                self._to_pure(b"")
                self._pure.feed(data)
                return
            self._hr.feed(data)
            self._shadow.append(data)
            self._shadow_len += len(data)
            if data.find(b"\n+") >= 0 or data.find(b"\n=") >= 0 or data.find(b"\n(") >= 0 or data[0] in _BYTES_TYPES:
                # A '+status', '=verbatim' or '(bignum' element would come out of
                # hiredis as bytes, like a bulk, where Redis answers "expected
                # '$'": requests carrying one (or payloads that merely look like
                # it) are read by the exact parser instead.  (find, not "in":
                # bytes.__contains__ first tries its argument as an integer,
                # and the TypeError it raises and drops costs more than a search.)
                self._to_exact()
            elif _BIG_COUNT.search(data) or (len(self._shadow) > 1 and _BIG_COUNT.search(self._shadow[-2][-12:] + data[:12])):
                # hiredis sizes an array from its header at once, and freeing a
                # reader that holds one of 2**31 slots takes seconds: huge counts
                # (which Redis accepts and fills as arguments arrive) are read by
                # the exact parser, which allocates only what has arrived.
                self._to_exact()
        else:
            self._pure.feed(data)

    def _to_pure(self, data: bytes) -> None:
        self.fast = False
        p = self._pure
        if p is None or not p.at_boundary():
            p = self._pure = PureParser(self.max_bulk, self.unauth)
        else:
            p.max_bulk, p.unauth = self.max_bulk, self.unauth
        if data:
            p.feed(data)

    def gets(self):
        """Next command (list of bytes), False when more input is needed; raises ProtocolError."""
        if self.fast:
            hr = self._hr
            while True:
                if not hr.has_data():
                    if not self._partial and self._shadow_len:
                        # A boundary: everything fed has been returned.
                        self._shadow.clear()
                        self._shadow_len = 0
                        self.taken = 0
                        self._next_check = 0
                    return False
                try:
                    cmd = hr.gets()
                except hiredis.ProtocolError:
                    return self.anomaly()
                cmd = self._classify(cmd)
                if cmd is not _SKIP:
                    return cmd
        p = self._pure
        cmd = p.gets()
        if cmd is False and p.at_boundary() and not self.unauth:
            # Back to the fast path from the next read that starts a multibulk.
            self.fast = True
            self._new_hiredis()
        return cmd

    def resume(self, cmd):
        """Finish a ``gets`` whose hiredis call the connection made itself (the rare cases)."""
        cmd = self._classify(cmd)
        return self.gets() if cmd is _SKIP else cmd

    def _classify(self, cmd):
        """What a hiredis ``gets()`` result means: a command, False (wait), or _SKIP (an empty request)."""
        if cmd is False:
            self._partial = True
            return self._check_partial()
        self._partial = False
        if cmd.__class__ is list:
            if cmd:
                for a in cmd:
                    if a.__class__ is not bytes:
                        return self.anomaly()
                self.taken += 1
                return cmd
            return _SKIP  # "*0": skipped, as Redis skips it (and not counted)
        if cmd is None:
            return _SKIP  # "*-1": skipped too
        return self.anomaly()

    def _check_partial(self):
        """hiredis waits for more of a command: make sure Redis would wait too.

        The exact parser re-reads what hiredis holds, past the commands
        already returned, and must also be waiting; if it finds an error or a
        complete (e.g. inline) command instead, the exact parser takes over.
        The shadow is then trimmed to the partial command, so each byte is
        re-read about once however the stream is cut.  The next check is due
        when a new command has been returned, or when the answer could change:
        a header line passing Redis's 64KB limit, or the awaited bulk payload
        having arrived.
        """
        if self.taken == 0 and self._shadow_len < self._next_check:
            return False
        joined = b"".join(self._shadow)
        probe = PureParser(self.max_bulk, self.unauth)
        probe.feed(joined)
        for _ in range(self.taken):
            probe.gets()
        start = probe.pos
        try:
            cmd = probe.gets()
        except ProtocolError:
            return self.anomaly()
        if cmd is not False:
            return self.anomaly()
        rest = joined[start:]
        self._shadow = [rest]
        self._shadow_len = len(rest)
        self.taken = 0
        self._next_check = self._shadow_len + probe.bytes_until_decision()
        return False

    def _to_exact(self) -> None:
        """Hand everything hiredis holds (less the commands already returned) to the exact parser."""
        data = b"".join(self._shadow)
        taken = self.taken
        self._new_hiredis()
        self._pure = PureParser(self.max_bulk, self.unauth)
        self.fast = False
        self._pure.feed(data)
        for _ in range(taken):  # already returned to the caller
            self._pure.gets()

    def anomaly(self):
        """Something hiredis accepts that Redis would not (or vice versa): re-read exactly."""
        self._to_exact()
        return self.gets()

    def set_unauth(self, flag: bool) -> None:
        """Apply (or lift) the tighter limits for unauthenticated clients."""
        self.unauth = flag
        if self._pure is not None:
            self._pure.unauth = flag


# --- reply encoders --------------------------------------------------------


def bulk(b) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def integer(n: int) -> bytes:
    return b":%d\r\n" % n


def simple(s: bytes) -> bytes:
    return b"+" + s + b"\r\n"


def array_header(n: int) -> bytes:
    return b"*%d\r\n" % n


def format_double(d: float) -> bytes:
    """A double as Redis 7.0 prints it in replies (%.17g; inf/-inf; nan)."""
    if d != d:
        return b"nan"
    if d == float("inf"):
        return b"inf"
    if d == float("-inf"):
        return b"-inf"
    return b"%.17g" % d


# Bulk headers by length, without and with their CRLF: a column of replies is
# then framed with lookups and joins instead of a formatting per reply.
_BULK_HEADS = [b"$%d" % i for i in range(4096)]
_BULK_HEADS_CRLF = [b"$%d\r\n" % i for i in range(4096)]


def bulk_replies(values, null: bytes = b"$-1\r\n") -> bytes:
    """One reply per value, joined: a bulk string for bytes, ``null`` for None.

    For batches (connection.run_uniform).  Without a None, the frames come
    out of C-level maps and one join -- a single join when every value has
    one length -- instead of one Python formatting per reply.  With nulls
    among them, each frame is a header looked up and a concatenation.

    Raises TypeError, having built nothing, when a value is not bytes-like
    (a list, a dict, a set ...): a batch form can use the call as its type
    check.
    """
    if not values:
        return b""
    if None not in values:
        lengths = list(map(len, values))
        n = lengths[0]
        if lengths.count(n) == len(lengths):
            head = b"$%d\r\n" % n
            return head + (b"\r\n" + head).join(values) + b"\r\n"
        if max(lengths) < 4096:
            return b"\r\n".join(chain.from_iterable(zip(map(_BULK_HEADS.__getitem__, lengths), values))) + b"\r\n"
    else:
        # Each frame less its final CRLF, the join putting it back: a null too.
        bare_null = null[:-2]
        heads = _BULK_HEADS_CRLF
        try:
            return b"\r\n".join([bare_null if v is None else heads[len(v)] + v for v in values]) + b"\r\n"
        except IndexError:
            pass  # a value of 4096 bytes or more
    return b"".join([null if v is None else b"$%d\r\n%b\r\n" % (len(v), v) for v in values])


def bulk_array(items) -> bytes:
    """An array of bulk strings; None items become null bulks (RESP2 ``$-1``)."""
    parts = [b"*%d\r\n" % len(items)]
    for b in items:
        if b is None:
            parts.append(b"$-1\r\n")
        else:
            parts.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(parts)


class RESP2:
    """Frames that differ by protocol, as RESP2 sends them."""

    version = 2
    null = b"$-1\r\n"
    null_array = b"*-1\r\n"
    true = b":1\r\n"
    false = b":0\r\n"

    @staticmethod
    def map_header(n: int) -> bytes:
        return b"*%d\r\n" % (2 * n)

    @staticmethod
    def set_header(n: int) -> bytes:
        return b"*%d\r\n" % n

    @staticmethod
    def push_header(n: int) -> bytes:
        return b"*%d\r\n" % n

    @staticmethod
    def double(d: float) -> bytes:
        s = format_double(d)
        return b"$%d\r\n%b\r\n" % (len(s), s)

    @staticmethod
    def verbatim(s: bytes, fmt: bytes = b"txt") -> bytes:
        return b"$%d\r\n%b\r\n" % (len(s), s)

    @staticmethod
    def bulk_or_null_array(items) -> bytes:
        """An array whose null items are null bulks in both protocols."""
        return bulk_array(items)


class RESP3(RESP2):
    """Frames that differ by protocol, as RESP3 sends them."""

    version = 3
    null = b"_\r\n"
    null_array = b"_\r\n"
    true = b"#t\r\n"
    false = b"#f\r\n"

    @staticmethod
    def map_header(n: int) -> bytes:
        return b"%%%d\r\n" % n

    @staticmethod
    def set_header(n: int) -> bytes:
        return b"~%d\r\n" % n

    @staticmethod
    def push_header(n: int) -> bytes:
        return b">%d\r\n" % n

    @staticmethod
    def double(d: float) -> bytes:
        return b"," + format_double(d) + b"\r\n"

    @staticmethod
    def verbatim(s: bytes, fmt: bytes = b"txt") -> bytes:
        return b"=%d\r\n%b:%b\r\n" % (len(s) + 4, fmt, s)

    @staticmethod
    def bulk_or_null_array(items) -> bytes:
        parts = [b"*%d\r\n" % len(items)]
        for b in items:
            parts.append(b"_\r\n" if b is None else b"$%d\r\n%b\r\n" % (len(b), b))
        return b"".join(parts)
