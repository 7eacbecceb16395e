"""Clusters of real processes: shardis nodes alone, and shardis nodes with redis-server 7.0.

What is checked is what users and tools see: ``redis-cli --cluster create``
and ``--cluster check``, ``redis-cli -c``, raw MOVED/ASK redirections,
redis-py's RedisCluster (sync and asyncio), ``redis-benchmark --cluster``,
CLUSTER NODES on both kinds of node in a mixed cluster, failure detection
(PFAIL then FAIL) of a killed node, and a restart from nodes.conf.

Timeouts are short (cluster-node-timeout 1000) and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time

import pytest

from shardis.cluster.slots import key_slot
from shardis.testing import RawConnection, ShardisProcess
from shardis.testing.cluster import WAIT, cluster_nodes, request, text, wait_for
from shardis.testing.pytest_plugin import require_redis_server

NODE_TIMEOUT = 1000  # ms
CLUSTER = [("cluster-enabled", ["yes"]), ("cluster-node-timeout", [str(NODE_TIMEOUT)])]


def cluster_state_ok(port: int) -> bool:
    return b"cluster_state:ok" in request(port, "CLUSTER", "INFO")


def redis_cli(*args, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=timeout)


def create_cluster(procs, replicas: int = 0) -> subprocess.CompletedProcess:
    addrs = [f"127.0.0.1:{p.port}" for p in procs]
    args = ["--cluster", "create", *addrs, "--cluster-yes"]
    if replicas:
        args += ["--cluster-replicas", str(replicas)]
    return redis_cli(*args)


def slot_owners(port: int) -> dict[int, str]:
    """slot -> node id, from this node's CLUSTER NODES."""
    owners = {}
    for fields in cluster_nodes(port):
        for spec in fields[8:]:
            if spec.startswith("["):
                continue
            a, _, b = spec.partition("-")
            for s in range(int(a), int(b or a) + 1):
                owners[s] = fields[0]
    return owners


def key_for(lo: int, hi: int, prefix: str = "k") -> str:
    for i in range(1_000_000):
        k = f"{prefix}{i}"
        if lo <= key_slot(k.encode()) <= hi:
            return k
    raise AssertionError("no key found")


@pytest.fixture
def three_shardis(shardis_factory):
    procs = [shardis_factory(CLUSTER) for _ in range(3)]
    res = create_cluster(procs)
    assert res.returncode == 0, res.stdout + res.stderr
    for p in procs:
        wait_for(lambda p=p: cluster_state_ok(p.port), f"cluster_state:ok on {p.port}")
    return procs


# --- 1. redis-cli --cluster create of three shardis masters ---------------------------------------


def test_create_check_and_redirections(three_shardis):
    procs = three_shardis
    res = redis_cli("--cluster", "check", f"127.0.0.1:{procs[1].port}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[OK] All nodes agree about slots configuration." in res.stdout
    assert "[OK] All 16384 slots covered." in res.stdout

    ids = {p.port: text(request(p.port, "CLUSTER", "MYID")) for p in procs}
    owners = slot_owners(procs[0].port)
    assert len(owners) == 16384
    for p in procs[1:]:
        assert slot_owners(p.port) == owners

    # redis-cli -c writes through any node and the keys land on all three
    port_of = {v: k for k, v in ids.items()}
    ranges = [(0, 5460), (5461, 10922), (10923, 16383)]
    keys = [key_for(lo, hi, "user:") for lo, hi in ranges]
    for k in keys:
        res = redis_cli("-c", "-p", str(procs[0].port), "SET", k, f"value-of-{k}")
        assert res.stdout.strip() == "OK", res.stdout + res.stderr
    homes = set()
    for k in keys:
        home = port_of[owners[key_slot(k.encode())]]
        homes.add(home)
        assert request(home, "GET", k) == b"$%d\r\nvalue-of-%s\r\n" % (len(f"value-of-{k}"), k.encode())
        res = redis_cli("-c", "-p", str(procs[2].port), "GET", k)
        assert res.stdout.strip() == f"value-of-{k}"
    assert homes == {p.port for p in procs}

    # a plain client gets Redis's MOVED text
    k = keys[2]
    slot = key_slot(k.encode())
    home = port_of[owners[slot]]
    other = next(p.port for p in procs if p.port != home)
    assert request(other, "GET", k) == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, home)
    assert request(other, "MGET", keys[0], keys[1]) == b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    assert request(home, "CLUSTER", "COUNTKEYSINSLOT", str(slot)) == b":1\r\n"
    assert request(home, "CLUSTER", "GETKEYSINSLOT", str(slot), "5") == b"*1\r\n$%d\r\n%s\r\n" % (len(k), k.encode())


