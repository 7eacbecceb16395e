"""The client protocol of a running node, compared with redis-server 7.0 over real sockets.

Where tests/unit/test_protocol_resp.py feeds the reader directly, these go
through TCP and the connection's hot loop: requests cut at every byte,
pipelines of thousands of commands in one write, large values, QUIT, RESP3
frames after HELLO 3, the tighter limits for unauthenticated clients, and a
node that must keep serving others while one client misbehaves.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from shardis.testing import Differential, RawConnection, encode_command

PIPELINE = (
    encode_command("SET", "k", "hello")
    + b"GET k\r\n"
    + encode_command("ECHO", "a\r\nb")
    + b'ECHO "x y"\r\n'
    + encode_command("APPEND", "k", "!")
)
N_REPLIES = 5


def _read_replies(conn: RawConnection, n: int) -> list[bytes]:
    return [conn.read_frame() for _ in range(n)]


def test_a_pipeline_cut_at_every_byte(diff):
    # Each cut is sent as two writes with a pause between, so the server reads
    # the halves separately: every partial state of the reader is visited.
    for cut in range(1, len(PIPELINE)):
        a, b = diff.pair()
        for conn in (a, b):
            conn.send_raw(PIPELINE[:cut])
        time.sleep(0.003)
        for conn in (a, b):
            conn.send_raw(PIPELINE[cut:])
        ra, rb = _read_replies(a, N_REPLIES), _read_replies(b, N_REPLIES)
        assert ra == rb, f"cut at {cut}: {PIPELINE[:cut]!r} | {PIPELINE[cut:]!r}"
        a.close()
        b.close()


def test_a_request_one_byte_at_a_time(diff):
    a, b = diff.pair()
    for i in range(len(PIPELINE)):
        a.send_raw(PIPELINE[i : i + 1])
        b.send_raw(PIPELINE[i : i + 1])
        time.sleep(0.001)
    assert _read_replies(a, N_REPLIES) == _read_replies(b, N_REPLIES)


def test_a_large_pipeline_in_one_write(diff):
    rnd = random.Random(7)
    commands = []
    for i in range(3000):
        k = f"key:{rnd.randrange(50)}"
        commands.append(rnd.choice([("SET", k, str(i)), ("GET", k), ("INCR", k), ("APPEND", k, "x"), ("DEL", k)]))
    diff.check_many(*commands)


@pytest.mark.parametrize("size", [1 << 10, 1 << 20, 8 << 20])
def test_large_values(diff, size):
    value = os.urandom(size)
    diff.check("SET", "big", value)
    diff.check("GET", "big")
    diff.check("STRLEN", "big")
    diff.check("GETRANGE", "big", size // 2, size // 2 + 100)


def test_many_clients_interleaved(diff):
    pairs = [diff.pair() for _ in range(10)]
    halves = []
    for i, _ in enumerate(pairs):
        req = encode_command("SET", f"c{i}", "v" * i) + encode_command("GET", f"c{i}")
        halves.append((req[: 7 + i], req[7 + i :]))
    for (a, b), (h1, _) in zip(pairs, halves):
        a.send_raw(h1)
        b.send_raw(h1)
    time.sleep(0.01)
    for (a, b), (_, h2) in zip(reversed(pairs), reversed(halves)):
        a.send_raw(h2)
        b.send_raw(h2)
    for a, b in pairs:
        assert _read_replies(a, 2) == _read_replies(b, 2)


def test_quit_replies_then_closes(diff):
    # Commands after QUIT in the same write are not run.
    diff.check_raw(encode_command("QUIT") + encode_command("SET", "after-quit", "1"))
    diff.check("EXISTS", "after-quit")


def test_resp3_frames_after_hello_3(diff):
    diff.check("HELLO", "3")
    diff.check("GET", "missing")  # RESP3 null
    diff.check("SET", "k", "v")
    diff.check("GET", "k")
    diff.check("HELLO", "2")
    diff.check("GET", "missing")  # back to the RESP2 null bulk


@pytest.mark.parametrize("version", ["1", "4", "abc", "-1"])
def test_hello_with_an_unsupported_version(diff, version):
    diff.check("HELLO", version)


def test_unauthenticated_clients_have_tighter_limits(shardis_factory, redis_factory):
    directives = ["requirepass secret"]
    s, r = shardis_factory(directives), redis_factory(directives)
    with Differential(s.port, r.port) as d:
        d.check("GET", "k")  # NOAUTH
        d.check_raw(b"*11\r\n")  # more than 10 arguments before AUTH
        d.check_raw(b"*1\r\n$16385\r\n")  # an argument over 16 KB before AUTH
        d.check_raw(encode_command("AUTH", "secret") + b"*11\r\n" + b"$1\r\na\r\n" * 11)
        d.check("AUTH", "wrong")
        d.check("AUTH", "secret")
        d.check("ECHO", "x" * 20000)


def _ping_latency(port: int) -> float:
    with RawConnection(port, timeout=60) as c:
        t = time.monotonic()
        assert c.request("PING") == b"+PONG\r\n"
        return time.monotonic() - t


def test_a_huge_declared_count_does_not_stall_the_node(shardis_node):
    # Redis allocates arguments as they arrive, so a header alone costs nothing.
    c = RawConnection(shardis_node.port)
    c.send_raw(b"*2147483647\r\n")
    time.sleep(0.2)
    c.close()
    time.sleep(0.1)
    try:
        assert _ping_latency(shardis_node.port) < 1.0
    finally:
        shardis_node.kill()  # a stalled node would also stall a SIGTERM shutdown


@pytest.mark.parametrize(
    "element",
    [b"+k\r\n", b"=5\r\ntxt:k\r\n", b"(12\r\n", b",1.5\r\n", b"#t\r\n", b"_\r\n", b":5\r\n", b"-ERR x\r\n",
     b"!3\r\nabc\r\n", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n", b"~1\r\n$1\r\na\r\n", b">1\r\n$1\r\na\r\n",
     b"|1\r\n$1\r\na\r\n$1\r\nb\r\n"],
)
def test_an_element_of_another_type_in_a_request(diff, element):
    # Redis reads requests of bulk strings only: "expected '$', got ..." for
    # every other RESP type, including those the hiredis reader returns as
    # strings ('+', '=', '(').
    diff.check_raw(b"*2\r\n$3\r\nGET\r\n" + element)
    diff.check_raw(b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n" + element)


def test_bad_client_does_not_disturb_others(diff):
    watchers = diff.pair()
    for garbage in (b"*1\r\n:5\r\n", b'SET "a\r\n', b"*3\r\n$999999999999\r\n", b"x" * (64 * 1024 + 1)):
        diff.check_raw(garbage)
        for conn in watchers:
            assert conn.request("PING") == b"+PONG\r\n"
    diff.assert_both_alive()
