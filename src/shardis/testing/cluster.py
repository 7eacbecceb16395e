"""Small helpers for tests that drive clusters of real nodes: bounded waits and one-shot requests.

A cluster converges by gossip, so a test of one mostly waits: for
``cluster_state:ok``, for a node to learn a new slot owner, for a FAIL to
spread.  ``wait_for`` polls a condition until it holds or a deadline passes
(every wait is bounded, and a timeout names what was awaited).  The nodes
are asked through a fresh ``RawConnection`` per request (``request``), so a
helper needs nothing but a port and no connection outlives a node that a
test kills; ``text`` takes the payload out of a bulk or verbatim reply and
``cluster_nodes`` splits CLUSTER NODES into its fields.  The bounds are
parameters, with defaults for an idle machine: a module that moves thousands
of keys on a loaded one passes longer ones.
"""

from __future__ import annotations

import time

from .rawclient import RawConnection

__all__ = ["WAIT", "REQUEST_TIMEOUT", "wait_for", "request", "text", "cluster_nodes"]

WAIT = 30.0  # s: default bound of a wait
REQUEST_TIMEOUT = 10.0  # s: default bound of one request


def wait_for(cond, what: str, timeout: float = WAIT, interval: float = 0.05):
    """Poll ``cond()`` every ``interval`` s until it returns a true value, and return that value.

    Raises AssertionError naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def request(port: int, *args, timeout: float = REQUEST_TIMEOUT) -> bytes:
    """The reply frame (exact bytes) to one command sent on a fresh connection to 127.0.0.1:``port``."""
    with RawConnection(port, timeout=timeout) as c:
        return c.request(*args)


def text(reply: bytes) -> str:
    """The payload of a bulk/verbatim reply."""
    body = reply.split(b"\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    if reply[:1] == b"=":
        body = body[4:]  # the "txt:" format prefix of a verbatim string
    return body.decode()


def cluster_nodes(port: int, timeout: float = REQUEST_TIMEOUT) -> list[list[str]]:
    """The lines of the node's CLUSTER NODES, each split into its fields."""
    return [line.split() for line in text(request(port, "CLUSTER", "NODES", timeout=timeout)).splitlines() if line]
