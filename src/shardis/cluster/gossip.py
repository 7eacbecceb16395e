"""The cluster bus conversation: what we send, what we make of what we receive, and when.

This is the protocol half of Redis's cluster.c, over the pure codec in
``busproto`` and the model in ``state``:

* building packets: the header every packet carries (our flags, epochs,
  slot bitmap, announced address), PING/PONG/MEET with gossip sections
  chosen as clusterSendPing chooses them (wanted = max(3, nodes/10) random
  healthy nodes, fewer if fewer are fresh, then every PFAIL node so that
  failure reports travel fast), the hostname extension, FAIL, UPDATE and
  PUBLISH;
* ``process_packet``: clusterProcessPacket's steps in its order -- epochs,
  address learning from MEET, the handshake that swaps a HANDSHAKE node's
  random name for the real one, PONG bookkeeping and PFAIL/FAIL clearing,
  role changes, slot ownership by configEpoch (``update_slots_config_with``,
  UPDATE messages to stale claimers), configEpoch collisions, gossip
  sections (failure reports, new nodes, address changes) and extensions;
* ``cron``: clusterCron, run every 100 ms -- connect links, expire
  handshakes, ping the node with the oldest PONG among five random ones
  every second plus any node whose PONG is older than node_timeout/2,
  drop links that look dead, flag PFAIL.

Links are duck-typed (``node``, ``inbound``, ``ctime``, ``free()``,
``local_ip()``, ``peer_ip()``) and packets leave through ``state.bus``
(``send(link, msg)``, ``connect(node)``), so unit tests can run several
states against each other in memory.
"""

from __future__ import annotations

import random

from . import busproto as bp
from . import failure
from .slots import bitmap_to_ranges
from .state import (
    CLUSTER_FAIL,
    TODO_FSYNC_CONFIG,
    TODO_SAVE_CONFIG,
    TODO_UPDATE_STATE,
    ClusterNode,
    ClusterState,
    verify_node_id,
)

__all__ = [
    "build_header",
    "make_ping",
    "send_ping",
    "broadcast_pong",
    "make_fail",
    "make_update",
    "send_update",
    "make_publish",
    "propagate_publish",
    "process_packet",
    "update_slots_config_with",
    "cron",
    "on_link_connected",
    "BROADCAST_ALL",
    "BROADCAST_LOCAL_SLAVES",
]

BROADCAST_ALL = 0
BROADCAST_LOCAL_SLAVES = 1
CRON_PING_EVERY = 10  # cron runs: one random PING per second at 10 runs per second
RANDOM_PING_SAMPLE = 5  # nodes sampled to find the oldest PONG
GOSSIP_MIN_WANTED = 3  # gossip sections per packet, at least
HANDSHAKE_MIN_TIMEOUT = 1000  # ms: a handshake lives at least this long
PONG_CLOCK_TOLERANCE = 500  # ms a gossiped PONG time may be in our future

_PING_TYPES = (bp.TYPE_PING, bp.TYPE_PONG, bp.TYPE_MEET)


# ---------------------------------------------------------------------------
# Building packets
# ---------------------------------------------------------------------------


def build_header(state: ClusterState, msg_type: int) -> bp.Header:
    """The header of every packet we send (clusterBuildMessageHdr)."""
    myself = state.myself
    # A replica advertises its master's slots and epoch, flagged as a replica.
    master = myself.slaveof if myself.is_slave and myself.slaveof is not None else myself
    port, pport, cport = state.announced_ports()
    mflags = b"\x00\x00\x00"
    if myself.is_master and state.mf_end:
        mflags = bytes((bp.MFLAG0_PAUSED, 0, 0))
    offset_hook = getattr(state, "repl_offset_hook", None)
    return bp.Header(
        type=msg_type,
        port=port,
        current_epoch=state.current_epoch,
        config_epoch=master.config_epoch,
        offset=offset_hook() if offset_hook is not None else 0,
        sender=myself.name,
        myslots=bytes(master.slots),
        slaveof=myself.slaveof.name if myself.slaveof is not None else None,
        myip=state.cfg("cluster-announce-ip", "") or "",
        pport=pport,
        cport=cport,
        flags=myself.flags & 0xFFFF,
        state=state.state,
        mflags=mflags,
    )


