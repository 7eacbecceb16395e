"""The command table: every command as data.

A command is declared once, next to its handler, with the facts Redis keeps
in its JSON command specs: name, arity, flags, ACL categories, key positions
(first, last, step), and its subcommands for container commands (CONFIG,
CLIENT ...).  Dispatch, ``COMMAND INFO/DOCS/GETKEYS``, cluster slot routing
and the client library all read this one table, so they cannot disagree.

Arity follows Redis: ``N`` means exactly N arguments including the name,
``-N`` means at least N.  Key positions are 1-based argv indexes; a negative
``last`` counts from the end (``-1`` = last argument).  Commands whose keys
cannot be described by (first, last, step) set ``movablekeys`` and provide a
``getkeys(argv) -> list[int]`` function.

Handlers have the signature ``handler(client, argv) -> bytes | None``: they
return the complete reply frame(s), or None when the reply comes later (a
blocked client) or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Command", "command", "batch", "subcommand", "describe", "arg", "TABLE", "lookup", "get_keys", "KeySpecError"]

# Flags that map to ACL categories the way Redis's setImplicitACLCategories does.
_IMPLICIT_CATEGORIES = (
    ("write", "write"),
    ("readonly", "read"),
    ("admin", "admin"),
    ("pubsub", "pubsub"),
    ("fast", "fast"),
    ("blocking", "blocking"),
)


@dataclass(eq=False)
class Command:
    name: str  # lower-case, as COMMAND reports it
    arity: int
    flags: frozenset
    handler: Callable | None = None
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    group: str = "generic"
    categories: tuple = ()  # explicit ACL categories (without the implicit ones)
    summary: str = ""
    since: str = "1.0.0"
    complexity: str = ""
    getkeys: Callable | None = None  # for movablekeys commands
    # Optional: the command over a whole pipeline of it at once (see ``batch``).
    batch: Callable | None = None
    tips: tuple = ()
    parent: "Command | None" = None
    subcommands: dict = field(default_factory=dict)  # bytes (lower) -> Command
    # Redis's key specs and documentation, as its command JSON files give them
    # (COMMAND INFO / COMMAND DOCS; see commands/server.py for the shapes).  A
    # command without key specs gets one derived from (first, last, step).
    key_specs: tuple = ()
    arguments: tuple = ()
    history: tuple = ()  # ((version, description), ...)
    doc_flags: tuple = ()  # "deprecated", "syscmd"
    deprecated_since: str = ""
    replaced_by: str = ""
    # Runtime statistics (INFO commandstats).
    calls: int = 0
    ns: int = 0  # total time spent, in ns (INFO commandstats shows usec)
    rejected_calls: int = 0
    failed_calls: int = 0

    def __post_init__(self):
        f = self.flags
        self.write = "write" in f
        self.readonly = "readonly" in f
        self.denyoom = "denyoom" in f
        self.admin = "admin" in f
        self.noauth = "no_auth" in f
        self.loading_ok = "loading" in f
        self.stale_ok = "stale" in f
        self.nomulti = "no_multi" in f
        self.noscript = "noscript" in f
        self.movablekeys = self.getkeys is not None
        self.may_replicate = self.write or "may_replicate" in f
        self.fullname = self.name if self.parent is None else f"{self.parent.name}|{self.name}"
        self.fullname_b = self.fullname.encode()
        self.has_keys = self.first_key > 0 or self.movablekeys
        # May the connection's fast path call the handler directly?  Not for
        # commands that block, close the connection or dispatch to subcommands.
        self.fastpath = "blocking" not in f and "nofastpath" not in f
        # O(1) commands are timed per batch, not one by one (see connection.process_input).
        self.untimed = "fast" in f

    @property
    def usec(self) -> int:
        return self.ns // 1000

    def reset_stats(self) -> None:
        self.calls = self.ns = self.rejected_calls = self.failed_calls = 0

    def arity_ok(self, argc: int) -> bool:
        a = self.arity
        return a == argc if a > 0 else argc >= -a

    def acl_categories(self) -> list[str]:
        cats = list(self.categories)
        for flag, cat in _IMPLICIT_CATEGORIES:
            if flag in self.flags and cat not in cats:
                cats.append(cat)
        if "fast" not in self.flags and "slow" not in cats:
            cats.append("slow")
        if "admin" in self.flags and "dangerous" not in cats:
            cats.append("dangerous")
        return cats

    def key_positions(self, argv) -> list[int]:
        """The argv indexes holding keys (raises KeySpecError for a malformed request)."""
        if self.getkeys is not None:
            return self.getkeys(argv)
        if self.first_key <= 0:
            return []
        argc = len(argv)
        last = self.last_key if self.last_key >= 0 else argc + self.last_key
        return list(range(self.first_key, min(last, argc - 1) + 1, self.key_step or 1))


class KeySpecError(Exception):
    """The request's arguments do not allow finding its keys (e.g. a bad numkeys)."""


TABLE: dict[bytes, Command] = {}  # lower-case name -> Command
_FAST: dict[bytes, Command] = {}  # the exact bytes clients send -> Command (cache)


