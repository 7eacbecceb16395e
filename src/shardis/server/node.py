"""The Node: one shardis server process.

The node owns the configuration, the databases, the connected clients and the
periodic ``cron``; subsystems (persistence, replication, cluster) attach to it
and expose their own ``cron(now)``.  Like Redis it runs one event loop in one
thread, so commands execute one at a time and need no locks.

``fast`` is the node-wide half of the dispatch fast path (the other half is
per client): it is true while no node-level check in process_command could
change the outcome of a command (no cluster routing, no propagation, no
pause, not loading, no write refusal).  Anything that turns such a check on
calls ``update_fast()``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time

from .. import REDIS_VERSION, __version__
from ..keyspace import notify as kn
from ..keyspace.db import Database, LFUDatabase
from ..keyspace.expire import active_expire_cycle
from ..keyspace.lfu import LFU_POLICIES
from . import memory
from .config import Config
from .pubsub import PubSub

__all__ = ["Node"]

ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC = 25  # % of a cron period the expiry cycle may use
STATS_METRIC_SAMPLES = 16  # samples in the instantaneous ops/sec window (server.h)

_LOG_LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3}
_LOG_CHARS = ".-*#"


class Node:
    def __init__(self, config: Config):
        self.config = config
        self.lfu = False  # an LFU maxmemory-policy: the access field counts (see _on_policy_change)
        self.lfu_looked_up = None  # LFUDatabase: (command number, db, key) of the last key lookup
        self.pid = os.getpid()
        self.run_id = os.urandom(20).hex()
        self.dbs = [Database(i, self) for i in range(config["databases"])]
        self.clients: dict[int, object] = {}
        self.next_client_id = 1
        self.start_time = time.time()
        self.unixtime = int(self.start_time)
        self.lru_clock = self.unixtime
        self.servers: list = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.shutdown_requested: asyncio.Future | None = None
        self.exit_code = 0
        self.hz = config["hz"]
        self.cronloops = 0
        self.cron_hooks: list = []  # callables cron(now) of subsystems
        self.active_expire_enabled = True
        self.loading = False
        self.paused_until = 0.0  # CLIENT PAUSE deadline (monotonic)
        self.pause_all = False  # True: ALL; False: WRITE only
        self.paused_clients: list = []
        self.fast = True
        # Cluster mode: true when only cluster routing keeps ``fast`` false; the
        # connection then runs keyless commands, and single-key commands whose
        # slot this node serves (cluster.owned), on the fast path.
        self.cluster_fast = False
        # persistence bookkeeping (filled in by the persistence subsystem)
        self.dirty = 0
        self.lastsave = int(self.start_time)
        self.lastbgsave_ok = True
        self.replicas: list = []
        self.master = None  # replication: link to our master when we are a replica
        self.propagate_hooks: list = []  # callables(dbid, argv) for AOF/replicas
        # While EXEC runs its commands, their writes are collected here so the
        # transaction can be propagated as one MULTI ... EXEC block.
        self.propagate_capture: list | None = None
        # Nesting depth of dispatch.call (and of the cron): propagation is
        # written out (AOF) when a top-level command has finished propagating,
        # before its reply leaves -- see propagate_flush_hooks.
        self.call_depth = 0
        self.pending_writes: list = []  # clients whose replies leave at the end of this loop pass
        self.propagate_flush_hooks: list = []  # callables() run at call depth 0 after propagation
        self.aof_write_error: str | None = None  # set while the AOF cannot be written (MISCONF)
        self.monitors: list = []
        self.pubsub = PubSub(self)  # subscriptions and message delivery (server/pubsub.py)
        self.cluster = None  # set in cluster mode
        self.notify_flags = 0
        # statistics (INFO)
        self.stat_numconnections = 0
        self.stat_rejected_conn = 0
        self.stat_numcommands = 0
        self.stat_expired_keys = 0
        self.stat_evictedkeys = 0
        self.stat_net_input_bytes = 0
        self.stat_net_output_bytes = 0
        self.stat_unexpected_error_replies = 0
        self.stat_total_error_replies = 0
        self.stat_client_qbuf_limit_disconnections = 0
        self.stat_client_outbuf_limit_disconnections = 0
        self.errorstats: dict[bytes, int] = {}
        self._ops_samples = [(time.monotonic(), 0)]
        self._net_in_samples = [(time.monotonic(), 0)]
        self._net_out_samples = [(time.monotonic(), 0)]
        self.slowlog: list = []
        self.slowlog_next_id = 0
        self.slowlog_threshold_ns = 0
        config.on_change("slowlog-log-slower-than", self._on_slowlog_change)
        self._on_slowlog_change(config["slowlog-log-slower-than"], None)
        config.on_change("notify-keyspace-events", self._on_notify_change)
        config.on_change("maxmemory-policy", self._on_policy_change)
        self._on_policy_change(config["maxmemory-policy"], None)
        config.on_change("hz", lambda v, old: setattr(self, "hz", max(1, min(500, v))))
        self._on_notify_change(config["notify-keyspace-events"], None)
        # RDB/AOF: snapshots, the AOF, start-up loading (persistence/snapshot.py)
        from ..persistence.snapshot import Persistence

        self.persistence = Persistence(self)

    # --- small queries used on hot paths ------------------------------------------

    def is_replica_of_master(self) -> bool:
        return self.master is not None

    def update_fast(self) -> None:
        """Recompute the node-wide fast-path flags after a state change."""
        self.cluster_fast = (
            not self.propagate_hooks
            and not self.monitors
            and not self.loading
            and self.paused_until == 0.0
            and self.master is None
            and self.lastbgsave_ok
            and self.config["maxmemory"] == 0
            and not self.lfu
            and not self._ready_keys_pending()
        )
        self.fast = self.cluster_fast and self.cluster is None

    def _on_policy_change(self, value, old) -> None:
        # The databases' access fields are read as LFU counters from now on; the
        # fields already there stay as they are (Redis reinterprets them too).
        self.lfu = value in LFU_POLICIES
        cls = LFUDatabase if self.lfu else Database
        for db in self.dbs:
            db.__class__ = cls
        self.update_fast()

    def _on_slowlog_change(self, value, old) -> None:
        # Negative disables the slow log; compare in ns on the hot path.
        self.slowlog_threshold_ns = float("inf") if value < 0 else value * 1000 - 1

    def _ready_keys_pending(self) -> bool:
        from ..keyspace.blocking import ready_keys_pending

        return ready_keys_pending(self)

    # --- keyspace events -----------------------------------------------------------

    def _on_notify_change(self, value, old) -> None:
        self.notify_flags = kn.flags_from_string(value)

    def notify(self, cls: int, event: bytes, key: bytes, dbid: int) -> None:
        """notifyKeyspaceEvent: publish when the class is enabled."""
        flags = self.notify_flags
        if not flags & cls or not flags & (kn.KEYSPACE | kn.KEYEVENT):
            return
        if self.pubsub is None or not self.pubsub.active():
            return  # nobody could receive it: skip building the channel names
        for channel, message in kn.channels(flags, event, key, dbid):
            self.pubsub.publish(channel, message)

    def key_expired(self, db: Database, key: bytes) -> None:
        """A key was deleted because its TTL passed: notify and propagate a DEL."""
        self.notify(kn.EXPIRED, b"expired", key, db.id)
        self.propagate(db.id, [b"DEL", key])

    def propagate(self, dbid: int, argv: list) -> None:
        """Send a write to the AOF and the replicas (no-op until they exist)."""
        capture = self.propagate_capture
        if capture is not None:
            capture.append((dbid, argv))
            return
        for hook in self.propagate_hooks:
            hook(dbid, argv)

    # --- logging ------------------------------------------------------------------

    def log(self, level: str, msg: str) -> None:
        """A log line in Redis's format: ``pid:role dd Mon yyyy hh:mm:ss.mmm <lvl> msg``."""
        lvl = _LOG_LEVELS[level]
        if lvl < _LOG_LEVELS.get(self.config["loglevel"], 2):
            return
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + ".%03d" % int(now % 1 * 1000)
        role = "S" if self.master is not None else "M"
        line = f"{self.pid}:{role} {stamp} {_LOG_CHARS[lvl]} {msg}\n"
        logfile = self.config["logfile"]
        if logfile:
            with open(logfile, "a", encoding="utf-8", errors="replace") as f:
                f.write(line)
        else:
            sys.stdout.write(line)
            sys.stdout.flush()

    # --- clients ------------------------------------------------------------------

    def flush_pending_writes(self) -> None:
        """Write the replies of every client served in this event-loop pass.

        Redis writes replies in beforeSleep, once all readable clients have
        been served, not as each one finishes.  Doing the same matters twice:
        the AOF is written (and, with appendfsync always, fsynced) once for all
        of them, and the clients' wake-ups come together instead of between
        every two batches of work.
        """
        pending = self.pending_writes
        self.pending_writes = []
        for hook in self.propagate_flush_hooks:
            hook()
        for client in pending:
            client.write_pending = False
            if client.out:
                client.flush()

    def new_client_id(self) -> int:
        cid = self.next_client_id
        self.next_client_id += 1
        return cid

    def all_clients(self):
        return list(self.clients.values())

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listening sockets and start the cron."""
        from .connection import Client

        self.loop = asyncio.get_running_loop()
        self.shutdown_requested = self.loop.create_future()
        port = self.config["port"]
        addrs = self.config["bind"] or ["*", "-::*"]
        factory = lambda: Client(self)  # noqa: E731
        if port:
            for addr in addrs:
                optional = addr.startswith("-")
                host = addr[1:] if optional else addr
                if host == "*":
                    host = "0.0.0.0"
                elif host == "::*":
                    host = "::"
                try:
                    srv = await self.loop.create_server(
                        factory,
                        host=host,
                        port=port,
                        backlog=self.config["tcp-backlog"],
                        reuse_address=True,
                        family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                    )
                except OSError as e:
                    if optional:
                        continue
                    raise OSError(e.errno, f"Could not create server TCP listening socket {host}:{port}: {e.strerror}")
                self.servers.append(srv)
        if self.config["unixsocket"]:
            srv = await self.loop.create_unix_server(factory, path=self.config["unixsocket"])
            os.chmod(self.config["unixsocket"], self.config["unixsocketperm"] or 0o700)
            self.servers.append(srv)
        if self.config["cluster-enabled"]:
            from ..cluster import enable as enable_cluster

            await enable_cluster(self)  # sets self.cluster (raises ClusterInitError, an OSError)
        self.update_fast()
        memory.mark_startup()  # INFO used_memory_startup: what an empty node uses
        self._cron_handle = self.loop.call_later(1.0 / self.hz, self._cron)

    def request_shutdown(self, code: int = 0) -> None:
        self.exit_code = code
        if self.shutdown_requested is not None and not self.shutdown_requested.done():
            self.shutdown_requested.set_result(True)

    async def serve_forever(self) -> int:
        await self.start()
        pidfile = self.config["pidfile"]
        if pidfile:
            with open(pidfile, "w") as f:
                f.write(f"{self.pid}\n")
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            self.loop.add_signal_handler(sig, self._on_signal, name)
        self.log("notice", f"shardis {__version__} (Redis {REDIS_VERSION} compatible), pid={self.pid}, port={self.config['port']}")
        self.log("notice", "Server initialized")
        # Load the dataset while already listening: clients get -LOADING meanwhile.
        loaded = await self.persistence.load_at_startup()
        if loaded and self.cluster is not None and not self.cluster.verify_with_data():
            self.log("warning", "You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting.")
            loaded = False
        if loaded:
            self.log("notice", "Ready to accept connections tcp")
            await self.shutdown_requested
            await self.stop()
        else:  # the reason is logged; Redis exits with status 1 here (0 when asked to stop while loading)
            self.exit_code = 0 if self.persistence.load_aborted else 1
            for srv in self.servers:
                srv.close()
        if pidfile:
            try:
                os.unlink(pidfile)
            except OSError:
                pass
        return self.exit_code

    def _on_signal(self, name: str) -> None:
        self.log("warning", f"Received {name} scheduling shutdown...")
        # As Redis: save first when save points are set, and keep running if that fails.
        if not self.persistence.shutdown_on_signal(name):
            return
        self.request_shutdown(0)

    async def stop(self) -> None:
        """Close listeners and clients; subsystems flush what they must."""
        self.log("warning", "User requested shutdown...")
        for hook in list(getattr(self, "shutdown_hooks", [])):
            try:
                hook()
            except Exception as e:  # a failing hook must not prevent the exit
                self.log("warning", f"Error during shutdown: {e}")
        for srv in self.servers:
            srv.close()
        for c in list(self.clients.values()):
            c.close()
        self.log("warning", "shardis is now ready to exit, bye bye...")

    # --- cron -----------------------------------------------------------------------

    def _cron(self) -> None:
        now = time.time()
        self.unixtime = int(now)
        self.lru_clock = self.unixtime
        self.cronloops += 1
        period = 1.0 / self.hz
        self.call_depth += 1  # what the cron propagates is written out once, at the end
        try:
            if self.active_expire_enabled and self.master is None and not self.loading:
                deadline = time.monotonic() + period * ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC / 100
                now_ms = int(now * 1000)
                for db in self.dbs:
                    if db.expiry_heap:
                        active_expire_cycle(db, now_ms, deadline)
            self._sample_stats()
            self._clients_cron(now)
            if self.paused_until and time.monotonic() >= self.paused_until:
                self.unpause()
            for hook in self.cron_hooks:
                hook(now)
        except Exception as e:  # the cron must keep running whatever a subsystem does
            self.log("warning", f"cron error: {e!r}")
        finally:
            self.call_depth -= 1
        for hook in self.propagate_flush_hooks:
            hook()
        self._cron_handle = self.loop.call_later(period, self._cron)

    def _sample_stats(self) -> None:
        t = time.monotonic()
        for samples, value in (
            (self._ops_samples, self.stat_numcommands),
            (self._net_in_samples, self.stat_net_input_bytes),
            (self._net_out_samples, self.stat_net_output_bytes),
        ):
            if t - samples[-1][0] >= 0.1:
                samples.append((t, value))
                if len(samples) > STATS_METRIC_SAMPLES:
                    del samples[0]

    @staticmethod
    def _rate(samples) -> float:
        if len(samples) < 2:
            return 0.0
        (t0, v0), (t1, v1) = samples[0], samples[-1]
        return (v1 - v0) / (t1 - t0) if t1 > t0 else 0.0

    def instantaneous_ops(self) -> int:
        return int(self._rate(self._ops_samples))

    def instantaneous_net(self) -> tuple[float, float]:
        return self._rate(self._net_in_samples) / 1024, self._rate(self._net_out_samples) / 1024

    def _clients_cron(self, now: float) -> None:
        timeout = self.config["timeout"]
        for c in list(self.clients.values()):
            c.cron(now, timeout)

    # --- CLIENT PAUSE ---------------------------------------------------------------

    def pause(self, until_monotonic: float, all_commands: bool) -> None:
        # A new CLIENT PAUSE replaces the previous one (end time and type), as in Redis.
        self.paused_until = until_monotonic
        self.pause_all = all_commands
        self.update_fast()

    def unpause(self) -> None:
        self.paused_until = 0.0
        self.pause_all = False
        waiting, self.paused_clients = self.paused_clients, []
        self.update_fast()
        for c in waiting:
            c.resume_after_pause()

    def is_paused_for(self, cmd) -> bool:
        if not self.paused_until:
            return False
        if time.monotonic() >= self.paused_until:
            self.unpause()
            return False
        return self.pause_all or cmd.may_replicate
