"""CLUSTER commands, ASKING/READONLY/READWRITE and cluster routing, byte for byte against redis-server 7.0.

One shardis node and one redis-server, both in cluster mode and alone in
their cluster, get the same requests on raw connections.  Node ids and ports
differ between the two, so replies go through a normaliser that replaces
each server's id, client port and bus port with a placeholder of the same
length (bulk lengths stay valid and comparable).
"""

from __future__ import annotations

import time

import pytest

from shardis.cluster.slots import key_slot
from shardis.testing import Differential, RawConnection, RedisServerProcess, ShardisProcess
from shardis.testing.pytest_plugin import require_redis_server

CLUSTER = [("cluster-enabled", ["yes"]), ("cluster-node-timeout", ["1000"])]
DEADLINE = 20.0  # seconds for any wait in this module


def _myid(port: int) -> bytes:
    with RawConnection(port) as c:
        reply = c.request("CLUSTER", "MYID")
    return reply.split(b"\r\n")[1]


class Pair:
    def __init__(self):
        self.shardis = ShardisProcess(CLUSTER)
        self.redis = RedisServerProcess(CLUSTER)

    def start(self):
        try:
            self.redis.start()
            self.shardis.start()
        except BaseException:
            self.cleanup()
            raise
        self.refresh_ids()
        return self

    def refresh_ids(self):
        self.ids = {_myid(self.shardis.port): b"I" * 40, _myid(self.redis.port): b"I" * 40}

    def cleanup(self):
        self.shardis.cleanup()
        self.redis.cleanup()

    def normalize(self, args, reply: bytes) -> bytes:
        for node_id, placeholder in self.ids.items():
            reply = reply.replace(node_id, placeholder)
        for port in (self.shardis.port, self.redis.port):
            reply = reply.replace(b"%d" % port, b"P" * len(b"%d" % port))
            reply = reply.replace(b"%d" % (port + 10000), b"B" * len(b"%d" % (port + 10000)))
        return reply

    def differential(self) -> Differential:
        d = Differential(self.shardis.port, self.redis.port)
        d.normalizers = {}  # every reply here is compared through normalize
        return d


@pytest.fixture(scope="module")
def pair():
    require_redis_server()
    p = Pair().start()
    # A master's first 2 s (CLUSTER_WRITABLE_DELAY) leave its cluster state,
    # cluster_size included, untouched; both nodes must be past it before
    # CLUSTER INFO can compare equal.
    time.sleep(2.1)
    yield p
    p.cleanup()


@pytest.fixture
def d(pair):
    with RawConnection(pair.shardis.port) as c:
        c.request("FLUSHALL")
        c.request("CLUSTER", "RESET", "HARD")
    with RawConnection(pair.redis.port) as c:
        c.request("FLUSHALL")
        c.request("CLUSTER", "RESET", "HARD")
    pair.refresh_ids()
    diff = pair.differential()
    yield diff
    diff.close()


def check(pair, d, *args):
    return d.check(*args, normalize=pair.normalize)


def wait_ok(pair):
    deadline = time.monotonic() + DEADLINE
    for port in (pair.shardis.port, pair.redis.port):
        with RawConnection(port) as c:
            while b"cluster_state:ok" not in c.request("CLUSTER", "INFO"):
                assert time.monotonic() < deadline, f"node {port} never reached cluster_state:ok"
                time.sleep(0.05)


def test_introspection_of_a_lone_node(pair, d):
    for args in [
        ("CLUSTER", "INFO"),
        ("CLUSTER", "HELP"),
        ("CLUSTER", "MYID"),
        ("CLUSTER", "NODES"),
        ("CLUSTER", "SLOTS"),
        ("CLUSTER", "SHARDS"),
        ("CLUSTER", "LINKS"),
        ("CLUSTER", "KEYSLOT", "foo"),
        ("CLUSTER", "KEYSLOT", "{user1000}.following"),
        ("CLUSTER", "KEYSLOT", "foo{}{bar}"),
        ("CLUSTER", "KEYSLOT", ""),
        ("CLUSTER", "COUNTKEYSINSLOT", "0"),
        ("CLUSTER", "GETKEYSINSLOT", "0", "10"),
    ]:
        check(pair, d, *args)
    for port in (pair.shardis.port, pair.redis.port):
        with RawConnection(port) as c:
            assert c.request("CLUSTER", "COUNT-FAILURE-REPORTS", _myid(port)) == b":0\r\n"


