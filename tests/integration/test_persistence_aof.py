"""The AOF on real shardis processes: restarts, rewrites, run-time switching, damaged files.

* a workload of write commands of every family (with the translations Redis
  propagates: relative expiry to PEXPIREAT/PXAT, SPOP to SREM, blocked pops,
  MULTI/EXEC, lazily expired keys as DEL) survives a restart and a SIGKILL
  under each ``appendfsync`` policy;
* BGREWRITEAOF (RDB and AOF-format bases) and ``CONFIG SET appendonly
  yes|no`` at run time keep the dataset intact; automatic rewrites start on
  growth;
* a tail cut inside a command is truncated and loaded with
  ``aof-load-truncated yes`` (and logged), refused with ``no``; a malformed
  file or a broken manifest stops the node, naming the file and offset.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from shardis.testing import RawConnection, ServerStartError, ShardisProcess, observe_keys

redis = pytest.importorskip("redis")

WAIT = 60.0  # s: bound of every wait in this module


def as_reloaded(obs: dict) -> dict:
    """What a reload from a snapshot shows: strings get the encoding of their content
    (Redis too turns a ``raw`` string grown by APPEND into ``embstr`` on reload)."""
    from shardis.keyspace.objects import string_encoding

    return {k: (t, string_encoding(v) if t == "string" else enc, v, ttl) for k, (t, enc, v, ttl) in obs.items()}


def info(proc) -> dict:
    text = proc.request("INFO", "persistence").decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def wait_info(proc, field: str, value: str, timeout: float = WAIT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        i = info(proc)
        if i.get(field) == value:
            return i
        assert time.monotonic() < deadline, f"{field} never became {value}: {i}"
        time.sleep(0.02)


def workload(port: int) -> None:
    """Writes of every family, including the ones Redis propagates in another form."""
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    r.set("s", "v")
    r.append("s", "+more")
    r.incr("counter")
    r.incrbyfloat("float", "1.5")
    r.setrange("s2", 3, "xyz")
    r.setbit("bits", 77, 1)
    r.set("ttl-rel", "x", ex=5000)
    r.set("ttl-keep", "y")
    r.expire("ttl-keep", 7000)
    r.getex("s", px=9_000_000)
    r.rpush("l", *range(20))
    r.lpop("l")
    r.lmove("l", "l2", "LEFT", "RIGHT")
    r.sadd("set", *range(30))
    r.spop("set", 3)  # propagated as SREM of what was popped
    r.srem("set", 5)
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    r.zincrby("z", 10, "a")
    r.zpopmin("z")
    r.hset("h", mapping={"f1": "1", "f2": "2"})
    r.hincrby("h", "f1", 41)
    r.hdel("h", "f2")
    r.set("tmp", "1")
    r.rename("tmp", "renamed")
    r.set("gone", "x", px=1)
    r.pfadd("hll", "a", "b", "c")
    p = r.pipeline(transaction=True)
    p.incr("counter")
    p.rpush("l2", "tx")
    p.execute()
    r.set("moved", "m")
    r.move("moved", 4)
    r.execute_command("SELECT", 9)
    r.set("db9", "nine")
    r.execute_command("SELECT", 0)
    time.sleep(0.01)
    r.get("gone")  # lazily expired: a DEL is logged
    # a blocked pop served by a later push: logged as the pop it became
    blocked = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    t = threading.Thread(target=lambda: blocked.blpop("waiting", timeout=20))
    t.start()
    time.sleep(0.2)
    r.rpush("waiting", "first", "second")
    t.join(timeout=20)
    blocked.close()
    r.close()


@pytest.mark.parametrize("policy", ["always", "everysec", "no"])
@pytest.mark.parametrize("stop", ["shutdown", "sigkill"])
def test_workload_survives_restart(tmp_path, policy, stop):
    proc = ShardisProcess(["appendonly yes", f"appendfsync {policy}"], dir=tmp_path / "node").start()
    try:
        workload(proc.port)
        expected = observe_keys(proc.port)
        assert (0, b"gone") not in expected and expected[(0, b"waiting")][2] == (b"second",)
        if stop == "sigkill":
            if policy != "always":
                time.sleep(1.2)  # the page cache survives a process kill; nothing to wait for really
            proc.kill()
        else:
            proc.stop()
        proc.start()
        assert observe_keys(proc.port) == expected
    finally:
        proc.cleanup()
    incr = (tmp_path / "node" / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert b"PEXPIREAT" in incr or b"PXAT" in incr
    assert b"$4\r\nSREM\r\n" in incr and b"$4\r\nSPOP\r\n" not in incr
    assert b"$3\r\nDEL\r\n$4\r\ngone\r\n" in incr
    assert b"$5\r\nBLPOP\r\n" not in incr and b"$5\r\nMULTI\r\n" in incr


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_rewrite_then_restart(tmp_path, preamble):
    proc = ShardisProcess(["appendonly yes", f"aof-use-rdb-preamble {preamble}"], dir=tmp_path / "node").start()
    try:
        workload(proc.port)
        assert proc.request("BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
        proc.request("SET", "during-rewrite", "1")
        i = wait_info(proc, "aof_rewrite_in_progress", "0")
        assert i["aof_last_bgrewrite_status"] == "ok" and i["aof_rewrites"] == "1"
        assert int(i["aof_base_size"]) > 0 and int(i["aof_current_size"]) >= int(i["aof_base_size"])
        proc.request("SET", "after-rewrite", "1")
        expected = observe_keys(proc.port)
        d = tmp_path / "node" / "appendonlydir"
        suffix = "rdb" if preamble == "yes" else "aof"
        assert sorted(os.listdir(d)) == [f"appendonly.aof.2.base.{suffix}", "appendonly.aof.2.incr.aof",
                                         "appendonly.aof.manifest"]
        proc.kill()
        proc.start()
        got = observe_keys(proc.port)
        assert got == as_reloaded(expected)
        assert got[(0, b"after-rewrite")] == expected[(0, b"after-rewrite")]
    finally:
        proc.cleanup()


def test_config_set_appendonly_at_run_time(tmp_path):
    d = tmp_path / "node"
    proc = ShardisProcess(dir=d).start()
    try:
        workload(proc.port)
        assert info(proc)["aof_enabled"] == "0"
        assert proc.request("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n"
        assert info(proc)["aof_enabled"] == "1"
        proc.request("SET", "while-rewriting", "1")  # goes to the temporary incr file
        wait_info(proc, "aof_rewrite_in_progress", "0")
        proc.request("SET", "after", "1")
        assert sorted(os.listdir(d / "appendonlydir")) == [
            "appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
        expected = observe_keys(proc.port)
        proc.kill()
    finally:
        proc.cleanup()
    proc = ShardisProcess(["appendonly yes"], dir=d).start()
    try:
        assert observe_keys(proc.port) == as_reloaded(expected)
        assert proc.request("CONFIG", "SET", "appendonly", "no") == b"+OK\r\n"
        size = os.path.getsize(d / "appendonlydir" / "appendonly.aof.1.incr.aof")
        proc.request("SET", "not-logged", "1")
        assert os.path.getsize(d / "appendonlydir" / "appendonly.aof.1.incr.aof") == size
        assert info(proc)["aof_enabled"] == "0"
    finally:
        proc.cleanup()


def test_automatic_rewrite_on_growth(tmp_path):
    proc = ShardisProcess(["appendonly yes", "auto-aof-rewrite-min-size 2kb",
                           "auto-aof-rewrite-percentage 50"], dir=tmp_path / "node").start()
    try:
        c = proc.connect()
        c.pipeline(*[["SET", f"key{i}", "x" * 50] for i in range(100)])
        proc.wait_for_log(r"Starting automatic rewriting of AOF on \d+% growth", timeout=20)
        wait_info(proc, "aof_rewrite_in_progress", "0")
        assert info(proc)["aof_rewrites"] == "1"
    finally:
        proc.cleanup()


def test_timestamps_are_written_and_skipped(tmp_path):
    proc = ShardisProcess(["appendonly yes", "aof-timestamp-enabled yes"], dir=tmp_path / "node").start()
    try:
        proc.request("SET", "a", "1")
        time.sleep(1.1)
        proc.request("SET", "b", "2")
        data = (tmp_path / "node" / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
        assert data.startswith(b"#TS:") and data.count(b"#TS:") == 2
        proc.kill()
        proc.start()
        assert proc.request("MGET", "a", "b") == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    finally:
        proc.cleanup()


# --- damaged files -----------------------------------------------------------------------------


def _node_with_incr(tmp_path, *extra):
    d = tmp_path / "node"
    proc = ShardisProcess(["appendonly yes", *extra], dir=d).start()
    for i in range(10):
        proc.request("SET", f"k{i}", f"v{i}")
    proc.kill()
    return proc, d / "appendonlydir" / "appendonly.aof.1.incr.aof"


def test_truncated_tail_is_loaded_when_allowed(tmp_path):
    proc, incr = _node_with_incr(tmp_path)
    try:
        good = incr.read_bytes()
        incr.write_bytes(good + b"*3\r\n$3\r\nSET\r\n$2\r\nk1")
        proc.start()
        assert proc.request("DBSIZE") == b":10\r\n"
        log = proc.log_text()
        assert "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!" in log
        assert f"!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {len(good)} !!!" in log
        assert "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled" in log
        assert incr.read_bytes() == good
        proc.request("SET", "new", "1")  # appended right after the cut
        proc.kill()
        proc.start()
        assert proc.request("DBSIZE") == b":11\r\n"
    finally:
        proc.cleanup()


def test_truncated_tail_is_refused_when_not_allowed(tmp_path):
    proc, incr = _node_with_incr(tmp_path, "aof-load-truncated no")
    try:
        good = incr.read_bytes()
        incr.write_bytes(good + b"*2\r\n$3\r\nGET")
        with pytest.raises(ServerStartError):
            proc.start()
        assert proc.returncode == 1
        log = proc.log_text()
        assert "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof" in log
        assert f"offset {len(good)}" in log
        assert incr.read_bytes() == good + b"*2\r\n$3\r\nGET"
    finally:
        proc.cleanup()


def test_malformed_aof_stops_the_node(tmp_path):
    proc, incr = _node_with_incr(tmp_path)
    try:
        good = incr.read_bytes()
        incr.write_bytes(good + b"this is not RESP\r\n" + good)
        with pytest.raises(ServerStartError):
            proc.start()
        log = proc.log_text()
        assert "Bad file format reading the append only file appendonly.aof.1.incr.aof" in log
        assert f"offset {len(good)}" in log
        assert "Ready to accept connections" not in log
    finally:
        proc.cleanup()


def test_broken_manifest_stops_the_node(tmp_path):
    proc, incr = _node_with_incr(tmp_path)
    try:
        manifest = incr.parent / "appendonly.aof.manifest"
        manifest.write_text(manifest.read_text() + "file x seq 1 type z\n")
        with pytest.raises(ServerStartError):
            proc.start()
        log = proc.log_text()
        assert "*** FATAL AOF MANIFEST FILE ERROR ***" in log and "Unknown AOF file type" in log
        assert ">>> 'file x seq 1 type z'" in log
    finally:
        proc.cleanup()


def test_missing_incr_file_stops_the_node(tmp_path):
    proc, incr = _node_with_incr(tmp_path)
    try:
        os.unlink(incr)
        with pytest.raises(ServerStartError):
            proc.start()
        assert "appendonly.aof.1.incr.aof" in proc.log_text()
    finally:
        proc.cleanup()


def test_sigterm_during_a_rewrite_leaves_a_loadable_aof(tmp_path):
    d = tmp_path / "node"
    proc = ShardisProcess(["appendonly yes"], dir=d).start()
    try:
        c = proc.connect()
        for batch in range(100):  # enough data for the rewrite child to take a moment
            args = ["MSET"]
            for i in range(1000):
                args += [f"key:{batch}:{i}", "v" * 50]
            assert c.request(*args) == b"+OK\r\n"
        proc.request("SET", "marker", "1")
        expected_size = proc.request("DBSIZE")
        assert proc.request("BGREWRITEAOF").startswith(b"+Background append only file rewriting")
        proc.request("SET", "marker", "2")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        proc.close_connections()
        assert not [f for f in os.listdir(d) if f.startswith("temp-rewriteaof")]
        proc.start()
        assert proc.request("DBSIZE") == expected_size
        assert proc.request("GET", "marker") == b"$1\r\n2\r\n"
    finally:
        proc.cleanup()


def test_loading_an_aof_answers_loading(tmp_path):
    d = tmp_path / "node"
    proc = ShardisProcess(["appendonly yes", "aof-use-rdb-preamble no"], dir=d).start()
    try:
        c = proc.connect()
        for batch in range(40):
            c.pipeline(*[["SET", f"k{batch}:{i}", "v"] for i in range(5000)])
        proc.kill()
        seen = []
        starter = threading.Thread(target=proc.start)
        starter.start()
        deadline = time.monotonic() + 120
        while starter.is_alive() and time.monotonic() < deadline:
            try:
                with RawConnection(proc.port, timeout=5, connect_timeout=0.5) as conn:
                    seen.append(conn.request("PING"))
            except OSError:
                pass
            time.sleep(0.01)
        starter.join(timeout=120)
        assert b"-LOADING Redis is loading the dataset in memory\r\n" in seen
        assert proc.request("DBSIZE") == b":200000\r\n"
    finally:
        proc.cleanup()


@pytest.mark.parametrize("server", ["shardis", "redis"])
def test_enabling_the_aof_continues_an_existing_manifest(tmp_path, server):
    """The manifest is read at start even with the AOF off; enabling it later rewrites to the next base.

    Run on both servers: the file names must come out the same.
    """
    from shardis.testing import RedisServerProcess
    from shardis.testing.pytest_plugin import require_redis_server

    if server == "redis":
        require_redis_server()
    cls = ShardisProcess if server == "shardis" else RedisServerProcess
    d = tmp_path / "node"
    proc = cls(["appendonly yes"], dir=d).start()
    try:
        proc.request("SET", "a", "1")
        assert proc.request("SAVE") == b"+OK\r\n"
    finally:
        proc.cleanup()
    proc = cls(dir=d).start()  # appendonly no: the RDB is loaded
    try:
        assert proc.request("GET", "a") == b"$1\r\n1\r\n"
        assert proc.request("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n"
        wait_info(proc, "aof_rewrite_in_progress", "0")
        wait_info(proc, "aof_rewrite_scheduled", "0")
        deadline = time.monotonic() + WAIT
        manifest = d / "appendonlydir" / "appendonly.aof.manifest"
        while b"seq 2 type b" not in manifest.read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert manifest.read_text() == (
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
        assert sorted(os.listdir(d / "appendonlydir")) == [
            "appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    finally:
        proc.cleanup()
