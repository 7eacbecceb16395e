"""INFO: the report of the node's state, section by section, in Redis 7.0's format.

Clients and tools parse INFO line by line (``name:value``, ``# Section``
headers, CRLF line ends, sections separated by an empty line), and many read
specific fields (redis_version, role, used_memory, the keyspace lines), so
every section lists Redis 7.0.15's fields with Redis's names, order and
number formats.  Sections are always emitted in Redis's order whatever the
order of the request.

Each section is a function ``(node) -> list[(name, value)]``.  Subsystems
that own some of the figures (persistence, replication, cluster ...) add or
replace fields with ``register(section, provider)``, where ``provider(node)``
returns ``(name, value)`` pairs: a name already in the section keeps its
place and takes the new value, a new name is appended.  That keeps this file
the one place that knows the layout while each subsystem reports its own
numbers.  Values may be str, int, or float (floats print as Redis's "%.2f").

Redis counts many statistics as ``server.stat_<name>``; a field whose node
attribute ``stat_<name>`` exists reports it, so a subsystem that keeps such a
counter on the node shows up in INFO without registering anything.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
import zlib

from .. import REDIS_VERSION, __version__
from ..keyspace.lfu import LRU_CLOCK_MAX
from . import memory

__all__ = ["generate", "register", "section_names", "SECTION_ORDER", "DEFAULT_SECTIONS", "reset_stats"]

SECTION_ORDER = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
)
# Sections INFO returns with no argument (or "default"): all but the per-command ones.
DEFAULT_SECTIONS = frozenset(SECTION_ORDER) - {"commandstats", "latencystats"}

AVG_TTL_SAMPLES = 1000  # TTLs averaged for the keyspace line's avg_ttl

_PROVIDERS: dict[str, list] = {}


def register(section: str, provider) -> None:
    """Let a subsystem add or override fields of ``section`` (see the module docstring)."""
    _PROVIDERS.setdefault(section, []).append(provider)


def section_names(args) -> set[str]:
    """The set of sections an INFO request asks for (``args`` without the command name)."""
    if not args:
        return set(DEFAULT_SECTIONS)
    wanted: set[str] = set()
    for a in args:
        name = a.decode("utf-8", "replace").lower() if isinstance(a, (bytes, bytearray)) else a.lower()
        if name in ("all", "everything"):
            wanted.update(SECTION_ORDER)
        elif name == "default":
            wanted.update(DEFAULT_SECTIONS)
        elif name in SECTION_ORDER:
            wanted.add(name)
    return wanted


def generate(node, args=()) -> bytes:
    """The INFO text for the requested sections (``args`` as sent, without the command name)."""
    wanted = section_names(args)
    parts = []
    for name in SECTION_ORDER:
        if name in wanted:
            parts.append(render_section(node, name))
    return b"\r\n".join(parts)


def render_section(node, name: str) -> bytes:
    fields = _BUILDERS[name](node)
    providers = _PROVIDERS.get(name)
    if providers:
        fields = _merge(fields, node, providers)
    title = "CPU" if name == "cpu" else name.capitalize()
    lines = ["# " + title]
    lines += [k + ":" + _fmt(v) for k, v in fields]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape")


def _merge(fields, node, providers):
    index = {k: i for i, (k, _) in enumerate(fields)}
    fields = list(fields)
    for provider in providers:
        for k, v in provider(node):
            i = index.get(k)
            if i is None:
                index[k] = len(fields)
                fields.append((k, v))
            else:
                fields[i] = (k, v)
    return fields


def _fmt(v) -> str:
    t = v.__class__
    if t is str:
        return v
    if t is int:
        return str(v)
    if t is float:
        return "%.2f" % v
    if t is bool:
        return "1" if v else "0"
    if t is bytes or t is bytearray:
        return v.decode("utf-8", "surrogateescape")
    return str(v)


def _stat(node, name: str, default=0):
    return getattr(node, "stat_" + name, default)


# --- server ---------------------------------------------------------------------------

_BUILD_ID = "%x" % (zlib.crc32(f"shardis-{__version__}-{REDIS_VERSION}".encode()) << 28 | 0x5D)


def _mode(node) -> str:
    return "cluster" if node.config["cluster-enabled"] or node.cluster is not None else "standalone"


def _server(node):
    now = time.time()
    uname = os.uname()
    uptime = int(now - node.start_time)
    compiler = platform.python_compiler().split()
    return [
        ("redis_version", REDIS_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", _BUILD_ID),
        ("shardis_version", __version__),
        ("redis_mode", _mode(node)),
        ("os", f"{uname.sysname} {uname.release} {uname.machine}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll" if sys.platform.startswith("linux") else "kqueue"),
        ("atomicvar_api", "none"),
        ("gcc_version", compiler[-1] if compiler and compiler[0] == "GCC" else "0.0.0"),
        ("python_version", platform.python_version()),
        ("process_id", node.pid),
        ("process_supervised", node.config["supervised"]),
        ("run_id", node.run_id),
        ("tcp_port", node.config["port"]),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", node.hz),
        ("configured_hz", node.config["hz"]),
        ("lru_clock", int(now) & LRU_CLOCK_MAX),
        ("executable", os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else sys.executable),
        ("config_file", node.config.file or ""),
        ("io_threads_active", 0),
    ]


# --- clients --------------------------------------------------------------------------


def _is_replica_client(c) -> bool:
    return bool(getattr(c, "replica", False)) and not getattr(c, "monitor", False)


def _clients(node):
    clients = list(node.clients.values())
    normal = [c for c in clients if not _is_replica_client(c)]
    max_in = 0
    max_out = 0
    for c in clients:
        reader = getattr(c, "reader", None)
        if reader is not None:
            max_in = max(max_in, reader.buffered())
        max_out = max(max_out, c.output_buffer_size() if hasattr(c, "output_buffer_size") else 0)
    # Clients held by CLIENT PAUSE count as blocked, as in Redis (BLOCKED_POSTPONE).
    blocked = sum(1 for c in clients if c.blocked or c.waiting_pause)
    in_timeout = sum(1 for c in clients if c.blocked and getattr(c.bstate, "timeout", 0))
    cluster = node.cluster
    links = getattr(cluster, "connections_count", None) if cluster is not None else None
    return [
        ("connected_clients", len(normal)),
        ("cluster_connections", links() if callable(links) else (links or 0)),
        ("maxclients", node.config["maxclients"]),
        ("client_recent_max_input_buffer", max_in),
        ("client_recent_max_output_buffer", max_out),
        ("blocked_clients", blocked),
        ("tracking_clients", _stat(node, "tracking_clients")),
        ("clients_in_timeout_table", in_timeout),
    ]


# --- memory ---------------------------------------------------------------------------


def clients_memory(node) -> tuple[int, int]:
    """(normal clients, replica clients): bytes held in query and output buffers."""
    normal = replicas = 0
    for c in node.clients.values():
        reader = getattr(c, "reader", None)
        n = (reader.buffered() if reader is not None else 0) + c.output_buffer_size()
        if _is_replica_client(c):
            replicas += n
        else:
            normal += n
    return normal, replicas


def keyspace_overhead(node) -> int:
    """The main and expires hash tables of every database (their buckets and entries)."""
    total = 0
    for db in node.dbs:
        for table in (db.data, db.expires):
            n = len(table)
            if n:
                total += memory._dict_usage(n) + n * memory.DICT_ENTRY_SIZE
    return total


def memory_figures(node) -> dict:
    """The numbers INFO memory and MEMORY STATS share."""
    used = memory.refresh()
    rss = memory.process_rss()
    peak = memory.peak_memory()
    startup = memory.startup_memory()
    normal, replicas = clients_memory(node)
    backlog = _stat(node, "repl_backlog_memory")
    aof_buf = _stat(node, "aof_buffer_memory")
    overhead = startup + normal + replicas + backlog + aof_buf + keyspace_overhead(node)
    overhead = min(overhead, used)
    return {
        "used": used,
        "rss": rss,
        "peak": peak,
        "startup": startup,
        "clients_normal": normal,
        "clients_slaves": replicas,
        "backlog": backlog,
        "aof_buffer": aof_buf,
        "overhead": overhead,
        "dataset": used - overhead,
    }


def _memory(node):
    m = memory_figures(node)
    used, rss, peak = m["used"], m["rss"], m["peak"]
    net = used - m["startup"]
    dataset_perc = m["dataset"] * 100.0 / net if net > 0 else 0.0
    total_sys = memory.total_system_memory()
    maxmemory = node.config["maxmemory"]
    frag = rss / used if used else 0.0
    h = memory.human_bytes
    return [
        ("used_memory", used),
        ("used_memory_human", h(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", h(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", h(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (used * 100.0 / peak if peak else 0.0)),
        ("used_memory_overhead", m["overhead"]),
        ("used_memory_startup", m["startup"]),
        ("used_memory_dataset", m["dataset"]),
        ("used_memory_dataset_perc", "%.2f%%" % dataset_perc),
        ("allocator_allocated", used),
        ("allocator_active", used),
        ("allocator_resident", rss),
        ("total_system_memory", total_sys),
        ("total_system_memory_human", h(total_sys)),
        ("used_memory_lua", _stat(node, "used_memory_lua")),
        ("used_memory_vm_eval", _stat(node, "used_memory_lua")),
        ("used_memory_lua_human", h(_stat(node, "used_memory_lua"))),
        ("used_memory_scripts_eval", _stat(node, "used_memory_scripts_eval")),
        ("number_of_cached_scripts", _stat(node, "number_of_cached_scripts")),
        ("number_of_functions", _stat(node, "number_of_functions")),
        ("number_of_libraries", _stat(node, "number_of_libraries")),
        ("used_memory_vm_functions", _stat(node, "used_memory_vm_functions")),
        ("used_memory_vm_total", _stat(node, "used_memory_lua") + _stat(node, "used_memory_vm_functions")),
        ("used_memory_vm_total_human", h(_stat(node, "used_memory_lua") + _stat(node, "used_memory_vm_functions"))),
        ("used_memory_functions", _stat(node, "used_memory_functions")),
        ("used_memory_scripts", _stat(node, "used_memory_scripts_eval") + _stat(node, "used_memory_functions")),
        ("used_memory_scripts_human", h(_stat(node, "used_memory_scripts_eval") + _stat(node, "used_memory_functions"))),
        ("maxmemory", maxmemory),
        ("maxmemory_human", h(maxmemory)),
        ("maxmemory_policy", node.config["maxmemory-policy"]),
        ("allocator_frag_ratio", 1.0),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", rss / used if used else 0.0),
        ("allocator_rss_bytes", rss - used),
        ("rss_overhead_ratio", 1.0),
        ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", frag),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", m["backlog"] + m["clients_slaves"] + m["aof_buffer"]),
        ("mem_replication_backlog", m["backlog"]),
        ("mem_total_replication_buffers", m["backlog"] + m["clients_slaves"]),
        ("mem_clients_slaves", m["clients_slaves"]),
        ("mem_clients_normal", m["clients_normal"]),
        ("mem_cluster_links", _stat(node, "cluster_links_memory")),
        ("mem_aof_buffer", m["aof_buffer"]),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", _stat(node, "lazyfreed_objects")),
    ]


# --- persistence ---------------------------------------------------------------------


def _persistence(node):
    return [
        ("loading", 1 if node.loading else 0),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", 0.0),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", node.dirty),
        ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", node.lastsave),
        ("rdb_last_bgsave_status", "ok" if node.lastbgsave_ok else "err"),
        ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", _stat(node, "rdb_saves")),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", _stat(node, "rdb_last_load_keys_expired")),
        ("rdb_last_load_keys_loaded", _stat(node, "rdb_last_load_keys_loaded")),
        ("aof_enabled", 1 if node.config["appendonly"] else 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", _stat(node, "aof_rewrites")),
        ("aof_rewrites_consecutive_failures", _stat(node, "aof_rewrites_consecutive_failures")),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


# --- stats ----------------------------------------------------------------------------


def pubsub_counts(node) -> tuple[int, int, int]:
    """(channels, patterns, shard channels) with at least one subscriber."""
    ps = node.pubsub
    counts = getattr(ps, "counts", None) if ps is not None else None
    if callable(counts):
        return tuple(counts())
    channels: set = set()
    patterns: set = set()
    shard: set = set()
    for c in node.clients.values():
        channels.update(c.channels)
        patterns.update(c.patterns)
        shard.update(c.shard_channels)
    return len(channels), len(patterns), len(shard)


def _stats(node):
    in_kbps, out_kbps = node.instantaneous_net()
    channels, patterns, shard = pubsub_counts(node)
    hits = sum(db.hits for db in node.dbs)
    misses = sum(db.misses for db in node.dbs)
    s = lambda name, default=0: _stat(node, name, default)  # noqa: E731
    return [
        ("total_connections_received", node.stat_numconnections),
        ("total_commands_processed", node.stat_numcommands),
        ("instantaneous_ops_per_sec", node.instantaneous_ops()),
        ("total_net_input_bytes", node.stat_net_input_bytes),
        ("total_net_output_bytes", node.stat_net_output_bytes),
        ("total_net_repl_input_bytes", s("net_repl_input_bytes")),
        ("total_net_repl_output_bytes", s("net_repl_output_bytes")),
        ("instantaneous_input_kbps", float(in_kbps)),
        ("instantaneous_output_kbps", float(out_kbps)),
        ("instantaneous_input_repl_kbps", 0.0),
        ("instantaneous_output_repl_kbps", 0.0),
        ("rejected_connections", node.stat_rejected_conn),
        ("sync_full", s("sync_full")),
        ("sync_partial_ok", s("sync_partial_ok")),
        ("sync_partial_err", s("sync_partial_err")),
        ("expired_keys", node.stat_expired_keys),
        ("expired_stale_perc", 0.0),
        ("expired_time_cap_reached_count", s("expired_time_cap_reached_count")),
        ("expire_cycle_cpu_milliseconds", s("expire_cycle_cpu_milliseconds")),
        ("evicted_keys", node.stat_evictedkeys),
        ("evicted_clients", s("evicted_clients")),
        ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", hits),
        ("keyspace_misses", misses),
        ("pubsub_channels", channels),
        ("pubsub_patterns", patterns),
        ("pubsubshard_channels", shard),
        ("latest_fork_usec", s("latest_fork_usec")),
        ("total_forks", s("total_forks")),
        ("migrate_cached_sockets", s("migrate_cached_sockets")),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", s("tracking_total_keys")),
        ("tracking_total_items", s("tracking_total_items")),
        ("tracking_total_prefixes", s("tracking_total_prefixes")),
        ("unexpected_error_replies", node.stat_unexpected_error_replies),
        ("total_error_replies", node.stat_total_error_replies),
        ("dump_payload_sanitizations", s("dump_payload_sanitizations")),
        ("total_reads_processed", s("total_reads_processed")),
        ("total_writes_processed", s("total_writes_processed")),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ]


# --- replication ----------------------------------------------------------------------

NULL_REPLID = "0" * 40


def replication_ids(node) -> tuple[str, str]:
    """(replid, replid2), creating the node's replication id on first use."""
    replid = getattr(node, "replid", None)
    if not replid:
        replid = os.urandom(20).hex()
        node.replid = replid
    replid2 = getattr(node, "replid2", None) or NULL_REPLID
    return replid, replid2


