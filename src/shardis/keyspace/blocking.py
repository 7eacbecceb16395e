"""Clients blocked on keys (BLPOP, BLMOVE, BLMPOP, BZPOPMIN ...): waiting, serving, timing out.

A blocking command that finds nothing to pop calls ``block_for_keys``: the
client is appended to a per-key FIFO in ``db.blocking`` (key -> dict used as
an ordered set of clients, so a client leaves its queues in O(1) while the
order in which clients blocked is kept) and stops reading commands.  The
family module hands over a ``serve(client, key) -> bytes | None`` callback
that knows how to pop for that client; this module never looks at values.

Any command that adds elements to a list or sorted set, or creates such a key
(RESTORE, RENAME, MOVE, COPY, SMOVE-like moves, SWAPDB), calls
``signal_key_ready(db, key)`` as its last step, which is Redis's
signalKeyAsReady: the key joins the node's ready list (once) and the ready
list is served right after the current command, in the order keys were
signalled; for each key the waiting clients are offered it in the order they
blocked, until one ``serve`` call returns None with the key gone (Redis
stops serving a key once it has been emptied and deleted).  ``serve``
returning bytes unblocks that client with those bytes; returning None keeps
it waiting (the key is empty again, or holds another type: in Redis 7.0 a
client blocked on a key that became a string or a zset for a list pop just
keeps waiting).  Serving may push to other keys (BLMOVE), which signals them
in turn; the loop runs until no key is ready.

*When* the ready list is served: Redis does it in processCommand right after
each command, and after EXEC or a script as a whole.  The dispatch pipeline
can call ``handle_clients_blocked_on_keys(node)`` at that point (a no-op when
nothing is ready); independently of that, the first ``signal_key_ready`` of
a batch schedules the same call with ``loop.call_soon``, so clients are
served as soon as the running command (or transaction, or pipeline) is done
even where no dispatch hook exists.  Serving never happens in the middle of
a command, which is what makes pushes inside MULTI/EXEC wake clients only
after EXEC.

Timeouts are timers (``loop.call_at``), one per blocked client with a
timeout, cancelled when it is served: expiring N clients costs N callbacks
and no client is ever polled.  A disconnecting client leaves its queues
through ``server.connection.on_client_close``.

Public API (other families block and wake through exactly this):

* ``parse_timeout(arg) -> float | bytes`` seconds (0.0 = forever), or the
  error frame Redis sends for a bad timeout;
* ``deadline_ms(seconds) -> int``: absolute unix ms for a parsed timeout
  (0 stays 0);
* ``block_for_keys(c, db, keys, deadline_ms, serve, timeout_reply=None)``
  returns None (return it from the handler); ``timeout_reply`` defaults to
  the client's null array, which is what Redis 7.0 sends on timeout for
  every list and zset blocking command, BLMOVE and BRPOPLPUSH included;
* ``must_not_block(c)``: inside MULTI/EXEC (or a script: a client with a
  true ``deny_blocking`` attribute) blocking commands answer as if the
  timeout had expired, at once;
* ``signal_key_ready(db, key)``, ``handle_clients_blocked_on_keys(node)``,
  ``scan_database_for_ready_keys(db)`` (SWAPDB);
* ``unblock_client(c, reply)`` for subsystems that must release a blocked
  client themselves (cluster redirection of a migrated slot ...), and
  ``client_unblock(c, error)`` implementing CLIENT UNBLOCK (whose command
  handler lives in commands/lists.py); other blocking mechanisms (WAIT ...)
  take part in CLIENT UNBLOCK by giving their state object a method
  ``client_unblock(client, error: bool) -> bool``;
* ``blocked_clients(node)`` / ``blocking_keys(node)`` for INFO.
"""

from __future__ import annotations

import math
import re
import time

from ..server import replies as R
from ..server.hooks import on_client_close

