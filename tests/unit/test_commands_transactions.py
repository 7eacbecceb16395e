"""Unit tests for commands/transactions.py and the WATCH rules of keyspace/db.py, in process.

Requests go through ``dispatch.process_command`` on a real Node, so queuing,
rejection and EXEC run exactly as for a network client.  What cannot be
seen from outside a node is checked here: how EXEC propagates its writes
(recorded by a propagation hook, compared with what redis-server 7.0 writes
to its AOF: one write alone, several inside MULTI/EXEC, lazily expired keys'
DELs included), and the WATCH bookkeeping of ``Database`` for FLUSHDB and
SWAPDB with stale keys.
"""

import time

import pytest

from shardis.commands import load_all
from shardis.commands import transactions as tx
from shardis.server import dispatch
from shardis.server.config import Config
from shardis.server.connection import Client
from shardis.server.node import Node

load_all()


class Sink:
    def __init__(self):
        self.writes = []

    def write(self, data):
        self.writes.append(data)

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return default

    def close(self):
        pass


@pytest.fixture
def node():
    return Node(Config())


@pytest.fixture
def propagated(node):
    ops = []
    node.propagate_hooks.append(lambda dbid, argv: ops.append((dbid, [bytes(a) for a in argv])))
    node.update_fast()
    return ops


def client(node):
    c = Client(node)
    c.transport = Sink()
    node.clients[c.id] = c
    return c


def run(c, *args):
    argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    c.processing = True
    try:
        reply = dispatch.process_command(c, argv, None)
    finally:
        c.processing = False
    out = b"".join(c.out)
    c.out.clear()
    return out + (reply or b"")


# --- propagation ------------------------------------------------------------------------------


def test_a_single_write_is_propagated_bare(node, propagated):
    c = client(node)
    run(c, "MULTI")
    run(c, "GET", "a")
    run(c, "SET", "a", "1")
    assert run(c, "EXEC") == b"*2\r\n$-1\r\n+OK\r\n"
    assert propagated == [(0, [b"SET", b"a", b"1"])]


def test_several_writes_are_wrapped_in_multi_exec(node, propagated):
    c = client(node)
    for cmd in (("MULTI",), ("SELECT", "2"), ("SET", "x", "1"), ("SELECT", "0"), ("SET", "y", "1"), ("GET", "y")):
        run(c, *cmd)
    run(c, "EXEC")
    assert propagated == [
        (2, [b"MULTI"]),
        (2, [b"SET", b"x", b"1"]),
        (0, [b"SET", b"y", b"1"]),
        (0, [b"EXEC"]),
    ]


def test_failed_and_read_only_commands_are_not_propagated(node, propagated):
    c = client(node)
    for cmd in (("MULTI",), ("INCR", "a"), ("LPUSH", "a", "x"), ("GET", "a")):
        run(c, *cmd)
    assert run(c, "EXEC").startswith(b"*3\r\n:1\r\n-WRONGTYPE")
    assert propagated == [(0, [b"INCR", b"a"])]
    propagated.clear()
    run(c, "MULTI")
    run(c, "GET", "a")
    run(c, "EXEC")
    assert propagated == []


def test_lazily_expired_keys_are_deleted_inside_the_transaction(node, propagated):
    c = client(node)
    db = node.dbs[0]
    db.set(b"old", b"v")
    db.set_expire(b"old", int(time.time() * 1000) - 1)
    for cmd in (("MULTI",), ("GET", "old"), ("SET", "z", "1")):
        run(c, *cmd)
    run(c, "EXEC")
    assert propagated == [(0, [b"MULTI"]), (0, [b"DEL", b"old"]), (0, [b"SET", b"z", b"1"]), (0, [b"EXEC"])]


def test_aborted_transactions_propagate_nothing(node, propagated):
    c, other = client(node), client(node)
    run(c, "WATCH", "k")
    run(other, "SET", "k", "v")
    propagated.clear()
    run(c, "MULTI")
    run(c, "SET", "k", "mine")
    assert run(c, "EXEC") == b"*-1\r\n"
    run(c, "MULTI")
    run(c, "SET", "k", "mine")
    run(c, "NOSUCH")
    assert run(c, "EXEC").startswith(b"-EXECABORT")
    assert propagated == []


def test_propagation_capture_is_released_after_exec(node, propagated):
    c = client(node)
    run(c, "MULTI")
    run(c, "SET", "a", "1")
    run(c, "EXEC")
    assert node.propagate_capture is None
    run(c, "SET", "b", "2")
    assert propagated[-1] == (0, [b"SET", b"b", b"2"])


# --- transaction state ----------------------------------------------------------------------------


