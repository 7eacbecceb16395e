"""Transactions (multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH.

MULTI puts the client in ``c.multi``; from then on dispatch runs every check
of process_command and, instead of executing, hands the command to
``queue_multi`` (the ``dispatch.QUEUE_MULTI`` hook), which appends it to
``c.mstate`` and answers ``+QUEUED``.  A command rejected while queuing
(unknown, wrong arity, OOM ...) sets ``c.dirty_exec`` (dispatch.reject) and
EXEC then fails with EXECABORT.  EXEC runs the queue through
``dispatch.call``, so statistics, the slow log, MONITOR and keyspace events
behave as for commands sent one by one, and answers with an array of their
replies; an error inside is just one element.

WATCH is optimistic locking: ``db.watched[key]`` holds the clients watching
a key and ``c.watched`` the client's (db, key) pairs.  Any change of the key
(keyspace/db.py: set, delete, modified, expiry, flush, swap) sets
``c.dirty_cas`` and EXEC answers a null array.  A watched key whose TTL
passes counts as changed even if nobody deleted it yet (EXEC checks), but a
key that was already expired when WATCHed stands for "no key" (its mark is
in ``db.watched_stale``), so only a write that gives it a value breaks the
transaction, exactly as Redis 7.0.

While EXEC runs, the client stays in ``c.multi`` so blocking commands answer
at once as if timed out (keyspace/blocking.must_not_block), SUBSCRIBE is
allowed (Redis keeps that for backward compatibility) and SSUBSCRIBE is not.
Clients blocked on keys the transaction filled are served after it, never in
the middle.  Writes are propagated to the AOF and replicas as Redis 7.0 does:
a single write alone, two or more wrapped in MULTI ... EXEC, the MULTI in the
database of the first.
"""

from __future__ import annotations

from ..server import dispatch
from ..server import replies as R
from ..server.commandtable import command
from ..server.hooks import on_client_close

__all__ = ["queue_multi", "discard_transaction", "watch_key", "unwatch_all", "watched_key_expired"]


# --- WATCH bookkeeping -----------------------------------------------------------------


def watch_key(c, db, key: bytes) -> None:
    """watchForKey: register ``c`` as watching ``key`` of ``db`` (once)."""
    clients = db.watched.get(key)
    if clients is None:
        clients = db.watched[key] = set()
    elif c in clients:
        return
    clients.add(c)
    c.watched.append((db, key))
    if db.key_is_expired(key):
        stale = db.watched_stale.get(key)
        if stale is None:
            stale = db.watched_stale[key] = set()
        stale.add(c)


def unwatch_all(c) -> None:
    """unwatchAllKeys: forget every key ``c`` watches."""
    if not c.watched:
        return
    for db, key in c.watched:
        clients = db.watched.get(key)
        if clients is not None:
            clients.discard(c)
            if not clients:
                del db.watched[key]
        stale = db.watched_stale.get(key)
        if stale is not None:
            stale.discard(c)
            if not stale:
                del db.watched_stale[key]
    c.watched = []


def watched_key_expired(c) -> bool:
    """isWatchedKeyExpired: did a key that was alive when WATCHed reach its TTL since?"""
    for db, key in c.watched:
        stale = db.watched_stale.get(key)
        if stale is not None and c in stale:
            continue
        if db.key_is_expired(key):
            return True
    return False


# --- the transaction state --------------------------------------------------------------


def queue_multi(c, cmd, argv) -> bytes:
    """queueMultiCommand (dispatch.QUEUE_MULTI)."""
    # A transaction already doomed keeps answering QUEUED without storing
    # anything, as Redis does (the client may not read replies as it pipelines).
    if not (c.dirty_cas or c.dirty_exec):
        c.mstate.append((cmd, argv))
    return R.QUEUED


def discard_transaction(c) -> None:
    """discardTransaction (dispatch.DISCARD_TRANSACTION): leave MULTI, forget the queue and the WATCHes."""
    c.multi = False
    c.mstate = []
    c.dirty_cas = False
    c.dirty_exec = False
    unwatch_all(c)
    c.update_fast()


dispatch.QUEUE_MULTI = queue_multi
dispatch.DISCARD_TRANSACTION = discard_transaction


