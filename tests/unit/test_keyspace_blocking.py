"""keyspace/blocking.py on its own: timeouts parsing, FIFO serving, timers, cleanup.

The module is driven with a real asyncio loop, a real ``Database`` and small
stand-ins for the node and the clients (the blocking module only needs
``block``/``unblock``, ``bstate``, ``multi``, ``resp`` and ``node`` from a
client), so ordering and timing are checked without sockets.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from shardis.keyspace import blocking
from shardis.keyspace.db import Database
from shardis.keyspace.objects import List
from shardis.protocol.resp import RESP2, RESP3
from shardis.server import replies as R


class FakeNode:
    def __init__(self, loop):
        self.loop = loop
        self.notify_flags = 0
        self.lru_clock = 0
        self.clients = {}
        self.logged = []
        self.dbs = []
        self.fast = self.cluster_fast = True

    def update_fast(self):
        from shardis.keyspace.blocking import ready_keys_pending

        self.fast = self.cluster_fast = not ready_keys_pending(self)

    def is_replica_of_master(self):
        return False

    def log(self, level, msg):
        self.logged.append((level, msg))

    def notify(self, *args):
        pass


class FakeClient:
    _next_id = 1

    def __init__(self, node, db, resp=RESP2):
        self.node = node
        self.db = db
        self.resp = resp
        self.multi = False
        self.blocked = False
        self.bstate = None
        self.replies = []
        self.id = FakeClient._next_id
        FakeClient._next_id += 1
        node.clients[self.id] = self

    def block(self, state):
        self.blocked = True
        self.bstate = state

    def unblock(self, reply):
        self.blocked = False
        self.bstate = None
        if reply is not None:
            self.replies.append(reply)


@pytest.fixture
def env():
    loop = asyncio.new_event_loop()
    node = FakeNode(loop)
    db = Database(0, node)
    node.dbs.append(db)
    yield loop, node, db
    loop.close()


def pop_serve(c, key):
    """A minimal LPOP-like serve callback."""
    lst = c.db.peek(key)
    if not isinstance(lst, List) or not lst:
        return None
    v = lst.popleft()
    if not lst:
        c.db.delete(key)
    return b"*2\r\n" + b"$%d\r\n%b\r\n" % (len(key), key) + b"$%d\r\n%b\r\n" % (len(v), v)


def run_briefly(loop, seconds=0.0):
    loop.run_until_complete(asyncio.sleep(seconds))


# --- parse_timeout -------------------------------------------------------------------------------

# What redis-server 7.0.15 answers for BLPOP k <timeout> (checked by hand and by
# tests/integration/test_blocking.py against the real server).
@pytest.mark.parametrize(
    "arg, expected",
    [
        (b"0", 0.0),
        (b"1", 1.0),
        (b"0.5", 0.5),
        (b"+1", 1.0),
        (b"0x10", 16.0),
        (b".25", 0.25),
        (b"1e-300", 0.001),  # rounded up to one millisecond
        (b"-0", 0.0),
        (b"-0.0001", 0.0),  # rounds up to 0 ms: forever
        (b"abc", R.TIMEOUT_NOT_FLOAT),
        (b"", R.TIMEOUT_NOT_FLOAT),
        (b" 1", R.TIMEOUT_NOT_FLOAT),
        (b"1 ", R.TIMEOUT_NOT_FLOAT),
        (b"nan", R.TIMEOUT_NOT_FLOAT),
        (b"1e-5000", R.TIMEOUT_NOT_FLOAT),  # underflows a long double
        (b"1_0", R.TIMEOUT_NOT_FLOAT),
        (b"-1", R.TIMEOUT_NEGATIVE),
        (b"-0.01", R.TIMEOUT_NEGATIVE),
        (b"inf", R.TIMEOUT_NEGATIVE),  # (long long)inf is LLONG_MIN
        (b"-inf", R.TIMEOUT_NEGATIVE),
        (b"1e30", R.TIMEOUT_NEGATIVE),
        (b"1e16", R.TIMEOUT_NEGATIVE),
        (b"9223372036854776", R.TIMEOUT_NEGATIVE),
    ],
)
def test_parse_timeout(arg, expected):
    assert blocking.parse_timeout(arg) == expected


def test_parse_timeout_accepts_tiny_long_double_values():
    # 1e-400 is below a double's range but a valid long double: 1 ms.
    assert blocking.parse_timeout(b"1e-400") == 0.001


def test_deadline_ms():
    assert blocking.deadline_ms(0.0) == 0
    now = int(time.time() * 1000)
    d = blocking.deadline_ms(1.5)
    assert now + 1500 <= d <= now + 1500 + 1000


# --- FIFO serving ----------------------------------------------------------------------------------


def test_clients_served_in_blocking_order(env):
    loop, node, db = env
    clients = [FakeClient(node, db) for _ in range(3)]
    for c in clients:
        assert blocking.block_for_keys(c, db, [b"k"], 0, pop_serve) is None
        assert c.blocked
    assert list(db.blocking[b"k"]) == clients
    db.set(b"k", List([b"a", b"b"]))
    blocking.signal_key_ready(db, b"k")
    run_briefly(loop)
    assert clients[0].replies == [b"*2\r\n$1\r\nk\r\n$1\r\na\r\n"]
    assert clients[1].replies == [b"*2\r\n$1\r\nk\r\n$1\r\nb\r\n"]
    assert clients[2].replies == [] and clients[2].blocked
    assert list(db.blocking[b"k"]) == [clients[2]]
    assert db.peek(b"k") is None


def test_signal_is_coalesced_and_served_once(env):
    loop, node, db = env
    calls = []

    def serve(c, key):
        calls.append(key)
        return None

    c = FakeClient(node, db)
    blocking.block_for_keys(c, db, [b"k"], 0, serve)
    db.set(b"k", List([b"x"]))
    for _ in range(5):
        blocking.signal_key_ready(db, b"k")
    run_briefly(loop)
    assert calls == [b"k"]
    assert c.blocked  # serve returned None: still waiting


def test_signal_without_waiters_is_a_noop(env):
    loop, node, db = env
    blocking.signal_key_ready(db, b"nobody")
    assert not blocking._registry(node).ready


def test_keys_deduplicated_and_all_queues_left_on_serve(env):
    loop, node, db = env
    c = FakeClient(node, db)
    blocking.block_for_keys(c, db, [b"a", b"b", b"a"], 0, pop_serve)
    assert c.bstate.keys == [b"a", b"b"]
    assert set(db.blocking) == {b"a", b"b"}
    db.set(b"b", List([b"1"]))
    blocking.signal_key_ready(db, b"b")
    run_briefly(loop)
    assert c.replies == [b"*2\r\n$1\r\nb\r\n$1\r\n1\r\n"]
    assert db.blocking == {}


def test_ready_keys_served_in_signal_order(env):
    loop, node, db = env
    c = FakeClient(node, db)
    blocking.block_for_keys(c, db, [b"a", b"b"], 0, pop_serve)
    db.set(b"a", List([b"from-a"]))
    db.set(b"b", List([b"from-b"]))
    blocking.signal_key_ready(db, b"b")
    blocking.signal_key_ready(db, b"a")
    run_briefly(loop)
    assert c.replies == [b"*2\r\n$1\r\nb\r\n$6\r\nfrom-b\r\n"]
    assert list(db.peek(b"a")) == [b"from-a"]


def test_serving_stops_when_key_emptied(env):
    loop, node, db = env
    seen = []

    def serve(c, key):
        seen.append(c)
        return pop_serve(c, key)

    a, b = FakeClient(node, db), FakeClient(node, db)
    blocking.block_for_keys(a, db, [b"k"], 0, serve)
    blocking.block_for_keys(b, db, [b"k"], 0, serve)
    db.set(b"k", List([b"only"]))
    blocking.signal_key_ready(db, b"k")
    run_briefly(loop)
    assert seen == [a]  # b was not even offered the deleted key
    assert b.blocked


def test_serving_chain_through_other_keys(env):
    """A serve that pushes to another key (BLMOVE) wakes that key's clients in the same round."""
    loop, node, db = env

    def move_serve(c, key):
        src = db.peek(key)
        if not src:
            return None
        v = src.popleft()
        if not src:
            db.delete(key)
        dst = db.peek(b"dst")
        if dst is None:
            dst = List()
            db.set(b"dst", dst)
        dst.append(v)
        blocking.signal_key_ready(db, b"dst")
        return b"$%d\r\n%b\r\n" % (len(v), v)

    mover = FakeClient(node, db)
    popper = FakeClient(node, db)
    blocking.block_for_keys(mover, db, [b"src"], 0, move_serve)
    blocking.block_for_keys(popper, db, [b"dst"], 0, pop_serve)
    db.set(b"src", List([b"v"]))
    blocking.signal_key_ready(db, b"src")
    run_briefly(loop)
    assert mover.replies == [b"$1\r\nv\r\n"]
    assert popper.replies == [b"*2\r\n$3\r\ndst\r\n$1\r\nv\r\n"]


