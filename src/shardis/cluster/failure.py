"""Failure detection: PFAIL from our own timeouts, FAIL from the masters' agreement.

Redis Cluster's detector has two levels (cluster-spec "Failure detection"):

* PFAIL ("possibly failing") is a local opinion: a node we have pinged has
  not answered, and sent us no data at all, for longer than
  cluster-node-timeout.  ``check_timeouts`` sets it from the cron.
* FAIL is the cluster's: when we see a node as PFAIL and the majority of
  the masters serving slots report it PFAIL or FAIL in their gossip within
  2 × node_timeout (each report is remembered with its time in
  ``node.fail_reports``), we flag it FAIL and broadcast a FAIL message, which
  every receiver applies at once.

A FAIL flag is cleared when the node answers again if it is a replica or a
master without slots, or, for a master still owning slots, only after
2 × node_timeout without anyone having taken its slots over (failover is
what normally resolves a failed master).

Functions here change the state and ask the bus (through ``state.bus``) to
broadcast; they never touch sockets themselves.
"""

from __future__ import annotations

from . import busproto as bp
from .state import (
    FAIL_UNDO_TIME_MULT,
    TODO_SAVE_CONFIG,
    TODO_UPDATE_STATE,
    ClusterNode,
    ClusterState,
)

__all__ = [
    "add_failure_report",
    "del_failure_report",
    "mark_node_as_failing_if_needed",
    "clear_node_failure_if_needed",
    "apply_fail_message",
    "check_timeout",
]


def add_failure_report(state: ClusterState, failing: ClusterNode, sender: ClusterNode) -> bool:
    """Remember that ``sender`` sees ``failing`` as failing.  True if the report is new."""
    new = sender not in failing.fail_reports
    failing.fail_reports[sender] = state.now()
    return new


def del_failure_report(state: ClusterState, node: ClusterNode, sender: ClusterNode) -> bool:
    """``sender`` says ``node`` is fine again: drop its report.  True if there was one."""
    if node.fail_reports.pop(sender, None) is None:
        return False
    state.cleanup_failure_reports(node)
    return True


def mark_node_as_failing_if_needed(state: ClusterState, node: ClusterNode) -> None:
    """PFAIL + reports from a majority of masters (counting myself if a master) -> FAIL."""
    needed_quorum = state.size // 2 + 1
    if not node.timed_out or node.failed:
        return
    failures = state.failure_reports_count(node)
    if state.myself.is_master:
        failures += 1
    if failures < needed_quorum:
        return
    state.log("notice", f"Marking node {node.name_str} as failing (quorum reached).")
    node.flags &= ~bp.NODE_PFAIL
    node.flags |= bp.NODE_FAIL
    node.fail_time = state.now()
    # Broadcast so every reachable node flags it too, replicas included.
    if state.bus is not None:
        state.bus.send_fail(node.name)
    state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)


def clear_node_failure_if_needed(state: ClusterState, node: ClusterNode) -> None:
    """A FAIL node answered us again: undo FAIL where Redis does."""
    now = state.now()
    if node.is_slave or node.numslots == 0:
        kind = "replica" if node.is_slave else "master without slots"
        state.log("notice", f"Clear FAIL state for node {node.name_str}: {kind} is reachable again.")
        node.flags &= ~bp.NODE_FAIL
        state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    if node.is_master and node.numslots > 0 and now - node.fail_time > state.node_timeout * FAIL_UNDO_TIME_MULT:
        state.log(
            "notice",
            f"Clear FAIL state for node {node.name_str}: is reachable again and nobody is serving "
            "its slots after some time.",
        )
        node.flags &= ~bp.NODE_FAIL
        state.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)


def apply_fail_message(state: ClusterState, sender: ClusterNode | None, about: bytes) -> None:
    """A FAIL message: flag the node FAIL unless it is myself or already FAIL."""
    if sender is None:
        state.log(
            "notice",
            f"Ignoring FAIL message from unknown node about {about.decode('latin-1')}",
        )
        return
    failing = state.lookup(about)
    if failing is None or failing.flags & (bp.NODE_FAIL | bp.NODE_MYSELF):
        return
    state.log("notice", f"FAIL message received from {sender.name_str} about {failing.name_str}")
    failing.flags |= bp.NODE_FAIL
    failing.fail_time = state.now()
    failing.flags &= ~bp.NODE_PFAIL
    state.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)


def check_timeout(state: ClusterState, node: ClusterNode, now: int) -> bool:
    """Flag ``node`` PFAIL if its pending PING is older than node_timeout with no data seen.

    True when the flag was just set (the cluster state must be re-evaluated).
    """
    if node.ping_sent == 0:
        return False
    ping_delay = now - node.ping_sent
    data_delay = now - node.data_received
    # Any data from the node counts as a sign of life: under heavy bus
    # traffic (pub/sub) a PONG may be slow to come.
    if min(ping_delay, data_delay) > state.node_timeout:
        if not node.flags & (bp.NODE_PFAIL | bp.NODE_FAIL):
            state.log("debug", f"*** NODE {node.name_str} possibly failing")
            node.flags |= bp.NODE_PFAIL
            return True
    return False
