"""MULTI/EXEC/DISCARD/WATCH against real processes: byte for byte against redis-server 7.0, and via redis-py.

The differential tests compare every reply of shardis and redis-server for
the same requests, including the error texts of misuse, EXECABORT after a
queuing error, the null reply of a transaction whose WATCHed key changed
(by another client, by FLUSHALL/SWAPDB/RENAME, or by reaching its TTL) and
transactions that touch blocked clients.  Timing-sensitive WATCH-and-expiry
scenarios run the same script on each server in turn with the active expiry
cycle switched off (DEBUG SET-ACTIVE-EXPIRE 0), so a key past its TTL is
still physically there exactly as the scenario needs.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
import redis.asyncio as aioredis

from shardis.testing import RawConnection

pytestmark = pytest.mark.node_directives("enable-debug-command yes")


def hello3(diff):
    for c in (diff.shardis, diff.redis):
        assert c.request("HELLO", "3").startswith(b"%7\r\n")


def check_script(diff, *commands):
    """Run the commands on the main pair, comparing each reply."""
    return [diff.check(*cmd) for cmd in commands]


# --- misuse and queuing errors -----------------------------------------------------------------


def test_misuse_errors(diff):
    check_script(
        diff,
        ("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("WATCH", "k"), ("SET", "k", "v"),
        ("EXEC",), ("GET", "k"),
        ("EXEC", "extra"), ("MULTI",), ("EXEC", "extra"), ("EXEC",),
        ("MULTI",), ("DISCARD", "x"), ("EXEC",),
        ("MULTI",), ("MULTI", "x"), ("EXEC",),
        ("MULTI",), ("WATCH",), ("EXEC",),
        ("WATCH",), ("UNWATCH", "x"),
        ("MULTI",), ("DISCARD",), ("DISCARD",),
    )


def test_queuing_errors_abort_exec(diff):
    for bad in (("NOSUCHCOMMAND", "a"), ("GET",), ("SET", "k"), ("CONFIG", "NOSUCH"), ("PUBSUB", "NUMPAT", "x")):
        diff.check("MULTI")
        diff.check("SET", "k", "1")
        assert diff.check(*bad).startswith(b"-ERR")
        assert diff.check("INCR", "k") == b"+QUEUED\r\n"  # still answers QUEUED
        assert diff.check("EXEC") == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
        assert diff.check("GET", "k") == b"$-1\r\n"  # nothing ran


def test_exec_replies_include_errors_of_queued_commands(diff):
    check_script(
        diff,
        ("MULTI",), ("SET", "k", "1"), ("INCR", "k"), ("LPUSH", "k", "x"), ("INCR", "k"), ("GET", "k"),
        ("EXEC",),
        ("MULTI",), ("EXEC",),
        ("MULTI",), ("PING",), ("ECHO", "x"), ("SELECT", "1"), ("SET", "in1", "v"), ("SELECT", "0"),
        ("EXISTS", "in1"), ("EXEC",),
    )


@pytest.mark.parametrize("proto", [2, 3])
def test_transaction_replies_by_protocol(diff, proto):
    if proto == 3:
        hello3(diff)
    check_script(
        diff,
        ("SET", "n", "1.5"), ("HSET", "h", "f", "v"),
        ("MULTI",), ("GET", "nokey"), ("HGETALL", "h"), ("INCRBYFLOAT", "n", "1"), ("SMEMBERS", "nokey"),
        ("EXEC",),
    )


def test_exec_rejected_in_subscribed_context(diff):
    for c in (diff.shardis, diff.redis):
        c.request("SUBSCRIBE", "x")
    reply = diff.check("EXEC")
    assert reply.startswith(b"-EXECABORT Transaction discarded because of: Can't execute 'exec'")


def test_resp3_pushes_inside_exec_reply(diff):
    hello3(diff)
    for c in (diff.shardis, diff.redis):
        assert c.request("SUBSCRIBE", "me").startswith(b">3")
    check_script(diff, ("MULTI",), ("PUBLISH", "me", "1"), ("PING",), ("PUBLISH", "me", "2"))
    # The pushes sit between the elements of the EXEC array, where Redis puts them.
    for c in (diff.shardis, diff.redis):
        c.send_command("EXEC")
    data_a = diff.shardis.read_until_closed_or_idle(0.3)
    data_b = diff.redis.read_until_closed_or_idle(0.3)
    assert data_a == data_b
    assert data_a[0].startswith(b"*3\r\n>3\r\n$7\r\nmessage")


# --- WATCH ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("proto", [2, 3])
def test_watch_broken_by_another_client(diff, proto):
    if proto == 3:
        hello3(diff)
    other = diff.pair()
    diff.check("WATCH", "k")
    assert diff.check("MULTI") == b"+OK\r\n"
    for a, b in [other]:
        assert a.request("SET", "k", "x") == b.request("SET", "k", "x")
    diff.check("INCR", "k")
    reply = diff.check("EXEC")
    assert reply == (b"*-1\r\n" if proto == 2 else b"_\r\n")
    # After a failed EXEC nothing is watched any more.
    check_script(diff, ("MULTI",), ("INCR", "n"), ("EXEC",))


def _other(diff, *args):
    a, b = diff._other if hasattr(diff, "_other") else diff.__dict__.setdefault("_other", diff.pair())
    ra, rb = a.request(*args), b.request(*args)
    assert ra == rb, (args, ra, rb)
    return rb


WATCH_CASES = {
    # name: (setup, watched key, the change made by another client, expected EXEC)
    "set": ([("SET", "k", "1")], "k", [("SET", "k", "2")], "abort"),
    "same value": ([("SET", "k", "1")], "k", [("SET", "k", "1")], "abort"),
    "create": ([], "k", [("SET", "k", "1")], "abort"),
    "del": ([("SET", "k", "1")], "k", [("DEL", "k")], "abort"),
    "del missing": ([], "k", [("DEL", "k")], "run"),
    "expire": ([("SET", "k", "1")], "k", [("EXPIRE", "k", "100")], "abort"),
    "persist no ttl": ([("SET", "k", "1")], "k", [("PERSIST", "k")], "run"),
    "failed setnx": ([("SET", "k", "1")], "k", [("SETNX", "k", "2")], "run"),
    "read": ([("SET", "k", "1")], "k", [("GET", "k"), ("EXISTS", "k")], "run"),
    "append": ([("SET", "k", "1")], "k", [("APPEND", "k", "x")], "abort"),
    "lpush": ([("RPUSH", "k", "a")], "k", [("LPUSH", "k", "b")], "abort"),
    "hset": ([("HSET", "k", "f", "v")], "k", [("HSET", "k", "g", "w")], "abort"),
    "sadd existing member": ([("SADD", "k", "a")], "k", [("SADD", "k", "a")], "run"),
    "zadd": ([("ZADD", "k", "1", "a")], "k", [("ZADD", "k", "2", "a")], "abort"),
    "rename source": ([("SET", "k", "1")], "k", [("RENAME", "k", "k2")], "abort"),
    "rename dest": ([("SET", "k2", "1")], "k", [("RENAME", "k2", "k")], "abort"),
    "flushall existing": ([("SET", "k", "1")], "k", [("FLUSHALL",)], "abort"),
    "flushall missing": ([("SET", "other", "1")], "k", [("FLUSHALL",)], "run"),
    "flushdb": ([("SET", "k", "1")], "k", [("FLUSHDB",)], "abort"),
    "flushdb other db": ([("SET", "k", "1")], "k", [("SELECT", "1"), ("FLUSHDB",), ("SELECT", "0")], "run"),
    "swapdb existing": ([("SET", "k", "1")], "k", [("SWAPDB", "0", "1"), ("SWAPDB", "0", "1")], "abort"),
    "swapdb missing": ([], "k", [("SWAPDB", "0", "1")], "run"),
    "swapdb incoming": ([("SELECT", "1"), ("SET", "k", "1"), ("SELECT", "0")], "k", [("SWAPDB", "0", "1")], "abort"),
    "other db": ([], "k", [("SELECT", "1"), ("SET", "k", "1"), ("SELECT", "0")], "run"),
    "move": ([("SET", "k", "1")], "k", [("MOVE", "k", "1")], "abort"),
    "copy into": ([("SET", "src", "1")], "k", [("COPY", "src", "k")], "abort"),
}


@pytest.mark.parametrize("case", list(WATCH_CASES))
def test_what_breaks_a_watch(diff, case):
    setup, key, change, expected = WATCH_CASES[case]
    for cmd in setup:
        _other(diff, *cmd)
    diff.check("WATCH", key)
    for cmd in change:
        _other(diff, *cmd)
    check_script(diff, ("MULTI",), ("PING",))
    reply = diff.check("EXEC")
    assert reply == (b"*-1\r\n" if expected == "abort" else b"*1\r\n+PONG\r\n")


def test_unwatch_and_discard_forget_watched_keys(diff):
    diff.check("WATCH", "a", "b")
    assert diff.check("UNWATCH") == b"+OK\r\n"
    _other(diff, "SET", "a", "1")
    check_script(diff, ("MULTI",), ("PING",), ("EXEC",))
    diff.check("WATCH", "a")
    check_script(diff, ("MULTI",), ("DISCARD",))
    _other(diff, "SET", "a", "2")
    check_script(diff, ("MULTI",), ("PING",), ("EXEC",))
    # UNWATCH also clears an already broken watch
    diff.check("WATCH", "a")
    _other(diff, "SET", "a", "3")
    diff.check("UNWATCH")
    check_script(diff, ("MULTI",), ("PING",), ("EXEC",))


def test_own_write_before_multi_breaks_the_watch(diff):
    check_script(diff, ("WATCH", "k"), ("SET", "k", "mine"), ("MULTI",), ("GET", "k"), ("EXEC",))


def test_watch_many_keys_and_repeated_keys(diff):
    check_script(diff, ("WATCH", "a", "b", "a"), ("WATCH", "c"))
    _other(diff, "SET", "c", "1")
    check_script(diff, ("MULTI",), ("PING",), ("EXEC",))


# --- WATCH and expiry ------------------------------------------------------------------------------


def run_expiry_script(port: int, script) -> list:
    """Run ``script`` on one server: ("sleep", s), (conn_index, *command); returns the replies."""
    conns = [RawConnection(port), RawConnection(port)]
    try:
        conns[0].request("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        out = []
        for step in script:
            if step[0] == "sleep":
                time.sleep(step[1])
                continue
            out.append(conns[step[0]].request(*step[1:]))
        return out
    finally:
        conns[0].request("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        conns[0].request("FLUSHALL")
        for c in conns:
            c.close()


EXPIRY_CASES = {
    # The key is alive at WATCH and expires before EXEC: the transaction fails,
    # whether or not anything deleted the key meanwhile.
    "expires before exec": ([(0, "SET", "k", "1", "PX", "200"), (0, "WATCH", "k"), ("sleep", 0.3)], "abort"),
    "expired and lazily deleted": (
        [(0, "SET", "k", "1", "PX", "200"), (0, "WATCH", "k"), ("sleep", 0.3), (1, "GET", "k")], "abort"),
    "expired during multi": (
        [(0, "SET", "k", "1", "PX", "200"), (0, "WATCH", "k"), (0, "MULTI",), ("sleep", 0.3)], "abort-in-multi"),
    # Already expired when WATCHed: it stands for "no key".
    "stale at watch": ([(0, "SET", "k", "1", "PX", "10"), ("sleep", 0.05), (0, "WATCH", "k")], "run"),
    "stale at watch, lazily deleted": (
        [(0, "SET", "k", "1", "PX", "10"), ("sleep", 0.05), (0, "WATCH", "k"), (1, "EXISTS", "k")], "run"),
    "stale at watch, deleted by DEL": (
        [(0, "SET", "k", "1", "PX", "10"), ("sleep", 0.05), (0, "WATCH", "k"), (1, "DEL", "k")], "run"),
    "stale at watch, flushall": (
        [(0, "SET", "k", "1", "PX", "10"), ("sleep", 0.05), (0, "WATCH", "k"), (1, "FLUSHALL",)], "run"),
    "stale at watch, then written": (
        [(0, "SET", "k", "1", "PX", "10"), ("sleep", 0.05), (0, "WATCH", "k"), (1, "SET", "k", "2")], "abort"),
    "stale at watch, deleted then written": (
        [(0, "SET", "k", "1", "PX", "10"), ("sleep", 0.05), (0, "WATCH", "k"), (1, "GET", "k"),
         (1, "SET", "k", "2")], "abort"),
    "stale at watch, swapped with a live key": (
        [(1, "SELECT", "1"), (1, "SET", "k", "x"), (1, "SELECT", "0"), (0, "SET", "k", "1", "PX", "10"),
         ("sleep", 0.05), (0, "WATCH", "k"), (1, "SWAPDB", "0", "1")], "abort"),
    "missing, swapped with a stale key": (
        [(1, "SELECT", "1"), (1, "SET", "k", "x", "PX", "10"), (1, "SELECT", "0"), ("sleep", 0.05),
         (0, "WATCH", "k"), (1, "SWAPDB", "0", "1")], "run"),
    "live, then a ttl that is not yet due": ([(0, "SET", "k", "1"), (0, "WATCH", "k")], "run"),
}


@pytest.mark.parametrize("case", list(EXPIRY_CASES))
def test_watch_and_expiry(diff_servers, case):
    diff_servers.reset()
    steps, expected = EXPIRY_CASES[case]
    if expected == "abort-in-multi":
        script = steps + [(0, "PING"), (0, "EXEC")]
        expected = "abort"
    else:
        script = steps + [(0, "MULTI"), (0, "PING"), (0, "EXEC")]
    got_shardis = run_expiry_script(diff_servers.shardis.port, script)
    got_redis = run_expiry_script(diff_servers.redis.port, script)
    assert got_shardis == got_redis
    assert got_redis[-1] == (b"*-1\r\n" if expected == "abort" else b"*1\r\n+PONG\r\n")


# --- blocking commands ---------------------------------------------------------------------------


def test_blocking_commands_do_not_block_inside_exec(diff):
    check_script(
        diff,
        ("MULTI",), ("BLPOP", "nolist", "0"), ("BRPOPLPUSH", "nolist", "dst", "0"), ("BZPOPMIN", "nozset", "0"),
        ("RPUSH", "l", "a"), ("BLPOP", "l", "0"), ("EXEC",),
    )


def test_clients_blocked_on_keys_are_served_after_exec(diff):
    waiters = [diff.pair(), diff.pair()]
    for a, b in waiters:
        a.send_command("BLPOP", "q", "10")
        b.send_command("BLPOP", "q", "10")
    time.sleep(0.2)  # both are blocked, in this order
    check_script(diff, ("MULTI",), ("RPUSH", "q", "x"), ("RPUSH", "q", "y"), ("LPOP", "q"), ("RPUSH", "q", "z"))
    assert diff.check("EXEC") == b"*4\r\n:1\r\n:2\r\n$1\r\nx\r\n:2\r\n"
    for a, b in waiters:
        assert a.read_frame(5) == b.read_frame(5)
    diff.check("LLEN", "q")


# --- redis-py ------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pipeline_transaction(shardis_node, protocol):
    r = redis.Redis(port=shardis_node.port, protocol=protocol, socket_timeout=10)
    with r.pipeline(transaction=True) as p:
        p.set("a", 1).incr("a").get("a").lpush("a", "x").hset("h", "f", "v").hgetall("h")
        res = p.execute(raise_on_error=False)
    assert res[:3] == [True, 2, b"2"]
    assert isinstance(res[3], redis.ResponseError) and "WRONGTYPE" in str(res[3])
    assert res[4:] == [1, {b"f": b"v"}]
    # redis-py reports the queuing error (EXEC answered EXECABORT)
    with pytest.raises(redis.ResponseError, match="unknown command 'NOSUCHCOMMAND'"):
        with r.pipeline(transaction=True) as p:
            p.set("b", 1).execute_command("NOSUCHCOMMAND").execute()
    assert r.get("b") is None
    r.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_watch_raises_watch_error(shardis_node, protocol):
    r = redis.Redis(port=shardis_node.port, protocol=protocol, socket_timeout=10)
    other = redis.Redis(port=shardis_node.port, socket_timeout=10)
    r.set("bal", 10)
    with r.pipeline() as p:
        p.watch("bal")
        assert int(p.get("bal")) == 10
        other.incr("bal")
        p.multi()
        p.set("bal", 0)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("bal") == b"11"
    r.close()
    other.close()


def test_redis_py_optimistic_locking_under_contention(shardis_node):
    """Threads increment one counter with WATCH/GET/MULTI/SET retries: no update is lost."""
    per_thread, threads = 40, 4
    errors = []

    def worker():
        r = redis.Redis(port=shardis_node.port, socket_timeout=10)
        try:
            for _ in range(per_thread):
                for _attempt in range(1000):
                    with r.pipeline() as p:
                        try:
                            p.watch("counter")
                            v = int(p.get("counter") or 0)
                            p.multi()
                            p.set("counter", v + 1)
                            p.execute()
                            break
                        except redis.WatchError:
                            continue
                else:
                    errors.append("too many retries")
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))
        finally:
            r.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert int(redis.Redis(port=shardis_node.port).get("counter")) == per_thread * threads


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_asyncio_transactions(shardis_node, protocol):
    async def main():
        r = aioredis.Redis(port=shardis_node.port, protocol=protocol)
        async with r.pipeline(transaction=True) as p:
            res = await p.set("x", "1").incrby("x", 5).get("x").execute()
        assert res == [True, 6, b"6"]

        async def transfer(pipe):
            v = int(await pipe.get("x"))
            pipe.multi()
            pipe.set("x", v * 2)

        await r.transaction(transfer, "x")
        assert await r.get("x") == b"12"
        await r.aclose()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_exec_of_writes_waits_out_client_pause_write(diff):
    pauser = diff.pair()
    for queued, should_wait in ((("SET", "p", "1"), True), (("GET", "p"), False)):
        for conn, admin in ((diff.shardis, pauser[0]), (diff.redis, pauser[1])):
            assert conn.request("MULTI") == b"+OK\r\n"
            assert conn.request(*queued) == b"+QUEUED\r\n"
            assert admin.request("CLIENT", "PAUSE", "300", "WRITE") == b"+OK\r\n"
            t0 = time.monotonic()
            reply = conn.request("EXEC")
            waited = time.monotonic() - t0
            assert reply.startswith(b"*1\r\n")
            assert (waited >= 0.2) == should_wait, (conn.port, queued, waited)
            admin.request("CLIENT", "UNPAUSE")


# --- propagation, seen in the AOF ------------------------------------------------------------------


def _aof_commands(directory) -> list[list[bytes]]:
    """Every command of the incremental AOF files of a server's directory (timestamps masked)."""
    from pathlib import Path

    from shardis.testing.rawclient import split_frames

    data = b"".join(p.read_bytes() for p in sorted(Path(directory, "appendonlydir").glob("*.incr.aof")))
    frames, rest = split_frames(data)
    assert rest == b""
    out = []
    for f in frames:
        parts = f.split(b"\r\n")
        argv = [parts[i] for i in range(2, len(parts) - 1, 2)]
        if len(argv) >= 5 and argv[3].upper() == b"PXAT":
            argv[4] = b"<time>"
        out.append(argv)
    return out


