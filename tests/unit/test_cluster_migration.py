"""Slot migration at the level of the cluster state and the bus, in one process.

The CLUSTER SETSLOT handler runs against in-memory nodes (links.MemoryNetwork,
a fake clock): the target closing an import bumps its configEpoch past every
other one and its PONG alone moves the slot on every other node; gossip never
rebinds a slot that is being imported; a master left without slots follows
the new owner (or stays a master when replica migration is off); a PONG's
claims are looked at only for the slots not already bound to its sender,
with the full claim still counted for the replica-migration rule; and the
full-coverage verdict is computed per node.
"""

from __future__ import annotations

from shardis.cluster import busproto as bp
from shardis.cluster import gossip
from shardis.cluster.links import MemoryNetwork
from shardis.cluster.state import CLUSTER_FAIL, CLUSTER_OK, ClusterState
from shardis.commands import cluster as cluster_commands

NODE_TIMEOUT = 1000
TICK = 100  # ms


class FakeServer:
    def __init__(self, port: int, **cfg):
        self.config = {
            "port": port,
            "cluster-node-timeout": NODE_TIMEOUT,
            "cluster-require-full-coverage": True,
            "cluster-announce-ip": "",
            "cluster-announce-port": 0,
            "cluster-announce-bus-port": 0,
            "cluster-port": 0,
            "cluster-announce-hostname": "",
            "cluster-preferred-endpoint-type": "ip",
            "cluster-allow-replica-migration": True,
            "cluster-link-sendbuf-limit": 0,
            "cluster-allow-reads-when-down": False,
            "cluster-allow-pubsubshard-when-down": True,
        }
        self.config.update(cfg)
        self.lines: list[tuple[str, str]] = []
        self.cluster = None
        self.loop = None  # no event loop: PONGs leave at once

    def log(self, level, msg):
        self.lines.append((level, msg))


class Client:
    """What the SETSLOT handler reads from its client: the node."""

    def __init__(self, server):
        self.node = server


