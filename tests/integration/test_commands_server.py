"""Server commands against redis-server 7.0: INFO CONFIG COMMAND DEBUG SLOWLOG LATENCY MEMORY
FUNCTION DBSIZE FLUSHDB FLUSHALL SWAPDB TIME LASTSAVE ROLE LOLWUT SHUTDOWN.

Differential where the reply is deterministic (the harness compares raw
bytes).  Where a reply lists things in Redis's hash-table order (CONFIG GET
with several names, COMMAND INFO of a container) it is compared after
parsing, orderless.  INFO is compared section by section: same sections,
same field names in the same order (shardis adds ``shardis_version`` and
``python_version``), equal values for the fields both servers must agree on.
DEBUG DIGEST is compared on a dataset holding every type and encoding,
which checks that shardis computes Redis's exact signature.  redis-py (RESP2
and RESP3) and redis-cli are used as applications and operators use them.
"""

from __future__ import annotations

import re
import subprocess
import time

import hiredis
import pytest
import redis

from shardis.testing import Differential, RawConnection

pytestmark = pytest.mark.node_directives("enable-debug-command yes")

# --- helpers -----------------------------------------------------------------------------------


def check_all(diff: Differential, *requests) -> None:
    for args in requests:
        diff.check(*args)


def parse(frame: bytes):
    r = hiredis.Reader()
    r.feed(frame)
    return r.gets()


def pairs_sorted(frame: bytes):
    """A flat RESP2 map reply (CONFIG GET, MEMORY STATS ...) as a sorted list of pairs."""
    items = parse(frame)
    return sorted(zip(items[::2], items[1::2]))


def both_request(diff: Differential, *args) -> tuple[bytes, bytes]:
    return diff.both(*args)


def info_sections(text: bytes) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list] = {}
    current = None
    for line in text.decode().split("\r\n"):
        if line.startswith("# "):
            current = sections.setdefault(line[2:], [])
        elif line:
            k, _, v = line.partition(":")
            current.append((k, v))
    return sections


def info_text(frame: bytes) -> bytes:
    body = frame.split(b"\r\n", 1)[1][:-2]
    return body[4:] if frame[:1] == b"=" else body


def fill_every_type(conn: RawConnection) -> None:
    """One key of each type and encoding, in two databases, one with a TTL."""
    for args in [
        ("SET", "s:embstr", "hello"), ("SET", "s:int", "12345"), ("SET", "s:raw", "x" * 100),
        ("APPEND", "s:appended", "abc"), ("SET", "s:ttl", "v", "EX", "1000"),
        ("RPUSH", "l", "a", "b", "1", "2", "c" * 70), ("HSET", "h:lp", "f1", "v1", "f2", "2"),
        ("SADD", "set:int", "1", "2", "3"), ("SADD", "set:ht", "a", "b", "c"),
        ("ZADD", "z:lp", "1.5", "a", "-2", "b", "0.1", "c"),
        ("CONFIG", "SET", "zset-max-listpack-entries", "1"), ("ZADD", "z:sl", "1", "a", "2", "b", "3e100", "c"),
        ("CONFIG", "SET", "zset-max-listpack-entries", "128"),
        ("CONFIG", "SET", "hash-max-listpack-entries", "1"), ("HSET", "h:ht", "a", "1", "b", "2"),
        ("CONFIG", "SET", "hash-max-listpack-entries", "512"),
        ("SELECT", "3"), ("SET", "in-db-3", "v"), ("SELECT", "0"),
    ]:
        reply = conn.request(*args)
        assert not reply.startswith(b"-"), (args, reply)


# --- INFO ----------------------------------------------------------------------------------------

SHARDIS_EXTRA_FIELDS = {"shardis_version", "python_version"}
# Fields whose values must be equal on both servers right after the same requests.
AGREED_FIELDS = {
    "server": {"redis_version", "redis_git_sha1", "redis_git_dirty", "redis_mode", "arch_bits",
               "process_supervised", "hz", "configured_hz", "io_threads_active", "monotonic_clock"},
    "clients": {"connected_clients", "cluster_connections", "maxclients", "blocked_clients", "tracking_clients",
                "clients_in_timeout_table"},
    "memory": {"maxmemory", "maxmemory_human", "maxmemory_policy", "mem_clients_slaves", "mem_replication_backlog",
               "mem_aof_buffer", "active_defrag_running", "lazyfree_pending_objects"},
    "persistence": {"loading", "async_loading", "rdb_bgsave_in_progress", "rdb_last_bgsave_status",
                    "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec", "aof_enabled",
                    "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_bgrewrite_status",
                    "aof_last_write_status", "rdb_changes_since_last_save"},
    "stats": {"rejected_connections", "sync_full", "sync_partial_ok", "sync_partial_err", "expired_keys",
              "evicted_keys", "keyspace_hits", "keyspace_misses", "pubsub_channels", "pubsub_patterns",
              "pubsubshard_channels", "total_error_replies", "unexpected_error_replies"},
    "replication": {"role", "connected_slaves", "master_failover_state", "master_replid2", "master_repl_offset",
                    "second_repl_offset", "repl_backlog_active", "repl_backlog_size", "repl_backlog_histlen"},
    "cluster": {"cluster_enabled"},
}


