#!/usr/bin/env python3
"""Throughput of a shardis node against redis-server, measured by redis-benchmark.

Starts one redis-server and one shardis node (each in its own temporary
directory, on free ports, no persistence), then runs ``redis-benchmark
--csv`` against each in turn for every pipeline/clients combination, for
several rounds whose order alternates (redis first, then shardis first ...)
so that neither server always runs on a warmer or cooler machine.  It prints
the median requests per second of each test for both servers and the ratio
shardis/redis, and the median of those ratios over the tests (the figure
an issue's benchmark target is stated in); also the ratio of each server's
best round, which a burst of other load on a shared machine disturbs less.

Each test runs as its own redis-benchmark invocation, in redis-benchmark's
own order (so the data set each test sees is the one a single ``-t a,b,c``
run would leave it; both servers are flushed at the end of a round), and
the server's CPU time is read from /proc around it: CPU microseconds per
request is a steadier figure than requests per second on a shared machine,
where the benchmark client and other load compete with the server.  The CPU
figure of ``lrange_*`` includes the LPUSHes redis-benchmark runs before it.

Both servers run with ``save ""`` and ``appendonly no`` (checked with CONFIG
GET before measuring), so no snapshot or AOF write happens during a run.

Everything is bounded: each redis-benchmark run has a timeout, the whole
benchmark has a deadline, and both servers are stopped (by pid) however the
run ends.

    python bench/bench.py                        # set,get at -P 16 and -P 1, -c 50, 3 rounds
    python bench/bench.py --tests set,get,incr,lpush --pipeline 1 --clients 50 --rounds 5
    python bench/bench.py --shardis-args "--hz 100" --json results.json
    python bench/bench.py --tests incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset -P 16
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

import hiredis

try:
    from shardis.testing import RedisServerProcess, ShardisProcess
except ImportError:  # run from a checkout without installing: use its src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from shardis.testing import RedisServerProcess, ShardisProcess

# redis-benchmark's order of tests (redis-benchmark.c); aliases sort with their first test.
BENCHMARK_ORDER = [
    "ping_inline", "ping", "ping_mbulk", "set", "get", "incr", "lpush", "rpush", "lpop", "rpop", "sadd",
    "hset", "spop", "zadd", "zpopmin", "lrange", "lrange_100", "lrange_300", "lrange_500", "lrange_600",
    "mset", "xadd",
]
# Persistence off on both servers: a snapshot or an AOF write during a run would
# measure the disk, not the server.
NO_PERSISTENCE = {"save": "", "appendonly": "no"}

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


def ordered_tests(tests: str) -> list[str]:
    """The requested tests in the order redis-benchmark runs them (unknown names last, as given)."""
    names = [t.strip().lower() for t in tests.split(",") if t.strip()]
    rank = {name: i for i, name in enumerate(BENCHMARK_ORDER)}
    return sorted(dict.fromkeys(names), key=lambda t: rank.get(t, len(rank)))


def test_key(csv_name: str) -> str | None:
    """A result row's test name ("LRANGE_100 (first 100 elements)" -> "lrange_100").

    None for the set-up row redis-benchmark prints before LRANGE ("LPUSH
    (needed to benchmark LRANGE)"): it is not one of the tests asked for.
    """
    if "needed to benchmark" in csv_name:
        return None
    return csv_name.split(" ", 1)[0].lower()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds (Linux /proc; 0.0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_benchmark(args, tests: str, port: int, pipeline: int, clients: int, deadline: float) -> dict[str, dict]:
    """One redis-benchmark run; returns {test name: {"rps": float, "p50": float}}."""
    cmd = [
        args.redis_benchmark, "-h", "127.0.0.1", "-p", str(port), "--csv", "-q",
        "-t", tests, "-n", str(args.requests), "-c", str(clients), "-P", str(pipeline),
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


def check_no_persistence(name: str, proc) -> None:
    """Refuse to measure a server that could write a snapshot or an AOF during a run."""
    for param, want in NO_PERSISTENCE.items():
        reader = hiredis.Reader()
        reader.feed(proc.request("CONFIG", "GET", param))
        reply = reader.gets()  # [param, value]
        value = reply[1].decode() if isinstance(reply, list) and len(reply) == 2 else repr(reply)
        if value != want:
            raise RuntimeError(f"{name}: CONFIG GET {param} is {value!r}, expected {want!r}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if not shutil.which(args.redis_benchmark):
        print(f"redis-benchmark not found ({args.redis_benchmark})", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.deadline
    tests = ordered_tests(args.tests)
    configs = [(p, c) for p in args.pipeline for c in args.clients]
    # samples[(pipeline, clients)][server][test] -> list of rps (likewise p50 latencies, CPU us/request)
    samples: dict = {cfg: {"redis": {}, "shardis": {}} for cfg in configs}
    latencies: dict = {cfg: {"redis": {}, "shardis": {}} for cfg in configs}
    cpu: dict = {cfg: {"redis": {}, "shardis": {}} for cfg in configs}
    servers = {}
    try:
        servers["redis"] = RedisServerProcess(NO_PERSISTENCE, args=shlex.split(args.redis_args)).start()
        servers["shardis"] = ShardisProcess(NO_PERSISTENCE, args=shlex.split(args.shardis_args)).start()
        for name, proc in servers.items():
            check_no_persistence(name, proc)
        print(f"redis-server on port {servers['redis'].port}, shardis on port {servers['shardis'].port}; "
              f"{args.rounds} round(s) of -t {','.join(tests)} -n {args.requests} for "
              + ", ".join(f"-P {p} -c {c}" for p, c in configs), file=sys.stderr)
        for rnd in range(args.rounds):
            order = ["redis", "shardis"] if rnd % 2 == 0 else ["shardis", "redis"]
            for cfg in configs:
                for name in order:
                    proc = servers[name]
                    t0 = time.monotonic()
                    line = []
                    for test in tests:
                        if not proc.is_running():
                            raise RuntimeError(f"{name} died:\n{proc.log_tail()}")
                        c0 = cpu_seconds(proc.pid)
                        result = run_benchmark(args, test, proc.port, cfg[0], cfg[1], deadline)
                        used = cpu_seconds(proc.pid) - c0
                        nreq = args.requests * len(result)  # lrange_*: its LPUSH set-up row counts too
                        for csv_name, r in result.items():
                            key = test_key(csv_name)
                            if key is None:
                                continue
                            samples[cfg][name].setdefault(key, []).append(r["rps"])
                            latencies[cfg][name].setdefault(key, []).append(r["p50"])
                            cpu[cfg][name].setdefault(key, []).append(used / nreq * 1e6 if used else None)
                            line.append(f"{key}={r['rps']:.0f}")
                    print(f"  round {rnd + 1} -P {cfg[0]} -c {cfg[1]} {name:8s} " + " ".join(line)
                          + f" ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
                    # Flush both servers between rounds so key counts do not drift apart.
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
    report(args, configs, samples, latencies, cpu)
    return 0


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _fmt(x, spec: str) -> str:
    return format(x, spec) if x is not None else "-"


def report(args, configs, samples, latencies, cpu) -> None:
    rows = []
    summary = []
    for cfg in configs:
        tests = list(samples[cfg]["redis"]) + [t for t in samples[cfg]["shardis"] if t not in samples[cfg]["redis"]]
        ratios = []
        best_ratios = []
        for test in tests:
            r = _median(samples[cfg]["redis"].get(test, []))
            s = _median(samples[cfg]["shardis"].get(test, []))
            # Best round of each server: the least disturbed by other load on a shared machine.
            rb = max(samples[cfg]["redis"].get(test, []), default=None)
            sb = max(samples[cfg]["shardis"].get(test, []), default=None)
            best_ratio = (sb / rb) if rb and sb else None
            if best_ratio is not None:
                best_ratios.append(best_ratio)
            rc = _median(cpu[cfg]["redis"].get(test, []))
            sc = _median(cpu[cfg]["shardis"].get(test, []))
            ratio = (s / r) if r and s else None
            if ratio is not None:
                ratios.append(ratio)
            rows.append({
                "test": test, "pipeline": cfg[0], "clients": cfg[1],
                "redis_rps": r, "shardis_rps": s, "ratio": ratio, "best_ratio": best_ratio,
                "redis_p50_ms": _median(latencies[cfg]["redis"].get(test, [])),
                "shardis_p50_ms": _median(latencies[cfg]["shardis"].get(test, [])),
                "redis_cpu_us": rc, "shardis_cpu_us": sc,
                # redis CPU / shardis CPU per request: the throughput ratio a server
                # would reach if it had a CPU to itself
                "cpu_ratio": (rc / sc) if rc and sc else None,
                "redis_samples": samples[cfg]["redis"].get(test, []),
                "shardis_samples": samples[cfg]["shardis"].get(test, []),
            })
        summary.append({"pipeline": cfg[0], "clients": cfg[1], "tests": len(ratios),
                        "median_ratio": _median(ratios), "median_best_ratio": _median(best_ratios),
                        "median_cpu_ratio": _median([row["cpu_ratio"] for row in rows
                                                     if row["pipeline"] == cfg[0] and row["clients"] == cfg[1]])})
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": rows, "summary": summary}, indent=2))
    title = (f"median over {args.rounds} round(s), -n {args.requests}, -d {args.datasize}"
             + (f", -r {args.keyspace}" if args.keyspace else ""))
    print(title)
    print(f"{'test':<12} {'-P':>3} {'-c':>4} {'redis rps':>11} {'shardis rps':>12} {'ratio':>6} {'best':>6} "
          f"{'redis us/req':>13} {'shardis us/req':>15} {'cpu ratio':>9} {'p50 ms redis/shardis':>21}")
    for row in rows:
        lat = f"{_fmt(row['redis_p50_ms'], '.3f')} / {_fmt(row['shardis_p50_ms'], '.3f')}"
        print(f"{row['test']:<12} {row['pipeline']:>3} {row['clients']:>4} {_fmt(row['redis_rps'], ',.0f'):>11} "
              f"{_fmt(row['shardis_rps'], ',.0f'):>12} {_fmt(row['ratio'], '.3f'):>6} {_fmt(row['best_ratio'], '.3f'):>6} "
              f"{_fmt(row['redis_cpu_us'], '.2f'):>13} {_fmt(row['shardis_cpu_us'], '.2f'):>15} "
              f"{_fmt(row['cpu_ratio'], '.3f'):>9} {lat:>21}")
    for s in summary:
        print(f"-P {s['pipeline']} -c {s['clients']}: median ratio shardis/redis over {s['tests']} tests = "
              f"{_fmt(s['median_ratio'], '.3f')} (of best rounds: {_fmt(s['median_best_ratio'], '.3f')}; "
              f"CPU per request, redis/shardis: {_fmt(s['median_cpu_ratio'], '.3f')})")


if __name__ == "__main__":
    sys.exit(main())
