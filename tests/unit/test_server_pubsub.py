"""Unit tests for server/pubsub.py: the registry, frame encoding, batched delivery, buffer limits.

Clients here are real ``Client`` objects of a real ``Node`` (no event loop
unless a test creates one) with a recording transport, so the exact bytes a
subscriber would receive can be asserted.
"""

import asyncio

import pytest

from shardis.keyspace import notify as kn
from shardis.protocol.resp import RESP3
from shardis.server import pubsub as pubsub_mod
from shardis.server.config import Config
from shardis.server.connection import Client
from shardis.server.node import Node


class RecordingTransport:
    def __init__(self):
        self.writes = []
        self.buffered = 0
        self.closed = False
        self.aborted = False

    def write(self, data):
        self.writes.append(bytes(data))

    def get_write_buffer_size(self):
        return self.buffered

    def get_extra_info(self, name, default=None):
        return default

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True

    def received(self):
        return b"".join(self.writes)


@pytest.fixture
def node():
    n = Node(Config())
    yield n


def make_client(node, resp3=False):
    c = Client(node)
    c.transport = RecordingTransport()
    node.clients[c.id] = c
    if resp3:
        c.resp = RESP3
    return c


def msg2(channel, message):
    return b"*3\r\n$7\r\nmessage\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(channel), channel, len(message), message)


# --- registry -----------------------------------------------------------------------------


def test_subscribe_and_unsubscribe_keep_both_views_in_sync(node):
    ps = node.pubsub
    a, b = make_client(node), make_client(node)
    assert ps.subscribe(a, b"ch") is True
    assert ps.subscribe(a, b"ch") is False  # already subscribed
    assert ps.subscribe(b, b"ch") is True
    assert ps.psubscribe(a, b"c*") is True
    assert ps.ssubscribe(b, b"s") is True
    assert a.channels == {b"ch"} and a.patterns == {b"c*"} and b.shard_channels == {b"s"}
    assert ps.numsub(b"ch") == 2 and ps.numpat() == 1 and ps.shard_numsub(b"s") == 1
    assert ps.unsubscribe(a, b"nope") is False
    assert ps.unsubscribe(a, b"ch") is True
    assert ps.numsub(b"ch") == 1
    ps.unsubscribe(b, b"ch")
    assert b"ch" not in ps.channels  # no empty entries are kept
    ps.punsubscribe(a, b"c*")
    assert ps.patterns == {} and ps.numpat() == 0
    ps.sunsubscribe(b, b"s")
    assert ps.shard_channels == {}
    assert not ps.active()


def test_unsubscribe_all_and_disconnect_drop_every_subscription(node):
    ps = node.pubsub
    a = make_client(node)
    ps.subscribe(a, b"x")
    ps.psubscribe(a, b"y*")
    ps.ssubscribe(a, b"z")
    a.connection_lost(None)  # runs the close hooks
    assert not (a.channels or a.patterns or a.shard_channels)
    assert ps.channels == {} and ps.patterns == {} and ps.shard_channels == {}


# --- frames -------------------------------------------------------------------------------


def test_message_frames_resp2_and_resp3(node):
    ps = node.pubsub
    r2, r3 = make_client(node), make_client(node, resp3=True)
    ps.subscribe(r2, b"news")
    ps.subscribe(r3, b"news")
    assert ps.publish(b"news", b"hello") == 2
    ps.flush()
    assert r2.transport.received() == msg2(b"news", b"hello")
    assert r3.transport.received() == b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"


def test_pmessage_and_smessage_frames(node):
    ps = node.pubsub
    p2, p3, s3 = make_client(node), make_client(node, resp3=True), make_client(node, resp3=True)
    ps.psubscribe(p2, b"n*")
    ps.psubscribe(p3, b"n*")
    ps.ssubscribe(s3, b"n1")
    assert ps.publish(b"n1", b"m") == 2  # shard subscribers do not hear PUBLISH
    assert ps.publish(b"n1", b"s", sharded=True) == 1  # and patterns do not hear SPUBLISH
    ps.flush()
    assert p2.transport.received() == b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$2\r\nn1\r\n$1\r\nm\r\n"
    assert p3.transport.received() == b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$2\r\nn1\r\n$1\r\nm\r\n"
    assert s3.transport.received() == b">3\r\n$8\r\nsmessage\r\n$2\r\nn1\r\n$1\r\ns\r\n"