def test_serve_exception_unblocks_with_error(env):
    loop, node, db = env

    def broken(c, key):
        raise RuntimeError("boom")

    c = FakeClient(node, db)
    blocking.block_for_keys(c, db, [b"k"], 0, broken)
    db.set(b"k", List([b"x"]))
    blocking.signal_key_ready(db, b"k")
    run_briefly(loop)
    assert len(c.replies) == 1 and c.replies[0].startswith(b"-ERR internal error")
    assert node.logged


def test_handle_synchronously(env):
    """handle_clients_blocked_on_keys can be called by dispatch right after a command."""
    loop, node, db = env
    c = FakeClient(node, db)
    blocking.block_for_keys(c, db, [b"k"], 0, pop_serve)
    db.set(b"k", List([b"x"]))
    blocking.signal_key_ready(db, b"k")
    blocking.handle_clients_blocked_on_keys(node)
    assert c.replies and not c.blocked
    run_briefly(loop)  # the scheduled call finds nothing left to do
    assert len(c.replies) == 1


# --- timeouts ---------------------------------------------------------------------------------------


def test_timeouts_fire_in_deadline_order(env):
    loop, node, db = env
    order = []

    class Recording(FakeClient):
        def unblock(self, reply):
            order.append(self)
            super().unblock(reply)

    now = int(time.time() * 1000)
    clients = [Recording(node, db) for _ in range(4)]
    delays = [120, 40, 80, 160]
    for c, d in zip(clients, delays):
        blocking.block_for_keys(c, db, [b"k%d" % d], now + d, pop_serve)
    t0 = time.monotonic()
    run_briefly(loop, 0.3)
    assert [delays[clients.index(c)] for c in order] == [40, 80, 120, 160]
    assert all(c.replies == [b"*-1\r\n"] for c in clients)
    assert time.monotonic() - t0 < 2
    assert db.blocking == {}


