"""A raw RESP client for tests: requests go out as bytes, replies come back as bytes.

Compatibility tests compare servers byte for byte, so this client never
decodes a reply into values: ``request`` returns the exact bytes of one
complete reply frame.  Finding where a frame ends is the only parsing it
does (``frame_end``), and that knows every RESP2 and RESP3 type, nested
aggregates, attributes and nulls.  Everything is bounded by a timeout, and a
server that closes the connection is reported as ``ConnectionClosed`` with
the bytes it sent before closing, because "replied and closed" is itself
behaviour to compare.
"""

from __future__ import annotations

import socket
import time

__all__ = [
    "RawConnection",
    "ConnectionClosed",
    "ReplyTimeout",
    "encode_command",
    "frame_end",
    "split_frames",
]

# RESP type bytes, grouped by how their frame ends.
_LINE_TYPES = frozenset(b"+-:_,#(")  # a single CRLF-terminated line
_BLOB_TYPES = frozenset(b"$!=")  # <len>\r\n<len bytes>\r\n ($-1 is a null)
_AGG_TYPES = frozenset(b"*~>")  # <count>\r\n then count frames (*-1 is a null)
_MAP_TYPES = frozenset(b"%|")  # <count>\r\n then 2*count frames
_ATTRIBUTE = ord("|")  # an attribute map precedes the reply it describes

DEFAULT_TIMEOUT = 10.0  # seconds: any single reply of a test server must come faster


class ConnectionClosed(ConnectionError):
    """The server closed the connection.  ``data`` holds what it sent first."""

    def __init__(self, msg: str, data: bytes = b""):
        super().__init__(msg)
        self.data = data


class ReplyTimeout(TimeoutError):
    """No complete frame arrived in time.  ``data`` holds the partial bytes."""

    def __init__(self, msg: str, data: bytes = b""):
        super().__init__(msg)
        self.data = data


def _arg_bytes(a) -> bytes:
    if isinstance(a, (bytes, bytearray, memoryview)):
        return bytes(a)
    if isinstance(a, str):
        return a.encode()
    if isinstance(a, bool):
        raise TypeError("bool is ambiguous as a Redis argument; pass 1/0 or a string")
    if isinstance(a, int):
        return b"%d" % a
    if isinstance(a, float):
        return repr(a).encode()
    raise TypeError(f"cannot send {type(a).__name__} as a Redis argument")


