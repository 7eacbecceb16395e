"""The pub/sub registry: who listens to which channel, and delivering messages to them.

The node holds one ``PubSub`` as ``node.pubsub``.  It keeps, as Redis's
pubsub.c does, three tables from a name to the clients subscribed to it:
``channels`` (SUBSCRIBE), ``patterns`` (PSUBSCRIBE) and ``shard_channels``
(SSUBSCRIBE); each client keeps the reverse view in ``c.channels``,
``c.patterns`` and ``c.shard_channels``.  The commands live in
commands/pubsub.py; keyspace notifications (``Node.notify``) and, in cluster
mode, messages arriving over the cluster bus call ``publish`` directly.

``publish`` delivers to the local subscribers only.  ``publish_cluster`` is
what PUBLISH/SPUBLISH call: local delivery, then the ``cluster_publish`` hook
(set by the cluster bus) so other nodes deliver to theirs.  Keyspace
notifications never cross nodes, as in Redis.

Delivery is built for fan-out.  A message frame is encoded once per protocol
version (a RESP2 array and a RESP3 push differ only in their first byte), not
once per subscriber, and a pattern's ``pmessage`` frame once per matching
pattern.  Frames are not written to each subscriber's socket as they are
published: they are appended to the subscriber's pending output
(``client.out``) and flushed once at the end of the event-loop iteration, so
a publisher pipelining a thousand PUBLISH commands costs each subscriber one
write, not a thousand, and a subscriber's own replies can never overtake a
message published before them (Redis orders them the same way through its
per-client reply buffer).

A subscriber that does not read its socket would make the node buffer
without bound; like Redis, the ``client-output-buffer-limit pubsub`` class
closes it when its pending output passes the hard limit, or stays above the
soft limit for longer than the soft seconds (checked after each flush and
from the cron, so a quiet channel does not keep it alive).
"""

from __future__ import annotations

import time

from ..keyspace.glob import compile_pattern
from .hooks import on_client_close

__all__ = ["PubSub", "compile_matcher"]

# The bulk-encoded message kinds (shared.messagebulk & co in server.c).
MESSAGE = b"$7\r\nmessage\r\n"
PMESSAGE = b"$8\r\npmessage\r\n"
SMESSAGE = b"$8\r\nsmessage\r\n"


def compile_matcher(pattern: bytes):
    """A function ``match(channel) -> bool`` for a PSUBSCRIBE / PUBSUB CHANNELS pattern.

    Channel patterns use Redis's glob dialect (stringmatchlen), shared with
    KEYS and SCAN; the compiled matcher is kept with the pattern so each
    publish only calls it.
    """
    return compile_pattern(bytes(pattern))


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


