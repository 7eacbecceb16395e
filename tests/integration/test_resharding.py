"""Resharding without downtime: slots move with their keys while clients keep working.

Real clusters of shardis nodes (and, for the mixed case, redis-server 7.0
nodes) are driven with the tools people use: ``redis-cli --cluster``
(reshard, rebalance with weights / thresholds / empty masters, add-node as a
master and as a replica, del-node, fix, call, set-timeout, info, import) and
redis-py's RedisCluster.  After every step ``--cluster check`` must pass and
every key must read back with its value and its expiry time.

* the data set has keys of every type in both encodings (strings of all
  sizes, lists, hashes, sets, sorted sets, HyperLogLogs sparse and dense),
  a fifth of them with a TTL.  ``SHARDIS_RESHARD_KEYS`` (default 3000) sets
  its size; the full 20,000-key run is marked slow.
* a RedisCluster workload of reads and writes runs during a reshard: no
  error may reach it, and every acknowledged write is read back at the end;
* ``fix`` repairs a half-migrated slot, an importing-only slot and uncovered
  slots;
* the migration states (MIGRATING/IMPORTING, ASK, ASKING, TRYAGAIN) answer
  byte for byte as redis-server's do;
* a mixed cluster moves every type from redis-server to shardis and back.

Expiry times move by the transfer time, as in Redis: MIGRATE sends the time
to live, not the deadline, so a key may live a few milliseconds longer on
its new node, never shorter.
"""

from __future__ import annotations

import functools
import os
import random
import re
import subprocess
import threading
import time

import pytest

from shardis.cluster.slots import key_slot
from shardis.testing import RawConnection
from shardis.testing import cluster as cluster_helpers
from shardis.testing.cluster import text
from shardis.testing.pytest_plugin import require_redis_server

pytestmark = pytest.mark.timeout(420)

NODE_TIMEOUT = 5000  # ms: no node is taken for failed while a loaded machine reshards
CLUSTER = [("cluster-enabled", ["yes"]), ("cluster-node-timeout", [str(NODE_TIMEOUT)])]
WAIT = 60.0  # seconds, the bound of every wait
REQUEST_TIMEOUT = 30.0  # seconds, the bound of one request to a node
KEYS = int(os.environ.get("SHARDIS_RESHARD_KEYS", "3000"))
FULL_KEYS = 20000
TTL_SLACK_MS = 10_000  # an expiry may move later by the transfer time, never earlier


# --- small helpers -------------------------------------------------------------------------------


wait_for = functools.partial(cluster_helpers.wait_for, timeout=WAIT)
request = functools.partial(cluster_helpers.request, timeout=REQUEST_TIMEOUT)
cluster_nodes = functools.partial(cluster_helpers.cluster_nodes, timeout=REQUEST_TIMEOUT)


def node_id(proc) -> str:
    return text(request(proc.port, "CLUSTER", "MYID"))


def addr(proc) -> str:
    return f"127.0.0.1:{proc.port}"


def my_slots(proc) -> list[int]:
    """The slots ``proc`` serves, from its own CLUSTER NODES."""
    slots: list[int] = []
    for f in cluster_nodes(proc.port):
        if "myself" in f[2]:
            for spec in f[8:]:
                if spec.startswith("["):
                    continue
                a, _, b = spec.partition("-")
                slots.extend(range(int(a), int(b or a) + 1))
    return slots


def cluster_ok(proc) -> bool:
    return b"cluster_state:ok" in request(proc.port, "CLUSTER", "INFO")


def cli(*args, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=timeout, input=input)


def cli_ok(*args, timeout: float = 300) -> str:
    res = cli(*args, timeout=timeout)
    assert res.returncode == 0, f"redis-cli {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}"
    return res.stdout


def check_passes(proc) -> str:
    """``--cluster check`` from ``proc`` passes (waiting for gossip to settle)."""
    last = [""]

    def ok() -> bool:
        res = cli("--cluster", "check", addr(proc), timeout=60)
        last[0] = res.stdout + res.stderr
        return (
            res.returncode == 0
            and "[OK] All nodes agree about slots configuration." in res.stdout
            and "[OK] All 16384 slots covered." in res.stdout
            and "[WARNING]" not in res.stdout
            and "[ERR]" not in res.stdout
        )

    try:
        wait_for(ok, "redis-cli --cluster check to pass", interval=0.3)
    except AssertionError:
        raise AssertionError("--cluster check keeps failing:\n" + last[0][-3000:]) from None
    return last[0]


def create_cluster(procs) -> None:
    cli_ok("--cluster", "create", *[addr(p) for p in procs], "--cluster-yes")
    for p in procs:
        wait_for(lambda p=p: cluster_ok(p), f"cluster_state:ok on {p.port}")
    check_passes(procs[0])