def test_resp3_forms(pair, d):
    d.both("HELLO", "3")  # client ids differ; what matters is the replies after it
    for args in [("CLUSTER", "INFO"), ("CLUSTER", "NODES"), ("CLUSTER", "SHARDS"), ("CLUSTER", "SLOTS")]:
        check(pair, d, *args)
    check(pair, d, "CLUSTER", "ADDSLOTS", "0", "1", "2", "5000")
    for args in [("CLUSTER", "SHARDS"), ("CLUSTER", "SLOTS"), ("CLUSTER", "NODES")]:
        check(pair, d, *args)


BAD_REQUESTS = [
    ("CLUSTER",),
    ("CLUSTER", "FOO"),
    ("CLUSTER", "INFO", "x"),
    ("CLUSTER", "NODES", "x"),
    ("CLUSTER", "MYID", "x"),
    ("CLUSTER", "ADDSLOTS"),
    ("CLUSTER", "ADDSLOTS", "x"),
    ("CLUSTER", "ADDSLOTS", "-1"),
    ("CLUSTER", "ADDSLOTS", "16384"),
    ("CLUSTER", "ADDSLOTS", "1", "x"),
    ("CLUSTER", "ADDSLOTS", "7", "7"),
    ("CLUSTER", "ADDSLOTS", "007"),
    ("CLUSTER", "ADDSLOTSRANGE", "10"),
    ("CLUSTER", "ADDSLOTSRANGE", "10", "20", "30"),
    ("CLUSTER", "ADDSLOTSRANGE", "10", "5"),
    ("CLUSTER", "ADDSLOTSRANGE", "10", "20", "15", "25"),
    ("CLUSTER", "ADDSLOTSRANGE", "x", "20"),
    ("CLUSTER", "ADDSLOTSRANGE", "1", "16384"),
    ("CLUSTER", "DELSLOTS", "100"),
    ("CLUSTER", "DELSLOTSRANGE", "100", "200"),
    ("CLUSTER", "COUNTKEYSINSLOT", "x"),
    ("CLUSTER", "COUNTKEYSINSLOT", "16384"),
    ("CLUSTER", "COUNTKEYSINSLOT", "-1"),
    ("CLUSTER", "GETKEYSINSLOT", "x", "1"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "x"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "-1"),
    ("CLUSTER", "GETKEYSINSLOT", "16384", "1"),
    ("CLUSTER", "FORGET", "abc"),
    ("CLUSTER", "FORGET", "a" * 40),
    ("CLUSTER", "REPLICATE", "abc"),
    ("CLUSTER", "REPLICAS", "abc"),
    ("CLUSTER", "SLAVES", "abc"),
    ("CLUSTER", "COUNT-FAILURE-REPORTS", "abc"),
    ("CLUSTER", "SET-CONFIG-EPOCH", "x"),
    ("CLUSTER", "SET-CONFIG-EPOCH", "-1"),
    ("CLUSTER", "SETSLOT", "1"),
    ("CLUSTER", "SETSLOT", "99999", "stable"),
    ("CLUSTER", "SETSLOT", "x", "stable"),
    ("CLUSTER", "SETSLOT", "1", "foo"),
    ("CLUSTER", "SETSLOT", "1", "stable", "x"),
    ("CLUSTER", "SETSLOT", "1", "migrating", "abc"),
    ("CLUSTER", "SETSLOT", "1", "importing", "abc"),
    ("CLUSTER", "SETSLOT", "1", "node", "abc"),
    ("CLUSTER", "SETSLOT", "1", "node"),
    ("CLUSTER", "MEET", "a"),
    ("CLUSTER", "MEET", "1.2.3.4.5", "10"),
    ("CLUSTER", "MEET", "127.0.0.1", "x"),
    ("CLUSTER", "MEET", "127.0.0.1", "10", "x"),
    ("CLUSTER", "MEET", "127.0.0.1", "0"),
    ("CLUSTER", "MEET", "127.0.0.1", "70000"),
    ("CLUSTER", "MEET", "127.0.0.1", "1", "2", "3"),
    ("CLUSTER", "RESET", "foo"),
    ("CLUSTER", "RESET", "soft", "x"),
    ("CLUSTER", "FLUSHSLOTS", "x"),
    ("CLUSTER", "KEYSLOT"),
    ("ASKING", "x"),
    ("READONLY", "x"),
    ("SELECT", "1"),
    ("GET", "foo"),
    ("SET", "foo", "bar"),
    ("MGET", "a", "b"),
]


@pytest.mark.parametrize("args", BAD_REQUESTS, ids=[" ".join(a)[:40] for a in BAD_REQUESTS])
def test_errors(pair, d, args):
    check(pair, d, *args)


