#!/usr/bin/env python3
"""In-process micro-benchmark of command handlers, without sockets or an event loop.

redis-benchmark through a socket measures everything at once (kernel, event
loop, the benchmark client competing for the same CPUs) and is noisy on a
shared machine.  This script isolates the server's own work: it builds the
pipelines redis-benchmark sends (same commands, same key and member shapes,
16 commands per pipeline) and feeds them straight into a ``Client`` whose
transport only counts bytes, so what is measured is the RESP reader, the
connection loop and the handler.  Three modes separate those costs:

* ``client``  -- ``Client.data_received(pipeline)``: reader + loop + handler,
  what a request costs the node minus the socket and event loop;
* ``handler`` -- ``handler(client, argv)`` on pre-split argv lists: the
  handler alone;
* ``parse``   -- the request reader alone (``feed`` + ``gets`` until empty).

Timing (``--mode client`` etc.) reports the best of ``--repeat`` runs in ns
per command.  ``--callgrind`` reruns this script under valgrind's callgrind
and reports *instructions* per command, which on a shared, noisy machine
is the only figure that repeats exactly (PYTHONHASHSEED=0 and seeded
random make runs deterministic).  Each test's measured region is delimited
by a call to ``os.getegid()``, which callgrind is told to dump on
(``--dump-before=os_getegid``), so one valgrind process measures every test
and the interpreter's start-up is never counted.

    python bench/micro.py                                # all tests, client mode, timings
    python bench/micro.py --tests lpush,zadd --mode handler client
    python bench/micro.py --callgrind --tests incr,zadd  # instructions per command
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import shardis  # noqa: F401
except ImportError:  # run from a checkout without installing: use its src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from shardis.commands import load_all
from shardis.server.commandtable import lookup
from shardis.server.config import Config
from shardis.server.connection import Client
from shardis.server.node import Node

PIPELINE = 16  # commands per pipeline (redis-benchmark -P 16)
KEYSPACE = 100_000  # redis-benchmark -r 100000
WARMUP = 50  # pipelines run before measuring
DATA = b"xxx"  # redis-benchmark -d 3
RAND = b"__rand_int__"

# redis-benchmark's commands (redis-benchmark.c), "__rand_int__" replaced per
# occurrence by a random number below KEYSPACE printed as %012d.
TEMPLATES = {
    "ping": [b"PING"],
    "set": [b"SET", b"key:" + RAND, DATA],
    "get": [b"GET", b"key:" + RAND],
    "incr": [b"INCR", b"counter:" + RAND],
    "lpush": [b"LPUSH", b"mylist", DATA],
    "rpush": [b"RPUSH", b"mylist", DATA],
    "lpop": [b"LPOP", b"mylist"],
    "rpop": [b"RPOP", b"mylist"],
    "sadd": [b"SADD", b"myset", b"element:" + RAND],
    "hset": [b"HSET", b"myhash", b"element:" + RAND, DATA],
    "spop": [b"SPOP", b"myset"],
    "zadd": [b"ZADD", b"myzset", RAND, b"element:" + RAND],
    "zpopmin": [b"ZPOPMIN", b"myzset"],
    "lrange_100": [b"LRANGE", b"mylist", b"0", b"99"],
    "mset": [b"MSET"] + [b"key:" + RAND, DATA] * 10,
}

# The state each test runs against: what redis-benchmark's earlier tests
# leave behind, about half-way through the test (commands run before timing).
PREFILL = {
    "set": ("set", 60_000),  # -n 100000 -r 100000 leaves ~63k keys
    "get": ("set", 60_000),
    "lpush": ("lpush", 10_000),
    "rpush": ("lpush", 10_000),
    "lpop": ("lpush", 20_000),  # enough for every pop of a run
    "rpop": ("lpush", 20_000),
    "sadd": ("sadd", 30_000),
    "hset": ("hset", 30_000),
    "spop": ("sadd", 50_000),
    "zadd": ("zadd", 30_000),
    "zpopmin": ("zadd", 50_000),
    "lrange_100": ("lpush", 1_000),
}

DEFAULT_TESTS = "ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset"


class FakeTransport:
    """Takes the replies and keeps only their size."""

    def __init__(self):
        self.written = 0

    def write(self, data) -> None:
        self.written += len(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass


def make_argv(template, rng) -> list:
    out = []
    for a in template:
        if RAND in a:
            a = a.replace(RAND, b"%012d" % rng.randrange(KEYSPACE))
        out.append(a)
    return out


def encode(argv) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in argv)


def new_client():
    load_all()
    node = Node(Config())
    c = Client(node)
    c.transport = FakeTransport()
    c.update_fast()
    return node, c


# Tests that remove what they find: their data set must outlast every command of the run.
CONSUMING = ("lpop", "rpop", "spop", "zpopmin")


def prefill(c, test: str, rng, batches: int) -> None:
    if test not in PREFILL:
        return
    name, count = PREFILL[test]
    if test in CONSUMING:
        count = max(count, 2 * (WARMUP + batches) * PIPELINE)
    template = TEMPLATES[name]
    handler = lookup(template[0]).handler  # straight to the handler: set-up is not measured
    for _ in range(count):
        handler(c, make_argv(template, rng))


def build_pool(test: str, rng, count: int):
    """``count`` pipelines, (bytes, [argv, ...]) each, built before measuring.

    Every pipeline is drawn anew (none is replayed), so the data set evolves
    as under redis-benchmark: a replayed SADD or ZADD would find its members
    already there and measure the cheap "nothing to do" path.
    """
    pool = []
    for _ in range(count):
        argvs = [make_argv(TEMPLATES[test], rng) for _ in range(PIPELINE)]
        pool.append((b"".join(encode(a) for a in argvs), argvs))
    return pool


def run_client(c, pool) -> None:
    feed = c.data_received
    for data, _ in pool:
        feed(data)


def run_handler(c, pool) -> None:
    handler = lookup(pool[0][1][0][0]).handler
    for _, argvs in pool:
        for argv in argvs:
            handler(c, argv)


def run_parse(c, pool) -> None:
    reader = c.reader
    feed = reader.feed
    gets = reader.gets
    for data, _ in pool:
        feed(data)
        while gets() is not False:
            pass


RUNNERS = {"client": run_client, "handler": run_handler, "parse": run_parse}


def setup(test: str, seed: int, batches: int):
    """A client with the test's data set, warmed up, and ``batches`` pipelines to measure."""
    random.seed(seed)  # SPOP and friends draw from the module-level generator
    rng = random.Random(seed)
    node, c = new_client()
    prefill(c, test, rng, batches)
    warmup = build_pool(test, rng, WARMUP)
    pool = build_pool(test, rng, batches)
    return node, c, warmup, pool


