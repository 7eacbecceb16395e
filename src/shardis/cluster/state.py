"""The cluster as this node sees it: nodes, flags, epochs and who serves which slot.

This is the data model of Redis's clusterState / clusterNode (cluster.h)
and the transitions that only touch it: adding, renaming and forgetting
nodes, binding slots, master/replica bookkeeping, config epochs (including
the collision rule between masters), the nodes blacklist of CLUSTER FORGET,
the cluster-wide ok/fail verdict, CLUSTER NODES / INFO text, and the
deferred "before sleep" work (save nodes.conf, re-evaluate the state).

It does no I/O of its own.  Links are objects with a ``free()`` method that
the bus (``links``) hands in; the message traffic lives in ``gossip`` and
``failure``; client routing in ``routing``; the file format in
``nodesconf``.  Keeping the model free of sockets lets the unit tests drive
a cluster of several states in one process.

One derived view is kept for the client hot path: ``owned``, a
16384-byte table with 1 for every slot this node serves as a master with no
migration or import in progress while the cluster is ok.  The connection
fast path runs a single-key command at once when its slot is set there.
Every change that could clear an entry zeroes the table in place at once
(``invalidate_routing``), and the next command on the slow path (or the
cron) rebuilds it, so the fast path can never act on a stale yes.  The
table object is never replaced, so the connection may hold a reference.

Times are Unix milliseconds, as in Redis (``mstime()``).
"""

from __future__ import annotations

import os
import time

from . import busproto as bp
from .slots import CLUSTER_SLOTS, SLOT_BITMAP_LEN, bitmap_to_ranges, format_ranges

__all__ = [
    "ClusterNode",
    "ClusterState",
    "mstime",
    "random_name",
    "verify_node_id",
    "CLUSTER_OK",
    "CLUSTER_FAIL",
    "TODO_HANDLE_FAILOVER",
    "TODO_UPDATE_STATE",
    "TODO_SAVE_CONFIG",
    "TODO_FSYNC_CONFIG",
    "TODO_HANDLE_MANUALFAILOVER",
    "CLUSTER_PORT_INCR",
    "BLACKLIST_TTL",
    "FAIL_REPORT_VALIDITY_MULT",
    "FAIL_UNDO_TIME_MULT",
]

CLUSTER_OK = bp.CLUSTER_OK
CLUSTER_FAIL = bp.CLUSTER_FAIL

CLUSTER_PORT_INCR = 10000  # bus port = client port + this, unless cluster-port says otherwise
BLACKLIST_TTL = 60  # seconds a forgotten node may not be re-added from gossip
FAIL_REPORT_VALIDITY_MULT = 2  # × node_timeout: how long a failure report counts
FAIL_UNDO_TIME_MULT = 2  # × node_timeout: a FAIL master still serving slots is cleared after this
MAX_REJOIN_DELAY = 5000  # ms: longest wait before a master back from a minority accepts writes
MIN_REJOIN_DELAY = 500  # ms: shortest such wait
WRITABLE_DELAY = 2000  # ms after start before a master may turn the state to ok

# Deferred work, done before the event loop sleeps again (clusterBeforeSleep).
TODO_HANDLE_FAILOVER = 1 << 0
TODO_UPDATE_STATE = 1 << 1
TODO_SAVE_CONFIG = 1 << 2
TODO_FSYNC_CONFIG = 1 << 3
TODO_HANDLE_MANUALFAILOVER = 1 << 4

# Message types counted in CLUSTER INFO's stats.
_TYPE_COUNT = bp.TYPE_COUNT

_ZERO_SLOTS = bytes(CLUSTER_SLOTS)
_ONE_SLOTS = b"\x01" * CLUSTER_SLOTS
_HEX = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyz")

