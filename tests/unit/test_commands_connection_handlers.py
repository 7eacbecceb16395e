"""commands/connection.py handlers and helpers, driven directly on an unconnected client."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardis.commands import connection as conn
from shardis.commands import load_all
from shardis.protocol.resp import RESP2, RESP3
from shardis.server import replies as R
from shardis.server.config import Config
from shardis.server.connection import Client
from shardis.server.node import Node


@pytest.fixture
def node():
    load_all()
    return Node(Config())


@pytest.fixture
def client(node):
    return Client(node)


# --- helpers -------------------------------------------------------------------------------------


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_string2ll_reads_canonical_integers(n):
    assert conn.string2ll(b"%d" % n) == n


@pytest.mark.parametrize("text", [b"", b"+1", b" 1", b"1 ", b"01", b"-0", b"1.0", b"0x1", b"9223372036854775808",
                                  b"-9223372036854775809", b"1e3", b"-"])
def test_string2ll_rejects_what_redis_rejects(text):
    assert conn.string2ll(text) is None


def test_get_int_range_error():
    assert conn.get_int(b"2147483647") == 2147483647
    assert conn.get_int(b"2147483648") == R.err("ERR value is out of range, value must between -2147483648 and 2147483647")
    assert conn.get_int(b"x") == R.NOT_INTEGER


@given(st.binary(max_size=40))
def test_client_names(name):
    ok = all(33 <= ch <= 126 for ch in name)
    assert conn.valid_client_name(name) is ok


def test_help_reply_layout():
    reply = conn.help_reply("FOO", ["BAR", "    Does bar."])
    assert reply == (b"*5\r\n+FOO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+BAR\r\n"
                     b"+    Does bar.\r\n+HELP\r\n+    Prints this help.\r\n")


# --- HELLO / AUTH / SELECT / RESET -----------------------------------------------------------------


def test_hello_switches_protocol_and_names(client):
    reply = conn.hello_command(client, [b"HELLO", b"3", b"SETNAME", b"me"])
    assert client.resp is RESP3 and client.name == b"me"
    assert reply.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n")
    assert b"$5\r\nproto\r\n:3\r\n" in reply and reply.endswith(b"$7\r\nmodules\r\n*0\r\n")
    assert conn.hello_command(client, [b"HELLO", b"2"]).startswith(b"*14\r\n")
    assert client.resp is RESP2
    assert conn.hello_command(client, [b"HELLO", b"4"]) == R.NOPROTO
    assert conn.hello_command(client, [b"HELLO", b"3", b"SETNAME", b"bad name"]) == R.BAD_CLIENT_NAME
    assert client.resp is RESP2 and client.name == b"me"


def test_auth_and_hello_auth_with_requirepass(node):
    node.config.set_value("requirepass", b"pw")
    c = Client(node)
    assert not c.authenticated
    assert conn.hello_command(c, [b"HELLO", b"3"]) == R.HELLO_NOAUTH
    argv = [b"AUTH", b"wrong"]
    assert conn.auth_command(c, argv) == R.WRONGPASS and argv == [b"AUTH", b"(redacted)"]
    argv = [b"HELLO", b"3", b"AUTH", b"default", b"pw", b"BAD"]
    assert conn.hello_command(c, argv).startswith(b"-ERR Syntax error in HELLO option 'BAD'")
    assert c.authenticated and argv[3:5] == [b"(redacted)", b"(redacted)"]  # authenticated while parsing
    assert conn.reset_command(c, [b"RESET"]) == b"+RESET\r\n" and not c.authenticated
    assert conn.auth_command(c, [b"AUTH", b"default", b"pw"]) == R.OK and c.authenticated


def test_auth_without_password(client):
    assert conn.auth_command(client, [b"AUTH", b"x"]) == R.AUTH_NOT_CONFIGURED
    assert conn.auth_command(client, [b"AUTH", b"default", b"anything"]) == R.OK
    assert conn.auth_command(client, [b"AUTH", b"other", b"x"]) == R.WRONGPASS
    assert conn.auth_command(client, [b"AUTH", b"a", b"b", b"c"]) == R.SYNTAX


def test_select(client, node):
    assert conn.select_command(client, [b"SELECT", b"5"]) == R.OK and client.db is node.dbs[5]
    assert conn.select_command(client, [b"SELECT", b"16"]) == R.DB_INDEX_OUT_OF_RANGE
    node.cluster = object()
    try:
        assert conn.select_command(client, [b"SELECT", b"1"]) == R.SELECT_CLUSTER
        assert conn.select_command(client, [b"SELECT", b"0"]) == R.OK
    finally:
        node.cluster = None


def test_reset_clears_connection_state(client, node):
    client.db = node.dbs[3]
    client.resp = RESP3
    client.name = b"x"
    client.reply_off = True
    client.monitor = True
    node.monitors.append(client)
    client.no_evict = True
    conn.reset_client(client)
    assert client.db is node.dbs[0] and client.resp is RESP2 and client.name == b""
    assert not client.reply_off and not client.monitor and client not in node.monitors
    assert client.no_evict  # Redis 7.0 keeps CLIENT NO-EVICT across RESET


# --- CLIENT -------------------------------------------------------------------------------------------


def test_client_info_line_fields(client, node):
    client.name = b"n"
    client.db = node.dbs[2]
    client.multi = True
    client.mstate = [(None, [b"SET", b"k", b"v"])]
    line = conn.client_info(client, current=None, argv=[b"CLIENT", b"INFO"]).decode()
    fields = dict(kv.split("=", 1) for kv in line.split(" "))
    assert list(fields) == ("id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem "
                            "multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp").split()
    assert fields["name"] == "n" and fields["db"] == "2" and fields["flags"] == "x" and fields["multi"] == "1"
    assert fields["argv-mem"] == "10" and fields["multi-mem"] == "5" and fields["cmd"] == "NULL"
    assert fields["user"] == "default" and fields["resp"] == "2"


def test_client_types_and_flags(client):
    assert conn.client_type(client) == conn.CLIENT_TYPE_NORMAL
    client.channels.add(b"c")
    assert conn.client_type(client) == conn.CLIENT_TYPE_PUBSUB and conn._flags(client) == "P"
    client.channels.clear()
    client.replica = True
    assert conn.client_type(client) == conn.CLIENT_TYPE_REPLICA and conn._flags(client) == "S"
    client.monitor = True
    assert conn.client_type(client) == conn.CLIENT_TYPE_NORMAL and conn._flags(client) == "O"


def test_client_reply_modes(client):
    assert conn.client_reply(client, [b"CLIENT", b"REPLY", b"OFF"]) is None and client.reply_off
    assert conn.client_reply(client, [b"CLIENT", b"REPLY", b"SKIP"]) is None and not client.reply_skip_next
    assert conn.client_reply(client, [b"CLIENT", b"REPLY", b"ON"]) == R.OK and not client.reply_off
    assert conn.client_reply(client, [b"CLIENT", b"REPLY", b"SKIP"]) is None and client.reply_skip_next
    assert conn.client_reply(client, [b"CLIENT", b"REPLY", b"MAYBE"]) == R.SYNTAX


def test_client_pause_never_shortens_a_running_pause(client, node):
    assert conn.client_pause(client, [b"CLIENT", b"PAUSE", b"10000", b"ALL"]) == R.OK
    until = node.paused_until
    assert node.pause_all
    assert conn.client_pause(client, [b"CLIENT", b"PAUSE", b"10", b"WRITE"]) == R.OK
    assert node.paused_until == until and node.pause_all
    assert conn.client_unpause(client, [b"CLIENT", b"UNPAUSE"]) == R.OK and node.paused_until == 0.0
    assert conn.client_pause(client, [b"CLIENT", b"PAUSE", b"-1"]) == R.TIMEOUT_NEGATIVE
    assert conn.client_pause(client, [b"CLIENT", b"PAUSE", b"5", b"SOME"]) == R.PAUSE_MODE


def test_client_kill_parses_filters(client):
    assert conn.client_kill(client, [b"CLIENT", b"KILL", b"ID", b"0"]) == R.CLIENT_ID_POSITIVE
    assert conn.client_kill(client, [b"CLIENT", b"KILL", b"TYPE", b"x"]) == R.err("ERR Unknown client type 'x'")
    assert conn.client_kill(client, [b"CLIENT", b"KILL", b"USER", b"bob"]) == R.err("ERR No such user 'bob'")
    assert conn.client_kill(client, [b"CLIENT", b"KILL", b"ID", b"1", b"SKIPME"]) == R.SYNTAX
    assert conn.client_kill(client, [b"CLIENT", b"KILL", b"1.1.1.1:1"]) == R.NO_SUCH_CLIENT
