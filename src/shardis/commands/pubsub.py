"""Pub/sub commands (pubsub.c): (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

The registry and message delivery live in server/pubsub.py (``node.pubsub``);
this module parses requests and builds the confirmations, which Redis sends
as one frame per channel: a RESP2 array, or a RESP3 push (``>``), of
``[kind, channel, count]``.  The count is the client's channels plus patterns
for SUBSCRIBE/PSUBSCRIBE and their unsubscribes, and its shard channels for
SSUBSCRIBE/SUNSUBSCRIBE.  An unsubscribe with no arguments from a client
subscribed to nothing still gets one confirmation, with a null channel.

Confirmations are pushes in Redis: they reach the client even under CLIENT
REPLY OFF/SKIP, so in that case they are sent out of band.  In RESP2 a
subscribed client may only run the commands dispatch lets through (the
"pub/sub context"); ``client.update_fast()`` after every change of
subscriptions keeps the connection's fast path from bypassing that check.
"""

from __future__ import annotations

from ..protocol.resp import bulk, integer
from ..server import replies as R
from ..server.commandtable import command, subcommand
from ..server.pubsub import compile_matcher
from .connection import help_reply, subcommand_syntax_error

SUBSCRIBE = b"$9\r\nsubscribe\r\n"
UNSUBSCRIBE = b"$11\r\nunsubscribe\r\n"
PSUBSCRIBE = b"$10\r\npsubscribe\r\n"
PUNSUBSCRIBE = b"$12\r\npunsubscribe\r\n"
SSUBSCRIBE = b"$10\r\nssubscribe\r\n"
SUNSUBSCRIBE = b"$12\r\nsunsubscribe\r\n"

_HELP = (
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
)


def confirmation(c, kind: bytes, name, count: int) -> bytes:
    """One (un)subscribe confirmation; ``name`` None is the "subscribed to nothing" reply."""
    head = b">3\r\n" if c.resp.version == 3 else b"*3\r\n"
    return head + kind + (c.resp.null if name is None else bulk(name)) + b":%d\r\n" % count


def _count(c) -> int:
    """clientSubscriptionsCount: channels + patterns."""
    return len(c.channels) + len(c.patterns)


def _reply(c, frames: list):
    """Return the confirmations, or push them past CLIENT REPLY OFF/SKIP as Redis does."""
    c.update_fast()
    data = b"".join(frames)
    if c.reply_off or c.reply_skip:
        c.send(data)
        return None
    return data


# --- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------------------


@command("subscribe", -2, "pubsub noscript loading stale", group="pubsub",
         summary="Listen for messages published to the given channels", since="2.0.0",
         complexity="O(N) where N is the number of channels to subscribe to.")
def subscribe_command(c, argv):
    ps = c.node.pubsub
    frames = []
    for channel in argv[1:]:
        ps.subscribe(c, channel)
        frames.append(confirmation(c, SUBSCRIBE, channel, _count(c)))
    return _reply(c, frames)


@command("unsubscribe", -1, "pubsub noscript loading stale", group="pubsub",
         summary="Stop listening for messages posted to the given channels", since="2.0.0",
         complexity="O(N) where N is the number of clients already subscribed to a channel.")
def unsubscribe_command(c, argv):
    ps = c.node.pubsub
    frames = []
    names = argv[1:] if len(argv) > 1 else list(c.channels)
    for channel in names:
        ps.unsubscribe(c, channel)
        frames.append(confirmation(c, UNSUBSCRIBE, channel, _count(c)))
    if not frames:
        frames.append(confirmation(c, UNSUBSCRIBE, None, _count(c)))
    return _reply(c, frames)


# --- PSUBSCRIBE / PUNSUBSCRIBE ------------------------------------------------------------


@command("psubscribe", -2, "pubsub noscript loading stale", group="pubsub",
         summary="Listen for messages published to channels matching the given patterns",
         since="2.0.0", complexity="O(N) where N is the number of patterns the client is already subscribed to.")
def psubscribe_command(c, argv):
    ps = c.node.pubsub
    frames = []
    for pattern in argv[1:]:
        ps.psubscribe(c, pattern)
        frames.append(confirmation(c, PSUBSCRIBE, pattern, _count(c)))
    return _reply(c, frames)


@command("punsubscribe", -1, "pubsub noscript loading stale", group="pubsub",
         summary="Stop listening for messages posted to channels matching the given patterns",
         since="2.0.0",
         complexity="O(N+M) where N is the number of patterns the client is already subscribed and M is "
                    "the number of total patterns subscribed in the system (by any client).")
def punsubscribe_command(c, argv):
    ps = c.node.pubsub
    frames = []
    names = argv[1:] if len(argv) > 1 else list(c.patterns)
    for pattern in names:
        ps.punsubscribe(c, pattern)
        frames.append(confirmation(c, PUNSUBSCRIBE, pattern, _count(c)))
    if not frames:
        frames.append(confirmation(c, PUNSUBSCRIBE, None, _count(c)))
    return _reply(c, frames)


# --- SSUBSCRIBE / SUNSUBSCRIBE --------------------------------------------------------------


