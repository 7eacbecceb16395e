"""Server commands: INFO, CONFIG, COMMAND, DEBUG, SLOWLOG, LATENCY, MEMORY, FUNCTION,
MONITOR, SHUTDOWN and the small whole-server ones (DBSIZE, FLUSHDB, FLUSHALL,
SWAPDB, TIME, LASTSAVE, ROLE, LOLWUT).

Everything a client or a tool reads from these replies follows redis-server
7.0.15: reply shapes in both protocols (maps, sets, verbatim strings in
RESP3), the HELP texts, every error text, the order of precedence among
errors (CONFIG SET reports an unknown or immutable name before a bad value).

COMMAND is built from the command table, so it describes exactly what this
node implements: arity, flags and ACL categories in Redis's order, legacy key
positions, key specs and documentation.  A command may carry Redis's key
specs and documentation (``Command.key_specs``, ``arguments``, ``history``,
``doc_flags``, ``deprecated_since``, ``replaced_by``; shapes below, at
``key_specs``/``command_docs``); when it carries no key specs, one is derived
from its (first, last, step) positions.

Persistence, replication and scripting are other modules.  Where these
commands must reach them they call hooks that those modules fill in
(``SHUTDOWN_SAVE``, ``FLUSHALL_HOOKS``, ``DEBUG_SUBCOMMANDS``,
``info.register``) and answer as Redis would while a hook is missing.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import signal
import struct
import time

from .. import REDIS_VERSION
from ..keyspace.glob import stringmatch
from ..keyspace.lfu import LRU_CLOCK_MAX, idle_seconds
from ..keyspace.objects import Hash, List, Set, ZSet, string_encoding
from ..protocol.resp import bulk, integer
from ..server import info as INFO
from ..server import memory
from ..server import replies as R
from ..server.commandtable import TABLE, KeySpecError, arg, command, describe, lookup, subcommand
from ..server.config import _BY_NAME as _CONFIG_BY_NAME
from ..server.config import ConfigError
from .connection import _tok, help_reply, string2ll, subcommand_syntax_error

__all__ = [
    "SHUTDOWN_SAVE",
    "FLUSHALL_HOOKS",
    "DEBUG_SUBCOMMANDS",
    "command_info",
    "dataset_digest",
    "value_digest",
]

# --- hooks other modules fill in ----------------------------------------------------------

# callable(node) -> bool: save the RDB for SHUTDOWN (True on success).  Set by persistence.
SHUTDOWN_SAVE = None
# callables(node) run after FLUSHALL (Redis saves an RDB there when save points are set).
FLUSHALL_HOOKS: list = []
# DEBUG subcommands other modules provide (RELOAD, LOADAOF ...): lower-case name -> handler(c, argv).
DEBUG_SUBCOMMANDS: dict = {}

OBJ_SHARED_INTEGERS = 10000  # integers below this are shared objects in Redis (refcount INT_MAX)
OBJ_SHARED_REFCOUNT = 2147483647
SLOWLOG_DEFAULT_COUNT = 10
LATENCY_HISTOGRAM_FIRST_NS = 1024  # LATENCY HISTOGRAM's first bucket ends at 1024 ns (1 usec)

_SERVER = dict(group="server")


def _text_reply(c, text: bytes) -> bytes:
    """A report: bulk string in RESP2, verbatim "txt" string in RESP3."""
    return c.resp.verbatim(text) if c.resp.version == 3 else bulk(text)


def _status(s: bytes) -> bytes:
    return b"+" + s + b"\r\n"


def _flush_flags(argv):
    """getFlushCommandFlags: None for the default, True for ASYNC, False for SYNC, or an error."""
    if len(argv) > 2:
        return R.SYNTAX
    if len(argv) == 2:
        opt = argv[1].lower()
        if opt == b"sync":
            return False
        if opt == b"async":
            return True
        return R.SYNTAX
    return None


# --- INFO -----------------------------------------------------------------------------------


@describe(history=(("7.0.0", "Added support for taking multiple section arguments."),))
@describe(arguments=(arg("section", "string", flags="optional multiple"),))
@command("info", -1, "loading stale sentinel", categories="dangerous", **_SERVER,
         summary="Get information and statistics about the server", since="1.0.0", complexity="O(1)",
         tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"))
def info_command(c, argv):
    return _text_reply(c, INFO.generate(c.node, argv[1:]))


# --- CONFIG -------------------------------------------------------------------------------

CONFIG_HELP = (
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
)

# Directives CONFIG SET refuses unless enable-protected-configs allows it (config.c PROTECTED_CONFIG).
PROTECTED_CONFIGS = frozenset({"dir", "dbfilename"})
# Directives whose value CONFIG SET hides from the slow log and MONITOR (SENSITIVE_CONFIG).
SENSITIVE_CONFIGS = frozenset({"requirepass", "masterauth"})

_CONFIG = dict(group="server", categories="")


@subcommand("config", "help", 2, "loading stale", **_CONFIG,
            summary="Show helpful text about the different subcommands", since="5.0.0", complexity="O(1)")
def config_help(c, argv):
    return help_reply("CONFIG", CONFIG_HELP)


def _has_glob(p: bytes) -> bool:
    return any(ch in p for ch in b"*?[")


@describe(history=(("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),))
@describe(arguments=(arg("parameter", "block", arg("parameter", "string"), flags="multiple"),))
@subcommand("config", "get", -3, "admin noscript loading stale", **_CONFIG,
            summary="Get the values of configuration parameters", since="2.0.0",
            complexity="O(N) when N is the number of configuration parameters provided")
def config_get(c, argv):
    config = c.node.config
    found: dict = {}  # name as replied -> value
    for pat in argv[2:]:
        if not _has_glob(pat):
            name = pat.decode("utf-8", "surrogateescape")
            d = config.directive(name)
            if d is None or pat in found:
                continue
            found[pat] = config.format_value(name.lower())
            continue
        for name in _CONFIG_NAMES:
            if name not in found and stringmatch(pat, name, nocase=True):
                found[name] = config.format_value(name.decode())
    parts = [c.resp.map_header(len(found))]
    for name, value in found.items():
        parts.append(bulk(name))
        parts.append(bulk(value))
    return b"".join(parts)


# Every name CONFIG GET patterns are matched against: directives and their aliases.
_CONFIG_NAMES = [name.encode() for name in _CONFIG_BY_NAME]


def _allow_protected(c, setting: str) -> bool:
    """allowProtectedAction: "yes", or "local" from a loopback or unix socket client."""
    if setting == "yes":
        return True
    if setting == "local":
        return is_local_client(c)
    return False


def is_local_client(c) -> bool:
    addr = c.addr
    if not addr:
        return True  # unix socket
    host = addr.rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("::1", "[::1]")


@describe(history=(("7.0.0", "Added the ability to set multiple parameters in one call."),))
@describe(arguments=(arg("parameter_value", "block", arg("parameter", "string"), arg("value", "string"), flags="multiple"),))
@subcommand("config", "set", -4, "admin noscript loading stale", **_CONFIG,
            summary="Set configuration parameters to the given values", since="2.0.0",
            complexity="O(N) when N is the number of configuration parameters provided",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def config_set(c, argv):
    argc = len(argv)
    if argc % 2:
        return R.SYNTAX
    config = c.node.config
    pairs = []
    invalid_name = None
    err_name = None
    errstr = None
    seen = []
    for i in range(2, argc, 2):
        name_b = argv[i]
        name = name_b.decode("utf-8", "surrogateescape")
        d = config.directive(name)
        if d is None:
            if err_name is None and invalid_name is None:
                invalid_name = name_b
            continue
        if invalid_name is None and err_name is None:
            if not d.mutable:
                errstr, err_name = "can't set immutable config", name_b
            elif d.name in PROTECTED_CONFIGS and not _allow_protected(c, config["enable-protected-configs"]):
                errstr, err_name = "can't set protected config", name_b
            elif d in seen:
                errstr, err_name = "duplicate parameter", name_b
        seen.append(d)
        pairs.append((name_b, d, argv[i + 1]))
    # Sensitive values never reach the slow log or MONITOR, even on error.
    for i in range(2, argc, 2):
        d = config.directive(argv[i].decode("utf-8", "surrogateescape"))
        if d is not None and d.name in SENSITIVE_CONFIGS:
            argv[i + 1] = b"(redacted)"
    if invalid_name is not None:
        return R.err(b"ERR Unknown option or number of arguments for CONFIG SET - '" + invalid_name + b"'")
    if err_name is not None:
        return R.err(b"ERR CONFIG SET failed (possibly related to argument '" + err_name + b"') - " + errstr.encode())
    # Parse every value first: nothing changes unless all of them are valid.
    parsed = []
    for name_b, d, value in pairs:
        try:
            parsed.append((name_b, d, config.parse_value(d, [value])))
        except ConfigError as e:
            return R.err(b"ERR CONFIG SET failed (possibly related to argument '" + name_b + b"') - " + str(e).encode())
    old = [(d, config.values[d.name]) for _, d, _ in parsed]
    done = []
    for name_b, d, value in parsed:
        try:
            config.set_value(d.name, value)
            done.append(d)
        except (ConfigError, ValueError, OSError) as e:
            for dd, v in reversed(old[: len(done) + 1]):
                try:
                    config.set_value(dd.name, v)
                except (ConfigError, ValueError, OSError):
                    config.values[dd.name] = v
            return R.err(b"ERR CONFIG SET failed (possibly related to argument '" + name_b + b"') - " + str(e).encode())
    c.node.update_fast()  # e.g. a maxmemory limit takes writes off the fast path, which skips the OOM check
    return R.OK


@subcommand("config", "resetstat", 2, "admin noscript loading stale", **_CONFIG,
            summary="Reset the stats returned by INFO", since="2.0.0", complexity="O(1)")
def config_resetstat(c, argv):
    INFO.reset_stats(c.node)
    return R.OK


@subcommand("config", "rewrite", 2, "admin noscript loading stale", **_CONFIG,
            summary="Rewrite the configuration file with the in memory configuration", since="2.8.0",
            complexity="O(1)")
def config_rewrite(c, argv):
    node = c.node
    if not node.config.file:
        return R.NO_CONFIG_FILE
    try:
        node.config.rewrite()
    except ConfigError as e:
        return R.err_fmt(R.CONFIG_REWRITE_FAILED, str(e))
    except OSError as e:
        node.log("warning", f"CONFIG REWRITE failed: {e.strerror}")
        return R.err_fmt(R.CONFIG_REWRITE_FAILED, e.strerror or str(e))
    node.log("notice", "CONFIG REWRITE executed with success.")
    return R.OK


# --- the keyspace as a whole ----------------------------------------------------------------


@command("dbsize", 1, "readonly fast", categories="keyspace", **_SERVER,
         summary="Return the number of keys in the selected database", since="1.0.0", complexity="O(1)",
         tips=("request_policy:all_shards", "response_policy:agg_sum"))
def dbsize_command(c, argv):
    return integer(len(c.db.data))


@describe(history=(("4.0.0", "Added the `ASYNC` flushing mode modifier."), ("6.2.0", "Added the `SYNC` flushing mode modifier.")))
@describe(arguments=(arg("async", "oneof", _tok("async", "ASYNC", since="4.0.0"), _tok("sync", "SYNC", since="6.2.0"), flags="optional"),))
@command("flushdb", -1, "write", categories="keyspace dangerous", **_SERVER,
         summary="Remove all keys from the current database", since="1.0.0",
         complexity="O(N) where N is the number of keys in the selected database",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def flushdb_command(c, argv):
    mode = _flush_flags(argv)
    if mode.__class__ is bytes:
        return mode
    removed = c.db.flush()
    _count_flush(c, argv, removed)
    return R.OK


def _count_flush(c, argv, removed: int) -> None:
    """server.dirty += keys removed; an empty flush changes nothing but is still
    propagated (forceCommandPropagation), so replicas and the AOF see every FLUSH."""
    node = c.node
    node.dirty += removed
    if not removed:
        node.propagate(c.db.id, argv)
    else:
        memory.refresh()  # the memory is free now: a maxmemory check must see it at once


@describe(history=(("4.0.0", "Added the `ASYNC` flushing mode modifier."), ("6.2.0", "Added the `SYNC` flushing mode modifier.")))
@describe(arguments=(arg("async", "oneof", _tok("async", "ASYNC", since="4.0.0"), _tok("sync", "SYNC", since="6.2.0"), flags="optional"),))
@command("flushall", -1, "write", categories="keyspace dangerous", **_SERVER,
         summary="Remove all keys from all databases", since="1.0.0",
         complexity="O(N) where N is the total number of keys in all databases",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def flushall_command(c, argv):
    mode = _flush_flags(argv)
    if mode.__class__ is bytes:
        return mode
    removed = flush_all(c.node)
    _count_flush(c, argv, removed)
    return R.OK


def flush_all(node) -> int:
    """flushAllDataAndResetRDB: empty every database, then let persistence save.

    Returns the number of keys removed.  The hooks may save an RDB; the
    dirty counter is kept as it was so the FLUSHALL is still propagated.
    """
    removed = 0
    for db in node.dbs:
        removed += db.flush()
    saved = node.dirty
    for hook in list(FLUSHALL_HOOKS):
        hook(node)
    node.dirty = saved
    return removed


@describe(arguments=(arg("index1", "integer"), arg("index2", "integer")))
@command("swapdb", 3, "write fast", categories="keyspace dangerous", **_SERVER,
         summary="Swaps two Redis databases", since="4.0.0",
         complexity="O(N) where N is the count of clients watching or blocking on keys from both databases.")
def swapdb_command(c, argv):
    node = c.node
    if node.cluster is not None or node.config["cluster-enabled"]:
        return R.SWAPDB_CLUSTER
    id1 = _int_or(argv[1], R.INVALID_FIRST_DB)
    if id1.__class__ is bytes:
        return id1
    id2 = _int_or(argv[2], R.INVALID_SECOND_DB)
    if id2.__class__ is bytes:
        return id2
    n = len(node.dbs)
    if not (0 <= id1 < n and 0 <= id2 < n):
        return R.DB_INDEX_OUT_OF_RANGE
    if id1 != id2:
        a, b = node.dbs[id1], node.dbs[id2]
        a.swap_contents(b)
        _signal_blocked_after_swap(a)
        _signal_blocked_after_swap(b)
    node.dirty += 1
    return R.OK


def _int_or(arg: bytes, error: bytes):
    """getIntFromObjectOrReply with a custom message (used for both bad and out-of-range)."""
    v = string2ll(arg)
    if v is None or not -(2**31) <= v < 2**31:
        return error
    return v


def _signal_blocked_after_swap(db) -> None:
    """scanDatabaseForReadyKeys: clients blocked on keys that now exist may be served."""
    if not db.blocking:
        return
    try:
        from ..keyspace import blocking
    except ImportError:
        return
    for key in list(db.blocking):
        if key in db.data:
            blocking.signal_key_ready(db, key)


# --- small server queries ----------------------------------------------------------------------


@command("time", 1, "loading stale fast", categories="", **_SERVER,
         summary="Return the current server time", since="2.6.0", complexity="O(1)",
         tips=("nondeterministic_output",))
def time_command(c, argv):
    now_us = time.time_ns() // 1000
    return b"*2\r\n" + bulk(b"%d" % (now_us // 1_000_000)) + bulk(b"%d" % (now_us % 1_000_000))


@command("lastsave", 1, "loading stale fast", categories="admin dangerous", **_SERVER,
         summary="Get the UNIX time stamp of the last successful save to disk", since="1.0.0",
         complexity="O(1)", tips=("nondeterministic_output",))
def lastsave_command(c, argv):
    return integer(c.node.lastsave)


@command("role", 1, "noscript loading stale fast sentinel", categories="admin dangerous", **_SERVER,
         summary="Return the role of the instance in the context of replication", since="2.8.12",
         complexity="O(1)")
def role_command(c, argv):
    node = c.node
    master = node.master
    if master is not None:
        return b"".join((
            b"*5\r\n$5\r\nslave\r\n",
            bulk(str(getattr(master, "host", "")).encode()),
            integer(int(getattr(master, "port", 0))),
            bulk(str(getattr(master, "role_state", "connect")).encode()),
            integer(int(getattr(master, "offset", -1))),
        ))
    parts = [b"*3\r\n$6\r\nmaster\r\n", integer(getattr(node, "master_repl_offset", 0))]
    parts.append(b"*%d\r\n" % len(node.replicas))
    for r in node.replicas:
        parts.append(b"*3\r\n")
        parts.append(bulk(str(getattr(r, "ip", "")).encode()))
        parts.append(bulk(b"%d" % int(getattr(r, "port", 0))))
        parts.append(bulk(b"%d" % int(getattr(r, "offset", 0))))
    return b"".join(parts)


@describe(arguments=(arg("version", "integer", token="VERSION", flags="optional"),))
@command("lolwut", -1, "readonly fast", **_SERVER,
         summary="Display some computer art and the Redis version", since="5.0.0", complexity="")
def lolwut_command(c, argv):
    if len(argv) >= 3 and argv[1].lower() == b"version":
        ver = string2ll(argv[2])
        if ver is None:
            return R.NOT_INTEGER
    return _text_reply(c, b"Redis ver. " + REDIS_VERSION.encode() + b"\n")


# --- MONITOR ------------------------------------------------------------------------------------


@command("monitor", 1, "admin noscript loading stale", **_SERVER,
         summary="Listen for all requests received by the server in real time", since="1.0.0",
         complexity="")
def monitor_command(c, argv):
    if c.monitor or c.replica:
        return None  # already a monitor (or a replica): ignored without a reply, as Redis does
    c.monitor = True
    node = c.node
    node.monitors.append(c)
    node.update_fast()
    return R.OK


# --- SHUTDOWN -------------------------------------------------------------------------------------


@describe(history=(("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),))
@describe(arguments=(
    arg("nosave_save", "oneof", _tok("nosave", "NOSAVE"), _tok("save", "SAVE"), flags="optional"),
    _tok("now", "NOW", since="7.0.0", flags="optional"),
    _tok("force", "FORCE", since="7.0.0", flags="optional"),
    _tok("abort", "ABORT", since="7.0.0", flags="optional"),
))
@command("shutdown", -1, "admin noscript loading stale no_multi sentinel allow_busy nofastpath", **_SERVER,
         summary="Synchronously save the dataset to disk and then shut down the server", since="1.0.0",
         complexity="O(N) when saving, where N is the total number of keys in all databases when "
                    "saving data, otherwise O(1)")
def shutdown_command(c, argv):
    nosave = save = now = force = abort = False
    for a in argv[1:]:
        opt = a.lower()
        if opt == b"nosave":
            nosave = True
        elif opt == b"save":
            save = True
        elif opt == b"now":
            now = True
        elif opt == b"force":
            force = True
        elif opt == b"abort":
            abort = True
        else:
            return R.SYNTAX
    if (abort and (nosave or save or now or force)) or (nosave and save):
        return R.SYNTAX
    if abort:
        return R.NO_SHUTDOWN_IN_PROGRESS  # shutdowns here never wait, so none is ever in progress
    node = c.node
    if (node.config["save"] and not nosave) or save:
        node.log("notice", "Saving the final RDB snapshot before exiting.")
        ok = SHUTDOWN_SAVE(node) if SHUTDOWN_SAVE is not None else False
        if not ok:
            if force:
                node.log("warning", "Error trying to save the DB. Exit anyway.")
            else:
                node.log("warning", "Error trying to save the DB, can't exit.")
                node.log("warning", "Errors trying to shut down the server. Check the logs for more information.")
                return R.SHUTDOWN_ERR
    c.close_after_reply = True
    node.request_shutdown(0)
    return None


# --- SLOWLOG ---------------------------------------------------------------------------------------

SLOWLOG_HELP = (
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
)


@subcommand("slowlog", "help", 2, "loading stale", **_SERVER,
            summary="Show helpful text about the different subcommands", since="6.2.0", complexity="O(1)")
def slowlog_help(c, argv):
    return help_reply("SLOWLOG", SLOWLOG_HELP)


@describe(history=(("4.0.0", "Added client IP address, port and name to the reply."),))
@describe(arguments=(arg("count", "integer", flags="optional"),))
@subcommand("slowlog", "get", -2, "admin loading stale", **_SERVER,
            summary="Get the slow log's entries", since="2.2.12",
            complexity="O(N) where N is the number of entries returned",
            tips=("request_policy:all_nodes", "nondeterministic_output"))
def slowlog_get(c, argv):
    argc = len(argv)
    if argc > 3:
        return subcommand_syntax_error(argv)
    count = SLOWLOG_DEFAULT_COUNT
    if argc == 3:
        count = string2ll(argv[2])
        if count is None or count < -1:
            return R.SLOWLOG_COUNT
    entries = c.node.slowlog
    if count == -1 or count > len(entries):
        count = len(entries)
    parts = [b"*%d\r\n" % count]
    for entry_id, ts, usec, args, addr, name in entries[:count]:
        parts.append(b"*6\r\n")
        parts.append(integer(entry_id))
        parts.append(integer(ts))
        parts.append(integer(usec))
        parts.append(b"*%d\r\n" % len(args))
        parts.extend(bulk(a) for a in args)
        parts.append(bulk(addr))
        parts.append(bulk(name))
    return b"".join(parts)


@subcommand("slowlog", "len", 2, "admin loading stale", **_SERVER,
            summary="Get the slow log's length", since="2.2.12", complexity="O(1)",
            tips=("request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"))
def slowlog_len(c, argv):
    return integer(len(c.node.slowlog))


@subcommand("slowlog", "reset", 2, "admin loading stale", **_SERVER,
            summary="Clear all entries from the slow log", since="2.2.12",
            complexity="O(N) where N is the number of entries in the slowlog",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def slowlog_reset(c, argv):
    c.node.slowlog.clear()
    return R.OK


# --- LATENCY ----------------------------------------------------------------------------------------

LATENCY_HELP = (
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
)

LATENCY_DOCTOR_DISABLED = (
    b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
    b"You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. "
    b"If we weren't in a deep space mission I'd suggest to take a look at "
    b"https://redis.io/topics/latency-monitor.\n"
)
LATENCY_DOCTOR_NO_SPIKES = (
    b"Dave, no latency spike was observed during the lifetime of this Redis instance, not in the "
    b"slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think "
    b"things over.\n"
)

# The latency monitor's events: name -> list of (unix time, latency ms).  shardis
# records no latency events yet, so these stay empty and the replies are the ones
# Redis gives when nothing was observed.
LATENCY_EVENTS: dict = {}

_LATENCY = dict(group="server")


@subcommand("latency", "help", 2, "loading stale", **_LATENCY,
            summary="Show helpful text about the different subcommands.", since="2.8.13", complexity="O(1)")
def latency_help(c, argv):
    return help_reply("LATENCY", LATENCY_HELP)


@subcommand("latency", "latest", 2, "admin noscript loading stale", **_LATENCY,
            summary="Return the latest latency samples for all events.", since="2.8.13", complexity="O(1)",
            tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_latest(c, argv):
    parts = [b"*%d\r\n" % len(LATENCY_EVENTS)]
    for event, samples in LATENCY_EVENTS.items():
        last_t, last_ms = samples[-1]
        parts.append(b"*4\r\n" + bulk(event.encode()) + integer(last_t) + integer(last_ms)
                     + integer(max(ms for _, ms in samples)))
    return b"".join(parts)


@describe(arguments=(arg("event", "string"),))
@subcommand("latency", "history", 3, "admin noscript loading stale", **_LATENCY,
            summary="Return timestamp-latency samples for the event.", since="2.8.13", complexity="O(1)",
            tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_history(c, argv):
    samples = LATENCY_EVENTS.get(argv[2].decode("utf-8", "replace"), [])
    return b"*%d\r\n" % len(samples) + b"".join(b"*2\r\n" + integer(t) + integer(ms) for t, ms in samples)


@describe(arguments=(arg("event", "string"),))
@subcommand("latency", "graph", 3, "admin noscript loading stale", **_LATENCY,
            summary="Return a latency graph for the event.", since="2.8.13", complexity="O(1)",
            tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_graph(c, argv):
    event = argv[2]
    if not LATENCY_EVENTS.get(event.decode("utf-8", "replace")):
        return R.err(b"ERR No samples available for event '" + event + b"'")
    return _text_reply(c, event + b" - no graph available\n")


@subcommand("latency", "doctor", 2, "admin noscript loading stale", **_LATENCY,
            summary="Return a human readable latency analysis report.", since="2.8.13", complexity="O(1)",
            tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_doctor(c, argv):
    if not c.node.config["latency-monitor-threshold"]:
        return _text_reply(c, LATENCY_DOCTOR_DISABLED)
    return _text_reply(c, LATENCY_DOCTOR_NO_SPIKES)


@describe(arguments=(arg("event", "string", flags="optional multiple"),))
@subcommand("latency", "reset", -2, "admin noscript loading stale", **_LATENCY,
            summary="Reset latency data for one or more events.", since="2.8.13", complexity="O(1)",
            tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def latency_reset(c, argv):
    if len(argv) == 2:
        n = len(LATENCY_EVENTS)
        LATENCY_EVENTS.clear()
        return integer(n)
    n = 0
    for a in argv[2:]:
        if LATENCY_EVENTS.pop(a.decode("utf-8", "replace"), None) is not None:
            n += 1
    return integer(n)


def _histogram_reply(c, cmd) -> bytes:
    """One command's entry: {calls, histogram_usec: {bucket usec: cumulative calls}}."""
    buckets = INFO.latency_buckets(cmd)
    points = []
    cumulative = 0
    first = LATENCY_HISTOGRAM_FIRST_NS.bit_length() - 1  # 10
    for i, n in enumerate(buckets):
        cumulative += n
        if i < first:
            continue
        if n or (i == first and cumulative):
            points.append(((1 << i) // 1000, cumulative))
    r = c.resp
    parts = [bulk(cmd.fullname_b), r.map_header(2), b"$5\r\ncalls\r\n", integer(cmd.calls),
             b"$14\r\nhistogram_usec\r\n", r.map_header(len(points))]
    for usec, cum in points:
        parts.append(integer(usec))
        parts.append(integer(cum))
    return b"".join(parts)


@describe(arguments=(arg("command", "string", flags="optional multiple"),))
@subcommand("latency", "histogram", -2, "admin noscript loading stale", **_LATENCY,
            summary="Return the cumulative distribution of latencies of a subset of commands or all.",
            since="7.0.0", complexity="O(N) where N is the number of commands with latency information being retrieved.",
            tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_histogram(c, argv):
    cmds = []
    if len(argv) == 2:
        cmds = [cmd for cmd in INFO.all_commands() if cmd.calls]
    else:
        for name in argv[2:]:
            cmd = lookup_by_fullname(name)
            if cmd is None:
                continue
            if cmd.subcommands:
                cmds.extend(s for s in cmd.subcommands.values() if s.calls)
            elif cmd.calls:
                cmds.append(cmd)
    return c.resp.map_header(len(cmds)) + b"".join(_histogram_reply(c, cmd) for cmd in cmds)


# --- MEMORY -----------------------------------------------------------------------------------------

MEMORY_HELP = (
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
)
MEMORY_DOCTOR_EMPTY = (
    b"Hi Sam, this instance is empty or is using very little memory, my issues detector can't be "
    b"used in these conditions. Please, leave for your mission on Earth and fill it with some data. "
    b"The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
)
MEMORY_DOCTOR_OK = (
    b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs "
    b"on this base.\n"
)
MEMORY_DOCTOR_MIN = 5 * 1024 * 1024  # bytes of data below which the doctor declines to diagnose
MEMORY_USAGE_DEFAULT_SAMPLES = 5

_MEMORY = dict(group="server")


@subcommand("memory", "help", 2, "loading stale", **_MEMORY,
            summary="Show helpful text about the different subcommands", since="4.0.0", complexity="O(1)")
def memory_help(c, argv):
    return help_reply("MEMORY", MEMORY_HELP)


@describe(key_specs=({"flags": ("RO",), "begin_search": ("index", 2), "find_keys": ("range", 0, 1, 0)},))
@describe(arguments=(arg("key", "key", key_spec_index=0), arg("count", "integer", token="SAMPLES", flags="optional")))
@subcommand("memory", "usage", -3, "readonly", keys=(2, 2, 1), categories="", **_MEMORY,
            summary="Estimate the memory usage of a key", since="4.0.0",
            complexity="O(N) where N is the number of samples.")
def memory_usage(c, argv):
    samples = MEMORY_USAGE_DEFAULT_SAMPLES
    j = 3
    argc = len(argv)
    while j < argc:
        if argv[j].lower() == b"samples" and j + 1 < argc:
            v = string2ll(argv[j + 1])
            if v is None:
                return R.NOT_INTEGER
            if v < 0:
                return R.SYNTAX
            samples = v if v else 0  # 0: sample every element
            j += 2
        else:
            return R.SYNTAX
    value = c.db.data.get(argv[2])
    if value is None:
        return c.resp.null
    return integer(memory.value_usage(argv[2], value, samples, c.node.config["list-max-listpack-size"]))


@subcommand("memory", "stats", 2, "", **_MEMORY,
            summary="Show memory usage details", since="4.0.0", complexity="O(1)",
            tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"))
def memory_stats(c, argv):
    node = c.node
    m = INFO.memory_figures(node)
    r = c.resp
    used, startup, peak, rss = m["used"], m["startup"], m["peak"], m["rss"]
    net = max(0, used - startup)
    keys = sum(len(db.data) for db in node.dbs)
    fields = [
        (b"peak.allocated", integer(peak)),
        (b"total.allocated", integer(used)),
        (b"startup.allocated", integer(startup)),
        (b"replication.backlog", integer(m["backlog"])),
        (b"clients.slaves", integer(m["clients_slaves"])),
        (b"clients.normal", integer(m["clients_normal"])),
        (b"cluster.links", integer(getattr(node, "stat_cluster_links_memory", 0))),
        (b"aof.buffer", integer(m["aof_buffer"])),
        (b"lua.caches", integer(getattr(node, "stat_used_memory_scripts_eval", 0))),
        (b"functions.caches", integer(getattr(node, "stat_used_memory_functions", 0))),
    ]
    for db in node.dbs:
        if not db.data and not db.expires:
            continue
        main = memory._dict_usage(len(db.data)) + len(db.data) * memory.DICT_ENTRY_SIZE
        exp = memory._dict_usage(len(db.expires)) + len(db.expires) * memory.DICT_ENTRY_SIZE if db.expires else 0
        slot = 0
        fields.append((b"db.%d" % db.id, r.map_header(3)
                       + bulk(b"overhead.hashtable.main") + integer(main)
                       + bulk(b"overhead.hashtable.expires") + integer(exp)
                       + bulk(b"overhead.hashtable.slot-to-keys") + integer(slot)))
    fields += [
        (b"overhead.total", integer(m["overhead"])),
        (b"keys.count", integer(keys)),
        (b"keys.bytes-per-key", integer(net // keys if keys else 0)),
        (b"dataset.bytes", integer(m["dataset"])),
        (b"dataset.percentage", r.double(m["dataset"] * 100.0 / net if net else 0.0)),
        (b"peak.percentage", r.double(used * 100.0 / peak if peak else 0.0)),
        (b"allocator.allocated", integer(used)),
        (b"allocator.active", integer(used)),
        (b"allocator.resident", integer(rss)),
        (b"allocator-fragmentation.ratio", r.double(1.0)),
        (b"allocator-fragmentation.bytes", integer(0)),
        (b"allocator-rss.ratio", r.double(rss / used if used else 0.0)),
        (b"allocator-rss.bytes", integer(rss - used)),
        (b"rss-overhead.ratio", r.double(1.0)),
        (b"rss-overhead.bytes", integer(0)),
        (b"fragmentation", r.double(rss / used if used else 0.0)),
        (b"fragmentation.bytes", integer(rss - used)),
    ]
    return r.map_header(len(fields)) + b"".join(bulk(k) + v for k, v in fields)


@subcommand("memory", "doctor", 2, "", **_MEMORY,
            summary="Outputs memory problems report", since="4.0.0", complexity="O(1)",
            tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"))
def memory_doctor(c, argv):
    net = memory.refresh() - memory.startup_memory()
    return _text_reply(c, MEMORY_DOCTOR_EMPTY if net < MEMORY_DOCTOR_MIN else MEMORY_DOCTOR_OK)


@subcommand("memory", "malloc-stats", 2, "", **_MEMORY,
            summary="Show allocator internal stats", since="4.0.0",
            complexity="Depends on how much memory is allocated, could be slow",
            tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"))
def memory_malloc_stats(c, argv):
    # What Redis answers when it is not built with jemalloc.
    return _text_reply(c, b"Stats not supported for the current allocator")


@subcommand("memory", "purge", 2, "", **_MEMORY,
            summary="Ask the allocator to release memory", since="4.0.0",
            complexity="Depends on how much memory is allocated, could be slow",
            tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def memory_purge(c, argv):
    gc.collect()
    memory.release_free_memory()
    memory.refresh()
    return R.OK


# --- FUNCTION (the answers of a server with no library loaded) ------------------------------------

FUNCTION_HELP = (
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
)

_FUNCTION = dict(group="scripting", categories="scripting")


@subcommand("function", "help", 2, "loading stale", **_FUNCTION,
            summary="Show helpful text about the different subcommands", since="7.0.0", complexity="O(1)")
def function_help(c, argv):
    return help_reply("FUNCTION", FUNCTION_HELP)


@describe(arguments=(arg("library-name-pattern", "string", token="LIBRARYNAME", flags="optional"), _tok("withcode", "WITHCODE", flags="optional")))
@subcommand("function", "list", -2, "noscript", **_FUNCTION,
            summary="List information about all the functions", since="7.0.0",
            complexity="O(N) where N is the number of functions", tips=("nondeterministic_output_order",))
def function_list(c, argv):
    withcode = False
    pattern = None
    i = 2
    argc = len(argv)
    while i < argc:
        opt = argv[i]
        low = opt.lower()
        if low == b"withcode" and not withcode:
            withcode = True
            i += 1
        elif low == b"libraryname" and pattern is None:
            if i + 1 >= argc:
                return R.FUNCTION_NO_LIBNAME
            pattern = argv[i + 1]
            i += 2
        else:
            return R.err(b"ERR Unknown argument " + opt)
    return b"*0\r\n"


@describe(arguments=(arg("async", "oneof", _tok("async", "ASYNC"), _tok("sync", "SYNC"), flags="optional"),))
@subcommand("function", "flush", -2, "write noscript", **_FUNCTION,
            summary="Deleting all functions", since="7.0.0", complexity="O(N) where N is the number of functions deleted",
            tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def function_flush(c, argv):
    if len(argv) > 3:
        return subcommand_syntax_error(argv)
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        return R.FUNCTION_FLUSH_MODE
    c.node.dirty += 1
    return R.OK


@subcommand("function", "stats", 2, "noscript allow_busy", **_FUNCTION,
            summary="Return information about the function currently running (name, description, duration)",
            since="7.0.0", complexity="O(1)",
            tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"))
def function_stats(c, argv):
    r = c.resp
    return b"".join((
        r.map_header(2),
        b"$14\r\nrunning_script\r\n", r.null,
        b"$7\r\nengines\r\n", r.map_header(1),
        b"$3\r\nLUA\r\n", r.map_header(2),
        b"$15\r\nlibraries_count\r\n:0\r\n",
        b"$15\r\nfunctions_count\r\n:0\r\n",
    ))


@subcommand("function", "dump", 2, "noscript", **_FUNCTION,
            summary="Dump all functions into a serialized binary payload", since="7.0.0",
            complexity="O(N) where N is the number of functions")
def function_dump(c, argv):
    from ..persistence.crc64 import crc64
    from ..persistence.rdb import RDB_VERSION

    head = RDB_VERSION.to_bytes(2, "little")
    return bulk(head + crc64(0, head).to_bytes(8, "little"))


@subcommand("function", "restore", -3, "write denyoom noscript", **_FUNCTION,
            summary="Restore all the functions on the given payload", since="7.0.0",
            complexity="O(N) where N is the number of functions on the payload")
def function_restore(c, argv):
    """FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].

    shardis has no script engine, so it holds no libraries: a payload without
    libraries (what FUNCTION DUMP gives on a node with none, and what
    ``redis-cli --cluster add-node`` copies to a new node) restores as in
    Redis; one that carries libraries is refused with a clear error.
    """
    from ..persistence.rdb import DumpPayloadError, verify_dump_payload

    if len(argv) > 4:
        return R.err_fmt("ERR unknown subcommand or wrong number of arguments for '%s'. Try FUNCTION HELP.", argv[1])
    if len(argv) == 4 and argv[3].lower() not in (b"append", b"replace", b"flush"):
        return R.err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    try:
        verify_dump_payload(argv[2])
    except DumpPayloadError:
        return R.err("ERR DUMP payload version or checksum are wrong")
    if len(argv[2]) > 10:
        return R.err("ERR FUNCTION RESTORE of a payload with libraries is not supported: shardis runs no scripts")
    return R.OK


@describe(arguments=(arg("library-name", "string"),))
@subcommand("function", "delete", 3, "write noscript", **_FUNCTION,
            summary="Delete a function by name", since="7.0.0", complexity="O(1)",
            tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def function_delete(c, argv):
    return R.FUNCTION_LIBRARY_NOT_FOUND


@subcommand("function", "kill", 2, "noscript allow_busy", **_FUNCTION,
            summary="Kill the function currently in execution.", since="7.0.0", complexity="O(1)",
            tips=("request_policy:all_shards", "response_policy:one_succeeded"))
def function_kill(c, argv):
    return R.NOTBUSY


# --- DEBUG ------------------------------------------------------------------------------------------

DEBUG_HELP = (
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
)

_LEADING_FLOAT = re.compile(rb"\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf(inity)?|nan)", re.I)
_LEADING_INT = re.compile(rb"\s*[-+]?\d+")


def _strtod(b: bytes) -> float:
    """C's strtod/atof: the longest leading float, 0.0 when there is none."""
    m = _LEADING_FLOAT.match(b)
    return float(m.group(0)) if m else 0.0


def _atoi(b: bytes) -> int:
    m = _LEADING_INT.match(b)
    return int(m.group(0)) if m else 0


def _serialized_length(node, value) -> int:
    from ..persistence import rdb

    _, body = rdb.encode_value(value, compress=node.config["rdbcompression"])
    return len(body)


def debug_object(c, key: bytes) -> bytes:
    db = c.db
    value = db.data.get(key)
    if value is None:
        return R.NO_SUCH_KEY
    if value.__class__ is bytes or value.__class__ is bytearray:
        enc = string_encoding(value)
        refcount = 1
        if enc == b"int" and 0 <= int(value) < OBJ_SHARED_INTEGERS:
            refcount = OBJ_SHARED_REFCOUNT
    else:
        enc = value.encoding
        refcount = 1
    lru = db.access.get(key, c.node.lru_clock) & LRU_CLOCK_MAX
    idle = idle_seconds(lru, int(time.time()))
    extra = b""
    if isinstance(value, List):
        fill = c.node.config["list-max-listpack-size"]
        nodes = memory._quicklist_nodes(value, fill)
        extra = b" ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d ql_uncompressed_size:%d" % (
            len(nodes), len(value) / len(nodes) if nodes else 0.0, fill,
            1 if c.node.config["list-compress-depth"] else 0, sum(nodes),
        )
    return b"+Value at:0x%x refcount:%d encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d%s\r\n" % (
        id(value), refcount, enc, _serialized_length(c.node, value), lru, idle, extra,
    )


# --- DEBUG DIGEST: Redis's dataset signature (debug.c), so replicas can be compared with Redis ---


def _xor(digest: bytearray, data: bytes) -> None:
    h = hashlib.sha1(data).digest()
    for i in range(20):
        digest[i] ^= h[i]


def _mix(digest: bytearray, data: bytes) -> None:
    _xor(digest, data)
    digest[:] = hashlib.sha1(bytes(digest)).digest()


def _score(score: float) -> bytes:
    if score != score:
        return b"nan"
    if score in (float("inf"), float("-inf")):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


def value_digest(db, key: bytes, value, digest: bytearray) -> None:
    """xorObjectDigest: mix the value's type and content (and whether it expires) into ``digest``."""
    if value.__class__ is bytes or value.__class__ is bytearray:
        type_code = 0
    else:
        type_code = value.type_code
    _mix(digest, struct.pack(">I", type_code))
    if type_code == 0:
        _mix(digest, bytes(value))
    elif isinstance(value, List):
        for item in value:
            _mix(digest, bytes(item))
    elif isinstance(value, Set):
        for member in value:
            _xor(digest, bytes(member))
    elif isinstance(value, ZSet):
        for score, member in value.sl:
            ele = bytearray(20)
            _mix(ele, bytes(member))
            _mix(ele, _score(score))
            _xor(digest, bytes(ele))
    elif isinstance(value, Hash):
        for field, val in value.items():
            ele = bytearray(20)
            _mix(ele, bytes(field))
            _mix(ele, bytes(val))
            _xor(digest, bytes(ele))
    if key in db.expires:
        _xor(digest, b"!!expire!!")


def dataset_digest(node) -> bytes:
    """computeDatasetDigest: 40 hex digits; all zeros for an empty dataset."""
    final = bytearray(20)
    for db in node.dbs:
        if not db.data:
            continue
        _mix(final, struct.pack(">I", db.id))
        for key, value in list(db.data.items()):
            d = bytearray(20)
            _mix(d, bytes(key))
            value_digest(db, key, value, d)
            _xor(final, bytes(d))
    return final.hex().encode()


def _debug_protocol(c, kind: bytes) -> bytes:
    r = c.resp
    v3 = r.version == 3
    if kind == b"string":
        return bulk(b"Hello World")
    if kind == b"integer":
        return b":12345\r\n"
    if kind == b"double":
        return r.double(3.141)
    if kind == b"bignum":
        big = b"1234567999999999999999999999999999999"
        return b"(" + big + b"\r\n" if v3 else bulk(big)
    if kind == b"null":
        return r.null
    if kind == b"array":
        return b"*3\r\n:0\r\n:1\r\n:2\r\n"
    if kind == b"set":
        return r.set_header(3) + b":0\r\n:1\r\n:2\r\n"
    if kind == b"map":
        return r.map_header(3) + b":0\r\n" + r.false + b":1\r\n" + r.true + b":2\r\n" + r.false
    if kind == b"attrib":
        head = b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n" if v3 else b""
        return head + bulk(b"Some real reply following the attribute")
    if kind == b"push":
        if not v3:
            return R.RESP2_UNSUPPORTED
        return b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n" + bulk(b"Some real reply following the push reply")
    if kind == b"verbatim":
        return r.verbatim(b"This is a verbatim\nstring")
    if kind == b"true":
        return r.true
    if kind == b"false":
        return r.false
    return R.DEBUG_PROTOCOL_TYPE


def _debug_populate(c, argv) -> bytes:
    count = string2ll(argv[2])
    if count is None or count < 0:
        return R.err("ERR count is not an integer or out of range") if count is None else R.err(
            "ERR count should be greater than or equal to 0")
    prefix = argv[3] if len(argv) >= 4 else b"key"
    size = None
    if len(argv) == 5:
        size = string2ll(argv[4])
        if size is None or size < 0:
            return R.err("ERR size is not an integer or out of range")
    db = c.db
    for i in range(count):
        key = b"%s:%d" % (prefix, i)
        if db.peek(key) is not None:
            continue
        val = b"value:%d" % i
        if size is not None:
            val = val[:size] + b"\0" * max(0, size - len(val))
        db.set(key, val)
    return R.OK


@describe(doc_flags=("syscmd",))
@command("debug", -2, "admin noscript loading stale protected nofastpath", **_SERVER,
         summary="A container for debugging commands", since="1.0.0", complexity="Depends on subcommand.")
def debug_command(c, argv):
    node = c.node
    if not _allow_protected(c, node.config["enable-debug-command"]):
        return R.err_fmt(R.PROTECTED_COMMAND, "DEBUG", "enable-debug-command")
    argc = len(argv)
    sub = argv[1].lower()
    if sub == b"help" and argc == 2:
        return help_reply("DEBUG", DEBUG_HELP)
    if sub == b"object" and argc == 3:
        return debug_object(c, argv[2])
    if sub == b"sleep" and argc == 3:
        secs = _strtod(argv[2])
        if secs > 0:
            time.sleep(secs)  # blocks the whole server, exactly what the command is for
        return R.OK
    if sub == b"set-active-expire" and argc == 3:
        node.active_expire_enabled = bool(_atoi(argv[2]))
        return R.OK
    if sub == b"change-repl-id" and argc == 2:
        repl = getattr(node, "replication", None)
        if repl is not None and hasattr(repl, "change_replication_id"):
            repl.change_replication_id()
        else:
            node.replid = os.urandom(20).hex()
            node.replid2 = INFO.NULL_REPLID
        node.log("warning", "Changing replication IDs after receiving DEBUG change-repl-id")
        return R.OK
    if sub == b"error" and argc == 3:
        return R.err(argv[2])
    if sub == b"log" and argc == 3:
        node.log("warning", "DEBUG LOG: " + argv[2].decode("utf-8", "replace"))
        return R.OK
    if sub == b"digest" and argc == 2:
        return _status(dataset_digest(node))
    if sub == b"digest-value" and argc >= 2:
        parts = [b"*%d\r\n" % (argc - 2)]
        for key in argv[2:]:
            d = bytearray(20)
            value = c.db.peek(key)
            if value is not None:
                value_digest(c.db, key, value, d)
            parts.append(_status(d.hex().encode()))
        return b"".join(parts)
    if sub == b"protocol" and argc == 3:
        return _debug_protocol(c, argv[2].lower())
    if sub == b"populate" and 3 <= argc <= 5:
        return _debug_populate(c, argv)
    if sub == b"segfault" and argc == 2:
        node.log("warning", "DEBUG SEGFAULT: crashing the server as requested")
        os.kill(os.getpid(), signal.SIGSEGV)
        return None
    if sub in (b"panic", b"assert", b"oom") and argc == 2:
        node.log("warning", "DEBUG %s: crashing the server as requested" % sub.decode().upper())
        os.abort()
    handler = DEBUG_SUBCOMMANDS.get(sub.decode("latin-1"))
    if handler is not None:
        return handler(c, argv)
    return subcommand_syntax_error(argv)


# --- COMMAND -----------------------------------------------------------------------------------------

# Command flags in the order COMMAND INFO lists them (server.c addCommandFlags); the
# ones Redis hides (may_replicate, sentinel, only_sentinel, protected) and our own
# "nofastpath" are not listed.
FLAG_ORDER = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking", "loading",
    "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth", "no_mandatory_keys",
    "no_async_loading", "no_multi", "movablekeys", "allow_busy",
)
# ACL categories in Redis's order (acl.c ACLCommandCategories).
ACL_ORDER = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
)
_ACL_RANK = {name: i for i, name in enumerate(ACL_ORDER)}

COMMAND_HELP = (
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
)

def lookup_by_fullname(name: bytes):
    """lookupCommandBySds: "get" or "config|get"."""
    parts = name.split(b"|")
    if len(parts) > 2:
        return None
    cmd = TABLE.get(parts[0].lower())
    if cmd is None or len(parts) == 1:
        return cmd
    return cmd.subcommands.get(parts[1].lower())


def _resolve(argv):
    """lookupCommand(argv, argc): the command a full request would run, or None."""
    cmd = lookup(argv[0])
    if cmd is None:
        return None
    if len(argv) == 1 or not cmd.subcommands:
        return cmd
    return cmd.subcommands.get(argv[1].lower())


def _flag_names(cmd) -> list[str]:
    flags = cmd.flags
    names = [f for f in FLAG_ORDER if f in flags and f != "movablekeys"]
    if cmd.movablekeys or "movablekeys" in flags:
        i = FLAG_ORDER.index("movablekeys")
        # keep Redis's order: movablekeys sits between no_multi and allow_busy
        before = [f for f in names if FLAG_ORDER.index(f) < i]
        after = [f for f in names if FLAG_ORDER.index(f) > i]
        names = before + ["movablekeys"] + after
    return names


def _acl_names(cmd) -> list[str]:
    return sorted(cmd.acl_categories(), key=lambda n: _ACL_RANK.get(n, len(ACL_ORDER)))


def key_specs(cmd) -> tuple:
    """The command's key specs: declared ones, or one derived from (first, last, step).

    A spec is a dict: ``{"flags": ("RW", "access", ...), "begin_search": ("index", i)
    | ("keyword", kw, startfrom) | ("unknown",), "find_keys": ("range", lastkey,
    step, limit) | ("keynum", keynumidx, firstkey, step) | ("unknown",),
    "notes": "..."}`` (notes optional).
    """
    specs = cmd.key_specs
    if specs:
        return specs
    if cmd.first_key > 0:
        first, last, step = cmd.first_key, cmd.last_key, cmd.key_step
        lastkey = last - first if last >= 0 else last
        if cmd.write:
            flags = ("RW", "update")
        elif cmd.readonly:
            flags = ("RO", "access")
        else:
            flags = ("RO",)
        return ({"flags": flags, "begin_search": ("index", first), "find_keys": ("range", lastkey, step or 1, 0)},)
    if cmd.movablekeys:
        flags = ("RW", "update") if cmd.write else ("RO", "access")
        return ({"flags": flags, "begin_search": ("unknown",), "find_keys": ("unknown",)},)
    return ()


def _key_spec_reply(r, spec) -> bytes:
    parts = []
    n = 3
    notes = spec.get("notes")
    if notes:
        n += 1
        parts.append(b"$5\r\nnotes\r\n" + bulk(notes.encode()))
    flags = spec.get("flags", ())
    parts.append(b"$5\r\nflags\r\n" + r.set_header(len(flags)) + b"".join(_status(f.encode()) for f in flags))
    bs = spec["begin_search"]
    if bs[0] == "index":
        body = r.map_header(1) + b"$5\r\nindex\r\n" + integer(bs[1])
    elif bs[0] == "keyword":
        body = r.map_header(2) + b"$7\r\nkeyword\r\n" + bulk(bs[1].encode()) + b"$9\r\nstartfrom\r\n" + integer(bs[2])
    else:
        body = r.map_header(0)
    parts.append(b"$12\r\nbegin_search\r\n" + r.map_header(2) + b"$4\r\ntype\r\n" + bulk(bs[0].encode())
                 + b"$4\r\nspec\r\n" + body)
    fk = spec["find_keys"]
    if fk[0] == "range":
        body = (r.map_header(3) + b"$7\r\nlastkey\r\n" + integer(fk[1]) + b"$7\r\nkeystep\r\n" + integer(fk[2])
                + b"$5\r\nlimit\r\n" + integer(fk[3]))
    elif fk[0] == "keynum":
        body = (r.map_header(3) + b"$9\r\nkeynumidx\r\n" + integer(fk[1]) + b"$8\r\nfirstkey\r\n" + integer(fk[2])
                + b"$7\r\nkeystep\r\n" + integer(fk[3]))
    else:
        body = r.map_header(0)
    parts.append(b"$9\r\nfind_keys\r\n" + r.map_header(2) + b"$4\r\ntype\r\n" + bulk(fk[0].encode())
                 + b"$4\r\nspec\r\n" + body)
    return r.map_header(n) + b"".join(parts)


def command_info(r, cmd) -> bytes:
    """addReplyCommandInfo: the 10-element description of one command (protocol ``r``)."""
    flags = _flag_names(cmd)
    acl = _acl_names(cmd)
    tips = cmd.tips
    specs = key_specs(cmd)
    parts = [
        b"*10\r\n",
        bulk(cmd.fullname_b),
        integer(cmd.arity),
        r.set_header(len(flags)), b"".join(_status(f.encode()) for f in flags),
        integer(cmd.first_key), integer(cmd.last_key), integer(cmd.key_step),
        r.set_header(len(acl)), b"".join(_status(b"@" + a.encode()) for a in acl),
        r.set_header(len(tips)), b"".join(bulk(t.encode()) for t in tips),
        r.set_header(len(specs)), b"".join(_key_spec_reply(r, s) for s in specs),
    ]
    subs = list(cmd.subcommands.values())
    if subs:
        parts.append(b"*%d\r\n" % len(subs))
        parts.extend(command_info(r, s) for s in subs)
    else:
        parts.append(r.set_header(0))
    return b"".join(parts)


def _arg_reply(r, arg: dict) -> bytes:
    fields = [(b"name", bulk(arg["name"].encode())), (b"type", bulk(arg["type"].encode()))]
    if "key_spec_index" in arg:
        fields.append((b"key_spec_index", integer(arg["key_spec_index"])))
    for k in ("token", "summary", "since", "deprecated_since"):
        if arg.get(k):
            fields.append((k.encode(), bulk(arg[k].encode())))
    if arg.get("flags"):
        fl = arg["flags"]
        fields.append((b"flags", r.set_header(len(fl)) + b"".join(_status(f.encode()) for f in fl)))
    if arg["type"] in ("oneof", "block"):
        sub = arg.get("arguments", ())
        fields.append((b"arguments", b"*%d\r\n" % len(sub) + b"".join(_arg_reply(r, a) for a in sub)))
    return r.map_header(len(fields)) + b"".join(bulk(k) + v for k, v in fields)


def command_docs(r, cmd) -> bytes:
    """addReplyCommandDocs: the documentation map of one command."""
    fields = []
    if cmd.summary:
        fields.append((b"summary", bulk(cmd.summary.encode())))
    if cmd.since:
        fields.append((b"since", bulk(cmd.since.encode())))
    fields.append((b"group", bulk(cmd.group.encode())))
    if cmd.complexity:
        fields.append((b"complexity", bulk(cmd.complexity.encode())))
    doc_flags = cmd.doc_flags
    if doc_flags:
        fields.append((b"doc_flags", r.set_header(len(doc_flags)) + b"".join(_status(f.encode()) for f in doc_flags)))
    for attr in ("deprecated_since", "replaced_by"):
        v = getattr(cmd, attr)
        if v:
            fields.append((attr.encode(), bulk(v.encode())))
    history = cmd.history
    if history:
        fields.append((b"history", r.set_header(len(history)) + b"".join(
            b"*2\r\n" + bulk(v.encode()) + bulk(t.encode()) for v, t in history)))
    args = cmd.arguments
    if args:
        fields.append((b"arguments", b"*%d\r\n" % len(args) + b"".join(_arg_reply(r, a) for a in args)))
    if cmd.subcommands:
        subs = list(cmd.subcommands.values())
        fields.append((b"subcommands", r.map_header(len(subs)) + b"".join(
            bulk(s.fullname_b) + command_docs(r, s) for s in subs)))
    return r.map_header(len(fields)) + b"".join(bulk(k) + v for k, v in fields)


_COMMAND = dict(group="server", categories="connection")


@command("command", -1, "loading stale nofastpath", **_COMMAND,
         summary="Get array of Redis command details", since="2.8.13",
         complexity="O(N) where N is the total number of Redis commands",
         tips=("nondeterministic_output_order",))
def command_command(c, argv):
    cmds = list(TABLE.values())
    return b"*%d\r\n" % len(cmds) + b"".join(command_info(c.resp, cmd) for cmd in cmds)


@subcommand("command", "help", 2, "loading stale", **_COMMAND,
            summary="Show helpful text about the different subcommands", since="5.0.0", complexity="O(1)")
def command_help(c, argv):
    return help_reply("COMMAND", COMMAND_HELP)


@subcommand("command", "count", 2, "loading stale", **_COMMAND,
            summary="Get total number of Redis commands", since="2.8.13", complexity="O(1)")
def command_count(c, argv):
    return integer(len(TABLE))


@describe(history=(("7.0.0", "Allowed to be called with no argument to get info on all commands."),))
@describe(arguments=(arg("command-name", "string", flags="optional multiple"),))
@subcommand("command", "info", -2, "loading stale", **_COMMAND,
            summary="Get array of specific Redis command details, or all when no argument is given.",
            since="2.8.13", complexity="O(N) where N is the number of commands to look up",
            tips=("nondeterministic_output_order",))
def command_info_command(c, argv):
    if len(argv) == 2:
        return command_command(c, argv)
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    for name in argv[2:]:
        cmd = lookup_by_fullname(name)
        parts.append(command_info(c.resp, cmd) if cmd is not None else c.resp.null)
    return b"".join(parts)


@describe(arguments=(arg("command-name", "string", flags="optional multiple"),))
@subcommand("command", "docs", -2, "loading stale", **_COMMAND,
            summary="Get array of specific Redis command documentation", since="7.0.0",
            complexity="O(N) where N is the number of commands to look up",
            tips=("nondeterministic_output_order",))
def command_docs_command(c, argv):
    if len(argv) == 2:
        cmds = list(TABLE.values())
    else:
        cmds = [cmd for cmd in (lookup_by_fullname(n) for n in argv[2:]) if cmd is not None]
    r = c.resp
    return r.map_header(len(cmds)) + b"".join(bulk(cmd.fullname_b) + command_docs(r, cmd) for cmd in cmds)


def _all_fullnames():
    for cmd in TABLE.values():
        yield cmd
        yield from cmd.subcommands.values()


@describe(arguments=(
    arg("filterby", "oneof",
        arg("module-name", "string", token="MODULE"), arg("category", "string", token="ACLCAT"),
        arg("pattern", "pattern", token="PATTERN"),
        token="FILTERBY", flags="optional"),
))
@subcommand("command", "list", -2, "loading stale", **_COMMAND,
            summary="Get an array of Redis command names", since="7.0.0",
            complexity="O(N) where N is the total number of Redis commands",
            tips=("nondeterministic_output_order",))
def command_list(c, argv):
    argc = len(argv)
    if argc == 2:
        names = [cmd.fullname_b for cmd in _all_fullnames()]
    elif argc == 5 and argv[2].lower() == b"filterby":
        kind, arg = argv[3].lower(), argv[4]
        if kind == b"module":
            names = []  # no modules
        elif kind == b"aclcat":
            cat = arg.decode("utf-8", "replace").lower()
            names = [cmd.fullname_b for cmd in _all_fullnames() if cat in cmd.acl_categories()]
        elif kind == b"pattern":
            names = [cmd.fullname_b for cmd in _all_fullnames() if stringmatch(arg, cmd.fullname_b, nocase=True)]
        else:
            return R.SYNTAX
    else:
        return R.SYNTAX
    return b"*%d\r\n" % len(names) + b"".join(bulk(n) for n in names)


def _getkeys(c, argv, with_flags: bool) -> bytes:
    sub_argv = argv[2:]
    cmd = _resolve(sub_argv)
    if cmd is None:
        return R.INVALID_COMMAND
    specs = key_specs(cmd)
    if not (cmd.has_keys or specs):
        return R.COMMAND_NO_KEYS
    if not cmd.arity_ok(len(sub_argv)):
        return R.COMMAND_BAD_ARITY
    try:
        positions = cmd.key_positions(sub_argv)
    except KeySpecError:
        positions = None
    if not positions:
        if "no_mandatory_keys" in cmd.flags:
            return b"*0\r\n"
        return R.COMMAND_BAD_ARGS
    parts = [b"*%d\r\n" % len(positions)]
    for pos in positions:
        if with_flags:
            flags = _flags_for_position(cmd, specs, pos)
            parts.append(b"*2\r\n" + bulk(sub_argv[pos]) + c.resp.set_header(len(flags))
                         + b"".join(_status(f.encode()) for f in flags))
        else:
            parts.append(bulk(sub_argv[pos]))
    return b"".join(parts)


def _flags_for_position(cmd, specs, pos: int) -> tuple:
    """The flags of the key spec that finds the key at ``pos`` (first matching index spec)."""
    best = None
    for spec in specs:
        bs = spec["begin_search"]
        if bs[0] == "index" and bs[1] <= pos:
            if best is None or bs[1] > best["begin_search"][1]:
                best = spec
    if best is None and specs:
        best = specs[0]
    return best.get("flags", ()) if best else ()


@subcommand("command", "getkeys", -4, "loading stale", **_COMMAND,
            summary="Extract keys given a full Redis command", since="2.8.13",
            complexity="O(N) where N is the number of arguments to the command")
def command_getkeys(c, argv):
    return _getkeys(c, argv, False)


@subcommand("command", "getkeysandflags", -4, "loading stale", **_COMMAND,
            summary="Extract keys and access flags given a full Redis command", since="7.0.0",
            complexity="O(N) where N is the number of arguments to the command")
def command_getkeysandflags(c, argv):
    return _getkeys(c, argv, True)


# --- documentation of the container commands ---------------------------------------------------------

_CONTAINER_DOCS = {
    b"client": ("A container for client connection commands", "2.4.0", "connection"),
    b"config": ("A container for server configuration commands", "2.0.0", "server"),
    b"slowlog": ("A container for slow log commands", "2.2.12", "server"),
    b"latency": ("A container for latency diagnostics commands", "2.8.13", "server"),
    b"memory": ("A container for memory diagnostics commands", "4.0.0", "server"),
    b"function": ("A container for function commands", "7.0.0", "scripting"),
}
for _name, (_summary, _since, _group) in _CONTAINER_DOCS.items():
    _cmd = TABLE.get(_name)
    if _cmd is not None and _cmd.handler is None:
        _cmd.summary, _cmd.since, _cmd.group, _cmd.complexity = _summary, _since, _group, "Depends on subcommand."