def test_ask_during_a_migration(three_shardis):
    procs = three_shardis
    a, b = procs[0], procs[1]
    id_b = text(request(b.port, "CLUSTER", "MYID"))
    id_a = text(request(a.port, "CLUSTER", "MYID"))
    k = key_for(10, 10, "mig")  # slot 10 belongs to the first node
    assert request(a.port, "SET", k, "here") == b"+OK\r\n"
    assert request(b.port, "CLUSTER", "SETSLOT", "10", "IMPORTING", id_a) == b"+OK\r\n"
    assert request(a.port, "CLUSTER", "SETSLOT", "10", "MIGRATING", id_b) == b"+OK\r\n"
    missing = key_for(10, 10, "other")
    assert request(a.port, "GET", k) == b"$4\r\nhere\r\n"  # still here: served
    assert request(a.port, "GET", missing) == b"-ASK 10 127.0.0.1:%d\r\n" % b.port
    with RawConnection(b.port) as c:
        assert c.request("GET", missing) == b"-MOVED 10 127.0.0.1:%d\r\n" % a.port
        assert c.request("ASKING") == b"+OK\r\n"
        assert c.request("GET", missing) == b"$-1\r\n"
        assert c.request("GET", missing) == b"-MOVED 10 127.0.0.1:%d\r\n" % a.port  # one command only
    nodes = text(request(a.port, "CLUSTER", "NODES"))
    assert f"[10->-{id_b}]" in nodes
    assert f"[10-<-{id_a}]" in text(request(b.port, "CLUSTER", "NODES"))


# --- 2. redis-py RedisCluster, sync and asyncio ------------------------------------------------------


def test_redis_py_cluster_sync(three_shardis):
    import redis
    from redis.cluster import RedisCluster

    rc = RedisCluster(host="127.0.0.1", port=three_shardis[0].port, socket_timeout=10)
    try:
        n = 600
        for i in range(n):
            assert rc.set(f"key:{i}", i)
        assert [int(rc.get(f"key:{i}")) for i in range(0, n, 37)] == list(range(0, n, 37))
        pipe = rc.pipeline()
        for i in range(n):
            pipe.incr(f"key:{i}")
        assert pipe.execute() == [i + 1 for i in range(n)]
        assert rc.mset({"{user:1}:a": "1", "{user:1}:b": "2"})
        assert rc.mget("{user:1}:a", "{user:1}:b", "{user:1}:c") == [b"1", b"2", None]
        with pytest.raises(redis.exceptions.RedisClusterException):
            rc.mget("a", "b", "c")  # keys of different slots
        assert rc.dbsize(target_nodes=RedisCluster.PRIMARIES) == n + 2  # summed over the primaries
        counts = [int(request(p.port, "DBSIZE")[1:-2]) for p in three_shardis]
        assert all(c > 0 for c in counts) and sum(counts) == n + 2

        # pub/sub across nodes: subscribe on one node, publish through another
        p = rc.pubsub(node=rc.get_node(host="127.0.0.1", port=three_shardis[1].port))
        p.subscribe("news")
        wait_for(lambda: p.get_message(timeout=0.1) is not None, "the subscribe confirmation")
        receivers = rc.get_node(host="127.0.0.1", port=three_shardis[2].port).redis_connection.publish(
            "news", "hello"
        )
        assert receivers == 0  # nobody listens on the publishing node itself
        msg = wait_for(lambda: p.get_message(timeout=0.1), "the message published on another node")
        assert msg["type"] == "message" and msg["channel"] == b"news" and msg["data"] == b"hello"
        p.close()
    finally:
        rc.close()