__all__ = [
    "BlockState",
    "parse_timeout",
    "deadline_ms",
    "block_for_keys",
    "must_not_block",
    "signal_key_ready",
    "handle_clients_blocked_on_keys",
    "scan_database_for_ready_keys",
    "unblock_client",
    "client_unblock",
    "blocked_clients",
    "blocking_keys",
]

LLONG_MAX = 2**63 - 1
# A deadline further away than this is never reached by a running node: no
# timer is armed for it (some event loops mishandle delays of centuries).
MAX_TIMER_DELAY = 10 * 365 * 86400.0  # seconds
# Longest argument strtold is given by Redis's string2ld (MAX_LONG_DOUBLE_CHARS).
MAX_LONG_DOUBLE_CHARS = 5 * 1024

# strtold's grammar for finite numbers (decimal and hexadecimal) and infinities.
_DEC_RX = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_HEX_RX = re.compile(rb"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?\Z")
_INF_RX = re.compile(rb"[+-]?(inf|infinity)\Z", re.IGNORECASE)
# x87 long double limits: what strtold reports as ERANGE outside of.
LDBL_MAX_EXP10 = 4932  # LDBL_MAX ~ 1.19e4932
LDBL_TRUE_MIN_EXP10 = -4951  # smallest subnormal ~ 3.6e-4951


class BlockState:
    """Why and how a client waits: its keys, its serve callback, its deadline."""

    __slots__ = ("db", "keys", "serve", "timeout", "timeout_reply", "timer")

    def __init__(self, db, keys, serve, timeout, timeout_reply):
        self.db = db
        self.keys = keys  # distinct keys, in the order given
        self.serve = serve
        self.timeout = timeout  # absolute unix ms, 0 = forever (INFO reads it)
        self.timeout_reply = timeout_reply
        self.timer = None

    def client_unblock(self, c, error: bool) -> bool:
        """CLIENT UNBLOCK: reply as on timeout, or with -UNBLOCKED."""
        finish(c, R.UNBLOCKED if error else self.timeout_reply)
        return True


class _Registry:
    """The node-wide ready list (Redis's server.ready_keys)."""

    __slots__ = ("ready", "ready_set", "scheduled", "serving")

    def __init__(self):
        self.ready: list = []  # (db, key) in signal order
        self.ready_set: set = set()  # (id(db), key) already listed
        self.scheduled = False  # a call_soon is pending
        self.serving = False  # handle_clients_blocked_on_keys is running


_DETACHED = _Registry()  # for databases without a node (unit tests of the keyspace)


def _registry(node) -> _Registry:
    if node is None:
        return _DETACHED
    reg = node.__dict__.get("_blocking_registry")
    if reg is None:
        reg = node._blocking_registry = _Registry()
    return reg


# --- timeouts ---------------------------------------------------------------------------


def _parse_long_double(arg: bytes):
    """Redis's string2ld acceptance rules; returns a float (±inf allowed) or None.

    strtold reads decimal and hexadecimal numbers and infinities; Redis then
    refuses a leading space, trailing bytes, NaN, and results out of the long
    double range (ERANGE with an infinite or zero result).  The value is
    returned as a double: timeouts never need more precision than that, but
    the range checks follow the long double limits so that, e.g., "1e-400"
    is accepted (a tiny positive timeout) exactly as Redis accepts it.
    """
    if not arg or len(arg) >= MAX_LONG_DOUBLE_CHARS:
        return None
    if _INF_RX.match(arg):
        return -math.inf if arg[:1] == b"-" else math.inf
    m = _DEC_RX.match(arg)
    if m is not None:
        digits = m.group(1).replace(b".", b"").lstrip(b"0")
        if not digits:
            return 0.0  # an exact zero is not a range error
        # The decimal exponent of the first significant digit decides the range.
        int_part = m.group(1).split(b".")[0].lstrip(b"0")
        if int_part:
            mag = len(int_part) - 1
        else:
            frac = m.group(1).split(b".")[1]
            mag = -(len(frac) - len(frac.lstrip(b"0")) + 1)
        exp = int(m.group(2)[1:]) if m.group(2) else 0
        mag += exp
        if mag > LDBL_MAX_EXP10 or mag < LDBL_TRUE_MIN_EXP10 - 1:
            return None
        try:
            v = float(arg)
        except (ValueError, OverflowError):
            return None
        if v == 0.0:
            # Below a double's range but not a long double's: keep its sign and
            # that it is not zero (it still rounds up to 1 ms, or to 0 when negative).
            v = -5e-324 if arg[:1] == b"-" else 5e-324
        return v
    m = _HEX_RX.match(arg)
    if m is not None:
        text = arg.decode()
        try:
            return float.fromhex(text if "p" in text.lower() else text + "p0")
        except OverflowError:
            # Beyond a double but maybe within a long double: huge either way.
            return -math.inf if arg[:1] == b"-" else math.inf
    return None


