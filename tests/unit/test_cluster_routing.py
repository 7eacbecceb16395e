"""Client routing: MOVED, ASK, TRYAGAIN, CROSSSLOT, CLUSTERDOWN, ASKING, READONLY, EXEC."""

import pytest

from shardis.cluster import busproto as bp
from shardis.cluster import routing
from shardis.cluster.index import SlotIndex
from shardis.cluster.slots import key_slot
from shardis.cluster.state import CLUSTER_FAIL, CLUSTER_OK, ClusterNode, ClusterState
from shardis.commands import load_all
from shardis.keyspace.db import Database
from shardis.server.commandtable import lookup

load_all()

CONFIG = {
    "cluster-node-timeout": 1000,
    "cluster-preferred-endpoint-type": "ip",
    "cluster-allow-reads-when-down": False,
    "cluster-allow-pubsubshard-when-down": True,
    "port": 7000,
}


class FakeNode:
    lru_clock = 0
    notify_flags = 0

    def __init__(self):
        self.config = dict(CONFIG)
        self.dbs = [Database(0, self)]
        self.dbs[0].slot_index = SlotIndex()
        self.cluster = None

    def is_replica_of_master(self):
        return False

    def log(self, level, msg):
        pass


class FakeClient:
    def __init__(self, node):
        self.node = node
        self.multi = False
        self.mstate = []
        self.asking = False
        self.readonly = False
        self.is_master_link = False
        self.fast_updates = 0

    def update_fast(self):
        self.fast_updates += 1


K0 = b"{a}k"  # slot of "a"
SLOT = key_slot(b"a")


@pytest.fixture
def env():
    server = FakeNode()
    st = ClusterState(server)
    server.cluster = st
    st.myself.ip, st.myself.port = "10.0.0.1", 7000
    other = ClusterNode(None, bp.NODE_MASTER)
    other.ip, other.port, other.hostname = "10.0.0.2", 7001, "b.example"
    st.add_node(other)
    for s in range(16384):
        st.add_slot(st.myself if s >= 8192 else other, s)  # mine: 8192-16383
    st.state = CLUSTER_OK
    st.refresh_routing()
    return st, other, FakeClient(server)


def route(c, *argv):
    argv = [a if isinstance(a, bytes) else a.encode() for a in argv]
    cmd = lookup(argv[0])
    if cmd.subcommands:
        cmd = cmd.subcommands[argv[1].lower()]
    return routing.cluster_redirect(c, cmd, argv)


def far_key():
    """A key of a slot the other node serves."""
    for i in range(100000):
        k = b"k%d" % i
        if key_slot(k) < 8192:
            return k


def test_own_slot_is_served_and_other_is_moved(env):
    st, other, c = env
    assert SLOT >= 8192
    assert route(c, "GET", K0) is None
    k = far_key()
    assert route(c, "GET", k) == b"-MOVED %d 10.0.0.2:7001\r\n" % key_slot(k)
    assert route(c, "PING") is None  # no keys, never redirected


def test_preferred_endpoint(env):
    st, other, c = env
    k = far_key()
    c.node.config["cluster-preferred-endpoint-type"] = "hostname"
    assert route(c, "GET", k) == b"-MOVED %d b.example:7001\r\n" % key_slot(k)
    other.hostname = ""
    assert route(c, "GET", k) == b"-MOVED %d ?:7001\r\n" % key_slot(k)
    c.node.config["cluster-preferred-endpoint-type"] = "unknown-endpoint"
    assert route(c, "GET", k) == b"-MOVED %d :7001\r\n" % key_slot(k)


def test_crossslot(env):
    st, other, c = env
    assert route(c, "MGET", b"{a}1", b"{a}2") is None
    assert route(c, "MGET", b"a", b"b") == b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    # the first key decides before the others are compared
    assert route(c, "MSET", far_key(), b"v", far_key(), b"w") == b"-MOVED %d 10.0.0.2:7001\r\n" % key_slot(far_key())


def test_unbound_slot_and_down_states(env):
    st, other, c = env
    st.del_slot(SLOT)
    assert route(c, "GET", K0) == b"-CLUSTERDOWN Hash slot not served\r\n"
    st.add_slot(st.myself, SLOT)
    st.state = CLUSTER_FAIL
    assert route(c, "GET", K0) == b"-CLUSTERDOWN The cluster is down\r\n"
    c.node.config["cluster-allow-reads-when-down"] = True
    assert route(c, "GET", K0) is None
    assert route(c, "SET", K0, b"v") == b"-CLUSTERDOWN The cluster is down and only accepts read commands\r\n"
    assert route(c, "PING") is None


