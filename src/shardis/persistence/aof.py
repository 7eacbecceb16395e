"""The append-only file as Redis 7.0 keeps it: a manifest, one base, incremental files.

Redis 7.0 splits the AOF into files in ``appenddirname``:

* a *base* -- a snapshot taken by the last rewrite, ``<appendfilename>.<seq>.base.rdb``
  (an RDB with the ``aof-base`` AUX field, ``aof-use-rdb-preamble yes``) or
  ``.base.aof`` (commands);
* *incr* files ``<appendfilename>.<seq>.incr.aof`` -- every write since,
  as RESP arrays, with a ``SELECT`` whenever the database changes and, with
  ``aof-timestamp-enabled``, ``#TS:<unix time>`` annotation lines;
* *history* -- files a finished rewrite made obsolete, deleted right away
  unless ``aof-disable-auto-gc``;
* the manifest ``<appendfilename>.manifest``, one line per file:
  ``file <name> seq <n> type <b|h|i>``, base first, then history, then incr.

A rewrite (BGREWRITEAOF) forks a child that writes a new base from its
copy-on-write view of the keyspace, while the parent simply starts a new incr
file: when the child is done, the parent renames its output into the next
base and the incr files it covers become history.  No rewrite buffer is
needed, which is what makes the 7.0 layout simple.  Enabling the AOF at run
time (``CONFIG SET appendonly yes``) starts such a rewrite; until it ends
writes go to a temporary incr file that becomes the first incr file of the
new manifest (the order of Redis 7.2, which fixed a 7.0 window where a crash
left a manifest with an incr file and no base).

The file has three layers:

* pure pieces -- ``Manifest`` (parse/format exactly as Redis does, file names
  quoted with sdscatrepr when needed), ``encode_command``, ``AofParser`` (an
  incremental reader of RESP commands with byte offsets, skipping ``#``
  annotations and telling a truncated tail from a malformed file the way
  Redis's loader does) and ``rewrite_commands`` (a keyspace as commands, for
  ``aof-use-rdb-preamble no``);
* ``AppendOnly`` -- the node's AOF state: the propagation hook that appends
  writes to a buffer, ``flush`` that writes it (and, with ``appendfsync
  always``, fsyncs it) before any reply leaves the node, the background fsync
  thread for ``everysec``, rewrites and their completion, and the INFO figures;
* the fork itself belongs to ``snapshot.Persistence``: Redis allows one child
  at a time, shared between BGSAVE and rewrites.

Writes reach the file before the client sees the reply: dispatch calls the
node's ``propagate_flush_hooks`` when a top-level command (or transaction)
has finished propagating, and this module writes its buffer there; writes
propagated outside any command (active expiry, blocked clients served later)
are written at once.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ..keyspace.objects import Hash, List, Set, ZSet
from ..protocol.resp import encode_request, format_double, split_args
from . import snapshot

__all__ = [
    "AOF_OFF",
    "AOF_ON",
    "AOF_WAIT_REWRITE",
    "AofInfo",
    "Manifest",
    "ManifestError",
    "AofFormatError",
    "AofTruncated",
    "AofParser",
    "encode_command",
    "rewrite_commands",
    "repr_name",
    "AppendOnly",
]

# --- naming (aof.c) -------------------------------------------------------------------

BASE_FILE_SUFFIX = ".base"
INCR_FILE_SUFFIX = ".incr"
RDB_FORMAT_SUFFIX = ".rdb"
AOF_FORMAT_SUFFIX = ".aof"
MANIFEST_NAME_SUFFIX = ".manifest"
TEMP_FILE_NAME_PREFIX = "temp-"

TYPE_BASE = "b"
TYPE_HIST = "h"
TYPE_INCR = "i"

MANIFEST_MAX_LINE = 1024  # longer manifest lines are an error, as in Redis
AOF_REWRITE_ITEMS_PER_CMD = 64  # elements per RPUSH/SADD/ZADD/HMSET in a rewrite
AOF_WRITE_LOG_ERROR_RATE = 30  # seconds between two logs of the same write error
AOF_FLUSH_POSTPONE_MAX = 2  # seconds a write may wait for a busy background fsync

# aof_state
AOF_OFF = 0
AOF_ON = 1
AOF_WAIT_REWRITE = 2


# --- the manifest ----------------------------------------------------------------------


@dataclass
class AofInfo:
    file_name: str
    file_seq: int
    file_type: str  # TYPE_BASE | TYPE_HIST | TYPE_INCR


class ManifestError(Exception):
    """A manifest Redis would refuse; ``line``/``linenum`` locate it (None for file-level errors)."""

    def __init__(self, reason: str, linenum: int = 0, line: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.linenum = linenum
        self.line = line


_REPR_ESCAPES = {0x5C: "\\\\", 0x22: '\\"', 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x07: "\\a", 0x08: "\\b"}


def _needs_repr(name: str) -> bool:
    """sdsneedsrepr: quotes, backslashes, control characters or spaces."""
    for ch in name.encode("utf-8", "surrogateescape"):
        if ch in _REPR_ESCAPES or not 0x20 < ch < 0x7F:
            return True
    return False


def repr_name(name: str) -> str:
    """A file name as the manifest writes it: as is, or quoted as sdscatrepr quotes."""
    if not _needs_repr(name):
        return name
    out = ['"']
    for ch in name.encode("utf-8", "surrogateescape"):
        esc = _REPR_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif 0x20 <= ch < 0x7F:
            out.append(chr(ch))
        else:
            out.append("\\x%02x" % ch)
    out.append('"')
    return "".join(out)


@dataclass
class Manifest:
    """The files of a multi-part AOF (aofManifest), and the names of the next ones."""

    base: AofInfo | None = None
    history: list = field(default_factory=list)
    incr: list = field(default_factory=list)
    curr_base_seq: int = 0
    curr_incr_seq: int = 0
    dirty: bool = False

    # --- text form ---------------------------------------------------------------

    @classmethod
    def parse(cls, text: bytes) -> "Manifest":
        """aofLoadManifestFromFile: the same checks, the same error texts."""
        m = cls()
        maxseq = 0
        if not text:
            raise ManifestError("Found an empty AOF manifest")
        lines = text.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
            complete = len(lines)
        else:
            complete = len(lines) - 1  # the last line has no newline
        for i, raw in enumerate(lines):
            linenum = i + 1
            if raw.startswith(b"#"):
                continue
            if len(raw) + 1 > MANIFEST_MAX_LINE or i >= complete:
                # fgets() saw no newline within its buffer: a line too long, or
                # a last line cut short.
                raise ManifestError("The AOF manifest file contains too long line", linenum, None)
            line = raw.strip(b" \t\r\n")
            shown = line.decode("utf-8", "surrogateescape")
            if not line:
                raise ManifestError("Invalid AOF manifest file format", linenum, shown)
            argv = split_args(line)
            if argv is None or len(argv) < 6 or len(argv) % 2:
                raise ManifestError("Invalid AOF manifest file format", linenum, shown)
            name = seq = ftype = None
            for k in range(0, len(argv), 2):
                key = argv[k].lower()
                val = argv[k + 1]
                if key == b"file":
                    name = val.decode("utf-8", "surrogateescape")
                    if "/" in name:
                        raise ManifestError("File can't be a path, just a filename", linenum, shown)
                elif key == b"seq":
                    seq = _atoll(val)
                elif key == b"type":
                    ftype = val[:1].decode("latin-1")
            if not name or not seq or not ftype:
                raise ManifestError("Invalid AOF manifest file format", linenum, shown)
            info = AofInfo(name, seq, ftype)
            if ftype == TYPE_BASE:
                if m.base is not None:
                    raise ManifestError("Found duplicate base file information", linenum, shown)
                m.base = info
                m.curr_base_seq = seq
            elif ftype == TYPE_HIST:
                m.history.append(info)
            elif ftype == TYPE_INCR:
                if seq <= maxseq:
                    raise ManifestError("Found a non-monotonic sequence number", linenum, shown)
                m.incr.append(info)
                m.curr_incr_seq = seq
                maxseq = seq
            else:
                raise ManifestError("Unknown AOF file type", linenum, shown)
        return m

    def format(self) -> bytes:
        """getAofManifestAsString: base, history, incr; one line each."""
        out = []
        for info in ([self.base] if self.base else []) + self.history + self.incr:
            out.append("file %s seq %d type %s\n" % (repr_name(info.file_name), info.file_seq, info.file_type))
        return "".join(out).encode("utf-8", "surrogateescape")

    # --- changes (each marks the manifest dirty) ----------------------------------

    def copy(self) -> "Manifest":
        return Manifest(
            base=None if self.base is None else AofInfo(self.base.file_name, self.base.file_seq, self.base.file_type),
            history=[AofInfo(i.file_name, i.file_seq, i.file_type) for i in self.history],
            incr=[AofInfo(i.file_name, i.file_seq, i.file_type) for i in self.incr],
            curr_base_seq=self.curr_base_seq,
            curr_incr_seq=self.curr_incr_seq,
            dirty=self.dirty,
        )

    def new_base_name(self, filename: str, rdb_preamble: bool) -> str:
        """getNewBaseFileNameAndMarkPreAsHistory."""
        if self.base is not None:
            self.base.file_type = TYPE_HIST
            self.history.insert(0, self.base)
        self.curr_base_seq += 1
        suffix = RDB_FORMAT_SUFFIX if rdb_preamble else AOF_FORMAT_SUFFIX
        name = "%s.%d%s%s" % (filename, self.curr_base_seq, BASE_FILE_SUFFIX, suffix)
        self.base = AofInfo(name, self.curr_base_seq, TYPE_BASE)
        self.dirty = True
        return name

    def new_incr_name(self, filename: str) -> str:
        """getNewIncrAofName."""
        self.curr_incr_seq += 1
        name = "%s.%d%s%s" % (filename, self.curr_incr_seq, INCR_FILE_SUFFIX, AOF_FORMAT_SUFFIX)
        self.incr.append(AofInfo(name, self.curr_incr_seq, TYPE_INCR))
        self.dirty = True
        return name

    def last_incr_name(self, filename: str) -> str:
        """getLastIncrAofName: the incr file to append to, created if there is none."""
        if not self.incr:
            return self.new_incr_name(filename)
        return self.incr[-1].file_name

    def mark_rewritten_incr_as_history(self, keep_last: bool) -> None:
        """markRewrittenIncrAofAsHistory: all incr files (but the open one) become history."""
        if not self.incr:
            return
        keep = self.incr[-1:] if keep_last else []
        moved = self.incr[: len(self.incr) - len(keep)]
        for info in reversed(moved):
            self.history.insert(0, AofInfo(info.file_name, info.file_seq, TYPE_HIST))
        self.incr = keep
        self.dirty = True

    def files_to_load(self) -> list:
        """The base then the incr files, in order (history is never loaded)."""
        return ([self.base] if self.base else []) + list(self.incr)


def _atoll(s: bytes) -> int:
    """atoll: leading spaces, a sign, digits; anything else stops it (0 if none)."""
    s = s.lstrip(b" \t\n\r\v\f")
    i = 0
    if s[:1] in (b"+", b"-"):
        i = 1
    j = i
    while j < len(s) and 48 <= s[j] <= 57:
        j += 1
    if j == i:
        return 0
    return int(s[:j])


# --- commands as the AOF stores them ---------------------------------------------------


def encode_command(argv) -> bytes:
    """catAppendOnlyGenericCommand: ``*<argc>`` then one bulk string per argument."""
    try:
        return encode_request(argv)
    except TypeError:  # an int argument (propagate_argv built by hand)
        return encode_command([b"%d" % a if isinstance(a, int) else bytes(a) for a in argv])


def select_command(dbid: int) -> bytes:
    db = b"%d" % dbid
    return b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(db), db)


def timestamp_annotation(unixtime: int) -> bytes:
    return b"#TS:%d\r\n" % unixtime


def _score(score: float) -> bytes:
    return format_double(score)


def rewrite_commands(dbid: int, items, now_ms: int | None = None):
    """The commands that rebuild ``items`` ((key, value, expire_ms) of db ``dbid``), in chunks.

    rewriteAppendOnlyFileRio for one database: SELECT, then per key SET /
    RPUSH / SADD / ZADD / HMSET with at most 64 elements per command, then
    PEXPIREAT when the key has a TTL.  Yields bytes.
    """
    out = [select_command(dbid)]
    size = len(out[0])
    for key, value, expire in items:
        cls = value.__class__
        if cls is bytes or cls is bytearray:
            out.append(encode_command((b"SET", key, value)))
        elif isinstance(value, List):
            out.extend(_variadic(b"RPUSH", key, [(v,) for v in value]))
        elif isinstance(value, Set):
            out.extend(_variadic(b"SADD", key, [(v,) for v in value]))
        elif isinstance(value, ZSet):
            out.extend(_variadic(b"ZADD", key, [(_score(s), m) for s, m in value]))
        elif isinstance(value, Hash):
            out.extend(_variadic(b"HMSET", key, list(value.items())))
        else:
            raise TypeError("cannot rewrite a value of type %s" % cls.__name__)
        if expire is not None:
            out.append(encode_command((b"PEXPIREAT", key, b"%d" % expire)))
        if len(out) >= 256:
            yield b"".join(out)
            out = []
    if out:
        yield b"".join(out)


def _variadic(name: bytes, key: bytes, elements: list):
    for i in range(0, len(elements), AOF_REWRITE_ITEMS_PER_CMD):
        argv = [name, key]
        for element in elements[i : i + AOF_REWRITE_ITEMS_PER_CMD]:
            argv.extend(element)
        yield encode_command(argv)


# --- reading commands back ------------------------------------------------------------------


class AofFormatError(Exception):
    """The file is not a sequence of RESP commands (Redis's "Bad file format")."""

    def __init__(self, offset: int, reason: str):
        super().__init__("bad file format at offset %d: %s" % (offset, reason))
        self.offset = offset
        self.reason = reason


class AofTruncated(Exception):
    """The file ends inside a command (Redis's "Unexpected end of file")."""

    def __init__(self, offset: int):
        super().__init__("unexpected end of file at offset %d" % offset)
        self.offset = offset


def _atoi(s: bytes) -> int:
    """atoi/strtol as the loader applies them to ``*<n>`` and ``$<n>`` lines."""
    return _atoll(s)


class AofParser:
    """Incremental reader of an AOF's commands: ``feed``, then ``next_command``.

    ``next_command(final)`` returns ``(argv, end_offset)``, or None when the
    buffered bytes end before the next command is complete (with ``final``
    False) or the input is exhausted (``final`` True, at a command boundary).
    With ``final`` True, a command cut short raises ``AofTruncated``; a byte
    where a ``*`` or ``$`` line belongs raises ``AofFormatError``.  Lines
    starting with ``#`` are annotations and are skipped.  As Redis's loader,
    the two bytes after each argument are taken as its CRLF unchecked, and an
    annotation cut by the end of the file is harmless.
    """

    __slots__ = ("_buf", "_pos", "_base")

    def __init__(self, start_offset: int = 0):
        self._buf = bytearray()
        self._pos = 0
        self._base = start_offset  # stream offset of _buf[0]

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet returned as part of a command."""
        return self._base + self._pos

    def feed(self, data) -> None:
        if self._pos > (1 << 20):
            del self._buf[: self._pos]
            self._base += self._pos
            self._pos = 0
        self._buf += data

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def next_command(self, final: bool = False):
        buf = self._buf
        n = len(buf)
        p = self._pos
        while True:
            if p >= n:
                self._pos = p
                return None
            first = buf[p]
            if first == 0x23:  # '#': an annotation line
                nl = buf.find(b"\n", p)
                if nl < 0:
                    if final:
                        self._pos = n
                    return None
                p = nl + 1
                self._pos = p
                continue
            break
        start = p
        if first != 0x2A:  # '*'
            raise AofFormatError(self._base + p, "expected '*', got %r" % bytes(buf[p : p + 1]))
        nl = buf.find(b"\n", p)
        if nl < 0:
            return self._short(start, final)
        argc = _atoi(bytes(buf[p + 1 : nl]))
        if argc < 1:
            raise AofFormatError(self._base + p, "invalid multibulk length")
        p = nl + 1
        argv = []
        for _ in range(argc):
            if p >= n:
                return self._short(start, final)
            if buf[p] != 0x24:  # '$'
                raise AofFormatError(self._base + p, "expected '$', got %r" % bytes(buf[p : p + 1]))
            nl = buf.find(b"\n", p)
            if nl < 0:
                return self._short(start, final)
            length = _atoi(bytes(buf[p + 1 : nl]))
            if length < 0:
                raise AofFormatError(self._base + p, "invalid bulk length")
            p = nl + 1
            end = p + length
            if end + 2 > n:
                return self._short(start, final)
            argv.append(bytes(buf[p:end]))
            p = end + 2
        self._pos = p
        return argv, self._base + p

    def _short(self, start: int, final: bool):
        if final:
            raise AofTruncated(self._base + start)
        self._pos = start
        return None


# --- the node's AOF ----------------------------------------------------------------------


class _BackgroundFsync:
    """Redis's BIO_AOF_FSYNC thread: fsync (and optionally close) fds off the event loop.

    The forked children never touch it (they do not use the AOF fd).
    """

    def __init__(self):
        self._cv = threading.Condition()
        self._jobs: deque = deque()
        self._running = 0
        self._thread: threading.Thread | None = None
        self.error: OSError | None = None
        # fsync jobs queued or running (BIO_AOF_FSYNC; fsync-and-close jobs of old
        # files do not count).  Changed under the lock, read without it: an int
        # read is atomic, and the hot path must not take a lock per write.
        self.pending_fsyncs = 0

    def pending(self) -> int:
        return self.pending_fsyncs

    def busy(self) -> int:
        """Every job, including the closing of old files (for shutdown)."""
        with self._cv:
            return len(self._jobs) + (self._running > 0)

    def submit(self, fd: int, close: bool = False) -> None:
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="shardis-aof-fsync", daemon=True)
                self._thread.start()
            self._jobs.append((fd, close))
            if not close:
                self.pending_fsyncs += 1
            self._cv.notify()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every submitted job is done (shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while (self._jobs or self._running) and time.monotonic() < deadline:
                self._cv.wait(0.05)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._jobs:
                    self._cv.wait()
                fd, close = self._jobs.popleft()
                self._running = 2 if close else 1
            try:
                try:
                    os.fdatasync(fd)
                    self.error = None
                except OSError as e:
                    if e.errno not in (errno.EBADF, errno.EINVAL):
                        self.error = e
                if close:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            finally:
                with self._cv:
                    self._running = 0
                    if not close:
                        self.pending_fsyncs -= 1
                    self._cv.notify_all()


class AppendOnly:
    """The node's AOF: state, buffer, files, rewrites.  Owned by ``snapshot.Persistence``."""

    def __init__(self, node, persistence):
        self.node = node
        self.p = persistence
        self.state = AOF_OFF
        self.fd = -1
        self.manifest = Manifest()
        self.selected_db = -1
        self.buf = bytearray()
        self.current_size = 0  # bytes of base + incr files
        self.last_incr_size = 0  # bytes of the incr file being appended to
        self.rewrite_base_size = 0  # size when the last rewrite ended (auto rewrite)
        self.fsync_offset = 0  # current_size at the last fsync
        self.last_fsync = time.time()
        self.cur_timestamp = 0
        self.flush_postponed_start = 0.0
        self.flush_scheduled = False  # a write of the buffer is due at the end of this loop pass
        self.delayed_fsync = 0
        self.last_write_ok = True
        self.last_write_error = ""
        self._last_write_error_log = 0.0
        self.rewrite_scheduled = False
        self.rewrite_time_start = -1.0
        self.rewrite_time_last = -1
        self.lastbgrewrite_ok = True
        self.rewrites = 0
        self.rewrites_consecutive_failures = 0
        self.last_cow_size = 0
        self.fsyncer = _BackgroundFsync()
        cfg = node.config
        self.fsync_policy = cfg["appendfsync"]
        cfg.on_change("appendfsync", lambda v, old: setattr(self, "fsync_policy", v))
        self.timestamps = cfg["aof-timestamp-enabled"]
        cfg.on_change("aof-timestamp-enabled", lambda v, old: setattr(self, "timestamps", v))
        cfg.on_change("appendonly", self._on_appendonly_change)

    # --- names ----------------------------------------------------------------------------

    @property
    def dirname(self) -> str:
        return self.node.config["appenddirname"]

    @property
    def filename(self) -> str:
        return self.node.config["appendfilename"]

    def path(self, name: str) -> str:
        return os.path.join(self.dirname, name)

    @property
    def manifest_name(self) -> str:
        return self.filename + MANIFEST_NAME_SUFFIX

    @property
    def temp_incr_name(self) -> str:
        return TEMP_FILE_NAME_PREFIX + self.filename + INCR_FILE_SUFFIX

    def log(self, level: str, msg: str) -> None:
        self.node.log(level, msg)

    # --- the propagation hook ----------------------------------------------------------

    def _attach(self) -> None:
        node = self.node
        if self.feed not in node.propagate_hooks:
            node.propagate_hooks.append(self.feed)
        if self.flush_pending not in node.propagate_flush_hooks:
            node.propagate_flush_hooks.append(self.flush_pending)
        node.update_fast()

    def _detach(self) -> None:
        node = self.node
        if self.feed in node.propagate_hooks:
            node.propagate_hooks.remove(self.feed)
        if self.flush_pending in node.propagate_flush_hooks:
            node.propagate_flush_hooks.remove(self.flush_pending)
        node.update_fast()

    def feed(self, dbid: int, argv) -> None:
        """feedAppendOnlyFile: append one propagated command to the buffer."""
        state = self.state
        if state == AOF_OFF or (state == AOF_WAIT_REWRITE and self.p.child_type != "aof"):
            return
        buf = self.buf
        if self.timestamps:
            now = self.node.unixtime
            if self.cur_timestamp < now:
                self.cur_timestamp = now
                buf += timestamp_annotation(now)
        if dbid != self.selected_db and dbid >= 0:
            buf += select_command(dbid)
            self.selected_db = dbid
        buf += encode_command(argv)
        if not self.node.call_depth:
            # Propagated outside a command's call (a command that has just
            # returned, expiry in the cron): written before any reply leaves
            # (flush_pending, a propagate_flush_hook), else at the end of this
            # event-loop pass -- once for all the commands of the pass, as
            # Redis's beforeSleep does, not one write (and, with appendfsync
            # always, one fsync) per command.
            loop = self.node.loop
            if loop is None:
                self.flush()
            elif not self.flush_scheduled:
                self.flush_scheduled = True
                loop.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self.flush_scheduled = False
        if self.buf:
            self.flush()

    def flush_pending(self) -> None:
        """propagate_flush_hooks: the command has propagated everything; write before replying."""
        if self.buf:
            self.flush()

    # --- writing ------------------------------------------------------------------------------

    def flush(self, force: bool = False) -> None:
        """flushAppendOnlyFile: write the buffer, then fsync as the policy says."""
        policy = self.fsync_policy
        now = time.time()
        sync_in_progress = False
        if not self.buf:
            if (
                policy == "everysec"
                and self.fsync_offset != self.current_size
                and now - self.last_fsync >= 1.0
                and self.fd != -1
                and not self.fsyncer.pending()
            ):
                self._try_fsync(policy, now, False)
            return
        if self.fd == -1:
            return  # WAIT_REWRITE with no file yet: nothing to write to
        if policy == "everysec":
            sync_in_progress = self.fsyncer.pending() > 0
            if sync_in_progress and not force:
                if not self.flush_postponed_start:
                    self.flush_postponed_start = now
                    return
                if now - self.flush_postponed_start < AOF_FLUSH_POSTPONE_MAX:
                    return
                self.delayed_fsync += 1
                self.log(
                    "notice",
                    "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer "
                    "without waiting for fsync to complete, this may slow down Redis.",
                )
        data = self.buf
        size = len(data)
        written = 0
        error = None
        while written < size:
            try:
                written += os.write(self.fd, memoryview(data)[written:] if written else data)
            except InterruptedError:
                continue
            except OSError as e:
                error = e
                break
        self.flush_postponed_start = 0.0
        if error is not None:
            self._write_failed(error, written, size, policy)
            return
        if not self.last_write_ok:
            self.log("warning", "AOF write error looks solved, Redis can write again.")
            self.last_write_ok = True
            self.last_write_error = ""
            self.node.aof_write_error = None
        self.current_size += written
        self.last_incr_size += written
        self.buf = bytearray()
        self._try_fsync(policy, now, sync_in_progress)

    def _write_failed(self, error: OSError, written: int, expected: int, policy: str) -> None:
        now = time.time()
        can_log = now - self._last_write_error_log > AOF_WRITE_LOG_ERROR_RATE
        if can_log:
            self._last_write_error_log = now
        if written == 0:
            if can_log:
                self.log("warning", f"Error writing to the AOF file: {error.strerror}")
            reason = error.strerror or str(error)
        else:
            if can_log:
                self.log("warning", "Short write while writing to the AOF file: "
                                    f"(nwritten={written}, expected={expected})")
            try:
                os.ftruncate(self.fd, self.last_incr_size)
                written = 0
            except OSError as e:
                if can_log:
                    self.log("warning", "Could not remove short write from the append-only file.  Redis may "
                                        f"refuse to load the AOF the next time it starts.  ftruncate: {e.strerror}")
            reason = os.strerror(errno.ENOSPC)
        if policy == "always":
            self.log("warning", "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...")
            os._exit(1)
        self.last_write_ok = False
        self.last_write_error = reason
        self.node.aof_write_error = reason
        if written > 0:
            self.current_size += written
            self.last_incr_size += written
            del self.buf[:written]

    def _try_fsync(self, policy: str, now: float, sync_in_progress: bool) -> None:
        if self.node.config["no-appendfsync-on-rewrite"] and self.p.child_pid != -1:
            return
        if policy == "always":
            try:
                os.fdatasync(self.fd)
            except OSError as e:
                self.log("warning", "Can't persist AOF for fsync error when the AOF fsync policy is "
                                    f"'always': {e.strerror}. Exiting...")
                os._exit(1)
            self.fsync_offset = self.current_size
            self.last_fsync = now
        elif policy == "everysec" and now - self.last_fsync >= 1.0:
            if not sync_in_progress:
                self.fsyncer.submit(self.fd)
                self.fsync_offset = self.current_size
            self.last_fsync = now

    # --- files ------------------------------------------------------------------------------

    def load_manifest(self) -> None:
        """aofLoadManifestFromDisk (raises ManifestError / OSError; the caller makes them fatal)."""
        self.manifest = Manifest()
        if not os.path.isdir(self.dirname):
            return
        path = self.path(self.manifest_name)
        if not os.path.exists(path):
            return
        with open(path, "rb") as f:
            text = f.read()
        self.manifest = Manifest.parse(text)

    def persist_manifest(self, m: Manifest | None = None) -> None:
        """persistAofManifest: write a temp manifest, fsync, rename, fsync the dir (raises OSError)."""
        m = self.manifest if m is None else m
        if not m.dirty:
            return
        tmp = self.path(TEMP_FILE_NAME_PREFIX + self.manifest_name)
        final = self.path(self.manifest_name)
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        try:
            data = m.format()
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
        snapshot.fsync_dir(self.dirname)
        m.dirty = False

    def ensure_dir(self) -> None:
        os.makedirs(self.dirname, exist_ok=True)

    def file_size(self, name: str) -> int:
        try:
            return os.stat(self.path(name)).st_size
        except OSError:
            return 0

    def open_on_start(self) -> None:
        """aofOpenIfNeededOnServerStart: base for an empty AOF, open the last incr file.

        Raises OSError (fatal at start-up).
        """
        self.ensure_dir()
        m = self.manifest
        if m.base is None and not m.incr:
            base = m.new_base_name(self.filename, self.node.config["aof-use-rdb-preamble"])
            tmp = "temp-rewriteaof-%d.aof" % os.getpid()
            write_base_file(self.node, tmp, self.p.function_libraries)
            os.rename(tmp, self.path(base))
            self.log("notice", f"Creating AOF base file {base} on server start")
        had_incr = bool(m.incr)
        name = m.last_incr_name(self.filename)
        self.fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.persist_manifest()
        self.last_incr_size = self.file_size(name)
        if not self.current_size:
            self.current_size = sum(self.file_size(i.file_name) for i in m.files_to_load())
            self.fsync_offset = self.current_size
        if not self.rewrite_base_size and m.base is not None:
            self.rewrite_base_size = self.file_size(m.base.file_name)
        verb = "Opening" if had_incr else "Creating"
        self.log("notice", f"{verb} AOF incr file {name} on server start")
        self.state = AOF_ON
        self.selected_db = -1
        self._attach()

    def del_history_files(self) -> None:
        """aofDelHistoryFiles (failures are harmless: the files are simply left behind)."""
        m = self.manifest
        if self.node.config["aof-disable-auto-gc"] or not m.history:
            return
        for info in m.history:
            self.log("notice", f"Removing the history file {info.file_name} in the background")
            try:
                os.unlink(self.path(info.file_name))
            except OSError:
                pass
        m.history = []
        m.dirty = True
        try:
            self.persist_manifest()
        except OSError as e:
            self.log("warning", f"Error persisting the AOF manifest after removing history files: {e.strerror}")

    def _open_new_incr(self) -> None:
        """openNewIncrAofForAppend (raises OSError, leaving everything as it was)."""
        if self.state == AOF_OFF:
            return
        temp_m = None
        if self.state == AOF_WAIT_REWRITE:
            name = self.temp_incr_name
        else:
            temp_m = self.manifest.copy()
            name = temp_m.new_incr_name(self.filename)
        fd = os.open(self.path(name), os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        try:
            if temp_m is not None:
                self.persist_manifest(temp_m)
        except OSError:
            os.close(fd)
            raise
        self.log("notice", f"Creating AOF incr file {name} on background rewrite")
        if self.fd != -1:
            # everysec may delay this fsync; with always the file is already synced
            self.fsyncer.submit(self.fd, close=True)
            self.fsync_offset = self.current_size
            self.last_fsync = time.time()
        self.fd = fd
        self.last_incr_size = 0
        if temp_m is not None:
            self.manifest = temp_m

    # --- enabling and disabling at run time ---------------------------------------------------

    def _on_appendonly_change(self, value, old) -> None:
        from ..server.config import ConfigError

        if self.p.starting:
            return  # start-up decides from the final configuration
        if not value and self.state != AOF_OFF:
            self.stop()
        elif value and self.state == AOF_OFF:
            if not self.start():
                raise ConfigError("Unable to turn on AOF. Check server logs.")

    def stop(self) -> None:
        """stopAppendOnly (CONFIG SET appendonly no)."""
        self.flush(force=True)
        if self.fd != -1:
            try:
                os.fsync(self.fd)
                self.fsync_offset = self.current_size
                self.last_fsync = time.time()
            except OSError as e:
                self.log("warning", f"Fail to fsync the AOF file: {e.strerror}")
            os.close(self.fd)
        self.fd = -1
        self.selected_db = -1
        self.state = AOF_OFF
        self.rewrite_scheduled = False
        self.last_incr_size = 0
        self.buf = bytearray()
        self.node.aof_write_error = None
        self._detach()
        if self.p.child_type == "aof":
            self.p.kill_child()

    def start(self) -> bool:
        """startAppendOnly (CONFIG SET appendonly yes): a rewrite makes the first base."""
        self.state = AOF_WAIT_REWRITE
        self._attach()
        p = self.p
        if p.child_pid != -1 and p.child_type != "aof":
            self.rewrite_scheduled = True
            self.log("warning", "AOF was enabled but there is already another background operation. An AOF "
                                "background was scheduled to start when possible.")
        elif self.node.call_depth > 1:
            self.rewrite_scheduled = True
            self.log("warning", "AOF was enabled during a transaction. An AOF background was scheduled to "
                                "start when possible.")
        else:
            if p.child_type == "aof":
                self.log("warning", "AOF was enabled but there is already an AOF rewriting in background. "
                                    "Stopping background AOF and starting a rewrite now.")
                p.kill_child()
            if not self.rewrite_background():
                self.state = AOF_OFF
                self._detach()
                self.log("warning", "Redis needs to enable the AOF but can't trigger a background AOF rewrite "
                                    "operation. Check the above logs for more info about the error.")
                return False
        self.last_fsync = time.time()
        if not self.last_write_ok:
            self.log("warning", "AOF reopen, just ignore the last error.")
            self.last_write_ok = True
            self.node.aof_write_error = None
        return True

    # --- rewrites -------------------------------------------------------------------------------

    def rewrite_background(self) -> bool:
        """rewriteAppendOnlyFileBackground: new incr file in the parent, new base in a child."""
        p = self.p
        if p.child_pid != -1:
            return False
        try:
            self.ensure_dir()
        except OSError as e:
            self.log("warning", f"Can't open or create append-only dir {self.dirname}: {e.strerror}")
            self.lastbgrewrite_ok = False
            return False
        self.selected_db = -1
        self.flush(force=True)
        try:
            self._open_new_incr()
        except OSError as e:
            self.log("warning", f"Can't open the append-only file: {e.strerror}")
            self.lastbgrewrite_ok = False
            return False
        self.rewrites += 1
        libraries = list(p.function_libraries)

        def work(report) -> int:
            tmpfile = "temp-rewriteaof-bg-%d.aof" % os.getpid()
            tmp = "temp-rewriteaof-%d.aof" % os.getpid()
            try:
                write_base_file(self.node, tmp, libraries, report=report, fsync=True)
                os.rename(tmp, tmpfile)
            except OSError as e:
                snapshot.child_log(self.node, "warning", f"Write error writing append only file on disk: {e.strerror}")
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                return 1
            snapshot.child_log(self.node, "notice", f"Successfully created the temporary AOF base file {tmpfile}")
            report.cow("AOF rewrite")
            return 0

        pid = p.fork_child("aof", work)
        if pid < 0:
            self.lastbgrewrite_ok = False
            return False
        self.log("notice", f"Background append only file rewriting started by pid {pid}")
        self.rewrite_scheduled = False
        self.rewrite_time_start = time.time()
        return True

    def rewrite_done(self, exitcode: int, bysignal: int, child_pid: int) -> None:
        """backgroundRewriteDoneHandler."""
        import signal as _signal

        if not bysignal and exitcode == 0:
            self.log("notice", "Background AOF rewrite terminated with success")
            self._install_rewrite(child_pid)
        elif not bysignal:
            self.lastbgrewrite_ok = False
            self.rewrites_consecutive_failures += 1
            self.log("warning", "Background AOF rewrite terminated with error")
        else:
            if bysignal != _signal.SIGUSR1:
                self.lastbgrewrite_ok = False
                self.rewrites_consecutive_failures += 1
            self.log("warning", f"Background AOF rewrite terminated by signal {bysignal}")
        for name in ("temp-rewriteaof-bg-%d.aof" % child_pid, "temp-rewriteaof-%d.aof" % child_pid):
            try:
                os.unlink(name)
            except OSError:
                pass
        if self.state == AOF_WAIT_REWRITE:
            self.buf = bytearray()
            if self.fd != -1:
                os.close(self.fd)
                self.fd = -1
            self.log("notice", f"Removing the temp incr aof file {self.temp_incr_name} in the background")
            try:
                os.unlink(self.path(self.temp_incr_name))
            except OSError:
                pass
            self.rewrite_scheduled = True
        self.rewrite_time_last = int(time.time() - self.rewrite_time_start) if self.rewrite_time_start >= 0 else -1
        self.rewrite_time_start = -1.0

    def _install_rewrite(self, child_pid: int) -> None:
        tmpfile = "temp-rewriteaof-bg-%d.aof" % child_pid
        temp_m = self.manifest.copy()
        new_base = temp_m.new_base_name(self.filename, self.node.config["aof-use-rdb-preamble"])
        new_base_path = self.path(new_base)
        try:
            os.rename(tmpfile, new_base_path)
        except OSError as e:
            self.log("warning", f"Error trying to rename the temporary AOF base file {tmpfile} into "
                                f"{new_base_path}: {e.strerror}")
            self.lastbgrewrite_ok = False
            self.rewrites_consecutive_failures += 1
            return
        self.log("notice", f"Successfully renamed the temporary AOF base file {tmpfile} into {new_base}")
        new_incr_path = None
        if self.state == AOF_WAIT_REWRITE:
            new_incr = temp_m.new_incr_name(self.filename)
            new_incr_path = self.path(new_incr)
            try:
                self.flush(force=True)
                os.rename(self.path(self.temp_incr_name), new_incr_path)
            except OSError as e:
                self.log("warning", f"Error trying to rename the temporary AOF incr file {self.temp_incr_name} "
                                    f"into {new_incr_path}: {e.strerror}")
                _unlink(new_base_path)
                self.lastbgrewrite_ok = False
                self.rewrites_consecutive_failures += 1
                return
            self.log("notice", f"Successfully renamed the temporary AOF incr file {self.temp_incr_name} into {new_incr}")
        temp_m.mark_rewritten_incr_as_history(keep_last=self.fd != -1)
        try:
            self.persist_manifest(temp_m)
        except OSError as e:
            self.log("warning", f"Error persisting the AOF manifest: {e.strerror}")
            _unlink(new_base_path)
            if new_incr_path:
                _unlink(new_incr_path)
            self.lastbgrewrite_ok = False
            self.rewrites_consecutive_failures += 1
            return
        self.manifest = temp_m
        if self.fd != -1:
            self.selected_db = -1
            self.current_size = self.file_size(new_base) + self.last_incr_size
            self.rewrite_base_size = self.current_size
            self.fsync_offset = self.current_size
            self.last_fsync = time.time()
        self.del_history_files()
        self.lastbgrewrite_ok = True
        self.rewrites_consecutive_failures = 0
        self.log("notice", "Background AOF rewrite finished successfully")
        if self.state == AOF_WAIT_REWRITE:
            self.state = AOF_ON

    # --- cron and shutdown ------------------------------------------------------------------

    def cron(self, now: float) -> None:
        """The AOF part of serverCron: scheduled and automatic rewrites, postponed writes, fsync."""
        p = self.p
        if p.child_pid == -1 and self.rewrite_scheduled and not self._rewrite_limited():
            self.rewrite_background()
        if (
            self.state == AOF_ON
            and p.child_pid == -1
            and self.node.config["auto-aof-rewrite-percentage"]
            and self.current_size > self.node.config["auto-aof-rewrite-min-size"]
            and not self._rewrite_limited()
        ):
            base = self.rewrite_base_size or 1
            growth = (self.current_size * 100 // base) - 100
            if growth >= self.node.config["auto-aof-rewrite-percentage"]:
                self.log("notice", f"Starting automatic rewriting of AOF on {growth}% growth")
                self.rewrite_background()
        if self.state == AOF_ON:
            if self.flush_postponed_start or self.buf or not self.last_write_ok:
                self.flush()
            elif self.fsync_policy == "everysec":
                self.flush()
            if self.fsyncer.error is not None:
                self.node.aof_write_error = self.fsyncer.error.strerror or str(self.fsyncer.error)
            elif self.last_write_ok and self.node.aof_write_error is not None:
                self.node.aof_write_error = None

    _next_rewrite_time = 0.0
    _next_delay_minutes = 0

    def _rewrite_limited(self) -> bool:
        """aofRewriteLimited: back off after 3 failed automatic rewrites in a row."""
        if self.rewrites_consecutive_failures < 3:
            self._next_delay_minutes = 0
            self._next_rewrite_time = 0.0
            return False
        now = time.time()
        if self._next_rewrite_time:
            if now < self._next_rewrite_time:
                return True
            self._next_rewrite_time = 0.0
            return False
        self._next_delay_minutes = min(60, self._next_delay_minutes * 2 or 1)
        self._next_rewrite_time = now + self._next_delay_minutes * 60
        self.log("warning", "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in "
                            f"{self._next_delay_minutes} minutes")
        return True

    def shutdown(self) -> None:
        """prepareForShutdown's AOF part: write and fsync everything, close the file."""
        if self.state == AOF_OFF or self.fd == -1:
            return
        self.log("notice", "Calling fsync() on the AOF file.")
        self.flush(force=True)
        try:
            os.fsync(self.fd)
        except OSError as e:
            self.log("warning", f"Fail to fsync the AOF file: {e.strerror}")
        self.fsyncer.drain()

    # --- INFO ---------------------------------------------------------------------------------

    def info_fields(self) -> list:
        fields = []
        if self.node.config["appendonly"]:
            fields = [
                ("aof_current_size", self.current_size),
                ("aof_base_size", self.rewrite_base_size),
                ("aof_pending_rewrite", 1 if self.rewrite_scheduled else 0),
                ("aof_buffer_length", len(self.buf)),
                ("aof_pending_bio_fsync", self.fsyncer.pending()),
                ("aof_delayed_fsync", self.delayed_fsync),
            ]
        return fields


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_base_file(node, path: str, libraries, report=None, fsync: bool = True) -> None:
    """A rewrite's output: an RDB with ``aof-base`` (preamble) or commands (raises OSError)."""
    cfg = node.config
    if cfg["aof-use-rdb-preamble"]:
        snapshot.write_rdb_file(node, path, aof_base=True, libraries=libraries, report=report, fsync=fsync)
        return
    now_ms = int(time.time() * 1000)
    with open(path, "wb") as f:
        if cfg["aof-timestamp-enabled"]:
            f.write(timestamp_annotation(int(time.time())))
        for code in libraries:
            f.write(encode_command((b"FUNCTION", b"LOAD", code)))
        done = 0
        for db in node.dbs:
            items = snapshot.db_items(db, now_ms)
            if not items:
                continue
            for chunk in rewrite_commands(db.id, items):
                f.write(chunk)
            done += len(items)
            if report is not None:
                report.keys(done)
        f.flush()
        if fsync:
            os.fsync(f.fileno())
