"""Start and stop real server processes for tests: shardis nodes and redis-server.

Integration and compatibility tests run real processes on 127.0.0.1.  This
module gives both kinds of server the same handle, so a test can swap one for
the other: each gets a fresh temporary directory, a config file written from
the directives the test asks for, a free port, and its output in a log file
in that directory.  ``start`` returns once the server logged that it is ready
*and* answered PING, so tests never sleep to wait for a server.

Processes are stopped by their own pid (SIGTERM, then SIGKILL after a bound),
never by name.  Every started process is also recorded in a registry that an
``atexit`` hook empties, and on Linux the child is asked to receive SIGKILL
if the thread that started it dies, so an interrupted test run leaves no
servers behind.

Ports come from a range below the kernel's ephemeral range (where outgoing
connections take their local ports), with the cluster bus port (+10000)
checked too, and are sliced between pytest-xdist workers so parallel workers
never race for the same port.
"""

from __future__ import annotations

import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from .rawclient import ConnectionClosed, RawConnection, ReplyTimeout

__all__ = [
    "free_port",
    "ServerProcess",
    "ShardisProcess",
    "RedisServerProcess",
    "ServerStartError",
    "redis_server_binary",
    "redis_server_version",
    "stop_all",
]

BUS_PORT_OFFSET = 10000  # cluster bus port = client port + 10000 (cluster.h CLUSTER_PORT_INCR)
PORT_RANGE = (20000, 22700)  # client ports; their bus ports (30000-32699) stay below 32768
STARTUP_TIMEOUT = 20.0  # seconds: a node on a loaded 2-core CI machine starts in ~1 s
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
BIND_RETRIES = 5  # restarts with a new port when another process took ours
LOG_TAIL_LINES = 40

_READY_RE = re.compile(rb"Ready to accept connections")
_ADDR_IN_USE_RE = re.compile(rb"Address already in use")

_given_ports: set[int] = set()
_port_lock = threading.Lock()


class ServerStartError(RuntimeError):
    """A server did not become ready; the message ends with the tail of its log."""


# --- ports ---------------------------------------------------------------------


def _port_bindable(port: int, host: str) -> bool:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _worker_slice() -> tuple[int, int]:
    """This pytest-xdist worker's share of PORT_RANGE (the whole range without xdist)."""
    lo, hi = PORT_RANGE
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    m = re.fullmatch(r"gw(\d+)", worker)
    if not m or count <= 1:
        return lo, hi
    idx = int(m.group(1)) % count
    width = (hi - lo) // count
    return lo + idx * width, lo + (idx + 1) * width


def free_port(bus: bool = True, host: str = "127.0.0.1") -> int:
    """A port nothing listens on (and, with ``bus``, whose bus port +10000 is free too).

    Ports are not handed out twice by one process while others remain, so
    several nodes started in a row get distinct ports even before binding.
    """
    lo, hi = _worker_slice()
    with _port_lock:
        if len(_given_ports) > (hi - lo) // 2:
            _given_ports.clear()
        for _ in range(2000):
            port = random.randrange(lo, hi)
            if port in _given_ports:
                continue
            if not _port_bindable(port, host):
                continue
            if bus and not _port_bindable(port + BUS_PORT_OFFSET, host):
                continue
            _given_ports.add(port)
            return port
    # The range is crowded: let the kernel choose (no bus-port guarantee there).
    s = socket.socket()
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


# --- the registry of live processes ------------------------------------------------

_LIVE: dict[int, "ServerProcess"] = {}  # id(handle) -> handle, while its process may run


def stop_all() -> None:
    """Stop every process this module started and that still runs (atexit safety net)."""
    for proc in list(_LIVE.values()):
        try:
            proc.stop(timeout=2.0)
        except Exception:  # best effort at exit: never mask the real outcome
            pass


