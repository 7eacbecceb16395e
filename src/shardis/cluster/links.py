"""The cluster bus on asyncio: the listening socket and one link per connection.

Like Redis, a node keeps two links per peer: the one it opened (``node.link``,
outbound, used to send PINGs and to detect the peer's failure) and the one the
peer opened to it (``node.inbound_link``, which starts anonymous and is bound
to a node by the first packet naming a known sender).  Replies (PONGs) go
back on the link the request came from.

A link is an ``asyncio.Protocol``: bytes go into a ``busproto.BusReader``,
every complete packet goes to ``gossip.process_packet``.  A framing error
(bad signature or length) closes that link, as Redis's read handler does; a
packet with a bad version or length is dropped and the link kept, as
clusterProcessPacket does; an exception while applying a packet is logged
and closes the link.  None of them can stop the node.

Outbound connections are made asynchronously; until the connection is up
``node.link`` already points at the link (so the cron does not open
another) and packets wait in the link.  When a connection cannot be made
the link is dropped and, if no PING was pending, the attempt counts as one
sent now, so an unreachable node still goes PFAIL after node_timeout.
"""

from __future__ import annotations

import asyncio
import socket

from . import busproto as bp
from . import gossip
from .state import ClusterState, mstime

__all__ = ["BusLink", "Bus"]

TCP_KEEPALIVE_MULT = 2  # keepalive interval: node_timeout/1000 × this, in seconds (as Redis)


def _host(addr) -> str | None:
    if isinstance(addr, tuple) and addr:
        host = addr[0]
        if host.startswith("::ffff:") and "." in host:
            host = host[7:]
        return host
    return None


