"""Differential testing: the same request to shardis and to redis-server, byte-equal replies.

redis-server 7.0 is the oracle: whatever it answers, to the byte, is the
specification.  ``Differential.check(*args)`` sends one request to both
servers over two raw connections and fails with both replies and the recent
history when they differ.  ``check_raw(data)`` does the same for arbitrary
bytes on fresh connections and compares what each server sent back *and*
whether it closed the connection, because for malformed input the close is
part of the behaviour.

A few replies legitimately differ between two servers even when both are
right: remaining TTLs that crossed a second boundary, clocks, client ids,
addresses, memory figures, INFO.  Those go through a normaliser, a function
``(args, reply) -> reply`` applied to both sides before comparing; the
defaults are in ``DEFAULT_NORMALIZERS`` keyed by command name (or "NAME SUB"
for container commands), and a test can pass its own per check or per
Differential.  A normaliser should erase only what may vary and keep the
shape (type, nullness, sign), so it does not hide real differences.
"""

from __future__ import annotations

import re
import socket
from collections import deque
from collections.abc import Callable

from .rawclient import ConnectionClosed, RawConnection, _arg_bytes, encode_command, split_frames

__all__ = [
    "Differential",
    "DifferentialMismatch",
    "Normalizer",
    "DEFAULT_NORMALIZERS",
    "normalize_nonnegative_int",
    "normalize_any_int",
    "normalize_bulk",
    "normalize_array_sorted",
    "normalize_fields",
    "replace_bulk_payload",
]

Normalizer = Callable[[tuple, bytes], bytes]

HISTORY = 30  # requests kept to explain a mismatch


class DifferentialMismatch(AssertionError):
    """shardis and redis-server answered differently."""


# --- normalisers ----------------------------------------------------------------------


def normalize_nonnegative_int(args, reply: bytes) -> bytes:
    """``:n`` with n >= 0 becomes ``:<n>=0>``; negatives (-1 no TTL, -2 no key) stay exact."""
    if reply.startswith(b":") and not reply.startswith(b":-"):
        return b":<n>=0>\r\n"
    return reply


def normalize_any_int(args, reply: bytes) -> bytes:
    """Any integer reply becomes ``:<int>`` (errors and nulls stay exact)."""
    if reply.startswith(b":"):
        return b":<int>\r\n"
    return reply


def normalize_bulk(args, reply: bytes) -> bytes:
    """Any bulk or verbatim string becomes a placeholder of its type (nulls stay exact)."""
    if reply[:1] in (b"$", b"=") and not reply.startswith(b"$-1"):
        return reply[:1] + b"<string>\r\n"
    return reply


def _elements(reply: bytes):
    """The header and the element frames of an aggregate reply, or None."""
    if reply[:1] not in (b"*", b"~", b"%", b">") or reply[1:3] == b"-1":
        return None
    eol = reply.index(b"\r\n")
    frames, rest = split_frames(reply[eol + 2 :])
    if rest:
        return None
    return reply[: eol + 2], frames


def normalize_array_sorted(args, reply: bytes) -> bytes:
    """Sort the elements of an aggregate (for replies whose order is a hash table's)."""
    parts = _elements(reply)
    if parts is None:
        return reply
    header, frames = parts
    return header + b"".join(sorted(frames))


def normalize_time(args, reply: bytes) -> bytes:
    """TIME: two bulks of digits -> placeholders (shape checked, values not)."""
    m = re.fullmatch(rb"\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d+\r\n", reply)
    return b"*2\r\n<seconds><microseconds>" if m else reply


def replace_bulk_payload(reply: bytes, fn: Callable[[bytes], bytes]) -> bytes:
    """Rewrite the payload of a bulk (``$``) or verbatim (``=``) reply, fixing its length."""
    if reply[:1] not in (b"$", b"=") or reply.startswith(b"$-1"):
        return reply
    eol = reply.index(b"\r\n")
    payload = fn(reply[eol + 2 : -2])
    return reply[:1] + b"%d\r\n" % len(payload) + payload + b"\r\n"


def normalize_fields(*names: str) -> Normalizer:
    """For ``name=value`` texts (CLIENT LIST/INFO): erase the values of ``names``."""
    rx = re.compile(rb"(?<![\w-])(" + b"|".join(re.escape(n.encode()) for n in names) + rb")=\S*")

    def norm(args, reply: bytes) -> bytes:
        return replace_bulk_payload(reply, lambda p: rx.sub(rb"\1=*", p))

    return norm


