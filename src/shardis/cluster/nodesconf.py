"""nodes.conf: the cluster configuration file, in Redis 7.0's own format.

The file is CLUSTER NODES (without nodes still in handshake) followed by one
``vars currentEpoch <n> lastVoteEpoch <n>`` line, so a redis-server and a
shardis node can read each other's files and an operator reads both the
same way.  A line is::

    <id> <ip>:<port>@<cport>[,<hostname>] <flags> <master-id|-> <ping-sent> <pong-recv> <configEpoch> <link> <slot|range|[slot->-id]|[slot-<-id]> ...

Loading follows clusterLoadConfig: blank lines are skipped, unknown
``vars`` are ignored, a line needs at least eight fields, ``@cport`` may be
missing in old files (client port + 10000), a non-zero ping/pong time only
means "pending"/"seen" and becomes the load time, FAIL gets the load time as
its fail time, and the file must name ``myself``.  Anything else is a
corrupted file, which stops the node as it stops Redis.

Saving rewrites the file in place with a single write(), as Redis 7.0's
clusterSaveConfig does: when the old file is longer, the new text is padded
with newlines (blank lines are skipped when loading) up to the old length and
the file truncated afterwards, so a process dying at any moment leaves either
the old or the new configuration; fsync only when asked.  A temporary file
renamed over the old one would be no safer against a process crash and costs
far more: on ext4 a rename over an existing file starts writeback of the new
data (auto_da_alloc), about a millisecond per save, and a slot migration saves
the file several times per slot on every node.  The lock is held on a
companion file ``<file>.lock`` for the life of the process.
"""

from __future__ import annotations

import errno
import fcntl
import os

from . import busproto as bp
from .slots import CLUSTER_SLOTS
from .state import CLUSTER_PORT_INCR, ClusterNode, ClusterState, mstime, verify_node_id

__all__ = ["NodesConfError", "render", "parse_into", "save", "lock", "load"]


class NodesConfError(Exception):
    """The file is not a valid cluster configuration."""


_FLAG_BITS = {
    "myself": bp.NODE_MYSELF,
    "master": bp.NODE_MASTER,
    "slave": bp.NODE_SLAVE,
    "fail?": bp.NODE_PFAIL,
    "fail": bp.NODE_FAIL,
    "handshake": bp.NODE_HANDSHAKE,
    "noaddr": bp.NODE_NOADDR,
    "nofailover": bp.NODE_NOFAILOVER,
    "noflags": 0,
}


def render(state: ClusterState) -> str:
    """The whole file for ``state`` (clusterSaveConfig's payload)."""
    return state.nodes_description(bp.NODE_HANDSHAKE) + (
        f"vars currentEpoch {state.current_epoch} lastVoteEpoch {state.last_vote_epoch}\n"
    )


def _node(state: ClusterState, name: str) -> ClusterNode:
    raw = name.encode("latin-1")
    if not verify_node_id(raw):
        raise NodesConfError(f"invalid node id {name!r}")
    n = state.nodes.get(raw)
    if n is None:
        n = ClusterNode(raw, 0)
        state.add_node(n)
    return n


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise NodesConfError(f"invalid {what} {text!r}") from None


def _slot(text: str) -> int:
    slot = _int(text, "slot")
    if not 0 <= slot < CLUSTER_SLOTS:
        raise NodesConfError(f"slot {slot} out of range")
    return slot


