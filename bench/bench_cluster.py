"""What cluster mode costs: one shardis node standalone vs the same node in cluster mode.

Both nodes run the same code; the cluster node serves all 16384 slots, so
every key is local and the only difference is cluster routing (the key's
slot looked up for each command).  redis-benchmark drives SET and GET with
pipelining (-P 16) from 50 connections; rounds alternate between the two
nodes so that machine noise hits both alike, and the median of each is
compared.  The target is a cluster/standalone ratio of at least 0.95.

    PYTHONPATH=src python bench/bench_cluster.py [--rounds 5] [--requests 200000]
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import subprocess
import sys
import time

from shardis.testing import RawConnection, ShardisProcess


def wait_cluster_ok(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with RawConnection(port) as c:
        while time.monotonic() < deadline:
            if b"cluster_state:ok" in c.request("CLUSTER", "INFO"):
                return
            time.sleep(0.1)
    raise RuntimeError(f"cluster node on port {port} did not reach cluster_state:ok")


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
    args = ap.parse_args()

    standalone = ShardisProcess([("save", [""]), ("appendonly", ["no"])])
    cluster = ShardisProcess([("save", [""]), ("appendonly", ["no"]), ("cluster-enabled", ["yes"]),
                              ("cluster-node-timeout", ["1000"])])
    try:
        standalone.start()
        cluster.start()
        with RawConnection(cluster.port) as c:
            reply = c.request("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
            if reply != b"+OK\r\n":
                raise RuntimeError(f"ADDSLOTSRANGE failed: {reply!r}")
        wait_cluster_ok(cluster.port)
        results: dict[str, dict[str, list[float]]] = {"standalone": {}, "cluster": {}}
        # A warm-up round each, not counted.
        run_benchmark(standalone.port, args.tests, args.requests // 4, args.clients, args.pipeline)
        run_benchmark(cluster.port, args.tests, args.requests // 4, args.clients, args.pipeline)
        for r in range(args.rounds):
            order = [("standalone", standalone), ("cluster", cluster)]
            if r % 2:
                order.reverse()
            for name, proc in order:
                res = run_benchmark(proc.port, args.tests, args.requests, args.clients, args.pipeline)
                for test, rps in res.items():
                    results[name].setdefault(test, []).append(rps)
            line = "  ".join(
                f"{test}: standalone {results['standalone'][test][-1]:,.0f} / cluster {results['cluster'][test][-1]:,.0f}"
                for test in results["standalone"]
            )
            print(f"round {r + 1}: {line}", flush=True)
        print()
        worst = None
        for test in results["standalone"]:
            s = statistics.median(results["standalone"][test])
            c = statistics.median(results["cluster"][test])
            ratio = c / s
            worst = ratio if worst is None else min(worst, ratio)
            print(f"{test:>4}: standalone {s:>10,.0f} req/s   cluster {c:>10,.0f} req/s   ratio {ratio:.3f}")
        print(f"cluster/standalone (worst): {worst:.3f}  (target >= 0.95)")
        return 0
    finally:
        standalone.cleanup()
        cluster.cleanup()


if __name__ == "__main__":
    sys.exit(main())