def test_info_section_selection(diff):
    """Which sections each argument list selects, in Redis's order, whatever the request's order."""
    for args in [(), ("default",), ("all",), ("everything",), ("server",), ("CLUSTER",), ("keyspace", "cluster"),
                 ("cluster", "CLUSTER"), ("foo",), ("a", "b", "c"), ("commandstats", "server"),
                 ("errorstats", "latencystats", "modules"), ("default", "commandstats")]:
        a, b = diff.both("INFO", *args)
        assert a[:1] == b[:1] == b"$", args
        assert list(info_sections(info_text(a))) == list(info_sections(info_text(b))), args
    diff.check("HELLO", "3")
    a, b = diff.both("INFO", "cluster")
    assert a == b and a.startswith(b"=") and b"txt:# Cluster\r\n" in a


def test_info_fields_match_redis(diff):
    check_all(diff, ("SET", "a", "1"), ("GET", "a"), ("GET", "missing"), ("SET", "t", "v", "EX", "100"))
    a, b = diff.both("INFO", "everything")
    sa, sb = info_sections(info_text(a)), info_sections(info_text(b))
    for section, fields in sb.items():
        if section in ("Commandstats", "Errorstats", "Latencystats", "Keyspace"):
            continue
        names_redis = [k for k, _ in fields]
        names_ours = [k for k, _ in sa[section] if k not in SHARDIS_EXTRA_FIELDS]
        assert names_ours == names_redis, section
        ours, theirs = dict(sa[section]), dict(fields)
        for name in AGREED_FIELDS.get(section.lower(), ()):
            assert ours[name] == theirs[name], (section, name)
    assert dict(sa["Server"])["redis_version"] == "7.0.15"
    assert dict(sa["Server"])["tcp_port"] == str(diff.shardis_port)
    for name in ("used_memory", "used_memory_rss", "used_memory_peak", "used_memory_startup", "total_system_memory"):
        assert int(dict(sa["Memory"])[name]) > 0, name
    assert re.fullmatch(r"\d+(\.\d\d)?[BKMGTP]", dict(sa["Memory"])["used_memory_human"])
    assert re.fullmatch(r"[0-9a-f]{40}", dict(sa["Replication"])["master_replid"])
    assert re.fullmatch(r"\d+\.\d{6}", dict(sa["CPU"])["used_cpu_user"])


def test_info_keyspace(diff):
    check_all(diff, ("SET", "a", "1"), ("SET", "b", "2"), ("SET", "t", "v", "EX", "1000"), ("SELECT", "5"),
              ("SET", "x", "y"), ("SELECT", "0"))
    a, b = diff.both("INFO", "keyspace")
    ttl = re.compile(rb"avg_ttl=\d+")
    assert ttl.sub(b"avg_ttl=*", info_text(a)) == ttl.sub(b"avg_ttl=*", info_text(b))
    assert b"db0:keys=3,expires=1,avg_ttl=" in a and b"db5:keys=1,expires=0,avg_ttl=0\r\n" in a
    assert 990_000 <= int(re.search(rb"db0:keys=3,expires=1,avg_ttl=(\d+)", a).group(1)) <= 1_000_000


def test_info_commandstats_and_errorstats(diff):
    usec = re.compile(rb"usec=\d+,usec_per_call=[\d.]+")
    check_all(
        diff,
        ("CONFIG", "RESETSTAT"), ("SET", "k", "v"), ("GET", "k"), ("GET", "k"), ("GET",), ("LPUSH", "k", "x"),
        ("NOSUCHCOMMAND",), ("CLIENT", "NOSUCH"), ("CLIENT", "ID", "x"), ("CLIENT", "SETNAME", "bad name"),
        ("SELECT", "99"), ("HELLO", "9"), ("INCR", "k"), ("CONFIG", "GET", "hz"),
    )
    a, b = diff.both("INFO", "commandstats")
    lines = lambda f: sorted(usec.sub(b"usec=*", info_text(f)).split(b"\r\n"))  # noqa: E731
    assert lines(a) == lines(b)
    diff.check("INFO", "errorstats", normalize=False)
    assert b"cmdstat_get:calls=2," in a and b"rejected_calls=1,failed_calls=0" in a


def test_info_latencystats_lists_called_commands(diff):
    check_all(diff, ("CONFIG", "RESETSTAT"), ("SET", "k", "v"), ("GET", "k"))
    a, b = diff.both("INFO", "latencystats")
    names = lambda t: sorted(re.findall(rb"latency_percentiles_usec_([^:]+):p50=", t))  # noqa: E731
    assert names(a) == names(b)
    assert re.search(rb"latency_percentiles_usec_get:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r\n", a)


def test_info_with_redis_cli(diff):
    for port in (diff.shardis_port, diff.redis_port):
        out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "server"], capture_output=True, text=True,
                             timeout=10).stdout
        assert "# Server" in out and "redis_version:7.0.15" in out and "redis_mode:standalone" in out
        out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "keyspace"], capture_output=True, text=True,
                             timeout=10).stdout
        assert out.strip() == "# Keyspace"


# --- CONFIG ------------------------------------------------------------------------------------------


