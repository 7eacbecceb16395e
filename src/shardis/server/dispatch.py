"""process_command: Redis's checks, in Redis's order, then call().

Read top to bottom this is server.c's processCommand: lookup -> arity ->
authentication -> MULTI restrictions -> cluster redirection -> memory ->
disk-error write refusal -> read-only replica -> pub/sub context -> stale
replica -> loading -> pause -> queue (MULTI) or execute.  The order decides
which error a client sees, so it follows Redis exactly.

Subsystems plug in where Redis has a check: ``CLUSTER_REDIRECT`` is set by
cluster mode, ``EXEC_HOOK`` by the transactions module.  ``call`` runs a
handler with the accounting Redis does (commandstats, slow log, MONITOR,
propagation to the AOF and replicas).
"""

from __future__ import annotations

import time
import traceback

from ..keyspace import blocking
from . import replies
from .commandtable import lookup

__all__ = ["process_command", "call", "internal_error", "slowlog_push", "reject", "unknown_command_error"]

SLOWLOG_ENTRY_MAX_ARGC = 32  # arguments kept per slow log entry (slowlog.h)
SLOWLOG_ENTRY_MAX_STRING = 128  # bytes kept per argument

# Hooks set by subsystems (kept as module attributes so the hot path reads one global).
CLUSTER_REDIRECT = None  # callable(client, cmd, argv) -> error bytes or None
QUEUE_MULTI = None  # callable(client, cmd, argv) -> reply bytes (set by transactions)
DISCARD_TRANSACTION = None  # callable(client) (set by transactions)

# Commands allowed in RESP2 pub/sub context.
_PUBSUB_ALLOWED = {b"ping", b"subscribe", b"ssubscribe", b"unsubscribe", b"sunsubscribe",
                   b"psubscribe", b"punsubscribe", b"quit", b"reset"}
