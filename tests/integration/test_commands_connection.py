"""Connection commands against redis-server 7.0: PING ECHO QUIT HELLO AUTH SELECT RESET CLIENT MONITOR.

Most tests are differential: the same request goes to a shardis node and to
redis-server and the reply frames must be byte-equal (client ids, addresses,
ages and memory figures in CLIENT LIST/INFO and HELLO's id are normalised by
the harness, every other field must match).  Behaviour that a single reply
cannot show (a paused client waiting, a killed connection closing, MONITOR's
stream, CLIENT REPLY's silence) is checked on both servers the same way.
The redis-py tests use the client library as applications do, in RESP2 and
RESP3.
"""

from __future__ import annotations

import re
import time

import pytest
import redis

from shardis.testing import Differential, RawConnection, ReplyTimeout, encode_command

# --- helpers -----------------------------------------------------------------------------------


def check_all(diff: Differential, *requests) -> None:
    for args in requests:
        diff.check(*args)


def both(diff: Differential):
    """A fresh (shardis, redis) connection pair, closed with the Differential."""
    return diff.pair()


def no_reply_within(conn: RawConnection, wait: float) -> bool:
    """True when no reply frame arrives on ``conn`` for ``wait`` seconds."""
    try:
        conn.read_frame(timeout=wait)
    except ReplyTimeout:
        return True
    return False


# --- PING ECHO QUIT --------------------------------------------------------------------------------


def test_ping_echo_quit(diff):
    check_all(
        diff,
        ("PING",), ("PING", "hello"), ("PING", "a", "b"), ("ping",), ("PING", ""),
        ("ECHO",), ("ECHO", "x"), ("ECHO", "a b\r\nc"), ("ECHO", "x", "y"), ("ECHO", ""),
        ("QUIT", "x"),
    )


def test_quit_replies_then_closes(diff):
    out, closed = diff.check_raw(encode_command("QUIT") + encode_command("PING"))
    assert out == b"+OK\r\n" and closed


# --- HELLO ----------------------------------------------------------------------------------------


def test_hello(diff):
    check_all(
        diff,
        ("HELLO",), ("HELLO", "2"), ("HELLO", "3"), ("HELLO", "4"), ("HELLO", "1"), ("HELLO", "-1"),
        ("HELLO", "x"), ("HELLO", "3.0"), ("HELLO", "2", "SETNAME"), ("HELLO", "3", "FOO"),
        ("HELLO", "3", "AUTH", "a"), ("HELLO", "3", "SETNAME", "a b"),
        ("HELLO", "3", "AUTH", "default", "anything"), ("HELLO", "3", "AUTH", "nouser", "x"),
        ("HELLO", "3", "AUTH", "a", "b", "c"), ("HELLO", "2", "SETNAME", "x", "SETNAME", "y"),
        ("CLIENT", "GETNAME"),
    )


def test_hello_switches_the_protocol_of_later_replies(diff):
    check_all(
        diff,
        ("HELLO", "3"), ("CLIENT", "GETNAME"), ("CONFIG", "GET", "hz"), ("CLIENT", "INFO"),
        ("HELLO", "2"), ("CLIENT", "GETNAME"), ("CONFIG", "GET", "hz"), ("CLIENT", "INFO"),
    )


# --- AUTH ------------------------------------------------------------------------------------------


def test_auth_without_a_password(diff):
    check_all(
        diff,
        ("AUTH",), ("AUTH", "x"), ("AUTH", "a", "b"), ("AUTH", "default", "b"), ("AUTH", "a", "b", "c"),
    )


@pytest.fixture
def auth_pair(shardis_factory, redis_factory):
    s = shardis_factory(["requirepass secret"])
    r = redis_factory(["requirepass secret"])
    d = Differential(s.port, r.port)
    yield d
    d.close()


def test_auth_with_requirepass(auth_pair):
    check_all(
        auth_pair,
        ("PING",), ("GET", "k"), ("HELLO", "3"), ("HELLO",), ("HELLO", "3", "SETNAME", "x"),
        ("HELLO", "3", "AUTH", "default", "bad"), ("AUTH", "bad"), ("AUTH", "foo", "secret"),
        ("CLIENT", "ID"), ("SELECT", "1"), ("RESET",),
        ("AUTH", "secret"), ("PING",), ("RESET",), ("PING",),
        ("AUTH", "default", "secret"), ("PING",), ("RESET",),
        ("HELLO", "2", "AUTH", "default", "secret", "FOO"), ("PING",),
        ("HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me"), ("CLIENT", "GETNAME"),
    )


