"""The Redis Cluster bus wire format (Redis 7.0, protocol version 1), as a pure codec.

Cluster nodes talk over a second TCP port in fixed-layout binary packets:
a 2256-byte header (``clusterMsg`` in Redis's cluster.h) followed by a body
whose shape depends on the message type. Every integer is big-endian
(network order). Each field below is declared once, in wire order, with its
offset and meaning, and ``struct`` packs the whole header in one call, so
the layout can be checked against cluster.h line by line.

This module does no I/O: ``encode`` turns a ``Message`` into bytes and
``BusReader`` turns a stream of bytes into ``Message`` values (``feed`` /
``next_message``, in the sans-I/O style), so it can be driven by an asyncio
link, by a test, or by a fuzzer alike.

Validation mirrors Redis 7.0, which has two tiers:

* Framing (the read handler): the first 8 bytes must carry the ``RCmb``
  signature and a total length of at least the header size. Otherwise the
  stream cannot be resynchronised and Redis drops the link. Here that is a
  ``BusFramingError``, and the reader stays failed.
* Packet checks (start of ``clusterProcessPacket``): the protocol version
  must be 1 and the total length must equal what the type and its counts
  imply. Otherwise Redis ignores that one packet and keeps the link. Here
  that is a ``BusPacketError``; the packet is consumed (skipped without
  being buffered when the check fails early) and the reader continues.

Unknown message types are not errors: Redis accepts any total length for
them and ignores them after header processing, so they decode to a
``Message`` with an ``Unknown`` body holding the raw payload.

Deliberate differences from Redis's C checks, all stricter and all about
packets no real node sends: an extension's declared length is read as the
full 32 bits (7.0 truncates it to 16) and must cover at least the
extension's own 8-byte header; a known extension too short for its layout
is rejected; lengths that would overflow 32-bit arithmetic are rejected
instead of wrapping; and a bad signature fails as soon as its first bytes
differ rather than after 8 bytes. A configurable upper bound on the total
length keeps a lying peer from making the reader buffer without limit.

Representation: node names, shard ids and bitmaps stay ``bytes`` (they are
compared and echoed, never interpreted); IPs and hostnames are ``str``
decoded as latin-1 up to their NUL, so any byte sequence decodes and
re-encodes unchanged.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Optional, Union

__all__ = [
    # sizes and fixed values
    "SIGNATURE",
    "PROTO_VER",
    "HEADER_LEN",
    "NAMELEN",
    "NULL_NAME",
    "IP_STR_LEN",
    "SLOT_BITMAP_LEN",
    "GOSSIP_LEN",
    "PING_EXT_HEADER_LEN",
    "DEFAULT_MAX_MESSAGE_LEN",
    # message types
    "TYPE_PING",
    "TYPE_PONG",
    "TYPE_MEET",
    "TYPE_FAIL",
    "TYPE_PUBLISH",
    "TYPE_FAILOVER_AUTH_REQUEST",
    "TYPE_FAILOVER_AUTH_ACK",
    "TYPE_UPDATE",
    "TYPE_MFSTART",
    "TYPE_MODULE",
    "TYPE_PUBLISHSHARD",
    "TYPE_COUNT",
    "TYPE_NAMES",
    "type_name",
    # node flags
    "NODE_MASTER",
    "NODE_SLAVE",
    "NODE_PFAIL",
    "NODE_FAIL",
    "NODE_MYSELF",
    "NODE_HANDSHAKE",
    "NODE_NOADDR",
    "NODE_MEET",
    "NODE_MIGRATE_TO",
    "NODE_NOFAILOVER",
    # message flags, cluster states, extension types
    "MFLAG0_PAUSED",
    "MFLAG0_FORCEACK",
    "MFLAG0_EXT_DATA",
    "CLUSTER_OK",
    "CLUSTER_FAIL",
    "EXT_HOSTNAME",
    "EXT_HUMAN_NODENAME",
    "EXT_FORGOTTEN_NODE",
    "EXT_SHARDID",
    # values
    "Header",
    "Gossip",
    "HostnameExt",
    "HumanNodenameExt",
    "ForgottenNodeExt",
    "ShardIdExt",
    "UnknownExt",
    "PingExt",
    "Ping",
    "Fail",
    "Publish",
    "Update",
    "Module",
    "Unknown",
    "Body",
    "Message",
    # codec
    "encode",
    "decode",
    "BusReader",
    "BusProtocolError",
    "BusFramingError",
    "BusPacketError",
]

# ---------------------------------------------------------------------------
# Sizes and fixed values
# ---------------------------------------------------------------------------

SIGNATURE = b"RCmb"  # "Redis Cluster message bus", first 4 bytes of every packet
PROTO_VER = 1  # CLUSTER_PROTO_VER: packets of any other version are ignored
NAMELEN = 40  # CLUSTER_NAMELEN: node names are 40 hex characters (sha1 size)
NULL_NAME = b"\x00" * NAMELEN  # "no node", e.g. the slaveof field of a master
IP_STR_LEN = 46  # NET_IP_STR_LEN: INET6_ADDRSTRLEN, NUL-terminated text
SLOT_BITMAP_LEN = 16384 // 8  # CLUSTER_SLOTS/8 bytes, bit i%8 of byte i//8
PING_EXT_HEADER_LEN = 8  # clusterMsgPingExt before its payload: length, type, unused

# ---------------------------------------------------------------------------
# Message types (clusterMsg.type)
# ---------------------------------------------------------------------------

TYPE_PING = 0  # ping; carries gossip about other nodes
TYPE_PONG = 1  # reply to PING/MEET, same layout; also broadcast on config change
TYPE_MEET = 2  # a PING that makes the receiver add the sender to its cluster
TYPE_FAIL = 3  # "mark node xxx as failing", broadcast once PFAIL reaches quorum
TYPE_PUBLISH = 4  # Pub/Sub PUBLISH propagated to every node
TYPE_FAILOVER_AUTH_REQUEST = 5  # a replica asks masters for a failover vote
TYPE_FAILOVER_AUTH_ACK = 6  # a master grants its vote
TYPE_UPDATE = 7  # "this node owns these slots at this config epoch"
TYPE_MFSTART = 8  # a replica asks its master to pause clients for manual failover
TYPE_MODULE = 9  # module cluster API message
TYPE_PUBLISHSHARD = 10  # Pub/Sub SPUBLISH propagated within a shard
TYPE_COUNT = 11  # number of known types (size of per-type stats arrays)

# The names Redis uses for each type in logs and in CLUSTER INFO's
# cluster_stats_messages_<name>_sent / _received counters.
TYPE_NAMES = {
    TYPE_PING: "ping",
    TYPE_PONG: "pong",
    TYPE_MEET: "meet",
    TYPE_FAIL: "fail",
    TYPE_PUBLISH: "publish",
    TYPE_FAILOVER_AUTH_REQUEST: "auth-req",
    TYPE_FAILOVER_AUTH_ACK: "auth-ack",
    TYPE_UPDATE: "update",
    TYPE_MFSTART: "mfstart",
    TYPE_MODULE: "module",
    TYPE_PUBLISHSHARD: "publishshard",
}


def type_name(msg_type: int) -> str:
    """Redis's name for a message type, ``"unknown"`` for any other value."""
    return TYPE_NAMES.get(msg_type, "unknown")