def parse_timeout(arg: bytes):
    """getTimeoutFromObjectOrReply (seconds unit): seconds as a float, or an error frame.

    Redis multiplies by 1000, rounds up to whole milliseconds, and converts
    to a 64-bit integer; a value that does not fit comes out as LLONG_MIN
    (the x86 conversion), so huge and infinite timeouts are "negative".  A
    negative value that rounds up to 0 ms (e.g. -0.0001) means "forever".
    """
    v = _parse_long_double(arg)
    if v is None:
        return R.TIMEOUT_NOT_FLOAT
    ms = v * 1000.0
    if ms != ms or ms >= 2.0**63 or ms < -(2.0**63):
        return R.TIMEOUT_NEGATIVE
    ms = math.ceil(ms)
    if ms < 0:
        return R.TIMEOUT_NEGATIVE
    return ms / 1000.0


def deadline_ms(seconds: float) -> int:
    """Absolute unix time in ms at which a timeout of ``seconds`` expires (0 = never)."""
    if not seconds:
        return 0
    ms = int(round(seconds * 1000.0))
    now = int(time.time() * 1000)
    # Redis adds without an overflow check; a deadline past LLONG_MAX never comes.
    return min(now + ms, LLONG_MAX)


def _arm_timer(c, st: BlockState) -> None:
    node = c.node
    loop = getattr(node, "loop", None)
    if not st.timeout or loop is None:
        return
    delay = st.timeout / 1000.0 - time.time()
    if delay > MAX_TIMER_DELAY:
        return
    st.timer = loop.call_at(loop.time() + max(delay, 0.0), _on_timeout, c, st)


def _on_timeout(c, st: BlockState) -> None:
    st.timer = None
    if c.bstate is st:
        finish(c, st.timeout_reply)


# --- blocking ---------------------------------------------------------------------------


def must_not_block(c) -> bool:
    """True inside MULTI/EXEC or a script: blocking commands then act as timed out."""
    return c.multi or getattr(c, "deny_blocking", False)


def block_for_keys(c, db, keys, timeout_ms: int, serve, timeout_reply: bytes | None = None):
    """Block ``c`` until ``serve`` answers for one of ``keys`` or ``timeout_ms`` (absolute) passes.

    Returns None, the handler's "no reply now".
    """
    distinct = list(dict.fromkeys(keys))
    if timeout_reply is None:
        timeout_reply = c.resp.null_array
    st = BlockState(db, distinct, serve, timeout_ms, timeout_reply)
    waiting = db.blocking
    for key in distinct:
        q = waiting.get(key)
        if q is None:
            q = waiting[key] = {}
        q[c] = None
    c.block(st)
    _arm_timer(c, st)
    return None


def _detach(c, st: BlockState) -> None:
    """Take ``c`` out of every queue it waits in and drop its timer."""
    waiting = st.db.blocking
    for key in st.keys:
        q = waiting.get(key)
        if q is not None:
            q.pop(c, None)
            if not q:
                del waiting[key]
    if st.timer is not None:
        st.timer.cancel()
        st.timer = None


