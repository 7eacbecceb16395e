"""nodes.conf: Redis 7.0's format read and written, atomic saves, the lock."""

import os

import pytest

from shardis.cluster import busproto as bp
from shardis.cluster import nodesconf
from shardis.cluster.state import ClusterNode, ClusterState

A = "91f9de8af86951376ac398cc0c316a733a943a90"
B = "4f1c62876f931b5b0de36c2bfa512946d3d78922"
C = "12872dc2402477eea9603afc3531d9ecf30e65b1"

# As redis-server 7.0.15 writes it (importing slot, epochs, a replica).
REDIS_FILE = (
    f"{A} 127.0.0.1:23001@33001 master - 0 1795621800313 5 connected 0-2 5000\n"
    f"{B} 127.0.0.1:23002@33002 myself,master - 0 0 6 connected 3-10 [0-<-{A}]\n"
    f"{C} 127.0.0.1:23003@33003 slave {A} 0 1795621800313 5 connected\n"
    "vars currentEpoch 6 lastVoteEpoch 2\n"
)


def load(text):
    st = ClusterState(None)
    nodesconf.parse_into(st, text)
    return st


def test_parse_a_redis_written_file():
    st = load(REDIS_FILE)
    assert st.myself.name_str == B and st.myself.is_myself and st.myself.is_master
    assert st.current_epoch == 6 and st.last_vote_epoch == 2
    a = st.lookup(A)
    assert a.ip == "127.0.0.1" and a.port == 23001 and a.cport == 33001 and a.config_epoch == 5
    assert [s for s in range(16384) if st.slots[s] is a] == [0, 1, 2, 5000]
    assert st.importing_slots_from == {0: a} or st.slots[0] is a  # [0-<-A] while A owns 0
    assert st.importing_slots_from[0] is a
    c = st.lookup(C)
    assert c.is_slave and c.slaveof is a and c in a.slaves
    assert a.pong_received > 0 and a.ping_sent == 0  # non-zero means "seen": set to the load time
    assert st.myself.numslots == 8


def test_render_round_trip():
    st = load(REDIS_FILE)
    for n in st.nodes.values():
        n.ping_sent = n.pong_received = 0
    text = nodesconf.render(st)
    # after a load no link is up yet: other nodes show as disconnected
    expected = REDIS_FILE.replace(" 0 1795621800313 5 connected", " 0 0 5 disconnected")
    assert sorted(text.splitlines()) == sorted(expected.splitlines())
    assert text.endswith("vars currentEpoch 6 lastVoteEpoch 2\n")
    again = load(text)
    assert nodesconf.render(again) == text


def test_render_skips_handshake_nodes_and_keeps_hostname():
    st = ClusterState(None)
    st.myself.ip, st.myself.port, st.myself.cport, st.myself.hostname = "10.0.0.1", 7000, 17000, "a.example"
    hs = ClusterNode(None, bp.NODE_HANDSHAKE | bp.NODE_MEET)



def test_old_format_without_bus_port():
    st = load(f"{B} 127.0.0.1:7000 myself,master - 0 0 0 connected\nvars currentEpoch 0 lastVoteEpoch 0\n")
    assert st.myself.cport == 17000


def test_max_epoch_raises_current_epoch():
    st = load(f"{B} :7000@17000 myself,master - 0 0 9 connected\nvars currentEpoch 3 lastVoteEpoch 0\n")
    assert st.current_epoch == 9


def test_fail_flag_gets_a_fail_time():
    st = load(REDIS_FILE.replace(" master - 0 1795621800313 5", " master,fail - 0 1795621800313 5"))
    assert st.lookup(A).failed and st.lookup(A).fail_time > 0


@pytest.mark.parametrize(
    "text",
    [
        f"{A} 127.0.0.1:7000@17000 master - 0 0 0 connected\n",  # no myself
        f"{B} 127.0.0.1:7000@17000 myself,bogus - 0 0 0 connected\n",  # unknown flag
        f"{B} 127.0.0.1:7000@17000 myself,master - 0 0 0\n",  # too few fields
        f"{B} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected 16384\n",  # slot out of range
        f"{B} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected 5-x\n",
        f"NOTANID 127.0.0.1:7000@17000 myself,master - 0 0 0 connected\n",
        f"{B} localhost myself,master - 0 0 0 connected\n",  # no port
        f"{B} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected\nvars currentEpoch\n",
        f"{B} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected\n{A} :1@2 myself,master - 0 0 0 connected\n",
    ],
)
def test_corrupted_files_are_refused(text):
    with pytest.raises(nodesconf.NodesConfError):
        load(text)


def test_blank_lines_and_unknown_vars_are_skipped():
    st = load("\n" + REDIS_FILE.replace("vars currentEpoch 6", "vars futureVar 1 currentEpoch 6") + "\n\n")
    assert st.current_epoch == 6


def test_missing_or_empty_file(tmp_path):
    st = ClusterState(None)
    assert not nodesconf.load(st, str(tmp_path / "nodes.conf"))
    (tmp_path / "nodes.conf").write_text("")
    assert not nodesconf.load(st, str(tmp_path / "nodes.conf"))


def test_save_is_atomic_and_complete(tmp_path):
    path = str(tmp_path / "nodes.conf")
    nodesconf.save(path, REDIS_FILE)
    assert open(path).read() == REDIS_FILE
    nodesconf.save(path, "short\n", fsync=False)
    assert open(path).read() == "short\n"
    assert sorted(os.listdir(tmp_path)) == ["nodes.conf"]  # no temp file left behind
    st = ClusterState(None)
    nodesconf.save(path, REDIS_FILE)
    assert nodesconf.load(st, path) and st.myself.name_str == B


def test_save_failure_leaves_the_old_file(tmp_path):
    path = str(tmp_path / "sub" / "nodes.conf")
    with pytest.raises(OSError):
        nodesconf.save(path, REDIS_FILE)  # the directory does not exist
    assert not os.path.exists(path)


def test_lock_is_exclusive(tmp_path):
    path = str(tmp_path / "nodes.conf")
    fd = nodesconf.lock(path)
    try:
        with pytest.raises(nodesconf.LockError, match="already used by a different Redis Cluster node"):
            nodesconf.lock(path)
        nodesconf.save(path, REDIS_FILE)  # saving (rename) does not lose the lock
        with pytest.raises(nodesconf.LockError):
            nodesconf.lock(path)
    finally:
        os.close(fd)
    os.close(nodesconf.lock(path))  # free again once the holder is gone