_CLIENT_VOLATILE = normalize_fields(
    "id", "addr", "laddr", "fd", "age", "idle", "qbuf", "qbuf-free", "argv-mem", "multi-mem",
    "obl", "oll", "omem", "tot-mem", "rbs", "rbp", "events",
)

_HELLO_ID = re.compile(rb"(\$2\r\nid\r\n):\d+\r\n")


def normalize_hello(args, reply: bytes) -> bytes:
    """HELLO: the client id differs between the two servers."""
    return _HELLO_ID.sub(rb"\1:<id>\r\n", reply)


def normalize_info(args, reply: bytes) -> bytes:
    """INFO: the fields differ by nature; only the reply type is compared here."""
    return normalize_bulk(args, reply)


DEFAULT_NORMALIZERS: dict[bytes, Normalizer] = {
    b"TTL": normalize_nonnegative_int,
    b"PTTL": normalize_nonnegative_int,
    b"EXPIRETIME": normalize_nonnegative_int,
    b"PEXPIRETIME": normalize_nonnegative_int,
    b"TIME": normalize_time,
    b"LASTSAVE": normalize_any_int,
    b"INFO": normalize_info,
    b"HELLO": normalize_hello,
    b"CLIENT ID": normalize_any_int,
    b"CLIENT LIST": _CLIENT_VOLATILE,
    b"CLIENT INFO": _CLIENT_VOLATILE,
    b"MEMORY USAGE": normalize_nonnegative_int,
    b"OBJECT IDLETIME": normalize_nonnegative_int,
    b"OBJECT FREQ": normalize_nonnegative_int,
    b"DBSIZE": lambda args, reply: reply,  # exact: listed to show it was considered
    b"KEYS": normalize_array_sorted,
    b"SMEMBERS": normalize_array_sorted,
    b"SINTER": normalize_array_sorted,
    b"SUNION": normalize_array_sorted,
    b"SDIFF": normalize_array_sorted,
    b"RANDOMKEY": normalize_bulk,
}


def _describe(reply: bytes, limit: int = 600) -> str:
    r = repr(reply)
    return r if len(r) <= limit else r[:limit] + f"... ({len(reply)} bytes)"


def _describe_args(args) -> str:
    shown = []
    for a in args:
        b = _arg_bytes(a)
        shown.append(repr(b) if len(b) <= 60 else repr(b[:60]) + f"...({len(b)}B)")
    return " ".join(shown)


