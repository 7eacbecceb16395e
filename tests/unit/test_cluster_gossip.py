"""The bus protocol between several in-process nodes (links.MemoryNetwork, a fake clock).

Packets are really encoded and decoded, so these tests run the same code
paths as nodes talking over TCP, minus the sockets: handshakes, gossip,
slot ownership by configEpoch, UPDATE, epoch collisions, PFAIL -> FAIL,
FAIL clearing, FORGET, replicas, hostnames, PUBLISH.
"""

import pytest

from shardis.cluster import busproto as bp
from shardis.cluster import gossip
from shardis.cluster.links import Bus, BusLink, MemoryNetwork
from shardis.cluster.state import CLUSTER_FAIL, CLUSTER_OK, ClusterState

NODE_TIMEOUT = 1000
TICK = 100  # ms, the cron period


class FakeServer:
    def __init__(self, port, **cfg):
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
        }
        self.config.update(cfg)
        self.lines = []

    def log(self, level, msg):
        self.lines.append((level, msg))


class Clock:
    def __init__(self):
        self.t = 1_700_000_000_000

    def __call__(self):
        return self.t


class Sim:
    def __init__(self, n, **cfg):
        self.clock = Clock()
        self.net = MemoryNetwork()
        self.states = []
        for i in range(n):
            self.add(7000 + i, **cfg)

    def add(self, port, **cfg):
        st = ClusterState(FakeServer(port, **cfg))
        st.now = self.clock
        self.net.add(st, "127.0.0.1", port)
        st.update_myself_announced()
        self.states.append(st)
        return st

    def meet(self, a, b):
        assert a.start_handshake("127.0.0.1", b.myself.port, b.myself.cport) is None

    def run(self, ms):
        for _ in range(ms // TICK):
            self.clock.t += TICK
            for st in self.states:
                if id(st) in self.net.down:
                    continue
                gossip.cron(st)
                st.before_sleep()
            self.net.pump()
            for st in self.states:
                if id(st) not in self.net.down:
                    st.before_sleep()

    def run_until(self, cond, ms=20000):
        for _ in range(ms // TICK):
            if cond():
                return True
            self.run(TICK)
        return cond()

    def knows_all(self):
        names = {st.myself.name for st in self.states}
        return all(
            set(st.nodes) == names and not any(n.in_handshake for n in st.nodes.values())
            for st in self.states
        )

    def slots_agree(self):
        ref = [n.name if n is not None else None for n in self.states[0].slots]
        return all([n.name if n is not None else None for n in st.slots] == ref for st in self.states)

    def links_up(self):
        return all(
            n.link is not None for st in self.states for n in st.nodes.values() if n is not st.myself
        )

    def join(self):
        for other in self.states[1:]:
            self.meet(self.states[0], other)
        assert self.run_until(self.knows_all), [list(st.nodes) for st in self.states]
        assert self.run_until(self.slots_agree)
        # Links to the nodes learnt last open on a later cron: until then a
        # broadcast would miss them (which node is learnt last depends on the
        # random node ids).
        assert self.run_until(self.links_up)

    def split_slots(self, epochs=True):
        n = len(self.states)
        for s in range(16384):
            st = self.states[s * n // 16384]
            st.add_slot(st.myself, s)
        if epochs:
            for i, st in enumerate(self.states):
                st.myself.config_epoch = i + 1
                st.current_epoch = i + 1


def node_in(st, other):
    return st.nodes[other.myself.name]


def test_meet_handshake_learns_names_and_address():
    sim = Sim(2)
    a, b = sim.states
    sim.meet(a, b)
    sim.run(300)
    assert sim.knows_all()
    nb = node_in(a, b)
    assert nb.ip == "127.0.0.1" and nb.port == 7001 and nb.cport == 17001
    assert nb.link is not None and nb.pong_received > 0 and not nb.in_handshake
    # B learnt its own address from the MEET, and A's from the packet's source
    assert b.myself.ip == "127.0.0.1"
    assert node_in(b, a).ip == "127.0.0.1" and node_in(b, a).port == 7000
    assert b.stats_received[bp.TYPE_MEET] == 1
    assert a.stats_sent[bp.TYPE_MEET] == 1


def test_gossip_introduces_every_node():
    sim = Sim(5)
    sim.join()  # node 0 meets the others; they learn each other by gossip
    sim.run(2 * TICK)  # links to the nodes learnt last open on the next cron
    for st in sim.states:
        assert all(n.link is not None for n in st.nodes.values() if n is not st.myself)


def test_failed_handshake_expires():
    sim = Sim(1)
    a = sim.states[0]
    assert a.start_handshake("127.0.0.1", 7999, 17999) is None  # nobody there
    sim.run(500)
    assert len(a.nodes) == 2
    sim.run(1000)  # handshake timeout: max(node_timeout, 1000) ms
    assert len(a.nodes) == 1


def test_slots_propagate_and_the_cluster_becomes_ok():
    sim = Sim(3)
    sim.split_slots()
    sim.join()
    assert sim.run_until(lambda: all(st.state == CLUSTER_OK for st in sim.states))
    for st in sim.states:
        for other in sim.states:
            owner = st.slots[other.myself.slot_ranges()[0][0]]
            assert owner.name == other.myself.name
        assert st.size == 3
        assert st.current_epoch == 3


def test_config_epoch_collisions_are_resolved():
    sim = Sim(4)
    sim.split_slots(epochs=False)  # every master at configEpoch 0
    sim.join()
    assert sim.run_until(lambda: len({st.myself.config_epoch for st in sim.states}) == 4)
    # the node with the greatest id never moves
    top = max(sim.states, key=lambda st: st.myself.name)
    assert top.myself.config_epoch == 0


def test_newer_epoch_takes_slots_and_stale_owner_gets_update():
    sim = Sim(3)
    sim.split_slots()
    sim.join()
    assert sim.run_until(lambda: all(st.state == CLUSTER_OK for st in sim.states))
    a, b, c = sim.states
    # B takes slot 0 (A's) with a newer epoch, without A's consent (as after a failover)
    b.del_slot(0)
    b.add_slot(b.myself, 0)
    assert b.bump_epoch_without_consensus()
    gossip.broadcast_pong(b)
    sim.net.pump()
    assert node_in(a, b).config_epoch == b.myself.config_epoch
    assert a.slots[0] is node_in(a, b)  # A accepted the newer claim
    assert not a.myself.has_slot(0)


def test_stale_claimer_is_told_with_an_update():
    sim = Sim(3)
    sim.split_slots()
    sim.join()
    a, b, c = sim.states
    sim.net.crash(a)  # A is away while B takes slot 0 from it
    b.del_slot(0)
    b.add_slot(b.myself, 0)
    assert b.bump_epoch_without_consensus()
    gossip.broadcast_pong(b)
    sim.net.pump()
    assert c.slots[0] is node_in(c, b)
    # A comes back still claiming slot 0 at its old epoch.  B's own packets to
    # A are lost, so only C's UPDATE can correct A.
    real_send = b.bus.send

    def lossy(link, msg):
        if link is not None and link.node is not None and link.node.name == a.myself.name:
            return
        if link is not None and link.inbound and link.node is not None and link.node.name == a.myself.name:
            return
        real_send(link, msg)

    b.bus.send = lossy
    sim.net.down.discard(id(a))
    assert a.slots[0] is a.myself
    assert sim.run_until(lambda: a.slots[0] is not None and a.slots[0].name == b.myself.name, 5000)
    assert c.stats_sent[bp.TYPE_UPDATE] >= 1 and a.stats_received[bp.TYPE_UPDATE] >= 1
    assert not a.myself.has_slot(0)


def test_update_message_rebinds_slots():
    sim = Sim(3)
    sim.split_slots()
    sim.join()
    a, b, c = sim.states
    before = a.myself.numslots
    # C believes B owns slot 5 at a newer epoch; C tells A directly
    nb = node_in(c, b)
    nb.config_epoch = 50
    nb_slots = bytearray(nb.slots)
    nb_slots[0] |= 1 << 5
    msg = bp.Message(gossip.build_header(c, bp.TYPE_UPDATE), bp.Update(50, b.myself.name, bytes(nb_slots)))
    c.bus.send(node_in(c, a).link, msg)
    sim.net.pump()
    assert a.slots[5] is node_in(a, b)
    assert a.myself.numslots == before - 1
    assert node_in(a, b).config_epoch == 50


def test_master_losing_all_slots_becomes_replica_of_the_taker():
    sim = Sim(2)
    sim.split_slots()
    sim.join()
    a, b = sim.states
    for s in range(16384):
        if b.slots[s] is node_in(b, a):
            b.del_slot(s)
            b.add_slot(b.myself, s)
    b.bump_epoch_without_consensus()
    gossip.broadcast_pong(b)
    sim.net.pump()
    assert a.myself.is_slave and a.myself.slaveof is node_in(a, b)
    sim.run(500)
    assert node_in(b, a).is_slave and node_in(b, a).slaveof is b.myself


def test_pfail_then_fail_by_majority_then_cleared():
    sim = Sim(3)
    sim.split_slots()
    sim.join()
    assert sim.run_until(lambda: all(st.state == CLUSTER_OK for st in sim.states))
    a, b, c = sim.states
    sim.net.crash(c)
    sim.run(NODE_TIMEOUT // 2)
    assert not node_in(a, c).timed_out  # not yet
    assert sim.run_until(lambda: node_in(a, c).timed_out or node_in(a, c).failed, 3000)
    # A's own PFAIL plus B's report: 2 of 3 masters, FAIL is agreed and broadcast
    assert sim.run_until(lambda: node_in(a, c).failed and node_in(b, c).failed, 3000)
    assert any("as failing (quorum reached)" in m for _, m in a.server.lines + b.server.lines)
    assert sim.run_until(lambda: a.state == CLUSTER_FAIL and b.state == CLUSTER_FAIL, 1000)
    # C comes back: a master that still owns its slots is cleared after 2 x node_timeout
    sim.net.down.discard(id(c))
    assert sim.run_until(lambda: not node_in(a, c).failed and not node_in(b, c).failed, 5000)
    assert sim.run_until(lambda: all(st.state == CLUSTER_OK for st in sim.states), 10000)


def test_no_fail_without_majority():
    sim = Sim(5)
    sim.split_slots()
    sim.join()
    a = sim.states[0]
    target = sim.states[4]
    # only A cannot reach the target (its outgoing packets vanish): one vote of five
    real_send = a.bus.send

    def lossy(link, msg):
        if link is not None and link.node is not None and link.node.name == target.myself.name:
            return
        real_send(link, msg)

    a.bus.send = lossy
    sim.run(4000)
    n = node_in(a, target)
    assert n.timed_out and not n.failed
    assert a.failure_reports_count(n) == 0


def test_forget_blacklists_the_node():
    sim = Sim(3)
    sim.join()
    a, b, c = sim.states
    a.blacklist_add(node_in(a, c))
    a.del_node(node_in(a, c))
    sim.run(3000)  # B keeps gossiping about C
    assert c.myself.name not in a.nodes
    a.blacklist[c.myself.name] = 0  # the 60 s are over
    assert sim.run_until(lambda: c.myself.name in a.nodes, 5000)


def test_replica_topology_spreads():
    sim = Sim(3)
    sim.states[0].add_slot(sim.states[0].myself, 0)
    sim.join()
    a, b, c = sim.states
    c.set_master(node_in(c, a))
    sim.run(2000)
    for st in (a, b):
        nc = node_in(st, c)
        assert nc.is_slave and nc.slaveof is (st.myself if st is a else node_in(st, a))
    assert f"slave {a.myself.name_str}" in a.node_description(node_in(a, c))


def test_hostname_extension():
    sim = Sim(2)
    a, b = sim.states
    b.server.config["cluster-announce-hostname"] = "b.example"
    sim.meet(a, b)
    assert sim.run_until(lambda: node_in(a, b).hostname == "b.example" if b.myself.name in a.nodes else False)
    b.server.config["cluster-announce-hostname"] = ""
    assert sim.run_until(lambda: node_in(a, b).hostname == "")


def test_publish_reaches_every_node_and_shard_publish_only_the_shard():
    sim = Sim(3)
    sim.states[0].add_slot(sim.states[0].myself, 0)
    sim.join()
    a, b, c = sim.states
    c.set_master(node_in(c, a))
    sim.run(1000)
    got = {id(st): [] for st in sim.states}
    for st in sim.states:
        st.publish_hook = lambda ch, m, sh, box=got[id(st)]: box.append((ch, m, sh))
    gossip.propagate_publish(b, b"news", b"hello")
    gossip.propagate_publish(a, b"{x}shard", b"to-my-replica", sharded=True)
    sim.net.pump()
    assert got[id(a)] == [(b"news", b"hello", False)]
    assert got[id(c)] == [(b"news", b"hello", False), (b"{x}shard", b"to-my-replica", True)]
    assert got[id(b)] == []  # not in A's shard, and a publisher does not hear itself


def test_gossip_section_size():
    sim = Sim(1)
    a = sim.states[0]
    from shardis.cluster.state import ClusterNode

    peers = []
    for i in range(29):
        n = ClusterNode(None, bp.NODE_MASTER)
        n.ip, n.port, n.cport = "127.0.0.1", 8000 + i, 18000 + i
        n.numslots = 1  # disconnected nodes are gossiped only if they serve slots
        a.add_node(n)
        peers.append(n)

    class L:
        inbound = True
        node = None

    msg = gossip.make_ping(a, L(), bp.TYPE_PING)
    assert len(msg.body.gossip) == 3  # max(3, 30 // 10)
    assert len({g.nodename for g in msg.body.gossip}) == 3
    for n in peers[:4]:
        n.flags |= bp.NODE_PFAIL
    a.stats_pfail_nodes = 4
    msg = gossip.make_ping(a, L(), bp.TYPE_PING)
    pfail = [g for g in msg.body.gossip if g.flags & bp.NODE_PFAIL]
    assert len(pfail) == 4 and len(msg.body.gossip) == 7


class FakeTransport:
    def __init__(self):
        self.closed = False
        self.data = []

    def get_extra_info(self, name):
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else None

    def write(self, data):
        self.data.append(data)

    def close(self):
        self.closed = True

    def get_write_buffer_size(self):
        return 0


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\n\r\n", b"RCmb\x00\x00\x00\x10" + bytes(40)])
def test_malformed_bytes_close_only_that_link(garbage):
    st = ClusterState(FakeServer(7000))
    bus = Bus(st, None)
    link = BusLink(bus, None, True)
    t = FakeTransport()
    link.connection_made(t)
    link.data_received(garbage)
    assert link.freed and t.closed
    assert st.known_nodes() == 1


def test_bad_packet_is_dropped_and_the_link_kept():
    sim = Sim(2)
    a, b = sim.states
    st = ClusterState(FakeServer(7005))
    bus = st.bus = Bus(st, None)
    link = BusLink(bus, None, True)
    t = FakeTransport()
    link.connection_made(t)
    good = bp.encode(gossip.make_ping(a, type("L", (), {"inbound": True, "node": None})(), bp.TYPE_MEET))
    bad = bytearray(good)
    bad[8:10] = b"\x00\x02"  # protocol version 2: Redis ignores the packet
    link.data_received(bytes(bad) + good)
    assert not link.freed
    assert st.stats_received[bp.TYPE_MEET] == 1  # the good MEET after it was applied
    assert len(st.nodes) == 2 and t.data  # a handshake node, and a PONG back