# ---------------------------------------------------------------------------
# Node flags (clusterMsg.flags, clusterMsgDataGossip.flags)
# ---------------------------------------------------------------------------

NODE_MASTER = 1  # the node is a master
NODE_SLAVE = 2  # the node is a replica
NODE_PFAIL = 4  # failure suspected by the sender, not yet agreed
NODE_FAIL = 8  # failure agreed by a majority of masters
NODE_MYSELF = 16  # this node is the sender itself
NODE_HANDSHAKE = 32  # no PONG received yet from this node
NODE_NOADDR = 64  # the address of this node is unknown
NODE_MEET = 128  # a MEET must be sent to this node
NODE_MIGRATE_TO = 256  # master eligible for replica migration
NODE_NOFAILOVER = 512  # replica will not try to fail over

# Message flags, in mflags[0]; mflags[1] and mflags[2] are unused in 7.0.
MFLAG0_PAUSED = 1 << 0  # sender is a master paused for manual failover
MFLAG0_FORCEACK = 1 << 1  # grant AUTH_REQUEST even though the master is up
MFLAG0_EXT_DATA = 1 << 2  # PING/PONG/MEET carries ping extensions after gossip

# Cluster state as seen by the sender (clusterMsg.state).
CLUSTER_OK = 0  # everything looks ok
CLUSTER_FAIL = 1  # the cluster can't work

# Ping extension types. Redis 7.0 sends and understands only HOSTNAME; the
# other numbers are those Redis 7.2 assigned, decoded here so that newer
# peers' extensions are readable rather than opaque.
EXT_HOSTNAME = 0  # announced hostname, NUL-terminated, padded to 8 bytes
EXT_HUMAN_NODENAME = 1  # (7.2) announced human readable node name, same shape
EXT_FORGOTTEN_NODE = 2  # (7.2) a node CLUSTER FORGET removed, and for how long
EXT_SHARDID = 3  # (7.2) the sender's shard id, 40 bytes