class Differential:
    """Two raw connections, one to shardis and one to redis-server, compared reply by reply."""

    def __init__(self, shardis_port: int, redis_port: int, *, normalizers: dict | None = None,
                 timeout: float = 10.0):
        self.shardis_port = shardis_port
        self.redis_port = redis_port
        self.timeout = timeout
        self.normalizers = dict(DEFAULT_NORMALIZERS)
        if normalizers:
            self.normalizers.update({k.upper() if isinstance(k, bytes) else k.upper().encode(): v
                                     for k, v in normalizers.items()})
        self.history: deque = deque(maxlen=HISTORY)
        self.shardis: RawConnection | None = None
        self.redis: RawConnection | None = None
        self._extra: list[RawConnection] = []
        self.connect()

    # --- connections -----------------------------------------------------------------

    def connect(self) -> None:
        """(Re)open the two main connections (fresh client state on both servers)."""
        self.close()
        self.shardis = RawConnection(self.shardis_port, timeout=self.timeout)
        self.redis = RawConnection(self.redis_port, timeout=self.timeout)

    reconnect = connect

    def close(self) -> None:
        for c in [self.shardis, self.redis] + self._extra:
            if c is not None:
                c.close()
        self._extra.clear()
        self.shardis = self.redis = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def pair(self) -> tuple[RawConnection, RawConnection]:
        """A further (shardis, redis) pair of connections, closed with this Differential."""
        a = RawConnection(self.shardis_port, timeout=self.timeout)
        b = RawConnection(self.redis_port, timeout=self.timeout)
        self._extra += [a, b]
        return a, b

    # --- normalising -----------------------------------------------------------------

    def normalizer_for(self, args) -> Normalizer | None:
        if not args:
            return None
        name = _arg_bytes(args[0]).upper()
        if len(args) > 1:
            two = name + b" " + _arg_bytes(args[1]).upper()
            if two in self.normalizers:
                return self.normalizers[two]
        return self.normalizers.get(name)

    def _normalize(self, args, reply: bytes, normalize) -> bytes:
        if normalize is False:
            return reply
        fn = normalize if normalize is not None else self.normalizer_for(args)
        if fn is None:
            return reply
        bargs = tuple(_arg_bytes(a) for a in args)
        return fn(bargs, reply)

    # --- comparing ---------------------------------------------------------------------

    @staticmethod
    def _read(conn: RawConnection):
        """A reply frame, or ("closed", bytes sent before closing)."""
        try:
            return conn.read_frame()
        except ConnectionClosed as e:
            return ("closed", e.data)

    def _fail(self, what: str, a, b) -> None:
        hist = "\n".join("  " + h for h in self.history)
        sa = _describe(a) if isinstance(a, bytes) else repr(a)
        sb = _describe(b) if isinstance(b, bytes) else repr(b)
        raise DifferentialMismatch(
            f"replies differ for {what}\n"
            f"  shardis: {sa}\n"
            f"  redis:   {sb}\n"
            f"requests so far on this connection (oldest first):\n{hist}"
        )

    def both(self, *args) -> tuple:
        """Send one request to both servers; return (shardis reply, redis reply), unnormalised."""
        self.history.append(_describe_args(args))
        self.shardis.send_command(*args)
        self.redis.send_command(*args)
        return self._read(self.shardis), self._read(self.redis)

    def check(self, *args, normalize: Normalizer | None | bool = None) -> bytes:
        """Send one request to both; assert the (normalised) replies are byte-equal.

        Returns redis-server's raw reply.  ``normalize=False`` compares raw
        bytes even for commands that have a default normaliser.
        """
        a, b = self.both(*args)
        if isinstance(a, tuple) or isinstance(b, tuple):
            if a != b:
                self._fail(_describe_args(args), a, b)
            return b
        na, nb = self._normalize(args, a, normalize), self._normalize(args, b, normalize)
        if na != nb:
            self._fail(_describe_args(args), a, b)
        return b

    def check_many(self, *commands, normalize=None) -> list[bytes]:
        """Send several requests as one pipeline to each server, compare every reply."""
        data = b"".join(encode_command(*c) for c in commands)
        for c in commands:
            self.history.append(_describe_args(c))
        self.shardis.send_raw(data)
        self.redis.send_raw(data)
        out = []
        for c in commands:
            a, b = self._read(self.shardis), self._read(self.redis)
            if isinstance(a, tuple) or isinstance(b, tuple):
                if a != b:
                    self._fail(_describe_args(c) + " (in a pipeline)", a, b)
                out.append(b)
                break
            if self._normalize(c, a, normalize) != self._normalize(c, b, normalize):
                self._fail(_describe_args(c) + " (in a pipeline)", a, b)
            out.append(b)
        return out

    def check_raw(self, data: bytes, *, idle: float = 0.3, fresh: bool = True,
                  half_close: bool = False) -> tuple[bytes, bool]:
        """Send the same raw bytes to both; compare all bytes sent back and whether each closed.

        Reads until the server closes or stays quiet for ``idle`` seconds (a
        difference is re-read with a longer wait before it counts, so a slow
        reply is not mistaken for none).  With ``half_close`` the client
        shuts its sending side after the data, so each server sees the end
        of input and closes: no idle wait, for fuzzing many inputs quickly.
        With ``fresh`` (the default) new connections are used, so earlier
        requests cannot influence the outcome.  Returns redis-server's
        (bytes, closed).
        """
        if fresh:
            a_conn, b_conn = self.pair()
        else:
            a_conn, b_conn = self.shardis, self.redis
        self.history.append(f"raw {_describe(data, 200)}")
        for conn in (a_conn, b_conn):
            try:
                conn.send_raw(data)
                if half_close:
                    conn.sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed while we were still sending: what it sent back tells the rest
        wait = self.timeout if half_close else idle
        a = a_conn.read_until_closed_or_idle(wait)
        b = b_conn.read_until_closed_or_idle(wait)
        if a != b and not half_close:
            a2 = a_conn.read_until_closed_or_idle(max(1.0, 4 * idle))
            b2 = b_conn.read_until_closed_or_idle(max(1.0, 4 * idle))
            a, b = (a[0] + a2[0], a2[1]), (b[0] + b2[0], b2[1])
        if fresh:
            for conn in (a_conn, b_conn):
                conn.close()
                self._extra.remove(conn)
        if a != b:
            self._fail(f"raw bytes {_describe(data, 200)}", a, b)
        return b

    def assert_both_alive(self) -> None:
        """Both servers accept a new connection and answer PING."""
        for port, name in ((self.shardis_port, "shardis"), (self.redis_port, "redis-server")):
            with RawConnection(port, timeout=self.timeout) as c:
                reply = c.request("PING")
            assert reply == b"+PONG\r\n", f"{name} on port {port} answered PING with {reply!r}"