def test_redis_py_cluster_asyncio(three_shardis):
    from redis.asyncio.cluster import RedisCluster

    async def run():
        rc = RedisCluster(host="127.0.0.1", port=three_shardis[2].port)
        try:
            await rc.initialize()
            for i in range(300):
                await rc.set(f"akey:{i}", f"v{i}")
            got = []
            for start in range(0, 300, 25):  # concurrent requests, within the client's pool size
                got += await asyncio.gather(*(rc.get(f"akey:{i}") for i in range(start, start + 25)))
            assert got == [f"v{i}".encode() for i in range(300)]
            async with rc.pipeline() as pipe:
                for i in range(300):
                    pipe.delete(f"akey:{i}")
                assert await pipe.execute() == [1] * 300
            await rc.mset({"{t}1": "a", "{t}2": "b"})
            assert await rc.mget("{t}1", "{t}2") == [b"a", b"b"]
        finally:
            await rc.aclose()

    asyncio.run(asyncio.wait_for(run(), WAIT))


# --- 3. redis-benchmark --cluster ----------------------------------------------------------------


def test_redis_benchmark_cluster(three_shardis):
    res = subprocess.run(
        ["redis-benchmark", "--cluster", "-p", str(three_shardis[0].port), "-t", "set,get", "-n", "20000", "-q"],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"SET: [\d.]+ requests per second", res.stdout), res.stdout
    assert re.search(r"GET: [\d.]+ requests per second", res.stdout), res.stdout
    # the benchmark's keys really were spread over the three nodes
    counts = [int(request(p.port, "DBSIZE")[1:-2]) for p in three_shardis]
    assert all(c >= 1 for c in counts), counts


# --- 4. a mixed cluster: shardis and redis-server -----------------------------------------------------


@pytest.fixture
def mixed(shardis_factory, redis_factory):
    require_redis_server()
    sh = [shardis_factory(CLUSTER) for _ in range(3)]
    rs = [redis_factory(CLUSTER) for _ in range(3)]
    return sh, rs


def test_mixed_cluster_masters_and_replicas(mixed):
    sh, rs = mixed
    # masters alternate kinds; redis-cli pairs replicas with masters of the other kind when it can
    order = [sh[0], rs[0], sh[1], rs[1], sh[2], rs[2]]
    res = create_cluster(order, replicas=1)
    assert res.returncode == 0, res.stdout + res.stderr
    all_ports = [p.port for p in order]
    for port in all_ports:
        wait_for(lambda port=port: cluster_state_ok(port), f"cluster_state:ok on {port}")

    def view(port):
        return {(f[0], f[1].split(",")[0].split("@")[0], f[2].replace("myself,", ""), f[3], f[7]) for f in
                cluster_nodes(port)}

    # every node, shardis or redis, sees the same six nodes, all connected
    wait_for(lambda: all(len(view(p)) == 6 and all(v[4] == "connected" for v in view(p)) for p in all_ports),
             "six connected nodes everywhere")
    wait_for(lambda: len({frozenset(view(p)) for p in all_ports}) == 1, "one view of the topology")
    assert sum(1 for v in view(rs[0].port) if v[2] == "master") == 3
    assert sum(1 for v in view(sh[0].port) if v[2] == "slave") == 3
    owners = slot_owners(rs[0].port)
    assert len(owners) == 16384
    assert slot_owners(sh[0].port) == owners

    # keys written with redis-cli -c land on masters of both kinds
    masters = {f[0]: int(f[1].split("@")[0].rsplit(":", 1)[1]) for f in cluster_nodes(sh[1].port) if "master" in f[2]}
    kinds = {p.port: type(p).__name__ for p in order}
    landed = set()
    for i in range(40):
        k = f"mixed:{i}"
        res = redis_cli("-c", "-p", str(sh[0].port), "SET", k, str(i))
        assert res.stdout.strip() == "OK", res.stdout + res.stderr
        home = masters[owners[key_slot(k.encode())]]
        assert request(home, "GET", k) == b"$%d\r\n%d\r\n" % (len(str(i)), i)
        res = redis_cli("-c", "-p", str(rs[2].port), "GET", k)
        assert res.stdout.strip() == str(i)
        landed.add(kinds[home])
    assert landed == {"ShardisProcess", "RedisServerProcess"}

    res = redis_cli("--cluster", "check", f"127.0.0.1:{rs[1].port}")
    assert "[OK] All nodes agree about slots configuration." in res.stdout, res.stdout
    assert "[OK] All 16384 slots covered." in res.stdout, res.stdout


