"""ClusterState: the node table, slots, epochs, the ok/fail verdict and the text views."""

import re

import pytest

from shardis.cluster import busproto as bp
from shardis.cluster.state import (
    CLUSTER_FAIL,
    CLUSTER_OK,
    TODO_SAVE_CONFIG,
    WRITABLE_DELAY,
    ClusterNode,
    ClusterState,
    flags_repr,
    normalize_ip,
    verify_node_id,
)

DEFAULTS = {
    "port": 7000,
    "cluster-node-timeout": 1000,
    "cluster-require-full-coverage": True,
    "cluster-announce-ip": "",
    "cluster-announce-port": 0,
    "cluster-announce-bus-port": 0,
    "cluster-port": 0,
    "cluster-announce-hostname": "",
    "cluster-preferred-endpoint-type": "ip",
    "cluster-allow-replica-migration": True,
}


class FakeServer:
    def __init__(self, **overrides):
        self.config = dict(DEFAULTS)
        self.config.update({k.replace("_", "-"): v for k, v in overrides.items()})
        self.lines = []

    def log(self, level, msg):
        self.lines.append((level, msg))


class Clock:
    def __init__(self, t=1_000_000):
        self.t = t

    def __call__(self):
        return self.t


def make_state(clock=None, **cfg):
    st = ClusterState(FakeServer(**cfg))
    st.now = clock or Clock()
    st.myself.port, st.myself.pport, st.myself.cport = st.announced_ports()
    return st


def add_peer(st, name=None, flags=bp.NODE_MASTER, port=7001):
    n = ClusterNode(name, flags)
    n.ip = "127.0.0.1"
    n.port = port
    n.cport = port + 10000
    st.add_node(n)
    return n


def test_fresh_state():
    st = make_state()
    assert verify_node_id(st.myself.name)
    assert st.myself.is_master and st.myself.is_myself
    assert st.state == CLUSTER_FAIL
    line = st.node_description(st.myself)
    assert line == f"{st.myself.name_str} :7000@17000 myself,master - 0 0 0 connected"
    assert st.known_nodes() == 1


def test_verify_node_id():
    assert verify_node_id(b"a" * 40)
    assert verify_node_id(b"0123456789abcdefghijklmnopqrstuvwxyz0123")  # Redis allows a-z
    assert not verify_node_id(b"A" * 40)
    assert not verify_node_id(b"a" * 39)
    assert not verify_node_id(b"a" * 39 + b"-")


def test_flags_repr_order_and_noflags():
    assert flags_repr(0) == "noflags"
    assert flags_repr(bp.NODE_MASTER | bp.NODE_MYSELF) == "myself,master"
    assert flags_repr(bp.NODE_SLAVE | bp.NODE_PFAIL | bp.NODE_NOFAILOVER) == "slave,fail?,nofailover"
    assert flags_repr(bp.NODE_MASTER | bp.NODE_FAIL | bp.NODE_HANDSHAKE | bp.NODE_NOADDR) == "master,fail,handshake,noaddr"
    # MEET and MIGRATE_TO are never shown
    assert flags_repr(bp.NODE_MASTER | bp.NODE_MEET | bp.NODE_MIGRATE_TO) == "master"


def test_slots_binding_and_description():
    st = make_state()
    me = st.myself
    for s in list(range(0, 11)) + [100, 16383]:
        assert st.add_slot(me, s)
    assert not st.add_slot(me, 5)  # busy
    assert me.numslots == 13
    assert me.has_slot(16383) and not me.has_slot(11)
    assert st.node_description(me).endswith("connected 0-10 100 16383")
    assert st.del_slot(100)
    assert not st.del_slot(100)
    assert me.numslots == 12
    peer = add_peer(st)
    st.set_migrating(3, peer)
    st.set_importing(200, peer)
    desc = st.node_description(me)
    assert desc.endswith(f"0-10 16383 [3->-{peer.name_str}] [200-<-{peer.name_str}]")
    # open slots are only shown for myself
    assert "[" not in st.node_description(peer)
    assert st.node_description(peer).endswith("master - 0 0 0 disconnected")


def test_replica_line_shows_the_master_epoch():
    st = make_state()
    master = add_peer(st)
    master.config_epoch = 7
    replica = add_peer(st, flags=bp.NODE_SLAVE, port=7002)
    replica.slaveof = master
    master.add_slave(replica)
    assert f" slave {master.name_str} 0 0 7 disconnected" in st.node_description(replica)


def test_hostname_in_address():
    st = make_state(cluster_announce_hostname="node-a.example")
    st.update_myself_announced()
    assert f" :7000@17000,node-a.example myself,master " in st.node_description(st.myself)


