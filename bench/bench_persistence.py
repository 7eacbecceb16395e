#!/usr/bin/env python3
"""RDB persistence speed of a shardis node against redis-server: loading and BGSAVE.

One dataset (by default 1M string keys, as ``DEBUG POPULATE 1000000 key 16``
makes them, optionally with a share of hashes, lists, sets and sorted sets)
is built on a redis-server and saved once.  Then, for each server:

* load: the dump.rdb is copied into a fresh directory and the server started
  on it; reported are the server's own "DB loaded from disk: X seconds" and
  the wall time from launch to the first PONG;
* BGSAVE: on the loaded server, from the command until INFO shows the child
  gone (polled every 10 ms), with the file size and the copy-on-write figure
  the server reports;
* optionally SAVE (foreground).

shardis runs with Redis's defaults (``rdbcompression yes``, ``rdbchecksum
yes``) and, as a second variant, with both off: in pure Python the CRC64 and
the LZF attempts are a large part of the cost.  Ratios are shardis/redis
(times: higher is slower).  Each server is stopped by pid; every wait is
bounded.  With ``--rounds`` > 1 the servers are measured in alternating
order and the medians are reported (the machine may be shared: look at the
spread too).

    python bench/bench_persistence.py                      # 1M keys
    python bench/bench_persistence.py --keys 200000 --mix  # smaller, with containers
    python bench/bench_persistence.py --save --variants default
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

try:
    from shardis.testing import RawConnection, RedisServerProcess, ShardisProcess
except ImportError:  # run from a checkout without installing: use its src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from shardis.testing import RawConnection, RedisServerProcess, ShardisProcess

START_TIMEOUT = 900.0  # s: start-up including loading the dataset
CHILD_TIMEOUT = 1800.0  # s: one BGSAVE
SAVE_TIMEOUT = 1800.0  # s: one SAVE (the reply timeout of its connection)
VARIANTS = {
    "default": ["rdbcompression yes", "rdbchecksum yes"],
    "fast": ["rdbcompression no", "rdbchecksum no"],
}
_LOADED_RE = re.compile(r"DB loaded from disk: ([0-9.]+) seconds")


def build_dataset(workdir: Path, keys: int, size: int, mix: bool) -> Path:
    """A dump.rdb written by redis-server; returns its directory."""
    src = workdir / "source"
    src.mkdir()
    with RedisServerProcess(["enable-debug-command yes"], dir=src) as r:
        with RawConnection(r.port, timeout=600) as c:
            assert c.request("DEBUG", "POPULATE", str(keys), "key", str(size)) == b"+OK\r\n"
            if mix:
                containers = max(1, keys // 100)
                for start in range(0, containers, 500):
                    cmds = []
                    for i in range(start, min(containers, start + 500)):
                        cmds.append(["HSET", f"hash:{i}"] + [x for f in range(20) for x in (f"f{f}", f"v{i}")])
                        cmds.append(["RPUSH", f"list:{i}"] + [f"item{j}" for j in range(20)])
                        cmds.append(["SADD", f"set:{i}"] + [str(j) for j in range(20)])
                        cmds.append(["ZADD", f"zset:{i}"] + [x for j in range(20) for x in (str(j), f"m{j}")])
                    c.pipeline(*cmds)
            dbsize = int(c.request("DBSIZE")[1:-2])
            assert c.request("SAVE") == b"+OK\r\n"
    print(f"dataset: {dbsize} keys, dump.rdb {(src / 'dump.rdb').stat().st_size / 1e6:.1f} MB", flush=True)
    return src


def wait_child_done(port: int, timeout: float) -> tuple[float, dict]:
    """(seconds until rdb_bgsave_in_progress:0, INFO persistence fields)."""
    with RawConnection(port, timeout=60) as c:
        t0 = time.monotonic()
        reply = c.request("BGSAVE")
        assert reply == b"+Background saving started\r\n", reply
        deadline = t0 + timeout
        while True:
            text = c.request("INFO", "persistence").decode()
            if "rdb_bgsave_in_progress:0" in text:
                elapsed = time.monotonic() - t0
                fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
                return elapsed, fields
            if time.monotonic() > deadline:
                raise TimeoutError("BGSAVE did not finish")
            time.sleep(0.01)


def measure(cls, source: Path, workdir: Path, name: str, directives: list, do_save: bool) -> dict:
    d = workdir / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    shutil.copy(source / "dump.rdb", d / "dump.rdb")
    proc = cls(directives, dir=d, startup_timeout=START_TIMEOUT)
    t0 = time.monotonic()
    proc.start()
    try:
        wall = time.monotonic() - t0
        m = _LOADED_RE.search(proc.log_text())
        result = {"load_reported": float(m.group(1)) if m else None, "load_wall": wall}
        elapsed, fields = wait_child_done(proc.port, CHILD_TIMEOUT)
        assert fields["rdb_last_bgsave_status"] == "ok", fields
        result["bgsave"] = elapsed
        result["cow_mb"] = int(fields.get("rdb_last_cow_size", 0)) / 1e6
        result["size_mb"] = (d / "dump.rdb").stat().st_size / 1e6
        if do_save:
            with RawConnection(proc.port, timeout=SAVE_TIMEOUT) as c:
                t0 = time.monotonic()
                assert c.request("SAVE") == b"+OK\r\n"
                result["save"] = time.monotonic() - t0
        return result
    finally:
        proc.cleanup()


def fmt(x) -> str:
    return "-" if x is None else f"{x:8.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000, help="string keys (default 1000000)")
    ap.add_argument("--value-size", type=int, default=16, help="bytes per value (default 16)")
    ap.add_argument("--mix", action="store_true", help="add keys/100 each of hashes, lists, sets, zsets")
    ap.add_argument("--variants", default="default,fast", help="shardis variants: default,fast")
    ap.add_argument("--save", action="store_true", help="also time a foreground SAVE")
    ap.add_argument("--rounds", type=int, default=1, help="rounds, alternating the order (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-persistence-"))
    try:
        source = build_dataset(workdir, args.keys, args.value_size, args.mix)
        runs = [("redis", RedisServerProcess, [])] + [
            (f"shardis {v}", ShardisProcess, VARIANTS[v]) for v in args.variants.split(",")]
        samples: dict = {name: [] for name, _, _ in runs}
        for rnd in range(args.rounds):
            for name, cls, directives in (runs if rnd % 2 == 0 else runs[::-1]):
                print(f"round {rnd + 1}: measuring {name} ...", flush=True)
                r = measure(cls, source, workdir, name.replace(" ", "-"), directives, args.save)
                print("    " + ", ".join(f"{k}={v:.2f}" for k, v in r.items() if v is not None), flush=True)
                samples[name].append(r)
        results = {
            name: {k: statistics.median(x[k] for x in rs) if rs[0].get(k) is not None else None for k in rs[0]}
            for name, rs in samples.items()
        }
        base = results["redis"]
        cols = ["load_reported", "load_wall", "bgsave"] + (["save"] if args.save else [])
        print()
        print(f"{'server':<18}" + "".join(f"{c:>14}" for c in cols) + f"{'file MB':>10}{'CoW MB':>10}")
        for name, r in results.items():
            print(f"{name:<18}" + "".join(f"{fmt(r.get(c)):>14}" for c in cols)
                  + f"{r['size_mb']:>10.1f}{r['cow_mb']:>10.1f}")
        print()
        for name, r in results.items():
            if name == "redis":
                continue
            ratios = ", ".join(
                f"{c} x{r[c] / base[c]:.1f}" for c in cols if r.get(c) is not None and base.get(c))
            print(f"{name} / redis: {ratios}")
        return 0
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