def _replication(node):
    replid, replid2 = replication_ids(node)
    master = node.master
    fields = [("role", "slave" if master is not None else "master")]
    if master is not None:
        fields += [
            ("master_host", getattr(master, "host", "")),
            ("master_port", getattr(master, "port", 0)),
            ("master_link_status", "up" if getattr(master, "connected", False) else "down"),
        ]
    fields.append(("connected_slaves", len(node.replicas)))
    for i, r in enumerate(node.replicas):
        fields.append((
            f"slave{i}",
            "ip=%s,port=%s,state=%s,offset=%d,lag=%d" % (
                getattr(r, "ip", ""), getattr(r, "port", 0), getattr(r, "state", "online"),
                getattr(r, "offset", 0), getattr(r, "lag", 0),
            ),
        ))
    offset = getattr(node, "master_repl_offset", 0)
    fields += [
        ("master_failover_state", getattr(node, "failover_state", "no-failover")),
        ("master_replid", replid),
        ("master_replid2", replid2),
        ("master_repl_offset", offset),
        ("second_repl_offset", getattr(node, "second_repl_offset", -1)),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", node.config["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]
    return fields


# --- cpu ------------------------------------------------------------------------------


def _tv(seconds: float) -> str:
    """A struct timeval as Redis prints it: %ld.%06ld."""
    usec = int(round(seconds * 1_000_000))
    return "%d.%06d" % (usec // 1_000_000, usec % 1_000_000)


def _cpu(node):
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    thread = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return [
        ("used_cpu_sys", _tv(me.ru_stime)),
        ("used_cpu_user", _tv(me.ru_utime)),
        ("used_cpu_sys_children", _tv(children.ru_stime)),
        ("used_cpu_user_children", _tv(children.ru_utime)),
        ("used_cpu_sys_main_thread", _tv(thread.ru_stime)),
        ("used_cpu_user_main_thread", _tv(thread.ru_utime)),
    ]


def _modules(node):
    return []


# --- per-command statistics -------------------------------------------------------------


def all_commands():
    """Every command and subcommand of the table, parents before their subcommands."""
    from .commandtable import TABLE

    for cmd in list(TABLE.values()):
        yield cmd
        for sub in list(cmd.subcommands.values()):
            yield sub


def _usec(cmd) -> int:
    return int(cmd.usec)


def _commandstats(node):
    fields = []
    for cmd in all_commands():
        calls = cmd.calls
        if not (calls or cmd.failed_calls or cmd.rejected_calls):
            continue
        usec = _usec(cmd)
        fields.append((
            "cmdstat_" + cmd.fullname,
            "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
            % (calls, usec, usec / calls if calls else 0.0, cmd.rejected_calls, cmd.failed_calls),
        ))
    return fields


def _errorstats(node):
    return [
        ("errorstat_" + code.decode("utf-8", "replace"), "count=%d" % n)
        for code, n in sorted(node.errorstats.items())
    ]


LATENCY_BUCKET_BASE = 10  # the first histogram bucket ends at 2^10 ns (~1 usec)


def latency_buckets(cmd) -> list[int]:
    """Counts of calls per power-of-two duration bucket in ns (bucket i holds < 2^i ns).

    Uses the command's histogram when the call path keeps one (``cmd.hist``);
    otherwise every call is placed at the command's mean duration.
    """
    hist = getattr(cmd, "hist", None)
    if hist:
        return list(hist)
    if not cmd.calls:
        return []
    mean_ns = max(1, _usec(cmd) * 1000 // cmd.calls)
    buckets = [0] * (mean_ns.bit_length() + 1)
    buckets[mean_ns.bit_length()] = cmd.calls
    return buckets


def percentile_usec(buckets: list[int], pct: float) -> float:
    """The upper bound (in usec) of the bucket holding the ``pct`` percentile."""
    total = sum(buckets)
    if not total:
        return 0.0
    target = total * pct / 100.0
    acc = 0
    for i, n in enumerate(buckets):
        acc += n
        if acc >= target and n:
            return (1 << i) / 1000.0
    return (1 << (len(buckets) - 1)) / 1000.0


def _pct_label(p: float) -> str:
    s = "%f" % p
    return s.rstrip("0").rstrip(".")


def _latencystats(node):
    if not node.config["latency-tracking"]:
        return []
    pcts = node.config["latency-tracking-info-percentiles"]
    fields = []
    for cmd in all_commands():
        if not cmd.calls:
            continue
        buckets = latency_buckets(cmd)
        parts = ["p%s=%.3f" % (_pct_label(p), percentile_usec(buckets, p)) for p in pcts]
        fields.append(("latency_percentiles_usec_" + cmd.fullname, ",".join(parts)))
    return fields


# --- cluster and keyspace ---------------------------------------------------------------


def _cluster(node):
    return [("cluster_enabled", 1 if node.config["cluster-enabled"] or node.cluster is not None else 0)]


def avg_ttl(db) -> int:
    """Mean remaining TTL in ms over (a sample of) the keys with one."""
    if not db.expires:
        return 0
    now = int(time.time() * 1000)
    n = 0
    total = 0
    for when in db.expires.values():
        if n >= AVG_TTL_SAMPLES:
            break
        total += max(0, when - now)
        n += 1
    return total // n if n else 0


def _keyspace(node):
    fields = []
    for db in node.dbs:
        keys = len(db.data)
        if keys or db.expires:
            fields.append((f"db{db.id}", "keys=%d,expires=%d,avg_ttl=%d" % (keys, len(db.expires), avg_ttl(db))))
    return fields


_BUILDERS = {
    "server": _server,
    "clients": _clients,
    "memory": _memory,
    "persistence": _persistence,
    "stats": _stats,
    "replication": _replication,
    "cpu": _cpu,
    "modules": _modules,
    "commandstats": _commandstats,
    "errorstats": _errorstats,
    "latencystats": _latencystats,
    "cluster": _cluster,
    "keyspace": _keyspace,
}


# --- CONFIG RESETSTAT ---------------------------------------------------------------------


# Counters CONFIG RESETSTAT zeroes (resetServerStats); state such as "a save is
# in progress" is not a counter and is left alone.
RESET_COUNTERS = (
    "numcommands", "numconnections", "expired_keys", "expired_time_cap_reached_count",
    "expire_cycle_cpu_milliseconds", "evictedkeys", "evicted_clients", "rejected_conn",
    "sync_full", "sync_partial_ok", "sync_partial_err", "net_input_bytes", "net_output_bytes",
    "net_repl_input_bytes", "net_repl_output_bytes", "unexpected_error_replies",
    "total_error_replies", "dump_payload_sanitizations", "total_reads_processed",
    "total_writes_processed", "latest_fork_usec", "total_forks", "lazyfreed_objects",
    "client_qbuf_limit_disconnections", "client_outbuf_limit_disconnections",
)


def reset_stats(node) -> None:
    """resetServerStats + resetCommandTableStats + resetErrorTableStats."""
    for name in RESET_COUNTERS:
        if isinstance(getattr(node, "stat_" + name, None), int):
            setattr(node, "stat_" + name, 0)
    for db in node.dbs:
        db.hits = db.misses = db.expired_keys = 0
    node.errorstats.clear()
    for cmd in all_commands():
        reset = getattr(cmd, "reset_stats", None)
        if callable(reset):
            reset()
        else:
            cmd.calls = cmd.rejected_calls = cmd.failed_calls = 0
            cmd.usec = 0
        hist = getattr(cmd, "hist", None)
        if hist:
            for i in range(len(hist)):
                hist[i] = 0
    memory.reset_peak()