class Sim:
    def __init__(self, n: int, **cfg):
        self.t = 1_700_000_000_000
        self.net = MemoryNetwork()
        self.states: list[ClusterState] = []
        for i in range(n):
            server = FakeServer(7000 + i, **cfg)
            st = ClusterState(server)
            server.cluster = st
            st.now = lambda: self.t
            self.net.add(st, "127.0.0.1", 7000 + i)
            st.update_myself_announced()
            self.states.append(st)
        # slots split evenly, distinct epochs, everybody introduced by node 0
        for s in range(16384):
            st = self.states[s * n // 16384]
            st.add_slot(st.myself, s)
        for i, st in enumerate(self.states):
            st.myself.config_epoch = st.current_epoch = i + 1
        for other in self.states[1:]:
            assert self.states[0].start_handshake("127.0.0.1", other.myself.port, other.myself.cport) is None
        assert self.run_until(self.settled)

    def run(self, ms: int) -> None:
        for _ in range(ms // TICK):
            self.t += TICK
            for st in self.states:
                gossip.cron(st)
                st.before_sleep()
            self.net.pump()
            for st in self.states:
                st.before_sleep()

    def run_until(self, cond, ms: int = 20000) -> bool:
        for _ in range(ms // TICK):
            if cond():
                return True
            self.run(TICK)
        return cond()

    def settled(self) -> bool:
        names = {st.myself.name for st in self.states}
        if not all(set(st.nodes) == names and not any(n.in_handshake for n in st.nodes.values())
                   for st in self.states):
            return False
        # Links to the nodes learnt last open on a later cron; until then a
        # PONG broadcast would miss them (which one is last depends on the
        # random node ids).
        if not all(n.link is not None for st in self.states for n in st.nodes.values()
                   if n is not st.myself):
            return False
        ref = [n.name if n is not None else None for n in self.states[0].slots]
        return all([n.name if n is not None else None for n in st.slots] == ref for st in self.states)


def setslot(st: ClusterState, slot: int, action: str, node: ClusterState | None = None) -> bytes:
    argv = [b"CLUSTER", b"SETSLOT", b"%d" % slot, action.encode()]
    if node is not None:
        argv.append(node.myself.name)
    return cluster_commands.cluster_setslot(Client(st.server), argv)


def owner_name(st: ClusterState, slot: int) -> bytes | None:
    n = st.slots[slot]
    return n.name if n is not None else None


def test_closing_an_import_bumps_the_epoch_and_the_pong_moves_the_slot_everywhere():
    sim = Sim(3)
    a, b, c = sim.states
    slot = 100  # a's
    assert owner_name(c, slot) == a.myself.name
    assert setslot(b, slot, "importing", a) == b"+OK\r\n"
    assert setslot(a, slot, "migrating", b) == b"+OK\r\n"
    top = max(st.myself.config_epoch for st in sim.states)
    assert setslot(b, slot, "node", b) == b"+OK\r\n"  # only the target is told
    assert b.myself.config_epoch == top + 1 == b.current_epoch
    assert slot not in b.importing_slots_from
    assert ("notice", f"configEpoch updated after importing slot {slot}") in b.server.lines
    sim.net.pump()  # the PONG broadcast by SETSLOT
    for st in (a, c):
        assert owner_name(st, slot) == b.myself.name
        assert st.nodes[b.myself.name].config_epoch == top + 1
    assert not a.myself.has_slot(slot)
    # a second slot closed at once needs no new epoch: b's is already the greatest
    assert setslot(b, slot + 1, "importing", a) == b"+OK\r\n"
    assert setslot(b, slot + 1, "node", b) == b"+OK\r\n"
    assert b.myself.config_epoch == top + 1


def test_gossip_never_rebinds_a_slot_being_imported():
    sim = Sim(3)
    a, b, c = sim.states
    slot = 200
    assert setslot(c, slot, "importing", a) == b"+OK\r\n"
    # b takes the slot with a newer epoch (as after a failover): c keeps its import open
    b.del_slot(slot)
    b.add_slot(b.myself, slot)
    assert b.bump_epoch_without_consensus()
    gossip.broadcast_pong(b)
    sim.net.pump()
    assert owner_name(a, slot) == b.myself.name
    assert owner_name(c, slot) == a.myself.name
    assert c.importing_slots_from[slot] is c.nodes[a.myself.name]


def test_source_left_without_slots_follows_the_new_owner():
    sim = Sim(2)
    a, b = sim.states
    mine = [s for s in range(16384) if a.slots[s] is a.myself]
    for s in mine[:-1]:
        b.del_slot(s)
        b.add_slot(b.myself, s)
        a.del_slot(s)
        a.add_slot(a.nodes[b.myself.name], s)
    last = mine[-1]
    assert setslot(b, last, "importing", a) == b"+OK\r\n"
    assert setslot(a, last, "migrating", b) == b"+OK\r\n"
    assert setslot(b, last, "node", b) == b"+OK\r\n"
    assert setslot(a, last, "node", b) == b"+OK\r\n"
    assert a.myself.numslots == 0
    assert a.myself.is_slave and a.myself.slaveof is a.nodes[b.myself.name]
    # redis-cli then sends SETSLOT to the old source once more: it is a replica now
    assert setslot(a, last, "node", b) == b"-ERR Please use SETSLOT only with masters.\r\n"


def test_source_stays_a_master_without_replica_migration():
    sim = Sim(2, **{"cluster-allow-replica-migration": False})
    a, b = sim.states
    mine = [s for s in range(16384) if a.slots[s] is a.myself]
    for s in mine[:-1]:
        a.del_slot(s)
        a.add_slot(a.nodes[b.myself.name], s)
    last = mine[-1]
    assert setslot(a, last, "migrating", b) == b"+OK\r\n"
    assert setslot(a, last, "node", b) == b"+OK\r\n"
    assert a.myself.numslots == 0 and a.myself.is_master


def test_pong_claims_count_every_slot_for_the_replica_migration_rule():
    # Without replica migration, a master whose slots all go to one node still
    # follows it when that node claims nothing else (sender_slots == migrated).
    sim = Sim(3, **{"cluster-allow-replica-migration": False})
    a, b, c = sim.states
    a_slots = [s for s in range(16384) if a.slots[s] is a.myself]
    for s in a_slots:
        c.del_slot(s)
        c.add_slot(c.myself, s)  # c claims a's slots on top of its own: more than it takes
    assert c.myself.config_epoch == max(st.myself.config_epoch for st in sim.states)  # its claim wins
    gossip.broadcast_pong(c)
    sim.net.pump()
    assert a.myself.numslots == 0
    assert a.myself.is_master  # c claimed more slots than it took from a
    for st in (a, b):
        assert all(owner_name(st, s) == c.myself.name for s in a_slots)


def test_pong_claims_rebind_only_the_new_slots():
    sim = Sim(3)
    a, b, c = sim.states
    before = {s: owner_name(a, s) for s in range(16384)}
    moved = [5, 6, 7, 9000]  # from a (0-5460) and from b (5461-10922)
    for s in moved:
        owner = c.slots[s]
        c.del_slot(s)
        c.add_slot(c.myself, s)
        assert owner is not c.myself
    assert c.myself.config_epoch == max(st.myself.config_epoch for st in sim.states)  # its claim wins
    gossip.broadcast_pong(c)
    sim.net.pump()
    for s in range(16384):
        want = c.myself.name if s in moved else before[s]
        assert owner_name(a, s) == want
    assert a.nodes[c.myself.name].numslots == c.myself.numslots
    assert sim.run_until(sim.settled)


def test_full_coverage_verdict_counts_slots_per_node():
    sim = Sim(3)
    a, b, c = sim.states
    assert sim.run_until(lambda: all(st.state == CLUSTER_OK for st in sim.states))
    a.del_slot(16000)  # one slot unbound here
    a.update_state()
    assert a.state == CLUSTER_FAIL
    a.add_slot(a.nodes[c.myself.name], 16000)
    sim.run(3000)
    assert a.state == CLUSTER_OK
    a.nodes[b.myself.name].flags |= bp.NODE_FAIL  # an owner failed
    a.update_state()
    assert a.state == CLUSTER_FAIL