atexit.register(stop_all)


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the thread that forked it dies (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # not Linux, or no libc: the atexit hook still applies
        pass


# --- config files ------------------------------------------------------------------


def _quote(word: str) -> str:
    """Quote a config word so redis.conf's tokenizer (sdssplitargs) reads it back as is."""
    if word and not re.search(r'[\s"\'\\]', word):
        return word
    esc = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{esc}"'


def normalize_directives(directives) -> list[tuple[str, list[str]]]:
    """Directives as (name, [args]) from a mapping, lines ("maxmemory 10mb") or tuples.

    Mapping values may be a string, a number, or a list of words; a line is
    split on whitespace (use a tuple or a mapping for arguments with spaces).
    """
    out: list[tuple[str, list[str]]] = []
    if directives is None:
        return out
    if isinstance(directives, Mapping):
        items: Iterable = directives.items()
    elif isinstance(directives, str):
        items = [directives]
    else:
        items = directives
    for item in items:
        if isinstance(item, str):
            words = item.split()
            if not words:
                continue
            name, args = words[0], words[1:]
        else:
            name, value = item[0], item[1] if len(item) == 2 else list(item[1:])
            if isinstance(value, (list, tuple)):
                args = [str(v) for v in value]
            elif isinstance(value, bool):
                args = ["yes" if value else "no"]
            else:
                args = [str(value)]
        out.append((name.lower().lstrip("-"), args))
    return out


def _config_text(directives: list[tuple[str, list[str]]]) -> str:
    return "".join(" ".join([name] + [_quote(a) for a in args]) + "\n" for name, args in directives)


# --- the process handle ------------------------------------------------------------


class ServerProcess:
    """One server process on 127.0.0.1 with its own temporary directory.

    ``directives`` (mapping, lines or tuples, see ``normalize_directives``)
    are written after the defaults, so they override them; ``args`` are
    passed on the command line after the config file (``--name value``).  ``port=None``
    picks a free port.  Use as a context manager, or call ``start()`` and
    ``cleanup()`` (stop the process, remove the directory).
    """

    kind = "server"
    DEFAULTS: list[tuple[str, list[str]]] = [
        ("bind", ["127.0.0.1"]),
        ("save", [""]),
        ("appendonly", ["no"]),
        ("daemonize", ["no"]),
        ("logfile", [""]),
    ]

    def __init__(self, directives=None, *, port: int | None = None, dir: str | os.PathLike | None = None,
                 startup_timeout: float = STARTUP_TIMEOUT, keep_dir: bool = False, env: Mapping | None = None,
                 args: Iterable[str] = ()):
        self.auto_port = port is None
        self.args = list(args)  # extra command-line arguments after the config file
        self.port = free_port() if port is None else port
        self.host = "127.0.0.1"
        self.extra = normalize_directives(directives)
        self.startup_timeout = startup_timeout
        self.own_dir = dir is None
        base = os.environ.get("SHARDIS_TEST_TMPDIR") or None
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.kind}-", dir=base) if dir is None else dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep_dir = keep_dir
        self.env = dict(env) if env else {}
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.killed = False  # True when stop() had to use SIGKILL
        self._log_fh = None
        self._conn: RawConnection | None = None
        self._conns: list[RawConnection] = []
        self._log_offset = 0  # log bytes written by earlier runs of this handle
        self._ever_started = False
        self._log_cache = b""  # the log, kept when cleanup() removes the directory

    # --- naming ----------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def bus_port(self) -> int:
        return self.port + BUS_PORT_OFFSET

    @property
    def conf_path(self) -> Path:
        return self.dir / f"{self.kind}.conf"

    @property
    def logfile(self) -> Path:
        return self.dir / f"{self.kind}.log"

    def __repr__(self) -> str:
        state = "running" if self.is_running() else f"exited {self.returncode}"
        return f"<{type(self).__name__} 127.0.0.1:{self.port} pid={self.pid} {state}>"

    # --- what to run (subclasses) ----------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def child_env(self) -> dict:
        env = dict(os.environ)
        env.update(self.env)
        return env

    def directives(self) -> list[tuple[str, list[str]]]:
        return [("port", [str(self.port)]), ("dir", [str(self.dir)])] + self.DEFAULTS + self.extra

    def _ready_in_log(self) -> bool:
        """Whether readiness should also be seen in the log (not with loglevel warning)."""
        level = [a for n, a in self.directives() if n == "loglevel"]
        logfile = [a for n, a in self.directives() if n == "logfile"]
        if logfile and logfile[-1] and logfile[-1][0]:
            return False  # logging elsewhere than our captured output
        return not (level and level[-1] and level[-1][0].lower() == "warning")

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> "ServerProcess":
        """Start the process and wait until it is ready; retries on a port race.

        If a handle's first start fails, its temporary directory is removed
        (the error carries the log tail), so failed starts leave nothing behind.
        """
        try:
            for attempt in range(BIND_RETRIES):
                try:
                    self._start_once()
                    self._ever_started = True
                    return self
                except ServerStartError:
                    lost_race = self.auto_port and _ADDR_IN_USE_RE.search(self.log_bytes())
                    if not lost_race or attempt == BIND_RETRIES - 1:
                        raise
                    self.port = free_port()
            raise AssertionError("unreachable")
        except BaseException:
            if not self._ever_started:
                self.cleanup()
            raise

    def _start_once(self) -> None:
        if self.is_running():
            raise RuntimeError(f"{self!r} is already running")
        self.conf_path.write_text(_config_text(self.directives()))
        if self.logfile.exists():
            self._log_offset = self.logfile.stat().st_size
        self._log_fh = open(self.logfile, "ab")
        use_pdeathsig = sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            env=self.child_env(),
            preexec_fn=_die_with_parent if use_pdeathsig else None,
        )
        self.returncode = None
        self.killed = False
        _LIVE[id(self)] = self
        try:
            self.wait_ready(self.startup_timeout)
        except BaseException:
            self.stop(timeout=2.0)
            raise

    def wait_ready(self, timeout: float) -> None:
        """Wait for the ready log line (when logged here) and a reply to PING."""
        deadline = time.monotonic() + timeout
        need_log = self._ready_in_log()
        while True:
            if self.proc.poll() is not None:
                self._reap()
                raise ServerStartError(
                    f"{self.kind} on port {self.port} exited with code {self.returncode} during start-up\n"
                    + self.log_tail()
                )
            if not need_log or _READY_RE.search(self.log_bytes()):
                if self._ping_ok():
                    return
            if time.monotonic() > deadline:
                self.stop(timeout=2.0)
                raise ServerStartError(
                    f"{self.kind} on port {self.port} not ready after {timeout:.0f}s\n" + self.log_tail()
                )
            time.sleep(0.02)

    def _ping_ok(self) -> bool:
        try:
            with RawConnection(self.port, timeout=2.0, connect_timeout=1.0) as c:
                reply = c.request("PING")
        except (OSError, ConnectionClosed, ReplyTimeout):
            return False
        # A server loading its data set answers -LOADING: not ready yet.
        return not reply.startswith(b"-LOADING")

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        """Signal our own process (by pid) if it still runs."""
        if self.is_running():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit on its own; returns its exit code (raises on timeout)."""
        self.proc.wait(timeout)
        self._reap()
        return self.returncode

    def stop(self, timeout: float = STOP_TIMEOUT, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` (SIGTERM) to our pid, SIGKILL after ``timeout`` s; returns the exit code."""
        self.close_connections()
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5.0)
            except ProcessLookupError:
                pass
        self._reap()
        return self.returncode

    def kill(self) -> int | None:
        """SIGKILL our pid at once (a crash, for failover and recovery tests)."""
        self.close_connections()
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5.0)
        self._reap()
        return self.returncode

    def restart(self, timeout: float = STOP_TIMEOUT) -> "ServerProcess":
        """Stop and start again on the same port and directory (data files survive)."""
        self.stop(timeout)
        self.auto_port = False
        return self.start()

    def _reap(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            _LIVE.pop(id(self), None)
            if self._log_fh is not None:
                self._log_fh.close()
                self._log_fh = None

    def cleanup(self) -> None:
        """Stop the process and remove the temporary directory (unless kept)."""
        try:
            self.stop()
        finally:
            if self.own_dir and not self.keep_dir and not os.environ.get("SHARDIS_KEEP_TEST_DIRS"):
                # The log stays readable (log_text, log_tail) after its file is gone.
                self._log_cache = self.log_bytes(all_runs=True)
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if not self.is_running():
            try:
                self.start()
            except BaseException:
                self.cleanup()
                raise
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # --- talking to it ----------------------------------------------------------

    def connect(self, timeout: float = 10.0) -> RawConnection:
        """A new raw connection, closed when the server is stopped."""
        c = RawConnection(self.port, timeout=timeout)
        self._conns.append(c)
        return c

    def request(self, *args) -> bytes:
        """Send one request on a shared connection and return the raw reply."""
        if self._conn is None or self._conn.sock is None or self._conn.closed_by_peer:
            self._conn = self.connect()
        return self._conn.request(*args)

    def client(self, **kwargs):
        """A redis-py client for this server (redis-py is a test dependency)."""
        import redis

        kwargs.setdefault("socket_timeout", 10)
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def close_connections(self) -> None:
        for c in self._conns:
            c.close()
        self._conns.clear()
        self._conn = None

    # --- its log -------------------------------------------------------------------

    def log_bytes(self, all_runs: bool = False) -> bytes:
        """The captured output of this run (or of every run of this handle)."""
        try:
            with open(self.logfile, "rb") as f:
                if not all_runs:
                    f.seek(self._log_offset)
                return f.read()
        except FileNotFoundError:
            cache = self._log_cache
            return cache if all_runs else cache[self._log_offset :]

    def log_text(self, all_runs: bool = False) -> str:
        return self.log_bytes(all_runs).decode("utf-8", "replace")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.logfile} ---\n" + "\n".join(tail)

    def wait_for_log(self, pattern: str | bytes, timeout: float = 10.0) -> re.Match:
        """Wait until the log of this run matches ``pattern`` (a regex)."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_bytes())
            if m:
                return m
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} not logged within {timeout}s\n" + self.log_tail())
            time.sleep(0.02)


def _package_root() -> str:
    """The directory holding the ``shardis`` package this process imported."""
    import shardis

    return str(Path(shardis.__file__).resolve().parent.parent)


class ShardisProcess(ServerProcess):
    """A shardis node: ``python -m shardis server <conf>`` with this interpreter and this source tree."""

    kind = "shardis"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "shardis", "server", str(self.conf_path)] + self.args

    def child_env(self) -> dict:
        env = super().child_env()
        root = _package_root()
        path = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = root + (os.pathsep + path if path else "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("PYTHONFAULTHANDLER", "1")
        return env


def redis_server_binary() -> str | None:
    """The redis-server to compare with: $SHARDIS_REDIS_SERVER or the one on PATH."""
    return os.environ.get("SHARDIS_REDIS_SERVER") or shutil.which("redis-server")


_version_cache: dict[str, str | None] = {}


def redis_server_version(binary: str | None = None) -> str | None:
    """The version of a redis-server binary ("7.0.15"), or None if there is none."""
    binary = binary or redis_server_binary()
    if not binary:
        return None
    if binary not in _version_cache:
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, timeout=10, text=True).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        m = re.search(r"v=(\d+\.\d+\.\d+)", out)
        _version_cache[binary] = m.group(1) if m else None
    return _version_cache[binary]


class RedisServerProcess(ServerProcess):
    """A real redis-server, the oracle of differential tests and a peer in mixed clusters."""

    kind = "redis"

    def __init__(self, directives=None, *, binary: str | None = None, **kwargs):
        self.binary = binary or redis_server_binary()
        if not self.binary:
            raise FileNotFoundError("redis-server not found (install it or set SHARDIS_REDIS_SERVER)")
        super().__init__(directives, **kwargs)

    def command(self) -> list[str]:
        return [self.binary, str(self.conf_path)] + self.args