def test_auth_redacts_the_password_from_the_slow_log(auth_pair):
    for conn in (auth_pair.shardis, auth_pair.redis):
        assert conn.request("AUTH", "secret") == b"+OK\r\n"
        conn.request("CONFIG", "SET", "slowlog-log-slower-than", "0")
        conn.request("SLOWLOG", "RESET")
        assert conn.request("AUTH", "default", "secret") == b"+OK\r\n"
        log = redis.Redis(port=conn.port, password="secret").slowlog_get(10)
        auth = [e for e in log if e["command"].lower().startswith(b"auth")]
        assert auth and auth[0]["command"] == b"AUTH (redacted) (redacted)"


# --- SELECT ----------------------------------------------------------------------------------------


def test_select(diff):
    check_all(
        diff,
        ("SELECT", "16"), ("SELECT", "x"), ("SELECT", "-1"), ("SELECT", "1.0"), ("SELECT", " 1"),
        ("SELECT", "+1"), ("SELECT", "2147483648"), ("SELECT", "-2147483649"), ("SELECT",),
        ("SELECT", "1", "2"), ("SELECT", "15"), ("SET", "k", "v15"), ("SELECT", "0"), ("GET", "k"),
        ("SELECT", "15"), ("GET", "k"), ("CLIENT", "INFO"),
    )


# --- RESET -----------------------------------------------------------------------------------------


def test_reset_restores_a_fresh_connection_state(diff):
    check_all(
        diff,
        ("SELECT", "3"), ("CLIENT", "SETNAME", "someone"), ("HELLO", "3"), ("CLIENT", "NO-EVICT", "on"),
        ("MULTI",), ("PING",), ("CLIENT", "INFO"),
        ("RESET",), ("CLIENT", "INFO"), ("EXEC",), ("CLIENT", "GETNAME"), ("SET", "k", "v"), ("SELECT", "0"),
        ("GET", "k"),
    )


def test_reset_leaves_pubsub_and_reply_off(diff):
    a, b = both(diff)
    for conn in (a, b):
        conn.send_command("SUBSCRIBE", "ch")
        conn.read_frame()
        conn.send_command("RESET")
        assert conn.read_frame() == b"+RESET\r\n"
        assert conn.request("PING") == b"+PONG\r\n"
        conn.send_command("CLIENT", "REPLY", "OFF")
        conn.send_command("RESET")
        assert conn.read_frame() == b"+RESET\r\n"
    check_all(diff, ("PUBLISH", "ch", "m"))


# --- CLIENT -----------------------------------------------------------------------------------------


def test_client_simple_subcommands(diff):
    check_all(
        diff,
        ("CLIENT",), ("CLIENT", "HELP"), ("CLIENT", "FOO"), ("CLIENT", "NO-TOUCH", "on"),
        ("CLIENT", "ID"), ("CLIENT", "ID", "x"), ("CLIENT", "GETNAME"), ("CLIENT", "GETNAME", "x"),
        ("CLIENT", "SETNAME"), ("CLIENT", "SETNAME", "a b"), ("CLIENT", "SETNAME", "a\nb"),
        ("CLIENT", "SETNAME", "\xe9"), ("CLIENT", "SETNAME", "~!@#$%^&*()_+{}[]|:;<>?,./"),
        ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"),
        ("CLIENT", "NO-EVICT"), ("CLIENT", "NO-EVICT", "x"), ("CLIENT", "NO-EVICT", "on"),
        ("CLIENT", "INFO"), ("CLIENT", "NO-EVICT", "OFF"),
        ("CLIENT", "REPLY"), ("CLIENT", "REPLY", "x"), ("CLIENT", "REPLY", "ON", "x"), ("CLIENT", "REPLY", "ON"),
        ("CLIENT", "PAUSE"), ("CLIENT", "PAUSE", "x"), ("CLIENT", "PAUSE", "-1"), ("CLIENT", "PAUSE", "1.5"),
        ("CLIENT", "PAUSE", "10", "X"), ("CLIENT", "PAUSE", "10", "WRITE", "x"), ("CLIENT", "PAUSE", "0"),
        ("CLIENT", "UNPAUSE"), ("CLIENT", "UNPAUSE", "x"),
    )