# ---------------------------------------------------------------------------
# Wire layouts. "!" = network byte order, no implicit padding.
# ---------------------------------------------------------------------------

# clusterMsg header, 2256 bytes. Offsets are those cluster.h asserts.
_HEADER = struct.Struct(
    "!"
    "4s"  # @0    sig: "RCmb"
    "I"  # @4    totlen: total length of this message, header included
    "H"  # @8    ver: protocol version, 1
    "H"  # @10   port: TCP base (client) port of the sender
    "H"  # @12   type: message type, TYPE_*
    "H"  # @14   count: number of gossip sections (PING/PONG/MEET only)
    "Q"  # @16   currentEpoch: the sender's current epoch
    "Q"  # @24   configEpoch: sender's config epoch, or its master's if a replica
    "Q"  # @32   offset: master repl offset, or processed offset for a replica
    "40s"  # @40   sender: name of the sending node
    "2048s"  # @80   myslots: slots the sender (or its master) serves, bitmap
    "40s"  # @2128 slaveof: name of the sender's master, NUL name if a master
    "46s"  # @2168 myip: sender's announced IP, NUL-terminated; all zero if none
    "H"  # @2214 extensions: number of ping extensions after the gossip
    "30s"  # @2216 notused1: reserved, zero
    "H"  # @2246 pport: sender's plaintext client port when port is TLS
    "H"  # @2248 cport: sender's cluster bus port
    "H"  # @2250 flags: sender's node flags, NODE_*
    "B"  # @2252 state: cluster state from the sender's point of view
    "3s"  # @2253 mflags: message flags, MFLAG0_* in the first byte
)
HEADER_LEN = _HEADER.size  # CLUSTERMSG_MIN_LEN: 2256, smallest valid packet
assert HEADER_LEN == 2256

# Largest packet the reader accepts by default, in bytes. The biggest thing a
# node relays is a PUBLISH, whose channel and message together come from one
# client command, capped by client-query-buffer-limit (1 GB by default).
DEFAULT_MAX_MESSAGE_LEN = HEADER_LEN + 8 + (1 << 30)

_TYPE_AT = 12  # offset of the type field, readable before the header is complete
_COUNT_AT = 14  # offset of the count field
_MFLAGS_AT = 2253  # offset of mflags

# clusterMsgDataGossip: what the sender knows about one other node, 104 bytes.
_GOSSIP = struct.Struct(
    "!"
    "40s"  # +0   nodename
    "I"  # +40  ping_sent: seconds (unix time) of the last PING sent to it
    "I"  # +44  pong_received: seconds (unix time) of the last PONG from it
    "46s"  # +48  ip: its IP address, NUL-terminated
    "H"  # +94  port: its base (client) port
    "H"  # +96  cport: its cluster bus port
    "H"  # +98  flags: its node flags as the sender sees them
    "H"  # +100 pport: its plaintext port when port is TLS
    "H"  # +102 notused1
)
GOSSIP_LEN = _GOSSIP.size
assert GOSSIP_LEN == 104

# clusterMsgPingExt header, followed by the payload padded to 8 bytes.
_EXT_HEADER = struct.Struct(
    "!"
    "I"  # +0 length: of this extension, header and padding included (multiple of 8)
    "H"  # +4 type: EXT_*
    "H"  # +6 unused: zero
)
assert _EXT_HEADER.size == PING_EXT_HEADER_LEN

# Payload of EXT_FORGOTTEN_NODE (clusterMsgPingExtForgottenNode), 48 bytes.
_EXT_FORGOTTEN = struct.Struct(
    "!"
    "40s"  # +0  name: the forgotten node
    "Q"  # +40 ttl: seconds it stays on the receiver's blacklist
)

# FAIL body (clusterMsgDataFail), 40 bytes.
_FAIL = struct.Struct(
    "!"
    "40s"  # +0 nodename: the node to mark as FAIL
)

# PUBLISH / PUBLISHSHARD body prefix (clusterMsgDataPublish without its
# 8-byte placeholder); then channel bytes, then message bytes.
_PUBLISH = struct.Struct(
    "!"
    "I"  # +0 channel_len
    "I"  # +4 message_len
)

# UPDATE body (clusterMsgDataUpdate), 2096 bytes.
_UPDATE = struct.Struct(
    "!"
    "Q"  # +0  configEpoch: config epoch of the slots owner
    "40s"  # +8  nodename: name of the slots owner
    "2048s"  # +48 slots: its slots bitmap
)

# MODULE body prefix (clusterMsgModule without its 3-byte placeholder);
# then ``len`` payload bytes.
_MODULE = struct.Struct(
    "!"
    "Q"  # +0  module_id: id of the sending module
    "I"  # +8  len: payload length
    "B"  # +12 type: module message type, 0..255
)