def join_empty_master(new, existing, members) -> None:
    cli_ok("--cluster", "add-node", addr(new), addr(existing))
    n = len(members) + 1
    wait_for(lambda: all(len(cluster_nodes(p.port)) == n for p in [*members, new]), f"{n} nodes known everywhere")
    wait_for(lambda: cluster_ok(new), "cluster_state:ok on the new node")
    check_passes(existing)


def rc_client(proc):
    from redis.cluster import RedisCluster

    return RedisCluster(host="127.0.0.1", port=proc.port, socket_timeout=30, socket_connect_timeout=10)


# --- a data set of every type -------------------------------------------------------------------


class DataSet:
    """Keys of every type and encoding, some with an absolute expiry, and their expected contents."""

    def __init__(self, n: int, seed: int = 1, tags: list[str] | None = None):
        rnd = random.Random(seed)
        self.items: list[tuple[str, str, object, int | None]] = []  # key, type, value, expire ms
        deadline = int(time.time() * 1000) + 3_600_000
        for i in range(n):
            tag = tags[i % len(tags)] if tags else f"k{i}"
            key = f"{{{tag}}}:{i}"
            kind = i % 12
            if kind == 0:
                t, v = "string", str(rnd.randrange(-(2**40), 2**40))  # an integer-encoded string
            elif kind == 1:
                t, v = "string", "".join(rnd.choice("abcdefgh") for _ in range(rnd.randrange(1, 120)))
            elif kind == 2:
                t, v = "string", os.urandom(rnd.choice((300, 2000))).hex()  # raw, incompressible-ish
            elif kind == 3:
                t, v = "list", [f"e{j}" for j in range(rnd.randrange(1, 12))]
            elif kind == 4:
                t, v = "hash", {f"f{j}": f"v{j}" * rnd.randrange(1, 4) for j in range(rnd.randrange(1, 10))}
            elif kind == 5:
                t, v = "set", {str(rnd.randrange(10**6)) for _ in range(rnd.randrange(1, 20))}  # intset
            elif kind == 6:
                t, v = "set", {f"m{rnd.randrange(10**6)}" for _ in range(rnd.randrange(1, 20))}
            elif kind == 7:
                t, v = "zset", {f"z{j}": rnd.choice((j, j + 0.5, -j * 1.25)) for j in range(rnd.randrange(1, 12))}
            elif kind == 8:
                t, v = "hll", [f"x{rnd.randrange(10**9)}" for _ in range(rnd.randrange(1, 30))]  # sparse
            elif kind == 9 and i % 120 == 9:
                # the big encodings, rarely: quicklist, hashtable, skiplist, dense HLL
                big = rnd.randrange(4)
                if big == 0:
                    t, v = "list", [f"item-{j}-" + "x" * 40 for j in range(1500)]
                elif big == 1:
                    t, v = "hash", {f"field{j}": f"value{j}" for j in range(700)}
                elif big == 2:
                    t, v = "zset", {f"member{j}": j * 0.75 for j in range(300)}
                else:
                    t, v = "hll", [f"d{j}" for j in range(6000)]
            elif kind == 9:
                t, v = "set", {str(j) for j in range(rnd.randrange(1, 5))}
            elif kind == 10:
                t, v = "string", "v" * rnd.randrange(0, 50)
            else:
                t, v = "list", [str(rnd.randrange(100)) for _ in range(rnd.randrange(1, 6))]
            expire = deadline + i if i % 5 == 0 else None
            self.items.append((key, t, v, expire))
        self.hll_raw: dict[str, bytes] = {}

    def load(self, rc) -> None:
        pipe = rc.pipeline(transaction=False)
        for n, (key, t, v, expire) in enumerate(self.items, 1):
            if t == "string":
                pipe.set(key, v)
            elif t == "list":
                pipe.rpush(key, *v)
            elif t == "hash":
                pipe.hset(key, mapping=v)
            elif t == "set":
                pipe.sadd(key, *v)
            elif t == "zset":
                pipe.zadd(key, v)
            else:
                pipe.pfadd(key, *v)
            if expire is not None:
                pipe.pexpireat(key, expire)
            if n % 500 == 0:
                pipe.execute()
        pipe.execute()
        # A HyperLogLog's bytes are its value: remember them to compare exactly.
        pipe = rc.pipeline(transaction=False)
        hlls = [key for key, t, _, _ in self.items if t == "hll"]
        for key in hlls:
            pipe.get(key)
        self.hll_raw = dict(zip(hlls, pipe.execute()))

    def verify(self, rc) -> None:
        """Every key with its type, contents and expiry (never earlier, at most TTL_SLACK_MS later)."""
        problems = []
        for start in range(0, len(self.items), 500):
            chunk = self.items[start:start + 500]
            pipe = rc.pipeline(transaction=False)
            for key, t, _, _ in chunk:
                pipe.type(key)
                if t == "string" or t == "hll":
                    pipe.get(key)
                elif t == "list":
                    pipe.lrange(key, 0, -1)
                elif t == "hash":
                    pipe.hgetall(key)
                elif t == "set":
                    pipe.smembers(key)
                else:
                    pipe.zrange(key, 0, -1, withscores=True)
                pipe.pexpiretime(key)
            replies = pipe.execute()
            for j, (key, t, v, expire) in enumerate(chunk):
                typ, got, when = replies[3 * j:3 * j + 3]
                want_type = "string" if t == "hll" else t
                if typ != want_type.encode():
                    problems.append(f"{key}: type {typ!r}, expected {want_type}")
                    continue
                if t == "string":
                    ok = got == v.encode()
                elif t == "hll":
                    ok = got == self.hll_raw[key]
                elif t == "list":
                    ok = got == [x.encode() for x in v]
                elif t == "hash":
                    ok = got == {a.encode(): b.encode() for a, b in v.items()}
                elif t == "set":
                    ok = got == {x.encode() for x in v}
                else:
                    ok = got == sorted(((m.encode(), float(s)) for m, s in v.items()), key=lambda p: (p[1], p[0]))
                if not ok:
                    problems.append(f"{key}: {t} contents differ")
                if expire is None:
                    if when != -1:
                        problems.append(f"{key}: expires at {when}, expected no expiry")
                elif not expire <= when <= expire + TTL_SLACK_MS:
                    problems.append(f"{key}: expires at {when}, expected {expire}")
        assert not problems, f"{len(problems)} keys differ, first: {problems[:10]}"

    def count_on(self, procs) -> int:
        return sum(int(request(p.port, "DBSIZE")[1:-2]) for p in procs)