def test_info_text_counts_and_layout():
    clock = Clock()
    st = make_state(clock)
    peer = add_peer(st)
    for s in range(0, 100):
        st.add_slot(st.myself, s)
    for s in range(100, 150):
        st.add_slot(peer, s)
    peer.flags |= bp.NODE_PFAIL
    st.current_epoch = 5
    st.myself.config_epoch = 3
    st.stats_sent[bp.TYPE_PING] = 4
    st.stats_received[bp.TYPE_PONG] = 2
    text = st.info_text()
    assert text.startswith("cluster_state:fail\r\ncluster_slots_assigned:150\r\ncluster_slots_ok:100\r\n"
                           "cluster_slots_pfail:50\r\ncluster_slots_fail:0\r\ncluster_known_nodes:2\r\n")
    assert "cluster_current_epoch:5\r\ncluster_my_epoch:3\r\n" in text
    assert "cluster_stats_messages_ping_sent:4\r\ncluster_stats_messages_sent:4\r\n" in text
    assert "cluster_stats_messages_pong_received:2\r\ncluster_stats_messages_received:2\r\n" in text
    assert text.endswith("total_cluster_links_buffer_limit_exceeded:0\r\n")


def test_update_state_waits_then_needs_full_coverage():
    clock = Clock()
    st = make_state(clock)
    for s in range(16384):
        st.add_slot(st.myself, s)
    st.update_state()
    assert st.state == CLUSTER_FAIL  # a master just started waits WRITABLE_DELAY
    clock.t += WRITABLE_DELAY + 1
    st.update_state()
    assert st.state == CLUSTER_OK
    assert st.size == 1
    st.del_slot(9)
    st.update_state()
    assert st.state == CLUSTER_FAIL


def test_update_state_without_full_coverage():
    clock = Clock()
    st = make_state(clock, cluster_require_full_coverage=False)
    st.add_slot(st.myself, 1)
    st.update_state()  # the first evaluation starts the writable delay
    clock.t += WRITABLE_DELAY + 1
    st.update_state()
    assert st.state == CLUSTER_OK


def test_update_state_majority_of_masters_and_rejoin_delay():
    clock = Clock()
    st = make_state(clock)
    peers = [add_peer(st, port=7001 + i) for i in range(2)]
    owners = [st.myself] + peers
    for s in range(16384):
        st.add_slot(owners[s % 3], s)
    st.update_state()  # the first evaluation starts the writable delay
    clock.t += WRITABLE_DELAY + 1
    st.update_state()
    assert st.state == CLUSTER_OK and st.size == 3
    peers[0].flags |= bp.NODE_PFAIL
    st.update_state()
    assert st.state == CLUSTER_OK  # 2 of 3 reachable is a majority
    peers[1].flags |= bp.NODE_PFAIL
    st.update_state()
    assert st.state == CLUSTER_FAIL  # minority
    peers[0].flags &= ~bp.NODE_PFAIL
    peers[1].flags &= ~bp.NODE_PFAIL
    st.update_state()
    assert st.state == CLUSTER_FAIL  # a master back from a minority waits the rejoin delay
    clock.t += 1001  # node_timeout 1000, clamped to [500, 5000]
    st.update_state()
    assert st.state == CLUSTER_OK


def test_failed_owner_breaks_full_coverage():
    clock = Clock()
    st = make_state(clock)
    peers = [add_peer(st, port=7001 + i) for i in range(2)]
    owners = [st.myself] + peers
    for s in range(16384):
        st.add_slot(owners[s % 3], s)
    st.update_state()  # the first evaluation starts the writable delay
    clock.t += WRITABLE_DELAY + 1
    st.update_state()
    peers[0].flags |= bp.NODE_FAIL
    st.update_state()
    assert st.state == CLUSTER_FAIL


def test_bump_epoch_without_consensus():
    st = make_state()
    assert st.bump_epoch_without_consensus()  # epoch 0 always bumps
    assert st.myself.config_epoch == 1 and st.current_epoch == 1
    assert not st.bump_epoch_without_consensus()  # already the greatest
    peer = add_peer(st)
    peer.config_epoch = 5
    assert st.bump_epoch_without_consensus()
    assert st.myself.config_epoch == 2  # currentEpoch + 1, not max + 1
    assert st.todo & TODO_SAVE_CONFIG


def test_config_epoch_collision_smaller_id_moves():
    saved = []
    st = make_state()
    st.save_hook = saved.append
    st.myself.config_epoch = 3
    st.current_epoch = 3
    bigger = add_peer(st, name=b"f" * 40)
    bigger.config_epoch = 3
    smaller = add_peer(st, name=b"0" * 40, port=7002)
    smaller.config_epoch = 3
    st.handle_config_epoch_collision(smaller)
    assert st.myself.config_epoch == 3  # the sender has the smaller id: it moves, not us
    st.handle_config_epoch_collision(bigger)
    assert st.myself.config_epoch == 4 and st.current_epoch == 4  # our id is smaller: we move
    assert saved == [True]
    st.handle_config_epoch_collision(bigger)  # no longer the same epoch
    assert st.myself.config_epoch == 4