def finish(c, reply: bytes | None) -> None:
    """Unblock ``c`` (blocked by this module) with ``reply``."""
    st = c.bstate
    if isinstance(st, BlockState):
        _detach(c, st)
    c.unblock(reply)


def unblock_client(c, reply: bytes | None) -> bool:
    """Release a client blocked on keys with ``reply``; False if it was not blocked on keys."""
    if not c.blocked or not isinstance(c.bstate, BlockState):
        return False
    finish(c, reply)
    return True


def client_unblock(c, error: bool) -> bool:
    """CLIENT UNBLOCK on ``c``: True when it was blocked in a way that can be interrupted."""
    if not c.blocked:
        return False
    hook = getattr(c.bstate, "client_unblock", None)
    if hook is None:
        return False
    return bool(hook(c, error))


@on_client_close
def _client_closed(c) -> None:
    st = c.bstate
    if isinstance(st, BlockState):
        _detach(c, st)
        c.blocked = False
        c.bstate = None


# --- waking -------------------------------------------------------------------------------


def signal_key_ready(db, key) -> None:
    """A list or sorted set at ``key`` may have gained elements: serve its waiters soon."""
    if key not in db.blocking:
        return  # nobody waits for it: the common case, one dict lookup
    node = db.node
    reg = _registry(node)
    tag = (id(db), key)
    if tag in reg.ready_set:
        return
    reg.ready_set.add(tag)
    reg.ready.append((db, key))
    # Redis serves waiters right after the command that pushed, before the next
    # one runs: taking the node off the dispatch fast path makes the next
    # command go through process_command, which serves them first.
    node.fast = node.cluster_fast = False
    if not reg.scheduled and not reg.serving:
        loop = getattr(node, "loop", None)
        if loop is not None:
            reg.scheduled = True
            loop.call_soon(handle_clients_blocked_on_keys, node)


def scan_database_for_ready_keys(db) -> None:
    """After SWAPDB: every waited-for key that now holds a value is ready."""
    for key in list(db.blocking):
        if db.peek(key) is not None:
            signal_key_ready(db, key)


def handle_clients_blocked_on_keys(node) -> None:
    """Serve every ready key, in signal order, each to its clients in blocking order."""
    reg = _registry(node)
    reg.scheduled = False
    if not reg.ready or reg.serving:
        return
    reg.serving = True
    try:
        while reg.ready:
            batch = reg.ready
            reg.ready = []
            reg.ready_set = set()
            for db, key in batch:
                _serve_key(db, key)
    finally:
        reg.serving = False
        node.update_fast()


def ready_keys_pending(node) -> bool:
    """True when signalled keys wait to be served (checked before each dispatched command)."""
    reg = node.__dict__.get("_blocking_registry")
    return reg is not None and bool(reg.ready) and not reg.serving


def _serve_key(db, key) -> None:
    queue = db.blocking.get(key)
    if not queue:
        return
    for c in list(queue):
        if db.peek(key) is None:
            break  # emptied and deleted by the previous client: the rest keep waiting
        st = c.bstate
        if not isinstance(st, BlockState) or c not in queue:
            continue  # unblocked meanwhile (served through another key, timed out ...)
        try:
            reply = st.serve(c, key)
        except Exception as e:  # a bug in one family must not strand every waiter
            node = c.node
            node.log("warning", f"Internal error serving a blocked client on {key!r}: {e!r}")
            reply = R.err(f"ERR internal error serving a blocked client: {e!r}")
        if reply is not None and c.bstate is st:
            finish(c, reply)


# --- introspection ------------------------------------------------------------------------


def blocked_clients(node) -> int:
    """Clients blocked on keys (all blocking kinds count in INFO's blocked_clients)."""
    return sum(1 for c in node.clients.values() if isinstance(c.bstate, BlockState))


def blocking_keys(node) -> int:
    """Keys at least one client waits for, over all databases."""
    return sum(len(db.blocking) for db in node.dbs)
