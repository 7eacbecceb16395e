"""Persistence files shared with redis-server 7.0, in both directions.

* a dump.rdb written by redis-server (every type in every encoding, TTLs,
  several databases, a function library) loads into shardis with identical
  content: values, OBJECT ENCODING, expire times;
* an appendonlydir written by redis-server (RDB base + incr, and an AOF-format
  base with ``#TS`` annotations, MULTI/EXEC and expiry DELs) loads into
  shardis with identical content;
* what shardis writes -- a dump.rdb, and an appendonlydir after rewrites --
  passes ``redis-check-rdb`` / ``redis-check-aof`` and loads into
  redis-server with identical content.

Every server runs on 127.0.0.1 with a free port in its own directory and is
stopped by pid.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from shardis.testing import RawConnection, RedisServerProcess, ShardisProcess, observe_keys
from shardis.testing.pytest_plugin import require_redis_server

redis = pytest.importorskip("redis")

REDIS_CHECK_RDB = shutil.which("redis-check-rdb")
REDIS_CHECK_AOF = shutil.which("redis-check-aof")
CHECK_TIMEOUT = 60  # s for redis-check-* on our small files
FUTURE_MS = 4102444800000  # 2100-01-01: far enough that no key expires during a test
LUA_LIB = "#!lua name=persistlib\nredis.register_function('persist_f', function() return 7 end)"


@pytest.fixture(autouse=True)
def _need_redis():
    require_redis_server()


def fill_every_type(r, functions: bool = True) -> None:
    """Keys of every type in every Redis 7.0 encoding, with TTLs, in several databases."""
    p = r.pipeline(transaction=False)
    p.set("s:int", "12345")
    p.set("s:neg", "-9223372036854775808")
    p.set("s:embstr", "short string")
    p.set("s:raw", "r" * 100)
    p.set("s:lzf", "abcdefgh" * 200)
    p.set("s:bin", bytes(range(256)))
    p.set("s:empty", "")
    p.append("s:appended", "grown")
    p.rpush("l:small", "a", "1", "-7", "b" * 70)
    p.rpush("l:big", *[f"element-{i:06d}-" + "x" * (i % 50) for i in range(2500)])
    p.rpush("l:ints", *range(-300, 300))
    p.sadd("set:int", 1, 2, 3, -5, 1 << 40)
    p.sadd("set:big-int", *range(600))
    p.sadd("set:str", "a", "b", "c")
    p.zadd("z:small", {"a": 1, "b": 2.5, "c": -3, "d": float("inf"), "e": float("-inf")})
    p.zadd("z:big", {f"m{i}": i * 0.25 for i in range(200)})
    p.zadd("z:long", {"m" * 80: 1, "x": 2})
    p.hset("h:small", mapping={"f1": "v1", "f2": "2", "f3": ""})
    p.hset("h:big", mapping={f"field{i}": f"value{i}" for i in range(600)})
    p.hset("h:long", mapping={"f": "v" * 100})
    p.set("ttl:string", "v")
    p.pexpireat("ttl:string", FUTURE_MS)
    p.rpush("ttl:list", "x")
    p.pexpireat("ttl:list", FUTURE_MS + 1234)
    p.execute()
    for db in (1, 15):
        r.execute_command("SELECT", db)
        r.set(f"db{db}:k", f"in db {db}")
        r.hset(f"db{db}:h", "f", "v")
        r.pexpireat(f"db{db}:h", FUTURE_MS + db)
    r.execute_command("SELECT", 0)
    if functions:
        r.execute_command("FUNCTION", "LOAD", LUA_LIB)


def check_rdb(path) -> str:
    if REDIS_CHECK_RDB is None:
        pytest.skip("redis-check-rdb not installed")
    res = subprocess.run([REDIS_CHECK_RDB, str(path)], capture_output=True, text=True, timeout=CHECK_TIMEOUT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "RDB looks OK" in res.stdout
    return res.stdout


def check_aof(manifest) -> str:
    if REDIS_CHECK_AOF is None:
        pytest.skip("redis-check-aof not installed")
    res = subprocess.run([REDIS_CHECK_AOF, str(manifest)], capture_output=True, text=True, timeout=CHECK_TIMEOUT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "All AOF files and manifest are valid" in res.stdout
    return res.stdout


def _redis(tmp_path, name, *directives):
    return RedisServerProcess(list(directives), dir=tmp_path / name).start()


def _shardis(tmp_path, name, *directives):
    return ShardisProcess(list(directives), dir=tmp_path / name).start()


# --- redis-server -> shardis -------------------------------------------------------------------


def test_redis_dump_rdb_loads_into_shardis(tmp_path):
    r = _redis(tmp_path, "data")
    try:
        fill_every_type(r.client())
        expected = observe_keys(r.port)
        assert r.request("SAVE") == b"+OK\r\n"
    finally:
        r.cleanup()
    check_rdb(tmp_path / "data" / "dump.rdb")
    s = _shardis(tmp_path, "data")
    try:
        assert observe_keys(s.port) == expected
        info = s.request("INFO", "persistence").decode()
        assert f"rdb_last_load_keys_loaded:{len(expected)}" in info
        assert "Loading RDB produced by version 7.0.15" in s.log_text()
    finally:
        s.cleanup()


def test_expired_keys_in_a_redis_dump_are_not_loaded(tmp_path):
    r = _redis(tmp_path, "data")
    try:
        c = r.client()
        c.set("gone", "x", px=300)
        c.set("kept", "y")
        assert r.request("SAVE") == b"+OK\r\n"
    finally:
        r.cleanup()
    time.sleep(0.4)
    s = _shardis(tmp_path, "data")
    try:
        assert s.request("KEYS", "*") == b"*1\r\n$4\r\nkept\r\n"
        assert "rdb_last_load_keys_expired:1" in s.request("INFO", "persistence").decode()
    finally:
        s.cleanup()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_appendonlydir_loads_into_shardis(tmp_path, preamble):
    directives = ["appendonly yes", f"aof-use-rdb-preamble {preamble}", "aof-timestamp-enabled yes"]
    r = _redis(tmp_path, "data", *directives)
    try:
        c = r.client()
        fill_every_type(c, functions=False)
        # the rewrite turns this into the base; what follows goes to the incr file
        assert r.request("BGREWRITEAOF").startswith(b"+Background append only file rewriting")
        deadline = time.monotonic() + 30
        while b"aof_rewrite_in_progress:0" not in r.request("INFO", "persistence"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.1)  # a new second: the next write carries a #TS annotation
        c.incrby("s:int", 5)
        c.lpush("l:small", "pushed")
        c.hdel("h:big", "field7")
        c.zincrby("z:small", 1, "a")
        c.set("gone", "x", px=50)
        c.set("ex", "relative", ex=1000)  # propagated as PXAT
        p = c.pipeline(transaction=True)
        p.set("tx1", "1")
        p.srem("set:str", "a")
        p.execute()
        time.sleep(0.1)
        assert c.get("gone") is None  # the expiry is logged as a DEL
        expected = observe_keys(r.port)
    finally:
        r.cleanup()
    incr = (tmp_path / "data" / "appendonlydir" / "appendonly.aof.2.incr.aof").read_bytes()
    assert b"#TS:" in incr and b"MULTI" in incr and b"$3\r\nDEL\r\n$4\r\ngone" in incr
    s = _shardis(tmp_path, "data", *directives)
    try:
        assert observe_keys(s.port) == expected
        assert "DB loaded from append only file" in s.log_text()
    finally:
        s.cleanup()


# --- shardis -> redis-server ---------------------------------------------------------------------


def test_shardis_dump_rdb_passes_redis_check_rdb_and_loads_into_redis(tmp_path):
    s = _shardis(tmp_path, "data")
    try:
        fill_every_type(s.client(), functions=False)
        expected = observe_keys(s.port)
        assert s.request("SAVE") == b"+OK\r\n"
    finally:
        s.cleanup()
    out = check_rdb(tmp_path / "data" / "dump.rdb")
    assert "redis-ver = '7.0.15'" in out and "aof-base = '0'" in out
    r = _redis(tmp_path, "data")
    try:
        assert observe_keys(r.port) == expected
    finally:
        r.cleanup()


def test_function_libraries_pass_through_shardis(tmp_path):
    r = _redis(tmp_path, "data")
    try:
        c = r.client()
        c.set("k", "v")
        c.execute_command("FUNCTION", "LOAD", LUA_LIB)
        assert r.request("SAVE") == b"+OK\r\n"
    finally:
        r.cleanup()
    s = _shardis(tmp_path, "data")
    try:
        s.request("SET", "k2", "v2")
        assert s.request("SAVE") == b"+OK\r\n"
    finally:
        s.cleanup()
    r = _redis(tmp_path, "data")
    try:
        assert r.request("FCALL", "persist_f", "0") == b":7\r\n"
        assert r.request("GET", "k2") == b"$2\r\nv2\r\n"
    finally:
        r.cleanup()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_shardis_appendonlydir_passes_redis_check_aof_and_loads_into_redis(tmp_path, preamble):
    directives = ["appendonly yes", f"aof-use-rdb-preamble {preamble}", "aof-timestamp-enabled yes"]
    s = _shardis(tmp_path, "data", *directives)
    try:
        c = s.client()
        fill_every_type(c, functions=False)
        assert s.request("BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
        deadline = time.monotonic() + 60
        while b"aof_rewrite_in_progress:0" not in s.request("INFO", "persistence"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        c.incrby("s:int", 5)
        c.lpush("l:small", "pushed")
        c.hdel("h:big", "field7")
        c.set("ex", "relative", ex=1000)
        p = c.pipeline(transaction=True)
        p.set("tx1", "1")
        p.srem("set:str", "a")
        p.execute()
        c.execute_command("SELECT", 3)
        c.set("in3", "x")
        expected = observe_keys(s.port)
    finally:
        s.cleanup()
    d = tmp_path / "data" / "appendonlydir"
    suffix = "rdb" if preamble == "yes" else "aof"
    assert (d / "appendonly.aof.manifest").read_text() == (
        f"file appendonly.aof.2.base.{suffix} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
    check_aof(d / "appendonly.aof.manifest")
    r = _redis(tmp_path, "data", *directives)
    try:
        assert observe_keys(r.port) == expected
    finally:
        r.cleanup()


def test_same_directory_alternating_servers(tmp_path):
    """redis -> shardis -> redis -> shardis over one appendonlydir: nothing is lost on the way."""
    directives = ["appendonly yes"]
    expected = None
    for i, cls in enumerate([RedisServerProcess, ShardisProcess, RedisServerProcess, ShardisProcess]):
        proc = cls(directives, dir=tmp_path / "data").start()
        try:
            if expected is not None:
                assert observe_keys(proc.port) == expected, f"round {i} ({cls.__name__})"
            with RawConnection(proc.port) as conn:
                conn.request("RPUSH", "rounds", cls.__name__)
                conn.request("INCR", "n")
                conn.request("SET", f"k{i}", "v" * (i * 30))
                if i == 1:
                    assert conn.request("BGREWRITEAOF").startswith(b"+Background")
                    deadline = time.monotonic() + 30
                    while b"aof_rewrite_in_progress:0" not in conn.request("INFO", "persistence"):
                        assert time.monotonic() < deadline
                        time.sleep(0.05)
                    conn.request("SET", "after-rewrite", "1")
            expected = observe_keys(proc.port)
        finally:
            proc.cleanup()
    assert expected[(0, b"rounds")][2] == (b"RedisServerProcess", b"ShardisProcess") * 2
    assert expected[(0, b"n")][2] == b"4"