def tags_in_slots(slots, count: int, prefix: str = "t") -> list[str]:
    """``count`` hash tags whose slots are among ``slots`` (as evenly as the search allows)."""
    wanted = set(slots)
    out: list[str] = []
    seen: set[int] = set()
    i = 0
    while len(out) < count:
        tag = f"{prefix}{i}"
        s = key_slot(tag.encode())
        if s in wanted and (s not in seen or len(seen) >= len(wanted)):
            seen.add(s)
            out.append(tag)
        i += 1
        if i > 5_000_000:
            raise AssertionError("no hash tags found for these slots")
    return out


# --- 1. reshard, rebalance, add a master, remove a master ----------------------------------------


def _reshard_rebalance_add_remove(shardis_factory, nkeys: int) -> None:
    procs = [shardis_factory(CLUSTER) for _ in range(4)]
    a, b, c, spare = procs
    create_cluster([a, b, c])
    data = DataSet(nkeys)
    rc = rc_client(a)
    try:
        data.load(rc)
        assert data.count_on([a, b, c]) == nkeys
        data.verify(rc)
    finally:
        rc.close()

    def verify_everything(entry, members):
        check_passes(entry)
        assert data.count_on(members) == nkeys
        client = rc_client(entry)
        try:
            data.verify(client)
        finally:
            client.close()

    # 2000 slots from a to b
    cli_ok("--cluster", "reshard", addr(a), "--cluster-from", node_id(a), "--cluster-to", node_id(b),
           "--cluster-slots", "2000", "--cluster-yes")
    assert len(my_slots(a)) == 5461 - 2000
    verify_everything(c, [a, b, c])

    # rebalance evens them out again
    out = cli_ok("--cluster", "rebalance", addr(b))
    assert "Moving" in out
    counts = [len(my_slots(p)) for p in (a, b, c)]
    assert max(counts) - min(counts) <= 5461 * 0.05, counts
    verify_everything(a, [a, b, c])

    # an empty master joins; rebalance must use it
    join_empty_master(spare, a, [a, b, c])
    cli_ok("--cluster", "rebalance", addr(a), "--cluster-use-empty-masters")
    counts = [len(my_slots(p)) for p in procs]
    assert all(3500 <= n <= 4700 for n in counts), counts
    verify_everything(spare, procs)

    # empty a (its slots go to c), then remove it
    a_slots = len(my_slots(a))
    cli_ok("--cluster", "reshard", addr(c), "--cluster-from", node_id(a), "--cluster-to", node_id(c),
           "--cluster-slots", str(a_slots), "--cluster-yes")
    assert my_slots(a) == []
    assert int(request(a.port, "DBSIZE")[1:-2]) == 0
    a_id = node_id(a)
    out = cli_ok("--cluster", "del-node", addr(b), a_id)
    assert "Sending CLUSTER FORGET messages to the cluster" in out
    rest = [b, c, spare]
    wait_for(lambda: all(a_id not in text(request(p.port, "CLUSTER", "NODES")) for p in rest), "the node forgotten")
    verify_everything(b, rest)
    assert len(cluster_nodes(a.port)) == 1  # reset: it knows only itself