def test_client_list_filters(diff):
    check_all(
        diff,
        ("CLIENT", "LIST", "TYPE", "x"), ("CLIENT", "LIST", "TYPE"), ("CLIENT", "LIST", "ID"),
        ("CLIENT", "LIST", "ID", "x"), ("CLIENT", "LIST", "ID", "0"), ("CLIENT", "LIST", "ID", "1", "2", "x"),
        ("CLIENT", "LIST", "foo"), ("CLIENT", "LIST", "TYPE", "normal", "ID", "1"),
        ("CLIENT", "LIST", "TYPE", "NORMAL", "x"), ("CLIENT", "LIST", "TYPE", "pubsub"),
        ("CLIENT", "LIST", "TYPE", "master"), ("CLIENT", "LIST", "TYPE", "replica"), ("CLIENT", "LIST", "TYPE", "slave"),
        ("CLIENT", "LIST", "TYPE", "normal"), ("CLIENT", "LIST"),
    )
    a, b = both(diff)
    for conn in (a, b):
        conn.send_command("SUBSCRIBE", "x")
        conn.read_frame()
    check_all(diff, ("CLIENT", "LIST", "TYPE", "pubsub"))


CLIENT_LIST_FIELDS = (
    "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem multi-mem "
    "rbs rbp obl oll omem tot-mem events cmd user redir resp"
).split()


def parse_client_line(line: bytes) -> list[tuple[str, str]]:
    return [tuple(kv.split("=", 1)) for kv in line.decode().split(" ")]


def test_client_list_line_format(shardis_node):
    r = redis.Redis(port=shardis_node.port)
    other = RawConnection(shardis_node.port)
    other.request("CLIENT", "SETNAME", "worker")
    other.request("SELECT", "5")
    other.request("SUBSCRIBE", "a")
    me = r.execute_command("CLIENT", "LIST")
    lines = me.rstrip(b"\n").split(b"\n")
    assert len(lines) == 2 and me.endswith(b"\n")
    for line in lines:
        assert [k for k, _ in parse_client_line(line)] == CLIENT_LIST_FIELDS
    fields = {k: dict(parse_client_line(line)) for line in lines for k in [dict(parse_client_line(line))["name"]]}
    w = fields["worker"]
    assert (w["db"], w["sub"], w["flags"], w["cmd"], w["resp"], w["user"]) == ("5", "1", "P", "subscribe", "2", "default")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", w["addr"]) and w["laddr"] == f"127.0.0.1:{shardis_node.port}"
    mine = fields[""]
    assert mine["cmd"] == "client|list" and mine["flags"] == "N" and mine["multi"] == "-1"
    assert int(mine["argv-mem"]) == len("CLIENT") + len("LIST")
    other.close()


@pytest.mark.parametrize("setup", [
    [],
    [("CLIENT", "SETNAME", "n1"), ("SELECT", "2")],
    [("HELLO", "3")],
    [("MULTI",), ("PING",)],
    [("CLIENT", "NO-EVICT", "on")],
])
def test_client_info_matches_redis(diff, setup):
    """Every non-volatile CLIENT INFO field (name db flags sub multi cmd user resp ...) as Redis."""
    for args in setup:
        diff.check(*args)
    diff.check("CLIENT", "INFO")


def test_client_info_flags_for_pubsub_and_watch(diff):
    a, b = both(diff)
    for conn in (a, b):
        conn.send_command("HELLO", "3")
        conn.read_frame()
        conn.send_command("SUBSCRIBE", "c1", "c2")
        conn.read_frame()
        conn.read_frame()
        conn.send_command("PSUBSCRIBE", "p*")
        conn.read_frame()
    fa = dict(parse_client_line(_verbatim_payload(a.request("CLIENT", "INFO"))))
    fb = dict(parse_client_line(_verbatim_payload(b.request("CLIENT", "INFO"))))
    for k in ("flags", "sub", "psub", "ssub", "resp", "cmd"):
        assert fa[k] == fb[k], k
    check_all(diff, ("WATCH", "w"), ("SET", "w", "1"), ("CLIENT", "INFO"))


def _verbatim_payload(frame: bytes) -> bytes:
    body = frame.split(b"\r\n", 1)[1][:-2]
    if frame[:1] == b"=":
        body = body[4:]
    return body.rstrip(b"\n")