# --- 5. restart from nodes.conf, failure detection --------------------------------------------------


def test_failure_detection_and_restart_in_a_mixed_cluster(mixed):
    sh, rs = mixed
    order = [sh[0], rs[0], sh[1], rs[1], sh[2], rs[2]]  # six masters
    res = create_cluster(order)
    assert res.returncode == 0, res.stdout + res.stderr
    for p in order:
        wait_for(lambda p=p: cluster_state_ok(p.port), f"cluster_state:ok on {p.port}")
    victim = sh[1]
    victim_id = text(request(victim.port, "CLUSTER", "MYID"))
    victim_slots = {s for s, n in slot_owners(victim.port).items() if n == victim_id}
    k = key_for(min(victim_slots), max(victim_slots), "fd")
    assert request(victim.port, "SET", k, "v") == b"+OK\r\n"
    observers = [p for p in order if p is not victim]

    def flags_seen_by(p):
        for f in cluster_nodes(p.port):
            if f[0] == victim_id:
                return f[2]
        return ""

    victim.kill()  # SIGKILL: no goodbye, the others must notice
    t0 = time.monotonic()
    seen: dict[int, set] = {p.port: set() for p in observers}

    def all_fail():
        for p in observers:
            seen[p.port].update(flags_seen_by(p).split(","))
        return all("fail" in s for s in seen.values())

    wait_for(all_fail, "FAIL on every other node", interval=0.02)
    elapsed = time.monotonic() - t0
    assert elapsed >= NODE_TIMEOUT / 1000 * 0.8  # not before node_timeout without a PONG
    # PFAIL came first somewhere: seen as fail?, or the quorum was reached from PFAIL reports
    quorum_logged = any("as failing (quorum reached)" in p.log_text() for p in observers)
    assert quorum_logged or any("fail?" in s for s in seen.values())
    for p in observers:
        wait_for(lambda p=p: not cluster_state_ok(p.port), "cluster_state:fail (the victim's slots are lost)")
        assert request(p.port, "GET", k) == b"-CLUSTERDOWN The cluster is down\r\n"

    # back with the same directory: nodes.conf is reloaded, the slots are its own again
    victim.start()
    assert "Node configuration loaded, I'm " + victim_id in victim.log_text()
    assert text(request(victim.port, "CLUSTER", "MYID")) == victim_id
    assert {s for s, n in slot_owners(victim.port).items() if n == victim_id} == victim_slots
    for p in order:
        wait_for(lambda p=p: cluster_state_ok(p.port), f"cluster_state:ok again on {p.port}")
        wait_for(lambda p=p: "fail" not in flags_seen_by(p) or p is victim, "FAIL cleared")
    res = redis_cli("--cluster", "check", f"127.0.0.1:{rs[0].port}")
    assert "[OK] All 16384 slots covered." in res.stdout, res.stdout


def test_restart_keeps_identity_and_epochs(three_shardis):
    p = three_shardis[0]
    before = cluster_nodes(p.port)
    info = request(p.port, "CLUSTER", "INFO")
    conf = (p.dir / "nodes.conf").read_text()
    assert re.search(r"^vars currentEpoch 3 lastVoteEpoch 0$", conf, re.M), conf
    assert conf.count("\n") == 4
    p.restart()
    after = cluster_nodes(p.port)
    strip = lambda rows: sorted((r[0], r[1], r[2], r[3], r[6], *r[8:]) for r in rows)  # noqa: E731
    assert strip(after) == strip(before)
    assert b"cluster_current_epoch:3" in info
    wait_for(lambda: cluster_state_ok(p.port), "cluster_state:ok after the restart")


def test_config_file_lock(shardis_factory):
    first = shardis_factory(CLUSTER)
    conf = str(first.dir / "nodes.conf")
    second = ShardisProcess(CLUSTER + [("cluster-config-file", [conf])], startup_timeout=15)
    try:
        with pytest.raises(Exception):
            second.start()
        assert "is already used by a different Redis Cluster node" in second.log_text()
    finally:
        second.cleanup()
    assert first.is_running()