def time_test(test: str, mode: str, batches: int, repeat: int, seed: int) -> float:
    """Best ns per command over ``repeat`` fresh runs."""
    best = None
    for r in range(repeat):
        node, c, warmup, pool = setup(test, seed + r, batches)
        run = RUNNERS[mode]
        run(c, warmup)
        gc.collect()
        t0 = time.perf_counter_ns()
        run(c, pool)
        dt = (time.perf_counter_ns() - t0) / (batches * PIPELINE)
        best = dt if best is None else min(best, dt)
    return best


def marked_run(tests, modes, batches: int, seed: int) -> None:
    """The body run under callgrind: a marker call around each measured region."""
    for test in tests:
        for mode in modes:
            node, c, warmup, pool = setup(test, seed, batches)
            run = RUNNERS[mode]
            run(c, warmup)
            gc.collect()
            os.getegid()  # dump: set-up
            run(c, pool)
            os.getegid()  # dump: the measured region
    print("done", file=sys.stderr)


def callgrind(args) -> dict:
    """Instructions per command for every (test, mode), from one valgrind run."""
    tests = args.tests.split(",")
    with tempfile.TemporaryDirectory(prefix="shardis-callgrind-") as tmp:
        d = args.keep or tmp
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if old.startswith("cg.out"):
                os.unlink(os.path.join(d, old))
        out = os.path.join(d, "cg.out")
        cmd = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-before=os_getegid",
            "--dump-instr=no", "--compress-strings=no",
            sys.executable, os.path.abspath(__file__), "--marked", "--tests", args.tests, "-P", str(args.pipeline),
            "--mode", *args.mode, "--batches", str(args.batches), "--seed", str(args.seed),
        ]
        env = dict(os.environ, PYTHONHASHSEED="0")
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "src") + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        dumps = sorted(
            (p for p in os.listdir(d) if re.fullmatch(r"cg\.out\.\d+", p)),
            key=lambda p: int(p.rsplit(".", 1)[1]),
        )
        totals = []  # (file, instructions) of the dumps our markers triggered
        for p in dumps:
            head = Path(d, p).read_text(errors="replace")[:4096]
            if "Trigger: --dump-before" not in head:
                continue  # the dump at exit
            m = re.search(r"^summary: (\d+)", head, re.M)
            totals.append((p, int(m.group(1)) if m else 0))
    # The interpreter may call os.getegid() itself while starting, so the
    # dumps are counted from the end: (set-up, measured) for each run.
    pairs = len(tests) * len(args.mode)
    measured = totals[len(totals) - 2 * pairs + 1::2]
    results = {}
    files = iter(measured)
    for test in tests:
        for mode in args.mode:
            name, count = next(files)
            results[(test, mode)] = count / (args.batches * PIPELINE)
            if args.keep:
                print(f"{test} {mode}: {os.path.join(d, name)}", file=sys.stderr)
    return results


def parse_args(argv=None):
    global PIPELINE
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tests", default=DEFAULT_TESTS, help=f"comma-separated tests (default: {DEFAULT_TESTS})")
    p.add_argument("--mode", nargs="+", default=["client"], choices=sorted(RUNNERS),
                   help="client, handler and/or parse (default: client)")
    p.add_argument("--batches", type=int, default=2000, help="pipelines of 16 per measured run (default: 2000)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per test, best kept (default: 5)")
    p.add_argument("--pipeline", "-P", type=int, default=PIPELINE,
                   help=f"commands per read, as redis-benchmark -P (default: {PIPELINE})")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead of timing")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed for the valgrind run")
    p.add_argument("--keep", metavar="DIR", help="keep callgrind's dumps in DIR (one per measured run)")
    p.add_argument("--marked", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    PIPELINE = args.pipeline
    unknown = [t for t in args.tests.split(",") if t not in TEMPLATES]
    if unknown:
        p.error(f"unknown tests: {', '.join(unknown)} (known: {', '.join(TEMPLATES)})")
    if args.pipeline < 1:
        p.error("--pipeline must be positive")
    if args.batches < 1:
        p.error("--batches must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    tests = args.tests.split(",")
    if args.marked:
        marked_run(tests, args.mode, args.batches, args.seed)
        return 0
    if args.callgrind:
        if args.batches == 2000:
            args.batches = 300  # valgrind runs ~50x slower; counts are exact anyway
        results = callgrind(args)
        unit = "instructions/command"
    else:
        results = {(t, m): time_test(t, m, args.batches, args.repeat, args.seed) for t in tests for m in args.mode}
        unit = "ns/command"
    print(f"{'test':<12}" + "".join(f"{m:>14}" for m in args.mode) + f"   ({unit})")
    for t in tests:
        print(f"{t:<12}" + "".join(f"{results[(t, m)]:>14,.0f}" for m in args.mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