def test_reshard_rebalance_add_and_remove_masters(shardis_factory):
    _reshard_rebalance_add_remove(shardis_factory, KEYS)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_reshard_rebalance_add_and_remove_masters_full(shardis_factory):
    _reshard_rebalance_add_remove(shardis_factory, FULL_KEYS)


# --- 2. a client workload while slots move ----------------------------------------------------------


class Workload(threading.Thread):
    """Reads and writes through RedisCluster until stopped; any error is kept and fails the test."""

    def __init__(self, proc, tags: list[str], max_ops: int, max_seconds: float):
        super().__init__(daemon=True)
        self.proc = proc
        self.tags = tags
        self.max_ops = max_ops
        self.max_seconds = max_seconds
        self.stop_flag = threading.Event()
        self.error: BaseException | None = None
        self.acked: dict[str, bytes] = {}  # key -> last value the cluster acknowledged
        self.counters: dict[str, int] = {}
        self.ops = 0
        self.redirect_safe_ops = 0

    def run(self) -> None:
        rnd = random.Random(5)
        rc = rc_client(self.proc)
        deadline = time.monotonic() + self.max_seconds
        try:
            while not self.stop_flag.is_set() and self.ops < self.max_ops and time.monotonic() < deadline:
                tag = rnd.choice(self.tags)
                op = rnd.randrange(10)
                key = f"{{{tag}}}:{rnd.randrange(4)}"
                if op < 3:
                    value = f"v{self.ops}".encode()
                    assert rc.set(key, value) is True
                    self.acked[key] = value
                elif op < 6:
                    got = rc.get(key)
                    assert got == self.acked.get(key), f"GET {key}: {got!r}, expected {self.acked.get(key)!r}"
                elif op < 8:
                    ckey = f"{{{tag}}}:counter"
                    got = rc.incr(ckey)
                    self.counters[ckey] = self.counters.get(ckey, 0) + 1
                    assert got == self.counters[ckey], f"INCR {ckey}: {got}, expected {self.counters[ckey]}"
                else:
                    # several keys of one slot: TRYAGAIN while the slot is split, retried by the client
                    k1, k2 = f"{{{tag}}}:m1", f"{{{tag}}}:m2"
                    v = f"m{self.ops}".encode()
                    assert rc.mset({k1: v, k2: v}) is True
                    self.acked[k1] = self.acked[k2] = v
                    assert rc.mget(k1, k2) == [v, v]
                self.ops += 1
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            rc.close()