def test_a_frame_is_encoded_once_per_protocol_not_per_subscriber(node):
    ps = node.pubsub
    clients = [make_client(node) for _ in range(5)]
    for c in clients:
        ps.subscribe(c, b"ch")
        ps.psubscribe(c, b"c?")
    ps.publish(b"ch", b"payload")
    firsts = [c.out[0] for c in clients]
    seconds = [c.out[1] for c in clients]
    assert all(f is firsts[0] for f in firsts)
    assert all(s is seconds[0] for s in seconds)


def test_a_client_matching_several_patterns_gets_one_pmessage_per_pattern(node):
    ps = node.pubsub
    c = make_client(node)
    ps.subscribe(c, b"abc")
    ps.psubscribe(c, b"a*")
    ps.psubscribe(c, b"*c")
    ps.psubscribe(c, b"x*")
    assert ps.publish(b"abc", b"m") == 3
    assert len(c.out) == 3


@pytest.mark.parametrize(
    "pattern, channel, matches",
    [
        (b"news.*", b"news.sport", True),
        (b"news.*", b"new", False),
        (b"h?llo", b"hello", True),
        (b"h?llo", b"hllo", False),
        (b"h[ae]llo", b"hallo", True),
        (b"h[^e]llo", b"hello", False),
        (b"h[a-c]llo", b"hbllo", True),
        (b"a\\*b", b"a*b", True),
        (b"a\\*b", b"axb", False),
        (b"*", b"", False),  # stringmatchlen: an empty string only matches the empty pattern
        (b"", b"", True),
        (b"[abc", b"a", True),  # an unclosed class runs to the end of the pattern
    ],
)
def test_patterns_use_redis_glob(node, pattern, channel, matches):
    ps = node.pubsub
    c = make_client(node)
    ps.psubscribe(c, pattern)
    assert ps.publish(channel, b"m") == (1 if matches else 0)


# --- delivery -----------------------------------------------------------------------------


def test_frames_are_batched_into_one_write_per_subscriber(node):
    ps = node.pubsub
    c = make_client(node)
    ps.subscribe(c, b"ch")
    for i in range(3):
        ps.publish(b"ch", b"%d" % i)
    assert c.transport.writes == []  # nothing written before the flush
    ps.flush()
    assert c.transport.writes == [msg2(b"ch", b"0") + msg2(b"ch", b"1") + msg2(b"ch", b"2")]
    ps.flush()  # nothing pending: no empty write
    assert len(c.transport.writes) == 1


