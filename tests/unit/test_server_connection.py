"""Unit tests for server/connection.py: when replies leave the node.

Replies are written at the end of the event-loop pass that produced them
(``Node.flush_pending_writes``, Redis's handleClientsWithPendingWrites), once
every readable client has been served.  The loop here is a stand-in that
records ``call_soon`` callbacks, so a test controls exactly when the pass
ends and can assert what was written before and after.
"""

from __future__ import annotations

import pytest

from shardis.commands import load_all
from shardis.server.config import Config
from shardis.server.connection import Client
from shardis.server.node import Node
from shardis.testing.loop import PassLoop

load_all()


class Transport:
    def __init__(self, log, name):
        self.log = log
        self.name = name
        self.writes = []
        self.closed = False

    def write(self, data):
        self.writes.append(bytes(data))
        self.log.append(("write", self.name))

    def close(self):
        self.closed = True
        self.log.append(("close", self.name))

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return default


@pytest.fixture
def env():
    node = Node(Config())
    node.loop = PassLoop()
    log = []

    def client(name):
        c = Client(node)
        c.transport = Transport(log, name)
        node.clients[c.id] = c
        return c

    return node, log, client


def test_replies_leave_together_at_the_end_of_the_pass(env):
    node, log, client = env
    a, b = client("a"), client("b")
    node.propagate_flush_hooks.append(lambda: log.append(("aof",)))
    a.data_received(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    b.data_received(b"PING\r\n")
    assert log == []  # nothing written while clients are being served
    assert len(node.loop.ready) == 1  # one flush scheduled for both clients
    node.loop.run_pass()
    # the AOF hook runs once, before any reply leaves; one write per client
    assert log[0] == ("aof",)
    assert [e for e in log if e[0] == "write"] == [("write", "a"), ("write", "b")]
    assert a.transport.writes == [b"+OK\r\n$1\r\nv\r\n"]
    assert b.transport.writes == [b"+PONG\r\n"]
    assert not a.write_pending and not b.write_pending and node.pending_writes == []


def test_a_client_served_twice_in_one_pass_writes_once(env):
    node, log, client = env
    a = client("a")
    a.data_received(b"PING\r\n")
    a.data_received(b"ECHO x\r\n")
    assert len(node.loop.ready) == 1 and node.pending_writes == [a]
    node.loop.run_pass()
    assert a.transport.writes == [b"+PONG\r\n$1\r\nx\r\n"]


def test_a_message_published_to_a_client_with_pending_replies_follows_them(env):
    node, log, client = env
    sub, pub = client("sub"), client("pub")
    sub.data_received(b"SUBSCRIBE ch\r\n")
    node.loop.run_pass()
    sub.transport.writes.clear()
    sub.data_received(b"PING\r\n")  # in subscribed mode: ["pong", ""]
    pub.data_received(b"PUBLISH ch hi\r\n")
    for _ in range(3):
        node.loop.run_pass()
    got = b"".join(sub.transport.writes)
    assert got == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n" + b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    assert pub.transport.writes == [b":1\r\n"]


def test_quit_writes_its_reply_before_closing(env):
    node, log, client = env
    a = client("a")
    a.data_received(b"PING\r\nQUIT\r\nPING\r\n")
    assert log == [("write", "a"), ("close", "a")]
    assert a.transport.writes == [b"+PONG\r\n+OK\r\n"]
    node.loop.run_pass()  # nothing left to write for a closed client
    assert a.transport.writes == [b"+PONG\r\n+OK\r\n"]


def test_a_client_closed_before_the_end_of_the_pass_gets_nothing(env):
    node, log, client = env
    a, b = client("a"), client("b")
    a.data_received(b"PING\r\n")
    b.data_received(b"CLIENT KILL ID %d\r\n" % a.id)
    node.loop.run_pass()
    assert a.transport.writes == [] and a.transport.closed
    assert b.transport.writes == [b":1\r\n"]