# Flag names in CLUSTER NODES order (representClusterNodeFlags).
_FLAG_NAMES = (
    (bp.NODE_MYSELF, "myself"),
    (bp.NODE_MASTER, "master"),
    (bp.NODE_SLAVE, "slave"),
    (bp.NODE_PFAIL, "fail?"),
    (bp.NODE_FAIL, "fail"),
    (bp.NODE_HANDSHAKE, "handshake"),
    (bp.NODE_NOADDR, "noaddr"),
    (bp.NODE_NOFAILOVER, "nofailover"),
)


def mstime() -> int:
    return int(time.time() * 1000)


def random_name() -> bytes:
    """40 random lower-case hex characters: a fresh node id (getRandomHexChars)."""
    return os.urandom(20).hex().encode()


def verify_node_id(name: bytes) -> bool:
    """Redis's sanity check of a node id: 40 characters in [a-z0-9]."""
    return len(name) == bp.NAMELEN and all(c in _HEX for c in name)


def flags_repr(flags: int) -> str:
    names = [name for bit, name in _FLAG_NAMES if flags & bit]
    return ",".join(names) if names else "noflags"


class ClusterNode:
    """One node of the cluster (clusterNode), myself included."""

    __slots__ = (
        "name",
        "shard_id",
        "ctime",
        "config_epoch",
        "flags",
        "slots",
        "numslots",
        "slaves",
        "slaveof",
        "last_in_ping_gossip",
        "ping_sent",
        "pong_received",
        "data_received",
        "fail_time",
        "voted_time",
        "repl_offset_time",
        "orphaned_time",
        "repl_offset",
        "ip",
        "hostname",
        "port",
        "pport",
        "cport",
        "link",
        "inbound_link",
        "fail_reports",
    )

    def __init__(self, name: bytes | None = None, flags: int = 0):
        self.name = name if name is not None else random_name()
        self.shard_id = random_name()
        self.ctime = mstime()
        self.config_epoch = 0
        self.flags = flags
        self.slots = bytearray(SLOT_BITMAP_LEN)  # the bus bitmap: bit s%8 of byte s//8
        self.numslots = 0
        self.slaves: list[ClusterNode] = []
        self.slaveof: ClusterNode | None = None
        self.last_in_ping_gossip = 0
        self.ping_sent = 0  # ms of the PING still waiting for its PONG, 0 if none
        self.pong_received = 0  # ms of the last PONG
        self.data_received = 0  # ms of the last packet of any kind from it
        self.fail_time = 0  # ms when it was flagged FAIL
        self.voted_time = 0
        self.repl_offset_time = 0
        self.orphaned_time = 0
        self.repl_offset = 0
        self.ip = ""  # "" until known
        self.hostname = ""
        self.port = 0  # client port
        self.pport = 0  # plaintext port when the cluster uses TLS (0 otherwise)
        self.cport = 0  # bus port
        self.link = None  # our outbound link to it
        self.inbound_link = None  # its link to us, once identified
        self.fail_reports: dict = {}  # reporting master node -> ms of its last report

    # --- flag tests (nodeIsMaster & co.) --------------------------------------------------

    @property
    def is_master(self) -> bool:
        return bool(self.flags & bp.NODE_MASTER)

    @property
    def is_slave(self) -> bool:
        return bool(self.flags & bp.NODE_SLAVE)

    @property
    def in_handshake(self) -> bool:
        return bool(self.flags & bp.NODE_HANDSHAKE)

    @property
    def has_addr(self) -> bool:
        return not self.flags & bp.NODE_NOADDR

    @property
    def timed_out(self) -> bool:
        return bool(self.flags & bp.NODE_PFAIL)

    @property
    def failed(self) -> bool:
        return bool(self.flags & bp.NODE_FAIL)

    @property
    def is_myself(self) -> bool:
        return bool(self.flags & bp.NODE_MYSELF)

    @property
    def name_str(self) -> str:
        return self.name.decode("latin-1")

    def master(self) -> "ClusterNode":
        """The node itself if a master (or of unknown master), else its master."""
        return self.slaveof if self.is_slave and self.slaveof is not None else self

    # --- slots of this node -----------------------------------------------------------

    def has_slot(self, slot: int) -> bool:
        return bool(self.slots[slot >> 3] & (1 << (slot & 7)))

    def slot_ranges(self) -> list[tuple[int, int]]:
        return bitmap_to_ranges(self.slots)

    # --- replicas -------------------------------------------------------------------------

    def add_slave(self, slave: "ClusterNode") -> bool:
        if slave in self.slaves:
            return False
        self.slaves.append(slave)
        self.flags |= bp.NODE_MIGRATE_TO
        return True

    def remove_slave(self, slave: "ClusterNode") -> bool:
        try:
            self.slaves.remove(slave)
        except ValueError:
            return False
        if not self.slaves:
            self.flags &= ~bp.NODE_MIGRATE_TO
        return True

    def count_non_failing_slaves(self) -> int:
        return sum(1 for s in self.slaves if not s.failed)

    def __repr__(self) -> str:
        return f"<ClusterNode {self.name_str[:8]} {self.ip}:{self.port} {flags_repr(self.flags)}>"