def test_queue_and_state_after_exec_and_discard(node):
    c = client(node)
    assert run(c, "MULTI") == b"+OK\r\n"
    assert c.multi and not c.fast
    assert run(c, "SET", "a", "1") == b"+QUEUED\r\n"
    assert len(c.mstate) == 1
    assert run(c, "DISCARD") == b"+OK\r\n"
    assert not c.multi and c.mstate == [] and c.fast
    run(c, "MULTI")
    run(c, "NOSUCH")
    assert c.dirty_exec
    run(c, "SET", "a", "1")
    assert c.mstate == []  # a doomed transaction stores nothing more
    run(c, "EXEC")
    assert not (c.multi or c.dirty_exec or c.dirty_cas)


def test_rejected_exec_discards_and_explains(node):
    c = client(node)
    run(c, "MULTI")
    run(c, "SET", "a", "1")
    assert run(c, "EXEC", "x") == (
        b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
    )
    assert not c.multi
    assert node.errorstats.get(b"EXECABORT") == 1


def test_disconnect_forgets_watches_and_queue(node):
    c = client(node)
    run(c, "WATCH", "a", "b")
    run(c, "MULTI")
    run(c, "SET", "a", "1")
    db = node.dbs[0]
    assert set(db.watched) == {b"a", b"b"}
    c.connection_lost(None)
    assert db.watched == {} and c.watched == [] and not c.multi


# --- WATCH bookkeeping in Database ----------------------------------------------------------------


def watcher(node, db, *keys):
    c = client(node)
    for k in keys:
        tx.watch_key(c, db, k)
    return c


def expire_now(db, key):
    db.set_expire(key, int(time.time() * 1000) - 10)


def test_flush_touches_only_keys_that_exist(node):
    db = node.dbs[0]
    db.set(b"here", b"v")
    a, b = watcher(node, db, b"here"), watcher(node, db, b"missing")
    db.flush()
    assert a.dirty_cas and not b.dirty_cas


def test_stale_key_at_watch_is_no_key(node):
    db = node.dbs[0]
    db.set(b"k", b"v")
    expire_now(db, b"k")
    c = watcher(node, db, b"k")
    assert db.watched_stale == {b"k": {c}}
    assert not tx.watched_key_expired(c)  # expired already at WATCH: not a change
    assert db.lookup_read(b"k") is None  # lazy expiry deletes it
    assert not c.dirty_cas and db.watched_stale == {}
    db.set(b"k", b"new")  # now it has a value: a change
    assert c.dirty_cas


def test_stale_key_overwritten_in_place_is_a_change(node):
    db = node.dbs[0]
    db.set(b"k", b"v")
    expire_now(db, b"k")
    c = watcher(node, db, b"k")
    db.set(b"k", b"w")
    assert c.dirty_cas


def test_stale_key_flushed_is_no_change(node):
    db = node.dbs[0]
    db.set(b"k", b"v")
    expire_now(db, b"k")
    c = watcher(node, db, b"k")
    db.flush()
    assert not c.dirty_cas


def test_swap_rules(node):
    db0, db1 = node.dbs[0], node.dbs[1]
    db1.set(b"incoming", b"v")
    db1.set(b"stale_in", b"v")
    expire_now(db1, b"stale_in")
    db0.set(b"stale_here", b"v")
    expire_now(db0, b"stale_here")
    a = watcher(node, db0, b"incoming")  # missing here, present in the other db: changed
    b = watcher(node, db0, b"stale_in")  # missing here, stale there: still no key
    d = watcher(node, db0, b"stale_here")  # stale here, missing there: no change
    e = watcher(node, db0, b"nowhere")
    db0.swap_contents(db1)
    assert a.dirty_cas and not b.dirty_cas and not d.dirty_cas and not e.dirty_cas
    assert b in db0.watched_stale[b"stale_in"]  # it now watches a stale key
    db0.delete(b"stale_in")
    assert not b.dirty_cas


def test_alive_key_reaching_its_ttl_breaks_exec(node):
    db = node.dbs[0]
    db.set(b"k", b"v")
    db.set_expire(b"k", int(time.time() * 1000) + 30)
    c = watcher(node, db, b"k")
    assert not tx.watched_key_expired(c)
    time.sleep(0.05)
    assert tx.watched_key_expired(c)
    run(c, "MULTI")
    assert run(c, "EXEC") == b"*-1\r\n"


def test_unwatch_all_cleans_every_index(node):
    db = node.dbs[0]
    db.set(b"s", b"v")
    expire_now(db, b"s")
    c = watcher(node, db, b"a", b"s", b"a")
    assert c.watched == [(db, b"a"), (db, b"s")]
    tx.unwatch_all(c)
    assert db.watched == {} and db.watched_stale == {} and c.watched == []
