"""Persistence commands: SAVE, BGSAVE [SCHEDULE], BGREWRITEAOF, and DEBUG RELOAD / LOADAOF.

The work is done by the node's persistence subsystem (persistence/snapshot.py
and persistence/aof.py); these handlers only parse arguments and answer with
Redis 7.0's replies (rdb.c saveCommand/bgsaveCommand, aof.c
bgrewriteaofCommand, debug.c).  LASTSAVE and SHUTDOWN live with the other
server commands (commands/server.py), which call back into persistence
through the hooks it exposes; this module fills those hooks in:
``SHUTDOWN_SAVE`` (the final save), ``FLUSHALL_HOOKS`` (FLUSHALL stops a
running BGSAVE and saves an empty snapshot when save points are set, as
flushAllDataAndResetRDB does) and ``DEBUG_SUBCOMMANDS`` (RELOAD, LOADAOF).

"Inside a transaction" (Redis's ``server.in_exec``) is a call nested in
EXEC: ``node.call_depth > 1`` while the handler runs.
"""

from __future__ import annotations

from ..server import replies as R
from ..server.commandtable import command
from . import server as server_commands

__all__ = ["save_command", "bgsave_command", "bgrewriteaof_command", "debug_reload", "debug_loadaof"]

_SERVER = dict(group="server", categories="admin dangerous")

BGSAVE_STARTED = b"+Background saving started\r\n"
BGSAVE_SCHEDULED = b"+Background saving scheduled\r\n"
BGREWRITEAOF_STARTED = b"+Background append only file rewriting started\r\n"
BGREWRITEAOF_SCHEDULED = b"+Background append only file rewriting scheduled\r\n"


def _in_exec(node) -> bool:
    return node.call_depth > 1


@command("save", 1, "admin noscript no_async_loading no_multi", **_SERVER,
         summary="Synchronously save the dataset to disk", since="1.0.0",
         complexity="O(N) where N is the total number of keys in all databases")
def save_command(c, argv):
    p = c.node.persistence
    if p.child_type == "rdb":
        return R.BGSAVE_IN_PROGRESS
    return R.OK if p.save() else R.ERR_BARE


@command("bgsave", -1, "admin noscript no_async_loading", **_SERVER,
         summary="Asynchronously save the dataset to disk", since="1.0.0",
         complexity="O(1)")
def bgsave_command(c, argv):
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            return R.SYNTAX
    node = c.node
    p = node.persistence
    if p.child_type == "rdb":
        return R.BGSAVE_IN_PROGRESS
    if p.has_child or _in_exec(node):
        if schedule or _in_exec(node):
            p.rdb_bgsave_scheduled = True
            return BGSAVE_SCHEDULED
        return R.BGSAVE_CHILD_ACTIVE
    return BGSAVE_STARTED if p.bgsave() else R.ERR_BARE


@command("bgrewriteaof", 1, "admin noscript no_async_loading", **_SERVER,
         summary="Asynchronously rewrite the append-only file", since="1.0.0", complexity="O(1)")
def bgrewriteaof_command(c, argv):
    node = c.node
    p = node.persistence
    aof = p.aof
    if p.child_type == "aof":
        return R.BGREWRITEAOF_IN_PROGRESS
    if p.has_child or _in_exec(node):
        aof.rewrite_scheduled = True
        # A rewrite asked for by hand may run at once, whatever failed before.
        aof.rewrites_consecutive_failures = 0
        return BGREWRITEAOF_SCHEDULED
    return BGREWRITEAOF_STARTED if aof.rewrite_background() else R.BGREWRITEAOF_FAILED


# --- DEBUG RELOAD / LOADAOF -----------------------------------------------------------------


def debug_reload(c, argv):
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty, load the RDB back (debug.c)."""
    from ..persistence import loading

    flush = save = True
    allow_dup = False
    for opt in argv[2:]:
        low = opt.lower()
        if low == b"merge":
            allow_dup = True
        elif low == b"noflush":
            flush = False
        elif low == b"nosave":
            save = False
        else:
            return R.DEBUG_RELOAD_OPTIONS
    node = c.node
    p = node.persistence
    if save and not p.save():
        return R.ERR_BARE
    if flush:
        for db in node.dbs:
            db.flush()
    try:
        loading.run_sync(loading.rdb_load(node, p, node.config["dbfilename"], allow_dup=allow_dup))
    except loading.LoadError as e:
        for line in e.lines:
            node.log("warning", line)
        node.log("warning", str(e))
        return R.DEBUG_RELOAD_LOAD_FAILED
    node.log("warning", "DB reloaded by DEBUG RELOAD")
    return R.OK


def debug_loadaof(c, argv):
    """DEBUG LOADAOF: write out the AOF, empty the keyspace, replay the AOF (debug.c)."""
    import os

    from ..persistence import loading

    node = c.node
    p = node.persistence
    if p.aof.state != 0:
        p.aof.flush(force=True)
    for db in node.dbs:
        db.flush()
    try:
        ret = loading.run_sync(loading.aof_load(node, p))
    except loading.LoadError as e:
        for line in e.lines:
            node.log("warning", line)
        node.log("warning", f"DEBUG LOADAOF failed, exiting: {e}")
        os._exit(1)  # as Redis: a failed reload leaves nothing sensible to serve
    if ret not in (loading.AOF_OK, loading.AOF_EMPTY, loading.AOF_NOT_EXIST):
        node.log("warning", f"DEBUG LOADAOF failed ({ret}), exiting")
        os._exit(1)
    node.dirty = 0
    node.log("warning", "Append Only File loaded by DEBUG LOADAOF")
    return R.OK


# --- hooks of commands/server.py ------------------------------------------------------------


def _shutdown_save(node) -> bool:
    return node.persistence.shutdown_save()


def _after_flushall(node) -> None:
    """flushAllDataAndResetRDB: stop a BGSAVE in progress, save the empty dataset if save points are set."""
    p = node.persistence
    if p.child_type == "rdb":
        p.kill_child()
    if node.config["save"]:
        p.save()


server_commands.SHUTDOWN_SAVE = _shutdown_save
server_commands.FLUSHALL_HOOKS.append(_after_flushall)
server_commands.DEBUG_SUBCOMMANDS["reload"] = debug_reload
server_commands.DEBUG_SUBCOMMANDS["loadaof"] = debug_loadaof