def gossip_entry(n: ClusterNode) -> bp.Gossip:
    """What we tell others about ``n`` (clusterSetGossipEntry); times in seconds."""
    return bp.Gossip(
        nodename=n.name,
        ping_sent=(n.ping_sent // 1000) & 0xFFFFFFFF,
        pong_received=(n.pong_received // 1000) & 0xFFFFFFFF,
        ip=n.ip,
        port=n.port,
        cport=n.cport,
        flags=n.flags & 0xFFFF,
        pport=n.pport,
    )


def make_ping(state: ClusterState, link, msg_type: int) -> bp.Message:
    """A PING, PONG or MEET with its gossip sections (clusterSendPing)."""
    state.pings_sent += 1
    stamp = state.pings_sent
    myself = state.myself
    nodes = list(state.nodes.values())
    freshnodes = len(nodes) - 2  # every node but myself and the receiver
    # 1/10 of the nodes, at least 3: enough for failure reports to reach a
    # majority within the 2 × node_timeout validity window (see cluster.c).
    wanted = max(GOSSIP_MIN_WANTED, len(nodes) // 10)
    wanted = min(wanted, freshnodes)
    pfail_wanted = state.stats_pfail_nodes
    if not link.inbound and msg_type == bp.TYPE_PING:
        link.node.ping_sent = state.now()
    gossip: list[bp.Gossip] = []
    maxiterations = wanted * 3
    while freshnodes > 0 and len(gossip) < wanted and maxiterations > 0:
        maxiterations -= 1
        this = random.choice(nodes)
        if this is myself:
            continue
        if this.flags & bp.NODE_PFAIL:
            continue  # added below, all of them
        if this.flags & (bp.NODE_HANDSHAKE | bp.NODE_NOADDR) or (this.link is None and this.numslots == 0):
            freshnodes -= 1  # not exact, but saves work, as in Redis
            continue
        if this.last_in_ping_gossip == stamp:
            continue
        gossip.append(gossip_entry(this))
        this.last_in_ping_gossip = stamp
        freshnodes -= 1
    if pfail_wanted:
        for node in nodes:
            if pfail_wanted <= 0:
                break
            if node.flags & (bp.NODE_HANDSHAKE | bp.NODE_NOADDR):
                continue
            if not node.flags & bp.NODE_PFAIL:
                continue
            gossip.append(gossip_entry(node))
            pfail_wanted -= 1
    exts = [bp.HostnameExt(myself.hostname)] if myself.hostname else []
    return bp.Message(build_header(state, msg_type), bp.Ping(gossip, exts))


def send_ping(state: ClusterState, link, msg_type: int) -> None:
    if link is None:
        return
    state.bus.send(link, make_ping(state, link, msg_type))


def broadcast_pong(state: ClusterState, target: int = BROADCAST_ALL) -> None:
    """A PONG to every connected node (or only to the replicas of my shard)."""
    myself = state.myself
    for node in list(state.nodes.values()):
        if node.link is None or node is myself or node.in_handshake:
            continue
        if target == BROADCAST_LOCAL_SLAVES:
            local = node.is_slave and node.slaveof is not None and (
                node.slaveof is myself or node.slaveof is myself.slaveof
            )
            if not local:
                continue
        send_ping(state, node.link, bp.TYPE_PONG)


def make_fail(state: ClusterState, nodename: bytes) -> bp.Message:
    return bp.Message(build_header(state, bp.TYPE_FAIL), bp.Fail(nodename))


def make_update(state: ClusterState, node: ClusterNode) -> bp.Message:
    body = bp.Update(node.config_epoch, node.name, bytes(node.slots))
    return bp.Message(build_header(state, bp.TYPE_UPDATE), body)


def send_update(state: ClusterState, link, node: ClusterNode) -> None:
    """Tell the node at the end of ``link`` that ``node`` owns its slots at its epoch."""
    if link is None:
        return
    state.bus.send(link, make_update(state, node))


def make_publish(state: ClusterState, channel: bytes, message: bytes, sharded: bool) -> bp.Message:
    msg_type = bp.TYPE_PUBLISHSHARD if sharded else bp.TYPE_PUBLISH
    return bp.Message(build_header(state, msg_type), bp.Publish(bytes(channel), bytes(message)))


def propagate_publish(state: ClusterState, channel: bytes, message: bytes, sharded: bool = False) -> None:
    """PUBLISH to every node; SPUBLISH only to the other nodes of my shard."""
    bus = state.bus
    if bus is None:
        return
    msg = make_publish(state, channel, message, sharded)
    if not sharded:
        bus.broadcast(msg)
        return
    myself = state.myself
    master = myself.slaveof if myself.is_slave and myself.slaveof is not None else myself
    for node in [master] + list(master.slaves):
        if node.flags & (bp.NODE_MYSELF | bp.NODE_HANDSHAKE):
            continue
        if node.link is not None:
            bus.send(node.link, msg)


# ---------------------------------------------------------------------------
# Receiving packets
# ---------------------------------------------------------------------------


def _sender_of(state: ClusterState, link, header: bp.Header) -> ClusterNode | None:
    """getNodeFromLinkAndMsg: the known sender, binding an inbound link to it."""
    node = link.node
    if node is not None and not node.in_handshake:
        return node
    sender = state.lookup(header.sender)
    if sender is not None and node is None and link.inbound:
        old = sender.inbound_link
        if old is not None and old is not link:
            # The peer reconnected before we saw its old link close: keep one.
            state.log("debug", f"Replacing inbound link from node {sender.name_str}")
            old.free()
        sender.inbound_link = link
        link.node = sender
    return sender


def process_packet(state: ClusterState, link, msg: bp.Message) -> bool:
    """Apply one packet from ``link``.  False when the link was freed while doing so."""
    h = msg.header
    msg_type = h.type
    now = state.now()
    myself = state.myself
    if 0 <= msg_type < len(state.stats_received):
        state.stats_received[msg_type] += 1
    flags = h.flags
    sender = _sender_of(state, link, h)
    if sender is not None:
        sender.data_received = now
    sender_config_epoch = 0
    sender_current_epoch = 0
    if sender is not None and not sender.in_handshake:
        sender_current_epoch = h.current_epoch
        sender_config_epoch = h.config_epoch
        if sender_current_epoch > state.current_epoch:
            state.current_epoch = sender_current_epoch
        if sender_config_epoch > sender.config_epoch:
            sender.config_epoch = sender_config_epoch
            state.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
        sender.repl_offset = h.offset
        sender.repl_offset_time = now
        hook = getattr(state, "header_hook", None)
        if hook is not None:
            hook(sender, h)

    if msg_type in (bp.TYPE_PING, bp.TYPE_MEET):
        # Only cluster nodes MEET us, on the address they know us by: that is
        # how a node without cluster-announce-ip learns its own address.
        announce_ip = state.cfg("cluster-announce-ip", "") or ""
        if (msg_type == bp.TYPE_MEET or not myself.ip) and not announce_ip:
            ip = link.local_ip()
            if ip and ip != myself.ip:
                myself.ip = ip
                state.log("notice", f"IP address for this node updated to {myself.ip}")
                state.do_before_sleep(TODO_SAVE_CONFIG)
        if sender is None and msg_type == bp.TYPE_MEET:
            node = state.create_node(None, bp.NODE_HANDSHAKE)
            node.ip = h.myip or (link.peer_ip() or "")
            node.port = h.port
            node.pport = h.pport
            node.cport = h.cport
            state.add_node(node)
            state.do_before_sleep(TODO_SAVE_CONFIG)
            # A MEET is trusted: its gossip may refresh what we know.
            _process_gossip_section(state, link, h, msg.body)
        send_ping(state, link, bp.TYPE_PONG)

    if msg_type in _PING_TYPES:
        state.log("debug", f"{bp.type_name(msg_type)} packet received: "
                           f"{link.node.name_str if link.node is not None else 'NULL'}")
        if not link.inbound:
            lnode = link.node
            if lnode.in_handshake:
                if sender is not None:
                    # We met an address we already know under its real name.
                    state.log(
                        "verbose",
                        f"Handshake: we already know node {sender.name_str}, updating the address if needed.",
                    )
                    if _update_address_if_needed(state, sender, link, h):
                        state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                    state.del_node(lnode)  # frees this link too
                    return False
                if not verify_node_id(h.sender) or h.sender in state.nodes:
                    # A malformed name, or one we know (that would be a sender): refuse it.
                    lnode.link = None
                    link.free()
                    return False
                state.rename_node(lnode, h.sender)
                state.log("debug", f"Handshake with node {lnode.name_str} completed.")
                lnode.flags &= ~bp.NODE_HANDSHAKE
                lnode.flags |= flags & (bp.NODE_MASTER | bp.NODE_SLAVE)
                state.do_before_sleep(TODO_SAVE_CONFIG)
            elif lnode.name != h.sender:
                # The address now answers with another id: it is not that node.
                state.log(
                    "debug",
                    f"PONG contains mismatching sender ID. About node {lnode.name_str} "
                    f"added {now - lnode.ctime} ms ago, having flags {lnode.flags}",
                )
                lnode.flags |= bp.NODE_NOADDR
                lnode.ip = ""
                lnode.port = lnode.pport = lnode.cport = 0
                link.free()
                state.do_before_sleep(TODO_SAVE_CONFIG)
                return False

        if sender is not None:
            sender.flags = (sender.flags & ~bp.NODE_NOFAILOVER) | (flags & bp.NODE_NOFAILOVER)

        if (
            sender is not None
            and msg_type == bp.TYPE_PING
            and not sender.in_handshake
            and _update_address_if_needed(state, sender, link, h)
        ):
            state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)

        if not link.inbound and msg_type == bp.TYPE_PONG:
            lnode = link.node
            lnode.pong_received = now
            lnode.ping_sent = 0
            # PFAIL is a local opinion: an answer reverses it at once.
            if lnode.timed_out:
                lnode.flags &= ~bp.NODE_PFAIL
                state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
            elif lnode.failed:
                failure.clear_node_failure_if_needed(state, lnode)

        # Role changes: master <-> replica, or a replica's master.
        if sender is not None:
            if h.slaveof is None:
                state.set_node_as_master(sender)
            else:
                master = state.lookup(h.slaveof)
                if sender.is_master:
                    state.del_node_slots(sender)
                    sender.flags &= ~(bp.NODE_MASTER | bp.NODE_MIGRATE_TO)
                    sender.flags |= bp.NODE_SLAVE
                    state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                if master is not None and sender.slaveof is not master:
                    if sender.slaveof is not None:
                        sender.slaveof.remove_slave(sender)
                    master.add_slave(sender)
                    sender.slaveof = master
                    state.do_before_sleep(TODO_SAVE_CONFIG)

        # Slots: this must come after the role update (MASTER flag).
        dirty_slots = False
        if sender is not None:
            sender_master = sender if sender.is_master else sender.slaveof
            if sender_master is not None:
                dirty_slots = sender_master.slots != h.myslots
        if sender is not None and sender.is_master and dirty_slots:
            update_slots_config_with(state, sender, sender_config_epoch, h.myslots)
        if sender is not None and dirty_slots:
            # The sender claims slots we know a newer owner of: tell it.
            stale = _first_newer_owner(state, sender, sender_config_epoch, h.myslots)
            if stale is not None:
                state.log(
                    "verbose",
                    f"Node {sender.name_str} has old slots configuration, sending an UPDATE "
                    f"message about {stale.name_str}",
                )
                send_update(state, sender.link, stale)

        if (
            sender is not None
            and myself.is_master
            and sender.is_master
            and sender_config_epoch == myself.config_epoch
        ):
            state.handle_config_epoch_collision(sender)

        if sender is not None:
            _process_gossip_section(state, link, h, msg.body)
            _process_ping_extensions(state, link, h, msg.body)

    elif msg_type == bp.TYPE_FAIL:
        failure.apply_fail_message(state, sender, msg.body.nodename)

    elif msg_type in (bp.TYPE_PUBLISH, bp.TYPE_PUBLISHSHARD):
        if sender is None:
            return True
        hook = getattr(state, "publish_hook", None)
        if hook is not None:
            hook(msg.body.channel, msg.body.message, msg_type == bp.TYPE_PUBLISHSHARD)

    elif msg_type in (bp.TYPE_FAILOVER_AUTH_REQUEST, bp.TYPE_FAILOVER_AUTH_ACK, bp.TYPE_MFSTART):
        if sender is None:
            return True
        hook = getattr(state, "failover_packet_hook", None)
        if hook is not None:
            hook(link, sender, msg, sender_current_epoch)

    elif msg_type == bp.TYPE_UPDATE:
        if sender is None:
            return True
        body = msg.body
        n = state.lookup(body.nodename)
        if n is None or n.config_epoch >= body.config_epoch:
            return True  # unknown node, or nothing new
        if n.is_slave:
            state.set_node_as_master(n)
        n.config_epoch = body.config_epoch
        state.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
        update_slots_config_with(state, n, body.config_epoch, body.slots)

    elif msg_type == bp.TYPE_MODULE:
        pass  # no module receives cluster messages here

    else:
        state.log("warning", f"Received unknown packet type: {msg_type}")
    return True


def _not_yet_owned(sender: ClusterNode, claimed: bytes) -> bytes:
    """The slots of ``claimed`` not bound to ``sender`` here, as a bitmap.

    A node's bitmap follows the slot table (add_slot/del_slot keep both), so
    the slots a claim could change are exactly these; looking only at them
    keeps a packet's cost to the few slots that moved rather than every slot
    the sender serves.
    """
    diff = int.from_bytes(claimed, "little") & ~int.from_bytes(sender.slots, "little")
    return diff.to_bytes(len(claimed), "little")


def _first_newer_owner(state: ClusterState, sender, sender_config_epoch: int, myslots: bytes):
    slots = state.slots
    for start, end in bitmap_to_ranges(_not_yet_owned(sender, myslots)):
        for j in range(start, end + 1):
            owner = slots[j]
            if owner is sender or owner is None:
                continue
            if owner.config_epoch > sender_config_epoch:
                return owner
    return None


def _update_address_if_needed(state: ClusterState, node: ClusterNode, link, h: bp.Header) -> bool:
    """nodeUpdateAddressIfNeeded: follow a node that now talks to us from elsewhere."""
    if link is node.link:
        return False
    ip = h.myip or link.peer_ip()
    if not ip:
        return False
    if node.port == h.port and node.cport == h.cport and node.pport == h.pport and ip == node.ip:
        return False
    node.ip = ip
    node.port = h.port
    node.pport = h.pport
    node.cport = h.cport
    if node.link is not None:
        node.link.free()
    node.flags &= ~bp.NODE_NOADDR
    state.log("notice", f"Address updated for node {node.name_str}, now {node.ip}:{node.port}")
    myself = state.myself
    if myself.is_slave and myself.slaveof is node and state.set_master_hook is not None:
        state.set_master_hook(node.ip, node.port)
    return True


def _process_gossip_section(state: ClusterState, link, h: bp.Header, body: bp.Ping) -> None:
    """clusterProcessGossipSection: failure reports, PONG times, addresses, new nodes."""
    sender = link.node if link.node is not None else state.lookup(h.sender)
    myself = state.myself
    now = state.now()
    for g in body.gossip:
        gflags = g.flags
        node = state.lookup(g.nodename)
        if node is not None:
            # Failure reports count only from masters.
            if sender is not None and sender.is_master and node is not myself:
                if gflags & (bp.NODE_FAIL | bp.NODE_PFAIL):
                    if failure.add_failure_report(state, node, sender):
                        state.log("verbose", f"Node {sender.name_str} reported node {node.name_str} as not reachable.")
                    failure.mark_node_as_failing_if_needed(state, node)
                elif failure.del_failure_report(state, node, sender):
                    state.log("verbose", f"Node {sender.name_str} reported node {node.name_str} is back online.")
            # Someone talks with it and we have nothing pending: take their PONG
            # time if newer (but not from our future).
            if (
                not gflags & (bp.NODE_FAIL | bp.NODE_PFAIL)
                and node.ping_sent == 0
                and state.failure_reports_count(node) == 0
            ):
                pongtime = g.pong_received * 1000
                if pongtime <= now + PONG_CLOCK_TOLERANCE and pongtime > node.pong_received:
                    node.pong_received = pongtime
            # We cannot reach it but someone can, at another address: use that one.
            if (
                node.flags & (bp.NODE_FAIL | bp.NODE_PFAIL)
                and not gflags & bp.NODE_NOADDR
                and not gflags & (bp.NODE_FAIL | bp.NODE_PFAIL)
                and (node.ip.lower() != g.ip.lower() or node.port != g.port or node.pport != g.pport
                     or node.cport != g.cport)
            ):
                if node.link is not None:
                    node.link.free()
                node.ip = g.ip
                node.port = g.port
                node.pport = g.pport
                node.cport = g.cport
                node.flags &= ~bp.NODE_NOADDR
        elif (
            sender is not None
            and not gflags & bp.NODE_NOADDR
            and verify_node_id(g.nodename)
            and not state.blacklist_exists(g.nodename)
        ):
            # Learn a node from a trusted peer's gossip.  Never start a
            # handshake from gossip alone: the address may belong to
            # another cluster by now.
            node = state.create_node(bytes(g.nodename), gflags & ~bp.NODE_MYSELF)
            node.ip = g.ip
            node.port = g.port
            node.pport = g.pport
            node.cport = g.cport
            state.add_node(node)


def _process_ping_extensions(state: ClusterState, link, h: bp.Header, body: bp.Ping) -> None:
    """Hostname (and the 7.2 forgotten-node and shard-id extensions, when a newer peer sends them)."""
    sender = link.node if link.node is not None else state.lookup(h.sender)
    if sender is None:
        return
    hostname = None
    myself = state.myself
    for ext in body.extensions:
        if isinstance(ext, bp.HostnameExt):
            hostname = ext.hostname
        elif isinstance(ext, bp.ForgottenNodeExt):
            n = state.lookup(ext.name)
            if n is not None and n is not myself and not (myself.is_slave and myself.slaveof is n):
                state.blacklist[bytes(ext.name)] = int(state.now() // 1000) + ext.ttl
                state.del_node(n)
                state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
        elif isinstance(ext, bp.ShardIdExt):
            sender.shard_id = bytes(ext.shard_id)
        elif isinstance(ext, bp.HumanNodenameExt):
            pass
        else:
            state.log("warning", f"Received unknown extension type {ext.type}")
    # No hostname extension means no announced hostname.
    hostname = hostname or ""
    if sender.hostname != hostname and sender.name in state.nodes:
        sender.hostname = hostname
        state.do_before_sleep(TODO_SAVE_CONFIG)


def update_slots_config_with(state: ClusterState, sender: ClusterNode, sender_config_epoch: int, slots: bytes) -> None:
    """clusterUpdateSlotsConfigWith: rebind slots ``sender`` claims with a newer configEpoch.

    If that leaves my shard's master without slots, I follow the new owner as
    its replica; if I only lost some slots still holding keys, those keys go.
    """
    myself = state.myself
    curmaster = myself if myself.is_master else myself.slaveof
    if sender is myself:
        state.log("notice", "Discarding UPDATE message about myself.")
        return
    newmaster = None
    dirty_slots: list[int] = []
    sender_slots = int.from_bytes(slots, "little").bit_count()
    migrated_our_slots = 0
    table = state.slots
    for start, end in bitmap_to_ranges(_not_yet_owned(sender, slots)):
        for j in range(start, end + 1):
            owner = table[j]
            if owner is sender:
                continue
            # An importing slot is only closed by hand (redis-cli), never by gossip.
            if j in state.importing_slots_from:
                continue
            if owner is None or owner.config_epoch < sender_config_epoch:
                if owner is myself and state.count_keys_in_slot(j):
                    dirty_slots.append(j)
                if owner is curmaster and owner is not None:
                    newmaster = sender
                    migrated_our_slots += 1
                state.del_slot(j)
                state.add_slot(sender, j)
                state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
    allow_migration = state.cfg("cluster-allow-replica-migration", True)
    if (
        newmaster is not None
        and curmaster is not None
        and curmaster.numslots == 0
        and (allow_migration or sender_slots == migrated_our_slots)
    ):
        state.log("notice", f"Configuration change detected. Reconfiguring myself as a replica of {sender.name_str}")
        state.set_master(sender)
        state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
    elif (
        myself.slaveof is not None
        and myself.slaveof.slaveof is not None
        and myself.slaveof.slaveof is not myself
    ):
        grand = myself.slaveof.slaveof
        state.log("notice", f"I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {grand.name_str}")
        state.set_master(grand)
        state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
    elif dirty_slots:
        # Still a master: drop the keys of the slots we lost, to stay consistent.
        if state.del_keys_in_slot_hook is not None:
            for j in dirty_slots:
                state.del_keys_in_slot_hook(j)


# ---------------------------------------------------------------------------
# The cron
# ---------------------------------------------------------------------------


def on_link_connected(state: ClusterState, link) -> None:
    """clusterLinkConnectHandler's protocol part: PING (or MEET) at once on a new link."""
    node = link.node
    old_ping_sent = node.ping_sent
    send_ping(state, link, bp.TYPE_MEET if node.flags & bp.NODE_MEET else bp.TYPE_PING)
    if old_ping_sent:
        # Keep the age of a PING that was pending before the reconnection.
        node.ping_sent = old_ping_sent
    # After the first packet a MEET is no longer needed: the PONG makes us known.
    node.flags &= ~bp.NODE_MEET


def cron(state: ClusterState) -> None:
    """clusterCron: called every 100 ms."""
    state.cron_iteration = getattr(state, "cron_iteration", 0) + 1
    iteration = state.cron_iteration
    state.update_myself_announced()
    now = state.now()
    timeout = state.node_timeout
    handshake_timeout = max(timeout, HANDSHAKE_MIN_TIMEOUT)
    bus = state.bus
    myself = state.myself

    state.stats_pfail_nodes = 0
    sendbuf_limit = state.cfg("cluster-link-sendbuf-limit", 0)
    for node in list(state.nodes.values()):
        if sendbuf_limit:
            for link in (node.link, node.inbound_link):
                if link is not None and link.send_buffer_size() > sendbuf_limit:
                    state.log(
                        "warning",
                        f"Freeing cluster link({'from' if link.inbound else 'to'} node {node.name_str}, "
                        f"used memory: {link.send_buffer_size()}) due to exceeding send buffer memory limit.",
                    )
                    link.free()
                    state.stat_links_buffer_limit_exceeded += 1
        if node.flags & (bp.NODE_MYSELF | bp.NODE_NOADDR):
            continue
        if node.flags & bp.NODE_PFAIL:
            state.stats_pfail_nodes += 1
        if node.in_handshake and now - node.ctime > handshake_timeout:
            state.del_node(node)
            continue
        if node.link is None and bus is not None:
            bus.connect(node)

    # About once a second, PING the node with the oldest PONG among a few random ones.
    if iteration % CRON_PING_EVERY == 0:
        nodes = list(state.nodes.values())
        min_pong_node = None
        for _ in range(RANDOM_PING_SAMPLE):
            this = random.choice(nodes)
            if this.link is None or this.ping_sent != 0:
                continue
            if this.flags & (bp.NODE_MYSELF | bp.NODE_HANDSHAKE):
                continue
            if min_pong_node is None or min_pong_node.pong_received > this.pong_received:
                min_pong_node = this
        if min_pong_node is not None:
            state.log("debug", f"Pinging node {min_pong_node.name_str}")
            send_ping(state, min_pong_node.link, bp.TYPE_PING)

    update_state = False
    for node in list(state.nodes.values()):
        now = state.now()
        if node.flags & (bp.NODE_MYSELF | bp.NODE_NOADDR | bp.NODE_HANDSHAKE):
            continue
        if node.name not in state.nodes:
            continue  # forgotten while we iterate
        ping_delay = now - node.ping_sent
        data_delay = now - node.data_received
        # A link with a PING unanswered for half the timeout and no data at
        # all: reconnect, the connection may be what is broken.
        link = node.link
        if (
            link is not None
            and now - link.ctime > timeout
            and node.ping_sent
            and ping_delay > timeout / 2
            and data_delay > timeout / 2
        ):
            link.free()
        # Nobody should wait more than half the timeout for our PING.
        if node.link is not None and node.ping_sent == 0 and now - node.pong_received > timeout / 2:
            send_ping(state, node.link, bp.TYPE_PING)
            continue
        if state.mf_end and myself.is_master and getattr(state, "mf_slave", None) is node and node.link is not None:
            send_ping(state, node.link, bp.TYPE_PING)
            continue
        if failure.check_timeout(state, node, now):
            update_state = True

    hook = getattr(state, "failover_cron_hook", None)
    if hook is not None:
        hook()
    if update_state or state.state == CLUSTER_FAIL:
        state.update_state()