def test_client_kill(diff):
    check_all(
        diff,
        ("CLIENT", "KILL"), ("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "ID"), ("CLIENT", "KILL", "ID", "x"),
        ("CLIENT", "KILL", "ID", "-5"), ("CLIENT", "KILL", "ID", "1.5"), ("CLIENT", "KILL", "ID", "999999"),
        ("CLIENT", "KILL", "ADDR", "1.2.3.4:5"), ("CLIENT", "KILL", "LADDR", "1.2.3.4:5"),
        ("CLIENT", "KILL", "TYPE", "x"), ("CLIENT", "KILL", "TYPE", "pubsub"), ("CLIENT", "KILL", "TYPE", "master"),
        ("CLIENT", "KILL", "SKIPME", "x"), ("CLIENT", "KILL", "USER", "nouser"),
        ("CLIENT", "KILL", "USER", "default", "SKIPME", "yes"), ("CLIENT", "KILL", "FOO", "bar"),
        ("CLIENT", "KILL", "ID", "1", "TYPE"), ("CLIENT", "KILL", "MAXAGE", "5"),
        ("CLIENT", "KILL", "SKIPME", "no", "ID", "999999"),
    )


@pytest.mark.parametrize("form", ["id", "addr", "old", "type"])
def test_client_kill_closes_the_victim(diff, form):
    for port in (diff.shardis_port, diff.redis_port):
        killer, victim = RawConnection(port), RawConnection(port)
        vid = int(victim.request("CLIENT", "ID")[1:-2])
        info = dict(parse_client_line(victim.request("CLIENT", "INFO").split(b"\r\n")[1].rstrip(b"\n")))
        if form == "id":
            assert killer.request("CLIENT", "KILL", "ID", str(vid)) == b":1\r\n"
        elif form == "addr":
            assert killer.request("CLIENT", "KILL", "ADDR", info["addr"]) == b":1\r\n"
        elif form == "old":
            assert killer.request("CLIENT", "KILL", info["addr"]) == b"+OK\r\n"
        else:
            n = int(killer.request("CLIENT", "KILL", "TYPE", "normal")[1:-2])
            assert n >= 1
        assert not victim.is_open(wait=1.0), f"{form} kill left the victim open on port {port}"
        if form != "type":
            assert killer.request("PING") == b"+PONG\r\n"
        killer.close()
        victim.close()


def test_client_kill_itself(diff):
    for port in (diff.shardis_port, diff.redis_port):
        me = RawConnection(port)
        info = dict(parse_client_line(me.request("CLIENT", "INFO").split(b"\r\n")[1].rstrip(b"\n")))
        assert me.request("CLIENT", "KILL", "ID", info["id"]) == b":0\r\n"  # SKIPME yes by default
        assert me.request("CLIENT", "KILL", "ID", info["id"], "SKIPME", "no") == b":1\r\n"
        assert not me.is_open(wait=1.0)
        me.close()
        me = RawConnection(port)
        info = dict(parse_client_line(me.request("CLIENT", "INFO").split(b"\r\n")[1].rstrip(b"\n")))
        assert me.request("CLIENT", "KILL", info["addr"]) == b"+OK\r\n"  # the old form may kill the caller
        assert not me.is_open(wait=1.0)
        me.close()


def test_client_reply_off_skip_on(diff):
    pipeline = b"".join(encode_command(*c) for c in [
        ("CLIENT", "REPLY", "OFF"), ("PING",), ("SET", "k", "1"), ("CLIENT", "REPLY", "SKIP"), ("PING",),
        ("CLIENT", "REPLY", "ON"), ("ECHO", "after-on"), ("CLIENT", "REPLY", "SKIP"), ("ECHO", "skipped"),
        ("ECHO", "shown"), ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "OFF"), ("PING",),
        ("CLIENT", "REPLY", "ON"), ("GET", "k"),
    ])
    out, closed = diff.check_raw(pipeline)
    assert out == b"+OK\r\n$8\r\nafter-on\r\n$5\r\nshown\r\n+OK\r\n$1\r\n1\r\n" and not closed


def test_client_pause_write_holds_writes_until_unpause(diff):
    for port in (diff.shardis_port, diff.redis_port):
        admin, writer, reader = RawConnection(port), RawConnection(port), RawConnection(port)
        assert admin.request("CLIENT", "PAUSE", "20000", "WRITE") == b"+OK\r\n"
        writer.send_command("SET", "paused", "1")
        assert no_reply_within(writer, 0.3), f"write answered during CLIENT PAUSE WRITE on port {port}"
        assert reader.request("GET", "paused") == b"$-1\r\n"
        assert reader.request("PING") == b"+PONG\r\n"
        info = redis.Redis(port=port).info("clients")
        assert info["blocked_clients"] == 1
        assert admin.request("CLIENT", "UNPAUSE") == b"+OK\r\n"
        assert writer.read_frame(timeout=5) == b"+OK\r\n"
        assert reader.request("GET", "paused") == b"$1\r\n1\r\n"
        for c in (admin, writer, reader):
            c.close()


