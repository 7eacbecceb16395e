"""Snapshots and the node's persistence subsystem: SAVE, BGSAVE, save points, one child at a time.

``Persistence`` is what a node owns as ``node.persistence``.  It does what
Redis's rdb.c and the persistence parts of server.c do:

* RDB snapshots (version 10, the bytes redis-server 7.0 writes: the AUX
  fields redis-ver/redis-bits/ctime/used-mem[/repl-*]/aof-base, one
  SELECTDB+RESIZEDB per non-empty database, keys with their expire times).
  ``SAVE`` writes in the foreground; ``BGSAVE`` forks.  Either way the data
  goes to ``temp-<pid>.rdb``, is fsynced, and is renamed over ``dbfilename``
  so a reader never sees a partial file.  Keys whose TTL already passed are
  left out (Redis would drop them when loading anyway);
* the background child: Redis lets one child run at a time, shared by
  BGSAVE and AOF rewrites (``child_type`` is "rdb" or "aof"), reaps it from
  its cron with ``waitpid(WNOHANG)`` and reads the child's progress and
  copy-on-write figures from a pipe;
* ``save`` points, ``stop-writes-on-bgsave-error`` (``node.lastbgsave_ok``,
  which dispatch turns into MISCONF), BGSAVE SCHEDULE, the final save at
  shutdown, and the INFO persistence fields under Redis's names;
* the AOF itself lives in ``aof.AppendOnly`` (``self.aof``) and start-up
  loading in ``loading``.

Forking a node that runs uvloop: the child must not touch the event loop
(its file descriptors and the signal wakeup fd are shared with the parent),
so right after ``os.fork()`` it restores default signal handling, drops the
wakeup fd, closes its copies of the listening sockets (so a crashed parent's
port is free again even while the child still writes), disables the garbage
collector (a collection would write to every object and defeat
copy-on-write), writes with plain file I/O and leaves with ``os._exit``.

Writing is pure Python, so it is slow next to redis-server.  The CRC64
(``rdbchecksum``) was the largest single cost of both saving and loading,
so it is computed here over ~1 MB chunks by ``crc64_lanes``, which runs
thousands of CRC registers side by side inside ``bytes.translate`` and big
integer XORs (about 3x the table-driven ``crc64`` on 1 MB).  With ``rdbcompression
yes`` Redis tries LZF on every string over 20 bytes; in pure Python a try
costs ~100 us and most values do not shrink, so a string is only offered to
LZF when zlib (in C, fixed Huffman codes so that only repeats count, an 8 KB
window like LZF's) finds repeats in it: a file can only differ from Redis's
in a string LZF would have shrunk and zlib saw no repeat in, which stays
loadable either way.  The rest of the per-key work is the codec's.
"""

from __future__ import annotations

import gc
import os
import signal
import struct
import sys
import time
import zlib

from .. import REDIS_VERSION
from ..keyspace.lfu import idle_seconds, lfu_freq
from ..server import info as info_mod
from .crc64 import ACCELERATED as CRC_ACCELERATED
from .crc64 import POLY_REFLECTED, crc64
from .rdb import LZF_MIN_LEN, OPCODE_EOF, RdbWriter, Thresholds, default_aux

__all__ = [
    "Persistence",
    "write_rdb_file",
    "save_rdb",
    "db_items",
    "thresholds_from_config",
    "fsync_dir",
    "child_log",
    "crc64_lanes",
    "BGSAVE_RETRY_DELAY",
]

BGSAVE_RETRY_DELAY = 5  # seconds before a failed BGSAVE is retried by save points (CONFIG_BGSAVE_RETRY_DELAY)
WRITE_CHUNK = 1 << 20  # bytes per write() and per CRC64 call when writing an RDB
CHILD_INFO_INTERVAL = 1.0  # seconds between two progress reports of a child
KILL_WAIT = 10.0  # seconds to wait for a killed child to exit

_LOG_LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3}
_LOG_CHARS = ".-*#"