@command("ssubscribe", -2, "pubsub noscript loading stale", keys=(1, -1, 1), group="pubsub",
         summary="Listen for messages published to the given shard channels", since="7.0.0",
         complexity="O(N) where N is the number of shard channels to subscribe to.")
def ssubscribe_command(c, argv):
    if c.multi:
        # Only reachable from EXEC (SSUBSCRIBE is queued inside MULTI): a
        # transaction must get one reply per command, unlike SUBSCRIBE which
        # Redis keeps allowing there for backward compatibility.
        return R.SSUBSCRIBE_DENY_BLOCKING
    ps = c.node.pubsub
    frames = []
    for channel in argv[1:]:
        ps.ssubscribe(c, channel)
        frames.append(confirmation(c, SSUBSCRIBE, channel, len(c.shard_channels)))
    return _reply(c, frames)


@command("sunsubscribe", -1, "pubsub noscript loading stale", keys=(1, -1, 1), group="pubsub",
         summary="Stop listening for messages posted to the given shard channels", since="7.0.0",
         complexity="O(N) where N is the number of clients already subscribed to a shard channel.")
def sunsubscribe_command(c, argv):
    ps = c.node.pubsub
    frames = []
    names = argv[1:] if len(argv) > 1 else list(c.shard_channels)
    for channel in names:
        ps.sunsubscribe(c, channel)
        frames.append(confirmation(c, SUNSUBSCRIBE, channel, len(c.shard_channels)))
    if not frames:
        frames.append(confirmation(c, SUNSUBSCRIBE, None, len(c.shard_channels)))
    return _reply(c, frames)


def push_sunsubscribe(c, channel: bytes) -> None:
    """Tell a client its shard channel is gone (the slot left this node)."""
    c.send(confirmation(c, SUNSUBSCRIBE, channel, len(c.shard_channels)))


# --- PUBLISH / SPUBLISH ---------------------------------------------------------------------


@command("publish", 3, "pubsub loading stale fast may_replicate sentinel", group="pubsub",
         summary="Post a message to a channel", since="2.0.0",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving channel and M "
                    "is the total number of subscribed patterns (by any client).")
def publish_command(c, argv):
    return integer(c.node.pubsub.publish_cluster(argv[1], argv[2]))


@command("spublish", 3, "pubsub loading stale fast may_replicate", keys=(1, 1, 1), group="pubsub",
         summary="Post a message to a shard channel", since="7.0.0",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.")
def spublish_command(c, argv):
    return integer(c.node.pubsub.publish_cluster(argv[1], argv[2], sharded=True))


# --- PUBSUB ------------------------------------------------------------------------------------


def _channel_list(table: dict, argv) -> bytes:
    if len(argv) == 3:
        match = compile_matcher(argv[2])
        names = [ch for ch in table if match(ch)]
    else:
        names = list(table)
    return b"*%d\r\n" % len(names) + b"".join(bulk(ch) for ch in names)


@subcommand("pubsub", "channels", -2, "pubsub loading stale", group="pubsub",
            summary="List active channels", since="2.8.0",
            complexity="O(N) where N is the number of active channels, and assuming constant time "
                       "pattern matching (relatively short channels and patterns)")
def pubsub_channels(c, argv):
    if len(argv) > 3:
        return subcommand_syntax_error(argv)
    return _channel_list(c.node.pubsub.channels, argv)


@subcommand("pubsub", "numsub", -2, "pubsub loading stale", group="pubsub",
            summary="Get the count of subscribers for channels", since="2.8.0",
            complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels")
def pubsub_numsub(c, argv):
    ps = c.node.pubsub
    parts = [b"*%d\r\n" % (2 * (len(argv) - 2))]
    for channel in argv[2:]:
        parts.append(bulk(channel) + integer(ps.numsub(channel)))
    return b"".join(parts)


@subcommand("pubsub", "numpat", 2, "pubsub loading stale", group="pubsub",
            summary="Get the count of unique patterns pattern subscriptions", since="2.8.0",
            complexity="O(1)")
def pubsub_numpat(c, argv):
    return integer(c.node.pubsub.numpat())


@subcommand("pubsub", "shardchannels", -2, "pubsub loading stale", group="pubsub",
            summary="List active shard channels", since="7.0.0",
            complexity="O(N) where N is the number of active shard channels, and assuming constant "
                       "time pattern matching (relatively short shard channels).")
def pubsub_shardchannels(c, argv):
    if len(argv) > 3:
        return subcommand_syntax_error(argv)
    return _channel_list(c.node.pubsub.shard_channels, argv)


@subcommand("pubsub", "shardnumsub", -2, "pubsub loading stale", group="pubsub",
            summary="Get the count of subscribers for shard channels", since="7.0.0",
            complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
                       "shard channels")
def pubsub_shardnumsub(c, argv):
    ps = c.node.pubsub
    parts = [b"*%d\r\n" % (2 * (len(argv) - 2))]
    for channel in argv[2:]:
        parts.append(bulk(channel) + integer(ps.shard_numsub(channel)))
    return b"".join(parts)


@subcommand("pubsub", "help", 2, "loading stale", group="pubsub",
            summary="Show helpful text about the different subcommands", since="6.2.0",
            complexity="O(1)")
def pubsub_help(c, argv):
    return help_reply("PUBSUB", _HELP)
