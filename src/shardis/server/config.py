"""The configuration table: redis.conf parsing, CONFIG GET/SET/REWRITE, defaults.

Every directive is one row of ``DIRECTIVES`` (name, type, default, limits,
aliases, whether CONFIG SET may change it), mirroring Redis 7.0's config.c
table, so the file parser, ``--directive value`` arguments, CONFIG GET with
glob patterns, CONFIG SET and CONFIG REWRITE share one definition and one set
of error texts.  Defaults are Redis 7.0's; where a value matters to us a
comment says why.

Values are stored parsed (ints, bools, lists) in ``Config.values``; the node
reads them through ``config[name]``.  Subsystems that must react to a change
(e.g. ``maxclients`` or ``notify-keyspace-events``) register a callback with
``on_change``.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

from ..protocol.resp import split_args

__all__ = ["Config", "ConfigError", "DIRECTIVES", "parse_memory", "format_memory"]


class ConfigError(Exception):
    """A bad directive or value; the message is Redis's explanation text."""


_UNITS = {
    b"": 1,
    b"b": 1,
    b"k": 1000,
    b"kb": 1024,
    b"m": 1000**2,
    b"mb": 1024**2,
    b"g": 1000**3,
    b"gb": 1024**3,
}


def parse_memory(s: bytes) -> int:
    """memtoll: '1gb' -> 1073741824.  Raises ValueError."""
    s = s.strip().lower()
    i = len(s)
    while i and not (48 <= s[i - 1] <= 57):
        i -= 1
    num, unit = s[:i], s[i:]
    if unit not in _UNITS or not num:
        raise ValueError(s)
    if num.startswith(b"+") or b" " in num or b"_" in num:
        raise ValueError(s)
    return int(num) * _UNITS[unit]


def format_memory(n: int) -> bytes:
    return b"%d" % n


def _is_int(s: bytes) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return not (b"_" in s or s.strip() != s or s.startswith(b"+"))


@dataclass
class Directive:
    name: str
    kind: str  # bool | int | memory | enum | string | special
    default: object
    lo: int = 0
    hi: int = 2**63 - 1
    choices: tuple = ()
    aliases: tuple = ()
    mutable: bool = True
    multi_enum: bool = False  # enum accepting several values (e.g. protected-configs)
    nargs: int = 1  # for special ones taking several words


def B(name, default, *aliases, mutable=True):
    return Directive(name, "bool", default, aliases=aliases, mutable=mutable)


def I(name, default, lo=0, hi=2**63 - 1, *aliases, mutable=True):
    return Directive(name, "int", default, lo, hi, aliases=aliases, mutable=mutable)


def M(name, default, lo=0, hi=2**63 - 1, *aliases, mutable=True):
    return Directive(name, "memory", default, lo, hi, aliases=aliases, mutable=mutable)


def E(name, default, choices, *aliases, mutable=True):
    return Directive(name, "enum", default, choices=tuple(choices.split()), aliases=aliases, mutable=mutable)


def S(name, default, *aliases, mutable=True):
    return Directive(name, "string", default, aliases=aliases, mutable=mutable)


def X(name, default, mutable=True):
    """A directive with its own parser (see ``_SPECIAL_PARSERS``)."""
    return Directive(name, "special", default, mutable=mutable)


_YESNO_CHOICES = "yes no"
_LOGLEVELS = "debug verbose notice warning"
_PROTECTED = "no yes local"