def test_a_processing_client_gets_frames_in_its_own_reply_stream(node):
    ps = node.pubsub
    c = make_client(node, resp3=True)
    ps.subscribe(c, b"ch")
    c.processing = True  # it is the publisher, in the middle of its pipeline
    ps.publish(b"ch", b"m")
    assert c.out == [b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n"]
    assert c not in ps._pending  # its own flush at the end of the pipeline writes it


def test_out_of_band_send_keeps_order_behind_pending_frames(node):
    ps = node.pubsub
    c = make_client(node, resp3=True)
    ps.subscribe(c, b"ch")
    ps.publish(b"ch", b"first")
    c.send(b"+second\r\n")
    assert c.transport.writes == [b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nfirst\r\n+second\r\n"]
    ps.flush()
    assert len(c.transport.writes) == 1


def test_a_closing_client_counts_as_receiver_but_is_not_written(node):
    ps = node.pubsub
    c = make_client(node)
    ps.subscribe(c, b"ch")
    c.closing = True
    assert ps.publish(b"ch", b"m") == 1
    ps.flush()
    assert c.transport.writes == [] and c.out == []


def test_with_an_event_loop_the_flush_is_scheduled_once_per_iteration(node):
    loop = asyncio.new_event_loop()
    try:
        node.loop = loop
        ps = node.pubsub
        a, b = make_client(node), make_client(node)
        ps.subscribe(a, b"ch")
        ps.subscribe(b, b"ch")
        for _ in range(10):
            ps.publish(b"ch", b"m")
        assert ps._flush_scheduled and a.transport.writes == []
        loop.run_until_complete(asyncio.sleep(0))
        assert len(a.transport.writes) == 1 and len(b.transport.writes) == 1
        assert a.transport.writes[0] == msg2(b"ch", b"m") * 10
        assert not ps._flush_scheduled
    finally:
        node.loop = None
        loop.close()


def test_cluster_publish_hook_only_in_cluster_mode(node):
    ps = node.pubsub
    seen = []
    ps.cluster_publish = lambda ch, msg, sharded: seen.append((ch, msg, sharded))
    assert ps.publish_cluster(b"ch", b"m") == 0
    assert seen == []
    node.cluster = object()
    try:
        ps.publish_cluster(b"ch", b"m")
        ps.publish_cluster(b"sc", b"n", sharded=True)
    finally:
        node.cluster = None
    assert seen == [(b"ch", b"m", False), (b"sc", b"n", True)]


# --- output buffer limits ---------------------------------------------------------------


def set_limits(node, hard, soft, seconds):
    node.config.apply("client-output-buffer-limit", [b"pubsub %d %d %d" % (hard, soft, seconds)])
    assert node.pubsub.limits == (hard, soft, seconds)


def test_hard_limit_closes_the_subscriber_at_once(node):
    set_limits(node, 1000, 0, 0)
    ps = node.pubsub
    slow, ok = make_client(node), make_client(node)
    ps.subscribe(slow, b"ch")
    ps.subscribe(ok, b"ch")
    slow.transport.buffered = 1000  # the kernel and the transport hold what it did not read
    ps.publish(b"ch", b"m")
    ps.flush()
    assert slow.closing and slow.transport.aborted
    assert not ok.closing
    assert node.stat_client_outbuf_limit_disconnections == 1


def test_soft_limit_closes_only_after_the_soft_seconds(node, monkeypatch):
    set_limits(node, 0, 100, 2)
    ps = node.pubsub
    c = make_client(node)
    ps.subscribe(c, b"ch")
    now = [1000.0]
    monkeypatch.setattr(pubsub_mod.time, "time", lambda: now[0])
    c.transport.buffered = 150
    assert ps.check_output_limit(c) is False  # first time over: the clock starts
    now[0] += 2
    assert ps.check_output_limit(c) is False  # 2 s is not more than 2 s
    now[0] += 1
    ps.cron(now[0])  # the cron notices it even with no new message
    assert c.closing and c.transport.aborted
    assert node.stat_client_outbuf_limit_disconnections == 1


def test_soft_limit_clock_resets_when_the_client_catches_up(node, monkeypatch):
    set_limits(node, 0, 100, 1)
    ps = node.pubsub
    c = make_client(node)
    ps.subscribe(c, b"ch")
    now = [50.0]
    monkeypatch.setattr(pubsub_mod.time, "time", lambda: now[0])
    c.transport.buffered = 150
    ps.check_output_limit(c)
    now[0] += 1
    c.transport.buffered = 10  # it read its backlog
    assert ps.check_output_limit(c) is False
    now[0] += 5
    c.transport.buffered = 150
    assert ps.check_output_limit(c) is False  # a new episode starts from now
    assert not c.closing


def test_limits_apply_only_to_subscribed_clients(node):
    set_limits(node, 10, 0, 0)
    ps = node.pubsub
    c = make_client(node)
    c.transport.buffered = 10_000
    assert ps.check_output_limit(c) is False
    assert not c.closing


# --- keyspace notifications -----------------------------------------------------------------


def test_node_notify_publishes_on_keyspace_and_keyevent_channels(node):
    node.config.apply("notify-keyspace-events", [b"KE$"])
    c = make_client(node)
    node.pubsub.psubscribe(c, b"__key*__:*")
    node.notify(kn.STRING, b"set", b"k", 3)
    node.notify(kn.LIST, b"lpush", b"k", 3)  # class not enabled
    node.pubsub.flush()
    assert c.transport.received() == (
        b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@3__:k\r\n$3\r\nset\r\n"
        b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$18\r\n__keyevent@3__:set\r\n$1\r\nk\r\n"
    )


def test_notify_flags_follow_config_and_canonical_form(node):
    cfg = node.config
    cfg.apply("notify-keyspace-events", [b"Elg"])
    assert node.notify_flags == kn.KEYEVENT | kn.LIST | kn.GENERIC
    assert cfg.format_value("notify-keyspace-events") == b"glE"
    cfg.apply("notify-keyspace-events", [b"An"])
    assert node.notify_flags & kn.NEW
    assert cfg.format_value("notify-keyspace-events") == b"A"
    cfg.apply("notify-keyspace-events", [b"KEA"])
    assert cfg.format_value("notify-keyspace-events") == b"AKE"
    from shardis.server.config import ConfigError

    with pytest.raises(ConfigError, match=r"Invalid event class character. Use 'Ag\$lshzxeKEtmdn'."):
        cfg.apply("notify-keyspace-events", [b"Kb"])
    with pytest.raises(ConfigError, match="wrong number of arguments"):
        cfg.apply("notify-keyspace-events", [b"K", b"E"])
    assert cfg.format_value("notify-keyspace-events") == b"AKE"  # unchanged by the failures
