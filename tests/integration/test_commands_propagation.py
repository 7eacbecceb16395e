"""Commands that replicate in another form must not leave that form behind.

SPOP is written to the AOF as SREM, HINCRBYFLOAT as HSET, LMPOP/ZMPOP as
LPOP/ZPOPMIN with a count ...: the handler hands the rewritten argv to
dispatch, which propagates it after the call.  While nothing is propagated
(no AOF, no replica) such commands run on the connection's fast path, which
does not consume that argv; it must then not be left on the client, or the
client's next write, once an AOF exists, would be written to it as the
stale rewrite of an earlier command instead of as itself.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.timeout(120)

# (set-up commands, the command whose propagated form differs from itself)
REWRITTEN = [
    ([("SADD", "s", "a", "b", "c")], ("SPOP", "s")),
    ([("SADD", "s", "a", "b", "c", "d")], ("SPOP", "s", "2")),
    ([("SADD", "s", "a", "b")], ("SPOP", "s", "5")),
    ([("HSET", "h", "f", "1.5")], ("HINCRBYFLOAT", "h", "f", "0.25")),
    ([("RPUSH", "l", "a", "b", "c")], ("LMPOP", "1", "l", "LEFT", "COUNT", "2")),
    ([("ZADD", "z", "1", "a", "2", "b")], ("ZMPOP", "1", "z", "MIN", "COUNT", "1")),
]


def _wait_aof_on(conn, deadline: float) -> None:
    while True:
        info = conn.request("INFO", "persistence").decode()
        fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
        if fields.get("aof_enabled") == "1" and fields.get("aof_rewrite_in_progress") == "0" \
                and fields.get("aof_rewrite_scheduled") == "0":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"AOF not enabled in time: {fields}")
        time.sleep(0.05)


@pytest.mark.parametrize("setup, command", REWRITTEN, ids=[" ".join(c) for _, c in REWRITTEN])
def test_next_write_is_propagated_as_itself(shardis_factory, setup, command):
    node = shardis_factory({"save": "", "appendonly": "no"})
    worker = node.connect()
    admin = node.connect()
    for args in setup:
        worker.request(*args)
    reply = worker.request(*command)
    assert not reply.startswith(b"-"), reply
    assert admin.request("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n"
    _wait_aof_on(admin, time.monotonic() + 30)
    assert worker.request("SET", "marker", "value") == b"+OK\r\n"
    incr = list((node.dir / "appendonlydir").glob("*.incr.aof"))
    assert len(incr) == 1, incr
    deadline = time.monotonic() + 10
    expected = b"*3\r\n$3\r\nSET\r\n$6\r\nmarker\r\n$5\r\nvalue\r\n"
    while True:
        data = incr[0].read_bytes()
        if expected in data or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    # The SET is there as itself, and nothing but the SELECT precedes it.
    assert data.endswith(expected), data
    assert data == b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" + expected, data
