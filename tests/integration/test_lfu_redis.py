"""OBJECT FREQ under an LFU policy, against redis-server 7.0: which commands count as an access.

Redis counts accesses in a logarithmic 8-bit counter whose increments are
random above LFU_INIT_VAL (5), but certain below it.  A key restored with
``FREQ 0`` therefore shows, after one command, exactly how many times that
command looked the key up (up to 5): the replies of both servers must be
equal, so each command must touch the key as often as Redis's does.
Values are not small integers: Redis shares those objects (and so their
counters) between keys.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from shardis.testing.rawclient import RawConnection

pytestmark = [pytest.mark.timeout(120)]

# (setup of key "k" on both servers, the command under test)
CASES = [
    ([["SET", "k", "hello"]], ["GET", "k"]),
    ([["SET", "k", "hello"]], ["STRLEN", "k"]),
    ([["SET", "k", "hello"]], ["APPEND", "k", "x"]),
    ([["SET", "k", "hello"]], ["SETRANGE", "k", "1", "y"]),
    ([["SET", "k", "hello"]], ["GETRANGE", "k", "0", "1"]),
    ([["SET", "k", "hello"]], ["SET", "k", "world"]),
    ([["SET", "k", "hello"]], ["SET", "k", "world", "XX"]),
    ([["SET", "k", "hello"]], ["SET", "k", "world", "GET"]),
    ([["SET", "k", "hello"]], ["GETSET", "k", "world"]),
    ([["SET", "k", "hello"]], ["GETEX", "k", "EX", "100"]),
    ([["SET", "k", "123456"]], ["INCR", "k"]),
    ([["SET", "k", "1.5e3"]], ["INCRBYFLOAT", "k", "1"]),
    ([["SET", "k", "hello"]], ["EXISTS", "k"]),
    ([["SET", "k", "hello"]], ["TYPE", "k"]),
    ([["SET", "k", "hello"]], ["TOUCH", "k"]),
    ([["SET", "k", "hello"]], ["EXPIRE", "k", "100"]),
    ([["SET", "k", "hello"]], ["TTL", "k"]),
    ([["SET", "k", "hello"]], ["DUMP", "k"]),
    ([["SET", "k", "hello"]], ["OBJECT", "ENCODING", "k"]),
    ([["SET", "k", "hello"]], ["MGET", "k", "k"]),
    ([["SET", "k", "hello"]], ["SETBIT", "k", "3", "1"]),
    ([["SET", "k", "hello"]], ["GETBIT", "k", "3"]),
    ([["HSET", "k", "f", "v"]], ["HGET", "k", "f"]),
    ([["HSET", "k", "f", "v"]], ["HSET", "k", "g", "w"]),
    ([["RPUSH", "k", "a", "b"]], ["LRANGE", "k", "0", "-1"]),
    ([["RPUSH", "k", "a", "b"]], ["LPUSH", "k", "c"]),
    ([["SADD", "k", "a", "b"]], ["SISMEMBER", "k", "a"]),
    ([["ZADD", "k", "1", "a"]], ["ZSCORE", "k", "a"]),
    ([["ZADD", "k", "1", "a"]], ["ZADD", "k", "2", "b"]),
]


def _bulk(reply: bytes) -> bytes:
    assert reply.startswith(b"$"), reply
    return reply.split(b"\r\n", 1)[1][:-2]


def freq(diff, key: str) -> None:
    # Compared raw: the differential harness normalises OBJECT's replies by default.
    diff.check("OBJECT", "FREQ", key, normalize=False)


@pytest.fixture
def lfu(diff):
    diff.check("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    try:
        yield diff
    finally:
        diff.both("CONFIG", "SET", "maxmemory-policy", "noeviction")


def _restore_with_freq(diff, key: str, freq: int) -> None:
    """``key`` restored from its own DUMP with counter ``freq``, on each server."""
    a, b = diff.both("DUMP", key)
    for conn, reply in zip((diff.shardis, diff.redis), (a, b)):
        assert conn.request("RESTORE", key, "0", _bulk(reply), "REPLACE", "FREQ", str(freq)) == b"+OK\r\n"


@pytest.mark.parametrize("setup, command", CASES, ids=[" ".join(c) for _, c in CASES])
def test_a_command_counts_as_many_accesses_as_in_redis(lfu, setup, command):
    diff = lfu
    diff.check("FLUSHALL")
    for args in setup:
        diff.check(*args)
    _restore_with_freq(diff, "k", 0)
    freq(diff, "k")
    diff.check(*command, normalize=False)
    freq(diff, "k")


def test_a_new_key_starts_at_five_and_one_access_makes_six(lfu):
    diff = lfu
    diff.check("SET", "k", "hello")
    freq(diff, "k")
    diff.check("GET", "k")
    freq(diff, "k")
    diff.check("OBJECT", "IDLETIME", "k")
    freq(diff, "missing")


def test_fields_are_read_across_a_policy_switch(lfu):
    diff = lfu
    diff.check("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    diff.check("SET", "k", "hello")
    freq(diff, "k")
    diff.check("CONFIG", "SET", "maxmemory-policy", "volatile-lfu")
    freq(diff, "k")  # an LRU clock read as LFU data: decayed to 0
    diff.check("RESTORE", "r", "0", _bulk(diff.check("DUMP", "k")), "FREQ", "3")
    freq(diff, "r")
    diff.check("RESTORE", "r2", "0", _bulk(diff.check("DUMP", "k")), "IDLETIME", "3")
    freq(diff, "r2")  # IDLETIME is ignored under LFU: a new object's counter


def test_redis_cli_hotkeys_names_the_key_read_most(shardis_node):
    # redis-cli --hotkeys needs an LFU policy and ranks keys by OBJECT FREQ.
    shardis_node.request("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    with RawConnection(shardis_node.port, timeout=10) as conn:
        conn.pipeline(*[("SET", f"cold{i}", "x") for i in range(20)])
        conn.pipeline(("SET", "hot", "x"), *[("GET", "hot")] * 500)
    out = subprocess.run(["redis-cli", "-p", str(shardis_node.port), "--hotkeys"], capture_output=True,
                         text=True, timeout=60).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r'hot key found with counter: (\d+)\s+keyname: "(.*)"', line)
        if m:
            found[m.group(2)] = int(m.group(1))
    assert len(found) == 16, out  # redis-cli's summary: the 16 hottest
    assert found["hot"] > 5 and all(v == 5 for k, v in found.items() if k != "hot"), found


@pytest.mark.node_directives("enable-debug-command yes")
def test_the_counter_survives_an_rdb_reload(shardis_node):
    shardis_node.request("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    with RawConnection(shardis_node.port, timeout=10) as conn:
        assert conn.request("SET", "k", "hello") == b"+OK\r\n"
        assert conn.request("RESTORE", "k2", "0", _bulk(conn.request("DUMP", "k")), "FREQ", "40") == b"+OK\r\n"
        assert conn.request("OBJECT", "FREQ", "k2") == b":40\r\n"
        assert conn.request("OBJECT", "FREQ", "k") == b":6\r\n"  # DUMP read it once
        assert conn.request("DEBUG", "RELOAD") == b"+OK\r\n"
        assert conn.request("OBJECT", "FREQ", "k2") == b":40\r\n"  # saved as FREQ, loaded back
        assert conn.request("OBJECT", "FREQ", "k") == b":6\r\n"