class PubSub:
    """Subscriptions of every client of one node, and message delivery."""

    def __init__(self, node):
        self.node = node
        self.channels: dict = {}  # channel -> {client: None} (insertion-ordered set)
        self.patterns: dict = {}  # pattern -> (matcher, {client: None})
        self.shard_channels: dict = {}  # shard channel -> {client: None}
        # Cluster mode: callable(channel, message, sharded) that sends a
        # PUBLISH/SPUBLISH to the other nodes over the cluster bus.
        self.cluster_publish = None
        self._pending: dict = {}  # clients with frames waiting in client.out
        self._flush_scheduled = False
        self._soft_since: dict = {}  # client -> unix time it first passed the soft limit
        self.limits = (0, 0, 0)  # pubsub class: hard bytes, soft bytes, soft seconds
        node.config.on_change("client-output-buffer-limit", self._on_limits_change)
        self._on_limits_change(node.config["client-output-buffer-limit"], None)
        node.cron_hooks.append(self.cron)

    # --- subscriptions ---------------------------------------------------------------

    def subscribe(self, c, channel: bytes) -> bool:
        """Add ``c`` to ``channel``; False when it was already subscribed."""
        if channel in c.channels:
            return False
        c.channels.add(channel)
        subs = self.channels.get(channel)
        if subs is None:
            subs = self.channels[channel] = {}
        subs[c] = None
        return True

    def unsubscribe(self, c, channel: bytes) -> bool:
        """Remove ``c`` from ``channel``; False when it was not subscribed."""
        if channel not in c.channels:
            return False
        c.channels.discard(channel)
        _leave(self.channels, channel, c)
        return True

    def psubscribe(self, c, pattern: bytes) -> bool:
        if pattern in c.patterns:
            return False
        c.patterns.add(pattern)
        entry = self.patterns.get(pattern)
        if entry is None:
            entry = self.patterns[pattern] = (compile_matcher(pattern), {})
        entry[1][c] = None
        return True

    def punsubscribe(self, c, pattern: bytes) -> bool:
        if pattern not in c.patterns:
            return False
        c.patterns.discard(pattern)
        entry = self.patterns.get(pattern)
        if entry is not None:
            entry[1].pop(c, None)
            if not entry[1]:
                del self.patterns[pattern]
        return True

    def ssubscribe(self, c, channel: bytes) -> bool:
        if channel in c.shard_channels:
            return False
        c.shard_channels.add(channel)
        subs = self.shard_channels.get(channel)
        if subs is None:
            subs = self.shard_channels[channel] = {}
        subs[c] = None
        return True

    def sunsubscribe(self, c, channel: bytes) -> bool:
        if channel not in c.shard_channels:
            return False
        c.shard_channels.discard(channel)
        _leave(self.shard_channels, channel, c)
        return True

    def unsubscribe_all(self, c) -> None:
        """Drop every subscription of ``c`` without telling it (disconnect, RESET)."""
        for channel in list(c.channels):
            self.unsubscribe(c, channel)
        for pattern in list(c.patterns):
            self.punsubscribe(c, pattern)
        for channel in list(c.shard_channels):
            self.sunsubscribe(c, channel)
        self._soft_since.pop(c, None)
        self._pending.pop(c, None)

    def drop_shard_channel(self, channel: bytes, notify) -> list:
        """Unsubscribe every client of a shard channel (its slot moved away).

        ``notify(client, channel)`` is called for each of them after its
        subscription is gone (to send the sunsubscribe push).  Returns the clients.
        """
        subs = self.shard_channels.pop(channel, None)
        if not subs:
            return []
        clients = list(subs)
        for c in clients:
            c.shard_channels.discard(channel)
            notify(c, channel)
            c.update_fast()
        return clients

    # --- introspection ------------------------------------------------------------------

    def active(self) -> bool:
        """Is anybody subscribed to a channel or a pattern (what keyspace events need)?"""
        return bool(self.channels or self.patterns)

    def numsub(self, channel: bytes) -> int:
        subs = self.channels.get(channel)
        return len(subs) if subs else 0

    def shard_numsub(self, channel: bytes) -> int:
        subs = self.shard_channels.get(channel)
        return len(subs) if subs else 0

    def numpat(self) -> int:
        return len(self.patterns)

    def counts(self) -> tuple[int, int, int]:
        """INFO stats: channels, patterns and shard channels with at least one subscriber."""
        return len(self.channels), len(self.patterns), len(self.shard_channels)

    # --- publishing -------------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes, sharded: bool = False) -> int:
        """Deliver ``message`` to this node's subscribers; returns how many received it."""
        receivers = 0
        table = self.shard_channels if sharded else self.channels
        subs = table.get(channel)
        if subs:
            tail = (SMESSAGE if sharded else MESSAGE) + _bulk(channel) + _bulk(message)
            self._deliver_all(subs, b"*3\r\n" + tail, b">3\r\n" + tail)
            receivers = len(subs)
        if not sharded and self.patterns:
            rest = None
            for pattern, (match, clients) in self.patterns.items():
                if not match(channel):
                    continue
                if rest is None:
                    rest = _bulk(channel) + _bulk(message)
                tail = PMESSAGE + _bulk(pattern) + rest
                self._deliver_all(clients, b"*4\r\n" + tail, b">4\r\n" + tail)
                receivers += len(clients)
        if self._pending and not self._flush_scheduled:
            loop = self.node.loop
            if loop is not None:  # without a loop (tools, tests) the caller flushes
                self._flush_scheduled = True
                loop.call_soon(self.flush)
        return receivers

    def _deliver_all(self, clients, frame2: bytes, frame3: bytes) -> None:
        """Queue one frame for each client, in its protocol's framing (the hot loop of PUBLISH)."""
        pending = self._pending
        for c in clients:
            if c.closing:
                continue
            c.out.append(frame2 if c.resp.version == 2 else frame3)
            # A client in the middle of its own pipeline writes the frame with
            # its replies, in order; the others are written by flush().
            if not c.processing and c not in pending:
                pending[c] = None

    def publish_cluster(self, channel: bytes, message: bytes, sharded: bool = False) -> int:
        """PUBLISH/SPUBLISH: local delivery, then the other nodes (cluster mode)."""
        receivers = self.publish(channel, message, sharded)
        hook = self.cluster_publish
        if hook is not None and self.node.cluster is not None:
            hook(channel, message, sharded)
        return receivers

    # --- delivery -----------------------------------------------------------------------

    def flush(self) -> None:
        """Write every subscriber's pending frames (one write each), then apply the limits."""
        self._flush_scheduled = False
        pending = self._pending
        if not pending:
            return
        self._pending = {}
        hard, soft, _ = self.limits
        for c in pending:
            if c.out and not c.processing:
                c.flush()
            if (hard or soft) and not c.closing:
                self.check_output_limit(c)

    # --- output buffer limits ------------------------------------------------------------

    def _on_limits_change(self, value, old) -> None:
        self.limits = tuple(value.get("pubsub", (0, 0, 0)))
        if not self.limits[1]:
            self._soft_since.clear()

    def check_output_limit(self, c) -> bool:
        """checkClientOutputBufferLimits for a pub/sub client; closes it when over.  True if closed."""
        if not (c.channels or c.patterns or c.shard_channels) or c.replica or c.is_master_link:
            self._soft_since.pop(c, None)
            return False
        hard, soft, soft_seconds = self.limits
        used = c.output_buffer_size()
        over = bool(hard) and used >= hard
        if soft and used >= soft:
            now = int(time.time())
            since = self._soft_since.get(c)
            if since is None:
                self._soft_since[c] = now
            elif now - since > soft_seconds:
                over = True
        else:
            self._soft_since.pop(c, None)
        if over:
            self._close_for_limit(c, used)
        return over

    def _close_for_limit(self, c, used: int) -> None:
        node = self.node
        node.log(
            "warning",
            f"Client id={c.id} addr={c.addr} name={c.name.decode(errors='replace')} "
            f"omem={used} scheduled to be closed ASAP for overcoming of output buffer limits.",
        )
        node.stat_client_outbuf_limit_disconnections += 1
        self._soft_since.pop(c, None)
        transport = c.transport
        c.close()
        if transport is not None:
            # Redis frees the client with whatever it never read: drop it too
            # rather than let close() drain the backlog first.
            transport.abort()

    def cron(self, now: float) -> None:
        """Close subscribers that stayed above the soft limit for too long without new messages."""
        if self._soft_since:
            for c in list(self._soft_since):
                if c.closing:
                    self._soft_since.pop(c, None)
                else:
                    self.check_output_limit(c)

    # --- client lifecycle -------------------------------------------------------------------

    def client_closed(self, c) -> None:
        self.unsubscribe_all(c)


def _leave(table: dict, name: bytes, c) -> None:
    subs = table.get(name)
    if subs is not None:
        subs.pop(c, None)
        if not subs:
            del table[name]


@on_client_close
def _client_closed(c) -> None:
    ps = c.node.pubsub
    if ps is not None and (c.channels or c.patterns or c.shard_channels or c in ps._pending):
        ps.client_closed(c)