def test_config_errors_and_single_values(diff):
    check_all(
        diff,
        ("CONFIG",), ("CONFIG", "FOO"), ("CONFIG", "HELP"), ("CONFIG", "GET"), ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "GET", "HZ"), ("CONFIG", "GET", "slave-read-only"), ("CONFIG", "GET", "nonexist"),
        ("CONFIG", "GET", "maxmemory", "maxmemory"), ("CONFIG", "SET", "hz"), ("CONFIG", "SET", "hz", "20", "maxmemory"),
        ("CONFIG", "SET", "hz", "x"), ("CONFIG", "SET", "hz", "20", "nonexist", "1"), ("CONFIG", "SET", "hz", "20", "hz", "30"),
        ("CONFIG", "SET", "hz", "10", "HZ", "11"), ("CONFIG", "SET", "daemonize", "yes"), ("CONFIG", "SET", "pidfile", "x"),
        ("CONFIG", "SET", "hz", "11", "maxmemory", "abc"), ("CONFIG", "GET", "hz"),
        ("CONFIG", "SET", "maxmemory-policy", "foo"), ("CONFIG", "SET", "save", "1 x"), ("CONFIG", "SET", "port", "x"),
        ("CONFIG", "SET", "slave-read-only", "x"), ("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "SET", "dbfilename", "x.rdb"),
        ("CONFIG", "SET", "daemonize", "yes", "nonexist", "1"), ("CONFIG", "SET", "nonexist", "1", "daemonize", "yes"),
        ("CONFIG", "SET", "hz", "x", "daemonize", "yes"), ("CONFIG", "SET", "hz", "x", "nonexist", "1"),
        ("CONFIG", "SET", "enable-protected-configs", "yes"), ("CONFIG", "SET", "replicaof", "127.0.0.1 1"),
        ("CONFIG", "SET", "maxmemory", "1gb", "hz", "x"), ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "hz", "15", "maxmemory-policy", "allkeys-lru"), ("CONFIG", "GET", "hz"),
        ("CONFIG", "GET", "maxmemory-policy"), ("CONFIG", "SET", "HZ", "10", "maxmemory-policy", "NOEVICTION"),
        ("CONFIG", "GET", "maxmemory-policy"), ("CONFIG", "RESETSTAT", "x"), ("CONFIG", "REWRITE", "x"),
        ("HELLO", "3"), ("CONFIG", "GET", "hz"), ("CONFIG", "GET", "nonexist"),
    )


def test_config_get_patterns(diff):
    """Several names and globs in one CONFIG GET; Redis answers in hash order, so compare as maps."""
    for args in [("maxmemory*",), ("*max-*-entries*",), ("hz", "maxmemory", "hz"), ("slave*",), ("SLAVE*", "hz"),
                 ("*read-only",), ("notify-keyspace-events", "save", "appendonly", "databases")]:
        a, b = diff.both("CONFIG", "GET", *args)
        assert pairs_sorted(a) == pairs_sorted(b), args


