"""Redis Cluster support for shardis.

The pure building blocks (key hashing and slot ranges in ``slots``, the
cluster bus codec in ``busproto``) carry no I/O so that they can be tested
byte for byte against real redis-server traffic; the stateful and networked
parts live in their own modules next to them:

``state``      the nodes, epochs and slot owners (clusterState), CLUSTER NODES/INFO text
``nodesconf``  nodes.conf in Redis's format: load, atomic save, lock
``gossip``     packets built and applied, the 100 ms cron (clusterCron)
``failure``    failure reports, PFAIL and FAIL
``links``      the bus on asyncio: listener and per-node links
``routing``    MOVED / ASK / CROSSSLOT / TRYAGAIN / CLUSTERDOWN for client commands
``index``      the keyspace indexed by slot

``enable(node)`` turns a Node into a cluster node at start-up (what Redis's
clusterInit does): lock and load (or create) nodes.conf, index the keyspace
by slot, listen on the bus port, and plug the cron, the dispatch hook, the
pub/sub propagation and the shutdown save into the node.

``node.cluster`` is then the ClusterState.  Subsystems that build on the
cluster plug into it through optional attributes, each called where Redis
calls the corresponding code:

``set_master_hook(ip, port)`` / ``unset_master_hook()``
    replication towards our master (clusterSetMaster, CLUSTER RESET).
``repl_offset_hook() -> int``
    our replication offset, sent in every packet header and shown by
    CLUSTER SHARDS/SLOTS (0 until replication exists).
``failover_packet_hook(link, sender, msg, sender_current_epoch)``
    FAILOVER_AUTH_REQUEST / FAILOVER_AUTH_ACK / MFSTART packets.
``failover_cron_hook()``
    run at the end of every cluster cron (replica elections, manual failover).
``header_hook(sender, header)``
    every packet from a known node (e.g. the PAUSED flag of manual failover).
"""

from __future__ import annotations

import os
import time

__all__ = ["enable", "ClusterInitError"]

CRON_PERIOD = 0.1  # seconds: clusterCron runs every 100 ms
CRON_SLACK = 0.005  # seconds of timer jitter tolerated before skipping a run


class ClusterInitError(OSError):
    """Cluster mode cannot start (config file locked or corrupted, bus port taken)."""