# --- CRC64 over large buffers ---------------------------------------------------------------
#
# The register update of a reflected, table-driven CRC over one 64-bit word w
# is r <- L(r ^ w), L(v) = XOR_k T[7-k][byte k of v] (slicing-by-8).  The CRC
# is linear (Redis's CRC64 has no initial value or final xor), so a buffer
# cut into K chunks of S words has CRC  M(...M(M(r0) ^ c0) ^ c1 ...) ^ c(K-1)
# where c_i is chunk i's CRC from 0 and M = L^S.  The K chunk CRCs are
# computed together: lane i's register lives in byte "planes" (plane o holds
# byte o of every lane), each step gathers word s of every lane with one
# strided slice per byte, and L is applied to all lanes at once as 64
# ``bytes.translate`` calls (input byte k -> output byte o) whose results are
# XORed as big integers.  Python-level work is then per step, not per byte.


def _crc_tables() -> list:
    first = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ POLY_REFLECTED if reg & 1 else reg >> 1
        first.append(reg)
    tables = [first]
    for _ in range(7):
        tables.append([(v >> 8) ^ first[v & 0xFF] for v in tables[-1]])
    return tables


_T = _crc_tables()
# _TRANSLATE[k][o]: byte o of the contribution of input byte k, as a translate table
_TRANSLATE = [[bytes((_T[7 - k][b] >> (8 * o)) & 0xFF for b in range(256)) for o in range(8)] for k in range(8)]
_LANES_MIN_BYTES = 4096  # below this the table-driven crc64 is as fast
_LANES_COST_RATIO = 40  # lanes ~ sqrt(words * ratio): balances per-step and per-lane work
_SHIFT_CACHE: dict = {}


def _apply_l(v: int) -> int:
    t = _T
    return (t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF]
            ^ t[3][(v >> 32) & 0xFF] ^ t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56])


def _shift_tables(words: int) -> list:
    """Slicing tables of M = L^words: the register after ``words`` zero words."""
    tabs = _SHIFT_CACHE.get(words)
    if tabs is not None:
        return tabs
    cols = []
    for i in range(64):
        v = 1 << i
        for _ in range(words):
            v = _apply_l(v)
        cols.append(v)
    tabs = []
    for k in range(8):
        tab = [0] * 256
        for b in range(1, 256):
            low = b & -b
            tab[b] = tab[b ^ low] ^ cols[8 * k + low.bit_length() - 1]
        tabs.append(tab)
    if len(_SHIFT_CACHE) > 64:
        _SHIFT_CACHE.clear()
    _SHIFT_CACHE[words] = tabs
    return tabs


def crc64_lanes(crc: int, data) -> int:
    """``crc64(crc, data)`` (Redis's CRC-64/Jones), several times faster on large buffers.

    Only when the CRC runs in pure Python: with anycrc, ``crc64`` is faster still.
    """
    n = len(data)
    if n < _LANES_MIN_BYTES or CRC_ACCELERATED:
        return crc64(crc, data)
    if not isinstance(data, bytes):
        data = bytes(data)
    words = n // 8
    lanes = max(1, int((words * _LANES_COST_RATIO) ** 0.5))
    steps = words // lanes
    stride = 8 * steps
    span = stride * lanes
    fb = int.from_bytes
    tr = _TRANSLATE
    planes = [0] * 8
    for s in range(steps):
        base = 8 * s
        xs = [(planes[k] ^ fb(data[base + k : span : stride], "little")).to_bytes(lanes, "little") for k in range(8)]
        new = []
        for o in range(8):
            acc = 0
            for k in range(8):
                acc ^= fb(xs[k].translate(tr[k][o]), "little")
            new.append(acc)
        planes = new
    regs = bytearray(8 * lanes)
    for o in range(8):
        regs[o::8] = planes[o].to_bytes(lanes, "little")
    m0, m1, m2, m3, m4, m5, m6, m7 = _shift_tables(steps)
    r = crc
    for (lane,) in struct.iter_unpack("<Q", regs):
        r = (m0[r & 0xFF] ^ m1[(r >> 8) & 0xFF] ^ m2[(r >> 16) & 0xFF] ^ m3[(r >> 24) & 0xFF]
             ^ m4[(r >> 32) & 0xFF] ^ m5[(r >> 40) & 0xFF] ^ m6[(r >> 48) & 0xFF] ^ m7[r >> 56]) ^ lane
    return crc64_lanes(r, data[span:])