def test_timeout_reply_follows_protocol_and_override(env):
    loop, node, db = env
    now = int(time.time() * 1000)
    c3 = FakeClient(node, db, RESP3)
    custom = FakeClient(node, db)
    blocking.block_for_keys(c3, db, [b"a"], now + 10, pop_serve)
    blocking.block_for_keys(custom, db, [b"b"], now + 10, pop_serve, timeout_reply=b"$-1\r\n")
    run_briefly(loop, 0.1)
    assert c3.replies == [b"_\r\n"]
    assert custom.replies == [b"$-1\r\n"]


def test_served_client_timer_cancelled(env):
    loop, node, db = env
    now = int(time.time() * 1000)
    c = FakeClient(node, db)
    blocking.block_for_keys(c, db, [b"k"], now + 50, pop_serve)
    assert c.bstate.timer is not None
    db.set(b"k", List([b"x"]))
    blocking.signal_key_ready(db, b"k")
    run_briefly(loop, 0.15)
    assert c.replies == [b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n"]  # and no timeout reply after it


def test_far_deadline_arms_no_timer(env):
    loop, node, db = env
    c = FakeClient(node, db)
    blocking.block_for_keys(c, db, [b"k"], blocking.LLONG_MAX, pop_serve)
    assert c.blocked and c.bstate.timer is None


# --- unblocking from outside ------------------------------------------------------------------------


def test_client_unblock_timeout_and_error(env):
    loop, node, db = env
    a, b, idle = FakeClient(node, db), FakeClient(node, db), FakeClient(node, db)
    blocking.block_for_keys(a, db, [b"k"], 0, pop_serve)
    blocking.block_for_keys(b, db, [b"k"], 0, pop_serve)
    assert blocking.client_unblock(a, error=False)
    assert blocking.client_unblock(b, error=True)
    assert not blocking.client_unblock(idle, error=False)
    assert a.replies == [b"*-1\r\n"]
    assert b.replies == [R.UNBLOCKED]
    assert db.blocking == {}


def test_client_unblock_other_blocking_kinds(env):
    loop, node, db = env

    class WaitState:
        def __init__(self):
            self.calls = []

        def client_unblock(self, c, error):
            self.calls.append(error)
            c.unblock(b":0\r\n")
            return True

    c = FakeClient(node, db)
    st = WaitState()
    c.block(st)
    assert blocking.client_unblock(c, error=True)
    assert st.calls == [True] and c.replies == [b":0\r\n"]
    other = FakeClient(node, db)
    other.block(object())  # no hook: cannot be interrupted
    assert not blocking.client_unblock(other, error=False)


def test_unblock_client_api(env):
    loop, node, db = env
    c = FakeClient(node, db)
    assert not blocking.unblock_client(c, b"-MOVED 1 x\r\n")
    blocking.block_for_keys(c, db, [b"k"], 0, pop_serve)
    assert blocking.unblock_client(c, b"-MOVED 1 x\r\n")
    assert c.replies == [b"-MOVED 1 x\r\n"] and db.blocking == {}


def test_disconnect_cleanup(env):
    loop, node, db = env
    now = int(time.time() * 1000)
    a, b = FakeClient(node, db), FakeClient(node, db)
    blocking.block_for_keys(a, db, [b"k", b"j"], now + 50, pop_serve)
    blocking.block_for_keys(b, db, [b"k"], 0, pop_serve)
    blocking._client_closed(a)
    assert not a.blocked and a.bstate is None
    assert list(db.blocking[b"k"]) == [b] and b"j" not in db.blocking
    run_briefly(loop, 0.1)
    assert a.replies == []  # its timer was cancelled
    db.set(b"k", List([b"x"]))
    blocking.signal_key_ready(db, b"k")
    run_briefly(loop)
    assert b.replies == [b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n"]


def test_scan_database_for_ready_keys(env):
    loop, node, db = env
    c = FakeClient(node, db)
    blocking.block_for_keys(c, db, [b"k"], 0, pop_serve)
    db.data[b"k"] = List([b"swapped-in"])  # as SWAPDB brings contents in
    blocking.scan_database_for_ready_keys(db)
    run_briefly(loop)
    assert c.replies == [b"*2\r\n$1\r\nk\r\n$10\r\nswapped-in\r\n"]


def test_must_not_block_and_counts(env):
    loop, node, db = env
    c = FakeClient(node, db)
    assert not blocking.must_not_block(c)
    c.multi = True
    assert blocking.must_not_block(c)
    c.multi = False
    c.deny_blocking = True
    assert blocking.must_not_block(c)
    d = FakeClient(node, db)
    blocking.block_for_keys(d, db, [b"x", b"y"], 0, pop_serve)
    assert blocking.blocked_clients(node) == 1
    assert blocking.blocking_keys(node) == 2