_U32_MAX = 0xFFFFFFFF  # totlen is a 32-bit field

_PING_TYPES = frozenset((TYPE_PING, TYPE_PONG, TYPE_MEET))
_PUBLISH_TYPES = frozenset((TYPE_PUBLISH, TYPE_PUBLISHSHARD))
_HEADER_ONLY_TYPES = frozenset(
    (TYPE_FAILOVER_AUTH_REQUEST, TYPE_FAILOVER_AUTH_ACK, TYPE_MFSTART)
)

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class BusProtocolError(Exception):
    """Malformed cluster bus input. The only exception bad bytes can raise."""


class BusFramingError(BusProtocolError):
    """The stream cannot be resynchronised (bad signature or length).

    Redis closes the link in this case; the reader stays failed.
    """


class BusPacketError(BusProtocolError):
    """One packet is invalid (version or length mismatch).

    Redis ignores such a packet and keeps the link; the reader has consumed
    (or will silently skip) its bytes and can go on.
    """


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Header:
    """The clusterMsg header, fields in wire order.

    ``totlen`` is derived by ``encode``, and so are ``count`` and
    ``extensions`` for PING/PONG/MEET (from the body); the values given are
    ignored there. ``decode`` fills them with what was on the wire.
    ``mflags`` is encoded as given, plus ``MFLAG0_EXT_DATA`` when a ping
    body carries extensions.
    """

    sig: bytes = SIGNATURE  # 4 bytes
    totlen: int = 0  # total packet length
    ver: int = PROTO_VER
    port: int = 0  # client port
    type: int  # TYPE_*
    count: int = 0  # gossip sections
    current_epoch: int = 0
    config_epoch: int = 0
    offset: int = 0  # replication offset
    sender: bytes  # 40-byte node name
    myslots: bytes = field(default=bytes(SLOT_BITMAP_LEN), repr=False)  # 2048-byte bitmap
    slaveof: Optional[bytes] = None  # master's 40-byte name; None = NULL name
    myip: str = ""  # announced IP, "" = none (receiver uses the socket's peer)
    extensions: int = 0  # ping extensions count
    pport: int = 0  # plaintext client port when port is TLS
    cport: int = 0  # cluster bus port
    flags: int = 0  # NODE_*
    state: int = CLUSTER_OK
    mflags: bytes = b"\x00\x00\x00"  # 3 bytes, MFLAG0_* in mflags[0]


@dataclass(slots=True, kw_only=True)
class Gossip:
    """One clusterMsgDataGossip section: the sender's view of another node."""

    nodename: bytes  # 40-byte node name
    ping_sent: int = 0  # unix seconds, 0 if no ping pending
    pong_received: int = 0  # unix seconds
    ip: str = ""
    port: int = 0
    cport: int = 0
    flags: int = 0  # NODE_*
    pport: int = 0


@dataclass(slots=True)
class HostnameExt:
    """EXT_HOSTNAME: the sender's cluster-announce-hostname."""

    hostname: str


@dataclass(slots=True)
class HumanNodenameExt:
    """EXT_HUMAN_NODENAME (Redis 7.2): the sender's human readable name."""

    nodename: str


@dataclass(slots=True)
class ForgottenNodeExt:
    """EXT_FORGOTTEN_NODE (Redis 7.2): forget ``name`` for ``ttl`` seconds."""

    name: bytes  # 40-byte node name
    ttl: int  # seconds


@dataclass(slots=True)
class ShardIdExt:
    """EXT_SHARDID (Redis 7.2): the sender's 40-byte shard id."""

    shard_id: bytes


@dataclass(slots=True)
class UnknownExt:
    """An extension of a type this codec does not know, kept raw.

    ``data`` is everything after the 8-byte extension header, padding
    included, so it re-encodes byte for byte (its length must be a
    multiple of 8).
    """

    type: int
    data: bytes


PingExt = Union[HostnameExt, HumanNodenameExt, ForgottenNodeExt, ShardIdExt, UnknownExt]


@dataclass(slots=True)
class Ping:
    """Body of PING, PONG and MEET: gossip sections, then ping extensions."""

    gossip: list[Gossip] = field(default_factory=list)
    extensions: list[PingExt] = field(default_factory=list)


@dataclass(slots=True)
class Fail:
    """Body of FAIL: the node the sender declares failed."""

    nodename: bytes  # 40-byte node name


@dataclass(slots=True)
class Publish:
    """Body of PUBLISH and PUBLISHSHARD."""

    channel: bytes
    message: bytes