def test_malformed_bus_traffic_does_not_hurt_the_node(three_shardis):
    import socket

    p = three_shardis[0]
    for payload in (b"GET / HTTP/1.0\r\n\r\n", b"RCmb" + b"\xff" * 4000, b"RCmb\x00\x00\x08\xd0" + bytes(2248)):
        s = socket.create_connection(("127.0.0.1", p.bus_port), timeout=5)
        try:
            s.sendall(payload)
            time.sleep(0.1)
        finally:
            s.close()
    assert request(p.port, "PING") == b"+PONG\r\n"
    assert cluster_state_ok(p.port)
    assert len(cluster_nodes(p.port)) == 3


def test_keys_loaded_from_disk_claim_their_slots(tmp_path):
    """A node started in cluster mode on a data set takes the unassigned slots its keys live in."""
    standalone = ShardisProcess(dir=tmp_path)
    try:
        standalone.start()
        assert request(standalone.port, "SET", "{x}one", "1") == b"+OK\r\n"
        assert request(standalone.port, "SET", "two", "2") == b"+OK\r\n"
        assert request(standalone.port, "SAVE") == b"+OK\r\n"
    finally:
        standalone.stop()
    node = ShardisProcess(CLUSTER, dir=tmp_path)
    try:
        node.start()
        slots = sorted({key_slot(b"x"), key_slot(b"two")})
        mine = text(request(node.port, "CLUSTER", "MYID"))
        owners = slot_owners(node.port)
        assert sorted(owners) == slots and set(owners.values()) == {mine}
        assert f"I have keys for unassigned slot {slots[0]}. Taking responsibility for it." in node.log_text()
        assert request(node.port, "CLUSTER", "COUNTKEYSINSLOT", str(key_slot(b"two"))) == b":1\r\n"
        conf = (tmp_path / "nodes.conf").read_text()
        assert " ".join(str(s) for s in slots) in conf
    finally:
        node.cleanup()


def test_sharded_pubsub_stays_in_the_shard(three_shardis, shardis_factory):
    procs = three_shardis
    replica = shardis_factory(CLUSTER)
    owners = slot_owners(procs[0].port)
    ids = {text(request(p.port, "CLUSTER", "MYID")): p for p in procs}
    channel = "{news}ch"
    slot = key_slot(b"news")
    master = ids[owners[slot]]
    others = [p for p in procs if p is not master]
    assert request(replica.port, "CLUSTER", "MEET", "127.0.0.1", str(master.port)) == b"+OK\r\n"
    master_id = text(request(master.port, "CLUSTER", "MYID"))
    wait_for(lambda: request(replica.port, "CLUSTER", "REPLICATE", master_id) == b"+OK\r\n", "REPLICATE")
    wait_for(lambda: all(sum(1 for f in cluster_nodes(p.port) if "slave" in f[2] and f[3] == master_id) == 1
                         for p in procs), "the replica known everywhere as the master's")
    sub_master = RawConnection(master.port)
    sub_replica = RawConnection(replica.port)
    sub_other = RawConnection(others[0].port)
    frame = b"*3\r\n$10\r\nssubscribe\r\n$8\r\n{news}ch\r\n:1\r\n"
    try:
        assert sub_master.request("SSUBSCRIBE", channel) == frame
        assert sub_replica.request("SSUBSCRIBE", channel) == frame  # replicas serve shard channels
        assert sub_other.request("SSUBSCRIBE", channel) == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, master.port)
        assert request(others[1].port, "SPUBLISH", channel, "x") == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, master.port)
        assert request(master.port, "SPUBLISH", channel, "hello") == b":1\r\n"
        smessage = b"*3\r\n$8\r\nsmessage\r\n$8\r\n{news}ch\r\n$5\r\nhello\r\n"
        assert sub_master.read_frame(timeout=5) == smessage
        assert sub_replica.read_frame(timeout=5) == smessage  # carried by a PUBLISHSHARD bus message
        # the plain PUBLISH of the same name reaches nobody here: another namespace
        assert request(others[0].port, "PUBLISH", channel, "plain") == b":0\r\n"
        assert sub_master.is_open() and not sub_master.buf
    finally:
        for c in (sub_master, sub_replica, sub_other):
            c.close()