def test_migrating_slot_ask_and_tryagain(env):
    st, other, c = env
    db = c.node.dbs[0]
    st.set_migrating(SLOT, other)
    db.set(b"{a}here", b"1")
    assert route(c, "GET", b"{a}here") is None  # we still have it
    assert route(c, "GET", b"{a}gone") == b"-ASK %d 10.0.0.2:7001\r\n" % SLOT
    assert route(c, "SET", b"{a}gone", b"v") == b"-ASK %d 10.0.0.2:7001\r\n" % SLOT
    assert route(c, "MGET", b"{a}gone", b"{a}gone2") == b"-ASK %d 10.0.0.2:7001\r\n" % SLOT
    assert route(c, "MGET", b"{a}here", b"{a}gone") == b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
    # a key whose TTL passed counts as missing (and is not deleted by routing)
    db.set(b"{a}old", b"1")
    db.set_expire(b"{a}old", 1)
    assert route(c, "GET", b"{a}old") == b"-ASK %d 10.0.0.2:7001\r\n" % SLOT
    assert b"{a}old" in db.data


def test_importing_slot_needs_asking(env):
    st, other, c = env
    k = far_key()
    slot = key_slot(k)
    st.set_importing(slot, other)
    assert route(c, "GET", k) == b"-MOVED %d 10.0.0.2:7001\r\n" % slot
    c.asking = True
    assert route(c, "GET", k) is None
    assert not c.asking and c.fast_updates == 1  # ASKING is good for one command
    assert route(c, "GET", k).startswith(b"-MOVED")
    # several keys of the slot, some missing: TRYAGAIN even after ASKING
    c.asking = True
    assert route(c, "MGET", k, k) is None  # the same key twice is one key
    x, y = b"{" + k + b"}x", b"{" + k + b"}y"
    assert key_slot(x) == key_slot(y) == slot
    c.asking = True
    assert route(c, "MGET", x, y) == b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
    c.node.dbs[0].set(x, b"1")
    c.asking = True
    assert route(c, "MGET", x, y).startswith(b"-TRYAGAIN")
    c.node.dbs[0].set(y, b"1")
    c.asking = True
    assert route(c, "MGET", x, y) is None


def test_asking_survives_multi_and_the_asking_command(env):
    st, other, c = env
    c.asking = True
    assert route(c, "ASKING") is None and c.asking
    assert route(c, "MULTI") is None and c.asking
    c.multi = True
    assert route(c, "PING") is None and c.asking  # queued commands keep it
    assert route(c, "EXEC") is None and not c.asking  # EXEC ends it
    c.multi = False
    c.asking = True
    assert route(c, "PING") is None and not c.asking


def test_exec_routes_the_queued_commands(env):
    st, other, c = env
    c.multi = True
    get = lookup(b"get")
    c.mstate = [(get, [b"GET", b"{a}1"]), (get, [b"GET", b"{a}2"])]
    assert route(c, "EXEC") is None
    k = far_key()
    c.mstate.append((get, [b"GET", k]))
    assert route(c, "EXEC") == b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    c.mstate = [(get, [b"GET", k])]
    assert route(c, "EXEC") == b"-MOVED %d 10.0.0.2:7001\r\n" % key_slot(k)
    c.multi = False
    assert route(c, "EXEC") is None  # not in MULTI: EXEC will fail by itself


def test_readonly_replica_serves_reads_of_its_master(env):
    st, other, c = env
    for s in range(8192, 16384):
        st.del_slot(s)
        st.add_slot(other, s)
    st.set_master(other)
    assert route(c, "GET", K0) == b"-MOVED %d 10.0.0.2:7001\r\n" % SLOT
    c.readonly = True
    assert route(c, "GET", K0) is None
    assert route(c, "SET", K0, b"v").startswith(b"-MOVED")
    c.multi = True
    c.mstate = [(lookup(b"set"), [b"SET", K0, b"v"])]
    assert route(c, "EXEC").startswith(b"-MOVED")  # a transaction with a write is a write
    c.readonly = False
    c.multi = False
    # sharded pub/sub reads from replicas without READONLY
    assert route(c, "SSUBSCRIBE", K0) is None


def test_master_link_is_obeyed(env):
    st, other, c = env
    c.is_master_link = True
    assert route(c, "SET", far_key(), b"v") is None


def test_fast_sets_follow_all_owned():
    routing.build_fast_sets()
    get, ping, mget = lookup(b"get"), lookup(b"ping"), lookup(b"mget")
    assert get in routing.FAST_FIRST_KEY and ping in routing.FAST_DIRECT and get not in routing.FAST_DIRECT
    assert mget not in routing.FAST_FIRST_KEY and mget not in routing.FAST_DIRECT
    routing.set_all_owned(True)
    assert get in routing.FAST_DIRECT and mget not in routing.FAST_DIRECT
    routing.set_all_owned(False)
    assert get not in routing.FAST_DIRECT