DIRECTIVES = [
    # network
    X("bind", "* -::*"),
    S("bind-source-addr", ""),
    I("port", 6379, 0, 65535),
    I("tcp-backlog", 511, 0, 2**31 - 1, mutable=False),
    S("unixsocket", "", mutable=False),
    X("unixsocketperm", "0", mutable=False),  # octal, as Redis reads it
    I("timeout", 0, 0, 2**31 - 1),
    I("tcp-keepalive", 300, 0, 2**31 - 1),
    B("protected-mode", True),
    I("socket-mark-id", 0, 0, 2**32 - 1, mutable=False),
    # general
    B("daemonize", False, mutable=False),
    E("supervised", "no", "upstart systemd auto no", mutable=False),
    S("pidfile", "", mutable=False),
    E("loglevel", "notice", _LOGLEVELS),
    S("logfile", "", mutable=False),
    B("syslog-enabled", False, mutable=False),
    S("syslog-ident", "redis", mutable=False),
    E("syslog-facility", "local0", "user local0 local1 local2 local3 local4 local5 local6 local7", mutable=False),
    I("databases", 16, 1, 2**31 - 1, mutable=False),
    B("always-show-logo", False, mutable=False),
    B("set-proc-title", True, mutable=False),
    S("proc-title-template", "{title} {listen-addr} {server-mode}"),
    B("crash-log-enabled", True),
    B("crash-memcheck-enabled", True),
    E("enable-protected-configs", "no", _PROTECTED, mutable=False),
    E("enable-debug-command", "no", _PROTECTED, mutable=False),
    E("enable-module-command", "no", _PROTECTED, mutable=False),
    S("ignore-warnings", ""),
    I("hz", 10, 0, 2**31 - 1),
    B("dynamic-hz", True),
    I("io-threads", 1, 1, 128, mutable=False),
    B("io-threads-do-reads", False, mutable=False),
    S("server_cpulist", "", mutable=False),
    S("bio_cpulist", "", mutable=False),
    S("aof_rewrite_cpulist", "", mutable=False),
    S("bgsave_cpulist", "", mutable=False),
    B("jemalloc-bg-thread", True),
    B("disable-thp", True, mutable=False),
    X("oom-score-adj-values", "0 200 800"),
    E("oom-score-adj", "no", "no yes relative absolute"),
    E("shutdown-on-sigint", "default", "default save nosave now force"),
    E("shutdown-on-sigterm", "default", "default save nosave now force"),
    I("shutdown-timeout", 10, 0, 2**31 - 1),
    # snapshotting
    X("save", "3600 1 300 100 60 10000"),
    B("stop-writes-on-bgsave-error", True),
    B("rdbcompression", True),
    B("rdbchecksum", True, mutable=False),
    S("dbfilename", "dump.rdb"),
    B("rdb-del-sync-files", False),
    X("dir", ""),
    B("rdb-save-incremental-fsync", True),
    E("sanitize-dump-payload", "no", "no yes clients"),
    # replication
    X("replicaof", "", mutable=False),  # changed with REPLICAOF, not CONFIG SET
    S("masterauth", ""),
    S("masteruser", ""),
    B("replica-serve-stale-data", True, "slave-serve-stale-data"),
    B("replica-read-only", True, "slave-read-only"),
    B("repl-diskless-sync", True),
    I("repl-diskless-sync-delay", 5, 0, 2**31 - 1),
    I("repl-diskless-sync-max-replicas", 0, 0, 2**31 - 1),
    E("repl-diskless-load", "disabled", "disabled on-empty-db swapdb"),
    I("repl-ping-replica-period", 10, 1, 2**31 - 1, "repl-ping-slave-period"),
    I("repl-timeout", 60, 1, 2**31 - 1),
    B("repl-disable-tcp-nodelay", False),
    M("repl-backlog-size", 1024 * 1024, 1, 2**63 - 1),
    I("repl-backlog-ttl", 3600, 0, 2**31 - 1),
    I("replica-priority", 100, 0, 2**31 - 1, "slave-priority"),
    B("replica-announced", True),
    I("min-replicas-to-write", 0, 0, 2**31 - 1, "min-slaves-to-write"),
    I("min-replicas-max-lag", 10, 0, 2**31 - 1, "min-slaves-max-lag"),
    S("replica-announce-ip", "", "slave-announce-ip"),
    I("replica-announce-port", 0, 0, 65535, "slave-announce-port"),
    B("replica-ignore-maxmemory", True, "slave-ignore-maxmemory"),
    B("replica-lazy-flush", False, "slave-lazy-flush"),
    B("replica-ignore-disk-write-errors", False),
    E("propagation-error-behavior", "ignore", "ignore panic panic-on-replicas"),
    # security
    X("requirepass", ""),
    S("aclfile", "", mutable=False),
    I("acllog-max-len", 128, 0, 2**63 - 1),
    E("acl-pubsub-default", "resetchannels", "allchannels resetchannels"),
    # clients and memory
    I("maxclients", 10000, 1, 2**31 - 1),
    M("maxmemory", 0, 0, 2**63 - 1),
    E("maxmemory-policy", "noeviction", "volatile-lru volatile-lfu volatile-random volatile-ttl allkeys-lru allkeys-lfu allkeys-random noeviction"),
    I("maxmemory-samples", 5, 1, 2**31 - 1),
    I("maxmemory-eviction-tenacity", 10, 0, 100),
    M("maxmemory-clients", 0, 0, 2**63 - 1),
    B("lazyfree-lazy-eviction", False),
    B("lazyfree-lazy-expire", False),
    B("lazyfree-lazy-server-del", False),
    B("lazyfree-lazy-user-del", False),
    B("lazyfree-lazy-user-flush", False),
    I("lfu-log-factor", 10, 0, 2**31 - 1),
    I("lfu-decay-time", 1, 0, 2**31 - 1),
    I("active-expire-effort", 1, 1, 10),
    M("client-query-buffer-limit", 1024**3, 1024 * 1024, 2**63 - 1),
    M("proto-max-bulk-len", 512 * 1024**2, 1024 * 1024, 2**63 - 1),
    X("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    I("tracking-table-max-keys", 1000000, 0, 2**63 - 1),
    # append only file
    B("appendonly", False),
    S("appendfilename", "appendonly.aof", mutable=False),
    S("appenddirname", "appendonlydir", mutable=False),
    E("appendfsync", "everysec", "always everysec no"),
    B("no-appendfsync-on-rewrite", False),
    I("auto-aof-rewrite-percentage", 100, 0, 2**31 - 1),
    M("auto-aof-rewrite-min-size", 64 * 1024**2, 0, 2**63 - 1),
    B("aof-load-truncated", True),
    B("aof-use-rdb-preamble", True),
    B("aof-rewrite-incremental-fsync", True),
    B("aof-timestamp-enabled", False),
    B("aof-disable-auto-gc", False),
    # scripting and slow log
    I("busy-reply-threshold", 5000, 0, 2**63 - 1, "lua-time-limit"),
    I("slowlog-log-slower-than", 10000, -1, 2**63 - 1),
    I("slowlog-max-len", 128, 0, 2**63 - 1),
    I("latency-monitor-threshold", 0, 0, 2**63 - 1),
    B("latency-tracking", True),
    X("latency-tracking-info-percentiles", "50 99 99.9"),
    X("notify-keyspace-events", ""),
    # cluster
    B("cluster-enabled", False, mutable=False),
    S("cluster-config-file", "nodes.conf", mutable=False),
    I("cluster-node-timeout", 15000, 0, 2**63 - 1),
    I("cluster-port", 0, 0, 65535, mutable=False),
    S("cluster-announce-ip", ""),
    I("cluster-announce-port", 0, 0, 65535),
    I("cluster-announce-bus-port", 0, 0, 65535),
    I("cluster-announce-tls-port", 0, 0, 65535),
    S("cluster-announce-hostname", ""),
    E("cluster-preferred-endpoint-type", "ip", "ip hostname unknown-endpoint"),
    I("cluster-replica-validity-factor", 10, 0, 2**31 - 1, "cluster-slave-validity-factor"),
    I("cluster-migration-barrier", 1, 0, 2**31 - 1),
    B("cluster-allow-replica-migration", True),
    B("cluster-require-full-coverage", True),
    B("cluster-replica-no-failover", False, "cluster-slave-no-failover"),
    B("cluster-allow-reads-when-down", False),
    B("cluster-allow-pubsubshard-when-down", True),
    M("cluster-link-sendbuf-limit", 0, 0, 2**63 - 1),
    # encodings of small aggregates
    M("hash-max-listpack-entries", 512, 0, 2**63 - 1, "hash-max-ziplist-entries"),
    M("hash-max-listpack-value", 64, 0, 2**63 - 1, "hash-max-ziplist-value"),
    I("list-max-listpack-size", -2, -(2**31), 2**31 - 1, "list-max-ziplist-size"),
    I("list-compress-depth", 0, 0, 2**31 - 1),
    M("set-max-intset-entries", 512, 0, 2**63 - 1),
    M("zset-max-listpack-entries", 128, 0, 2**63 - 1, "zset-max-ziplist-entries"),
    M("zset-max-listpack-value", 64, 0, 2**63 - 1, "zset-max-ziplist-value"),
    M("hll-sparse-max-bytes", 3000, 0, 2**63 - 1),
    M("stream-node-max-bytes", 4096, 0, 2**63 - 1),
    I("stream-node-max-entries", 100, 0, 2**63 - 1),
    B("activerehashing", True),
    B("activedefrag", False),
    M("active-defrag-ignore-bytes", 100 * 1024**2, 1, 2**63 - 1),
    I("active-defrag-threshold-lower", 10, 0, 1000),
    I("active-defrag-threshold-upper", 100, 0, 1000),
    I("active-defrag-cycle-min", 1, 1, 99),
    I("active-defrag-cycle-max", 25, 1, 99),
    I("active-defrag-max-scan-fields", 1000, 1, 2**63 - 1),
    # TLS (accepted, not served: shardis speaks plain TCP)
    I("tls-port", 0, 0, 65535),
    S("tls-cert-file", ""),
    S("tls-key-file", ""),
    S("tls-key-file-pass", ""),
    S("tls-client-cert-file", ""),
    S("tls-client-key-file", ""),
    S("tls-client-key-file-pass", ""),
    S("tls-dh-params-file", ""),
    S("tls-ca-cert-file", ""),
    S("tls-ca-cert-dir", ""),
    E("tls-auth-clients", "yes", "no yes optional"),
    B("tls-replication", False),
    B("tls-cluster", False),
    S("tls-protocols", ""),
    S("tls-ciphers", ""),
    S("tls-ciphersuites", ""),
    B("tls-prefer-server-ciphers", False),
    B("tls-session-caching", True),
    I("tls-session-cache-size", 20480, 0, 2**31 - 1),
    I("tls-session-cache-timeout", 300, 0, 2**31 - 1),
]

_BY_NAME: dict[str, Directive] = {}
for _d in DIRECTIVES:
    _BY_NAME[_d.name] = _d
    for _a in _d.aliases:
        _BY_NAME[_a] = _d
# Alias spelling kept for CONFIG GET output (Redis lists aliases too).
_ALIASES = {a: d.name for d in DIRECTIVES for a in d.aliases}
_ALIASES["slaveof"] = "replicaof"
_BY_NAME["slaveof"] = _BY_NAME["replicaof"]

# Directives only valid in a config file (they take effect at load).
_FILE_ONLY = {"include", "rename-command", "user", "loadmodule"}

_CLASSES = ("normal", "slave", "replica", "pubsub")


def _parse_bool(v: bytes) -> bool:
    v = v.lower()
    if v == b"yes":
        return True
    if v == b"no":
        return False
    raise ConfigError("argument must be 'yes' or 'no'")


def _parse_save(args) -> list:
    """'save' takes pairs of seconds/changes, or "" to disable."""
    words = []
    for a in args:
        words.extend(a.split())
    if not words:
        return []
    if len(words) % 2:
        raise ConfigError("Invalid save parameters")
    out = []
    for i in range(0, len(words), 2):
        if not (_is_int(words[i]) and _is_int(words[i + 1])):
            raise ConfigError("Invalid save parameters")
        secs, changes = int(words[i]), int(words[i + 1])
        if secs < 1 or changes < 0:
            raise ConfigError("Invalid save parameters")
        out.append((secs, changes))
    return out


def _parse_obuf(args) -> dict:
    words = []
    for a in args:
        words.extend(a.split())
    if len(words) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out = {}
    for i in range(0, len(words), 4):
        cls = words[i].decode(errors="replace").lower()
        if cls not in _CLASSES:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            hard = parse_memory(words[i + 1])
            soft = parse_memory(words[i + 2])
            secs = int(words[i + 3])
        except ValueError:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        if secs < 0 or hard < 0 or soft < 0:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        out["slave" if cls == "replica" else cls] = (hard, soft, secs)
    return out


# notify-keyspace-events class letters (notify.c).
NOTIFY_CLASSES = "KEg$lshzxedtmnA"


def _parse_notify(args) -> str:
    if len(args) != 1:
        raise ConfigError("wrong number of arguments")
    s = args[0].decode(errors="replace")
    for ch in s:
        if ch not in NOTIFY_CLASSES:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return s


def _parse_percentiles(args) -> list:
    words = []
    for a in args:
        words.extend(a.split())
    out = []
    for w in words:
        try:
            p = float(w)
        except ValueError:
            raise ConfigError("latency-tracking-info-percentiles needs a list of percentiles")
        if not 0.0 <= p <= 100.0:
            raise ConfigError("latency-tracking-info-percentiles needs a list of percentiles")
        out.append(p)
    return out


def _parse_oom_values(args) -> list:
    words = []
    for a in args:
        words.extend(a.split())
    if len(words) != 3 or not all(_is_int(w) for w in words):
        raise ConfigError("Invalid oom-score-adj-values")
    vals = [int(w) for w in words]
    if any(v < -2000 or v > 2000 for v in vals):
        raise ConfigError("Invalid oom-score-adj-values")
    return vals


def _parse_replicaof(args):
    if len(args) == 1 and args[0] == b"":
        return None
    words = []
    for a in args:
        words.extend(a.split())
    if not words:
        return None
    if len(words) == 2 and words[0].lower() == b"no" and words[1].lower() == b"one":
        return None
    if len(words) != 2 or not _is_int(words[1]):
        raise ConfigError("Bad directive or wrong number of arguments")
    return (words[0].decode(), int(words[1]))


def _parse_bind(args):
    words = []
    for a in args:
        words.extend(a.split())
    if len(words) > 16:
        raise ConfigError("Too many bind addresses specified.")
    return [w.decode() for w in words]


def _parse_dir(args):
    if len(args) != 1:
        raise ConfigError("Bad directive or wrong number of arguments")
    return args[0].decode()


def _parse_octal_perm(args):
    """unixsocketperm: an octal permission mask (0 to 777)."""
    if len(args) != 1:
        raise ConfigError("wrong number of arguments")
    try:
        v = int(args[0], 8)
    except ValueError:
        raise ConfigError("argument couldn't be parsed into an integer")
    if not 0 <= v <= 0o777:
        raise ConfigError("argument must be between 0 and 777 inclusive")
    return v


def _parse_requirepass(args):
    if len(args) != 1:
        raise ConfigError("Bad directive or wrong number of arguments")
    return args[0]


_SPECIAL_PARSERS = {
    "save": _parse_save,
    "client-output-buffer-limit": _parse_obuf,
    "notify-keyspace-events": _parse_notify,
    "latency-tracking-info-percentiles": _parse_percentiles,
    "oom-score-adj-values": _parse_oom_values,
    "replicaof": _parse_replicaof,
    "bind": _parse_bind,
    "dir": _parse_dir,
    "requirepass": _parse_requirepass,
    "unixsocketperm": _parse_octal_perm,
}


def _format_special(name: str, v) -> bytes:
    if name == "save":
        return b" ".join(b"%d %d" % p for p in v)
    if name == "client-output-buffer-limit":
        parts = []
        for cls in ("normal", "slave", "pubsub"):
            h, s, t = v.get(cls, (0, 0, 0))
            parts.append(b"%s %d %d %d" % (cls.encode(), h, s, t))
        return b" ".join(parts)
    if name == "notify-keyspace-events":
        return _normalize_notify(v).encode()
    if name == "latency-tracking-info-percentiles":
        return b" ".join((b"%d" % p) if p == int(p) else (b"%g" % p) for p in v)
    if name == "oom-score-adj-values":
        return b" ".join(b"%d" % x for x in v)
    if name == "replicaof":
        return b"" if v is None else b"%s %d" % (v[0].encode(), v[1])
    if name == "bind":
        return " ".join(v).encode()
    if name == "dir":
        return os.getcwd().encode()
    if name == "requirepass":
        return v
    if name == "unixsocketperm":
        return b"%o" % v
    raise KeyError(name)


def notify_flags(s: str) -> int:
    """Turn the notify-keyspace-events letters into the bitmask the node checks."""
    from ..keyspace import notify as n

    return n.flags_from_string(s)


def _normalize_notify(s: str) -> str:
    from ..keyspace import notify as n

    return n.flags_to_string(n.flags_from_string(s))


class Config:
    """Parsed configuration values, keyed by canonical directive name."""

    def __init__(self):
        self.values: dict[str, object] = {}
        self.file: str | None = None
        self.callbacks: dict[str, list] = {}
        for d in DIRECTIVES:
            if d.kind == "special":
                self.values[d.name] = _SPECIAL_PARSERS[d.name]([d.default.encode()])
            else:
                self.values[d.name] = d.default
        self.values["dir"] = os.getcwd()

    def __getitem__(self, name: str):
        return self.values[name]

    def get(self, name: str, default=None):
        return self.values.get(name, default)

    def on_change(self, name: str, callback) -> None:
        self.callbacks.setdefault(name, []).append(callback)

    # --- parsing ------------------------------------------------------------

    @staticmethod
    def directive(name: str) -> Directive | None:
        return _BY_NAME.get(name.lower())

    def parse_value(self, d: Directive, args: list):
        """Parse the argument words of directive ``d``; raises ConfigError with Redis's text."""
        if d.kind == "special":
            return _SPECIAL_PARSERS[d.name](args)
        if len(args) != 1:
            raise ConfigError("wrong number of arguments")
        v = args[0]
        if d.kind == "bool":
            return _parse_bool(v)
        if d.kind == "int":
            if not _is_int(v):
                raise ConfigError("argument couldn't be parsed into an integer")
            n = int(v)
            if not d.lo <= n <= d.hi:
                raise ConfigError(f"argument must be between {d.lo} and {d.hi} inclusive")
            return n
        if d.kind == "memory":
            try:
                n = parse_memory(v)
            except ValueError:
                raise ConfigError("argument must be a memory value")
            if not d.lo <= n <= d.hi:
                raise ConfigError(f"argument must be between {d.lo} and {d.hi} inclusive")
            return n
        if d.kind == "enum":
            s = v.decode(errors="replace").lower()
            if s not in d.choices:
                raise ConfigError("argument(s) must be one of the following: " + ", ".join(d.choices))
            return s
        return v.decode(errors="surrogateescape")

    def apply(self, name: str, args: list, from_file: bool = False) -> None:
        """Set one directive from its argument words (file, command line or CONFIG SET)."""
        d = self.directive(name)
        if d is None:
            raise ConfigError("Bad directive or wrong number of arguments")
        value = self.parse_value(d, args)
        self.set_value(d.name, value)

    def set_value(self, name: str, value) -> None:
        old = self.values.get(name)
        self.values[name] = value
        if name == "dir":
            try:
                os.chdir(value)
            except OSError as e:
                self.values[name] = old
                raise ConfigError(f"No such file or directory" if e.errno == 2 else str(e.strerror))
            self.values[name] = os.getcwd()
        for cb in self.callbacks.get(name, ()):
            cb(value, old)

    def load_text(self, text: str, source: str = "(command line)") -> None:
        """Parse redis.conf text.  Raises ConfigError with Redis's FATAL CONFIG FILE ERROR report."""
        for lineno, raw in enumerate(text.split("\n"), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            args = split_args(line.encode(errors="surrogateescape"))
            if args is None:
                raise ConfigError(_fatal(lineno, raw, "Unbalanced quotes in configuration line"))
            if not args:
                continue
            name = args[0].decode(errors="replace").lower()
            if name == "include":
                if len(args) != 2:
                    raise ConfigError(_fatal(lineno, raw, "Bad directive or wrong number of arguments"))
                self.load_file(args[1].decode())
                continue
            if name in _FILE_ONLY:
                continue  # accepted for compatibility; shardis has no ACL users or modules yet
            try:
                self.apply(name, args[1:], from_file=True)
            except ConfigError as e:
                raise ConfigError(_fatal(lineno, raw, str(e))) from None

    def load_file(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            raise ConfigError(f"Fatal error, can't open config file '{path}': {e.strerror}")
        if self.file is None:
            self.file = os.path.abspath(path)
        self.load_text(text, path)

    # --- CONFIG GET / REWRITE -------------------------------------------------

    def format_value(self, name: str) -> bytes:
        d = _BY_NAME[name]
        v = self.values[d.name]
        if d.kind == "special":
            return _format_special(d.name, v)
        if d.kind == "bool":
            return b"yes" if v else b"no"
        if d.kind in ("int", "memory"):
            return b"%d" % v
        if d.kind == "enum":
            return v.encode()
        return v.encode(errors="surrogateescape")

    def get_matching(self, pattern: str) -> list[tuple[bytes, bytes]]:
        """CONFIG GET: (name, value) for every directive or alias matching the glob."""
        out = []
        seen = set()
        pat = pattern.lower()
        has_glob = any(ch in pat for ch in "*?[")
        for name in list(_BY_NAME):
            if name in seen:
                continue
            if (has_glob and fnmatch.fnmatchcase(name, pat)) or name == pat:
                seen.add(name)
                out.append((name.encode(), self.format_value(name)))
        return out

    def rewrite(self) -> None:
        """CONFIG REWRITE: rewrite the config file keeping comments, updating changed values."""
        if not self.file:
            raise ConfigError("The server is running without a config file")
        try:
            with open(self.file, encoding="utf-8", errors="surrogateescape") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            lines = []
        written = set()
        out = []
        for raw in lines:
            s = raw.strip()
            args = split_args(s.encode(errors="surrogateescape")) if s and not s.startswith("#") else None
            if args:
                name = args[0].decode(errors="replace").lower()
                d = _BY_NAME.get(name)
                if d is not None:
                    if d.name in written:
                        continue
                    written.add(d.name)
                    out.extend(self._rewrite_lines(d))
                    continue
            out.append(raw)
        for d in DIRECTIVES:
            if d.name not in written and self._differs(d):
                if not any(line == "# Generated by CONFIG REWRITE" for line in out):
                    out.append("# Generated by CONFIG REWRITE")
                out.extend(self._rewrite_lines(d))
        while out and out[-1] == "":
            out.pop()
        tmp = self.file + ".tmp"
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n".join(out) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.file)

    def _differs(self, d: Directive) -> bool:
        if d.name == "dir":
            return False
        if d.kind == "special":
            default = _SPECIAL_PARSERS[d.name]([d.default.encode()])
        else:
            default = d.default
        return self.values[d.name] != default

    def _rewrite_lines(self, d: Directive) -> list[str]:
        v = self.format_value(d.name).decode(errors="surrogateescape")
        if d.name == "save":
            vals = self.values["save"]
            return ['save ""'] if not vals else [f"save {s} {c}" for s, c in vals]
        if d.name == "client-output-buffer-limit":
            return [
                f"client-output-buffer-limit {cls} {h} {s} {t}"
                for cls, (h, s, t) in self.values[d.name].items()
            ]
        if d.name == "replicaof" and not v:
            return []
        if v == "" or " " in v and d.kind in ("string",):
            return [f'{d.name} "{v}"']
        return [f"{d.name} {v}"]


def _fatal(lineno: int, line: str, msg: str) -> str:
    from .. import REDIS_VERSION

    return (
        f"\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n"
        f"Reading the configuration file, at line {lineno}\n"
        f">>> '{line.strip()}'\n{msg}"
    )


def args_to_config_text(argv: list[str]) -> str:
    """redis-server's command-line convention: ``--name v1 v2 --other v`` -> config lines."""
    lines: list[list[str]] = []
    for a in argv:
        if a.startswith("--") and len(a) > 2:
            lines.append([a[2:]])
        elif lines:
            lines[-1].append(a)
        else:
            raise ConfigError(f"Invalid argument '{a}' (directives start with --)")
    out = []
    for words in lines:
        name, args = words[0], words[1:]
        quoted = [_quote(x) for x in args]
        out.append(" ".join([name] + quoted))
    return "\n".join(out)


def _quote(s: str) -> str:
    """Quote one argument so split_args reads it back unchanged (empty -> "")."""
    if s and not any(c in s for c in ' \t\r\n"\'\\'):
        return s
    esc = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{esc}"'