def test_client_pause_all_ends_by_itself(diff):
    for port in (diff.shardis_port, diff.redis_port):
        admin, other = RawConnection(port), RawConnection(port)
        t0 = time.monotonic()
        assert admin.request("CLIENT", "PAUSE", "300", "ALL") == b"+OK\r\n"
        assert other.request("PING", timeout=5) == b"+PONG\r\n"
        waited = time.monotonic() - t0
        assert 0.2 <= waited < 3.0, (port, waited)
        admin.close()
        other.close()


# --- MONITOR -----------------------------------------------------------------------------------------

MONITOR_LINE = re.compile(rb"^\+(\d+\.\d{6}) \[(\d+) (127\.0\.0\.1:\d+)\] (.*)\r\n$")


def monitor_lines(port: int, commands) -> list[bytes]:
    mon, worker = RawConnection(port), RawConnection(port)
    assert mon.request("MONITOR") == b"+OK\r\n"
    for args in commands:
        worker.request(*args)
    out = []
    for _ in commands:
        frame = mon.read_frame(timeout=5)
        m = MONITOR_LINE.match(frame)
        assert m, frame
        out.append(b"[" + m.group(2) + b"] " + m.group(4))
    mon.close()
    worker.close()
    return out


def test_monitor_stream_matches_redis(diff):
    commands = [
        ("SET", "k", 'a "quoted"\n\\ value'), ("GET", "k"), ("SELECT", "2"), ("INCR", "n"),
        ("ECHO", "\x01\xff bin"), ("AUTH", "default", "pw"), ("PING",),
    ]
    # AUTH fails (no password configured) but is shown redacted; CONFIG (admin) is never shown.
    assert monitor_lines(diff.shardis_port, commands) == monitor_lines(diff.redis_port, commands)


def test_monitor_twice_is_silent_and_monitor_sees_itself(diff):
    for port in (diff.shardis_port, diff.redis_port):
        mon = RawConnection(port)
        assert mon.request("MONITOR") == b"+OK\r\n"
        mon.send_command("MONITOR")
        mon.send_command("PING")
        assert mon.read_frame(timeout=5) == b"+PONG\r\n"
        assert MONITOR_LINE.match(mon.read_frame(timeout=5)).group(4) == b'"PING"'
        mon.close()


# --- redis-py ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_connection_commands(shardis_node, protocol):
    r = redis.Redis(port=shardis_node.port, protocol=protocol, db=4, client_name="app")
    assert r.ping() is True
    assert r.echo("hi") == b"hi"
    assert r.client_getname() in ("app", b"app")
    cid = r.client_id()
    info = r.client_info()
    assert info["id"] == cid and int(info["db"]) == 4 and info["name"] == "app" and int(info["resp"]) == protocol
    listed = {int(c["id"]): c for c in r.client_list()}
    assert listed[cid]["name"] == "app"
    assert r.client_setname("renamed") is True
    assert r.client_getname() in ("renamed", b"renamed")
    other = redis.Redis(port=shardis_node.port, protocol=protocol)
    other_id = other.client_id()
    assert r.client_kill_filter(_id=other_id) == 1
    assert r.client_pause(10) is True and r.client_unpause() in (True, b"OK", "OK")
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", 99)


def test_redis_py_with_a_password(shardis_factory):
    node = shardis_factory(["requirepass s3cret"])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=node.port).ping()
    for protocol in (2, 3):
        r = redis.Redis(port=node.port, password="s3cret", protocol=protocol)
        assert r.ping() is True
        assert int(r.client_info()["resp"]) == protocol
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=node.port, password="wrong").ping()


def test_unix_socket_clients(shardis_factory, redis_factory, tmp_path):
    """A unix socket client is listed as <path>:0 with the U flag, and can be killed by that address."""
    for factory, name in ((shardis_factory, "s.sock"), (redis_factory, "r.sock")):
        path = str(tmp_path / name)
        factory([f"unixsocket {path}", "unixsocketperm 700"])
        r = redis.Redis(unix_socket_path=path)
        fields = r.client_info()
        assert fields["addr"] == f"{path}:0" and fields["laddr"] == f"{path}:0" and fields["flags"] == "U"
        victim = redis.Redis(unix_socket_path=path)
        victim_id = victim.client_id()
        assert r.client_kill_filter(_id=victim_id) == 1
        assert r.execute_command("CLIENT", "KILL", "ADDR", f"{path}:0", "SKIPME", "yes") == 0
