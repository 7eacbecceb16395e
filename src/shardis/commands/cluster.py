"""Cluster commands: CLUSTER <subcommand>, ASKING, READONLY, READWRITE.

Each CLUSTER subcommand is declared with Redis 7.0's arity and flags, so the
generic dispatch produces its arity errors ("wrong number of arguments for
'cluster|meet' command"); the handlers add the per-subcommand argument
checks clusterCommand makes, with its error texts and in its order (parse
every slot first, then check ownership, then apply).  Handlers that change
the configuration run the deferred cluster work (save nodes.conf, update the
state) before replying, as Redis does in beforeSleep before it writes the
reply.

Everything answers "This instance has cluster support disabled" when the
node is not in cluster mode.  CLUSTER FAILOVER belongs to the failover
module and is not declared here.
"""

from __future__ import annotations

from ..cluster import busproto as bp
from ..cluster import gossip
from ..cluster.routing import preferred_endpoint
from ..cluster.slots import CLUSTER_SLOTS, key_slot
from ..cluster.state import (
    CLUSTER_PORT_INCR,
    TODO_FSYNC_CONFIG,
    TODO_SAVE_CONFIG,
    TODO_UPDATE_STATE,
)
from ..protocol.resp import array_header, bulk, integer
from ..server import replies as R
from ..server.commandtable import command, subcommand

_G = dict(group="cluster")


def _ll(b: bytes):
    """string2ll: a canonical signed 64-bit decimal, else None."""
    if not b or len(b) > 20 or not (48 <= b[0] <= 57 or b[0] == 45):
        return None
    try:
        v = int(b)
    except ValueError:
        return None
    if b"%d" % v != b or not -(2**63) <= v < 2**63:
        return None
    return v