def test_slot_assignment_and_epochs(pair, d):
    for args in [
        ("CLUSTER", "ADDSLOTS", "0", "1", "2", "5000"),
        ("CLUSTER", "ADDSLOTS", "0"),
        ("CLUSTER", "ADDSLOTS", "3", "2"),
        ("CLUSTER", "ADDSLOTSRANGE", "10", "20", "30", "40"),
        ("CLUSTER", "ADDSLOTSRANGE", "41", "50", "45", "60"),
        ("CLUSTER", "DELSLOTS", "15"),
        ("CLUSTER", "DELSLOTS", "15"),
        ("CLUSTER", "DELSLOTSRANGE", "30", "35"),
        ("CLUSTER", "NODES"),
        ("CLUSTER", "SLOTS"),
        ("CLUSTER", "SHARDS"),
        ("CLUSTER", "INFO"),
        ("CLUSTER", "BUMPEPOCH"),
        ("CLUSTER", "BUMPEPOCH"),
        ("CLUSTER", "SET-CONFIG-EPOCH", "5"),
        ("CLUSTER", "INFO"),
        ("CLUSTER", "SETSLOT", "3", "migrating", "I" * 40),
        ("CLUSTER", "SETSLOT", "0", "importing", "I" * 40),
        ("CLUSTER", "FLUSHSLOTS"),
        ("CLUSTER", "NODES"),
        ("CLUSTER", "SAVECONFIG"),
    ]:
        check(pair, d, *args)


def test_set_config_epoch_rules(pair, d):
    check(pair, d, "CLUSTER", "SET-CONFIG-EPOCH", "0")
    check(pair, d, "CLUSTER", "SET-CONFIG-EPOCH", "7")
    check(pair, d, "CLUSTER", "SET-CONFIG-EPOCH", "8")
    check(pair, d, "CLUSTER", "BUMPEPOCH")
    check(pair, d, "CLUSTER", "INFO")


def test_setslot_on_own_node(pair, d):
    check(pair, d, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    for port in (pair.shardis.port, pair.redis.port):
        with RawConnection(port) as c:
            mine = _myid(port)
            assert c.request("CLUSTER", "SETSLOT", "5", "migrating", mine) == b"+OK\r\n"
            assert c.request("CLUSTER", "SETSLOT", "6", "importing", mine) == b"-ERR I'm already the owner of hash slot 6\r\n"
            assert c.request("CLUSTER", "SETSLOT", "7", "node", mine) == b"+OK\r\n"
    check(pair, d, "CLUSTER", "NODES")
    check(pair, d, "CLUSTER", "SETSLOT", "5", "stable")
    check(pair, d, "CLUSTER", "NODES")


def test_keys_and_slots_once_the_cluster_is_ok(pair, d):
    check(pair, d, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    wait_ok(pair)
    check(pair, d, "CLUSTER", "INFO")
    keys = [b"{tag}a", b"{tag}b", b"{tag}c"]
    slot = key_slot(b"tag")
    for k in keys:
        check(pair, d, "SET", k, b"v")
    for args in [
        ("GET", "{tag}a"),
        ("MGET", "{tag}a", "{tag}b", "{tag}x"),
        ("MGET", "{tag}a", "other"),
        ("MSET", "a", "1", "b", "2"),
        ("DEL", "{tag}a", "zz"),
        ("CLUSTER", "COUNTKEYSINSLOT", str(slot)),
        ("CLUSTER", "GETKEYSINSLOT", str(slot), "10"),
        ("CLUSTER", "GETKEYSINSLOT", str(slot), "1"),
        ("CLUSTER", "GETKEYSINSLOT", str(slot), "0"),
        ("CLUSTER", "FLUSHSLOTS"),
        ("CLUSTER", "RESET"),
        ("SELECT", "0"),
        ("SELECT", "1"),
        ("ASKING",),
        ("GET", "{tag}b"),
        ("READONLY",),
        ("READWRITE",),
        ("MULTI",),
        ("SET", "{tag}q", "1"),
        ("GET", "other"),
        ("EXEC",),
    ]:
        check(pair, d, *args)


def test_cluster_support_disabled(shardis_node, redis_server):
    require_redis_server()
    with Differential(shardis_node.port, redis_server.port) as diff:
        for args in [
            ("CLUSTER", "INFO"),
            ("CLUSTER", "NODES"),
            ("CLUSTER", "KEYSLOT", "x"),
            ("CLUSTER", "ADDSLOTS", "1"),
            ("CLUSTER", "HELP"),
            ("CLUSTER", "NOPE"),
            ("CLUSTER", "MEET", "a"),
            ("ASKING",),
            ("READONLY",),
            ("READWRITE",),
            ("SELECT", "1"),
        ]:
            diff.check(*args)