def parse_into(state: ClusterState, text: str) -> None:
    """Replace the nodes of ``state`` with those the file describes."""
    state.nodes.clear()
    state.myself = None
    state.slots = [None] * CLUSTER_SLOTS
    state.migrating_slots_to.clear()
    state.importing_slots_from.clear()
    now = mstime()
    for line in text.split("\n"):
        argv = line.split()
        if not argv:
            continue
        if argv[0].lower() == "vars":
            if len(argv) % 2 == 0:
                raise NodesConfError("odd vars line")
            for key, value in zip(argv[1::2], argv[2::2]):
                if key.lower() == "currentepoch":
                    state.current_epoch = _int(value, "currentEpoch")
                elif key.lower() == "lastvoteepoch":
                    state.last_vote_epoch = _int(value, "lastVoteEpoch")
                else:
                    state.log("notice", f"Skipping unknown cluster config variable '{key}'")
            continue
        if len(argv) < 8:
            raise NodesConfError("a node line needs at least eight fields")
        n = _node(state, argv[0])
        # ip:port[@cport][,hostname]
        addr, _, hostname = argv[1].partition(",")
        n.hostname = hostname.split(",")[0]
        ip, sep, ports = addr.rpartition(":")
        if not sep:
            raise NodesConfError(f"invalid address {argv[1]!r}")
        port, at, cport = ports.partition("@")
        n.ip = ip
        n.port = _int(port, "port") if port else 0
        n.cport = _int(cport, "bus port") if at else n.port + CLUSTER_PORT_INCR
        for flag in argv[2].split(","):
            bit = _FLAG_BITS.get(flag.lower())
            if bit is None:
                raise NodesConfError(f"Unknown flag in redis cluster config file: {flag}")
            if bit == bp.NODE_MYSELF:
                if state.myself is not None:
                    raise NodesConfError("two nodes flagged myself")
                state.myself = n
            if bit == bp.NODE_FAIL:
                n.fail_time = now
            n.flags |= bit
        if argv[3] != "-" and not argv[3].startswith("-"):
            master = _node(state, argv[3])
            n.slaveof = master
            master.add_slave(n)
        if _int(argv[4], "ping time"):
            n.ping_sent = now
        if _int(argv[5], "pong time"):
            n.pong_received = now
        n.config_epoch = _int(argv[6], "config epoch")
        for spec in argv[8:]:
            if spec.startswith("["):
                # [slot->-id] (migrating to) or [slot-<-id] (importing from)
                body = spec[1:].rstrip("]")
                slot_text, _, rest = body.partition("-")
                if rest[:2] == ">-":
                    target = state.migrating_slots_to
                elif rest[:2] == "<-":
                    target = state.importing_slots_from
                else:
                    raise NodesConfError(f"invalid open slot {spec!r}")
                target[_slot(slot_text)] = _node(state, rest[2:])
                continue
            start, dash, stop = spec.partition("-")
            first = _slot(start)
            last = _slot(stop) if dash else first
            for slot in range(first, last + 1):
                state.add_slot(n, slot)
    if state.myself is None:
        raise NodesConfError("no node is flagged myself")
    state.current_epoch = max(state.current_epoch, state.max_epoch())
    state.invalidate_routing()


def load(state: ClusterState, path: str) -> bool:
    """Load ``path`` into ``state``.  False when there is no file or it is empty."""
    try:
        with open(path, "r", encoding="latin-1") as f:
            text = f.read()
    except FileNotFoundError:
        return False
    if not text:
        return False
    parse_into(state, text)
    return True


def save(path: str, text: str, fsync: bool = True) -> None:
    """Rewrite ``path`` in place with one write (padded, then truncated), fsync if asked."""
    data = text.encode("latin-1")
    size = len(data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        old = os.fstat(fd).st_size
        if old > size:
            data += b"\n" * (old - size)
        if os.write(fd, data) != len(data):
            raise OSError(errno.EIO, "short write")
        if fsync:
            os.fsync(fd)
        if old > size:
            os.ftruncate(fd, size)
    finally:
        os.close(fd)


class LockError(Exception):
    """Another process holds the configuration file."""


def lock(path: str) -> int:
    """Take the exclusive lock for ``path`` for the life of the process; returns the fd.

    Raises LockError (already used by another node) or OSError.
    """
    fd = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise LockError(
                f"Sorry, the cluster configuration file {path} is already used by a different "
                "Redis Cluster node. Please make sure that different nodes use different cluster "
                "configuration files."
            ) from None
        raise
    return fd
