"""How fast keys move: ``redis-cli --cluster reshard`` between two shardis nodes vs two redis-server nodes.

Two clusters of two masters each are built by hand (ADDSLOTSRANGE, MEET,
SET-CONFIG-EPOCH; ``--cluster create`` wants three masters): one of shardis
nodes, one of redis-server 7.0 nodes.  Node A serves every slot and holds
the data set: ``--keys`` keys spread evenly over the first ``--slots``
slots (hash tags pick the slot), so every reshard moves all of them.  Each
round runs ``redis-cli --cluster reshard`` with its default pipeline (10
keys per MIGRATE) from A to B on both clusters, then the next round moves
the slots back from B to A; rounds alternate which cluster goes first, so
machine noise hits both alike.  Reported per run: wall time, keys moved per
second, slots per second, and the CPU time the two nodes spent per key moved
(user + system, from /proc/<pid>/stat), which other load on the machine
moves much less than the wall time.  The result is the ratio of the median
keys/s, shardis over redis-server (target >= 0.5).

Values are strings of ``--value-size`` random letters (nearly
incompressible, as most real values are); ``--types mixed`` makes every
fifth key a hash, list, set or sorted set of ``--elements`` elements.
After every run the script checks that the target holds every key and the
source none.

    PYTHONPATH=src python bench/bench_reshard.py [--keys 20000] [--slots 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import string
import subprocess
import sys
import time

try:
    from shardis.cluster.slots import key_slot
    from shardis.testing import RawConnection, RedisServerProcess, ShardisProcess
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    from shardis.cluster.slots import key_slot
    from shardis.testing import RawConnection, RedisServerProcess, ShardisProcess

# A master emptied by a reshard stays a master (it would turn into a replica of the new owner otherwise
# and could not take the slots back in the next round).
NODE_DIRECTIVES = [("cluster-enabled", ["yes"]), ("cluster-node-timeout", ["5000"]), ("save", [""]),
                   ("appendonly", ["no"]), ("cluster-allow-replica-migration", ["no"])]
LOAD_BATCH = 500  # commands per pipeline while loading


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(cond, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def node_id(conn: RawConnection) -> str:
    return conn.request("CLUSTER", "MYID").split(b"\r\n")[1].decode()


def tags_for_slots(nslots: int) -> list[str]:
    """One hash tag per slot 0..nslots-1."""
    tags: dict[int, str] = {}
    i = 0
    while len(tags) < nslots:
        tag = f"t{i}"
        s = key_slot(tag.encode())
        if s < nslots and s not in tags:
            tags[s] = tag
        i += 1
    return [tags[s] for s in range(nslots)]


class TwoNodeCluster:
    """Two masters: A with every slot, B with none, meeting over the bus."""

    def __init__(self, kind: str):
        cls = ShardisProcess if kind == "shardis" else RedisServerProcess
        self.kind = kind
        self.nodes = [cls(NODE_DIRECTIVES), cls(NODE_DIRECTIVES)]

    def start(self) -> "TwoNodeCluster":
        for n in self.nodes:
            n.start()
        self.conns = [RawConnection(n.port, timeout=60) for n in self.nodes]
        a, b = self.conns
        self.ids = [node_id(c) for c in self.conns]
        for epoch, c in enumerate(self.conns, 1):
            assert c.request("CLUSTER", "SET-CONFIG-EPOCH", str(epoch)) == b"+OK\r\n"
        assert a.request("CLUSTER", "ADDSLOTSRANGE", "0", "16383") == b"+OK\r\n"
        assert a.request("CLUSTER", "MEET", "127.0.0.1", str(self.nodes[1].port)) == b"+OK\r\n"

        def ready() -> bool:
            for c in self.conns:
                if b"cluster_state:ok" not in c.request("CLUSTER", "INFO"):
                    return False
                nodes = c.request("CLUSTER", "NODES").decode()
                if nodes.count("connected") != 2 or "handshake" in nodes:
                    return False
            return True

        wait_for(ready, f"the {self.kind} cluster to form")
        return self

    def load(self, keys: int, nslots: int, value_size: int, types: str, elements: int) -> int:
        rnd = random.Random(7)
        tags = tags_for_slots(nslots)
        a = self.conns[0]
        letters = string.ascii_letters

        def value() -> str:
            return "".join(rnd.choice(letters) for _ in range(value_size))

        batch = []
        for i in range(keys):
            key = f"{{{tags[i % nslots]}}}:{i}"
            kind = i % 5 if types == "mixed" else 0
            if kind == 0:
                batch.append(("SET", key, value()))
            elif kind == 1:
                batch.append(("HSET", key, *[x for j in range(elements) for x in (f"f{j}", value())]))
            elif kind == 2:
                batch.append(("RPUSH", key, *[value() for _ in range(elements)]))
            elif kind == 3:
                batch.append(("SADD", key, *[value() for _ in range(elements)]))
            else:
                batch.append(("ZADD", key, *[x for j in range(elements) for x in (str(j), value())]))
            if i % 10 == 0:
                batch.append(("PEXPIRE", key, "3600000"))
            if len(batch) >= LOAD_BATCH:
                a.pipeline(*batch)
                batch = []
        if batch:
            a.pipeline(*batch)
        return int(a.request("DBSIZE")[1:-2])

    def reshard(self, src: int, dst: int, nslots: int, expected: int) -> dict:
        pids = [n.pid for n in self.nodes]
        cpu0 = [cpu_seconds(p) for p in pids]
        t0 = time.perf_counter()
        res = subprocess.run(
            ["redis-cli", "--cluster", "reshard", f"127.0.0.1:{self.nodes[src].port}",
             "--cluster-from", self.ids[src], "--cluster-to", self.ids[dst],
             "--cluster-slots", str(nslots), "--cluster-yes"],
            capture_output=True, text=True, timeout=3600,
        )
        wall = time.perf_counter() - t0
        cpu = sum(cpu_seconds(p) for p in pids) - sum(cpu0)
        if res.returncode != 0:
            raise RuntimeError(f"reshard failed on {self.kind}:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
        got_dst = int(self.conns[dst].request("DBSIZE")[1:-2])
        got_src = int(self.conns[src].request("DBSIZE")[1:-2])
        if got_dst != expected or got_src != 0:
            raise RuntimeError(f"{self.kind}: after the reshard the target holds {got_dst} keys "
                               f"(expected {expected}), the source {got_src}")
        return {"wall": wall, "keys_per_s": expected / wall, "slots_per_s": nslots / wall,
                "cpu_us_per_key": cpu / expected * 1e6}

    def cleanup(self) -> None:
        for c in getattr(self, "conns", []):
            c.close()
        for n in self.nodes:
            n.cleanup()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=20000, help="keys moved by every reshard")
    ap.add_argument("--slots", type=int, default=2000, help="slots moved (the keys are spread over them)")
    ap.add_argument("--rounds", type=int, default=3, help="reshards per cluster (alternating directions)")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--types", choices=("strings", "mixed"), default="strings")
    ap.add_argument("--elements", type=int, default=10, help="elements per container with --types mixed")
    ap.add_argument("--json", metavar="PATH", help="write every sample and the medians there")
    args = ap.parse_args()
    if not 1 <= args.slots <= 16384:
        ap.error("--slots must be within 1..16384")

    clusters = {"redis": TwoNodeCluster("redis"), "shardis": TwoNodeCluster("shardis")}
    samples: dict[str, list[dict]] = {"redis": [], "shardis": []}
    try:
        for name, cl in clusters.items():
            cl.start()
            n = cl.load(args.keys, args.slots, args.value_size, args.types, args.elements)
            if n != args.keys:
                raise RuntimeError(f"{name}: loaded {n} keys, expected {args.keys}")
        print(f"{args.keys} keys ({args.types}, {args.value_size}-byte values) over {args.slots} slots; "
              f"redis-cli --cluster reshard, default pipeline", flush=True)
        for r in range(args.rounds):
            src, dst = (0, 1) if r % 2 == 0 else (1, 0)
            order = ["redis", "shardis"] if r % 2 == 0 else ["shardis", "redis"]
            line = []
            for name in order:
                s = clusters[name].reshard(src, dst, args.slots, args.keys)
                samples[name].append(s)
                line.append(f"{name} {s['keys_per_s']:,.0f} keys/s ({s['wall']:.2f} s, "
                            f"{s['cpu_us_per_key']:.0f} us CPU/key)")
            print(f"round {r + 1} ({'A->B' if src == 0 else 'B->A'}): " + ", ".join(line), flush=True)
        med = {name: {k: statistics.median(s[k] for s in samples[name]) for k in samples[name][0]}
               for name in samples}
        ratio = med["shardis"]["keys_per_s"] / med["redis"]["keys_per_s"]
        cpu_ratio = med["redis"]["cpu_us_per_key"] / med["shardis"]["cpu_us_per_key"]
        print()
        for name in ("redis", "shardis"):
            m = med[name]
            print(f"{name:>8}: {m['keys_per_s']:>10,.0f} keys/s  {m['slots_per_s']:>8,.0f} slots/s  "
                  f"{m['cpu_us_per_key']:>6.0f} us node CPU per key  (medians)")
        print(f"shardis/redis keys per second: {ratio:.3f}  (target >= 0.5); "
              f"node CPU per key, redis/shardis: {cpu_ratio:.3f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "samples": samples, "medians": med, "ratio": ratio}, f, indent=2)
        return 0
    finally:
        for cl in clusters.values():
            cl.cleanup()


if __name__ == "__main__":
    sys.exit(main())