def _cstr(b: bytes) -> bytes:
    """What C's %s prints of an argument: up to the first NUL byte."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def _slot_arg(b: bytes):
    """getSlotOrReply: the slot, or None (the caller replies the error)."""
    v = _ll(b)
    if v is None or not 0 <= v < CLUSTER_SLOTS:
        return None
    return v


def _syntax_error(argv) -> bytes:
    """addReplySubcommandSyntaxError."""
    return R.err(
        b"ERR unknown subcommand or wrong number of arguments for '" + _cstr(argv[1])[:128]
        + b"'. Try " + argv[0].upper() + b" HELP."
    )


def _settle(state) -> None:
    """Run the deferred cluster work now, before the reply goes out."""
    if state.todo or state.routing_dirty:
        state.before_sleep()


def _db_keys(c) -> int:
    return len(c.node.dbs[0].data)


# ---------------------------------------------------------------------------
# CLUSTER HELP / INFO / NODES / MYID / SLOTS / SHARDS / LINKS
# ---------------------------------------------------------------------------

_HELP = (
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
)
_HELP_REPLY = b"*%d\r\n" % (len(_HELP) + 1) + b"".join(
    b"+" + line.encode() + b"\r\n"
    for line in ("CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",) + _HELP
)


@subcommand("cluster", "help", 2, "loading stale", summary="Show helpful text about the different subcommands",
            since="5.0.0", complexity="O(1)", **_G)
def cluster_help(c, argv):
    if c.node.cluster is None:
        return R.CLUSTER_DISABLED
    return _HELP_REPLY


@subcommand("cluster", "info", 2, "stale", summary="Provides info about Redis Cluster node state",
            since="3.0.0", complexity="O(1)", tips=("nondeterministic_output",), **_G)
def cluster_info(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    return c.resp.verbatim(state.info_text().encode())


@subcommand("cluster", "nodes", 2, "stale", summary="Get Cluster config for the node", since="3.0.0",
            complexity="O(N) where N is the total number of Cluster nodes", tips=("nondeterministic_output",), **_G)
def cluster_nodes(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    return c.resp.verbatim(state.nodes_description().encode("latin-1"))


@subcommand("cluster", "myid", 2, "stale", summary="Return the node id", since="3.0.0", complexity="O(1)", **_G)
def cluster_myid(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    return bulk(state.myself.name)


@subcommand("cluster", "myshardid", 2, "stale", summary="Return the node's shard id", since="7.2.0",
            complexity="O(1)", tips=("nondeterministic_output",), **_G)
def cluster_myshardid(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    return bulk(state.myself.master().shard_id)


def _node_entry(c, state, node) -> bytes:
    """One node in CLUSTER SLOTS: endpoint, port, id, then the other endpoints as a map."""
    kind = state.cfg("cluster-preferred-endpoint-type", "ip")
    if kind == "ip":
        head = bulk(node.ip.encode("latin-1"))
    elif kind == "hostname":
        head = bulk((node.hostname or "?").encode("latin-1"))
    else:
        head = c.resp.null
    extra = []
    if kind != "ip":
        extra.append(bulk(b"ip") + bulk(node.ip.encode("latin-1")))
    if kind != "hostname" and node.hostname:
        extra.append(bulk(b"hostname") + bulk(node.hostname.encode("latin-1")))
    return (
        array_header(4) + head + integer(node.port) + bulk(node.name)
        + c.resp.map_header(len(extra)) + b"".join(extra)
    )


def _replica_available(state, node) -> bool:
    """Replicas that finished their first sync (a non-zero offset) and are not failing."""
    if node.failed:
        return False
    offset = node.repl_offset
    if node.is_myself:
        hook = getattr(state, "repl_offset_hook", None)
        offset = hook() if hook is not None else 0
    return offset != 0


@subcommand("cluster", "slots", 2, "stale", summary="Get array of Cluster slot to node mappings", since="3.0.0",
            complexity="O(N) where N is the total number of Cluster nodes", tips=("nondeterministic_output",), **_G)
def cluster_slots(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    out = []
    slots = state.slots
    start = 0
    while start < CLUSTER_SLOTS:
        n = slots[start]
        end = start
        while end + 1 < CLUSTER_SLOTS and slots[end + 1] is n:
            end += 1
        if n is not None:
            replicas = [s for s in n.slaves if _replica_available(state, s)]
            part = [array_header(3 + len(replicas)), integer(start), integer(end), _node_entry(c, state, n)]
            part.extend(_node_entry(c, state, s) for s in replicas)
            out.append(b"".join(part))
        start = end + 1
    return array_header(len(out)) + b"".join(out)


def _shard_node(c, state, node) -> bytes:
    fields = [(b"id", bulk(node.name))]
    if node.port:
        fields.append((b"port", integer(node.port)))
    fields.append((b"ip", bulk(node.ip.encode("latin-1"))))
    fields.append((b"endpoint", bulk(preferred_endpoint(state, node).encode("latin-1"))))
    if node.hostname:
        fields.append((b"hostname", bulk(node.hostname.encode("latin-1"))))
    if node.is_myself:
        hook = getattr(state, "repl_offset_hook", None)
        offset = hook() if hook is not None else 0
    else:
        offset = node.repl_offset
    fields.append((b"role", bulk(b"replica" if node.is_slave else b"master")))
    fields.append((b"replication-offset", integer(offset)))
    if node.failed:
        health = b"fail"
    elif node.is_slave and offset == 0:
        health = b"loading"
    else:
        health = b"online"
    fields.append((b"health", bulk(health)))
    return c.resp.map_header(len(fields)) + b"".join(bulk(k) + v for k, v in fields)


@subcommand("cluster", "shards", 2, "stale", summary="Get array of cluster slots to node mappings", since="7.0.0",
            complexity="O(N) where N is the total number of cluster nodes", tips=("nondeterministic_output",), **_G)
def cluster_shards(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    shards = []
    for n in state.nodes.values():
        if not n.is_master:
            continue
        ranges = n.slot_ranges()
        slots = array_header(2 * len(ranges)) + b"".join(integer(s) + integer(e) for s, e in ranges)
        members = [n] + list(n.slaves)
        nodes = array_header(len(members)) + b"".join(_shard_node(c, state, m) for m in members)
        shards.append(c.resp.map_header(2) + bulk(b"slots") + slots + bulk(b"nodes") + nodes)
    return array_header(len(shards)) + b"".join(shards)


@subcommand("cluster", "links", 2, "stale", summary="Returns a list of all TCP links to and from peer nodes in cluster",
            since="7.0.0", complexity="O(N) where N is the total number of Cluster nodes",
            tips=("nondeterministic_output",), **_G)
def cluster_links(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    links = state.bus.links() if state.bus is not None else []
    out = []
    for link in links:
        used = link.send_buffer_size()
        out.append(
            c.resp.map_header(6)
            + bulk(b"direction") + bulk(b"from" if link.inbound else b"to")
            + bulk(b"node") + bulk(link.node.name)
            + bulk(b"create-time") + integer(link.ctime)
            + bulk(b"events") + bulk(link.events().encode())
            + bulk(b"send-buffer-allocated") + integer(used)
            + bulk(b"send-buffer-used") + integer(used)
        )
    return array_header(len(out)) + b"".join(out)


# ---------------------------------------------------------------------------
# Slots: ADDSLOTS, ADDSLOTSRANGE, DELSLOTS, DELSLOTSRANGE, FLUSHSLOTS, SETSLOT
# ---------------------------------------------------------------------------


def _check_assignment(state, seen: bytearray, delete: bool, start: int, end: int):
    """checkSlotAssignmentsOrReply: None when fine, else the error."""
    for slot in range(start, end + 1):
        if delete and state.slots[slot] is None:
            return R.err_fmt(R.CLUSTER_SLOT_UNASSIGNED, slot)
        if not delete and state.slots[slot] is not None:
            return R.err_fmt(R.CLUSTER_SLOT_BUSY, slot)
        if seen[slot]:
            return R.err_fmt(R.CLUSTER_SLOT_TWICE, slot)
        seen[slot] = 1
    return None


def _update_slots(state, seen: bytearray, delete: bool) -> None:
    myself = state.myself
    for slot in range(CLUSTER_SLOTS):
        if not seen[slot]:
            continue
        # Owning a slot we were importing ends the import.
        if slot in state.importing_slots_from:
            state.set_importing(slot, None)
        if delete:
            state.del_slot(slot)
        else:
            state.add_slot(myself, slot)


def _addslots_generic(c, argv, delete: bool):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    slots = []
    for arg in argv[2:]:
        slot = _slot_arg(arg)
        if slot is None:
            return R.CLUSTER_BAD_SLOT
        slots.append(slot)
    seen = bytearray(CLUSTER_SLOTS)
    for slot in slots:
        error = _check_assignment(state, seen, delete, slot, slot)
        if error is not None:
            return error
    _update_slots(state, seen, delete)
    state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    _settle(state)
    return R.OK


def _slotsrange_generic(c, argv, delete: bool):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    if len(argv) % 2 == 1:
        return R.wrong_arity(b"cluster|" + argv[1].lower())
    seen = bytearray(CLUSTER_SLOTS)
    for i in range(2, len(argv), 2):
        start = _slot_arg(argv[i])
        if start is None:
            return R.CLUSTER_BAD_SLOT
        end = _slot_arg(argv[i + 1])
        if end is None:
            return R.CLUSTER_BAD_SLOT
        if start > end:
            return R.err_fmt(R.CLUSTER_RANGE_ORDER, start, end)
        error = _check_assignment(state, seen, delete, start, end)
        if error is not None:
            return error
    _update_slots(state, seen, delete)
    state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    _settle(state)
    return R.OK


_SLOTS_META = dict(flags="admin stale no_async_loading", **_G)


@subcommand("cluster", "addslots", -3, summary="Assign new hash slots to receiving node", since="3.0.0",
            complexity="O(N) where N is the total number of hash slot arguments", **_SLOTS_META)
def cluster_addslots(c, argv):
    return _addslots_generic(c, argv, False)


@subcommand("cluster", "delslots", -3, summary="Set hash slots as unbound in receiving node", since="3.0.0",
            complexity="O(N) where N is the total number of hash slot arguments", **_SLOTS_META)
def cluster_delslots(c, argv):
    return _addslots_generic(c, argv, True)


@subcommand("cluster", "addslotsrange", -4, summary="Assign new hash slots to receiving node", since="7.0.0",
            complexity="O(N) where N is the total number of the slots between the start slot and end slot arguments.",
            **_SLOTS_META)
def cluster_addslotsrange(c, argv):
    return _slotsrange_generic(c, argv, False)


@subcommand("cluster", "delslotsrange", -4, summary="Set hash slots as unbound in receiving node", since="7.0.0",
            complexity="O(N) where N is the total number of the slots between the start slot and end slot arguments.",
            **_SLOTS_META)
def cluster_delslotsrange(c, argv):
    return _slotsrange_generic(c, argv, True)


@subcommand("cluster", "flushslots", 2, summary="Delete a node's own slots information", since="3.0.0",
            complexity="O(1)", **_SLOTS_META)
def cluster_flushslots(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    if _db_keys(c):
        return R.CLUSTER_FLUSHSLOTS_NOT_EMPTY
    state.del_node_slots(state.myself)
    state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    _settle(state)
    return R.OK


@subcommand("cluster", "setslot", -4, summary="Bind a hash slot to a specific node", since="3.0.0",
            complexity="O(1)", **_SLOTS_META)
def cluster_setslot(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    myself = state.myself
    if myself.is_slave:
        return R.CLUSTER_SETSLOT_REPLICA
    slot = _slot_arg(argv[2])
    if slot is None:
        return R.CLUSTER_BAD_SLOT
    action = argv[3].lower()
    argc = len(argv)
    if action == b"migrating" and argc == 5:
        if state.slots[slot] is not myself:
            return R.err_fmt(R.CLUSTER_NOT_OWNER, slot)
        n = state.lookup(argv[4])
        if n is None:
            return R.err_fmt(R.CLUSTER_DONT_KNOW_NODE, _cstr(argv[4]))
        if n.is_slave:
            return R.CLUSTER_TARGET_NOT_MASTER
        state.set_migrating(slot, n)
    elif action == b"importing" and argc == 5:
        if state.slots[slot] is myself:
            return R.err_fmt(R.CLUSTER_ALREADY_OWNER, slot)
        n = state.lookup(argv[4])
        if n is None:
            return R.err_fmt(R.CLUSTER_DONT_KNOW_NODE, _cstr(argv[4]))
        if n.is_slave:
            return R.CLUSTER_TARGET_NOT_MASTER
        state.set_importing(slot, n)
    elif action == b"stable" and argc == 4:
        state.set_importing(slot, None)
        state.set_migrating(slot, None)
    elif action == b"node" and argc == 5:
        n = state.lookup(argv[4])
        if n is None:
            return R.err_fmt(R.CLUSTER_UNKNOWN_NODE, _cstr(argv[4]))
        if n.is_slave:
            return R.CLUSTER_TARGET_NOT_MASTER
        keys = state.count_keys_in_slot(slot)
        if state.slots[slot] is myself and n is not myself and keys:
            return R.err_fmt(R.CLUSTER_SLOT_HAS_KEYS, slot)
        # A migrating slot left without keys stops migrating once given away.
        if keys == 0 and slot in state.migrating_slots_to:
            state.set_migrating(slot, None)
        slot_was_mine = state.slots[slot] is myself
        state.del_slot(slot)
        state.add_slot(n, slot)
        if (
            slot_was_mine
            and n is not myself
            and myself.numslots == 0
            and state.cfg("cluster-allow-replica-migration", True)
        ):
            state.log("notice", f"Configuration change detected. Reconfiguring myself as a replica of {n.name_str}")
            state.set_master(n)
            state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        if n is myself and slot in state.importing_slots_from:
            # The import is complete: claim the slot with a new epoch so the
            # rest of the cluster takes our word over the old owner's.
            if state.bump_epoch_without_consensus():
                state.log("notice", f"configEpoch updated after importing slot {slot}")
            state.set_importing(slot, None)
            _broadcast_import_done(c.node, state)
    else:
        return R.CLUSTER_SETSLOT_SYNTAX
    state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
    _settle(state)
    return R.OK


IMPORT_PONG_DELAY = 0.005  # seconds between closing an import and the PONG announcing it


def _broadcast_import_done(node, state) -> None:
    """Announce a slot closed here (SETSLOT NODE myself after IMPORTING) with a PONG to every node.

    Redis broadcasts the PONG at once.  Here it leaves a few milliseconds
    later, once per burst of closed slots: redis-cli follows SETSLOT NODE on
    the target with the same command on the source and on every other
    master, and a node that learns the new owner from our PONG first must
    rebind the slot from gossip and fsync nodes.conf, while one that learns
    it from redis-cli first finds nothing to change in the PONG.  The bus
    still spreads the change within milliseconds for the nodes nobody told.
    """
    loop = getattr(node, "loop", None)
    if loop is None:
        gossip.broadcast_pong(state, gossip.BROADCAST_ALL)
        return
    if getattr(state, "import_pong_pending", False):
        return  # the pending PONG carries this slot too: it is built when sent
    state.import_pong_pending = True

    def send() -> None:
        state.import_pong_pending = False
        gossip.broadcast_pong(state, gossip.BROADCAST_ALL)

    loop.call_later(IMPORT_PONG_DELAY, send)


# ---------------------------------------------------------------------------
# Keys and slots: KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT
# ---------------------------------------------------------------------------


@subcommand("cluster", "keyslot", 3, "stale", summary="Returns the hash slot of the specified key", since="3.0.0",
            complexity="O(N) where N is the number of bytes in the key", **_G)
def cluster_keyslot(c, argv):
    if c.node.cluster is None:
        return R.CLUSTER_DISABLED
    return integer(key_slot(argv[2]))


@subcommand("cluster", "countkeysinslot", 3, "stale",
            summary="Return the number of local keys in the specified hash slot", since="3.0.0",
            complexity="O(1)", **_G)
def cluster_countkeysinslot(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    slot = _ll(argv[2])
    if slot is None:
        return R.NOT_INTEGER
    if not 0 <= slot < CLUSTER_SLOTS:
        return R.CLUSTER_INVALID_SLOT
    return integer(state.count_keys_in_slot(slot))


@subcommand("cluster", "getkeysinslot", 4, "stale", summary="Return local key names in the specified hash slot",
            since="3.0.0", complexity="O(log(N)) where N is the number of requested keys",
            tips=("nondeterministic_output",), **_G)
def cluster_getkeysinslot(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    slot = _ll(argv[2])
    if slot is None:
        return R.NOT_INTEGER
    maxkeys = _ll(argv[3])
    if maxkeys is None:
        return R.NOT_INTEGER
    if not 0 <= slot < CLUSTER_SLOTS or maxkeys < 0:
        return R.CLUSTER_INVALID_SLOT_OR_COUNT
    index = c.node.dbs[0].slot_index
    keys = index.keys_in_slot(slot, maxkeys) if index is not None else []
    return array_header(len(keys)) + b"".join(bulk(k) for k in keys)


# ---------------------------------------------------------------------------
# Nodes: MEET, FORGET, REPLICATE, REPLICAS/SLAVES, COUNT-FAILURE-REPORTS, RESET
# ---------------------------------------------------------------------------


@subcommand("cluster", "meet", -4, summary="Force a node cluster to handshake with another node", since="3.0.0",
            complexity="O(1)", **_SLOTS_META)
def cluster_meet(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    if len(argv) > 5:
        return _syntax_error(argv)
    port = _ll(argv[3])
    if port is None:
        return R.err_fmt(R.CLUSTER_BAD_BASE_PORT, _cstr(argv[3]))
    if len(argv) == 5:
        cport = _ll(argv[4])
        if cport is None:
            return R.err_fmt(R.CLUSTER_BAD_BUS_PORT, _cstr(argv[4]))
    else:
        cport = port + CLUSTER_PORT_INCR
    ip = _cstr(argv[2]).decode("latin-1")
    if state.start_handshake(ip, port, cport) == "EINVAL":
        return R.err_fmt(R.CLUSTER_BAD_ADDRESS, _cstr(argv[2]), _cstr(argv[3]))
    return R.OK


@subcommand("cluster", "forget", 3, summary="Remove a node from the nodes table", since="3.0.0",
            complexity="O(1)", **_SLOTS_META)
def cluster_forget(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    n = state.lookup(argv[2])
    if n is None:
        # Already forgotten (maybe by gossip from another node): fine.
        if len(argv[2]) == bp.NAMELEN and state.blacklist_exists(argv[2]):
            return R.OK
        return R.err_fmt(R.CLUSTER_UNKNOWN_NODE, _cstr(argv[2]))
    myself = state.myself
    if n is myself:
        return R.CLUSTER_FORGET_MYSELF
    if myself.is_slave and myself.slaveof is n:
        return R.CLUSTER_FORGET_MASTER
    state.blacklist_add(n)
    state.del_node(n)
    state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    _settle(state)
    return R.OK


@subcommand("cluster", "replicate", 3, summary="Reconfigure a node as a replica of the specified master node",
            since="3.0.0", complexity="O(1)", **_SLOTS_META)
def cluster_replicate(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    n = state.lookup(argv[2])
    if n is None:
        return R.err_fmt(R.CLUSTER_UNKNOWN_NODE, _cstr(argv[2]))
    myself = state.myself
    if n is myself:
        return R.CLUSTER_REPLICATE_MYSELF
    if n.is_slave:
        return R.CLUSTER_REPLICATE_REPLICA
    if myself.is_master and (myself.numslots != 0 or _db_keys(c) != 0):
        return R.CLUSTER_REPLICATE_NOT_EMPTY
    state.set_master(n)
    state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    _settle(state)
    return R.OK


def _replicas(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    n = state.lookup(argv[2])
    if n is None:
        return R.err_fmt(R.CLUSTER_UNKNOWN_NODE, _cstr(argv[2]))
    if n.is_slave:
        return R.CLUSTER_NOT_A_MASTER
    lines = [state.node_description(s).encode("latin-1") for s in n.slaves]
    return array_header(len(lines)) + b"".join(bulk(line) for line in lines)


_REPLICAS_META = dict(flags="admin stale", tips=("nondeterministic_output",), complexity="O(1)", **_G)


@subcommand("cluster", "replicas", 3, summary="List replica nodes of the specified master node", since="5.0.0",
            **_REPLICAS_META)
def cluster_replicas(c, argv):
    return _replicas(c, argv)


@subcommand("cluster", "slaves", 3, summary="List replica nodes of the specified master node", since="3.0.0",
            **_REPLICAS_META)
def cluster_slaves(c, argv):
    return _replicas(c, argv)


@subcommand("cluster", "count-failure-reports", 3, "admin stale",
            summary="Return the number of failure reports active for a given node", since="3.0.0",
            complexity="O(N) where N is the number of failure reports", tips=("nondeterministic_output",), **_G)
def cluster_count_failure_reports(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    n = state.lookup(argv[2])
    if n is None:
        return R.err_fmt(R.CLUSTER_UNKNOWN_NODE, _cstr(argv[2]))
    return integer(state.failure_reports_count(n))


@subcommand("cluster", "reset", -2, "admin noscript stale", summary="Reset a Redis Cluster node", since="3.0.0",
            complexity="O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.",
            **_G)
def cluster_reset(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    if len(argv) > 3:
        return _syntax_error(argv)
    hard = False
    if len(argv) == 3:
        mode = argv[2].lower()
        if mode == b"hard":
            hard = True
        elif mode != b"soft":
            return R.SYNTAX
    if state.myself.is_master and len(c.db.data) != 0:
        return R.CLUSTER_RESET_WITH_KEYS
    state.reset(hard)
    _settle(state)
    return R.OK


# ---------------------------------------------------------------------------
# Epochs and the config file: SET-CONFIG-EPOCH, BUMPEPOCH, SAVECONFIG
# ---------------------------------------------------------------------------


@subcommand("cluster", "set-config-epoch", 3, summary="Set the configuration epoch in a new node", since="3.0.0",
            complexity="O(1)", **_SLOTS_META)
def cluster_set_config_epoch(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    epoch = _ll(argv[2])
    if epoch is None:
        return R.NOT_INTEGER
    if epoch < 0:
        return R.err_fmt(R.CLUSTER_BAD_CONFIG_EPOCH, epoch)
    if len(state.nodes) > 1:
        return R.CLUSTER_EPOCH_NODES_KNOWN
    myself = state.myself
    if myself.config_epoch != 0:
        return R.CLUSTER_EPOCH_NONZERO
    myself.config_epoch = epoch
    state.log("notice", f"configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH")
    if state.current_epoch < epoch:
        state.current_epoch = epoch
    state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    _settle(state)
    return R.OK


@subcommand("cluster", "bumpepoch", 2, summary="Advance the cluster config epoch", since="3.0.0",
            complexity="O(1)", tips=("nondeterministic_output",), **_SLOTS_META)
def cluster_bumpepoch(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    bumped = state.bump_epoch_without_consensus()
    _settle(state)
    return b"+%s %d\r\n" % (b"BUMPED" if bumped else b"STILL", state.myself.config_epoch)


@subcommand("cluster", "saveconfig", 2, summary="Forces the node to save cluster state on disk", since="3.0.0",
            complexity="O(1)", **_SLOTS_META)
def cluster_saveconfig(c, argv):
    state = c.node.cluster
    if state is None:
        return R.CLUSTER_DISABLED
    save = getattr(state, "try_save", None)
    error = save() if save is not None else None
    if error is not None:
        return R.err_fmt(R.CLUSTER_SAVECONFIG_FAILED, error)
    return R.OK


# ---------------------------------------------------------------------------
# ASKING, READONLY, READWRITE
# ---------------------------------------------------------------------------


@command("asking", 1, "fast", group="cluster", categories="connection",
         summary="Sent by cluster clients after an -ASK redirect", since="3.0.0", complexity="O(1)")
def asking_command(c, argv):
    if c.node.cluster is None:
        return R.CLUSTER_DISABLED
    c.asking = True
    c.update_fast()
    return R.OK


@command("readonly", 1, "loading stale fast", group="cluster", categories="connection",
         summary="Enables read queries for a connection to a Redis Cluster replica node", since="3.0.0",
         complexity="O(1)")
def readonly_command(c, argv):
    if c.node.cluster is None:
        return R.CLUSTER_DISABLED
    c.readonly = True
    return R.OK


@command("readwrite", 1, "loading stale fast", group="cluster", categories="connection",
         summary="Disables read queries for a connection to a Redis Cluster replica node", since="3.0.0",
         complexity="O(1)")
def readwrite_command(c, argv):
    if c.node.cluster is None:
        return R.CLUSTER_DISABLED
    c.readonly = False
    return R.OK