@dataclass(slots=True)
class Update:
    """Body of UPDATE: ``nodename`` serves ``slots`` at ``config_epoch``."""

    config_epoch: int
    nodename: bytes  # 40-byte node name
    slots: bytes = field(repr=False)  # 2048-byte bitmap


@dataclass(slots=True)
class Module:
    """Body of MODULE: a module's message, opaque to the cluster."""

    module_id: int  # 64-bit
    type: int  # 0..255
    payload: bytes


@dataclass(slots=True)
class Unknown:
    """Body of a message whose type this codec does not know, kept raw."""

    payload: bytes


# FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK and MFSTART have no body: None.
Body = Union[Ping, Fail, Publish, Update, Module, Unknown, None]


@dataclass(slots=True)
class Message:
    """One cluster bus packet: a header and the body its type calls for."""

    header: Header
    body: Body = None

    @property
    def type(self) -> int:
        return self.header.type


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def _fixed(value: bytes, size: int, what: str) -> bytes:
    if len(value) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(value)}")
    return value


def _ip_bytes(value: str, what: str) -> bytes:
    raw = value.encode("latin-1")
    # One byte is kept for the NUL terminator Redis relies on.
    if len(raw) >= IP_STR_LEN or b"\x00" in raw:
        raise ValueError(f"{what} must be at most {IP_STR_LEN - 1} bytes without NUL")
    return raw


def _cstr(raw: bytes) -> str:
    """Text up to the first NUL (or all of it), one char per byte."""
    end = raw.find(b"\x00")
    return (raw if end < 0 else raw[:end]).decode("latin-1")


def _encode_string_ext(ext_type: int, text: str, what: str) -> bytes:
    raw = text.encode("latin-1")
    if b"\x00" in raw:
        raise ValueError(f"{what} must not contain NUL")
    padded = (len(raw) + 1 + 7) // 8 * 8  # NUL terminator, then 8-byte alignment
    return _EXT_HEADER.pack(PING_EXT_HEADER_LEN + padded, ext_type, 0) + raw.ljust(
        padded, b"\x00"
    )


def _encode_ext(ext: PingExt) -> bytes:
    if isinstance(ext, HostnameExt):
        return _encode_string_ext(EXT_HOSTNAME, ext.hostname, "hostname")
    if isinstance(ext, HumanNodenameExt):
        return _encode_string_ext(EXT_HUMAN_NODENAME, ext.nodename, "human nodename")
    if isinstance(ext, ForgottenNodeExt):
        payload = _EXT_FORGOTTEN.pack(_fixed(ext.name, NAMELEN, "forgotten node name"), ext.ttl)
        return _EXT_HEADER.pack(PING_EXT_HEADER_LEN + len(payload), EXT_FORGOTTEN_NODE, 0) + payload
    if isinstance(ext, ShardIdExt):
        payload = _fixed(ext.shard_id, NAMELEN, "shard id")
        return _EXT_HEADER.pack(PING_EXT_HEADER_LEN + len(payload), EXT_SHARDID, 0) + payload
    if isinstance(ext, UnknownExt):
        if len(ext.data) % 8:
            raise ValueError("unknown extension data must be a multiple of 8 bytes")
        return _EXT_HEADER.pack(PING_EXT_HEADER_LEN + len(ext.data), ext.type, 0) + ext.data
    raise TypeError(f"not a ping extension: {ext!r}")


def _encode_gossip(g: Gossip) -> bytes:
    return _GOSSIP.pack(
        _fixed(g.nodename, NAMELEN, "gossip nodename"),
        g.ping_sent,
        g.pong_received,
        _ip_bytes(g.ip, "gossip ip"),
        g.port,
        g.cport,
        g.flags,
        g.pport,
        0,
    )


def _expect_body(msg: Message, kind: type) -> None:
    if not isinstance(msg.body, kind):
        raise TypeError(
            f"a {type_name(msg.header.type)} message needs a {kind.__name__} body, "
            f"got {type(msg.body).__name__}"
        )