@on_client_close
def _client_closed(c) -> None:
    if c.multi or c.watched:
        discard_transaction(c)


def _serve_blocked_clients(node) -> None:
    """Clients blocked on keys the transaction pushed to are served once it is over."""
    try:
        from ..keyspace import blocking
    except ImportError:  # no blocking commands in this build
        return
    blocking.handle_clients_blocked_on_keys(node)


# --- commands ------------------------------------------------------------------------------


@command("multi", 1, "noscript loading stale fast allow_busy", group="transactions",
         categories="transaction", summary="Start a transaction block", since="1.2.0", complexity="O(1)")
def multi_command(c, argv):
    if c.multi:
        return R.MULTI_NESTED
    c.multi = True
    c.mstate = []
    c.update_fast()
    return R.OK


@command("discard", 1, "noscript loading stale fast allow_busy", group="transactions",
         categories="transaction", summary="Discard all commands issued after MULTI", since="2.0.0",
         complexity="O(N), when N is the number of queued commands")
def discard_command(c, argv):
    if not c.multi:
        return R.DISCARD_WITHOUT_MULTI
    discard_transaction(c)
    return R.OK


@command("watch", -2, "noscript loading stale fast allow_busy", keys=(1, -1, 1), group="transactions",
         categories="transaction",
         summary="Watch the given keys to determine execution of the MULTI/EXEC block", since="2.2.0",
         complexity="O(1) for every key.")
def watch_command(c, argv):
    if c.multi:
        return R.WATCH_INSIDE_MULTI
    if c.dirty_cas:
        return R.OK  # the transaction is already doomed: no point watching more
    db = c.db
    for key in argv[1:]:
        watch_key(c, db, key)
    return R.OK


@command("unwatch", 1, "noscript loading stale fast allow_busy", group="transactions",
         categories="transaction", summary="Forget about all watched keys", since="2.2.0", complexity="O(1)")
def unwatch_command(c, argv):
    unwatch_all(c)
    c.dirty_cas = False
    return R.OK


@command("exec", 1, "noscript loading stale skip_slowlog", group="transactions", categories="transaction",
         summary="Execute all commands issued after MULTI", since="1.2.0",
         complexity="Depends on commands in the transaction")
def exec_command(c, argv):
    if not c.multi:
        return R.EXEC_WITHOUT_MULTI
    if not c.dirty_cas and watched_key_expired(c):
        c.dirty_cas = True
    if c.dirty_exec:
        discard_transaction(c)
        return R.EXECABORT
    if c.dirty_cas:
        discard_transaction(c)
        return c.resp.null_array

    queued = c.mstate
    node = c.node
    unwatch_all(c)  # no need to keep watching: nothing can run in between now

    # The queued commands' replies, and any push frames they cause on this
    # connection (a RESP3 client publishing to itself), are collected in
    # order; pushes sit between the elements exactly where Redis puts them.
    saved_out = c.out
    parts = [b""]
    c.out = parts
    # CLIENT REPLY OFF/SKIP apply to EXEC's reply as a whole, not to each element.
    reply_flags = (c.reply_off, c.reply_skip, c.reply_skip_next)
    c.reply_off = c.reply_skip = c.reply_skip_next = False
    capture = [] if node.propagate_hooks else None
    node.propagate_capture = capture
    n = 0
    try:
        for cmd, cargv in queued:
            reply = dispatch.call(c, cmd, cargv)
            if reply is not None:
                parts.append(reply)
                n += 1
    finally:
        c.out = saved_out
        node.propagate_capture = None
        if not (c.reply_off or c.reply_skip or c.reply_skip_next):
            c.reply_off, c.reply_skip, c.reply_skip_next = reply_flags
        discard_transaction(c)
    if capture:
        _propagate_transaction(node, capture)
    parts[0] = b"*%d\r\n" % n
    _serve_blocked_clients(node)
    return b"".join(parts)


def _propagate_transaction(node, ops: list) -> None:
    """Send the transaction's writes on: one alone, several wrapped in MULTI/EXEC."""
    if len(ops) == 1:
        node.propagate(*ops[0])
        return
    node.propagate(ops[0][0], [b"MULTI"])
    for dbid, argv in ops:
        node.propagate(dbid, argv)
    node.propagate(ops[-1][0], [b"EXEC"])