def test_config_set_is_all_or_nothing(diff):
    for conn in (diff.shardis, diff.redis):
        before = conn.request("CONFIG", "GET", "hz") + conn.request("CONFIG", "GET", "maxmemory-policy")
        reply = conn.request("CONFIG", "SET", "hz", "40", "maxmemory-policy", "allkeys-lru", "maxmemory", "bad")
        assert reply.startswith(b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory')")
        after = conn.request("CONFIG", "GET", "hz") + conn.request("CONFIG", "GET", "maxmemory-policy")
        assert before == after


def test_config_set_applies_the_change(diff):
    """A CONFIG SET takes effect: the slow log threshold starts logging at once."""
    check_all(diff, ("SLOWLOG", "RESET"), ("CONFIG", "SET", "slowlog-log-slower-than", "0"), ("PING",),
              ("SLOWLOG", "LEN"), ("CONFIG", "SET", "slowlog-log-slower-than", "-1"), ("SLOWLOG", "RESET"),
              ("PING",), ("SLOWLOG", "LEN"), ("CONFIG", "SET", "slowlog-log-slower-than", "10000"))


def test_config_rewrite(shardis_factory, redis_factory):
    for proc in (shardis_factory(["hz 12", "# a comment to keep"]), redis_factory(["hz 12", "# a comment to keep"])):
        with RawConnection(proc.port) as c:
            assert c.request("CONFIG", "SET", "hz", "33", "maxmemory", "2mb") == b"+OK\r\n"
            assert c.request("CONFIG", "REWRITE") == b"+OK\r\n"
        text = proc.conf_path.read_text()
        assert "hz 33" in text and "hz 12" not in text and "# a comment to keep" in text
        assert re.search(r"^maxmemory (2mb|2097152)$", text, re.M), text


def test_config_rewrite_without_a_file(diff):
    """The harness starts both servers from a file, so this asks a server started without one."""
    check_all(diff, ("CONFIG", "REWRITE", "extra"))


def test_config_resetstat(diff):
    usec = re.compile(rb"usec=\d+,usec_per_call=[\d.]+")
    check_all(diff, ("GET", "x"), ("NOSUCH",), ("CONFIG", "RESETSTAT"))
    a, b = diff.both("INFO", "commandstats")
    assert usec.sub(b"*", info_text(a)) == usec.sub(b"*", info_text(b))
    assert b"cmdstat_get" not in a
    a, b = diff.both("INFO", "stats")
    sa, sb = dict(info_sections(info_text(a))["Stats"]), dict(info_sections(info_text(b))["Stats"])
    for name in ("keyspace_misses", "total_error_replies", "expired_keys", "rejected_connections"):
        assert sa[name] == sb[name] == "0", name
    diff.check("INFO", "errorstats")


# --- whole-keyspace commands -------------------------------------------------------------------------


def test_dbsize_flush_swapdb(diff):
    check_all(
        diff,
        ("DBSIZE",), ("DBSIZE", "x"), ("SET", "a", "1"), ("SET", "b", "2"), ("DBSIZE",),
        ("FLUSHDB", "x"), ("FLUSHDB", "ASYNC", "x"), ("FLUSHALL", "X"), ("FLUSHALL", "ASYNC", "SYNC"),
        ("SELECT", "1"), ("SET", "c", "3"), ("DBSIZE",), ("FLUSHDB", "sync"), ("DBSIZE",), ("SELECT", "0"),
        ("DBSIZE",), ("SET", "d", "4"), ("SELECT", "2"), ("SET", "e", "5"), ("SELECT", "0"),
        ("SWAPDB", "0", "x"), ("SWAPDB", "x", "1"), ("SWAPDB", "0", "16"), ("SWAPDB", "-1", "0"), ("SWAPDB", "99", "0"),
        ("SWAPDB", "2147483648", "1"), ("SWAPDB", "0", "1", "2"), ("SWAPDB", "0", "0"),
        ("SWAPDB", "0", "2"), ("GET", "e"), ("GET", "a"), ("SELECT", "2"), ("GET", "a"), ("SELECT", "0"),
        ("FLUSHALL", "async"), ("DBSIZE",), ("SELECT", "2"), ("DBSIZE",), ("FLUSHALL",),
    )


def test_flushall_and_swapdb_break_watch(diff):
    check_all(
        diff,
        ("SET", "w", "1"), ("WATCH", "w"), ("FLUSHALL",), ("MULTI",), ("PING",), ("EXEC",),
        ("SET", "w", "1"), ("WATCH", "w"), ("FLUSHDB",), ("MULTI",), ("PING",), ("EXEC",),
        ("SELECT", "1"), ("SET", "w", "2"), ("SELECT", "0"), ("WATCH", "w"), ("SWAPDB", "0", "1"),
        ("MULTI",), ("GET", "w"), ("EXEC",),
    )


def test_swapdb_serves_clients_blocked_on_the_new_keys(diff):
    for port in (diff.shardis_port, diff.redis_port):
        admin, waiter = RawConnection(port), RawConnection(port)
        admin.request("SELECT", "1")
        admin.request("RPUSH", "queue", "job")
        waiter.send_command("BLPOP", "queue", "5")
        time.sleep(0.2)
        assert admin.request("SWAPDB", "0", "1") == b"+OK\r\n"
        assert waiter.read_frame(timeout=5) == b"*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n"
        admin.close()
        waiter.close()


def test_small_server_queries(diff):
    check_all(
        diff,
        ("TIME",), ("TIME", "x"), ("LASTSAVE", "x"), ("ROLE",), ("ROLE", "x"),
        ("LOLWUT", "VERSION", "1"), ("LOLWUT", "VERSION", "x"), ("LOLWUT", "foo"), ("LOLWUT", "VERSION"),
        ("LOLWUT",), ("LOLWUT", "VERSION", "7"), ("LOLWUT", "VERSION", "56"),
        ("HELLO", "3"), ("ROLE",), ("LOLWUT",),
    )
    for conn in (diff.shardis, diff.redis):
        secs, usecs = parse(conn.request("TIME"))
        assert abs(int(secs) + int(usecs) / 1e6 - time.time()) < 2
        assert abs(int(conn.request("LASTSAVE")[1:-2]) - time.time()) < 3600


# --- COMMAND -------------------------------------------------------------------------------------------

MY_COMMANDS = (
    "ping echo quit hello auth select reset client info config dbsize flushdb flushall swapdb time lastsave "
    "role lolwut monitor shutdown command debug slowlog latency memory function"
).split()
NOT_IMPLEMENTED_SUBCOMMANDS = {
    b"client|caching", b"client|getredir", b"client|tracking", b"client|trackinginfo",
    b"function|load", b"function|restore",
}


# Subcommands of these containers declared by other families (client|unblock: the lists family).
OWNED_ELSEWHERE = {b"client|unblock"}


def _info_key(info):
    if info is None:
        return None
    name, arity, flags, first, last, step, acl, tips, specs, subs = info
    subs = sorted((_info_key(s) for s in subs if s[0] not in NOT_IMPLEMENTED_SUBCOMMANDS), key=repr)
    return (name, arity, tuple(flags), first, last, step, tuple(acl), tuple(tips), repr(specs), tuple(subs))


@pytest.mark.parametrize("protocol", ["2", "3"])
def test_command_info_of_these_families_matches_redis(diff, protocol):
    diff.check("HELLO", protocol)
    for name in MY_COMMANDS:
        a, b = diff.both("COMMAND", "INFO", name)
        assert _info_key(parse(a)[0]) == _info_key(parse(b)[0]), name


def test_command_info_legacy_fields_of_every_command(diff):
    """Arity, flags, first/last/step keys and ACL categories of every command shardis has, as Redis."""
    names = parse(diff.shardis.request("COMMAND", "LIST"))
    assert len(names) > 100
    for name in names:
        a, b = diff.both("COMMAND", "INFO", name)
        theirs = parse(b)[0]
        if theirs is None:
            continue  # a command newer than Redis 7.0
        assert parse(a)[0][:7] == theirs[:7], name


def _as_dict(x):
    return x if isinstance(x, dict) else dict(zip(x[::2], x[1::2]))


def _docs(frame: bytes) -> dict:
    """COMMAND DOCS as {name: doc}, subcommands flattened (Redis lists them in hash order)."""
    out = {}
    for name, doc in _as_dict(parse(frame)).items():
        d = _as_dict(doc)
        subs = d.pop(b"subcommands", None)
        out[name] = d
        for sname, sdoc in _as_dict(subs or {}).items():
            if sname not in NOT_IMPLEMENTED_SUBCOMMANDS:
                out[sname] = _as_dict(sdoc)
    return out


@pytest.mark.parametrize("protocol", ["2", "3"])
def test_command_docs_of_these_families_match_redis(diff, protocol):
    """Summary, since, group, complexity, history, doc flags and the full argument specs."""
    diff.check("HELLO", protocol)
    a, b = diff.both("COMMAND", "DOCS", *MY_COMMANDS, "nosuchcommand")
    ours, theirs = _docs(a), _docs(b)
    assert ours.keys() == theirs.keys()
    for name in theirs:
        if name in OWNED_ELSEWHERE:
            ours[name].pop(b"arguments", None), theirs[name].pop(b"arguments", None)
        assert ours[name] == theirs[name], name
    for name in ("ping", "select", "info", "swapdb", "shutdown", "flushall"):
        diff.check("COMMAND", "DOCS", name)


def test_command_subcommands(diff):
    check_all(
        diff,
        ("COMMAND", "HELP"), ("COMMAND", "FOO"), ("COMMAND", "COUNT", "x"),
        ("COMMAND", "INFO", "nonexist"), ("COMMAND", "INFO", "get", "nonexist", "client|id", "get|x", "a|b|c"),
        ("COMMAND", "DOCS", "nonexist"), ("COMMAND", "LIST", "FOO"), ("COMMAND", "LIST", "FILTERBY", "FOO", "x"),
        ("COMMAND", "LIST", "FILTERBY", "MODULE", "x"), ("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nonexist"),
        ("COMMAND", "LIST", "FILTERBY", "PATTERN", "xyz*"), ("COMMAND", "LIST", "FILTERBY"),
        ("COMMAND", "GETKEYS"), ("COMMAND", "GETKEYS", "get"), ("COMMAND", "GETKEYS", "get", "a"),
        ("COMMAND", "GETKEYS", "get", "a", "b"), ("COMMAND", "GETKEYS", "ping", "x"), ("COMMAND", "GETKEYS", "nonexist", "x"),
        ("COMMAND", "GETKEYS", "client", "list"), ("COMMAND", "GETKEYS", "client", "foo"),
        ("COMMAND", "GETKEYS", "mget", "a", "b", "c"), ("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"),
        ("COMMAND", "GETKEYS", "memory", "usage", "k"), ("COMMAND", "GETKEYS", "GET", "x"),
        ("COMMAND", "GETKEYSANDFLAGS", "get", "a"), ("COMMAND", "GETKEYSANDFLAGS", "memory", "usage", "k"),
        ("HELLO", "3"), ("COMMAND", "GETKEYSANDFLAGS", "get", "a"), ("COMMAND", "INFO", "get", "nonexist"),
    )


def test_command_count_list_and_filters_agree_with_the_table(diff):
    count = int(diff.shardis.request("COMMAND", "COUNT")[1:-2])
    everything = parse(diff.shardis.request("COMMAND"))
    assert len(everything) == count
    names = set(parse(diff.shardis.request("COMMAND", "LIST")))
    assert {e[0] for e in everything} <= names
    for cat, pattern in (("connection", None), ("keyspace", None), (None, "cl*"), (None, "*|*")):
        if cat:
            a, b = diff.both("COMMAND", "LIST", "FILTERBY", "ACLCAT", cat)
        else:
            a, b = diff.both("COMMAND", "LIST", "FILTERBY", "PATTERN", pattern)
        ours, theirs = set(parse(a)), set(parse(b))
        known = set(parse(diff.redis.request("COMMAND", "LIST")))  # shardis may have commands newer than 7.0
        assert ours & known == theirs & names, (cat, pattern, (ours & known) ^ (theirs & names))


# --- DEBUG ----------------------------------------------------------------------------------------------


def test_debug_replies(diff):
    check_all(
        diff,
        ("DEBUG",), ("DEBUG", "HELP"), ("DEBUG", "FOO"), ("DEBUG", "OBJECT"), ("DEBUG", "OBJECT", "nokey"),
        ("DEBUG", "OBJECT", "a", "b"), ("DEBUG", "SLEEP"), ("DEBUG", "SLEEP", "0"), ("DEBUG", "SLEEP", "x"),
        ("DEBUG", "SLEEP", "-1"), ("DEBUG", "SLEEP", "0.1", "b"), ("DEBUG", "SET-ACTIVE-EXPIRE"),
        ("DEBUG", "SET-ACTIVE-EXPIRE", "x"), ("DEBUG", "SET-ACTIVE-EXPIRE", "1"), ("DEBUG", "CHANGE-REPL-ID"),
        ("DEBUG", "ERROR", "foo bar"), ("DEBUG", "ERROR", "WRONGTYPE custom"), ("DEBUG", "LOG", "hello log"),
        ("DEBUG", "DIGEST"), ("DEBUG", "DIGEST-VALUE"), ("DEBUG", "DIGEST-VALUE", "nokey"),
        ("DEBUG", "PROTOCOL", "x"),
    )


@pytest.mark.parametrize("protocol", ["2", "3"])
def test_debug_protocol(diff, protocol):
    diff.check("HELLO", protocol)
    for kind in ("string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
                 "verbatim", "true", "false", "STRING"):
        diff.check("DEBUG", "PROTOCOL", kind)
    diff.check("PING")


def test_debug_digest_is_redis_signature(diff):
    fill_every_type(diff.shardis)
    fill_every_type(diff.redis)
    diff.check("DEBUG", "DIGEST")
    diff.check("DEBUG", "DIGEST-VALUE", "s:embstr", "s:int", "s:raw", "s:appended", "s:ttl", "l", "h:lp", "h:ht",
               "set:int", "set:ht", "z:lp", "z:sl", "nokey")
    assert diff.shardis.request("DEBUG", "DIGEST") != b"+" + b"0" * 40 + b"\r\n"
    check_all(diff, ("PERSIST", "s:ttl"), ("DEBUG", "DIGEST"), ("LPUSH", "l", "new"), ("DEBUG", "DIGEST"))


def test_debug_object(diff):
    fill_every_type(diff.shardis)
    fill_every_type(diff.redis)
    addr = re.compile(rb"Value at:0x[0-9a-f]+ ")
    idle = re.compile(rb"lru:\d+ lru_seconds_idle:\d+")
    # (s:raw, 100 bytes, is left out: its serializedlength depends on the LZF compressor's choices)
    for key in ("s:embstr", "s:appended", "l", "h:lp", "h:ht", "set:int", "set:ht", "z:lp", "z:sl", "s:int"):
        a, b = diff.both("DEBUG", "OBJECT", key)
        norm = lambda f: idle.sub(b"lru:* lru_seconds_idle:*", addr.sub(b"Value at:* ", f))  # noqa: E731
        assert norm(a) == norm(b), key


def test_debug_is_refused_unless_enabled(shardis_factory, redis_factory):
    s, r = shardis_factory(), redis_factory()
    d = Differential(s.port, r.port)
    check_all(d, ("DEBUG", "HELP"), ("DEBUG", "SLEEP", "0"), ("DEBUG",))
    d.close()


# --- SLOWLOG ----------------------------------------------------------------------------------------------


def test_slowlog(diff):
    check_all(
        diff,
        # disabled first: on a loaded machine a command may exceed the default 10 ms
        ("CONFIG", "SET", "slowlog-log-slower-than", "-1"),
        ("SLOWLOG",), ("SLOWLOG", "HELP"), ("SLOWLOG", "FOO"), ("SLOWLOG", "LEN", "x"), ("SLOWLOG", "RESET", "x"),
        ("SLOWLOG", "GET", "x"), ("SLOWLOG", "GET", "-2"), ("SLOWLOG", "GET", "1", "2"), ("SLOWLOG", "RESET"),
        ("SLOWLOG", "GET"), ("SLOWLOG", "GET", "-1"), ("SLOWLOG", "LEN"),
    )
    entry = re.compile(rb"\*6\r\n:(\d+)\r\n:(\d+)\r\n:(\d+)\r\n")
    addr = re.compile(rb"\$\d+\r\n127\.0\.0\.1:\d+\r\n")

    def norm(frame):
        return addr.sub(b"<addr>", entry.sub(lambda m: b"*6\r\n:" + m.group(1) + b"\r\n<t><d>", frame))

    check_all(diff, ("CONFIG", "SET", "slowlog-log-slower-than", "0"), ("CLIENT", "SETNAME", "me"),
              ("SET", "k", "x" * 200), ("ECHO", *["a"] * 40))
    for args in (("SLOWLOG", "GET", "1"), ("SLOWLOG", "GET", "2"), ("SLOWLOG", "GET", "4")):
        a, b = diff.both(*args)
        assert norm(a) == norm(b), args
    check_all(diff, ("SLOWLOG", "LEN"), ("SLOWLOG", "RESET"), ("CONFIG", "SET", "slowlog-log-slower-than", "10000"),
              ("SLOWLOG", "LEN"))


def test_slowlog_max_len(diff):
    check_all(diff, ("CONFIG", "SET", "slowlog-max-len", "3"), ("CONFIG", "SET", "slowlog-log-slower-than", "0"))
    for i in range(10):
        diff.check("ECHO", str(i))
    check_all(diff, ("CONFIG", "SET", "slowlog-log-slower-than", "10000"), ("SLOWLOG", "LEN"),
              ("CONFIG", "SET", "slowlog-max-len", "128"))


# --- LATENCY, MEMORY, FUNCTION ------------------------------------------------------------------------------


def test_latency(diff):
    check_all(
        diff,
        ("LATENCY",), ("LATENCY", "HELP"), ("LATENCY", "FOO"), ("LATENCY", "LATEST"), ("LATENCY", "LATEST", "x"),
        ("LATENCY", "RESET"), ("LATENCY", "RESET", "command", "x"), ("LATENCY", "HISTORY", "command"),
        ("LATENCY", "HISTORY"), ("LATENCY", "GRAPH", "command"), ("LATENCY", "DOCTOR"),
        ("CONFIG", "SET", "latency-monitor-threshold", "100"), ("LATENCY", "DOCTOR"),
        ("CONFIG", "SET", "latency-monitor-threshold", "0"), ("HELLO", "3"), ("LATENCY", "DOCTOR"),
        ("LATENCY", "LATEST"), ("LATENCY", "HISTOGRAM", "nosuchcommand"),
    )


@pytest.mark.parametrize("protocol", ["2", "3"])
def test_latency_histogram_shape(diff, protocol):
    check_all(diff, ("HELLO", protocol), ("CONFIG", "RESETSTAT"), ("SET", "k", "v"), ("GET", "k"), ("GET", "k"),
              ("CLIENT", "ID"))
    for args in (("set", "get"), ("client",), ("client|id", "nonexist")):
        a, b = diff.both("LATENCY", "HISTOGRAM", *args)
        pa, pb = parse(a), parse(b)
        if protocol == "2":
            pa, pb = dict(zip(pa[::2], pa[1::2])), dict(zip(pb[::2], pb[1::2]))
        assert sorted(pa) == sorted(pb), args
        for name, entry in pb.items():
            ours = pa[name]
            if protocol == "2":
                ours, entry = dict(zip(ours[::2], ours[1::2])), dict(zip(entry[::2], entry[1::2]))
            assert ours[b"calls"] == entry[b"calls"], name
            hist = ours[b"histogram_usec"]
            counts = list(hist.values()) if protocol == "3" else hist[1::2]
            assert counts == sorted(counts) and counts[-1] == ours[b"calls"], name


def test_memory(diff):
    check_all(
        diff,
        ("MEMORY",), ("MEMORY", "HELP"), ("MEMORY", "FOO"), ("MEMORY", "USAGE"), ("MEMORY", "USAGE", "nokey"),
        ("SET", "foo", "bar"), ("MEMORY", "USAGE", "foo", "SAMPLES"), ("MEMORY", "USAGE", "foo", "SAMPLES", "x"),
        ("MEMORY", "USAGE", "foo", "SAMPLES", "-1"), ("MEMORY", "USAGE", "foo", "X"), ("MEMORY", "PURGE"),
        ("MEMORY", "DOCTOR"), ("MEMORY", "STATS", "x"), ("HELLO", "3"), ("MEMORY", "USAGE", "nokey"), ("MEMORY", "DOCTOR"),
    )


def test_memory_usage_of_strings_is_redis_figure(diff):
    for key, value in [("a", "1"), ("a", "12345678901"), ("a", "-5"), ("a", "abc"), ("abcdefghij", "abc"),
                       ("k" * 40, "v" * 44), ("a", "x" * 45), ("a", "x" * 100), ("a", "x" * 300), ("a", "y" * 5000),
                       ("long-key-" * 10, "value"), ("a", "")]:
        diff.check("SET", key, value)
        diff.check("MEMORY", "USAGE", key)
        diff.check("MEMORY", "USAGE", key, "SAMPLES", "0")


def test_memory_usage_of_containers_is_close_to_redis(diff):
    fill_every_type(diff.shardis)
    fill_every_type(diff.redis)
    for key in ("l", "h:lp", "h:ht", "set:int", "set:ht", "z:lp", "z:sl", "s:appended"):
        a, b = diff.both("MEMORY", "USAGE", key)
        ours, theirs = int(a[1:-2]), int(b[1:-2])
        assert abs(ours - theirs) <= max(32, theirs // 10), (key, ours, theirs)


@pytest.mark.parametrize("protocol", [2, 3])
def test_memory_stats(diff, protocol):
    fill_every_type(diff.shardis)
    fill_every_type(diff.redis)
    for port in (diff.shardis_port,):
        stats = redis.Redis(port=port, protocol=protocol).memory_stats()
        theirs = redis.Redis(port=diff.redis_port, protocol=protocol).memory_stats()
        assert list(stats) == list(theirs)
        assert stats["keys.count"] == theirs["keys.count"] == 13
        assert stats["total.allocated"] > 0 and stats["peak.allocated"] >= stats["total.allocated"]
        assert set(stats["db.0"]) == set(theirs["db.0"])
        assert 0.0 <= float(stats["dataset.percentage"]) <= 100.0


def test_function_without_libraries(diff):
    check_all(
        diff,
        ("FUNCTION",), ("FUNCTION", "HELP"), ("FUNCTION", "FOO"), ("FUNCTION", "LIST"), ("FUNCTION", "LIST", "WITHCODE"),
        ("FUNCTION", "LIST", "LIBRARYNAME", "x"), ("FUNCTION", "LIST", "LIBRARYNAME", "x", "WITHCODE"),
        ("FUNCTION", "LIST", "FOO"), ("FUNCTION", "LIST", "LIBRARYNAME"), ("FUNCTION", "LIST", "WITHCODE", "WITHCODE"),
        ("FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"), ("FUNCTION", "FLUSH"), ("FUNCTION", "FLUSH", "ASYNC"),
        ("FUNCTION", "FLUSH", "sync"), ("FUNCTION", "FLUSH", "X"), ("FUNCTION", "FLUSH", "A", "B"), ("FUNCTION", "STATS"),
        ("FUNCTION", "STATS", "x"), ("FUNCTION", "DUMP"), ("FUNCTION", "DELETE", "x"), ("FUNCTION", "KILL"),
        ("HELLO", "3"), ("FUNCTION", "STATS"), ("FUNCTION", "LIST"),
    )


# --- SHUTDOWN ------------------------------------------------------------------------------------------------


def test_shutdown_errors(diff):
    check_all(
        diff,
        ("SHUTDOWN", "ABORT"), ("SHUTDOWN", "FOO"), ("SHUTDOWN", "NOSAVE", "SAVE"), ("SHUTDOWN", "ABORT", "NOW"),
        ("SHUTDOWN", "ABORT", "FORCE"), ("MULTI",), ("SHUTDOWN",), ("EXEC",),
    )


def test_shutdown_nosave_exits(shardis_factory):
    node = shardis_factory()
    c = RawConnection(node.port)
    c.send_command("SHUTDOWN", "NOSAVE")
    assert not c.is_open(wait=5.0)
    assert node.wait(10) == 0
    assert "User requested shutdown" in node.log_text()


def test_shutdown_saves_when_save_points_are_set(shardis_factory):
    node = shardis_factory(["save 3600 1"])
    with RawConnection(node.port) as c:
        assert c.request("SET", "k", "v") == b"+OK\r\n"
        c.send_command("SHUTDOWN")
        assert not c.is_open(wait=5.0)
    assert node.wait(10) == 0
    assert (node.dir / "dump.rdb").exists()


# --- clients ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_server_commands(diff, protocol):
    fill_every_type(diff.shardis)
    r = redis.Redis(port=diff.shardis_port, protocol=protocol)
    info = r.info()
    assert info["redis_version"] == "7.0.15" and info["role"] == "master" and info["db0"]["keys"] == 12
    assert r.info("keyspace")["db3"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
    assert r.dbsize() == 12
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.config_set("hz", 25) is True and r.config_get("hz") == {"hz": "25"}
    commands = r.command()
    assert commands["get"]["arity"] == 2 and "readonly" in commands["get"]["flags"]
    assert r.command_count() == len(commands)
    assert [k if isinstance(k, str) else k.decode() for k in r.command_getkeys("MSET", "a", 1, "b", 2)] == ["a", "b"]
    assert isinstance(r.time()[0], int) and r.lastsave() is not None
    assert r.role()[0] in (b"master", "master")
    obj = r.debug_object("s:embstr")  # redis-py parses it in RESP2 only
    assert (obj["encoding"] in (b"embstr", "embstr")) if isinstance(obj, dict) else b" encoding:embstr " in obj
    r.config_set("slowlog-log-slower-than", 0)
    r.set("k", "v")
    log = r.slowlog_get(1)
    assert log and log[0]["command"] in (b"SET k v", "SET k v")
    assert r.slowlog_len() >= 1 and r.slowlog_reset() is True
    r.config_set("slowlog-log-slower-than", 10000)
    assert r.memory_usage("s:embstr") == 64 + 8  # robj+embstr (32) + key sds (16) + dict entry (24)
    assert r.function_list() == [] and r.function_flush() is True
    assert r.swapdb(0, 3) is True and r.dbsize() == 1
    assert r.flushall() is True and r.dbsize() == 0


def test_redis_cli(diff):
    def cli(port, *args):
        return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10).stdout

    for args in [("COMMAND", "COUNT"), ("--no-raw", "CONFIG", "GET", "maxmemory"), ("DBSIZE",), ("ROLE",),
                 ("CONFIG", "SET", "hz", "10"), ("LATENCY", "DOCTOR"), ("FUNCTION", "LIST"), ("SLOWLOG", "HELP")]:
        ours, theirs = cli(diff.shardis_port, *args), cli(diff.redis_port, *args)
        if args[0] == "COMMAND":
            assert int(ours) > 100
        else:
            assert ours == theirs, args
    out = cli(diff.shardis_port, "CLIENT", "LIST")
    assert re.match(r"id=\d+ addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ name= ", out)


def test_maxmemory_refuses_writes_and_recovers_after_flushall(shardis_node):
    """CONFIG SET maxmemory applies at once (also to the fast path) and the estimate drops with the data."""
    r = redis.Redis(port=shardis_node.port)
    used = r.info("memory")["used_memory"]
    assert r.config_set("maxmemory", used + 3_000_000) is True
    written = 0
    with pytest.raises(redis.exceptions.OutOfMemoryError, match="command not allowed when used memory > 'maxmemory'"):
        for i in range(200_000):  # bounded: ~50 MB if the limit never triggered
            r.set(f"key:{i}", "x" * 100)
            written += 1
    assert 1000 < written < 100_000
    assert r.get("key:1") == b"x" * 100  # reads still work
    assert r.flushall() is True
    assert r.set("after", "ok") is True
    assert r.info("memory")["used_memory"] < used + 3_000_000
    r.config_set("maxmemory", 0)