# --- which strings to offer LZF ---------------------------------------------------------------

_LZF_WINDOW_BITS = -13  # raw deflate, 8 KB window: LZF's reach
_LZF_FILTER_SLACK = 3  # bytes: deflate's block header, end-of-block code and last-byte padding
_HIGH_BYTES = bytes(range(144, 256))  # literals fixed Huffman codes spell with 9 bits


def lzf_worth_trying(s) -> bool:
    """Whether LZF may shrink ``s``: zlib, with fixed codes, finds repeats in it.

    Fixed codes spend 8 bits on a literal below 144 and 9 above, LZF 8 (plus
    a byte per run of literals), so the ninth bits are credited back before
    comparing.  A heuristic: deflate at level 1 may miss a repeat LZF finds,
    which only costs a little compression.
    """
    n = len(s)
    if n <= LZF_MIN_LEN:
        return False
    c = zlib.compressobj(1, zlib.DEFLATED, _LZF_WINDOW_BITS, 1, zlib.Z_FIXED)
    high = n - len(s.translate(None, _HIGH_BYTES))
    return len(c.compress(s)) + len(c.flush()) - (high + 7) // 8 < n - _LZF_FILTER_SLACK


# --- helpers shared by the parent and the child ------------------------------------------


def thresholds_from_config(cfg) -> Thresholds:
    """The encoding limits RDB reading and writing follow, from the node's config."""
    return Thresholds(
        hash_max_listpack_entries=cfg["hash-max-listpack-entries"],
        hash_max_listpack_value=cfg["hash-max-listpack-value"],
        set_max_intset_entries=cfg["set-max-intset-entries"],
        zset_max_listpack_entries=cfg["zset-max-listpack-entries"],
        zset_max_listpack_value=cfg["zset-max-listpack-value"],
        list_max_listpack_size=cfg["list-max-listpack-size"],
    )


def db_items(db, now_ms: int) -> list:
    """(key, value, expire_ms or None) for every key of ``db`` whose TTL has not passed."""
    data = db.data
    expires = db.expires
    if not expires:
        return [(k, v, None) for k, v in data.items()]
    get = expires.get
    out = []
    append = out.append
    for k, v in data.items():
        e = get(k)
        if e is not None and e <= now_ms:
            continue
        append((k, v, e))
    return out


