"""What cluster mode costs: one shardis node standalone vs the same node in cluster mode.

Both nodes run the same code; the cluster node serves all 16384 slots, so
every key is local and the only difference is cluster routing (the key's
slot looked up for each command).  redis-benchmark drives SET and GET with
pipelining (-P 16) from 50 connections; rounds alternate between the two
nodes so that machine noise hits both alike, and the median of each is
compared.  The target is a cluster/standalone ratio of at least 0.95.

Throughput on a shared or small machine swings with whatever else runs, so
the script also reports the server's CPU time per request (from
/proc/<pid>/stat, user + system, over each run), which is what cluster
routing adds to and which other load barely moves: its ratio is the steadier
figure.

    PYTHONPATH=src python bench/bench_cluster.py [--rounds 5] [--requests 200000] [--partial]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import time

from shardis.cluster.slots import key_slot
from shardis.testing import RawConnection, ShardisProcess


def wait_cluster_ok(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with RawConnection(port) as c:
        while time.monotonic() < deadline:
            if b"cluster_state:ok" in c.request("CLUSTER", "INFO"):
                return
            time.sleep(0.1)
    raise RuntimeError(f"cluster node on port {port} did not reach cluster_state:ok")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_benchmark(port: int, tests: str, requests: int, clients: int, pipeline: int) -> dict:
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", tests, "-n", str(requests), "-c", str(clients),
         "-P", str(pipeline), "--csv"],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout
    rows = list(csv.reader(io.StringIO(out)))
    result = {}
    for row in rows[1:]:
        if len(row) >= 2:
            result[row[0]] = float(row[1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--tests", default="set,get")
    ap.add_argument("--partial", action="store_true",
                    help="the cluster node serves every slot but one (not the benchmark key's): "
                         "each command's slot is computed and checked, as in a multi-node cluster")
    args = ap.parse_args()

    standalone = ShardisProcess([("save", [""]), ("appendonly", ["no"])])
    cluster = ShardisProcess([("save", [""]), ("appendonly", ["no"]), ("cluster-enabled", ["yes"]),
                              ("cluster-node-timeout", ["1000"])])
    try:
        standalone.start()
        cluster.start()
        with RawConnection(cluster.port) as c:
            if args.partial:
                spare = (key_slot(b"key:__rand_int__") + 1) % 16384
                c.request("CONFIG", "SET", "cluster-require-full-coverage", "no")
                ranges = [str(x) for x in (0, spare - 1, spare + 1, 16383)] if 0 < spare < 16383 else None
                assert ranges is not None, "pick another spare slot"
                reply = c.request("CLUSTER", "ADDSLOTSRANGE", *ranges)
            else:
                reply = c.request("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
            if reply != b"+OK\r\n":
                raise RuntimeError(f"ADDSLOTSRANGE failed: {reply!r}")
        wait_cluster_ok(cluster.port)
        results: dict[str, dict[str, list[float]]] = {"standalone": {}, "cluster": {}}
        cpu: dict[str, list[float]] = {"standalone": [], "cluster": []}  # µs of server CPU per request
        ntests = len(args.tests.split(","))
        # A warm-up round each, not counted.
        run_benchmark(standalone.port, args.tests, args.requests // 4, args.clients, args.pipeline)
        run_benchmark(cluster.port, args.tests, args.requests // 4, args.clients, args.pipeline)
        for r in range(args.rounds):
            order = [("standalone", standalone), ("cluster", cluster)]
            if r % 2:
                order.reverse()
            for name, proc in order:
                c0 = cpu_seconds(proc.pid)
                res = run_benchmark(proc.port, args.tests, args.requests, args.clients, args.pipeline)
                cpu[name].append((cpu_seconds(proc.pid) - c0) / (args.requests * ntests) * 1e6)
                for test, rps in res.items():
                    results[name].setdefault(test, []).append(rps)
            line = "  ".join(
                f"{test}: standalone {results['standalone'][test][-1]:,.0f} / cluster {results['cluster'][test][-1]:,.0f}"
                for test in results["standalone"]
            )
            print(f"round {r + 1}: {line}  cpu/req: standalone {cpu['standalone'][-1]:.2f} us, "
                  f"cluster {cpu['cluster'][-1]:.2f} us", flush=True)
        print()
        worst = None
        for test in results["standalone"]:
            s = statistics.median(results["standalone"][test])
            c = statistics.median(results["cluster"][test])
            ratio = c / s
            worst = ratio if worst is None else min(worst, ratio)
            best = max(results["cluster"][test]) / max(results["standalone"][test])
            print(f"{test:>4}: standalone {s:>10,.0f} req/s   cluster {c:>10,.0f} req/s   "
                  f"ratio of medians {ratio:.3f}, of bests {best:.3f}")
        cs, cc = min(cpu["standalone"]), min(cpu["cluster"])
        print(f"server CPU per request (best round): standalone {cs:.2f} us, cluster {cc:.2f} us, "
              f"ratio {cs / cc:.3f}")
        print(f"cluster/standalone throughput (worst of medians): {worst:.3f}  (target >= 0.95)")
        return 0
    finally:
        standalone.cleanup()
        cluster.cleanup()


if __name__ == "__main__":
    sys.exit(main())
