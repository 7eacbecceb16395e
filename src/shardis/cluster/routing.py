"""Client routing in cluster mode: serve here, redirect (MOVED/ASK), or refuse.

``get_node_by_query`` is Redis's getNodeByQuery: every key of the request
(or of every command queued in MULTI, for EXEC) must hash to one slot; that
slot's owner serves it.  While a slot moves, the migrating side serves the
keys it still has and sends the others on with ASK (TRYAGAIN when a
multi-key request finds only some of them), and the importing side serves a
request only right after ASKING.  A replica serves reads of its master's
slots to READONLY clients.  A cluster that is down refuses keyed commands
(reads may be allowed by cluster-allow-reads-when-down, sharded pub/sub by
cluster-allow-pubsubshard-when-down).

``cluster_redirect`` is the dispatch hook (dispatch.CLUSTER_REDIRECT).  It
also consumes the one-shot ASKING flag exactly where Redis's resetClient
clears it: after any command but ASKING itself, except inside MULTI.

The connection's fast path never comes here: it only runs a single-key
command whose slot is set in ``state.owned`` (mine, stable, cluster ok),
and in that case this function would have answered "serve it here" too.
"""

from __future__ import annotations

import time

from ..server import replies as R
from ..server.commandtable import KeySpecError, get_keys
from .slots import key_slot
from .state import CLUSTER_OK, ClusterState

__all__ = [
    "REDIR_NONE",
    "REDIR_CROSS_SLOT",
    "REDIR_UNSTABLE",
    "REDIR_ASK",
    "REDIR_MOVED",
    "REDIR_DOWN_STATE",
    "REDIR_DOWN_UNBOUND",
    "REDIR_DOWN_RO_STATE",
    "get_node_by_query",
    "redirect_error",
    "cluster_redirect",
    "preferred_endpoint",
    "FAST_DIRECT",
    "FAST_FIRST_KEY",
    "build_fast_sets",
    "set_all_owned",
    "redirect_blocked_clients",
]

REDIR_NONE = 0  # serve it here
REDIR_CROSS_SLOT = 1  # keys in different slots
REDIR_UNSTABLE = 2  # several keys of a moving slot, some missing
REDIR_ASK = 3  # the key moved to the migration target: ask there once
REDIR_MOVED = 4  # another node serves the slot
REDIR_DOWN_STATE = 5  # the cluster is down
REDIR_DOWN_UNBOUND = 6  # nobody serves the slot
REDIR_DOWN_RO_STATE = 7  # down, reads only

# The connection's fast path in cluster mode (see server/connection.py).  Both
# sets are filled once commands are loaded; their contents follow the routing
# state, never their identity, so the connection can hold them.
_KEYLESS: set = set()  # commands without keys: routing never redirects them
_FIRST_KEY: set = set()  # commands whose only key is argv[1]
# Run at once: keyless commands, plus the single-key ones while this node
# serves every slot (no migration, cluster ok), when no slot needs checking.
FAST_DIRECT: set = set()
# Run at once when the slot of argv[1] is set in state.owned.
FAST_FIRST_KEY: set = set()

_PUBSUB_SHARD = frozenset(("ssubscribe", "sunsubscribe", "spublish"))
# Commands after which ASKING stays set (besides anything run inside MULTI).
_KEEPS_ASKING = frozenset(("asking", "multi"))
_ENDS_MULTI = frozenset(("exec", "discard"))


def preferred_endpoint(state: ClusterState, node) -> str:
    """What clients are told to connect to (cluster-preferred-endpoint-type)."""
    kind = state.cfg("cluster-preferred-endpoint-type", "ip")
    if kind == "hostname":
        return node.hostname or "?"
    if kind == "unknown-endpoint":
        return ""
    return node.ip


def _missing(db, key, now_ms: int) -> bool:
    """Is ``key`` absent (or logically expired) here?  Touches nothing, deletes nothing."""
    if key not in db.data:
        return True
    when = db.expires.get(key) if db.expires else None
    return when is not None and when <= now_ms


def get_node_by_query(state: ClusterState, c, cmd, argv, asking: bool):
    """(node, slot, code): who serves this request, and why if not myself.

    ``node`` is None for the refusals (CROSSSLOT, TRYAGAIN, CLUSTERDOWN).
    """
    myself = state.myself
    is_exec = cmd.fullname == "exec"
    if is_exec:
        if not c.multi:
            return myself, 0, REDIR_NONE  # EXEC will just fail
        commands = c.mstate
    else:
        commands = ((cmd, argv),)
    is_pubsubshard = cmd.fullname in _PUBSUB_SHARD
    firstkey = None
    n = None
    slot = 0
    migrating = importing = multiple_keys = False
    missing = existing = 0
    db = None
    now_ms = 0
    for mcmd, margv in commands:
        try:
            positions = get_keys(mcmd, margv)
        except KeySpecError:
            positions = ()
        for pos in positions:
            key = margv[pos]
            thisslot = key_slot(key)
            if firstkey is None:
                firstkey = key
                slot = thisslot
                n = state.slots[slot]
                if n is None:
                    # Not served: the cluster state should say "down" already,
                    # but do not depend on it having been re-evaluated.
                    return None, slot, REDIR_DOWN_UNBOUND
                if n is myself and slot in state.migrating_slots_to:
                    migrating = True
                elif slot in state.importing_slots_from:
                    importing = True
            else:
                if slot != thisslot:
                    return None, 0, REDIR_CROSS_SLOT
                if importing and not multiple_keys and key != firstkey:
                    multiple_keys = True
            if (migrating or importing) and not is_pubsubshard:
                if db is None:
                    db = c.node.dbs[0]
                    now_ms = int(time.time() * 1000)
                if _missing(db, key, now_ms):
                    missing += 1
                else:
                    existing += 1
    if n is None:
        return myself, 0, REDIR_NONE  # no keys at all
    if state.state != CLUSTER_OK:
        if is_pubsubshard:
            if not state.cfg("cluster-allow-pubsubshard-when-down", True):
                return None, slot, REDIR_DOWN_STATE
        elif not state.cfg("cluster-allow-reads-when-down", False):
            return None, slot, REDIR_DOWN_STATE
        elif cmd.write:
            return None, slot, REDIR_DOWN_RO_STATE
    # MIGRATE works on the local node while a slot is open, whatever it finds.
    if (migrating or importing) and cmd.fullname == "migrate":
        return myself, slot, REDIR_NONE
    if migrating and missing:
        if existing:
            return None, slot, REDIR_UNSTABLE
        return state.migrating_slots_to[slot], slot, REDIR_ASK
    if importing and (asking or "asking" in cmd.flags):
        if multiple_keys and missing:
            return None, slot, REDIR_UNSTABLE
        return myself, slot, REDIR_NONE
    is_write = cmd.write or (is_exec and any(mc.write for mc, _ in c.mstate))
    if (c.readonly or is_pubsubshard) and not is_write and myself.is_slave and myself.slaveof is n:
        return myself, slot, REDIR_NONE
    if n is not myself:
        return n, slot, REDIR_MOVED
    return myself, slot, REDIR_NONE