def fsync_dir(path: str) -> None:
    """fsyncFileDir: make a rename in ``path`` durable (best effort where unsupported)."""
    try:
        fd = os.open(path or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def child_log(node, level: str, msg: str) -> None:
    """A log line from a forked child, ``pid:C`` as Redis marks them, with plain file I/O."""
    try:
        if _LOG_LEVELS[level] < _LOG_LEVELS.get(node.config["loglevel"], 2):
            return
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + ".%03d" % int(now % 1 * 1000)
        line = f"{os.getpid()}:C {stamp} {_LOG_CHARS[_LOG_LEVELS[level]]} {msg}\n".encode("utf-8", "replace")
        logfile = node.config["logfile"]
        if logfile:
            fd = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        else:
            os.write(1, line)
    except OSError:
        pass


def _repl_save_info(node):
    """(repl-stream-db, repl-id, repl-offset) when the node takes part in replication, else None.

    The replication subsystem provides ``node.replication.rdb_save_info()``;
    like Redis, a master outside any replication chain writes no repl fields.
    """
    repl = getattr(node, "replication", None)
    get = getattr(repl, "rdb_save_info", None)
    if get is None:
        return None
    try:
        return get()
    except Exception:  # replication must never prevent a save
        return None


def rdb_aux(node, aof_base: bool = False) -> list:
    from ..server.memory import used_memory

    rsi = None if aof_base else _repl_save_info(node)
    kwargs = {}
    if rsi is not None:
        kwargs = dict(repl_stream_db=rsi[0], repl_id=rsi[1], repl_offset=rsi[2])
    return default_aux(redis_ver=REDIS_VERSION, ctime=int(time.time()), used_mem=used_memory(),
                       aof_base=aof_base, **kwargs)


def write_rdb_file(node, path: str, aof_base: bool = False, libraries=(), report=None, fsync: bool = True) -> int:
    """Write the node's keyspace as an RDB file at ``path`` (no temp file); returns the keys written.

    Raises OSError.  The CRC64 is computed over ~1 MB chunks (``rdbchecksum
    no`` writes a zero checksum, as Redis does).
    """
    cfg = node.config
    checksum = cfg["rdbchecksum"]
    compress = cfg["rdbcompression"]
    thresholds = thresholds_from_config(cfg)
    w = RdbWriter(compress=compress, checksum=False, thresholds=thresholds)
    plain = RdbWriter(compress=False, checksum=False, thresholds=thresholds).key if compress else None
    lru = "lru" in cfg["maxmemory-policy"]
    lfu = node.lfu
    clock = node.lru_clock
    unixtime = node.unixtime
    decay = cfg["lfu-decay-time"]
    now_ms = int(time.time() * 1000)
    crc = 0
    written = 0
    with open(path, "wb") as f:
        pending = [w.header(rdb_aux(node, aof_base))]
        size = len(pending[0])
        for code in libraries:
            pending.append(w.function(code))
        for db in node.dbs:
            data = db.data
            if not data:
                continue
            # Keys whose TTL passed are left out; counted first (RESIZEDB comes
            # before the keys) without copying the keyspace into a list.
            expires = db.expires
            dead = {k for k, e in expires.items() if e <= now_ms} if expires else ()
            if len(dead) == len(data):
                continue
            pending.append(w.select_db(db.id, len(data) - len(dead), len(expires) - len(dead)))
            key = w.key
            access = db.access
            get_expire = expires.get
            for k, v in data.items():
                if expires:
                    if dead and k in dead:
                        continue
                    e = get_expire(k)
                else:
                    e = None
                put = key
                if plain is not None and (v.__class__ is bytes or v.__class__ is bytearray) and not (
                    (len(v) > LZF_MIN_LEN and lzf_worth_trying(v)) or (len(k) > LZF_MIN_LEN and lzf_worth_trying(k))
                ):
                    put = plain  # nothing LZF could shrink: skip the (slow) attempts
                if lru:
                    last = access.get(k)
                    piece = put(k, v, e, lru_idle=idle_seconds(last, clock) if last is not None else 0)
                elif lfu:
                    piece = put(k, v, e, lfu_freq=lfu_freq(access.get(k), unixtime, decay))
                else:
                    piece = put(k, v, e)
                pending.append(piece)
                size += len(piece)
                if size >= WRITE_CHUNK:
                    chunk = b"".join(pending)
                    if checksum:
                        crc = crc64_lanes(crc, chunk)
                    f.write(chunk)
                    pending = []
                    size = 0
                    if report is not None:
                        report.keys(written + 1)
                written += 1
        pending.append(bytes((OPCODE_EOF,)))
        chunk = b"".join(pending)
        if checksum:
            crc = crc64_lanes(crc, chunk)
        f.write(chunk)
        f.write(crc.to_bytes(8, "little"))
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    if report is not None:
        report.keys(written)
    return written


def save_rdb(node, filename: str, log, libraries=(), report=None) -> int:
    """rdbSave: write ``temp-<pid>.rdb``, fsync, rename over ``filename``.  Raises OSError (logged)."""
    tmp = "temp-%d.rdb" % os.getpid()
    cwd = os.getcwd()
    try:
        f = open(tmp, "wb")
        f.close()
    except OSError as e:
        log("warning", f"Failed opening the temp RDB file {tmp} (in server root dir {cwd}) for saving: {e.strerror}")
        raise
    try:
        n = write_rdb_file(node, tmp, libraries=libraries, report=report)
    except OSError as e:
        log("warning", f"Write error saving DB on disk: {e.strerror}")
        _unlink(tmp)
        raise
    try:
        os.rename(tmp, filename)
    except OSError as e:
        log("warning", f"Error moving temp DB file {tmp} on the final destination {filename} "
                       f"(in server root dir {cwd}): {e.strerror}")
        _unlink(tmp)
        raise
    fsync_dir(os.path.dirname(filename) or ".")
    log("notice", "DB saved on disk")
    return n


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _private_dirty() -> int:
    """Bytes of this process's memory copied since the fork (Private_Dirty), 0 if unknown."""
    try:
        with open("/proc/self/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class ChildReport:
    """The child's end of the info pipe: progress and copy-on-write figures for the parent."""

    def __init__(self, fd: int, node, total: int):
        self.fd = fd
        self.node = node
        self.total = total
        self.last = 0.0

    def _send(self, line: str) -> None:
        try:
            os.write(self.fd, line.encode())
        except OSError:
            pass

    def keys(self, processed: int) -> None:
        now = time.monotonic()
        if now - self.last >= CHILD_INFO_INTERVAL:
            self.last = now
            self._send("keys %d %d %d\n" % (processed, self.total, _private_dirty()))

    def cow(self, what: str) -> None:
        cow = _private_dirty()
        mb = cow // (1024 * 1024)
        child_log(self.node, "notice", f"Fork CoW for {what}: current {mb} MB, peak {mb} MB, average {mb} MB")
        self._send("cow %d\n" % cow)


def _child_setup(node) -> None:
    """Right after fork() in the child: detach from the parent's event loop and signals."""
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    for srv in list(getattr(node, "servers", ())):
        for sock in list(getattr(srv, "sockets", None) or ()):
            try:
                os.close(sock.fileno())
            except (OSError, ValueError):
                pass
    gc.disable()


# --- the subsystem ------------------------------------------------------------------------


class Persistence:
    """``node.persistence``: RDB snapshots, the background child, the AOF, start-up loading."""

    def __init__(self, node):
        from .aof import AppendOnly

        self.node = node
        self.starting = True  # until start-up loading is over
        self.load_failed = False
        self.load_aborted = False  # a shutdown was asked for while loading
        # the child (one at a time)
        self.child_pid = -1
        self.child_type: str | None = None  # "rdb" | "aof"
        self.child_info_fd = -1
        self._child_info_buf = b""
        self.child_start = 0.0
        self.current_save_keys_processed = 0
        self.current_save_keys_total = 0
        self.current_cow_size = 0
        self.current_cow_peak = 0
        self.current_cow_updated = 0.0
        # RDB
        self.rdb_save_time_start = -1.0
        self.rdb_last_bgsave_time_sec = -1
        self.rdb_saves = 0
        self.rdb_bgsave_scheduled = False
        self.lastbgsave_try = 0.0
        self.dirty_before_bgsave = 0
        self.rdb_last_cow_size = 0
        self.rdb_last_load_keys_loaded = 0
        self.rdb_last_load_keys_expired = 0
        self.function_libraries: list = []  # FUNCTION libraries read from an RDB, written back on save
        self.loaded_repl_info = None  # (repl-id, repl-offset, repl-stream-db) from the last RDB loaded
        # loading (INFO loading_*)
        self.loading_start_time = 0
        self.loading_total_bytes = 0
        self.loading_loaded_bytes = 0
        self.loading_rdb_used_mem = 0
        self.loading_process_start = 0.0
        self.aof = AppendOnly(node, self)
        node.cron_hooks.append(self.cron)
        hooks = getattr(node, "shutdown_hooks", None)
        if hooks is None:
            hooks = node.shutdown_hooks = []
        hooks.append(self.on_stop)

    def log(self, level: str, msg: str) -> None:
        self.node.log(level, msg)

    @property
    def has_child(self) -> bool:
        return self.child_pid != -1

    # --- start-up ------------------------------------------------------------------------

    async def load_at_startup(self) -> bool:
        """loadDataFromDisk + aofOpenIfNeededOnServerStart.  False: the node must exit(1)."""
        from . import loading

        try:
            ok = await loading.load_data_from_disk(self.node, self)
            if not ok:
                self.load_failed = True
                return False
            if self.node.config["appendonly"]:
                try:
                    self.aof.open_on_start()
                except OSError as e:
                    self.log("warning", f"Can't open the append-only file: {e.strerror}")
                    self.load_failed = True
                    return False
                self.aof.del_history_files()
            return True
        finally:
            self.starting = False

    # --- the child -------------------------------------------------------------------------

    def fork_child(self, kind: str, work) -> int:
        """Fork a child that runs ``work(report) -> exit code``; returns its pid or -1."""
        node = self.node
        total = sum(len(db.data) for db in node.dbs)
        r, w = os.pipe()
        os.set_blocking(r, False)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        t0 = time.perf_counter()
        try:
            pid = os.fork()
        except OSError as e:
            os.close(r)
            os.close(w)
            what = "save in background" if kind == "rdb" else "rewrite append only file in background"
            self.log("warning", f"Can't {what}: fork: {e.strerror}")
            return -1
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(r)
                _child_setup(node)
                code = work(ChildReport(w, node, total))
            except BaseException as e:  # noqa: BLE001 - the child must reach os._exit whatever happens
                child_log(node, "warning", f"Background {kind} child failed: {e!r}")
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        node.stat_total_forks = getattr(node, "stat_total_forks", 0) + 1
        node.stat_latest_fork_usec = int((time.perf_counter() - t0) * 1_000_000)
        self.child_pid = pid
        self.child_type = kind
        self.child_info_fd = r
        self._child_info_buf = b""
        self.child_start = time.time()
        self.current_save_keys_processed = 0
        self.current_save_keys_total = total
        self.current_cow_size = self.current_cow_peak = 0
        self.current_cow_updated = 0.0
        return pid

    def _read_child_info(self) -> None:
        fd = self.child_info_fd
        if fd == -1:
            return
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not data:
                break
            self._child_info_buf += data
        *lines, self._child_info_buf = self._child_info_buf.split(b"\n")
        for line in lines:
            parts = line.split()
            try:
                if parts[0] == b"keys":
                    self.current_save_keys_processed = int(parts[1])
                    self.current_save_keys_total = int(parts[2])
                    self.current_cow_size = int(parts[3])
                    self.current_cow_peak = max(self.current_cow_peak, self.current_cow_size)
                    self.current_cow_updated = time.time()
                elif parts[0] == b"cow":
                    cow = int(parts[1])
                    if self.child_type == "rdb":
                        self.rdb_last_cow_size = cow
                    else:
                        self.aof.last_cow_size = cow
            except (IndexError, ValueError):
                continue

    def _reset_child(self) -> None:
        if self.child_info_fd != -1:
            try:
                os.close(self.child_info_fd)
            except OSError:
                pass
        self.child_info_fd = -1
        self.child_pid = -1
        self.child_type = None
        self.current_save_keys_processed = 0
        self.current_save_keys_total = 0
        self.current_cow_size = self.current_cow_peak = 0

    def check_child_done(self) -> None:
        """checkChildrenDone: reap the child if it exited and run its done handler."""
        pid = self.child_pid
        if pid == -1:
            return
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            got, status = pid, 1 << 8  # vanished: count as a failure
        if got == 0:
            self._read_child_info()
            return
        self._finish_child(pid, status)

    def _finish_child(self, pid: int, status: int) -> None:
        self._read_child_info()
        kind = self.child_type
        if os.WIFSIGNALED(status):
            bysignal, exitcode = os.WTERMSIG(status), 0
        else:
            bysignal, exitcode = 0, os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
        self._reset_child()
        if kind == "rdb":
            self._bgsave_done(exitcode, bysignal, pid)
        elif kind == "aof":
            self.aof.rewrite_done(exitcode, bysignal, pid)

    def kill_child(self) -> None:
        """Stop the running child (SIGUSR1, which is not an error) and clean up after it."""
        pid = self.child_pid
        if pid == -1:
            return
        kind = self.child_type
        if kind == "aof":
            self.log("notice", f"Killing running AOF rewrite child: {pid}")
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass
        status = signal.SIGUSR1
        deadline = time.monotonic() + KILL_WAIT
        while True:
            try:
                got, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                got, status = pid, signal.SIGUSR1
            if got:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                got, status = os.waitpid(pid, 0)
                break
            time.sleep(0.005)
        if kind == "aof":
            self._reset_child()
            for name in ("temp-rewriteaof-bg-%d.aof" % pid, "temp-rewriteaof-%d.aof" % pid):
                _unlink(name)
            self.aof.rewrite_time_start = -1.0
        else:
            self._finish_child(pid, status)

    # --- RDB ------------------------------------------------------------------------------

    def save(self) -> bool:
        """SAVE (rdbSave in the foreground)."""
        node = self.node
        self.rdb_saves += 1
        try:
            save_rdb(node, node.config["dbfilename"], node.log, self.function_libraries)
        except OSError:
            return False
        node.dirty = 0
        node.lastsave = int(time.time())
        node.lastbgsave_ok = True
        node.update_fast()
        return True

    def bgsave(self) -> bool:
        """rdbSaveBackground: fork a child that writes the snapshot."""
        node = self.node
        if self.child_pid != -1:
            return False
        self.dirty_before_bgsave = node.dirty
        self.lastbgsave_try = time.time()
        self.rdb_saves += 1
        filename = node.config["dbfilename"]
        libraries = list(self.function_libraries)

        def work(report) -> int:
            try:
                save_rdb(node, filename, lambda lvl, msg: child_log(node, lvl, msg), libraries, report)
            except OSError:
                return 1
            report.cow("RDB")
            return 0

        pid = self.fork_child("rdb", work)
        if pid < 0:
            node.lastbgsave_ok = False
            node.update_fast()
            return False
        self.log("notice", f"Background saving started by pid {pid}")
        self.rdb_save_time_start = time.time()
        self.rdb_bgsave_scheduled = False
        return True

    def _bgsave_done(self, exitcode: int, bysignal: int, pid: int) -> None:
        """backgroundSaveDoneHandlerDisk."""
        node = self.node
        if not bysignal and exitcode == 0:
            self.log("notice", "Background saving terminated with success")
            node.dirty -= self.dirty_before_bgsave
            node.lastsave = int(time.time())
            node.lastbgsave_ok = True
        elif not bysignal:
            self.log("warning", "Background saving error")
            node.lastbgsave_ok = False
        else:
            self.log("warning", f"Background saving terminated by signal {bysignal}")
            _unlink("temp-%d.rdb" % pid)
            if bysignal != signal.SIGUSR1:
                node.lastbgsave_ok = False
        if self.rdb_save_time_start >= 0:
            self.rdb_last_bgsave_time_sec = int(time.time() - self.rdb_save_time_start)
        self.rdb_save_time_start = -1.0
        node.update_fast()

    # --- cron ---------------------------------------------------------------------------

    def cron(self, now: float) -> None:
        """The persistence part of serverCron."""
        node = self.node
        if self.starting or node.loading:
            return
        if self.child_pid != -1:
            self.check_child_done()
        else:
            for seconds, changes in node.config["save"]:
                if (
                    node.dirty >= changes
                    and now - node.lastsave > seconds
                    and (node.lastbgsave_ok or now - self.lastbgsave_try > BGSAVE_RETRY_DELAY)
                ):
                    self.log("notice", f"{changes} changes in {seconds} seconds. Saving...")
                    self.bgsave()
                    break
        self.aof.cron(now)
        if (
            self.child_pid == -1
            and self.rdb_bgsave_scheduled
            and (now - self.lastbgsave_try > BGSAVE_RETRY_DELAY or node.lastbgsave_ok)
        ):
            self.bgsave()

    # --- shutdown -------------------------------------------------------------------------

    def _kill_children_for_shutdown(self) -> None:
        if self.child_type == "rdb":
            self.log("warning", "There is a child saving an .rdb. Killing it!")
            self.kill_child()
        elif self.child_type == "aof":
            self.log("warning", "There is a child rewriting the AOF. Killing it!")
            self.kill_child()

    def shutdown_save(self) -> bool:
        """The save of SHUTDOWN [SAVE]: stop the child, sync the AOF, write the RDB."""
        self._kill_children_for_shutdown()
        self.aof.shutdown()
        try:
            save_rdb(self.node, self.node.config["dbfilename"], self.node.log, self.function_libraries)
        except OSError:
            return False
        self.node.dirty = 0
        self.node.lastsave = int(time.time())
        return True

    def shutdown_on_signal(self, name: str) -> bool:
        """SIGTERM/SIGINT: save when save points are set; False keeps the node running (as Redis)."""
        node = self.node
        if self.starting or node.loading or self.load_failed:
            return True
        if node.config["save"]:
            self.log("notice", "Saving the final RDB snapshot before exiting.")
            if not self.shutdown_save():
                self.log("warning", "Error trying to save the DB, can't exit.")
                self.log("warning", f"{name} received but errors trying to shut down the server, "
                                    "check the logs for more information")
                return False
        return True

    def on_stop(self) -> None:
        """Node.stop hook: whatever the reason, no child outlives us and the AOF is synced."""
        if self.load_failed:
            return
        self._kill_children_for_shutdown()
        self.aof.shutdown()

    # --- INFO -----------------------------------------------------------------------------

    def info_fields(self) -> list:
        node = self.node
        now = time.time()
        rdb_child = self.child_type == "rdb"
        aof_child = self.child_type == "aof"
        aof = self.aof
        fields = [
            ("loading", 1 if node.loading else 0),
            ("async_loading", 0),
            ("current_cow_peak", self.current_cow_peak),
            ("current_cow_size", self.current_cow_size),
            ("current_cow_size_age", int(now - self.current_cow_updated) if self.current_cow_updated else 0),
            ("current_fork_perc", self._fork_perc()),
            ("current_save_keys_processed", self.current_save_keys_processed),
            ("current_save_keys_total", self.current_save_keys_total),
            ("rdb_changes_since_last_save", node.dirty),
            ("rdb_bgsave_in_progress", 1 if rdb_child else 0),
            ("rdb_last_save_time", node.lastsave),
            ("rdb_last_bgsave_status", "ok" if node.lastbgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.rdb_last_bgsave_time_sec),
            ("rdb_current_bgsave_time_sec", int(now - self.rdb_save_time_start) if rdb_child else -1),
            ("rdb_saves", self.rdb_saves),
            ("rdb_last_cow_size", self.rdb_last_cow_size),
            ("rdb_last_load_keys_expired", self.rdb_last_load_keys_expired),
            ("rdb_last_load_keys_loaded", self.rdb_last_load_keys_loaded),
            ("aof_enabled", 0 if aof.state == 0 else 1),
            ("aof_rewrite_in_progress", 1 if aof_child else 0),
            ("aof_rewrite_scheduled", 1 if aof.rewrite_scheduled else 0),
            ("aof_last_rewrite_time_sec", aof.rewrite_time_last),
            ("aof_current_rewrite_time_sec", int(now - aof.rewrite_time_start) if aof_child else -1),
            ("aof_last_bgrewrite_status", "ok" if aof.lastbgrewrite_ok else "err"),
            ("aof_rewrites", aof.rewrites),
            ("aof_rewrites_consecutive_failures", aof.rewrites_consecutive_failures),
            ("aof_last_write_status", "ok" if aof.last_write_ok and aof.fsyncer.error is None else "err"),
            ("aof_last_cow_size", aof.last_cow_size),
            ("module_fork_in_progress", 0),
            ("module_fork_last_cow_size", 0),
        ]
        fields.extend(aof.info_fields())
        if node.loading:
            elapsed = now - self.loading_process_start if self.loading_process_start else 0.0
            total = self.loading_total_bytes
            loaded = self.loading_loaded_bytes
            perc = loaded * 100.0 / total if total else 0.0
            eta = int((total - loaded) / (loaded / elapsed)) if loaded and elapsed > 0 else 1
            fields.extend([
                ("loading_start_time", self.loading_start_time),
                ("loading_total_bytes", total),
                ("loading_rdb_used_mem", self.loading_rdb_used_mem),
                ("loading_loaded_bytes", loaded),
                ("loading_loaded_perc", float(perc)),
                ("loading_eta_seconds", eta),
            ])
        return fields

    def _fork_perc(self) -> float:
        if self.current_save_keys_total:
            return self.current_save_keys_processed * 100.0 / self.current_save_keys_total
        return 0.0


def _info_provider(node):
    p = getattr(node, "persistence", None)
    return p.info_fields() if p is not None else []


info_mod.register("persistence", _info_provider)