async def enable(node) -> None:
    """Make ``node`` a cluster node.  Raises ClusterInitError when it cannot."""
    from ..server import dispatch
    from . import gossip, nodesconf, routing
    from .index import SlotIndex
    from .links import Bus
    from .state import CLUSTER_PORT_INCR, ClusterState

    config = node.config
    path = config["cluster-config-file"]
    try:
        lock_fd = nodesconf.lock(path)
    except nodesconf.LockError as e:
        node.log("warning", str(e))
        raise ClusterInitError(str(e)) from None
    except OSError as e:
        msg = f"Can't open {path} in order to acquire a lock: {e.strerror}"
        node.log("warning", msg)
        raise ClusterInitError(msg) from None

    state = ClusterState(node)
    state.lock_fd = lock_fd
    try:
        loaded = nodesconf.load(state, path)
    except nodesconf.NodesConfError as e:
        node.log("warning", f"Unrecoverable error: corrupted cluster config file. ({e})")
        raise ClusterInitError("corrupted cluster config file") from None
    except OSError as e:
        node.log("warning", f"Loading the cluster node config from {path}: {e.strerror}")
        raise ClusterInitError(str(e)) from None
    if loaded:
        node.log("notice", f"Node configuration loaded, I'm {state.myself.name_str}")
    else:
        node.log("notice", f"No cluster configuration found, I'm {state.myself.name_str}")

    loop = node.loop

    def save(fsync: bool) -> None:
        try:
            nodesconf.save(path, nodesconf.render(state), fsync)
        except OSError as e:
            node.log("warning", f"Could not save the cluster config file: {e.strerror}")
            node.log("warning", "Fatal: can't update cluster config file.")
            os._exit(1)

    def try_save():
        try:
            nodesconf.save(path, nodesconf.render(state), True)
        except OSError as e:
            return e.strerror or str(e)
        return None

    scheduled = [False]

    def run_before_sleep() -> None:
        scheduled[0] = False
        try:
            state.before_sleep()
        except Exception as e:  # never let deferred work break the loop
            node.log("warning", f"cluster before-sleep error: {e!r}")

    def schedule() -> None:
        if not scheduled[0]:
            scheduled[0] = True
            loop.call_soon(run_before_sleep)

    state.save_hook = save
    state.try_save = try_save
    state.schedule_hook = schedule

    # The keyspace, indexed by slot (keys may already be there: loaded from disk).
    for db in node.dbs:
        index = SlotIndex()
        index.rebuild(db.data)
        db.slot_index = index
    db0 = node.dbs[0]
    state.slot_keys_hook = lambda slot: db0.slot_index.count(slot)

    def del_keys_in_slot(slot: int) -> None:
        for key in db0.slot_index.all_keys_in_slot(slot):
            if db0.delete(key):
                node.propagate(0, [b"DEL", key])

    state.del_keys_in_slot_hook = del_keys_in_slot

    def empty_data() -> None:
        for db in node.dbs:
            db.flush()

    state.empty_data_hook = empty_data

    # Ports: the bus port must fit, as Redis checks before listening.
    port = config["port"]
    if not config["cluster-port"] and port > 65535 - CLUSTER_PORT_INCR:
        msg = ("Redis port number too high. Cluster communication port is 10,000 port numbers higher "
               "than your Redis port. Your Redis port number must be 55535 or less.")
        node.log("warning", msg)
        raise ClusterInitError(msg)
    if not loaded:
        save(True)  # written before the ports are known, as Redis does: ":0@0"
    state.myself.port, state.myself.pport, state.myself.cport = state.announced_ports()
    state.update_myself_announced()
    state.todo = 0

    bus = Bus(state, loop)
    state.bus = bus
    bus_port = config["cluster-port"] or port + CLUSTER_PORT_INCR
    try:
        await bus.listen(config["bind"] or ["*", "-::*"], bus_port, config["tcp-backlog"])
    except OSError:
        msg = f"Failed listening on port {bus_port} (cluster), aborting."
        node.log("warning", msg)
        bus.close()
        raise ClusterInitError(msg) from None

    # Pub/sub across the cluster: PUBLISH to every node, SPUBLISH to my shard.
    pubsub = node.pubsub
    if pubsub is not None:
        pubsub.cluster_publish = lambda channel, message, sharded=False: gossip.propagate_publish(
            state, channel, message, sharded
        )

        state.publish_hook = lambda channel, message, sharded: pubsub.publish(channel, message, sharded)
        state.del_slot_hook = _shard_channel_dropper(node)

    node.cluster = state
    dispatch.CLUSTER_REDIRECT = routing.cluster_redirect
    routing.build_fast_sets()
    state.all_owned_hook = routing.set_all_owned

    last = [0.0]

    def cron(now: float) -> None:
        t = time.monotonic()
        if t - last[0] >= CRON_PERIOD - CRON_SLACK:
            last[0] = t
            gossip.cron(state)
            routing.redirect_blocked_clients(state, node)
        if state.todo or state.routing_dirty:
            state.before_sleep()

    node.cron_hooks.append(cron)
    if not hasattr(node, "shutdown_hooks"):
        node.shutdown_hooks = []

    def shutdown() -> None:
        try:
            nodesconf.save(path, nodesconf.render(state), True)
        except OSError as e:
            node.log("warning", f"Could not save the cluster config file at shutdown: {e.strerror}")
        bus.close()

    node.shutdown_hooks.append(shutdown)

    def in_forked_child() -> None:
        # A background save must not keep the config lock or the bus port
        # after this process dies (Redis closes the lock fd in its children).
        try:
            os.close(lock_fd)
        except OSError:
            pass
        for srv in bus.servers:
            for sock in list(getattr(srv, "sockets", None) or ()):
                try:
                    os.close(sock.fileno())
                except (OSError, ValueError):
                    pass

    os.register_at_fork(after_in_child=in_forked_child)

    # Keys loaded from disk are checked against the slots once loading is
    # over (Node.serve_forever calls this, as Redis calls verifyClusterConfigWithData).
    state.verify_with_data = lambda: verify_config_with_data(state, node)
    state.update_state()
    state.refresh_routing()
    node.update_fast()
    node.log("notice", f"Running mode=cluster, port={port}.")


def verify_config_with_data(state, node) -> bool:
    """verifyClusterConfigWithData: keys in slots we do not serve are claimed or marked importing.

    False when a database other than 0 holds keys (the node must not start).
    """
    from .state import TODO_SAVE_CONFIG

    if state.myself.is_slave:
        return True
    if any(len(db.data) for db in node.dbs[1:]):
        return False
    index = node.dbs[0].slot_index
    changed = False
    for slot in index.slots():
        if state.slots[slot] is state.myself or slot in state.importing_slots_from:
            continue
        changed = True
        if state.slots[slot] is None:
            node.log("notice", f"I have keys for unassigned slot {slot}. Taking responsibility for it.")
            state.add_slot(state.myself, slot)
        else:
            node.log("notice", f"I have keys for slot {slot}, but the slot is assigned to another node. "
                               "Setting it to importing state.")
            state.set_importing(slot, state.slots[slot])
    if changed:
        state.do_before_sleep(TODO_SAVE_CONFIG)
        state.save_config(True)
    return True


def _shard_channel_dropper(node):
    """removeChannelsInSlot: a slot leaves us, its shard channels' subscribers are told so."""
    from .slots import key_slot

    def drop(slot: int) -> None:
        pubsub = node.pubsub
        if pubsub is None or not pubsub.shard_channels:
            return
        try:
            from ..commands.pubsub import push_sunsubscribe
        except ImportError:  # pragma: no cover - the pub/sub family is part of the product
            return
        for channel in [ch for ch in pubsub.shard_channels if key_slot(ch) == slot]:
            pubsub.drop_shard_channel(channel, push_sunsubscribe)

    return drop