def test_blocked_client_is_redirected_when_its_slot_moves(three_shardis):
    procs = three_shardis
    ids = {p.port: text(request(p.port, "CLUSTER", "MYID")) for p in procs}
    a, b = procs[0], procs[1]
    k = key_for(0, 0, "blk")  # slot 0, served by the first node
    waiting = RawConnection(a.port, timeout=10)
    try:
        waiting.send_command("BLPOP", k, "0")
        assert waiting.is_open(wait=0.3) and not waiting.buf  # blocked: nothing sent yet
        # slot 0 is given to the second node everywhere (no key lives there)
        for p in procs:
            assert request(p.port, "CLUSTER", "SETSLOT", "0", "NODE", ids[b.port]) == b"+OK\r\n"
        assert waiting.read_frame(timeout=5) == b"-MOVED 0 127.0.0.1:%d\r\n" % b.port
        waiting.send_command("BLPOP", k, "0")
        assert waiting.read_frame(timeout=5) == b"-MOVED 0 127.0.0.1:%d\r\n" % b.port  # no longer blocks here
    finally:
        waiting.close()
    # a client blocked while the cluster goes down is told so
    k2 = key_for(6000, 6000, "blk")
    home = b  # redis-cli gave the second node slots 5461-10922
    assert slot_owners(home.port)[6000] == ids[home.port]
    waiting = RawConnection(home.port, timeout=10)
    try:
        waiting.send_command("BLPOP", k2, "0")
        time.sleep(0.2)
        # Slot 16383 unassigned on every node: were it dropped on the home node
        # alone, the owner's pings could teach it back before the home node's
        # cron released its blocked clients, and the cluster would never look
        # down to them (Redis checks blocked clients from its clients cron too).
        for p in [p for p in procs if p is not home] + [home]:
            assert request(p.port, "CLUSTER", "DELSLOTS", "16383") == b"+OK\r\n"
        assert waiting.read_frame(timeout=5) == b"-CLUSTERDOWN The cluster is down\r\n"
    finally:
        waiting.close()


def test_hostnames_across_kinds(shardis_factory, redis_factory):
    require_redis_server()
    host = [("cluster-preferred-endpoint-type", ["hostname"])]
    sh = shardis_factory(CLUSTER + host + [("cluster-announce-hostname", ["shardis-a.example"])])
    rs = redis_factory(CLUSTER + host + [("cluster-announce-hostname", ["redis-b.example"])])
    assert request(sh.port, "CLUSTER", "ADDSLOTSRANGE", "0", "8191") == b"+OK\r\n"
    assert request(rs.port, "CLUSTER", "ADDSLOTSRANGE", "8192", "16383") == b"+OK\r\n"
    assert request(sh.port, "CLUSTER", "MEET", "127.0.0.1", str(rs.port)) == b"+OK\r\n"
    for p in (sh, rs):
        wait_for(lambda p=p: cluster_state_ok(p.port), f"cluster_state:ok on {p.port}")

    def addr_field(port, hostname):
        return next(f[1] for f in cluster_nodes(port) if f[1].endswith("," + hostname))

    wait_for(lambda: any(f[1].endswith(",redis-b.example") for f in cluster_nodes(sh.port)), "hostname learnt")
    wait_for(lambda: any(f[1].endswith(",shardis-a.example") for f in cluster_nodes(rs.port)), "hostname learnt")
    assert addr_field(rs.port, "shardis-a.example") == addr_field(sh.port, "shardis-a.example")
    assert addr_field(sh.port, "redis-b.example") == addr_field(rs.port, "redis-b.example")
    # MOVED names the preferred endpoint: the hostname
    k = key_for(8192, 16383, "h")
    assert request(sh.port, "GET", k) == b"-MOVED %d redis-b.example:%d\r\n" % (key_slot(k.encode()), rs.port)
    k = key_for(0, 8191, "h")
    assert request(rs.port, "GET", k) == b"-MOVED %d shardis-a.example:%d\r\n" % (key_slot(k.encode()), sh.port)
    # both kinds describe the topology identically
    assert request(sh.port, "CLUSTER", "SLOTS") == request(rs.port, "CLUSTER", "SLOTS")