def test_collision_ignored_for_replicas():
    st = make_state()
    st.myself.config_epoch = 2
    peer = add_peer(st, name=b"f" * 40, flags=bp.NODE_SLAVE)
    peer.config_epoch = 2
    st.handle_config_epoch_collision(peer)
    assert st.myself.config_epoch == 2


def test_blacklist():
    st = make_state()
    peer = add_peer(st)
    st.blacklist_add(peer)
    assert st.blacklist_exists(peer.name)
    st.blacklist[peer.name] = 0  # expired long ago
    assert not st.blacklist_exists(peer.name)


def test_start_handshake_validation():
    st = make_state()
    assert st.start_handshake("1.2.3.4.5", 7000, 17000) == "EINVAL"
    assert st.start_handshake("127.0.0.1", 0, 17000) == "EINVAL"
    assert st.start_handshake("127.0.0.1", 7000, 65536) == "EINVAL"
    assert st.start_handshake("127.0.0.1", 7001, 17001) is None
    assert st.start_handshake("127.0.0.1", 7001, 17001) == "EAGAIN"
    assert st.start_handshake("::0001", 7002, 17002) is None
    hs = [n for n in st.nodes.values() if n.in_handshake]
    assert sorted(n.ip for n in hs) == ["127.0.0.1", "::1"]
    assert all(n.flags & bp.NODE_MEET for n in hs)
    assert normalize_ip("010.1.1.1") is None


def test_del_node_unbinds_everything():
    st = make_state()
    peer = add_peer(st)
    other = add_peer(st, port=7002)
    for s in range(10):
        st.add_slot(peer, s)
    st.set_importing(20, peer)
    other.fail_reports[peer] = 1
    st.del_node(peer)
    assert st.slots[0] is None and 20 not in st.importing_slots_from
    assert peer not in other.fail_reports
    assert st.lookup(peer.name) is None


def test_set_master_and_back():
    st = make_state()
    master = add_peer(st)
    st.set_master(master)
    assert st.myself.is_slave and st.myself.slaveof is master
    assert st.myself in master.slaves
    assert master.flags & bp.NODE_MIGRATE_TO
    st.set_node_as_master(st.myself)
    assert st.myself.is_master and st.myself.slaveof is None
    assert st.myself not in master.slaves


def test_reset_soft_and_hard():
    st = make_state()
    peer = add_peer(st)
    st.add_slot(st.myself, 5)
    st.current_epoch = st.myself.config_epoch = 9
    old_name = st.myself.name
    st.reset(hard=False)
    assert st.known_nodes() == 1 and st.slots[5] is None
    assert st.myself.name == old_name and st.current_epoch == 9
    st.add_node(peer)
    st.reset(hard=True)
    assert st.myself.name != old_name and verify_node_id(st.myself.name)
    assert st.current_epoch == 0 and st.myself.config_epoch == 0
    assert list(st.nodes) == [st.myself.name]


def test_routing_table_follows_changes():
    clock = Clock()
    st = make_state(clock)
    calls = []
    st.all_owned_hook = calls.append
    for s in range(16384):
        st.add_slot(st.myself, s)
    st.update_state()  # the first evaluation starts the writable delay
    clock.t += WRITABLE_DELAY + 1
    st.update_state()
    st.refresh_routing()
    assert st.owned == b"\x01" * 16384 and st.all_owned and calls == [True]
    peer = add_peer(st)
    st.set_migrating(7, peer)
    # invalidated at once: nothing is fast until the table is rebuilt
    assert st.routing_dirty and st.owned == bytes(16384) and not st.all_owned and calls == [True, False]
    st.refresh_routing()
    assert st.owned[7] == 0 and st.owned[8] == 1 and not st.all_owned
    st.set_migrating(7, None)
    st.refresh_routing()
    assert st.all_owned and calls == [True, False, True]
    st.del_slot(100)
    st.update_state()
    st.refresh_routing()
    assert st.state == CLUSTER_FAIL and st.owned == bytes(16384)


@pytest.mark.parametrize("announce", [("", 0, 0, 0), ("10.0.0.1", 9000, 19500, 0)])
def test_announced_ports(announce):
    ip, port, bus, cport = announce
    st = make_state(cluster_announce_ip=ip, cluster_announce_port=port, cluster_announce_bus_port=bus,
                    cluster_port=cport)
    assert st.announced_ports() == (port or 7000, 0, bus or 17000)
    st.update_myself_announced()
    assert st.myself.ip == ip
    assert re.match(r"^[0-9a-z]{40} " + re.escape(ip) + r":\d+@\d+ ", st.node_description(st.myself))
