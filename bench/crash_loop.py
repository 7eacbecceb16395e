#!/usr/bin/env python3
"""Crash loop: SIGKILL a shardis node under a write load, many times, and count lost writes.

For each ``appendfsync`` policy asked for, one node directory lives through
``--rounds`` cycles (default 20) of: start (loading everything the earlier
rounds left), pipelined writers on their own keys, an AOF rewrite in every
other round, SIGKILL at a random moment, restart, check.  The check is the
one of tests/integration/test_persistence_crash.py (imported from there, so
the two cannot drift apart): what survived must be a gap-free prefix of what
each writer sent, and the earlier rounds must still be intact.  For each
policy it prints the acknowledged writes and how many of them were lost --
zero is required with ``always``; with ``everysec`` the figure is the loss
window of a process crash.

    python bench/crash_loop.py                       # always and everysec, 20 rounds each
    python bench/crash_loop.py --rounds 50 --policies everysec --seed 7
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
try:
    import shardis  # noqa: F401
except ImportError:  # run from a checkout without installing: use its src/
    sys.path.insert(0, str(ROOT / "src"))


def load_crash_module():
    path = ROOT / "tests" / "integration" / "test_persistence_crash.py"
    spec = importlib.util.spec_from_file_location("persistence_crash_rounds", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="crash rounds per policy (default 20)")
    ap.add_argument("--policies", default="always,everysec", help="appendfsync policies (default always,everysec)")
    ap.add_argument("--seed", type=int, default=20, help="random seed (kill moments)")
    args = ap.parse_args(argv)
    crash = load_crash_module()
    failed = False
    summary = []
    for policy in args.policies.split(","):
        workdir = Path(tempfile.mkdtemp(prefix=f"crash-loop-{policy}-"))
        t0 = time.monotonic()
        try:
            results = crash.run_rounds(workdir / "node", policy, rounds=args.rounds, seed=args.seed)
        except AssertionError as e:
            print(f"[{policy}] FAILED: {e}", flush=True)
            failed = True
            continue
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        acked = sum(a for _, a, _ in results)
        lost = sum(x for _, _, x in results)
        worst = max(x for _, _, x in results)
        per_round = [x for _, _, x in results]
        print(f"[{policy}] {len(results)} rounds in {time.monotonic() - t0:.0f}s: acknowledged writes {acked}, "
              f"lost {lost} (worst round {worst}); lost per round {per_round}", flush=True)
        summary.append((policy, acked, lost))
        if policy == "always" and lost:
            failed = True
    for policy, acked, lost in summary:
        rate = f"{lost / acked * 100:.4f}%" if acked else "-"
        print(f"{policy:>9}: {lost} of {acked} acknowledged writes lost ({rate})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