def test_workload_sees_no_error_during_a_reshard(shardis_factory):
    procs = [shardis_factory(CLUSTER) for _ in range(3)]
    a, b, c = procs
    create_cluster(procs)
    moving = 3000
    # The reshard takes a's lowest slots first: aim the workload at them.
    tags = tags_in_slots(sorted(my_slots(a))[:moving], 300, "w")
    work = Workload(c, tags, max_ops=1_000_000, max_seconds=240)
    work.start()
    try:
        wait_for(lambda: work.ops >= 200 or work.error is not None, "the workload to start")
        cli_ok("--cluster", "reshard", addr(a), "--cluster-from", node_id(a), "--cluster-to", node_id(b),
               "--cluster-slots", str(moving), "--cluster-yes")
        ops_during = work.ops
        cli_ok("--cluster", "reshard", addr(b), "--cluster-from", node_id(b), "--cluster-to", node_id(a),
               "--cluster-slots", str(moving // 3), "--cluster-yes")
        time.sleep(0.5)
    finally:
        work.stop_flag.set()
        work.join(60)
    assert not work.is_alive()
    if work.error is not None:
        raise AssertionError(f"the workload saw an error after {work.ops} operations") from work.error
    assert ops_during > 500, f"too few operations overlapped the reshard ({ops_during})"
    check_passes(a)
    # every acknowledged write is there
    rc = rc_client(b)
    try:
        keys = sorted(work.acked)
        assert rc.mget_nonatomic(keys) == [work.acked[k] for k in keys]
        ckeys = sorted(work.counters)
        assert [int(x) for x in rc.mget_nonatomic(ckeys)] == [work.counters[k] for k in ckeys]
    finally:
        rc.close()
    # the workload's keys really were in the slots that moved, both ways
    homes = {"a": 0, "b": 0}
    a_slots, b_slots = set(my_slots(a)), set(my_slots(b))
    for k in work.acked:
        s = key_slot(k.encode())
        if s in b_slots:
            homes["b"] += 1
        elif s in a_slots:
            homes["a"] += 1
    assert homes["a"] > 0 and homes["b"] > 0, homes


# --- 3. fix ------------------------------------------------------------------------------------------------


def _owner_of(procs, slot):
    for p in procs:
        if slot in my_slots(p):
            return p
    raise AssertionError(f"nobody serves slot {slot}")


def test_fix_repairs_open_and_uncovered_slots(shardis_factory):
    procs = [shardis_factory(CLUSTER) for _ in range(3)]
    create_cluster(procs)
    ids = {p.port: node_id(p) for p in procs}

    # (a) half-migrated: MIGRATING on the owner, IMPORTING on another, keys on both
    slot = key_slot(b"half")
    owner = _owner_of(procs, slot)
    other = next(p for p in procs if p is not owner)
    keys = [f"{{half}}:{i}" for i in range(30)]
    for k in keys:
        assert request(owner.port, "RPUSH", k, k, "second") == b":2\r\n"
    assert request(other.port, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", ids[owner.port]) == b"+OK\r\n"
    assert request(owner.port, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", ids[other.port]) == b"+OK\r\n"
    moved = request(owner.port, "MIGRATE", "127.0.0.1", str(other.port), "", "0", "5000", "KEYS", *keys[:12])
    assert moved == b"+OK\r\n"
    assert request(owner.port, "CLUSTER", "COUNTKEYSINSLOT", str(slot)) == b":18\r\n"
    assert request(other.port, "CLUSTER", "COUNTKEYSINSLOT", str(slot)) == b":12\r\n"
    res = cli("--cluster", "check", addr(procs[0]))
    assert "The following slots are open: %d" % slot in res.stdout
    out = cli_ok("--cluster", "fix", addr(procs[0]))
    assert f"Fixing open slot {slot}" in out
    check_passes(procs[0])
    new_owner = _owner_of(procs, slot)
    assert request(new_owner.port, "CLUSTER", "COUNTKEYSINSLOT", str(slot)) == b":30\r\n"
    for p in procs:
        assert f"[{slot}-" not in text(request(p.port, "CLUSTER", "NODES"))
    for k in keys:
        assert request(new_owner.port, "LRANGE", k, "0", "-1") == b"*2\r\n$%d\r\n%s\r\n$6\r\nsecond\r\n" % (
            len(k), k.encode())

    # (b) an importing-only slot without keys
    slot2 = key_slot(b"importing-only")
    owner2 = _owner_of(procs, slot2)
    other2 = next(p for p in procs if p is not owner2)
    assert request(other2.port, "CLUSTER", "SETSLOT", str(slot2), "IMPORTING", ids[owner2.port]) == b"+OK\r\n"
    out = cli_ok("--cluster", "fix", addr(procs[1]))
    assert f"Fixing open slot {slot2}" in out
    check_passes(procs[1])
    assert _owner_of(procs, slot2) is owner2

    # (c) uncovered slots: one whose keys are on one node, one without keys
    with_keys, empty = key_slot(b"lost"), key_slot(b"void")
    holder = _owner_of(procs, with_keys)
    for i in range(7):
        assert request(holder.port, "SET", f"{{lost}}:{i}", str(i)) == b"+OK\r\n"
    for s in (with_keys, empty):
        for p in procs:
            assert request(p.port, "CLUSTER", "DELSLOTS", str(s)) == b"+OK\r\n"
    wait_for(lambda: not cluster_ok(procs[0]), "the cluster down with uncovered slots")
    res = cli("--cluster", "check", addr(procs[0]))
    assert "[ERR] Not all 16384 slots are covered by nodes." in res.stdout
    res = cli("--cluster", "fix", addr(procs[0]), input="yes\nyes\nyes\n")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Fixing slots coverage" in res.stdout
    check_passes(procs[0])
    for p in procs:
        wait_for(lambda p=p: cluster_ok(p), "cluster_state:ok again")
    assert _owner_of(procs, with_keys) is holder
    for i in range(7):
        assert request(holder.port, "GET", f"{{lost}}:{i}") == b"$1\r\n%d\r\n" % i


# --- 4. the migration states answer as redis-server's ------------------------------------------------


def _migration_transcript(procs) -> list[bytes]:
    """One scripted migration of slot {t}, every reply kept (ports and ids normalized)."""
    ids = {p.port: node_id(p) for p in procs}
    slot = key_slot(b"t")
    owner = _owner_of(procs, slot)
    target = next(p for p in procs if p is not owner)
    third = next(p for p in procs if p is not owner and p is not target)
    out: list[bytes] = []
    src = RawConnection(owner.port)
    dst = RawConnection(target.port)
    oth = RawConnection(third.port)
    try:
        steps = [
            (src, ("SET", "{t}1", "v1")),
            (src, ("RPUSH", "{t}list", "a", "b")),
            (dst, ("CLUSTER", "SETSLOT", str(slot), "IMPORTING", ids[owner.port])),
            (src, ("CLUSTER", "SETSLOT", str(slot), "MIGRATING", ids[target.port])),
            (src, ("CLUSTER", "COUNTKEYSINSLOT", str(slot))),
            (src, ("GET", "{t}1")),  # still here: served
            (src, ("GET", "{t}2")),  # not here: ASK
            (src, ("SET", "{t}2", "x")),  # a new key of a migrating slot: ASK
            (src, ("MGET", "{t}1", "{t}2")),  # split: TRYAGAIN
            (src, ("MGET", "{t}2", "{t}3")),  # all missing: ASK
            (src, ("MGET", "{t}1", "{t}1")),
            (src, ("EXISTS", "{t}1", "{t}2")),
            (src, ("DEL", "{t}2", "{t}1")),
            (src, ("MULTI",)),
            (src, ("GET", "{t}2")),
            (src, ("EXEC",)),
            (dst, ("GET", "{t}2")),  # importing, no ASKING: MOVED back
            (dst, ("ASKING",)),
            (dst, ("SET", "{t}2", "new")),
            (dst, ("GET", "{t}2")),  # ASKING counted for one command only
            (dst, ("ASKING",)),
            (dst, ("MGET", "{t}1", "{t}2")),  # one key missing here: TRYAGAIN
            (dst, ("ASKING",)),
            (dst, ("MGET", "{t}2", "{t}2")),
            (dst, ("ASKING",)),
            (dst, ("PING",)),
            (dst, ("GET", "{t}2")),
            (dst, ("ASKING",)),
            (dst, ("MULTI",)),
            (dst, ("GET", "{t}2")),
            (dst, ("EXEC",)),
            (dst, ("GET", "{t}2")),
            (oth, ("GET", "{t}1")),
            (src, ("CLUSTER", "GETKEYSINSLOT", str(slot), "10")),
            (src, ("MIGRATE", "127.0.0.1", str(target.port), "", "0", "5000", "KEYS", "{t}1", "{t}list")),
            (src, ("GET", "{t}1")),
            (src, ("CLUSTER", "COUNTKEYSINSLOT", str(slot))),
            (dst, ("CLUSTER", "COUNTKEYSINSLOT", str(slot))),
            (src, ("CLUSTER", "SETSLOT", str(slot), "NODE", "0" * 40)),
            (dst, ("CLUSTER", "SETSLOT", str(slot), "NODE", ids[target.port])),
            (src, ("CLUSTER", "SETSLOT", str(slot), "NODE", ids[target.port])),
            (src, ("GET", "{t}1")),
            (dst, ("GET", "{t}1")),
            (dst, ("LRANGE", "{t}list", "0", "-1")),
            (src, ("CLUSTER", "SETSLOT", str(slot), "MIGRATING", ids[target.port])),
            (dst, ("CLUSTER", "SETSLOT", str(slot), "IMPORTING", ids[owner.port])),
            (dst, ("CLUSTER", "SETSLOT", str(slot), "BOGUS")),
            (dst, ("CLUSTER", "SETSLOT", "99999", "STABLE")),
            (dst, ("CLUSTER", "COUNTKEYSINSLOT", "-1")),
            (dst, ("CLUSTER", "GETKEYSINSLOT", str(slot), "-1")),
            (dst, ("RESTORE-ASKING", "{t}1", "0", "junk")),
        ]
        for conn, args in steps:
            out.append(conn.request(*args))
        # the other nodes learn the new owner from the bus (epoch bump + PONG)
        wait_for(lambda: oth.request("GET", "{t}1") == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, target.port),
                 "the third node to learn the new owner")
    finally:
        for conn in (src, dst, oth):
            conn.close()
    roles = {owner.port: b"src", target.port: b"dst", third.port: b"oth"}
    norm = []
    for reply in out:
        for p in procs:
            reply = reply.replace(b"127.0.0.1:%d" % p.port, b"127.0.0.1:<%s>" % roles[p.port])
            reply = reply.replace(ids[p.port].encode(), b"<id>")
        norm.append(reply)
    return norm


def test_migration_states_answer_as_redis(shardis_factory, redis_factory):
    require_redis_server()
    sh = [shardis_factory(CLUSTER) for _ in range(3)]
    rs = [redis_factory(CLUSTER) for _ in range(3)]
    create_cluster(sh)
    create_cluster(rs)
    got = _migration_transcript(sh)
    want = _migration_transcript(rs)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"step {i}: shardis {g!r}, redis-server {w!r}"
    assert len(got) == len(want)


def test_closing_an_import_bumps_the_epoch_and_spreads_the_owner(shardis_factory):
    procs = [shardis_factory(CLUSTER) for _ in range(3)]
    create_cluster(procs)
    slot = key_slot(b"epoch")
    owner = _owner_of(procs, slot)
    target, third = [p for p in procs if p is not owner]
    before = {p.port: int(re.search(rb"cluster_current_epoch:(\d+)", request(p.port, "CLUSTER", "INFO")).group(1))
              for p in procs}
    assert request(target.port, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", node_id(owner)) == b"+OK\r\n"
    assert request(owner.port, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", node_id(target)) == b"+OK\r\n"
    # only the target is told: the bus must carry the news to the other two
    assert request(target.port, "CLUSTER", "SETSLOT", str(slot), "NODE", node_id(target)) == b"+OK\r\n"
    epoch = int(re.search(rb"cluster_my_epoch:(\d+)", request(target.port, "CLUSTER", "INFO")).group(1))
    assert epoch == max(before.values()) + 1
    assert "configEpoch updated after importing slot %d" % slot in target.log_text()
    for p in (owner, third):
        wait_for(lambda p=p: request(p.port, "GET", "{epoch}x") == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, target.port),
                 "the new owner known through the bus")
    # the old owner's migrating state is closed by hand, as redis-cli does
    assert request(owner.port, "CLUSTER", "SETSLOT", str(slot), "STABLE") == b"+OK\r\n"
    check_passes(owner)


# --- 5. the rest of redis-cli --cluster ----------------------------------------------------------------


def test_cluster_info_call_set_timeout_import_and_replica(shardis_factory, redis_factory):
    require_redis_server()
    procs = [shardis_factory(CLUSTER) for _ in range(4)]
    a, b, c, replica = procs
    create_cluster([a, b, c])
    rc = rc_client(a)
    try:
        for i in range(300):
            rc.set(f"info:{i}", i)
    finally:
        rc.close()

    out = cli_ok("--cluster", "info", addr(b))
    counts = [int(x) for x in re.findall(r"-> (\d+) keys \| \d+ slots", out)]
    assert len(counts) == 3 and sum(counts) == 300
    assert "[OK] 300 keys in 3 masters." in out

    out = cli_ok("--cluster", "call", addr(c), "DBSIZE")
    sizes = [int(x) for x in re.findall(r"127\.0\.0\.1:\d+: (\d+)", out)]
    assert sorted(sizes) == sorted(counts)
    out = cli_ok("--cluster", "call", addr(c), "CLUSTER", "COUNTKEYSINSLOT", str(key_slot(b"info:1")))
    assert sorted(int(x) for x in re.findall(r"127\.0\.0\.1:\d+: (\d+)", out)) == [0, 0, 1]

    out = cli_ok("--cluster", "set-timeout", addr(a), "7000")
    assert ">>> New node timeout set. 3 OK, 0 ERR." in out
    for p in (a, b, c):
        assert request(p.port, "CONFIG", "GET", "cluster-node-timeout").endswith(b"$4\r\n7000\r\n")

    # import from standalone servers, redis-server and shardis, with --cluster-copy / --cluster-replace
    standalone_redis = redis_factory()
    standalone_shardis = shardis_factory()
    for src, prefix in ((standalone_redis, "fromredis"), (standalone_shardis, "fromshardis")):
        conn = RawConnection(src.port)
        try:
            for i in range(40):
                conn.request("SET", f"{prefix}:{i}", f"value-{i}")
            conn.request("HSET", f"{prefix}:h", "f", "v")
            conn.request("ZADD", f"{prefix}:z", "1.5", "m")
            conn.request("PEXPIRE", f"{prefix}:0", "600000")
        finally:
            conn.close()
    cli_ok("--cluster", "import", addr(a), "--cluster-from", addr(standalone_redis), "--cluster-copy")
    assert request(standalone_redis.port, "DBSIZE") == b":42\r\n"  # copied, not moved
    cli_ok("--cluster", "import", addr(a), "--cluster-from", addr(standalone_shardis))
    assert request(standalone_shardis.port, "DBSIZE") == b":0\r\n"
    cli_ok("--cluster", "import", addr(a), "--cluster-from", addr(standalone_redis), "--cluster-replace")
    assert request(standalone_redis.port, "DBSIZE") == b":0\r\n"
    rc = rc_client(b)
    try:
        for prefix in ("fromredis", "fromshardis"):
            assert rc.mget_nonatomic([f"{prefix}:{i}" for i in range(40)]) == [f"value-{i}".encode() for i in range(40)]
            assert rc.hgetall(f"{prefix}:h") == {b"f": b"v"}
            assert rc.zrange(f"{prefix}:z", 0, -1, withscores=True) == [(b"m", 1.5)]
            assert 0 < rc.pttl(f"{prefix}:0") <= 600000
        assert rc.dbsize(target_nodes=rc.PRIMARIES) == 300 + 2 * 42
    finally:
        rc.close()
    check_passes(a)

    # a replica joins with --cluster-slave --cluster-master-id: the topology is seen everywhere
    master_id = node_id(c)
    cli_ok("--cluster", "add-node", addr(replica), addr(a), "--cluster-slave", "--cluster-master-id", master_id)

    def replica_known() -> bool:
        for p in (a, b, c, replica):
            rows = [f for f in cluster_nodes(p.port) if f[0] == node_id(replica)]
            if not rows or "slave" not in rows[0][2] or rows[0][3] != master_id:
                return False
        return True

    wait_for(replica_known, "the replica known as c's replica everywhere")
    out = check_passes(a)
    assert "1 additional replica(s)" in out
    assert f"replicates {master_id}" in out


# --- 6. a mixed cluster: slots move between redis-server and shardis ---------------------------------------


def test_mixed_cluster_reshards_every_type_both_ways(shardis_factory, redis_factory):
    require_redis_server()
    sh = [shardis_factory(CLUSTER) for _ in range(2)]
    rs = [redis_factory(CLUSTER) for _ in range(2)]
    order = [rs[0], sh[0], rs[1], sh[1]]
    create_cluster(order)
    real, ours = rs[0], sh[0]
    moving = 600
    # the data lives in the real node's lowest slots, the ones a reshard takes first
    tags = tags_in_slots(sorted(my_slots(real))[:moving], 400, "mx")
    data = DataSet(max(KEYS // 3, 600), seed=3, tags=tags)
    rc = rc_client(ours)
    try:
        data.load(rc)
    finally:
        rc.close()
    on_real = int(request(real.port, "DBSIZE")[1:-2])
    assert on_real == len(data.items)

    # redis-server -> shardis
    cli_ok("--cluster", "reshard", addr(ours), "--cluster-from", node_id(real), "--cluster-to", node_id(ours),
           "--cluster-slots", str(moving), "--cluster-yes")
    assert request(real.port, "DBSIZE") == b":0\r\n"
    assert int(request(ours.port, "DBSIZE")[1:-2]) == len(data.items)
    check_passes(rs[1])
    rc = rc_client(rs[1])
    try:
        data.verify(rc)
    finally:
        rc.close()

    # and back: shardis -> redis-server
    cli_ok("--cluster", "reshard", addr(real), "--cluster-from", node_id(ours), "--cluster-to", node_id(real),
           "--cluster-slots", str(moving), "--cluster-yes")
    assert request(ours.port, "DBSIZE") == b":0\r\n"
    assert int(request(real.port, "DBSIZE")[1:-2]) == len(data.items)
    check_passes(sh[1])
    rc = rc_client(sh[1])
    try:
        data.verify(rc)
    finally:
        rc.close()

    # a DUMP taken on one kind RESTOREs on the other, inside the cluster, and back
    ours_tag = tags_in_slots(my_slots(ours), 1, "copy")[0]
    real_tag = tags_in_slots(my_slots(real), 1, "back")[0]
    for key, t, _, _ in [item for item in data.items if item[1] in ("hash", "zset", "list", "set", "hll")][:10]:
        dumped = request(real.port, "DUMP", key)
        assert dumped[:1] == b"$"
        copy, back = f"{{{ours_tag}}}:{key}", f"{{{real_tag}}}:{key}"
        assert request(ours.port, "RESTORE", copy, "0", dumped.split(b"\r\n", 1)[1][:-2]) == b"+OK\r\n"
        redumped = request(ours.port, "DUMP", copy)
        assert request(real.port, "RESTORE", back, "0", redumped.split(b"\r\n", 1)[1][:-2]) == b"+OK\r\n"
        for conn_port, name in ((ours.port, copy), (real.port, back)):
            assert request(conn_port, "TYPE", name) == request(real.port, "TYPE", key)
        read = {"hash": ("HGETALL",), "zset": ("ZRANGE", "0", "-1", "WITHSCORES"), "list": ("LRANGE", "0", "-1"),
                "set": ("SMEMBERS",), "hll": ("GET",)}[t]
        original = request(real.port, read[0], key, *read[1:])
        if t in ("hash", "set"):
            original = sorted(original.split(b"\r\n"))
            assert sorted(request(ours.port, read[0], copy, *read[1:]).split(b"\r\n")) == original
            assert sorted(request(real.port, read[0], back, *read[1:]).split(b"\r\n")) == original
        else:
            assert request(ours.port, read[0], copy, *read[1:]) == original
            assert request(real.port, read[0], back, *read[1:]) == original
