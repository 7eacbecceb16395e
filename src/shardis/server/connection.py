"""One client connection: read requests, run them, write the replies.

This is the hot path.  ``data_received`` runs every complete command of a
read and collects the replies; they go out in one ``transport.write`` per
client at the end of the event-loop pass (``Node.flush_pending_writes``),
once every readable client has been served, as Redis does in beforeSleep.
A pipeline of N commands costs one write, not N, and the writes of a pass
come together, so the clients they wake do not interleave with our work.

A read made only of requests of one command (a pipelined benchmark, a bulk
load) is first offered to ``run_uniform``: cut into argument columns in a
few C calls, it runs as one batch -- through the command's batch form when
it has one, else its handler over the rows -- with the checks below made
once for the batch instead of once per request.  A read that is exactly
one request (a client waiting for each reply) is cut by ``one_request``
and run by ``run_one``: the fast path below, without the reader.  Anything
else goes through the request reader, one command at a time, by one of two
routes:

* the fast path, when the command exists, its arity is right, and neither
  this client (``fast``) nor the node (``node.fast``) is in a state where any
  check of process_command could matter: the handler runs directly.  In
  cluster mode (``node.cluster_fast``) that also holds for keyless commands
  and for single-key commands whose slot this node serves with no migration
  going on (``node.cluster.owned``): routing would let them through anyway;
* otherwise ``dispatch.process_command``, which runs Redis's checks in
  Redis's order.

Every route accounts the call the same way (calls, time, slow log).

A client stops taking commands from its buffer while it is blocked (BLPOP
...), waiting out a CLIENT PAUSE, or closing; the buffered bytes stay in the
reader and are processed when it resumes, as Redis does.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from binascii import crc_hqx

import hiredis

from ..cluster.routing import FAST_DIRECT as cluster_direct
from ..cluster.routing import FAST_FIRST_KEY as cluster_first_key
from ..cluster.slots import key_slot
from ..protocol.resp import RESP2, ProtocolError, RequestReader, encode_request, one_request, uniform_batch
from . import dispatch, replies
from .hooks import CLOSE_HOOKS as _CLOSE_HOOKS
from .hooks import on_client_close  # noqa: F401  (re-exported: subsystems register here)
from .commandtable import _FAST, lookup

__all__ = ["Client"]

_perf_ns = time.perf_counter_ns

# Below this many buffered bytes the query buffer limit (>= 1mb) cannot be hit.
QUERY_BUFFER_CHECK_BYTES = 1024 * 1024
# Reads up to this size are tried as uniform batches (run_uniform) or as one
# request (run_one).  Below proto-max-bulk-len's minimum (1mb), so no payload
# in them can exceed it.  SHARDIS_UNIFORM=0 in the environment turns both off:
# the benchmarks use it to measure the routes side by side.
UNIFORM_MAX_BYTES = int(os.environ.get("SHARDIS_UNIFORM", 256 * 1024))


class Client(asyncio.Protocol):
    """A connected client (also used, with no transport, for fake clients such as AOF loading)."""

    def __init__(self, node):
        self.node = node
        self.id = node.new_client_id()
        self.reader = RequestReader(node.config["proto-max-bulk-len"])
        self.db = node.dbs[0]
        self.resp = RESP2
        self.name = b""
        self.authenticated = not node.config["requirepass"]
        self.user = b"default"
        self.transport = None
        self.out: list = []
        self.processing = False
        self.closing = False
        self.close_after_reply = False
        # states that take the client off the fast path
        self.multi = False
        self.mstate: list = []  # queued (cmd, argv) in MULTI
        self.dirty_cas = False  # a WATCHed key changed
        self.dirty_exec = False  # a command failed to queue: EXEC aborts
        self.watched: list = []  # (db, key) pairs this client WATCHes
        self.channels: set = set()
        self.patterns: set = set()
        self.shard_channels: set = set()
        self.blocked = False
        self.bstate = None  # blocking state, owned by the blocking module
        self.waiting_pause = False
        self.pending_argv = None
        self.reply_off = False  # CLIENT REPLY OFF
        self.reply_skip = False  # drop the reply of the command being run (CLIENT REPLY SKIP)
        self.reply_skip_next = False  # set by CLIENT REPLY SKIP for the next command
        self.monitor = False
        self.replica = False  # this connection is a replica we feed
        self.is_master_link = False  # this connection is our master (replica side)
        self.asking = False
        self.readonly = False  # cluster READONLY
        self.no_evict = False
        self.no_touch = False
        self.fast = self.authenticated
        self.write_pending = False  # queued in node.pending_writes
        self.shape = None  # the request shape of this client's last uniform read (protocol.resp.Shape)
        # bookkeeping for CLIENT LIST / INFO
        self.created = time.time()
        self.last_interaction = self.created
        self.last_cmd = b"NULL"
        self.addr = ""
        self.laddr = ""
        self.fd = -1

    # --- state ----------------------------------------------------------------------

    def update_fast(self) -> None:
        """Recompute whether this client's commands may skip process_command."""
        self.fast = (
            self.authenticated
            and not self.multi
            and not self.channels
            and not self.patterns
            and not self.shard_channels
            and not (self.reply_off or self.reply_skip or self.reply_skip_next)
            and not self.is_master_link
            and not self.asking
        )
        self.reader.set_unauth(not self.authenticated)

    # --- asyncio protocol -------------------------------------------------------------

    def connection_made(self, transport) -> None:
        node = self.node
        self.transport = transport
        sock = transport.get_extra_info("socket")
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.addr = _fmt_addr(peer)
        self.laddr = _fmt_addr(local)
        if sock is not None:
            self.fd = sock.fileno()
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    ka = node.config["tcp-keepalive"]
                    if ka:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                except OSError:
                    pass
        if len(node.clients) >= node.config["maxclients"]:
            node.stat_rejected_conn += 1
            transport.write(replies.err("ERR max number of clients reached"))
            transport.close()
            return
        if self._protected_mode_denies(peer):
            node.stat_rejected_conn += 1
            transport.write(replies.err(_DENIED_TEXT))
            transport.close()
            return
        node.clients[self.id] = self
        node.stat_numconnections += 1
        self.update_fast()

    def _protected_mode_denies(self, peer) -> bool:
        cfg = self.node.config
        if not cfg["protected-mode"] or cfg["requirepass"]:
            return False
        if cfg["bind"] not in ([], ["*", "-::*"]):
            return False
        if not isinstance(peer, tuple):
            return False  # unix socket
        host = peer[0]
        return not (host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1") or host.startswith("::ffff:127."))

    def connection_lost(self, exc) -> None:
        self.closing = True
        node = self.node
        if node.clients.pop(self.id, None) is not None:
            for hook in _CLOSE_HOOKS:
                hook(self)

    def pause_writing(self) -> None:
        # The peer does not read its replies: stop reading its requests too, so
        # our memory cannot grow without bound for a normal client.
        if self.transport is not None and not self.closing:
            try:
                self.transport.pause_reading()
            except (RuntimeError, AttributeError):
                pass

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closing:
            try:
                self.transport.resume_reading()
            except (RuntimeError, AttributeError):
                pass

    def data_received(self, data) -> None:
        node = self.node
        node.stat_net_input_bytes += len(data)
        self.last_interaction = node.unixtime
        reader = self.reader
        if (
            not reader._shadow_len
            and reader.fast
            and self.fast
            and (node.fast or node.cluster_fast)
            and not (self.blocked or self.waiting_pause or self.closing)
            and len(data) <= UNIFORM_MAX_BYTES
        ):
            # Every request after the first starts right after a CRLF: with no
            # "\r\n*" the read holds one request at most; with fewer than two
            # (a payload can only add some) it goes the usual way, splitting
            # would cost more than it saves.  Finding the first two, not
            # counting them all, keeps this test off a long read's tail.
            second = data.find(b"\r\n*")
            if second < 0:
                if (argv := one_request(data)) is not None and self.run_one(argv):
                    return
            elif data.find(b"\r\n*", second + 3) > 0 and self.run_uniform(data):
                return
        reader.feed(data)
        if self.blocked or self.waiting_pause or self.closing:
            self._check_query_buffer()
            return
        self.process_input()
        if self.reader.buffered() > QUERY_BUFFER_CHECK_BYTES:
            self._check_query_buffer()

    def run_uniform(self, data) -> bool:
        """Run a read made only of requests of one command, without a per-request loop of checks.

        ``uniform_batch`` has cut the read into argument columns.  When the
        command may take the fast path (the test process_input makes per
        request, made once for the batch: in cluster mode, every key's slot
        must be served here), either

        * its batch form (``Command.batch``, declared with
          ``commandtable.batch``) runs the whole pipeline at once, or declines
          having changed nothing; or
        * its handler runs over the rows with nothing else per request: no
          reader call, no table lookup, no checks but one: a request may
          change what the next one may skip (a push that wakes a blocked
          client turns ``node.fast`` off, so that Redis's checks serve that
          client before the next command), so the state is tested after each
          one, and the rest of the batch -- re-encoded byte for byte, its
          headers being canonical -- goes back to the reader.

        Accounting is per batch, as for untimed commands in process_input:
        the batch's time is shared among its requests (also in the slow log).
        Returns False, having done nothing, when the read is not such a batch.
        """
        found = uniform_batch(data, self.shape)
        if found is None:
            return False
        columns, shape = found
        if shape is not None:
            self.shape = shape  # the next read of this client is most likely the same again
        names = columns[0]
        name = names[0]
        cmd = _FAST.get(name)
        if cmd is None:
            cmd = lookup(name)
            if cmd is None:
                return False
        nargs = len(columns)
        if not (cmd.fastpath and ((a := cmd.arity) == nargs or (a < 0 and nargs >= -a))):
            return False
        node = self.node
        if not node.fast:
            # cluster mode: keyless, or every request's key in a slot served here
            if cmd not in cluster_direct:
                if cmd not in cluster_first_key:
                    return False
                owned = node.cluster.owned
                for k in columns[1]:
                    if not owned[crc_hqx(k, 0) & 16383 if 123 not in k else key_slot(k)]:
                        return False
        m = len(names)
        out = self.out
        done = 0
        self.processing = True
        t0 = _perf_ns()
        try:
            if cmd.batch is not None:
                try:
                    r = cmd.batch(self, columns, m)
                except Exception as e:  # a bug must never kill the node (nor desync the replies)
                    r = dispatch.internal_error(self, cmd, e) * m
                if r is not None:
                    out.append(r)
                    done = m
            if not done:
                handler = cmd.handler
                for argv in map(list, zip(*columns)):
                    try:
                        reply = handler(self, argv)
                    except Exception as e:
                        reply = dispatch.internal_error(self, cmd, e)
                    done += 1
                    if reply is not None:
                        if reply[0] == 45:  # errorstats, failed_calls
                            dispatch.account_extra(self, cmd, argv, 0, reply)
                        out.append(reply)
                    if not (self.fast and (node.fast or node.cluster_fast)) or self.closing:
                        break
        finally:
            self.processing = False
            elapsed = _perf_ns() - t0
            cmd.calls += done
            cmd.ns += elapsed
            node.stat_numcommands += done
            self.last_cmd = cmd
            share = elapsed // done if done else 0
            if share > node.slowlog_threshold_ns and "skip_slowlog" not in cmd.flags:
                for i in range(done):
                    dispatch.slowlog_push(self, [c[i] for c in columns], share // 1000)
        if done < m:
            # The rest of the batch takes the usual route, exactly as it came.
            self.reader.feed(b"".join([encode_request([c[i] for c in columns]) for i in range(done, m)]))
            if not (self.blocked or self.waiting_pause or self.closing):
                self.process_input()
                return True
        if out:
            self.schedule_write()
        return True

    def run_one(self, argv) -> bool:
        """Run a read that was exactly one request (``one_request``) on the fast path.

        process_input's fast path for one command, without the reader and the
        loop around them.  Returns False, having done nothing, when the
        command may not take the fast path: the caller then reads the request
        the usual way.  (The commands that close their connection after the
        reply -- QUIT, SHUTDOWN, CLIENT KILL of itself -- are all off the fast
        path, so there is no close_after_reply to honour here.)
        """
        cmd = _FAST.get(argv[0])
        if cmd is None or not cmd.fastpath:
            return False
        n = len(argv)
        if (a := cmd.arity) != n and (a > 0 or n < -a):
            return False
        node = self.node
        if not node.fast and cmd not in cluster_direct:
            # cluster mode: one key, in a slot served here
            if cmd not in cluster_first_key:
                return False
            k = argv[1]
            if not node.cluster.owned[crc_hqx(k, 0) & 16383 if 123 not in k else key_slot(k)]:
                return False
        self.processing = True
        t0 = _perf_ns()
        try:
            reply = cmd.handler(self, argv)
        except Exception as e:  # a handler bug must never kill the node
            reply = dispatch.internal_error(self, cmd, e)
        dt = _perf_ns() - t0
        self.processing = False
        cmd.calls += 1
        cmd.ns += dt
        node.stat_numcommands += 1
        self.last_cmd = cmd
        if reply is not None:
            if reply[0] == 45 or dt > node.slowlog_threshold_ns:  # errorstats, failed_calls; the slow log
                dispatch.account_extra(self, cmd, argv, dt, reply)
            self.out.append(reply)
            self.schedule_write()
        else:
            if dt > node.slowlog_threshold_ns:
                dispatch.account_extra(self, cmd, argv, dt, reply)
            if self.out:
                self.schedule_write()
        return True

    def schedule_write(self) -> None:
        """Have this client's replies written at the end of the event-loop pass."""
        node = self.node
        if self.close_after_reply or node.loop is None:
            self.flush()
        elif not self.write_pending:
            # Replies leave at the end of this event-loop pass, after every
            # readable client has been served (Redis: beforeSleep ->
            # handleClientsWithPendingWrites); see Node.flush_pending_writes.
            self.write_pending = True
            pending = node.pending_writes
            if not pending:
                node.loop.call_soon(node.flush_pending_writes)
            pending.append(self)

    def _check_query_buffer(self) -> None:
        if self.reader.buffered() > self.node.config["client-query-buffer-limit"]:
            self.node.stat_client_qbuf_limit_disconnections += 1
            self.node.log("warning", f"Closing client that reached max query buffer length: id={self.id} addr={self.addr}")
            self.close()

    # --- the hot loop -------------------------------------------------------------------

    def process_input(self) -> None:
        """Run every complete command in the buffer; write the replies in one go.

        Timing: commands flagged "fast" (O(1) in Redis's terms) are not timed
        one by one -- two clock reads would cost a tenth of such a command.
        The batch's time, less the commands timed individually, is shared
        among them, so INFO commandstats stays accurate on average.  Every
        other command is timed exactly, for the slow log.
        """
        reader = self.reader
        out = self.out
        node = self.node
        fast_table = _FAST
        # cluster mode: the slots served here (updated in place, never replaced)
        owned = node.cluster.owned if node.cluster is not None else None
        self.processing = True
        batch: list = []  # fast-path commands not timed individually
        timed_ns = 0  # time of the commands timed individually
        ntimed = 0  # fast-path commands timed individually
        t_start = t_prev = _perf_ns()
        try:
            while True:
                # --- read one command ---
                # RequestReader.gets, with its hiredis fast path inlined (about
                # 4% of a pipelined GET/SET, counted with callgrind).  Anything
                # but a plain request of bulk strings goes back to the reader.
                if reader.fast and reader._hr.has_data():
                    try:
                        argv = reader._hr.gets()
                    except hiredis.ProtocolError:
                        argv = reader.anomaly()
                    else:
                        if argv.__class__ is list and argv and not reader._partial:
                            for a in argv:
                                if a.__class__ is not bytes:
                                    argv = reader.anomaly()
                                    break
                            else:
                                reader.taken += 1
                        else:
                            argv = reader.resume(argv)
                else:
                    argv = reader.gets()
                if argv is False:
                    break
                # --- run it ---
                cmd = fast_table.get(argv[0])
                if cmd is None:
                    cmd = lookup(argv[0])
                if (
                    cmd is not None
                    and self.fast
                    and cmd.fastpath
                    and ((a := cmd.arity) == len(argv) or (a < 0 and len(argv) >= -a))
                    and (
                        node.fast
                        # cluster mode: keyless, or one key in a slot this node serves
                        or node.cluster_fast
                        and (
                            cmd in cluster_direct
                            or cmd in cluster_first_key
                            # the slot of argv[1]: "123 in k" (no '{') is the cheap test
                            and owned[crc_hqx(k, 0) & 16383 if 123 not in (k := argv[1]) else key_slot(k)]
                        )
                    )
                ):
                    if cmd.untimed:
                        try:
                            reply = cmd.handler(self, argv)
                        except Exception as e:  # a handler bug must never kill the node
                            reply = dispatch.internal_error(self, cmd, e)
                        batch.append(cmd)
                        batch_argv = argv  # the slow log needs it when the batch is one command
                        t_prev = 0
                        if reply is not None and reply[0] == 45:  # errorstats, failed_calls
                            dispatch.account_extra(self, cmd, argv, 0, reply)
                    else:
                        # One clock read per command: the previous read starts this one.
                        if not t_prev:
                            t_prev = _perf_ns()
                        try:
                            reply = cmd.handler(self, argv)
                        except Exception as e:
                            reply = dispatch.internal_error(self, cmd, e)
                        t = _perf_ns()
                        dt = t - t_prev
                        t_prev = t
                        timed_ns += dt
                        cmd.calls += 1
                        cmd.ns += dt
                        ntimed += 1
                        if dt > node.slowlog_threshold_ns or (reply is not None and reply[0] == 45):
                            dispatch.account_extra(self, cmd, argv, dt, reply)
                    if reply is not None:
                        out.append(reply)
                else:
                    t0 = _perf_ns()
                    reply = dispatch.process_command(self, argv, cmd)
                    t_prev = _perf_ns()
                    timed_ns += t_prev - t0
                    if reply is not None:
                        out.append(reply)
                    if self.blocked or self.waiting_pause or self.close_after_reply or self.closing:
                        break
        except ProtocolError as e:
            self.node.log("verbose", f"Protocol error ({e}) from client: id={self.id} addr={self.addr}")
            out.append(replies.proto_error(str(e)))
            self.close_after_reply = True
        finally:
            self.processing = False
            if ntimed:
                node.stat_numcommands += ntimed
                self.last_cmd = cmd
            if batch:
                n = len(batch)
                elapsed = _perf_ns() - t_start - timed_ns
                share = elapsed // n
                for cmd in batch:
                    cmd.calls += 1
                    cmd.ns += share
                node.stat_numcommands += n
                self.last_cmd = batch[-1]
                if n == 1 and elapsed > node.slowlog_threshold_ns and "skip_slowlog" not in batch[0].flags:
                    dispatch.slowlog_push(self, batch_argv, elapsed // 1000)
        if out:
            self.schedule_write()
        if self.close_after_reply:
            self.close()

    def flush(self) -> None:
        out = self.out
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        if self.node.propagate_flush_hooks:
            # The AOF is written (and fsynced with appendfsync always) before
            # any reply leaves: once per batch of replies, as Redis does it once
            # per event-loop pass (flushAppendOnlyFile in beforeSleep).
            for hook in self.node.propagate_flush_hooks:
                hook()
        if self.transport is None or self.closing:
            return
        self.transport.write(data)
        self.node.stat_net_output_bytes += len(data)

    # --- out-of-band replies ----------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Deliver bytes outside the request/reply cycle (pub/sub, unblocking, MONITOR)."""
        if self.processing:
            self.out.append(data)
            return
        if self.out:
            # Pub/sub frames waiting for their batched write (server/pubsub.py)
            # must go out before these bytes.
            self.out.append(data)
            self.flush()
            return
        if self.transport is None or self.closing:
            return
        if self.node.propagate_flush_hooks:
            for hook in self.node.propagate_flush_hooks:  # the AOF first, as in flush()
                hook()
        self.transport.write(data)
        self.node.stat_net_output_bytes += len(data)

    def output_buffer_size(self) -> int:
        t = self.transport
        return t.get_write_buffer_size() if t is not None and not self.closing else 0

    def close(self) -> None:
        if self.transport is not None and not self.closing:
            self.closing = True
            self.transport.close()

    # --- blocking and pausing ------------------------------------------------------

    def block(self, state) -> None:
        """Stop taking commands until ``unblock``; ``state`` belongs to the blocking module."""
        self.blocked = True
        self.bstate = state

    def unblock(self, reply: bytes | None) -> None:
        """Deliver the blocked command's reply and resume reading buffered commands."""
        self.blocked = False
        self.bstate = None
        if reply is not None:
            self.send(reply)
        if not self.closing:
            self.node.loop.call_soon(self._resume)

    def _resume(self) -> None:
        if not (self.blocked or self.waiting_pause or self.closing):
            self.process_input()

    def wait_for_unpause(self, argv) -> None:
        self.waiting_pause = True
        self.pending_argv = argv
        self.node.paused_clients.append(self)

    def resume_after_pause(self) -> None:
        self.waiting_pause = False
        argv, self.pending_argv = self.pending_argv, None
        if self.closing or argv is None:
            return
        self.processing = True
        try:
            reply = dispatch.process_command(self, argv, lookup(argv[0]))
        finally:
            self.processing = False
        if reply is not None:
            self.out.append(reply)
        if self.out:
            self.flush()
        if self.close_after_reply:
            self.close()
            return
        self._resume()

    # --- cron ---------------------------------------------------------------------------

    def cron(self, now: float, timeout: int) -> None:
        """clientsCron: idle timeout (not for pub/sub, blocked, replica or master links)."""
        if (
            timeout
            and not self.blocked
            and not (self.channels or self.patterns or self.shard_channels)
            and not self.replica
            and not self.is_master_link
            and now - self.last_interaction > timeout
        ):
            self.node.log("verbose", "Closing idle client")
            self.close()


_DENIED_TEXT = (
    "DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    "same host the server is running, however MAKE SURE Redis is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    "you can just disable the protected mode by editing the Redis configuration file, and setting "
    "the protected mode option to 'no', and then restarting the server. 3) If you started the "
    "server manually just for testing, restart it with the '--protected-mode no' option. 4) Set "
    "up an authentication password for the default user. NOTE: You only need to do one of the "
    "above things in order for the server to start accepting connections from the outside."
)

def _fmt_addr(addr) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        if host.startswith("::ffff:"):
            host = host[7:]
        return f"{host}:{addr[1]}"
    if isinstance(addr, str):
        return addr
    return ""
