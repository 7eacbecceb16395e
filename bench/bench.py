#!/usr/bin/env python3
"""Throughput of a shardis node against redis-server, measured by redis-benchmark.

Starts one redis-server and one shardis node (each in its own temporary
directory, on free ports, no persistence), then runs ``redis-benchmark
--csv`` against each in turn for every pipeline/clients combination, for
several rounds whose order alternates (redis first, then shardis first ...)
so that neither server always runs on a warmer or cooler machine.  It prints
the median requests per second of each test for both servers and the ratio
shardis/redis.

Everything is bounded: each redis-benchmark run has a timeout, the whole
benchmark has a deadline, and both servers are stopped (by pid) however the
run ends.

    python bench/bench.py                        # set,get at -P 16 and -P 1, -c 50, 3 rounds
    python bench/bench.py --tests set,get,incr,lpush --pipeline 1 --clients 50 --rounds 5
    python bench/bench.py --shardis-args "--hz 100" --json results.json
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    from shardis.testing import RedisServerProcess, ShardisProcess
except ImportError:  # run from a checkout without installing: use its src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from shardis.testing import RedisServerProcess, ShardisProcess

RUN_TIMEOUT = 300  # seconds: one redis-benchmark run that takes longer is stuck
DEFAULT_DEADLINE = 1800  # seconds for the whole benchmark


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tests", default="set,get", help="redis-benchmark -t list (default: set,get)")
    p.add_argument("--pipeline", "-P", type=int, nargs="+", default=[16, 1],
                   help="pipeline depths to run (default: 16 1)")
    p.add_argument("--clients", "-c", type=int, nargs="+", default=[50],
                   help="parallel client counts to run (default: 50)")
    p.add_argument("--requests", "-n", type=int, default=100_000, help="requests per test (default: 100000)")
    p.add_argument("--keyspace", "-r", type=int, default=100_000,
                   help="random keys per test, redis-benchmark -r (default: 100000; 0: one key)")
    p.add_argument("--datasize", "-d", type=int, default=3, help="value size in bytes (default: 3)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, alternating the order (default: 3)")
    p.add_argument("--shardis-args", default="", help="extra shardis server arguments, e.g. \"--hz 100\"")
    p.add_argument("--redis-args", default="", help="extra redis-server arguments")
    p.add_argument("--redis-benchmark", default=shutil.which("redis-benchmark") or "redis-benchmark",
                   help="the redis-benchmark binary")
    p.add_argument("--timeout", type=float, default=RUN_TIMEOUT, help="seconds allowed per redis-benchmark run")
    p.add_argument("--deadline", type=float, default=DEFAULT_DEADLINE, help="seconds allowed for everything")
    p.add_argument("--json", metavar="PATH", help="also write every measurement and the medians as JSON")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.requests < 1:
        p.error("--rounds and --requests must be positive")
    return args


def run_benchmark(args, port: int, pipeline: int, clients: int, deadline: float) -> dict[str, dict]:
    """One redis-benchmark run; returns {test name: {"rps": float, "p50": float}}."""
    cmd = [
        args.redis_benchmark, "-h", "127.0.0.1", "-p", str(port), "--csv", "-q",
        "-t", args.tests, "-n", str(args.requests), "-c", str(clients), "-P", str(pipeline),
        "-d", str(args.datasize),
    ]
    if args.keyspace:
        cmd += ["-r", str(args.keyspace)]
    budget = min(args.timeout, deadline - time.monotonic())
    if budget <= 0:
        raise TimeoutError("benchmark deadline reached")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget)
    if proc.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return parse_csv(proc.stdout)


def parse_csv(text: str) -> dict[str, dict]:
    """redis-benchmark --csv: a header row, then "TEST","rps","avg_latency_ms",...,"p50_latency_ms",..."""
    out: dict[str, dict] = {}
    rows = list(csv.reader(io.StringIO(text)))
    header = None
    for row in rows:
        if not row:
            continue
        if row[0] == "test":
            header = row
            continue
        fields = dict(zip(header, row)) if header else {"test": row[0], "rps": row[1]}
        try:
            rps = float(fields["rps"])
        except (KeyError, ValueError):
            continue
        p50 = fields.get("p50_latency_ms")
        out[row[0]] = {"rps": rps, "p50": float(p50) if p50 else None}
    if not out:
        raise RuntimeError(f"no results in redis-benchmark output:\n{text}")
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if not shutil.which(args.redis_benchmark):
        print(f"redis-benchmark not found ({args.redis_benchmark})", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.deadline
    configs = [(p, c) for p in args.pipeline for c in args.clients]
    # samples[(pipeline, clients)][server][test] -> list of rps
    samples: dict = {cfg: {"redis": {}, "shardis": {}} for cfg in configs}
    latencies: dict = {cfg: {"redis": {}, "shardis": {}} for cfg in configs}
    servers = {}
    try:
        servers["redis"] = RedisServerProcess(args=shlex.split(args.redis_args)).start()
        servers["shardis"] = ShardisProcess(args=shlex.split(args.shardis_args)).start()
        print(f"redis-server on port {servers['redis'].port}, shardis on port {servers['shardis'].port}; "
              f"{args.rounds} round(s) of -t {args.tests} -n {args.requests} for "
              + ", ".join(f"-P {p} -c {c}" for p, c in configs), file=sys.stderr)
        for rnd in range(args.rounds):
            order = ["redis", "shardis"] if rnd % 2 == 0 else ["shardis", "redis"]
            for cfg in configs:
                for name in order:
                    proc = servers[name]
                    if not proc.is_running():
                        raise RuntimeError(f"{name} died:\n{proc.log_tail()}")
                    t0 = time.monotonic()
                    result = run_benchmark(args, proc.port, cfg[0], cfg[1], deadline)
                    for test, r in result.items():
                        samples[cfg][name].setdefault(test, []).append(r["rps"])
                        latencies[cfg][name].setdefault(test, []).append(r["p50"])
                    print(f"  round {rnd + 1} -P {cfg[0]} -c {cfg[1]} {name:8s} "
                          + " ".join(f"{t}={r['rps']:.0f}" for t, r in result.items())
                          + f" ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
                    # Flush both servers between runs so key counts do not drift apart.
                    proc.request("FLUSHALL")
    except (subprocess.TimeoutExpired, TimeoutError) as e:
        print(f"benchmark stopped: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:
        print(f"benchmark failed: {e}", file=sys.stderr)
        return 1
    finally:
        for proc in servers.values():
            proc.cleanup()
    report(args, configs, samples, latencies)
    return 0


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def report(args, configs, samples, latencies) -> None:
    rows = []
    for cfg in configs:
        tests = list(samples[cfg]["redis"]) + [t for t in samples[cfg]["shardis"] if t not in samples[cfg]["redis"]]
        for test in tests:
            r = _median(samples[cfg]["redis"].get(test, []))
            s = _median(samples[cfg]["shardis"].get(test, []))
            rows.append({
                "test": test, "pipeline": cfg[0], "clients": cfg[1],
                "redis_rps": r, "shardis_rps": s, "ratio": (s / r) if r and s else None,
                "redis_p50_ms": _median(latencies[cfg]["redis"].get(test, [])),
                "shardis_p50_ms": _median(latencies[cfg]["shardis"].get(test, [])),
                "redis_samples": samples[cfg]["redis"].get(test, []),
                "shardis_samples": samples[cfg]["shardis"].get(test, []),
            })
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": rows}, indent=2))
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is a dependency; plain text keeps the numbers readable without it
        for row in rows:
            print(f"{row['test']:>10} -P {row['pipeline']:<3} -c {row['clients']:<4} redis {row['redis_rps'] or 0:>12,.0f} "
                  f"shardis {row['shardis_rps'] or 0:>12,.0f} ratio {row['ratio'] or 0:.3f}")
        return
    table = Table(title=f"median requests/s over {args.rounds} round(s), -n {args.requests}, -d {args.datasize}"
                        + (f", -r {args.keyspace}" if args.keyspace else ""))
    for col, justify in (("test", "left"), ("-P", "right"), ("-c", "right"), ("redis-server", "right"),
                         ("shardis", "right"), ("shardis/redis", "right"), ("p50 ms redis/shardis", "right")):
        table.add_column(col, justify=justify)
    for row in rows:
        ratio = row["ratio"]
        lat = f"{row['redis_p50_ms'] or 0:.3f} / {row['shardis_p50_ms'] or 0:.3f}"
        table.add_row(row["test"], str(row["pipeline"]), str(row["clients"]),
                      f"{row['redis_rps']:,.0f}" if row["redis_rps"] else "-",
                      f"{row['shardis_rps']:,.0f}" if row["shardis_rps"] else "-",
                      f"{ratio:.3f}" if ratio else "-", lat)
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