def command(
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple = (0, 0, 0),
    group: str = "generic",
    categories: str = "",
    getkeys=None,
    **meta,
):
    """Decorator: declare a top-level command with ``handler`` as its implementation."""

    def register(handler):
        cmd = Command(
            name=name.lower(),
            arity=arity,
            flags=frozenset(flags.split()),
            handler=handler,
            first_key=keys[0],
            last_key=keys[1],
            key_step=keys[2],
            group=group,
            categories=tuple(categories.split()),
            getkeys=getkeys,
            **meta,
        )
        TABLE[cmd.name.encode()] = cmd
        _FAST.clear()
        handler.command = cmd
        return handler

    return register


def container(name: str, group: str = "generic", **meta) -> Command:
    """Declare a container command (CONFIG, CLIENT ...); its subcommands register on it."""
    cmd = TABLE.get(name.encode())
    if cmd is None:
        cmd = Command(name=name, arity=-2, flags=frozenset({"nofastpath"}), group=group, **meta)
        TABLE[name.encode()] = cmd
        _FAST.clear()
    return cmd


def batch(name: str):
    """Declare the batch form of command ``name``: ``fn(client, columns, m) -> bytes | None``.

    The connection calls it for a read holding m requests of the command and
    nothing else (connection.run_uniform), on the fast path only: an
    authenticated client outside MULTI and pub/sub, a node with no
    propagation, no MONITOR, no maxmemory, and in cluster mode every key in
    a slot served here.  ``columns[j][i]`` is argument j of request i, the
    arity already checked.  It must either do exactly what m calls of the
    handler would do -- replies (returned joined), keyspace, expiry, WATCH,
    blocked clients, statistics, dirty -- or return None having changed
    nothing, and the requests then run one by one.  Each batch form handles
    the common shape of its command and declines the rest (keys with a TTL,
    keyspace events enabled, watched keys, waiting clients, a request that
    would fail...), so that its rules stay few and checkable; the tests hold
    every batch form to its handler on random pipelines.
    """

    def register(fn):
        TABLE[name.encode()].batch = fn
        return fn

    return register


def subcommand(
    parent: str,
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple = (0, 0, 0),
    categories: str = "",
    getkeys=None,
    **meta,
):
    """Decorator: declare ``parent|name``."""

    def register(handler):
        p = container(parent, group=meta.get("group", "generic"))
        meta.setdefault("group", p.group)  # a subcommand belongs to its container's group
        cmd = Command(
            name=name.lower(),
            arity=arity,
            flags=frozenset(flags.split()),
            handler=handler,
            first_key=keys[0],
            last_key=keys[1],
            key_step=keys[2],
            categories=tuple(categories.split()),
            getkeys=getkeys,
            parent=p,
            **meta,
        )
        p.subcommands[cmd.name.encode()] = cmd
        handler.command = cmd
        return handler

    return register


_DOC_FIELDS = ("key_specs", "arguments", "history", "doc_flags", "deprecated_since", "replaced_by")


def describe(**fields):
    """Decorator over ``@command``/``@subcommand``: add key specs and documentation.

    For declarations that would otherwise be long: the same fields can be
    passed to ``command``/``subcommand`` directly.
    """
    unknown = set(fields) - set(_DOC_FIELDS)
    if unknown:
        raise TypeError(f"unknown command fields: {sorted(unknown)}")

    def apply(handler):
        for k, v in fields.items():
            setattr(handler.command, k, v)
        return handler

    return apply


def arg(name: str, type: str, *arguments, token: str = "", flags: str = "", since: str = "",
        deprecated_since: str = "", key_spec_index: int | None = None, summary: str = "") -> dict:
    """One entry of a command's ``arguments`` as COMMAND DOCS reports it (Redis's JSON specs).

    ``type`` is Redis's argument type (string integer double key pattern
    unix-time pure-token oneof block); ``arguments`` are the members of a
    oneof/block; ``flags`` is space-separated (optional multiple multiple_token).
    """
    d = {"name": name, "type": type}
    if key_spec_index is not None:
        d["key_spec_index"] = key_spec_index
    for k, v in (("token", token), ("summary", summary), ("since", since), ("deprecated_since", deprecated_since)):
        if v:
            d[k] = v
    if flags:
        d["flags"] = tuple(flags.split())
    if arguments:
        d["arguments"] = arguments
    return d


def lookup(name: bytes) -> Command | None:
    """The command named ``name`` (any case).  Cached by the exact bytes sent."""
    cmd = _FAST.get(name)
    if cmd is None:
        cmd = TABLE.get(name.lower())
        if cmd is not None and len(_FAST) < 4096:
            _FAST[name] = cmd
    return cmd


def get_keys(cmd: Command, argv) -> list[int]:
    """Key positions for a request, resolving the subcommand when there is one."""
    if cmd.subcommands and len(argv) > 1:
        sub = cmd.subcommands.get(argv[1].lower())
        if sub is not None:
            return sub.key_positions(argv)
    return cmd.key_positions(argv)