_SIMPLE_ERRORS = {
    REDIR_CROSS_SLOT: R.CROSSSLOT,
    REDIR_UNSTABLE: R.TRYAGAIN,
    REDIR_DOWN_STATE: R.CLUSTERDOWN,
    REDIR_DOWN_RO_STATE: R.CLUSTERDOWN_RO,
    REDIR_DOWN_UNBOUND: R.CLUSTERDOWN_UNBOUND,
}


def redirect_error(state: ClusterState, node, slot: int, code: int) -> bytes:
    """The error frame for a redirection code (clusterRedirectClient)."""
    err = _SIMPLE_ERRORS.get(code)
    if err is not None:
        return err
    kind = b"ASK" if code == REDIR_ASK else b"MOVED"
    endpoint = preferred_endpoint(state, node).encode("latin-1")
    return b"-%s %d %s:%d\r\n" % (kind, slot, endpoint, node.port)


def cluster_redirect(c, cmd, argv):
    """dispatch.CLUSTER_REDIRECT: None to go on, or the redirection/refusal error."""
    state = c.node.cluster
    if state.routing_dirty:
        state.refresh_routing()
    asking = c.asking
    if asking:
        name = cmd.fullname
        if name not in _KEEPS_ASKING and (not c.multi or name in _ENDS_MULTI):
            c.asking = False
            c.update_fast()
    if not cmd.has_keys and cmd.fullname != "exec":
        return None
    if c.is_master_link:
        return None  # our master's stream is obeyed as is
    node, slot, code = get_node_by_query(state, c, cmd, argv, asking)
    if code == REDIR_NONE:
        return None
    return redirect_error(state, node, slot, code)


def build_fast_sets() -> None:
    """Classify every top-level command for the connection's cluster fast path."""
    from ..server.commandtable import TABLE

    _KEYLESS.clear()
    _FIRST_KEY.clear()
    for cmd in TABLE.values():
        if cmd.subcommands or cmd.fullname in _PUBSUB_SHARD or cmd.fullname == "exec":
            continue
        if not cmd.has_keys:
            _KEYLESS.add(cmd)
        elif cmd.first_key == 1 and cmd.last_key == 1 and not cmd.movablekeys and "asking" not in cmd.flags:
            _FIRST_KEY.add(cmd)
    FAST_FIRST_KEY.clear()
    FAST_FIRST_KEY.update(_FIRST_KEY)
    set_all_owned(False)


def set_all_owned(all_owned: bool) -> None:
    """Routing changed: does this node now serve every slot, stable, with the cluster ok?"""
    FAST_DIRECT.clear()
    FAST_DIRECT.update(_KEYLESS)
    if all_owned:
        FAST_DIRECT.update(_FIRST_KEY)


def redirect_blocked_clients(state: ClusterState, node) -> int:
    """clusterRedirectBlockedClientIfNeeded for every client blocked on keys.

    A client waiting (BLPOP ...) on a key of a slot this node no longer
    serves, nor imports, would wait for a push that can never come here: it
    is unblocked with -MOVED (or -CLUSTERDOWN Hash slot not served), and
    every blocked client gets -CLUSTERDOWN while the cluster is down.
    Returns how many clients were released.
    """
    db = node.dbs[0]
    if not db.blocking:
        return 0
    from ..keyspace.blocking import unblock_client

    down = state.state != CLUSTER_OK
    myself = state.myself
    released = 0
    for key, clients in list(db.blocking.items()):
        slot = key_slot(key)
        owner = state.slots[slot]
        for c in list(clients):
            if down:
                reply = R.CLUSTERDOWN
            else:
                n = owner
                # a READONLY client reading a slot of our master may wait here
                if (
                    c.readonly
                    and not getattr(c.last_cmd, "write", True)
                    and myself.is_slave
                    and myself.slaveof is n
                ):
                    n = myself
                if n is myself or slot in state.importing_slots_from:
                    continue
                if n is None:
                    reply = R.CLUSTERDOWN_UNBOUND
                else:
                    reply = redirect_error(state, n, slot, REDIR_MOVED)
            if unblock_client(c, reply):
                released += 1
    return released