def encode(msg: Message) -> bytes:
    """The wire bytes of ``msg``.

    Raises ``TypeError`` if the body does not suit the header's type and
    ``ValueError`` (``struct.error`` for out-of-range integers) if a field
    cannot be represented; those are caller bugs, not protocol errors.
    """
    h = msg.header
    msg_type = h.type
    count = h.count
    n_ext = h.extensions
    mflags = _fixed(h.mflags, 3, "mflags")

    if msg_type in _PING_TYPES:
        _expect_body(msg, Ping)
        body_parts = [_encode_gossip(g) for g in msg.body.gossip]
        count = len(body_parts)
        n_ext = len(msg.body.extensions)
        if n_ext:
            body_parts.extend(_encode_ext(e) for e in msg.body.extensions)
            mflags = bytes((mflags[0] | MFLAG0_EXT_DATA,)) + mflags[1:]
        body = b"".join(body_parts)
    elif msg_type == TYPE_FAIL:
        _expect_body(msg, Fail)
        body = _FAIL.pack(_fixed(msg.body.nodename, NAMELEN, "fail nodename"))
    elif msg_type in _PUBLISH_TYPES:
        _expect_body(msg, Publish)
        p = msg.body
        body = _PUBLISH.pack(len(p.channel), len(p.message)) + p.channel + p.message
    elif msg_type == TYPE_UPDATE:
        _expect_body(msg, Update)
        u = msg.body
        body = _UPDATE.pack(
            u.config_epoch,
            _fixed(u.nodename, NAMELEN, "update nodename"),
            _fixed(u.slots, SLOT_BITMAP_LEN, "update slots"),
        )
    elif msg_type == TYPE_MODULE:
        _expect_body(msg, Module)
        m = msg.body
        body = _MODULE.pack(m.module_id, len(m.payload), m.type) + m.payload
    elif msg_type in _HEADER_ONLY_TYPES:
        if msg.body is not None:
            raise TypeError(f"a {type_name(msg_type)} message has no body")
        body = b""
    else:
        if msg.body is None:
            body = b""
        else:
            _expect_body(msg, Unknown)
            body = msg.body.payload

    totlen = HEADER_LEN + len(body)
    if totlen > _U32_MAX:
        raise ValueError("message too long for the 32-bit totlen field")
    header = _HEADER.pack(
        _fixed(h.sig, 4, "sig"),
        totlen,
        h.ver,
        h.port,
        msg_type,
        count,
        h.current_epoch,
        h.config_epoch,
        h.offset,
        _fixed(h.sender, NAMELEN, "sender"),
        _fixed(h.myslots, SLOT_BITMAP_LEN, "myslots"),
        NULL_NAME if h.slaveof is None else _fixed(h.slaveof, NAMELEN, "slaveof"),
        _ip_bytes(h.myip, "myip"),
        n_ext,
        bytes(30),
        h.pport,
        h.cport,
        h.flags,
        h.state,
        mflags,
    )
    return header + body


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------


def _prefix_len(msg_type: int) -> int:
    """Body bytes needed, beyond the header, to know the packet's expected length."""
    if msg_type in _PUBLISH_TYPES:
        return _PUBLISH.size
    if msg_type == TYPE_MODULE:
        return _MODULE.size
    return 0


def _check_prefix(buf, totlen: int) -> None:
    """Length checks that need only the header and the body's length prefix.

    ``buf`` holds at least ``min(totlen, HEADER_LEN + _prefix_len(type))``
    bytes. Raises ``BusPacketError``; returns when the packet may be valid
    (PING/PONG/MEET extensions are walked later, on the whole packet).
    """
    ver = int.from_bytes(buf[8:10], "big")
    if ver != PROTO_VER:
        raise BusPacketError(f"unsupported cluster bus protocol version {ver}")
    msg_type = int.from_bytes(buf[_TYPE_AT:_TYPE_AT + 2], "big")
    if msg_type in _PING_TYPES:
        explen = HEADER_LEN + GOSSIP_LEN * int.from_bytes(buf[_COUNT_AT:_COUNT_AT + 2], "big")
        if buf[_MFLAGS_AT] & MFLAG0_EXT_DATA:
            if explen > totlen:
                raise _length_error(msg_type, totlen, explen)
            return
    elif msg_type == TYPE_FAIL:
        explen = HEADER_LEN + _FAIL.size
    elif msg_type in _PUBLISH_TYPES:
        if totlen < HEADER_LEN + _PUBLISH.size:
            raise _length_error(msg_type, totlen, HEADER_LEN + _PUBLISH.size)
        channel_len, message_len = _PUBLISH.unpack_from(buf, HEADER_LEN)
        explen = HEADER_LEN + _PUBLISH.size + channel_len + message_len
    elif msg_type in _HEADER_ONLY_TYPES:
        explen = HEADER_LEN
    elif msg_type == TYPE_UPDATE:
        explen = HEADER_LEN + _UPDATE.size
    elif msg_type == TYPE_MODULE:
        if totlen < HEADER_LEN + _MODULE.size:
            raise _length_error(msg_type, totlen, HEADER_LEN + _MODULE.size)
        payload_len = _MODULE.unpack_from(buf, HEADER_LEN)[1]
        explen = HEADER_LEN + _MODULE.size + payload_len
    else:
        return  # unknown type: Redis takes any length as well formed
    if explen != totlen:
        raise _length_error(msg_type, totlen, explen)