class BusLink(asyncio.Protocol):
    """One cluster bus connection (clusterLink)."""

    def __init__(self, bus: "Bus", node, inbound: bool):
        self.bus = bus
        self.node = node  # None for an inbound link not yet identified
        self.inbound = inbound
        self.ctime = mstime()
        self.transport = None
        self.reader = bp.BusReader()
        self.freed = False
        self.pending: list[bytes] = []  # packets queued before the connection is up
        self.task = None  # the connect task of an outbound link

    # --- addresses -------------------------------------------------------------------

    def local_ip(self) -> str | None:
        t = self.transport
        return _host(t.get_extra_info("sockname")) if t is not None else None

    def peer_ip(self) -> str | None:
        t = self.transport
        return _host(t.get_extra_info("peername")) if t is not None else None

    def peer_addr(self) -> str:
        t = self.transport
        peer = t.get_extra_info("peername") if t is not None else None
        return f"{_host(peer)}:{peer[1]}" if isinstance(peer, tuple) else "?"

    # --- asyncio ---------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        if self.freed:
            transport.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                interval = max(1, self.bus.state.node_timeout // 1000 * TCP_KEEPALIVE_MULT)
                if hasattr(socket, "TCP_KEEPIDLE"):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
            except OSError:
                pass
        if self.inbound:
            self.bus.inbound.add(self)
            self.bus.state.log("verbose", f"Accepting cluster node connection from {self.peer_addr()}")
            return
        pending, self.pending = self.pending, []
        for data in pending:
            transport.write(data)
        gossip.on_link_connected(self.bus.state, self)

    def data_received(self, data) -> None:
        if self.freed:
            return
        state = self.bus.state
        reader = self.reader
        reader.feed(data)
        while not self.freed:
            try:
                msg = reader.next_message()
            except bp.BusFramingError:
                state.log("warning", f"Bad message length or signature received on the Cluster bus from {self.peer_addr()}")
                self.free()
                return
            except bp.BusPacketError as e:
                state.log("warning", f"Received invalid cluster bus packet: {e}")
                continue
            if msg is None:
                return
            try:
                alive = gossip.process_packet(state, self, msg)
            except Exception as e:  # a packet must never take the node down
                state.log("warning", f"Error processing cluster bus packet from {self.peer_addr()}: {e!r}")
                self.free()
                return
            if not alive:
                return

    def connection_lost(self, exc) -> None:
        if not self.freed:
            self.bus.state.log("debug", f"I/O error reading from node link: {exc or 'connection closed'}")
            self.free()

    # --- writing -------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.freed:
            return
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.write(data)

    def send_buffer_size(self) -> int:
        size = sum(len(d) for d in self.pending)
        t = self.transport
        if t is not None and not self.freed:
            try:
                size += t.get_write_buffer_size()
            except (AttributeError, RuntimeError):
                pass
        return size

    def events(self) -> str:
        """What CLUSTER LINKS shows as ``events``: r, plus w while output is queued."""
        if self.transport is None:
            return ""
        return "rw" if self.send_buffer_size() else "r"

    # --- end of life -------------------------------------------------------------------

    def free(self) -> None:
        """freeClusterLink: close, and detach from the node."""
        if self.freed:
            return
        self.freed = True
        node = self.node
        if node is not None:
            if node.link is self:
                node.link = None
            elif node.inbound_link is self:
                node.inbound_link = None
        self.bus.inbound.discard(self)
        self.pending = []
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.transport is not None:
            self.transport.close()


class Bus:
    """The listening socket(s) and the outbound connections of one node."""

    def __init__(self, state: ClusterState, loop: asyncio.AbstractEventLoop):
        self.state = state
        self.loop = loop
        self.servers: list = []
        self.inbound: set[BusLink] = set()
        self.port = 0

    async def listen(self, addrs: list[str], port: int, backlog: int = 511) -> None:
        """Listen on ``port`` at each bind address (a leading "-" makes one optional)."""
        self.port = port
        for addr in addrs:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            if host == "*":
                host = "0.0.0.0"
            elif host == "::*":
                host = "::"
            try:
                srv = await self.loop.create_server(
                    lambda: BusLink(self, None, True),
                    host=host,
                    port=port,
                    backlog=backlog,
                    reuse_address=True,
                    family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                )
            except OSError:
                if optional:
                    continue
                raise
            self.servers.append(srv)

    # --- sending -------------------------------------------------------------------------

    def _count(self, msg: bp.Message) -> None:
        t = msg.header.type
        if 0 <= t < len(self.state.stats_sent):
            self.state.stats_sent[t] += 1

    def send(self, link, msg: bp.Message) -> None:
        if link is None or link.freed:
            return
        link.send(bp.encode(msg))
        self._count(msg)

    def broadcast(self, msg: bp.Message) -> None:
        """To every known node with a link, except myself and nodes in handshake."""
        data = None
        for node in list(self.state.nodes.values()):
            if node.flags & (bp.NODE_MYSELF | bp.NODE_HANDSHAKE):
                continue
            link = node.link
            if link is None or link.freed:
                continue
            if data is None:
                data = bp.encode(msg)
            link.send(data)
            self._count(msg)

    def send_fail(self, nodename: bytes) -> None:
        self.broadcast(gossip.make_fail(self.state, nodename))

    # --- connecting ------------------------------------------------------------------------

    def connect(self, node) -> None:
        """Open the outbound link to ``node`` (the cron calls this while it has none)."""
        link = BusLink(self, node, False)
        node.link = link
        link.task = self.loop.create_task(self._connect(link, node))

    async def _connect(self, link: BusLink, node) -> None:
        try:
            await self.loop.create_connection(lambda: link, node.ip, node.cport)
        except asyncio.CancelledError:
            return
        except (OSError, ValueError, UnicodeError) as e:
            if link.freed:
                return
            # Failure detection must still work for a node we cannot even
            # reach: count the attempt as a PING sent now.
            if node.ping_sent == 0:
                node.ping_sent = mstime()
            self.state.log(
                "verbose",
                f"Connection with Node {node.name_str} at {node.ip}:{node.cport} failed: {getattr(e, 'strerror', None) or e}",
            )
            link.free()

    # --- shutdown --------------------------------------------------------------------------

    def close(self) -> None:
        for srv in self.servers:
            srv.close()
        self.servers = []
        for node in list(self.state.nodes.values()):
            for link in (node.link, node.inbound_link):
                if link is not None:
                    link.free()
        for link in list(self.inbound):
            link.free()

    def links(self) -> list:
        """Every identified link, outbound then inbound per node (CLUSTER LINKS)."""
        out = []
        for node in self.state.nodes.values():
            if node.link is not None:
                out.append(node.link)
            if node.inbound_link is not None:
                out.append(node.inbound_link)
        return out


# ---------------------------------------------------------------------------
# An in-memory bus: several ClusterStates in one process, no sockets
# ---------------------------------------------------------------------------


class MemoryLink:
    """One end of an in-memory connection, with BusLink's interface."""

    def __init__(self, net: "MemoryNetwork", state: ClusterState, node, inbound: bool):
        self.net = net
        self.state = state
        self.node = node
        self.inbound = inbound
        self.ctime = state.now()
        self.peer: MemoryLink | None = None
        self.freed = False

    def local_ip(self) -> str:
        return self.net.ip_of(self.state)

    def peer_ip(self) -> str | None:
        return self.net.ip_of(self.peer.state) if self.peer is not None else None

    def send_buffer_size(self) -> int:
        return 0

    def events(self) -> str:
        return "r"

    def free(self) -> None:
        """Close both ends, as a closed TCP connection does."""
        if self.freed:
            return
        self.freed = True
        node = self.node
        if node is not None:
            if node.link is self:
                node.link = None
            elif node.inbound_link is self:
                node.inbound_link = None
        if self.peer is not None:
            self.peer.free()


class MemoryBus:
    """The bus of one state on a MemoryNetwork (Bus's interface)."""

    def __init__(self, net: "MemoryNetwork", state: ClusterState):
        self.net = net
        self.state = state

    def _count(self, msg: bp.Message) -> None:
        t = msg.header.type
        if 0 <= t < len(self.state.stats_sent):
            self.state.stats_sent[t] += 1

    def send(self, link, msg: bp.Message) -> None:
        if link is None or link.freed:
            return
        self._count(msg)
        self.net.queue.append((link.peer, bp.encode(msg)))

    def broadcast(self, msg: bp.Message) -> None:
        for node in list(self.state.nodes.values()):
            if node.flags & (bp.NODE_MYSELF | bp.NODE_HANDSHAKE):
                continue
            if node.link is not None and not node.link.freed:
                self.send(node.link, msg)

    def send_fail(self, nodename: bytes) -> None:
        self.broadcast(gossip.make_fail(self.state, nodename))

    def connect(self, node) -> None:
        self.net.connect(self.state, node)

    def links(self) -> list:
        out = []
        for node in self.state.nodes.values():
            for link in (node.link, node.inbound_link):
                if link is not None:
                    out.append(link)
        return out

    def close(self) -> None:
        for link in self.links():
            link.free()


class MemoryNetwork:
    """ClusterStates joined by in-memory links: packets are really encoded and decoded.

    Each state is reachable at ``(ip, cport)`` of its ``myself``; ``down``
    holds states that refuse connections and drop packets (a crashed node).
    ``pump()`` delivers queued packets until none is left.
    """

    def __init__(self):
        self.states: list[ClusterState] = []
        self.ips: dict[int, str] = {}
        self.queue: list = []
        self.down: set[int] = set()

    def add(self, state: ClusterState, ip: str, port: int) -> None:
        state.myself.port = port
        state.myself.cport = port + 10000
        state.bus = MemoryBus(self, state)
        self.states.append(state)
        self.ips[id(state)] = ip

    def ip_of(self, state: ClusterState) -> str:
        return self.ips[id(state)]

    def find(self, ip: str, cport: int) -> ClusterState | None:
        for state in self.states:
            if self.ips[id(state)] == ip and state.myself.cport == cport and id(state) not in self.down:
                return state
        return None

    def connect(self, state: ClusterState, node) -> None:
        target = self.find(node.ip, node.cport)
        out = MemoryLink(self, state, node, False)
        node.link = out
        if target is None:
            if node.ping_sent == 0:
                node.ping_sent = state.now()
            out.free()
            return
        inbound = MemoryLink(self, target, None, True)
        out.peer, inbound.peer = inbound, out
        gossip.on_link_connected(state, out)

    def crash(self, state: ClusterState) -> None:
        """The node stops answering: its links close, connections to it fail."""
        self.down.add(id(state))
        for node in list(state.nodes.values()):
            for link in (node.link, node.inbound_link):
                if link is not None:
                    link.free()

    def pump(self, limit: int = 100000) -> int:
        """Deliver packets until the queue is empty; returns how many were delivered."""
        n = 0
        while self.queue and n < limit:
            link, data = self.queue.pop(0)
            if link is None or link.freed or id(link.state) in self.down:
                continue
            n += 1
            gossip.process_packet(link.state, link, bp.decode(data))
        return n
