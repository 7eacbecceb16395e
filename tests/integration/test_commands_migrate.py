"""DUMP, RESTORE and MIGRATE against redis-server 7.0, in both directions.

The differential checks compare replies byte for byte (errors included);
the cross tests move keys of every type between a shardis node and a real
redis-server with MIGRATE and DUMP/RESTORE and read them back on the other
side, TTLs included.
"""

from __future__ import annotations

import pytest

from shardis.testing.rawclient import RawConnection

pytestmark = pytest.mark.timeout(60)


def _load_every_type(conn: RawConnection) -> None:
    conn.request("SET", "s", "hello")
    conn.request("SET", "n", "12345")
    conn.request("SET", "big", "x" * 5000)
    conn.request("RPUSH", "l", "a", "b", "c")
    conn.request("HSET", "h", "f1", "v1", "f2", "v2")
    conn.request("HSET", "hbig", *[x for i in range(600) for x in (f"f{i}", f"v{i}")])
    conn.request("SADD", "si", "1", "2", "3")
    conn.request("SADD", "ss", "a", "b")
    conn.request("ZADD", "z", "1", "a", "2.5", "b", "-inf", "c")
    conn.request("ZADD", "zbig", *[x for i in range(200) for x in (str(i), f"m{i}")])
    conn.request("PFADD", "hll", "a", "b", "c")
    conn.request("PEXPIRE", "s", "100000")


KEYS = ["s", "n", "big", "l", "h", "hbig", "si", "ss", "z", "zbig", "hll"]


def _contents(conn: RawConnection) -> dict:
    out = {}
    for k in KEYS:
        t = conn.request("TYPE", k)
        if t == b"+string\r\n":
            v = conn.request("GET", k)
        elif t == b"+list\r\n":
            v = conn.request("LRANGE", k, "0", "-1")
        elif t == b"+hash\r\n":
            v = sorted(conn.request("HGETALL", k).split(b"\r\n"))
        elif t == b"+set\r\n":
            v = sorted(conn.request("SMEMBERS", k).split(b"\r\n"))
        elif t == b"+zset\r\n":
            v = conn.request("ZRANGE", k, "0", "-1", "WITHSCORES")
        else:
            v = None
        # A string built in place (the HLL) is "raw" where it was made and
        # "embstr" once restored elsewhere, on redis-server as here.
        enc = None if k == "hll" else conn.request("OBJECT", "ENCODING", k)
        out[k] = (t, v, enc)
    return out


def test_dump_restore_errors_match_redis(diff):
    diff.check("SET", "k", "v")
    diff.check("DUMP", "k")
    diff.check("DUMP", "missing")
    diff.check("RESTORE", "k", "0", "garbage")  # BUSYKEY comes first
    diff.check("RESTORE", "k2", "0", "garbage")
    diff.check("RESTORE", "k2", "-1", "garbage")
    diff.check("RESTORE", "k2", "notanumber", "garbage")
    diff.check("RESTORE", "k2", "0", "x", "BADOPT")
    diff.check("RESTORE", "k2", "0", "x", "IDLETIME", "-1")
    diff.check("RESTORE", "k2", "0", "x", "FREQ", "300")
    diff.check("RESTORE", "k2", "0", "x", "IDLETIME", "1", "FREQ", "3")
    diff.check("RESTORE", "k2")
    payload = diff.redis.request("DUMP", "k")
    raw = payload.split(b"\r\n", 1)[1][:-2]
    diff.check("RESTORE", "k3", "0", raw)
    diff.check("GET", "k3")
    diff.check("RESTORE", "k3", "0", raw, "REPLACE")
    diff.check("RESTORE", "k4", "1", raw, "ABSTTL")  # already expired: OK, nothing created
    diff.check("EXISTS", "k4")
    bad = bytearray(raw)
    bad[-1] ^= 0xFF
    diff.check("RESTORE", "k5", "0", bytes(bad))


def test_migrate_errors_match_redis(diff):
    diff.check("MIGRATE", "127.0.0.1", "1", "missing", "0", "100")  # NOKEY before connecting
    diff.check("MIGRATE", "127.0.0.1", "1", "k", "0", "100", "KEYS", "a")
    diff.check("MIGRATE", "127.0.0.1", "1", "", "0", "100", "BAD")
    diff.check("MIGRATE", "127.0.0.1", "1", "", "0", "100", "AUTH")
    diff.check("MIGRATE", "127.0.0.1", "1", "", "x", "100", "KEYS", "a")
    diff.check("SET", "k", "v")
    diff.check("MIGRATE", "127.0.0.1", "1", "k", "0", "100")  # nothing listens on port 1


def test_migrate_every_type_both_ways(shardis_node, redis_server):
    s = RawConnection(shardis_node.port)
    r = RawConnection(redis_server.port)
    _load_every_type(r)
    expected = _contents(r)
    # redis-server -> shardis
    reply = r.request("MIGRATE", "127.0.0.1", str(shardis_node.port), "", "0", "5000", "KEYS", *KEYS)
    assert reply == b"+OK\r\n"
    assert r.request("DBSIZE") == b":0\r\n"
    assert _contents(s) == expected
    ttl = int(s.request("PTTL", "s")[1:-2])
    assert 90000 < ttl <= 100000
    # shardis -> redis-server, with COPY and then REPLACE
    assert s.request("MIGRATE", "127.0.0.1", str(redis_server.port), "", "0", "5000", "COPY", "KEYS", *KEYS) == b"+OK\r\n"
    assert _contents(r) == expected
    assert s.request("DBSIZE") == b":%d\r\n" % len(KEYS)
    err = s.request("MIGRATE", "127.0.0.1", str(redis_server.port), "", "0", "5000", "KEYS", "s")
    assert err == b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    assert s.request("MIGRATE", "127.0.0.1", str(redis_server.port), "", "0", "5000", "REPLACE", "KEYS", *KEYS) == b"+OK\r\n"
    assert s.request("DBSIZE") == b":0\r\n"
    assert _contents(r) == expected
    # single-key form, into another db
    assert r.request("MIGRATE", "127.0.0.1", str(shardis_node.port), "h", "3", "5000") == b"+OK\r\n"
    s.request("SELECT", "3")
    assert s.request("HGET", "h", "f1") == b"$2\r\nv1\r\n"


def test_dump_payloads_cross_restore(shardis_node, redis_server):
    s = RawConnection(shardis_node.port)
    r = RawConnection(redis_server.port)
    _load_every_type(s)
    expected = _contents(s)
    for k in KEYS:
        payload = s.request("DUMP", k).split(b"\r\n", 1)[1][:-2]
        assert r.request("RESTORE", k, "0", payload) == b"+OK\r\n"
    assert _contents(r) == expected
    s.request("FLUSHALL")
    for k in KEYS:
        payload = r.request("DUMP", k).split(b"\r\n", 1)[1][:-2]
        assert s.request("RESTORE", k, "0", payload) == b"+OK\r\n"
    assert _contents(s) == expected