class ClusterState:
    """Everything this node knows about the cluster (clusterState)."""

    def __init__(self, server=None, myself: ClusterNode | None = None):
        self.server = server  # the shardis Node (config, log, dbs), or None in unit tests
        self.nodes: dict[bytes, ClusterNode] = {}
        if myself is None:
            myself = ClusterNode(None, bp.NODE_MYSELF | bp.NODE_MASTER)
        self.myself = myself
        self.add_node(myself)
        self.current_epoch = 0
        self.last_vote_epoch = 0
        self.state = CLUSTER_FAIL
        self.size = 1
        self.slots: list[ClusterNode | None] = [None] * CLUSTER_SLOTS
        self.migrating_slots_to: dict[int, ClusterNode] = {}
        self.importing_slots_from: dict[int, ClusterNode] = {}
        self.blacklist: dict[bytes, int] = {}  # node id -> unix seconds when it may come back
        self.stats_sent = [0] * _TYPE_COUNT
        self.stats_received = [0] * _TYPE_COUNT
        self.stats_pfail_nodes = 0
        self.stat_links_buffer_limit_exceeded = 0
        self.pings_sent = 0  # PING/PONG/MEET built so far (gossip de-duplication)
        self.todo = 0
        self.among_minority_time = 0
        self.first_call_time = 0
        # manual failover / election state, owned by the failover module
        self.mf_end = 0
        self.failover_auth_time = 0
        self.failover_auth_count = 0
        self.failover_auth_epoch = 0
        self.cant_failover_reason = 0
        # client routing
        self.owned = bytearray(CLUSTER_SLOTS)
        self.all_owned = False  # every byte of owned is 1
        self.routing_dirty = True
        # hooks set by the runtime (all optional)
        self.bus = None  # links.Bus: send(), broadcast(), connect()
        self.save_hook = None  # callable(fsync: bool) -> None
        self.schedule_hook = None  # callable(): run before_sleep soon
        self.set_master_hook = None  # callable(ip, port): replication towards our new master
        self.unset_master_hook = None  # callable(): stop replicating
        self.slot_keys_hook = None  # callable(slot) -> number of keys we hold in slot
        self.del_keys_in_slot_hook = None  # callable(slot): delete our keys of slot
        self.empty_data_hook = None  # callable(): drop the whole data set
        self.del_slot_hook = None  # callable(slot): a slot is no longer bound (shard channels)
        self.all_owned_hook = None  # callable(bool): all_owned changed (the fast path's command sets)
        self.now = mstime  # the clock; tests replace it

    # --- settings read from the server config -------------------------------------------

    def cfg(self, name: str, default=None):
        server = self.server
        if server is None:
            return default
        return server.config[name]

    @property
    def node_timeout(self) -> int:
        return self.cfg("cluster-node-timeout", 15000)

    def log(self, level: str, msg: str) -> None:
        if self.server is not None:
            self.server.log(level, msg)

    # --- deferred work (clusterDoBeforeSleep / clusterBeforeSleep) -----------------------

    def do_before_sleep(self, flags: int) -> None:
        if not self.todo and self.schedule_hook is not None:
            self.schedule_hook()
        self.todo |= flags

    def before_sleep(self) -> None:
        flags = self.todo
        self.todo = 0
        if flags & TODO_UPDATE_STATE:
            self.update_state()
        if flags & TODO_SAVE_CONFIG:
            self.save_config(bool(flags & TODO_FSYNC_CONFIG))
        if self.routing_dirty:
            self.refresh_routing()

    def save_config(self, fsync: bool = True) -> None:
        self.todo &= ~(TODO_SAVE_CONFIG | (TODO_FSYNC_CONFIG if fsync else 0))
        if self.save_hook is not None:
            self.save_hook(fsync)

    # --- the nodes table -------------------------------------------------------------------

    def create_node(self, name: bytes | None, flags: int) -> ClusterNode:
        node = ClusterNode(name, flags)
        node.ctime = self.now()
        return node

    def add_node(self, node: ClusterNode) -> None:
        assert node.name not in self.nodes, "node added twice"
        self.nodes[node.name] = node

    def lookup(self, name) -> ClusterNode | None:
        """The node called ``name`` (bytes or str), None if unknown or malformed."""
        if isinstance(name, str):
            name = name.encode("latin-1")
        if not verify_node_id(name):
            return None
        return self.nodes.get(bytes(name))

    def rename_node(self, node: ClusterNode, newname: bytes) -> None:
        self.log("debug", f"Renaming node {node.name_str} into {newname.decode('latin-1')}")
        del self.nodes[node.name]
        node.name = newname
        self.nodes[newname] = node

    def del_node(self, delnode: ClusterNode) -> None:
        """Forget a node (clusterDelNode): its slots, the reports it made, its links."""
        for slot, n in list(self.importing_slots_from.items()):
            if n is delnode:
                del self.importing_slots_from[slot]
                self.invalidate_routing()
        for slot, n in list(self.migrating_slots_to.items()):
            if n is delnode:
                del self.migrating_slots_to[slot]
                self.invalidate_routing()
        if delnode.numslots:
            for start, end in delnode.slot_ranges():
                for slot in range(start, end + 1):
                    self.del_slot(slot)
        for node in self.nodes.values():
            if node is not delnode:
                node.fail_reports.pop(delnode, None)
        self._free_node(delnode)

    def _free_node(self, n: ClusterNode) -> None:
        for slave in n.slaves:
            slave.slaveof = None
        if n.is_slave and n.slaveof is not None:
            n.slaveof.remove_slave(n)
        self.nodes.pop(n.name, None)
        if n.link is not None:
            n.link.free()
        if n.inbound_link is not None:
            n.inbound_link.free()
        n.link = n.inbound_link = None

    def known_nodes(self) -> int:
        return len(self.nodes)

    def connections_count(self) -> int:
        """Sockets used by the bus, as INFO's cluster_connections counts them."""
        return (len(self.nodes) - 1) * 2

    # --- handshakes ---------------------------------------------------------------------------

    def handshake_in_progress(self, ip: str, port: int, cport: int) -> bool:
        for n in self.nodes.values():
            if n.in_handshake and n.ip.lower() == ip.lower() and n.port == port and n.cport == cport:
                return True
        return False

    def start_handshake(self, ip: str, port: int, cport: int) -> str | None:
        """clusterStartHandshake: add a HANDSHAKE|MEET node for ``ip:port@cport``.

        Returns None when started, "EINVAL" for a bad address or port,
        "EAGAIN" when a handshake with that address is already going on.
        """
        norm = normalize_ip(ip)
        if norm is None:
            return "EINVAL"
        if not (0 < port <= 65535 and 0 < cport <= 65535):
            return "EINVAL"
        if self.handshake_in_progress(norm, port, cport):
            return "EAGAIN"
        n = self.create_node(None, bp.NODE_HANDSHAKE | bp.NODE_MEET)
        n.ip = norm
        n.port = port
        n.cport = cport
        self.add_node(n)
        return None

    # --- failure reports (the bookkeeping; decisions are in failure.py) -----------------

    def failure_reports_count(self, node: ClusterNode) -> int:
        self.cleanup_failure_reports(node)
        return len(node.fail_reports)

    def cleanup_failure_reports(self, node: ClusterNode) -> None:
        if not node.fail_reports:
            return
        maxtime = self.node_timeout * FAIL_REPORT_VALIDITY_MULT
        now = self.now()
        for sender, when in list(node.fail_reports.items()):
            if now - when > maxtime:
                del node.fail_reports[sender]

    # --- the blacklist of forgotten nodes ---------------------------------------------------

    def blacklist_cleanup(self) -> None:
        now = int(time.time())
        for name, expire in list(self.blacklist.items()):
            if expire < now:
                del self.blacklist[name]

    def blacklist_add(self, node: ClusterNode) -> None:
        self.blacklist_cleanup()
        self.blacklist[node.name] = int(time.time()) + BLACKLIST_TTL

    def blacklist_exists(self, name: bytes) -> bool:
        self.blacklist_cleanup()
        return bytes(name) in self.blacklist

    # --- epochs --------------------------------------------------------------------------------

    def max_epoch(self) -> int:
        """The greatest configEpoch known, or currentEpoch if greater."""
        best = max((n.config_epoch for n in self.nodes.values()), default=0)
        return max(best, self.current_epoch)

    def bump_epoch_without_consensus(self) -> bool:
        """Give myself a new, greatest config epoch unless it already is the greatest.

        True when bumped (clusterBumpConfigEpochWithoutConsensus).
        """
        max_epoch = self.max_epoch()
        myself = self.myself
        if myself.config_epoch == 0 or myself.config_epoch != max_epoch:
            self.current_epoch += 1
            myself.config_epoch = self.current_epoch
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            self.log("notice", f"New configEpoch set to {myself.config_epoch}")
            return True
        return False

    def handle_config_epoch_collision(self, sender: ClusterNode) -> None:
        """Two masters with one configEpoch: the one with the smaller id moves on.

        Since the node with the greatest id never moves, any number of
        colliding masters end up with distinct epochs.
        """
        myself = self.myself
        if sender.config_epoch != myself.config_epoch or not sender.is_master or not myself.is_master:
            return
        if sender.name <= myself.name:
            return
        self.current_epoch += 1
        myself.config_epoch = self.current_epoch
        self.save_config(True)
        self.log(
            "verbose",
            f"WARNING: configEpoch collision with node {sender.name_str}. "
            f"configEpoch set to {myself.config_epoch}",
        )

    # --- slots -----------------------------------------------------------------------------------

    def invalidate_routing(self) -> None:
        """Something that decides routing changed: no slot is fast until refreshed."""
        if not self.routing_dirty:
            self.routing_dirty = True
            self.owned[:] = _ZERO_SLOTS
            if self.all_owned:
                self.all_owned = False
                if self.all_owned_hook is not None:
                    self.all_owned_hook(False)

    def refresh_routing(self) -> None:
        """Rebuild ``owned``: my stable slots while the cluster is ok."""
        owned = self.owned
        owned[:] = _ZERO_SLOTS
        myself = self.myself
        if self.state == CLUSTER_OK and myself.is_master and myself.numslots:
            for start, end in myself.slot_ranges():
                owned[start:end + 1] = _ONE_SLOTS[: end - start + 1]
            for slot in self.migrating_slots_to:
                owned[slot] = 0
            for slot in self.importing_slots_from:
                owned[slot] = 0
        all_owned = owned == _ONE_SLOTS
        if all_owned != self.all_owned:
            self.all_owned = all_owned
            if self.all_owned_hook is not None:
                self.all_owned_hook(all_owned)
        self.routing_dirty = False

    def masters_have_slaves(self) -> bool:
        return any(n.slaves for n in self.nodes.values() if not n.is_slave)

    def node_set_slot_bit(self, n: ClusterNode, slot: int) -> bool:
        mask = 1 << (slot & 7)
        old = bool(n.slots[slot >> 3] & mask)
        if not old:
            n.slots[slot >> 3] |= mask
            n.numslots += 1
            # A master's first slot makes it a replica-migration target when
            # some other master has replicas (see Redis issue #3043).
            if n.numslots == 1 and self.masters_have_slaves():
                n.flags |= bp.NODE_MIGRATE_TO
        return old

    def node_clear_slot_bit(self, n: ClusterNode, slot: int) -> bool:
        mask = 1 << (slot & 7)
        old = bool(n.slots[slot >> 3] & mask)
        if old:
            n.slots[slot >> 3] &= ~mask & 0xFF
            n.numslots -= 1
        return old

    def add_slot(self, n: ClusterNode, slot: int) -> bool:
        """Bind an unassigned slot to ``n``; False if the slot already has an owner."""
        if self.slots[slot] is not None:
            return False
        self.node_set_slot_bit(n, slot)
        self.slots[slot] = n
        self.invalidate_routing()
        return True

    def del_slot(self, slot: int) -> bool:
        """Unbind a slot; False if it was unassigned."""
        n = self.slots[slot]
        if n is None:
            return False
        if self.del_slot_hook is not None:
            self.del_slot_hook(slot)
        self.node_clear_slot_bit(n, slot)
        self.slots[slot] = None
        self.invalidate_routing()
        return True

    def del_node_slots(self, n: ClusterNode) -> int:
        deleted = 0
        for start, end in n.slot_ranges():
            for slot in range(start, end + 1):
                self.del_slot(slot)
                deleted += 1
        return deleted

    def close_all_slots(self) -> None:
        if self.migrating_slots_to or self.importing_slots_from:
            self.invalidate_routing()
        self.migrating_slots_to.clear()
        self.importing_slots_from.clear()

    def set_migrating(self, slot: int, n: ClusterNode | None) -> None:
        if n is None:
            self.migrating_slots_to.pop(slot, None)
        else:
            self.migrating_slots_to[slot] = n
        self.invalidate_routing()

    def set_importing(self, slot: int, n: ClusterNode | None) -> None:
        if n is None:
            self.importing_slots_from.pop(slot, None)
        else:
            self.importing_slots_from[slot] = n
        self.invalidate_routing()

    def count_keys_in_slot(self, slot: int) -> int:
        return self.slot_keys_hook(slot) if self.slot_keys_hook is not None else 0

    # --- masters and replicas ---------------------------------------------------------------

    def set_node_as_master(self, n: ClusterNode) -> None:
        """clusterSetNodeAsMaster: a node we thought a replica acts as a master."""
        if n.is_master:
            return
        if n.slaveof is not None:
            n.slaveof.remove_slave(n)
            if n is not self.myself:
                n.flags |= bp.NODE_MIGRATE_TO
        n.flags &= ~bp.NODE_SLAVE
        n.flags |= bp.NODE_MASTER
        n.slaveof = None
        if n is self.myself:
            self.invalidate_routing()
        self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)

    def set_master(self, n: ClusterNode) -> None:
        """clusterSetMaster: make myself a replica of ``n`` (topology and replication hook)."""
        myself = self.myself
        assert n is not myself
        assert myself.numslots == 0
        if myself.is_master:
            myself.flags &= ~(bp.NODE_MASTER | bp.NODE_MIGRATE_TO)
            myself.flags |= bp.NODE_SLAVE
            self.close_all_slots()
        elif myself.slaveof is not None:
            myself.slaveof.remove_slave(myself)
        myself.slaveof = n
        myself.shard_id = n.shard_id
        n.add_slave(myself)
        self.invalidate_routing()
        if self.set_master_hook is not None:
            self.set_master_hook(n.ip, n.port)

    # --- reset -----------------------------------------------------------------------------------

    def reset(self, hard: bool) -> None:
        """CLUSTER RESET: forget every other node and every slot; HARD also renames myself."""
        myself = self.myself
        if myself.is_slave:
            self.set_node_as_master(myself)
            if self.unset_master_hook is not None:
                self.unset_master_hook()
            if self.empty_data_hook is not None:
                self.empty_data_hook()
        self.close_all_slots()
        self.mf_end = 0
        for slot in range(CLUSTER_SLOTS):
            self.del_slot(slot)
        for node in list(self.nodes.values()):
            if node is not myself:
                self.del_node(node)
        self.blacklist.clear()
        if hard:
            self.current_epoch = 0
            self.last_vote_epoch = 0
            myself.config_epoch = 0
            self.log("notice", "configEpoch set to 0 via CLUSTER RESET HARD")
            del self.nodes[myself.name]
            myself.name = random_name()
            myself.shard_id = random_name()
            self.nodes[myself.name] = myself
            self.log("notice", f"Node hard reset, now I'm {myself.name_str}")
        self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)

    # --- the cluster state verdict ------------------------------------------------------------

    def update_state(self) -> None:
        """clusterUpdateState: ok when every slot is served (if required) by a majority side."""
        self.todo &= ~TODO_UPDATE_STATE
        now = self.now()
        if self.first_call_time == 0:
            self.first_call_time = now
        myself = self.myself
        # A master just started waits a little before declaring ok, so the
        # cluster gets a chance to reconfigure it first.
        if myself.is_master and self.state == CLUSTER_FAIL and now - self.first_call_time < WRITABLE_DELAY:
            return
        new_state = CLUSTER_OK
        if self.cfg("cluster-require-full-coverage", True):
            # Every slot bound, none to a FAIL node.  Counted per node: a
            # node's numslots follows the table (add_slot/del_slot keep both),
            # and this runs after every slot change, where a walk over the
            # 16384 slots in Python costs about a millisecond.
            bound = 0
            for n in self.nodes.values():
                if n.numslots:
                    bound += n.numslots
                    if n.flags & bp.NODE_FAIL:
                        new_state = CLUSTER_FAIL
            if bound != CLUSTER_SLOTS:
                new_state = CLUSTER_FAIL
        size = 0
        reachable = 0
        for n in self.nodes.values():
            if n.is_master and n.numslots:
                size += 1
                if not n.flags & (bp.NODE_FAIL | bp.NODE_PFAIL):
                    reachable += 1
        self.size = size
        if reachable < size // 2 + 1:
            new_state = CLUSTER_FAIL
            self.among_minority_time = now
        if new_state != self.state:
            rejoin_delay = min(max(self.node_timeout, MIN_REJOIN_DELAY), MAX_REJOIN_DELAY)
            if new_state == CLUSTER_OK and myself.is_master and now - self.among_minority_time < rejoin_delay:
                return
            self.log("notice" if new_state == CLUSTER_OK else "warning",
                     "Cluster state changed: " + ("ok" if new_state == CLUSTER_OK else "fail"))
            self.state = new_state
            self.invalidate_routing()

    # --- text views: CLUSTER NODES, nodes.conf, CLUSTER INFO -------------------------------

    def node_description(self, node: ClusterNode) -> str:
        """One CLUSTER NODES line (without the newline)."""
        parts = [node.name_str, f"{node.ip}:{node.port}@{node.cport}" + (f",{node.hostname}" if node.hostname else "")]
        parts.append(flags_repr(node.flags))
        parts.append(node.slaveof.name_str if node.slaveof is not None else "-")
        epoch = node.config_epoch
        if node.is_slave and node.slaveof is not None:
            epoch = node.slaveof.config_epoch
        parts.append(str(node.ping_sent))
        parts.append(str(node.pong_received))
        parts.append(str(epoch))
        parts.append("connected" if (node.link is not None or node.flags & bp.NODE_MYSELF) else "disconnected")
        if node.numslots:
            parts.extend(format_ranges(node.slot_ranges()))
        if node.flags & bp.NODE_MYSELF:
            for slot in sorted(set(self.migrating_slots_to) | set(self.importing_slots_from)):
                n = self.migrating_slots_to.get(slot)
                if n is not None:
                    parts.append(f"[{slot}->-{n.name_str}]")
                else:
                    parts.append(f"[{slot}-<-{self.importing_slots_from[slot].name_str}]")
        return " ".join(parts)

    def nodes_description(self, filter_flags: int = 0) -> str:
        """Every known node, one line each, skipping nodes with any of ``filter_flags``."""
        out = []
        for node in self.nodes.values():
            if node.flags & filter_flags:
                continue
            out.append(self.node_description(node) + "\n")
        return "".join(out)

    def info_text(self) -> str:
        """The CLUSTER INFO text (genClusterInfoString)."""
        # Counted per node, as in update_state: each bound slot is in its owner's numslots.
        assigned = ok = pfail = fail = 0
        for n in self.nodes.values():
            count = n.numslots
            if not count:
                continue
            assigned += count
            if n.flags & bp.NODE_FAIL:
                fail += count
            elif n.flags & bp.NODE_PFAIL:
                pfail += count
            else:
                ok += count
        myself = self.myself
        myepoch = myself.slaveof.config_epoch if myself.is_slave and myself.slaveof is not None else myself.config_epoch
        lines = [
            f"cluster_state:{'ok' if self.state == CLUSTER_OK else 'fail'}",
            f"cluster_slots_assigned:{assigned}",
            f"cluster_slots_ok:{ok}",
            f"cluster_slots_pfail:{pfail}",
            f"cluster_slots_fail:{fail}",
            f"cluster_known_nodes:{len(self.nodes)}",
            f"cluster_size:{self.size}",
            f"cluster_current_epoch:{self.current_epoch}",
            f"cluster_my_epoch:{myepoch}",
        ]
        tot = 0
        for t, n in enumerate(self.stats_sent):
            if n:
                tot += n
                lines.append(f"cluster_stats_messages_{bp.type_name(t)}_sent:{n}")
        lines.append(f"cluster_stats_messages_sent:{tot}")
        tot = 0
        for t, n in enumerate(self.stats_received):
            if n:
                tot += n
                lines.append(f"cluster_stats_messages_{bp.type_name(t)}_received:{n}")
        lines.append(f"cluster_stats_messages_received:{tot}")
        lines.append(f"total_cluster_links_buffer_limit_exceeded:{self.stat_links_buffer_limit_exceeded}")
        return "".join(line + "\r\n" for line in lines)

    # --- announced address --------------------------------------------------------------

    def announced_ports(self) -> tuple[int, int, int]:
        """(port, pport, cport) this node announces (deriveAnnouncedPorts, no TLS)."""
        port = self.cfg("port", 6379)
        announced_port = self.cfg("cluster-announce-port", 0) or port
        cport = self.cfg("cluster-announce-bus-port", 0) or self.cfg("cluster-port", 0) or port + CLUSTER_PORT_INCR
        return announced_port, 0, cport

    def update_myself_announced(self) -> None:
        """Follow CONFIG SET of the announce options (done from the cron, as Redis does)."""
        myself = self.myself
        port, pport, cport = self.announced_ports()
        myself.port, myself.pport, myself.cport = port, pport, cport
        ip = self.cfg("cluster-announce-ip", "") or ""
        if ip != getattr(self, "_prev_announce_ip", ""):
            self._prev_announce_ip = ip
            myself.ip = ip  # "" forces autodetection from the next MEET
            self.do_before_sleep(TODO_SAVE_CONFIG)
        hostname = self.cfg("cluster-announce-hostname", "") or ""
        if hostname != myself.hostname:
            myself.hostname = hostname
            self.do_before_sleep(TODO_SAVE_CONFIG)


def normalize_ip(ip: str) -> str | None:
    """The canonical text of an IPv4/IPv6 address (inet_pton + inet_ntop), None if invalid."""
    import socket

    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, ip))
        except (OSError, ValueError, UnicodeError):
            continue
    return None