def test_transactions_propagate_like_redis(redis_factory, shardis_factory):
    directives = ["enable-debug-command yes", "appendonly yes", "appendfsync always"]
    servers = [shardis_factory(directives), redis_factory(directives)]
    script = [
        ("SET", "mark", "1"),
        ("MULTI",), ("SET", "a", "1"), ("EXEC",),  # one write: propagated bare
        ("MULTI",), ("SET", "a", "2"), ("SET", "b", "2"), ("GET", "a"), ("EXEC",),  # wrapped
        ("MULTI",), ("GET", "a"), ("EXEC",),  # nothing
        ("MULTI",), ("SELECT", "2"), ("SET", "x", "1"), ("SELECT", "0"), ("SET", "y", "1"), ("EXEC",),
        ("MULTI",), ("INCR", "n"), ("LPUSH", "n", "x"), ("EXEC",),  # the failed write is not propagated
        ("MULTI",), ("PUBLISH", "ch", "m"), ("SET", "p", "1"), ("EXEC",),  # PUBLISH is not in the AOF
        ("MULTI",), ("SET", "q", "1"), ("NOSUCH",), ("EXEC",),  # aborted: nothing
        ("DEBUG", "SET-ACTIVE-EXPIRE", "0"),
        ("SET", "old", "v", "PX", "1"),
        ("SLEEP",),
        ("MULTI",), ("GET", "old"), ("SET", "z", "1"), ("EXEC",),  # the lazy DEL joins the transaction
        ("SET", "old2", "v", "PX", "1"),
        ("SLEEP",),
        ("MULTI",), ("GET", "old2"), ("EXEC",),  # a lone DEL is bare
        ("SET", "mark", "2"),
    ]
    replies = []
    for server in servers:
        conn = server.connect()
        got = []
        for cmd in script:
            if cmd == ("SLEEP",):
                time.sleep(0.02)
                continue
            got.append(conn.request(*cmd))
        replies.append(got)
    assert replies[0] == replies[1]
    aofs = [_aof_commands(s.dir) for s in servers]
    assert aofs[0] == aofs[1]
    flat = [b" ".join(a) for a in aofs[1]]
    start = flat.index(b"SET mark 1")
    assert flat[start:start + 5] == [b"SET mark 1", b"SET a 1", b"MULTI", b"SET a 2", b"SET b 2"]
    assert flat[-8:] == [
        b"SET old v PXAT <time>", b"MULTI", b"DEL old", b"SET z 1", b"EXEC",
        b"SET old2 v PXAT <time>", b"DEL old2", b"SET mark 2",
    ]
