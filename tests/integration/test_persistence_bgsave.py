"""BGSAVE under a write load: the snapshot is one point in time, and the node keeps serving.

A writer sweeps the keys ``k:0 .. k:N-1`` in order, round after round,
setting each to the round number.  Whenever the fork happens, the keyspace
at that instant is "round R for a prefix of the keys, R-1 for the rest", so
the dump must read exactly like that -- any other shape would mean the child
saw writes made after the fork.  Meanwhile a prober measures how long PING
takes on the parent, and the writer's progress during the save is counted.
A second sweep over a hash/list/zset family checks containers the same way.
"""

from __future__ import annotations

import threading
import time

import pytest

from shardis.persistence import KeyValue, read_rdb
from shardis.testing import ConnectionClosed, RawConnection, ReplyTimeout, ShardisProcess

N = 60_000  # keys swept by the writer
BATCH = 500  # SETs per pipeline
WAIT = 120.0  # s: bound of the wait for the child


class Sweeper(threading.Thread):
    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.round = 0
        self.writes = 0
        self.error = None

    def run(self) -> None:
        try:
            with RawConnection(self.port, timeout=30) as c:
                while not self.stop.is_set() and self.round < 10_000:
                    self.round += 1
                    r = b"%d" % self.round
                    for start in range(0, N, BATCH):
                        cmds = [("SET", b"k:%d" % i, r) for i in range(start, start + BATCH)]
                        # containers moving in step, updated just before the round's first SET:
                        # list length, hash field and zset score = round
                        if start == 0:
                            cmds[:0] = [("RPUSH", "list", r), ("HSET", "hash", "round", r), ("ZADD", "zset", r, "m")]
                        replies = c.pipeline(*cmds)
                        assert all(not x.startswith(b"-") for x in replies), replies[:3]
                        self.writes += len(cmds)
                        if self.stop.is_set():
                            break
        except (ConnectionClosed, ReplyTimeout, OSError, AssertionError) as e:
            self.error = e


def test_bgsave_is_a_point_in_time_while_the_node_serves(tmp_path):
    proc = ShardisProcess(dir=tmp_path / "node", startup_timeout=60).start()
    sweeper = Sweeper(proc.port)
    try:
        with RawConnection(proc.port, timeout=60) as c:
            for start in range(0, N, 5000):
                args = ["MSET"]
                for i in range(start, start + 5000):
                    args += [f"k:{i}", "0"]
                assert c.request(*args) == b"+OK\r\n"
        sweeper.start()
        deadline = time.monotonic() + WAIT
        while sweeper.round < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.123)  # fork somewhere in the middle of a sweep
        assert proc.request("BGSAVE") == b"+Background saving started\r\n"
        writes_at_fork = sweeper.writes
        pings = []
        with RawConnection(proc.port, timeout=30) as probe:
            while b"rdb_bgsave_in_progress:1" in probe.request("INFO", "persistence"):
                t0 = time.monotonic()
                assert probe.request("PING") == b"+PONG\r\n"
                pings.append(time.monotonic() - t0)
                assert time.monotonic() < deadline, "BGSAVE did not finish"
                time.sleep(0.02)
        writes_during = sweeper.writes - writes_at_fork
        sweeper.stop.set()
        sweeper.join(timeout=60)
        assert sweeper.error is None, sweeper.error
        assert b"rdb_last_bgsave_status:ok" in proc.request("INFO", "persistence")
    finally:
        sweeper.stop.set()
        proc.cleanup()

    values = {}
    containers = {}
    with open(tmp_path / "node" / "dump.rdb", "rb") as f:
        for ev in read_rdb(f):
            if isinstance(ev, KeyValue):
                if ev.key.startswith(b"k:"):
                    values[int(ev.key[2:])] = int(ev.value)
                else:
                    containers[ev.key] = ev.value
    assert len(values) == N
    seq = [values[i] for i in range(N)]
    hi, lo = seq[0], seq[-1]
    assert hi - lo in (0, 1), (hi, lo)
    cut = seq.index(lo) if hi != lo else N
    assert seq == [hi] * cut + [lo] * (N - cut), "the snapshot mixes writes from after the fork"
    # the containers move just before each round's first SET: in step with the keys (when every key
    # holds the same round, the next round may have updated the containers and no key yet)
    c_round = len(containers[b"list"])
    assert c_round == hi if hi != lo else c_round in (hi, hi + 1)
    assert containers[b"hash"][b"round"] == b"%d" % c_round
    assert containers[b"zset"].score(b"m") == float(c_round)
    # the node kept serving: writes went on during the save, and PINGs were answered promptly
    assert writes_during > 0
    assert pings and max(pings) < 1.0, max(pings)
    print(f"\nBGSAVE of {N} keys under load: {writes_during} writes served during the save, "
          f"{len(pings)} PINGs, max latency {max(pings) * 1000:.1f} ms")