def _length_error(msg_type: int, totlen: int, explen: int) -> BusPacketError:
    return BusPacketError(
        f"invalid {type_name(msg_type)} packet of length {totlen} "
        f"but expected length {explen}"
    )


def _decode_ext(ext_type: int, data: bytes) -> PingExt:
    if ext_type == EXT_HOSTNAME:
        return HostnameExt(_cstr(data))
    if ext_type == EXT_HUMAN_NODENAME:
        return HumanNodenameExt(_cstr(data))
    if ext_type == EXT_FORGOTTEN_NODE:
        if len(data) < _EXT_FORGOTTEN.size:
            raise BusPacketError(f"forgotten-node extension too short ({len(data)} bytes)")
        name, ttl = _EXT_FORGOTTEN.unpack_from(data)
        return ForgottenNodeExt(name, ttl)
    if ext_type == EXT_SHARDID:
        if len(data) < NAMELEN:
            raise BusPacketError(f"shard-id extension too short ({len(data)} bytes)")
        return ShardIdExt(data[:NAMELEN])
    return UnknownExt(ext_type, data)


def _decode_ping(pkt: bytes, header: Header) -> Ping:
    totlen = len(pkt)
    count = header.count
    gossip_end = HEADER_LEN + GOSSIP_LEN * count
    # _check_prefix has established gossip_end <= totlen.
    gossip = [
        Gossip(
            nodename=name,
            ping_sent=ping_sent,
            pong_received=pong_received,
            ip=_cstr(ip),
            port=port,
            cport=cport,
            flags=flags,
            pport=pport,
        )
        for name, ping_sent, pong_received, ip, port, cport, flags, pport, _unused in (
            _GOSSIP.iter_unpack(pkt[HEADER_LEN:gossip_end])
        )
    ]
    exts: list[PingExt] = []
    pos = gossip_end
    if header.mflags[0] & MFLAG0_EXT_DATA:
        for _ in range(header.extensions):
            if totlen - pos < PING_EXT_HEADER_LEN:
                raise BusPacketError(
                    f"{type_name(header.type)} packet extension header exceeds "
                    f"total packet length ({totlen})"
                )
            extlen, ext_type, _unused = _EXT_HEADER.unpack_from(pkt, pos)
            if extlen % 8:
                raise BusPacketError(
                    f"{type_name(header.type)} packet extension without proper "
                    f"padding ({extlen} bytes)"
                )
            if extlen < PING_EXT_HEADER_LEN:
                raise BusPacketError(f"ping extension length {extlen} is below its header size")
            if totlen - pos < extlen:
                raise BusPacketError(
                    f"{type_name(header.type)} packet with extension data that "
                    f"exceeds total packet length ({totlen})"
                )
            exts.append(_decode_ext(ext_type, pkt[pos + PING_EXT_HEADER_LEN:pos + extlen]))
            pos += extlen
    if pos != totlen:
        raise _length_error(header.type, totlen, pos)
    return Ping(gossip, exts)


def _decode_header(pkt: bytes) -> Header:
    (
        sig,
        totlen,
        ver,
        port,
        msg_type,
        count,
        current_epoch,
        config_epoch,
        offset,
        sender,
        myslots,
        slaveof,
        myip,
        extensions,
        _notused1,
        pport,
        cport,
        flags,
        state,
        mflags,
    ) = _HEADER.unpack_from(pkt)
    return Header(
        sig=sig,
        totlen=totlen,
        ver=ver,
        port=port,
        type=msg_type,
        count=count,
        current_epoch=current_epoch,
        config_epoch=config_epoch,
        offset=offset,
        sender=sender,
        myslots=myslots,
        slaveof=None if slaveof == NULL_NAME else slaveof,
        myip=_cstr(myip),
        extensions=extensions,
        pport=pport,
        cport=cport,
        flags=flags,
        state=state,
        mflags=mflags,
    )


def _decode_checked(pkt: bytes) -> Message:
    """Decode one packet whose framing and length prefix are already checked."""
    header = _decode_header(pkt)
    msg_type = header.type
    if msg_type in _PING_TYPES:
        body: Body = _decode_ping(pkt, header)
    elif msg_type == TYPE_FAIL:
        body = Fail(_FAIL.unpack_from(pkt, HEADER_LEN)[0])
    elif msg_type in _PUBLISH_TYPES:
        channel_len = _PUBLISH.unpack_from(pkt, HEADER_LEN)[0]
        start = HEADER_LEN + _PUBLISH.size
        body = Publish(pkt[start:start + channel_len], pkt[start + channel_len:])
    elif msg_type == TYPE_UPDATE:
        config_epoch, nodename, slots = _UPDATE.unpack_from(pkt, HEADER_LEN)
        body = Update(config_epoch, nodename, slots)
    elif msg_type == TYPE_MODULE:
        module_id, _len, module_type = _MODULE.unpack_from(pkt, HEADER_LEN)
        body = Module(module_id, module_type, pkt[HEADER_LEN + _MODULE.size:])
    elif msg_type in _HEADER_ONLY_TYPES:
        body = None
    else:
        body = Unknown(pkt[HEADER_LEN:])
    return Message(header, body)


