"""Keyspace notifications against real processes, byte for byte against redis-server 7.0.

A subscriber on each server listens to ``__key*__:*`` while the same
commands run on both; after every command the frames each subscriber got
must be identical, in the same order (Redis publishes a command's events in
a fixed order, e.g. ``new`` before ``set`` before ``expire``).  The
``notify-keyspace-events`` setting itself is compared too: CONFIG SET
accepting or refusing each spelling, the canonical form CONFIG GET shows,
and the same directive in a config file.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from shardis.testing import RawConnection
from shardis.testing.processes import redis_server_binary

pytestmark = pytest.mark.node_directives("enable-debug-command yes")


def drain(conn: RawConnection, idle: float = 0.08) -> bytes:
    data, closed = conn.read_until_closed_or_idle(idle=idle, limit=5)
    assert not closed
    return data


@pytest.fixture
def watched(diff):
    """(shardis, redis) subscribers to every keyspace and keyevent channel, events all on."""
    assert diff.check("CONFIG", "SET", "notify-keyspace-events", "AKEmn") == b"+OK\r\n"
    subs = diff.pair()
    for c in subs:
        assert c.request("PSUBSCRIBE", "__key*__:*") == b"*3\r\n$10\r\npsubscribe\r\n$10\r\n__key*__:*\r\n:1\r\n"
    yield subs
    diff.check("CONFIG", "SET", "notify-keyspace-events", "")


def events(diff, subs, *args, idle: float = 0.08) -> bytes:
    """Run one command on both servers; the subscribers must have received the same events."""
    diff.check(*args)
    a, b = drain(subs[0], idle), drain(subs[1], idle)
    assert a == b, f"events of {args}:\n  shardis: {a!r}\n  redis:   {b!r}"
    return b


STRING_AND_KEY_COMMANDS = [
    ("SET", "s", "1"),  # new, set
    ("SET", "s", "2"),  # set
    ("SET", "s", "3", "NX"),  # nothing
    ("SET", "nx", "1", "XX"),  # nothing
    ("SET", "s", "4", "EX", "100"),  # set, expire
    ("SET", "s", "5", "KEEPTTL"),
    ("SET", "g", "v", "GET"),  # keymiss (GET part), new, set
    ("GET", "nokey"),  # keymiss
    ("GET", "s"),
    ("SETNX", "s", "x"),
    ("SETNX", "s2", "x"),
    ("SETEX", "s3", "100", "v"),
    ("PSETEX", "s4", "100000", "v"),
    ("GETSET", "s", "gs"),
    ("GETDEL", "s2"),
    ("GETDEL", "s2"),
    ("GETEX", "s", "EX", "50"),
    ("GETEX", "s", "PERSIST"),
    ("MSET", "m1", "a", "m2", "b"),
    ("MSETNX", "m3", "a", "m1", "b"),
    ("MSETNX", "m4", "a", "m5", "b"),
    ("APPEND", "s", "x"),
    ("APPEND", "ap", "x"),
    ("SETRANGE", "sr", "3", "x"),
    ("SETRANGE", "sr", "0", ""),
    ("INCR", "n"),
    ("INCRBY", "n", "5"),
    ("DECR", "n"),
    ("DECRBY", "n", "2"),
    ("INCRBYFLOAT", "f", "1.5"),
    ("MGET", "s", "nokey", "n"),
    ("STRLEN", "s"),
    ("EXPIRE", "n", "100"),
    ("PEXPIRE", "n", "100000"),
    ("EXPIREAT", "n", "4102444800"),
    ("PERSIST", "n"),
    ("PERSIST", "n"),
    ("EXPIRE", "nokey", "100"),
    ("EXPIRE", "m1", "-1"),  # a past time deletes: del
    ("RENAME", "m2", "r1"),
    ("RENAMENX", "r1", "s"),
    ("RENAMENX", "r1", "r2"),
    ("COPY", "r2", "c1"),
    ("COPY", "r2", "c1", "REPLACE"),
    ("MOVE", "c1", "1"),
    ("DEL", "r2", "nokey", "s3"),
    ("UNLINK", "s4"),
    ("TOUCH", "s"),
    ("EXISTS", "nokey"),
    ("TYPE", "nokey"),
    ("SELECT", "1"),
    ("SET", "db1", "v"),
    ("DEL", "c1"),
    ("SELECT", "0"),
    ("FLUSHDB",),
]


def test_events_of_string_and_key_commands(diff, watched):
    for cmd in STRING_AND_KEY_COMMANDS:
        events(diff, watched, *cmd)


def test_event_frames_in_resp3(diff):
    diff.check("CONFIG", "SET", "notify-keyspace-events", "KEA")
    subs = diff.pair()
    try:
        for c in subs:
            assert c.request("HELLO", "3").startswith(b"%")
            assert c.request("SUBSCRIBE", "__keyevent@0__:set", "__keyspace@0__:k").startswith(b">3")
            c.read_frame()
        got = events(diff, subs, "SET", "k", "v")
        assert got == (
            b">3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n"
            b">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n"
        )
    finally:
        diff.check("CONFIG", "SET", "notify-keyspace-events", "")


def set_active_expire(diff, on: bool) -> None:
    for c in (diff.shardis, diff.redis):
        assert c.request("DEBUG", "SET-ACTIVE-EXPIRE", "1" if on else "0") == b"+OK\r\n"


def test_expired_events_lazy_and_active(diff, watched):
    set_active_expire(diff, False)
    try:
        events(diff, watched, "SET", "lazy", "v", "PX", "30")
        events(diff, watched, "SET", "over", "v", "PX", "30")
        time.sleep(0.1)
        got = events(diff, watched, "GET", "lazy")  # expired, then keymiss
        assert got.index(b"expired") < got.index(b"keymiss")
        got = events(diff, watched, "SET", "over", "w")  # the stale value expires, then new, set
        assert got.index(b"expired") < got.index(b"$3\r\nnew\r\n") < got.index(b"$3\r\nset\r\n")
    finally:
        set_active_expire(diff, True)
    # The active cycle deletes a key by itself; both subscribers hear it.
    events(diff, watched, "SET", "active", "v", "PX", "300", idle=0.01)
    deadline = time.monotonic() + 5
    a = b = b""
    while time.monotonic() < deadline and not (b"expired" in a and b"expired" in b):
        a += drain(watched[0], 0.1)
        b += drain(watched[1], 0.1)
    assert a == b and b"__keyevent@0__:expired\r\n$6\r\nactive" in a


@pytest.mark.parametrize("flags", ["K$", "Eg", "KEm", "KEn", "E$g", "KEx", "Kgn", "AKE"])
def test_event_classes_filter(diff, flags):
    diff.check("CONFIG", "SET", "notify-keyspace-events", flags)
    subs = diff.pair()
    set_active_expire(diff, False)  # "b" expires on access, not while events are compared
    try:
        for c in subs:
            c.request("PSUBSCRIBE", "*")
        for cmd in (("SET", "a", "1"), ("GET", "nokey"), ("EXPIRE", "a", "100"), ("DEL", "a"),
                    ("SET", "b", "1", "PX", "20")):
            events(diff, subs, *cmd)
        time.sleep(0.1)
        events(diff, subs, "GET", "b")
    finally:
        set_active_expire(diff, True)
        diff.check("CONFIG", "SET", "notify-keyspace-events", "")


# --- the setting -----------------------------------------------------------------------------------


def test_config_set_and_get_canonical_form(diff):
    for value in ("An", "KEA", "nKE", "Elg", "$", "AKEm", "gx", "Kx", "g$lshzxet", "g$lshzxetd", "KK", "Ad",
                  "tmdn", "b", "A b", "K E", "", "KEA\u00e9", "E"):
        diff.check("CONFIG", "SET", "notify-keyspace-events", value)
        diff.check("CONFIG", "GET", "notify-keyspace-events")
    diff.check("CONFIG", "SET", "notify-keyspace-events", "")


def _start_failure(cmd: list, conf: str, tmp_path) -> str:
    path = tmp_path / "t.conf"
    path.write_text(conf)
    proc = subprocess.run(cmd + [str(path)], capture_output=True, timeout=20, cwd=tmp_path)
    assert proc.returncode != 0
    return (proc.stdout + proc.stderr).decode(errors="replace")


@pytest.mark.parametrize(
    "line, message",
    [
        ("notify-keyspace-events Kb", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        ("notify-keyspace-events K E", "wrong number of arguments"),
    ],
)
def test_bad_config_file_directive_is_fatal(tmp_path, line, message):
    shardis_out = _start_failure([sys.executable, "-m", "shardis", "server"], f"port 0\n{line}\n", tmp_path)
    assert f">>> '{line}'" in shardis_out and message in shardis_out
    binary = redis_server_binary()
    if binary:
        redis_out = _start_failure([binary], f"port 0\n{line}\n", tmp_path)
        assert f">>> '{line}'" in redis_out and message in redis_out


@pytest.mark.node_directives("notify-keyspace-events Eg$n")
def test_config_file_directive(shardis_node):
    conn = shardis_node.connect()
    assert conn.request("CONFIG", "GET", "notify-keyspace-events") == (
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$4\r\ng$nE\r\n"
    )
    sub = shardis_node.connect()
    sub.request("SUBSCRIBE", "__keyevent@0__:new", "__keyevent@0__:set")
    sub.read_frame()
    conn.request("SET", "k", "v")
    assert sub.read_frame() == b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:new\r\n$1\r\nk\r\n"
    assert sub.read_frame() == b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n"