# Commands never refused for memory inside MULTI (processCommand's reject_cmd_on_oom).
_OOM_ALWAYS_IN_MULTI = {b"exec", b"discard", b"quit", b"reset"}
# Commands that run immediately inside MULTI instead of being queued.
_MULTI_IMMEDIATE = {b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"}


def _cstr(b: bytes) -> bytes:
    """What C's %s prints of an argument: up to the first NUL byte."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def unknown_command_error(argv) -> bytes:
    name = _cstr(argv[0])[:128]
    args = b""
    for a in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'" + _cstr(a)[: 128 - len(args)] + b"' "
    return replies.err(b"ERR unknown command '" + name + b"', with args beginning with: " + args)


def reject(client, error: bytes, cmd=None) -> bytes:
    """rejectCommand: an error that also aborts a pending MULTI.

    A rejected EXEC discards the transaction and answers
    ``EXECABORT Transaction discarded because of: <reason>`` (execCommandAbort),
    the reason without the ``ERR`` prefix of formatted rejections.
    """
    if cmd is not None:
        cmd.rejected_calls += 1
    if cmd is not None and cmd.fullname_b == b"exec":
        if DISCARD_TRANSACTION is not None:
            DISCARD_TRANSACTION(client)
        reason = error[1:].rstrip(b"\r\n")
        if reason.startswith(b"ERR "):
            reason = reason[4:]
        error = replies.err(replies.EXECABORT_BECAUSE % reason)
        count_error(client.node, error)
        return error
    if client.multi:
        client.dirty_exec = True
    count_error(client.node, error)
    return error


def count_error(node, error: bytes) -> None:
    """errorstats: count an error reply by its code (first word)."""
    node.stat_total_error_replies += 1
    code = error[1:].split(b" ", 1)[0].rstrip(b"\r\n")
    node.errorstats[code] = node.errorstats.get(code, 0) + 1


def process_command(client, argv, cmd):
    """Run one request through every check; returns the reply frame (or None)."""
    node = client.node

    # 0. clients blocked on keys that the previous command made ready are
    # served before anything else runs (handleClientsBlockedOnKeys)
    if blocking.ready_keys_pending(node):
        blocking.handle_clients_blocked_on_keys(node)

    # 1. lookup, with subcommands for container commands
    if cmd is None:
        cmd = lookup(argv[0])
        if cmd is None:
            return reject(client, unknown_command_error(argv))
    # (a container with a handler of its own, like COMMAND, runs it when called alone)
    if cmd.subcommands and (len(argv) > 1 or cmd.handler is None):
        if len(argv) == 1:
            return reject(client, replies.wrong_arity(cmd.fullname_b))
        sub = cmd.subcommands.get(argv[1].lower())
        if sub is None:
            return reject(
                client,
                replies.err(
                    b"ERR unknown subcommand '" + _cstr(argv[1])[:128] + b"'. Try "
                    + cmd.name.upper().encode() + b" HELP."
                ),
            )
        cmd = sub

    # 2. arity
    if not cmd.arity_ok(len(argv)):
        return reject(client, replies.wrong_arity(cmd.fullname_b), cmd)

    # 3. authentication
    if not client.authenticated and not cmd.noauth:
        return reject(client, replies.NOAUTH, cmd)

    # 4. commands refused inside MULTI
    if client.multi and cmd.nomulti:
        return reject(client, replies.err(replies.NOT_IN_MULTI_CMD), cmd)

    # 5. cluster redirection
    if CLUSTER_REDIRECT is not None and node.cluster is not None:
        error = CLUSTER_REDIRECT(client, cmd, argv)
        if error is not None:
            if cmd.name == "exec" and DISCARD_TRANSACTION is not None:
                DISCARD_TRANSACTION(client)
            elif client.multi:
                client.dirty_exec = True
            cmd.rejected_calls += 1
            count_error(node, error)
            return error

    is_write = cmd.write or (cmd.name == "exec" and any(c.write for c, _ in client.mstate))

    # 6. maxmemory (eviction is not implemented: with maxmemory set we refuse
    # writes past it, as the noeviction policy does)
    maxmemory = node.config["maxmemory"]
    if maxmemory and not client.is_master_link and (
        cmd.denyoom
        # Queuing inside MULTI can use unbounded memory, so every queued command
        # is refused, but never EXEC (unless it holds a denyoom command), DISCARD,
        # QUIT or RESET.
        or (client.multi and cmd.fullname_b not in _OOM_ALWAYS_IN_MULTI)
        or (cmd.fullname_b == b"exec" and any(c.denyoom for c, _ in client.mstate))
    ):
        from .memory import used_memory

        if used_memory() > maxmemory:
            return reject(client, replies.OOM, cmd)

    # 7. writes refused while the last background save failed
    if (
        not node.lastbgsave_ok
        and node.config["stop-writes-on-bgsave-error"]
        and node.config["save"]
        and not client.is_master_link
        and (is_write or cmd.name == "ping")
    ):
        return reject(client, replies.MISCONF, cmd)
    if node.aof_write_error is not None and not client.is_master_link and (is_write or cmd.name == "ping"):
        return reject(client, replies.err_fmt(replies.MISCONF_AOF, node.aof_write_error), cmd)

    # 8. read-only replica
    if node.master is not None and node.config["replica-read-only"] and not client.is_master_link and is_write:
        return reject(client, replies.READONLY, cmd)

    # 9. RESP2 pub/sub context
    if (
        client.resp.version == 2
        and (client.channels or client.patterns or client.shard_channels)
        and cmd.name.encode() not in _PUBSUB_ALLOWED
    ):
        return reject(client, replies.err_fmt(replies.PUBSUB_CONTEXT, cmd.fullname), cmd)

    # 10. stale replica
    if (
        node.master is not None
        and not node.master.connected
        and not node.config["replica-serve-stale-data"]
        and (not cmd.stale_ok or (cmd.fullname_b == b"exec" and not all(c.stale_ok for c, _ in client.mstate)))
    ):
        return reject(client, replies.MASTERDOWN, cmd)

    # 11. loading
    if node.loading and (
        not cmd.loading_ok or (cmd.fullname_b == b"exec" and not all(c.loading_ok for c, _ in client.mstate))
    ):
        return reject(client, replies.LOADING, cmd)

    # 12. CLIENT PAUSE: park the client until the pause ends (an EXEC is paused
    # when one of its queued commands would be)
    if not client.replica and node.paused_until and (
        node.is_paused_for(cmd) or (cmd.fullname_b == b"exec" and any(node.is_paused_for(c) for c, _ in client.mstate))
    ):
        client.wait_for_unpause(argv)
        return None

    # 13. queue inside MULTI, or execute
    if client.multi and cmd.fullname_b not in _MULTI_IMMEDIATE:
        return QUEUE_MULTI(client, cmd, argv)
    return call(client, cmd, argv)


def account(client, cmd, argv, dur_ns: int, reply) -> None:
    """The statistics call() keeps for one executed command."""
    node = client.node
    cmd.calls += 1
    cmd.ns += dur_ns
    node.stat_numcommands += 1
    client.last_cmd = cmd
    if reply is not None and reply[:1] == b"-":
        cmd.failed_calls += 1
        count_error(node, reply)
    if dur_ns > node.slowlog_threshold_ns and "skip_slowlog" not in cmd.flags:
        slowlog_push(client, argv, dur_ns // 1000)


def account_extra(client, cmd, argv, dur_ns: int, reply) -> None:
    """The rarer part of the accounting (errors, slow log) for the connection's fast path."""
    node = client.node
    if reply is not None and reply[:1] == b"-":
        cmd.failed_calls += 1
        count_error(node, reply)
    if dur_ns > node.slowlog_threshold_ns and "skip_slowlog" not in cmd.flags:
        slowlog_push(client, argv, dur_ns // 1000)


def propagate_as(client, argv) -> None:
    """Have ``call`` replicate/AOF the running command as ``argv`` instead of as received.

    Only while something is propagated: on the connection's fast path
    (nothing propagated) no one consumes ``propagate_argv``, and a stale
    rewrite left on the client would be propagated in place of its next
    write once an AOF or a replica appears.
    """
    if client.node.propagate_hooks:
        client.propagate_argv = argv


def call(client, cmd, argv):
    """Execute ``cmd`` with Redis's accounting.  Returns the reply frame."""
    node = client.node
    dirty_before = node.dirty
    # A rewrite left by a handler that ran on the connection's fast path (where
    # nothing propagates and nothing clears it) must not stand in for this command.
    client.propagate_argv = None
    node.call_depth += 1
    t0 = time.perf_counter_ns()
    try:
        reply = cmd.handler(client, argv)
    except Exception as e:  # a handler bug must never kill the node
        reply = internal_error(client, cmd, e)
    finally:
        node.call_depth -= 1
    account(client, cmd, argv, time.perf_counter_ns() - t0, reply)
    own_line = None
    if node.monitors and not cmd.admin and "skip_monitor" not in cmd.flags:
        own_line = feed_monitors(client, argv)
    # Like Redis, whatever changed the dataset is propagated (PFCOUNT refreshing
    # its cached cardinality too), not only commands flagged "write" (SAVE
    # resets the counter: only an increase counts, as in call()).  Never
    # EXEC itself: its commands were propagated, wrapped as Redis does, by EXEC.
    if node.dirty > dirty_before and node.propagate_hooks and cmd.fullname_b != b"exec":
        node.propagate(client.db.id, getattr(client, "propagate_argv", None) or argv)
    client.propagate_argv = None
    # CLIENT REPLY OFF / SKIP, as call() handles CLIENT_REPLY_SKIP(_NEXT)
    if client.reply_off or client.reply_skip or client.reply_skip_next:
        if client.reply_off or client.reply_skip:
            reply = own_line = None
        client.reply_skip = client.reply_skip_next
        client.reply_skip_next = False
        client.update_fast()
    if own_line is not None:
        # A monitor watching its own commands sees each line after the reply, as in Redis.
        reply = own_line if reply is None else reply + own_line
    if not node.call_depth and node.propagate_flush_hooks and not client.processing:
        # The top-level command (or EXEC) has propagated everything: the AOF is
        # written (and fsynced with appendfsync always) before the reply leaves.
        # A client in the middle of a batch does this once, when its replies
        # are flushed (Client.flush).
        for hook in node.propagate_flush_hooks:
            hook()
    return reply


def internal_error(client, cmd, exc: Exception) -> bytes:
    """Turn an unexpected exception in a handler into an error reply and a log line."""
    node = client.node
    node.log("warning", f"Internal error in command '{cmd.fullname}': {exc!r}\n{traceback.format_exc()}")
    node.stat_unexpected_error_replies += 1
    return replies.err(f"ERR internal error in '{cmd.fullname}': {exc!r}")


def slowlog_push(client, argv, dur_us: int) -> None:
    node = client.node
    maxlen = node.config["slowlog-max-len"]
    if maxlen <= 0:
        return
    args = []
    argc = len(argv)
    shown = min(argc, SLOWLOG_ENTRY_MAX_ARGC)
    for i in range(shown):
        if shown != argc and i == shown - 1:
            args.append(b"... (%d more arguments)" % (argc - shown + 1))
            break
        a = argv[i]
        if len(a) > SLOWLOG_ENTRY_MAX_STRING:
            a = a[:SLOWLOG_ENTRY_MAX_STRING] + b"... (%d more bytes)" % (len(a) - SLOWLOG_ENTRY_MAX_STRING)
        args.append(bytes(a))
    entry = (node.slowlog_next_id, int(time.time()), dur_us, args, client.addr.encode(), client.name)
    node.slowlog_next_id += 1
    node.slowlog.insert(0, entry)
    del node.slowlog[maxlen:]


def feed_monitors(client, argv):
    """MONITOR: ``+<time> [<db> <addr>] "arg" ...`` to every monitoring client.

    Returns the line when ``client`` itself is a monitor: call() appends it
    after the command's own reply.
    """
    node = client.node
    now = time.time()
    parts = [b'"' + _repr_arg(a) + b'"' for a in argv]
    line = b"+%.6f [%d %s] %s\r\n" % (now, client.db.id, client.addr.encode(), b" ".join(parts))
    own = None
    for m in list(node.monitors):
        if m is client:
            own = line
        else:
            m.send(line)
    return own


def _repr_arg(a: bytes) -> bytes:
    """sdscatrepr without the surrounding quotes."""
    out = bytearray()
    for c in a:
        if c == 92:
            out += b"\\\\"
        elif c == 34:
            out += b'\\"'
        elif c == 10:
            out += b"\\n"
        elif c == 13:
            out += b"\\r"
        elif c == 9:
            out += b"\\t"
        elif c == 7:
            out += b"\\a"
        elif c == 8:
            out += b"\\b"
        elif 32 <= c < 127:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    return bytes(out)
