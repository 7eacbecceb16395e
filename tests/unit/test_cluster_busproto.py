"""Tests for shardis.cluster.busproto, the cluster bus codec.

Three layers: the byte layout checked against the offsets cluster.h
asserts; property tests (round trips, chunked streams, fuzzed bytes that
may only raise BusProtocolError); and live traffic with real redis-server
7.0 nodes, which must accept what ``encode`` builds and whose packets
``BusReader`` must decode into fields that agree with what the nodes say
about themselves over RESP.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from contextlib import ExitStack, contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.cluster import busproto as bp
from shardis.cluster.busproto import (
    HEADER_LEN,
    BusFramingError,
    BusPacketError,
    BusProtocolError,
    BusReader,
    Fail,
    ForgottenNodeExt,
    Gossip,
    Header,
    HostnameExt,
    HumanNodenameExt,
    Message,
    Module,
    Ping,
    Publish,
    ShardIdExt,
    Unknown,
    UnknownExt,
    Update,
    decode,
    encode,
)
from shardis.cluster.slots import bitmap_to_ranges, ranges_to_bitmap

# --- helpers ------------------------------------------------------------------

NAME_A = b"a" * 40
NAME_B = b"0123456789abcdef0123456789abcdef01234567"


def header(msg_type: int, **kw) -> Header:
    kw.setdefault("sender", NAME_A)
    return Header(type=msg_type, **kw)


def read_all(reader: BusReader) -> list:
    out = []
    while (msg := reader.next_message()) is not None:
        out.append(msg)
    return out


def normalized(msg: Message, wire: bytes) -> Message:
    """What decode(encode(msg)) must give: the derived header fields filled in."""
    h = msg.header
    mflags = h.mflags
    if msg.type in (bp.TYPE_PING, bp.TYPE_PONG, bp.TYPE_MEET):
        count = len(msg.body.gossip)
        n_ext = len(msg.body.extensions)
        if n_ext:
            mflags = bytes([mflags[0] | bp.MFLAG0_EXT_DATA]) + mflags[1:]
    else:
        count, n_ext = h.count, h.extensions
    return Message(
        dataclasses.replace(h, totlen=len(wire), count=count, extensions=n_ext, mflags=mflags),
        msg.body,
    )


# --- constants and layout -----------------------------------------------------


def test_constants_match_cluster_h():
    assert bp.SIGNATURE == b"RCmb"
    assert bp.PROTO_VER == 1
    assert HEADER_LEN == 2256
    assert bp.GOSSIP_LEN == 104
    assert bp.NAMELEN == 40
    assert bp.IP_STR_LEN == 46
    assert [
        bp.NODE_MASTER, bp.NODE_SLAVE, bp.NODE_PFAIL, bp.NODE_FAIL, bp.NODE_MYSELF,
        bp.NODE_HANDSHAKE, bp.NODE_NOADDR, bp.NODE_MEET, bp.NODE_MIGRATE_TO, bp.NODE_NOFAILOVER,
    ] == [1 << i for i in range(10)]
    assert [
        bp.TYPE_PING, bp.TYPE_PONG, bp.TYPE_MEET, bp.TYPE_FAIL, bp.TYPE_PUBLISH,
        bp.TYPE_FAILOVER_AUTH_REQUEST, bp.TYPE_FAILOVER_AUTH_ACK, bp.TYPE_UPDATE,
        bp.TYPE_MFSTART, bp.TYPE_MODULE, bp.TYPE_PUBLISHSHARD, bp.TYPE_COUNT,
    ] == list(range(12))
    assert (bp.MFLAG0_PAUSED, bp.MFLAG0_FORCEACK, bp.MFLAG0_EXT_DATA) == (1, 2, 4)
    assert bp.type_name(bp.TYPE_FAILOVER_AUTH_REQUEST) == "auth-req"
    assert bp.type_name(99) == "unknown"


def test_header_field_offsets():
    slots = ranges_to_bitmap([(0, 0), (16383, 16383)])
    msg = Message(
        header(
            bp.TYPE_FAILOVER_AUTH_REQUEST,
            port=0x1122,
            count=0x3344,
            current_epoch=0x0102030405060708,
            config_epoch=0x1112131415161718,
            offset=0x2122232425262728,
            myslots=slots,
            slaveof=NAME_B,
            myip="127.0.0.1",
            extensions=0x5566,
            pport=0x7788,
            cport=0x99AA,
            flags=0xBBCC,
            state=0xDD,
            mflags=b"\x01\x02\x03",
        )
    )
    raw = encode(msg)
    assert len(raw) == HEADER_LEN
    assert raw[0:4] == b"RCmb"
    assert raw[4:8] == HEADER_LEN.to_bytes(4, "big")
    assert raw[8:10] == b"\x00\x01"
    assert raw[10:12] == b"\x11\x22"
    assert raw[12:14] == bp.TYPE_FAILOVER_AUTH_REQUEST.to_bytes(2, "big")
    assert raw[14:16] == b"\x33\x44"
    assert raw[16:24] == bytes(range(1, 9))
    assert raw[24:32] == bytes(range(0x11, 0x19))
    assert raw[32:40] == bytes(range(0x21, 0x29))
    assert raw[40:80] == NAME_A
    assert raw[80] == 0x01 and raw[2127] == 0x80 and raw[80:2128] == slots
    assert raw[2128:2168] == NAME_B
    assert raw[2168:2214] == b"127.0.0.1".ljust(46, b"\x00")
    assert raw[2214:2216] == b"\x55\x66"
    assert raw[2216:2246] == bytes(30)
    assert raw[2246:2248] == b"\x77\x88"
    assert raw[2248:2250] == b"\x99\xaa"
    assert raw[2250:2252] == b"\xbb\xcc"
    assert raw[2252] == 0xDD
    assert raw[2253:2256] == b"\x01\x02\x03"
    assert decode(raw) == normalized(msg, raw)


def test_body_layouts():
    g = Gossip(nodename=NAME_B, ping_sent=1, pong_received=2, ip="::1", port=3, cport=4, flags=5, pport=6)
    raw = encode(Message(header(bp.TYPE_PING), Ping([g], [HostnameExt("h")])))
    body = raw[HEADER_LEN:]
    assert raw[14:16] == b"\x00\x01"  # count
    assert raw[2214:2216] == b"\x00\x01"  # extensions
    assert raw[2253] & bp.MFLAG0_EXT_DATA
    assert body[:104] == struct.pack("!40sII46sHHHHH", NAME_B, 1, 2, b"::1", 3, 4, 5, 6, 0)
    # Hostname extension: length 16 (8 header + "h\0" padded to 8), type 0.
    assert body[104:] == struct.pack("!IHH", 16, 0, 0) + b"h" + bytes(7)

    # An 8-byte name needs 9 bytes with its NUL: payload padded to 16.
    raw = encode(Message(header(bp.TYPE_PING), Ping([], [HostnameExt("12345678")])))
    assert raw[HEADER_LEN:] == struct.pack("!IHH", 24, 0, 0) + b"12345678" + bytes(8)

    raw = encode(Message(header(bp.TYPE_PUBLISH), Publish(b"chan", b"hello")))
    assert raw[HEADER_LEN:] == struct.pack("!II", 4, 5) + b"chan" + b"hello"
    raw = encode(Message(header(bp.TYPE_FAIL), Fail(NAME_B)))
    assert raw[HEADER_LEN:] == NAME_B
    raw = encode(Message(header(bp.TYPE_UPDATE), Update(7, NAME_B, bytes(2048))))
    assert raw[HEADER_LEN:] == struct.pack("!Q", 7) + NAME_B + bytes(2048)
    raw = encode(Message(header(bp.TYPE_MODULE), Module(0xABCDEF, 9, b"xyz")))
    assert raw[HEADER_LEN:] == struct.pack("!QIB", 0xABCDEF, 3, 9) + b"xyz"
    raw = encode(Message(header(bp.TYPE_PING), Ping([], [ForgottenNodeExt(NAME_B, 30), ShardIdExt(NAME_A)])))
    assert raw[HEADER_LEN:] == (
        struct.pack("!IHH", 56, 2, 0) + NAME_B + struct.pack("!Q", 30)
        + struct.pack("!IHH", 48, 3, 0) + NAME_A
    )


def test_encode_rejects_mismatched_bodies():
    with pytest.raises(TypeError):
        encode(Message(header(bp.TYPE_PING), Fail(NAME_B)))
    with pytest.raises(TypeError):
        encode(Message(header(bp.TYPE_MFSTART), Ping()))
    with pytest.raises(ValueError):
        encode(Message(header(bp.TYPE_FAIL), Fail(b"short")))
    with pytest.raises(ValueError):
        encode(Message(header(bp.TYPE_MFSTART, myip="x" * 46)))


# --- strategies -----------------------------------------------------------------

names = st.binary(min_size=40, max_size=40)
ips = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=45)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
nul_free_text = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=60)

gossips = st.builds(
    Gossip, nodename=names, ping_sent=u32, pong_received=u32, ip=ips,
    port=u16, cport=u16, flags=u16, pport=u16,
)
ping_exts = st.one_of(
    st.builds(HostnameExt, nul_free_text),
    st.builds(HumanNodenameExt, nul_free_text),
    st.builds(ForgottenNodeExt, names, u64),
    st.builds(ShardIdExt, names),
    st.builds(
        UnknownExt,
        st.integers(4, 0xFFFF),
        st.integers(0, 6).flatmap(lambda n: st.binary(min_size=8 * n, max_size=8 * n)),
    ),
)
headers = st.builds(
    Header,
    ver=st.just(1),
    port=u16,
    type=st.just(0),
    count=u16,
    current_epoch=u64,
    config_epoch=u64,
    offset=u64,
    sender=names,
    myslots=st.binary(min_size=2048, max_size=2048),
    slaveof=st.one_of(st.none(), names.filter(lambda n: n != bp.NULL_NAME)),
    myip=ips,
    extensions=u16,
    pport=u16,
    cport=u16,
    flags=u16,
    state=st.integers(0, 255),
    mflags=st.binary(min_size=3, max_size=3).map(lambda m: bytes([m[0] & ~bp.MFLAG0_EXT_DATA]) + m[1:]),
)
type_and_body = st.one_of(
    st.tuples(
        st.sampled_from([bp.TYPE_PING, bp.TYPE_PONG, bp.TYPE_MEET]),
        st.builds(Ping, st.lists(gossips, max_size=5), st.lists(ping_exts, max_size=4)),
    ),
    st.tuples(st.just(bp.TYPE_FAIL), st.builds(Fail, names)),
    st.tuples(
        st.sampled_from([bp.TYPE_PUBLISH, bp.TYPE_PUBLISHSHARD]),
        st.builds(Publish, st.binary(max_size=50), st.binary(max_size=200)),
    ),
    st.tuples(st.just(bp.TYPE_UPDATE), st.builds(Update, u64, names, st.binary(min_size=2048, max_size=2048))),
    st.tuples(st.just(bp.TYPE_MODULE), st.builds(Module, u64, st.integers(0, 255), st.binary(max_size=100))),
    st.tuples(
        st.sampled_from([bp.TYPE_FAILOVER_AUTH_REQUEST, bp.TYPE_FAILOVER_AUTH_ACK, bp.TYPE_MFSTART]),
        st.none(),
    ),
    st.tuples(st.integers(bp.TYPE_COUNT, 0xFFFF), st.builds(Unknown, st.binary(max_size=100))),
)


@st.composite
def messages(draw):
    h = draw(headers)
    msg_type, body = draw(type_and_body)
    return Message(dataclasses.replace(h, type=msg_type), body)


# --- round trips and streaming -------------------------------------------------


@given(messages())
@settings(deadline=None)
def test_round_trip(msg):
    wire = encode(msg)
    got = decode(wire)
    assert got == normalized(msg, wire)
    assert encode(got) == wire


@given(st.lists(messages(), min_size=1, max_size=5), st.lists(st.integers(1, 3000), min_size=1))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_stream_in_chunks(msgs, sizes):
    wire = [encode(m) for m in msgs]
    stream = b"".join(wire)
    reader = BusReader()
    got = []
    pos = i = 0
    while pos < len(stream):
        size = sizes[i % len(sizes)]
        i += 1
        reader.feed(stream[pos:pos + size])
        pos += size
        got.extend(read_all(reader))
    assert got == [normalized(m, w) for m, w in zip(msgs, wire)]
    assert reader.buffered == 0


def test_truncated_input_returns_none_until_complete():
    msg = Message(header(bp.TYPE_PING), Ping([Gossip(nodename=NAME_B, ip="127.0.0.1")], [HostnameExt("x")]))
    wire = encode(msg)
    reader = BusReader()
    for byte in wire[:-1]:
        reader.feed(bytes([byte]))
        assert reader.next_message() is None
    reader.feed(wire[-1:])
    assert reader.next_message() == normalized(msg, wire)
    assert reader.next_message() is None
    # decode() of a prefix is an error, not a partial message.
    with pytest.raises(BusProtocolError):
        decode(wire[:-1])


# --- malformed input ---------------------------------------------------------------


def good(msg_type=bp.TYPE_MFSTART, body=None) -> bytes:
    return encode(Message(header(msg_type), body))


def patch(wire: bytes, offset: int, fmt: str, value) -> bytes:
    b = bytearray(wire)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


def test_bad_signature_is_fatal():
    reader = BusReader()
    reader.feed(b"PING\r\n")
    with pytest.raises(BusFramingError):
        reader.next_message()
    assert reader.failed
    reader.feed(good())
    with pytest.raises(BusFramingError):
        reader.next_message()
    assert reader.buffered == 0


def test_length_below_header_is_fatal():
    reader = BusReader()
    reader.feed(patch(good(), 4, "!I", HEADER_LEN - 1)[:8])
    with pytest.raises(BusFramingError):
        reader.next_message()


def test_length_above_limit_is_fatal_before_buffering():
    reader = BusReader(max_message_len=1 << 20)
    reader.feed(patch(good(), 4, "!I", (1 << 20) + 1)[:8])
    with pytest.raises(BusFramingError):
        reader.next_message()
    reader = BusReader()
    reader.feed(patch(good(), 4, "!I", 0xFFFFFFFF)[:8])
    with pytest.raises(BusFramingError):
        reader.next_message()


def expect_skipped(bad: bytes) -> None:
    """``bad`` raises BusPacketError once, then the following packet decodes."""
    follow = Message(header(bp.TYPE_FAIL), Fail(NAME_B))
    reader = BusReader()
    reader.feed(bad + encode(follow))
    with pytest.raises(BusPacketError):
        reader.next_message()
    assert not reader.failed
    assert reader.next_message().body == follow.body
    assert reader.next_message() is None
    with pytest.raises(BusPacketError):
        decode(bad)


def test_wrong_version_is_skipped():
    expect_skipped(patch(good(), 8, "!H", 2))


def test_fixed_size_bodies_with_wrong_length_are_skipped():
    fail = good(bp.TYPE_FAIL, Fail(NAME_B))
    expect_skipped(patch(fail[:-1], 4, "!I", len(fail) - 1))
    update = good(bp.TYPE_UPDATE, Update(1, NAME_B, bytes(2048)))
    expect_skipped(patch(update + b"\x00" * 8, 4, "!I", len(update) + 8))
    expect_skipped(patch(good() + b"\x00" * 8, 4, "!I", HEADER_LEN + 8))


def test_publish_lengths_must_add_up():
    pub = good(bp.TYPE_PUBLISH, Publish(b"ch", b"msg"))
    expect_skipped(patch(pub, HEADER_LEN, "!I", 3))  # channel_len off by one
    expect_skipped(patch(pub, HEADER_LEN + 4, "!I", 0xFFFFFFFF))
    # totlen too short to even hold the two lengths
    expect_skipped(patch(good(), 12, "!H", bp.TYPE_PUBLISH))


def test_module_length_must_add_up():
    mod = good(bp.TYPE_MODULE, Module(1, 2, b"abc"))
    expect_skipped(patch(mod, HEADER_LEN + 8, "!I", 4))


def test_ping_count_must_match_length():
    ping = good(bp.TYPE_PING, Ping([Gossip(nodename=NAME_B)]))
    expect_skipped(patch(ping, 14, "!H", 2))  # claims two gossip sections
    expect_skipped(patch(ping, 14, "!H", 0))  # trailing bytes without EXT_DATA


def test_ping_extension_checks():
    ping = good(bp.TYPE_PING, Ping([], [HostnameExt("abc")]))
    ext_at = HEADER_LEN
    expect_skipped(patch(ping, ext_at, "!I", 12))  # not a multiple of 8
    expect_skipped(patch(ping, ext_at, "!I", 24))  # runs past the packet
    expect_skipped(patch(ping, ext_at, "!I", 0))  # shorter than its own header
    expect_skipped(patch(ping, 2214, "!H", 2))  # a second extension that is not there
    # More extension bytes than the declared extensions cover.
    expect_skipped(patch(ping + bytes(8), 4, "!I", len(ping) + 8))
    # Known extension types whose payload is too short for their layout.
    expect_skipped(good(bp.TYPE_PING, Ping([], [UnknownExt(bp.EXT_SHARDID, bytes(32))])))
    expect_skipped(good(bp.TYPE_PING, Ping([], [UnknownExt(bp.EXT_FORGOTTEN_NODE, bytes(40))])))


def test_extensions_ignored_without_flag():
    # Without MFLAG0_EXT_DATA the extension count is not used (as in Redis),
    # so a count with no extension bytes is a valid packet.
    raw = patch(good(bp.TYPE_PONG, Ping()), 2214, "!H", 3)
    msg = decode(raw)
    assert msg.body == Ping([], []) and msg.header.extensions == 3


def test_unknown_type_accepts_any_length():
    raw = patch(good() + b"payload!", 4, "!I", HEADER_LEN + 8)
    raw = patch(raw, 12, "!H", 4242)
    msg = decode(raw)
    assert msg.type == 4242 and msg.body == Unknown(b"payload!")


def test_invalid_packet_is_skipped_without_buffering():
    reader = BusReader()
    bogus_total = 50_000_000
    pub = bytearray(good(bp.TYPE_PUBLISH, Publish(b"", b"")))
    struct.pack_into("!I", pub, 4, bogus_total)  # totlen 50 MB, but lengths say 2264
    reader.feed(bytes(pub))
    with pytest.raises(BusPacketError):
        reader.next_message()
    remaining = bogus_total - len(pub)
    chunk = bytes(1 << 20)
    while remaining > 0:
        n = min(remaining, len(chunk))
        reader.feed(chunk[:n])
        remaining -= n
        assert reader.buffered == 0
        assert reader.next_message() is None
    follow = good(bp.TYPE_FAIL, Fail(NAME_B))
    reader.feed(follow)
    assert reader.next_message().body == Fail(NAME_B)


# --- fuzzing: only BusProtocolError may escape ----------------------------------


def drain(reader: BusReader) -> None:
    for _ in range(1000):
        try:
            if reader.next_message() is None:
                return
        except BusFramingError:
            assert reader.failed
            return
        except BusPacketError:
            continue
    raise AssertionError("reader did not settle")


def check_only_protocol_errors(data: bytes, chunk: int) -> None:
    reader = BusReader(max_message_len=1 << 16)
    for pos in range(0, len(data), chunk):
        reader.feed(data[pos:pos + chunk])
        drain(reader)
        assert reader.buffered <= 1 << 16
    try:
        decode(data)
    except BusProtocolError:
        pass


@given(st.binary(max_size=3000), st.integers(1, 5000))
@settings(deadline=None)
def test_fuzz_random_bytes(data, chunk):
    check_only_protocol_errors(data, chunk)
    check_only_protocol_errors(b"RCmb" + data, chunk)


mutation_offsets = st.sampled_from(
    [4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 2214, 2215, 2253, HEADER_LEN, HEADER_LEN + 3, HEADER_LEN + 4,
     HEADER_LEN + 7, HEADER_LEN + 8, HEADER_LEN + 11, HEADER_LEN + 104, HEADER_LEN + 107]
)


@given(
    st.lists(messages(), min_size=1, max_size=3),
    st.lists(st.tuples(st.one_of(mutation_offsets, st.integers(0, 5000)), st.integers(0, 255)), max_size=6),
    st.integers(0, 64),
    st.integers(1, 4000),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_mutated_packets(msgs, mutations, cut, chunk):
    data = bytearray(b"".join(encode(m) for m in msgs))
    for offset, value in mutations:
        if offset < len(data):
            data[offset] = value
    data = bytes(data[: len(data) - cut])
    check_only_protocol_errors(data, chunk)


# --- live traffic with real redis-server 7.0 -------------------------------------

REDIS_SERVER = shutil.which("redis-server")
# 16 characters: with its NUL it needs 17 bytes, so Redis pads the extension
# payload to 24, which catches a codec that forgets the terminator.
HOSTNAME_A = "node-a.test.host"
live = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class LiveNode:
    port: int
    cport: int
    client: object  # redis.Redis
    myid: bytes


@contextmanager
def redis_node(tmp_path, name: str, *extra: str):
    """A redis-server in cluster mode on free ports; killed by pid on exit."""
    redis = pytest.importorskip("redis")
    port, cport = _free_port(), _free_port()
    workdir = tmp_path / name
    workdir.mkdir()
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port", str(port),
            "--cluster-port", str(cport),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "1000",
            "--dir", str(workdir),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(workdir / "redis.log"),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        myid = client.execute_command("CLUSTER", "MYID")
        yield LiveNode(port, cport, client, myid.encode() if isinstance(myid, str) else myid)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def recv_message(sock: socket.socket, reader: BusReader, deadline: float, log: list) -> Message:
    """Next message from ``sock``; raw bytes go to ``log`` and decoded messages too."""
    while True:
        msg = reader.next_message()
        if msg is not None:
            log.append(msg)
            return msg
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no bus message before the deadline")
        sock.settimeout(remaining)
        data = sock.recv(65536)
        if not data:
            raise AssertionError("bus link closed by the peer")
        log.append(data)
        reader.feed(data)


def assert_reencodes(log: list) -> None:
    """Every decoded message re-encodes to exactly the bytes redis-server sent."""
    raw = b"".join(x for x in log if isinstance(x, bytes))
    msgs = [x for x in log if isinstance(x, Message)]
    assert msgs
    rebuilt = b"".join(encode(m) for m in msgs)
    assert raw.startswith(rebuilt)


def cluster_nodes(node) -> dict[bytes, list[bytes]]:
    raw = node.client.execute_command("CLUSTER", "NODES")
    if isinstance(raw, str):
        raw = raw.encode()
    return {line.split()[0]: line.split() for line in raw.splitlines() if line.strip()}


class FakeNode:
    """Our side of the bus: a node name, a listening bus port and the header we claim."""

    def __init__(self) -> None:
        self.name = os.urandom(20).hex().encode()
        self.client_port = _free_port()  # claimed, nothing listens there
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.cport = self.listener.getsockname()[1]
        self.inbound: list[Message] = []  # everything the peer sent on links it opened
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def header(self, msg_type: int, **kw) -> Header:
        return Header(
            type=msg_type, sender=self.name, port=self.client_port, cport=self.cport,
            flags=bp.NODE_MASTER | bp.NODE_MYSELF, **kw,
        )

    def pong(self) -> bytes:
        return encode(Message(self.header(bp.TYPE_PONG), Ping()))

    def serve(self) -> None:
        """Accept links the real node opens to us; answer its PINGs with PONGs."""
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._link_loop, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _link_loop(self, conn: socket.socket) -> None:
        reader = BusReader()
        conn.settimeout(0.2)
        with conn:
            while not self.stop.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                reader.feed(data)
                while (msg := reader.next_message()) is not None:
                    with self.lock:
                        self.inbound.append(msg)
                    if msg.type in (bp.TYPE_PING, bp.TYPE_MEET):
                        conn.sendall(self.pong())

    def received(self, msg_type: int) -> list[Message]:
        with self.lock:
            return [m for m in self.inbound if m.type == msg_type]

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for t in self.threads:
            t.join(timeout=5)


@live
def test_decode_meet_sent_by_redis(tmp_path):
    """CLUSTER MEET toward our listener: decode the MEET a real node sends."""
    with redis_node(tmp_path, "a", "--cluster-announce-hostname", HOSTNAME_A) as a:
        a.client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 99, 200, 200)
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.settimeout(10)
            a.client.execute_command("CLUSTER", "MEET", "127.0.0.1", _free_port(), listener.getsockname()[1])
            conn, _ = listener.accept()
            with conn:
                reader, log = BusReader(), []
                msg = recv_message(conn, reader, time.monotonic() + 10, log)
    assert_reencodes(log)
    h = msg.header
    assert msg.type == bp.TYPE_MEET
    assert (h.sig, h.ver, h.totlen) == (b"RCmb", 1, HEADER_LEN + 8 + 24)
    assert h.sender == a.myid
    assert (h.port, h.cport) == (a.port, a.cport)
    assert h.flags == bp.NODE_MASTER | bp.NODE_MYSELF
    assert h.slaveof is None
    assert bitmap_to_ranges(h.myslots) == [(0, 99), (200, 200)]
    assert h.state == bp.CLUSTER_FAIL  # not all slots are covered
    assert msg.body.gossip == []
    assert msg.body.extensions == [HostnameExt(HOSTNAME_A)]


@live
def test_live_handshake_gossip_publish_and_fail(tmp_path):
    """Join two real nodes as a third, built with encode(), and read their traffic."""
    with ExitStack() as stack:
        a = stack.enter_context(redis_node(tmp_path, "a", "--cluster-announce-hostname", HOSTNAME_A))
        b = stack.enter_context(redis_node(tmp_path, "b"))
        a.client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 8191)
        b.client.execute_command("CLUSTER", "ADDSLOTSRANGE", 8192, 16383)
        a.client.execute_command("CLUSTER", "MEET", "127.0.0.1", b.port, b.cport)
        wait_for(
            lambda: b.myid in cluster_nodes(a) and b"connected" in cluster_nodes(a)[b.myid]
            and b"handshake" not in cluster_nodes(a)[b.myid][2],
            what="a and b to meet",
        )

        fake = FakeNode()
        stack.callback(fake.close)
        fake.serve()

        # Our MEET on our own link to a's bus port; a answers with a PONG.
        link = stack.enter_context(socket.create_connection(("127.0.0.1", a.cport), timeout=10))
        reader, log = BusReader(), []
        link.sendall(encode(Message(fake.header(bp.TYPE_MEET), Ping())))
        pong = recv_message(link, reader, time.monotonic() + 10, log)
        h = pong.header
        assert pong.type == bp.TYPE_PONG
        assert h.sender == a.myid
        assert (h.port, h.cport) == (a.port, a.cport)
        assert h.flags & bp.NODE_MASTER and h.flags & bp.NODE_MYSELF
        assert bitmap_to_ranges(h.myslots) == [(0, 8191)]
        assert pong.body.extensions == [HostnameExt(HOSTNAME_A)]
        info = a.client.execute_command("CLUSTER", "INFO")
        info = info.decode() if isinstance(info, bytes) else info
        current_epoch = int(info.split("cluster_current_epoch:")[1].split()[0])
        assert h.current_epoch == current_epoch

        # a connects back to the bus port we claimed and PINGs; our PONG
        # (encoded here) completes the handshake: a now lists us by name.
        wait_for(lambda: fake.received(bp.TYPE_PING), what="a's PING on the link it opened to us")
        ping = fake.received(bp.TYPE_PING)[0]
        assert ping.header.sender == a.myid and ping.header.cport == a.cport
        assert ping.body.extensions == [HostnameExt(HOSTNAME_A)]
        wait_for(
            lambda: fake.name in cluster_nodes(a)
            and b"handshake" not in cluster_nodes(a)[fake.name][2],
            what="a to accept our PONG",
        )
        fields = cluster_nodes(a)[fake.name]
        assert fields[1].startswith(b"127.0.0.1:%d@%d" % (fake.client_port, fake.cport))
        assert fields[2] == b"master"

        # Gossip: PING a on our link until a PONG carries a section about b.
        about_b = None
        deadline = time.monotonic() + 10
        while about_b is None:
            link.sendall(encode(Message(fake.header(bp.TYPE_PING), Ping())))
            reply = recv_message(link, reader, deadline, log)
            assert reply.type == bp.TYPE_PONG and reply.header.sender == a.myid
            about_b = next((g for g in reply.body.gossip if g.nodename == b.myid), None)
        assert about_b.ip == "127.0.0.1"
        assert (about_b.port, about_b.cport) == (b.port, b.cport)
        assert about_b.flags & bp.NODE_MASTER
        assert not about_b.flags & (bp.NODE_MYSELF | bp.NODE_FAIL)
        assert_reencodes(log)

        # PUBLISH on a reaches us as a PUBLISH message on a's link to us.
        a.client.publish("news", "hello")
        wait_for(lambda: fake.received(bp.TYPE_PUBLISH), what="PUBLISH propagated by a")
        assert fake.received(bp.TYPE_PUBLISH)[0].body == Publish(b"news", b"hello")

        # Our PUBLISH reaches a subscriber of a.
        pubsub = a.client.pubsub()
        stack.callback(pubsub.close)
        pubsub.subscribe("from-bus")
        wait_for(lambda: pubsub.get_message(timeout=0.05) is not None, what="subscribe confirmation")
        link.sendall(encode(Message(fake.header(bp.TYPE_PUBLISH), Publish(b"from-bus", b"payload"))))
        got = []
        wait_for(lambda: got.append(pubsub.get_message(timeout=0.05)) or got[-1] is not None, what="message")
        assert got[-1]["channel"] in (b"from-bus", "from-bus")
        assert got[-1]["data"] in (b"payload", "payload")

        # Our FAIL about b makes a flag b as failed (b owns slots, so the
        # flag stays for at least 2 × node timeout).
        link.sendall(encode(Message(fake.header(bp.TYPE_FAIL), Fail(b.myid))))
        wait_for(lambda: b"fail" in cluster_nodes(a)[b.myid][2].split(b","), timeout=5, what="b marked fail")