def _check_framing(buf, max_len: int) -> int:
    """Check the first 8 bytes (signature, totlen); return totlen."""
    if buf[:4] != SIGNATURE:
        raise BusFramingError("bad signature on cluster bus")
    totlen = int.from_bytes(buf[4:8], "big")
    if totlen < HEADER_LEN:
        raise BusFramingError(f"cluster bus message length {totlen} below header size")
    if totlen > max_len:
        raise BusFramingError(f"cluster bus message length {totlen} above limit {max_len}")
    return totlen


def decode(data: bytes, *, max_message_len: int = DEFAULT_MAX_MESSAGE_LEN) -> Message:
    """Decode exactly one complete packet.

    Raises ``BusFramingError`` or ``BusPacketError`` as the reader would,
    and ``BusPacketError`` if ``data`` is shorter or longer than the
    packet's total length.
    """
    data = bytes(data)
    if len(data) < 8:
        raise BusFramingError("cluster bus packet shorter than its 8-byte preamble")
    totlen = _check_framing(data, max_message_len)
    if len(data) != totlen:
        raise BusPacketError(f"packet declares {totlen} bytes but {len(data)} were given")
    _check_prefix(data, totlen)
    return _decode_checked(data)


# ---------------------------------------------------------------------------
# Incremental reader
# ---------------------------------------------------------------------------


class BusReader:
    """Turns a cluster bus byte stream into ``Message`` values.

    ``feed`` appends bytes; ``next_message`` returns the next complete
    message, or ``None`` when more bytes are needed. Invalid input raises
    ``BusFramingError`` (fatal: every later call raises it again and fed
    bytes are dropped) or ``BusPacketError`` (that packet is discarded,
    the next call carries on).

    Memory is bounded by ``max_message_len``: a packet is only buffered
    once its first 8 bytes promise no more than that, and a packet already
    known to be invalid from its header is skipped as it streams in
    rather than buffered.
    """

    __slots__ = ("_buf", "_max_len", "_skip", "_error")

    def __init__(self, max_message_len: int = DEFAULT_MAX_MESSAGE_LEN) -> None:
        if max_message_len < HEADER_LEN:
            raise ValueError(f"max_message_len must be at least {HEADER_LEN}")
        self._buf = bytearray()
        self._max_len = max_message_len
        self._skip = 0  # bytes of an invalid packet still to discard
        self._error: Optional[BusFramingError] = None

    @property
    def buffered(self) -> int:
        """Bytes held, waiting to complete a message."""
        return len(self._buf)

    @property
    def failed(self) -> bool:
        """True once a framing error has made the stream unusable."""
        return self._error is not None

    def feed(self, data: bytes) -> None:
        """Append bytes received from the link."""
        if self._error is not None:
            return
        if self._skip:
            n = min(self._skip, len(data))
            self._skip -= n
            if n:
                data = memoryview(data)[n:]
        if data:
            self._buf += data

    def next_message(self) -> Optional[Message]:
        """The next complete message, or ``None`` if more bytes are needed."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        have = len(buf)
        if have < 8:
            # Fail fast on a bad signature even before the length arrives.
            if buf[:4] != SIGNATURE[:have]:
                self._fail(BusFramingError("bad signature on cluster bus"))
            return None
        try:
            totlen = _check_framing(buf, self._max_len)
        except BusFramingError as exc:
            self._fail(exc)
        msg_type = int.from_bytes(buf[_TYPE_AT:_TYPE_AT + 2], "big")
        need = min(totlen, HEADER_LEN + _prefix_len(msg_type))
        if have < need:
            return None
        try:
            _check_prefix(buf, totlen)
        except BusPacketError:
            self._discard(totlen)
            raise
        if have < totlen:
            return None
        pkt = bytes(buf[:totlen])
        del buf[:totlen]
        return _decode_checked(pkt)

    def _discard(self, totlen: int) -> None:
        n = min(totlen, len(self._buf))
        del self._buf[:n]
        self._skip = totlen - n

    def _fail(self, exc: BusFramingError) -> None:
        self._error = exc
        self._buf.clear()
        raise exc