def encode_command(*args) -> bytes:
    """One multibulk request.  Arguments may be bytes, str, int or float."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = _arg_bytes(a)
        parts.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(parts)


def _line_end(buf, pos: int):
    """Index just past the CRLF of the line starting at ``pos``, or None."""
    cr = buf.find(b"\r\n", pos)
    return None if cr < 0 else cr + 2


def frame_end(buf, pos: int = 0):
    """End index of the complete frame starting at ``buf[pos]``, or None if incomplete.

    Raises ValueError when the bytes cannot be a RESP frame.  Iterative, so
    deeply nested replies cannot exhaust the Python stack.
    """
    pending = 1  # frames still to read at this point
    stack: list[int] = []  # pending counts of the enclosing aggregates
    n = len(buf)
    while True:
        if pos >= n:
            return None
        t = buf[pos]
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        if t in _LINE_TYPES:
            pos = eol + 2
        elif t in _BLOB_TYPES:
            try:
                ln = int(buf[pos + 1 : eol])
            except ValueError:
                raise ValueError(f"bad blob length at {pos}: {bytes(buf[pos:eol])!r}") from None
            if ln < 0:
                pos = eol + 2
            else:
                end = eol + 2 + ln + 2
                if end > n:
                    return None
                if buf[end - 2 : end] != b"\r\n":
                    raise ValueError(f"blob at {pos} not terminated by CRLF")
                pos = end
        elif t in _AGG_TYPES or t in _MAP_TYPES:
            try:
                cnt = int(buf[pos + 1 : eol])
            except ValueError:
                raise ValueError(f"bad aggregate length at {pos}: {bytes(buf[pos:eol])!r}") from None
            pos = eol + 2
            if t in _MAP_TYPES:
                cnt *= 2
            if t == _ATTRIBUTE:
                cnt += 1  # the attribute and the reply it annotates are one frame
            if cnt > 0:
                stack.append(pending - 1)
                pending = cnt
                continue
        else:
            raise ValueError(f"unknown RESP type byte {bytes([t])!r} at {pos}")
        pending -= 1
        while pending == 0:
            if not stack:
                return pos
            pending = stack.pop()


def split_frames(data: bytes) -> tuple[list[bytes], bytes]:
    """Cut ``data`` into complete frames; returns (frames, incomplete rest)."""
    frames = []
    pos = 0
    while pos < len(data):
        end = frame_end(data, pos)
        if end is None:
            break
        frames.append(bytes(data[pos:end]))
        pos = end
    return frames, bytes(data[pos:])


class RawConnection:
    """A blocking TCP connection that sends requests and reads raw reply frames.

    >>> with RawConnection(port) as c:
    ...     assert c.request("SET", "k", "v") == b"+OK\\r\\n"
    """

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT,
                 connect_timeout: float = 5.0):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed_by_peer = False

    # --- context manager ---------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def fileno(self) -> int:
        return self.sock.fileno()

    # --- sending -----------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given (garbage, inline commands, partial frames)."""
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def send_command(self, *args) -> None:
        self.send_raw(encode_command(*args))

    # --- receiving ---------------------------------------------------------------

    def _recv(self, deadline: float) -> bool:
        """Read once into the buffer.  False when the peer closed."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed_by_peer = True
            return False
        self.buf += chunk
        return True

    def read_frame(self, timeout: float | None = None) -> bytes:
        """Exactly one complete reply frame (raw bytes).

        Raises ConnectionClosed if the server closes first, ReplyTimeout if no
        complete frame arrives within ``timeout`` (default: the connection's).
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            end = frame_end(self.buf) if self.buf else None
            if end is not None:
                frame = bytes(self.buf[:end])
                del self.buf[:end]
                return frame
            if self.closed_by_peer:
                raise ConnectionClosed("server closed the connection", bytes(self.buf))
            try:
                if not self._recv(deadline):
                    raise ConnectionClosed("server closed the connection", bytes(self.buf))
            except socket.timeout:
                raise ReplyTimeout(
                    f"no complete reply from 127.0.0.1:{self.port} within the timeout", bytes(self.buf)
                ) from None

    def request(self, *args, timeout: float | None = None) -> bytes:
        """Send one multibulk request and return its raw reply frame."""
        self.send_command(*args)
        return self.read_frame(timeout)

    def pipeline(self, *commands, timeout: float | None = None) -> list[bytes]:
        """Send several requests in one write, return their replies in order."""
        self.send_raw(b"".join(encode_command(*c) for c in commands))
        return [self.read_frame(timeout) for _ in commands]

    def read_until_closed_or_idle(self, idle: float = 0.3, limit: float = 10.0) -> tuple[bytes, bool]:
        """Everything the server sends until it closes or stays quiet for ``idle`` seconds.

        Returns (bytes, closed).  Used to compare reactions to bad input,
        where "replied, then closed" and "replied, still open" differ.
        """
        hard = time.monotonic() + limit
        while not self.closed_by_peer:
            deadline = min(time.monotonic() + idle, hard)
            try:
                if not self._recv(deadline):
                    break
            except socket.timeout:
                break
        data = bytes(self.buf)
        self.buf.clear()
        return data, self.closed_by_peer

    def is_open(self, wait: float = 0.2) -> bool:
        """True if the server has not closed the connection (waits up to ``wait``)."""
        if self.closed_by_peer:
            return False
        deadline = time.monotonic() + wait
        try:
            while self._recv(deadline):
                pass
        except socket.timeout:
            return True
        return False
