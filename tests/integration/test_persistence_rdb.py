"""RDB snapshots on real shardis processes: round trips, BGSAVE, save points, shutdown, loading.

* property tests: keyspaces built through commands (every type, both
  encodings, TTLs, several databases) read back identically -- values,
  OBJECT ENCODING, expire times -- after DEBUG RELOAD and after SAVE and a
  restart of the process;
* BGSAVE/SAVE/BGREWRITEAOF answer as redis-server 7.0 does while a child
  runs, and INFO persistence follows the child;
* save points start a BGSAVE; SHUTDOWN [SAVE|NOSAVE], SIGTERM and FLUSHALL
  save as Redis does; a failing BGSAVE turns writes into MISCONF;
* a corrupt or truncated dump.rdb stops the node at start-up with the file
  name and byte offset in its log; while a large file loads, clients get
  -LOADING.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.persistence.rdb import write_rdb
from shardis.testing import RawConnection, ServerStartError, ShardisProcess, observe_keys

redis = pytest.importorskip("redis")

DEBUG = "enable-debug-command yes"
WAIT = 60.0  # s: bound of every wait for a child or a file
FUTURE_MS = 4102444800000  # 2100-01-01


def info(proc) -> dict:
    text = proc.request("INFO", "persistence").decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def wait_info(proc, field: str, value: str, timeout: float = WAIT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        i = info(proc)
        if i.get(field) == value:
            return i
        assert time.monotonic() < deadline, f"{field} never became {value}: {i}"
        time.sleep(0.02)


# --- generated keyspaces ------------------------------------------------------------------------

members = st.one_of(
    st.binary(min_size=1, max_size=10),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: b"%d" % i),
    st.binary(min_size=65, max_size=80),
)


@st.composite
def entries(draw):
    kind = draw(st.sampled_from(["string", "list", "set", "zset", "hash"]))
    big = draw(st.booleans())  # past the compact-encoding thresholds
    if kind == "string":
        v = draw(st.one_of(st.binary(max_size=60), st.integers().map(lambda i: b"%d" % i),
                           st.just(b"z" * 300)))
    elif kind == "list":
        v = draw(st.lists(members, min_size=1, max_size=8)) + ([b"x" * 9000] if big else [])
    elif kind == "set":
        v = draw(st.sets(members, min_size=1, max_size=8)) | ({b"%d" % i for i in range(520)} if big else set())
    elif kind == "zset":
        v = {m: draw(st.floats(allow_nan=False)) for m in draw(st.lists(members, min_size=1, max_size=8))}
        if big:
            v.update({b"m%d" % i: float(i) for i in range(130)})
    else:
        v = draw(st.dictionaries(members, members, min_size=1, max_size=8))
        if big:
            v.update({b"f%d" % i: b"v" for i in range(520)})
    ttl = draw(st.one_of(st.none(), st.integers(min_value=10**6, max_value=10**9)))
    return kind, v, ttl


keyspaces = st.dictionaries(st.tuples(st.integers(0, 2), st.binary(min_size=1, max_size=12)), entries(),
                            min_size=1, max_size=10)


def apply(port: int, keyspace) -> None:
    now = int(time.time() * 1000)
    for db in range(3):
        r = redis.Redis(host="127.0.0.1", port=port, db=db, socket_timeout=30)
        p = r.pipeline(transaction=False)
        for (kdb, key), (kind, v, ttl) in keyspace.items():
            if kdb != db:
                continue
            if kind == "string":
                p.set(key, v)
            elif kind == "list":
                p.rpush(key, *v)
            elif kind == "set":
                p.sadd(key, *v)
            elif kind == "zset":
                p.zadd(key, v)
            else:
                p.hset(key, mapping=v)
            if ttl is not None:
                p.pexpireat(key, now + ttl)
        p.execute()
        r.close()


@pytest.fixture(scope="module")
def reload_node():
    proc = ShardisProcess([DEBUG]).start()
    yield proc
    proc.cleanup()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(keyspaces)
def test_debug_reload_round_trips_generated_keyspaces(reload_node, keyspace):
    assert reload_node.request("FLUSHALL") == b"+OK\r\n"
    apply(reload_node.port, keyspace)
    before = observe_keys(reload_node.port)
    assert len(before) == len(keyspace)
    assert reload_node.request("DEBUG", "RELOAD") == b"+OK\r\n"
    assert observe_keys(reload_node.port) == before


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow, HealthCheck.data_too_large])
@given(keyspaces)
def test_save_and_restart_round_trips_generated_keyspaces(tmp_path_factory, keyspace):
    proc = ShardisProcess(dir=tmp_path_factory.mktemp("restart")).start()
    try:
        apply(proc.port, keyspace)
        before = observe_keys(proc.port)
        assert proc.request("SAVE") == b"+OK\r\n"
        proc.restart()
        assert observe_keys(proc.port) == before
    finally:
        proc.cleanup()


def test_debug_reload_options(reload_node):
    reload_node.request("FLUSHALL")
    reload_node.request("SET", "a", "1")
    assert reload_node.request("DEBUG", "RELOAD", "BOGUS") == (
        b"-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n")
    assert reload_node.request("SAVE") == b"+OK\r\n"
    reload_node.request("SET", "b", "2")
    reload_node.request("SET", "a", "changed")
    # NOSAVE: the file on disk (a=1, no b) replaces memory
    assert reload_node.request("DEBUG", "RELOAD", "NOSAVE") == b"+OK\r\n"
    assert reload_node.request("MGET", "a", "b") == b"*2\r\n$1\r\n1\r\n$-1\r\n"
    reload_node.request("SET", "c", "3")
    # MERGE NOFLUSH NOSAVE: the file is merged into memory
    assert reload_node.request("DEBUG", "RELOAD", "MERGE", "NOFLUSH", "NOSAVE") == b"+OK\r\n"
    assert reload_node.request("MGET", "a", "c") == b"*2\r\n$1\r\n1\r\n$1\r\n3\r\n"
    # NOFLUSH without MERGE: duplicate keys are an error, as in Redis
    assert reload_node.request("DEBUG", "RELOAD", "NOFLUSH", "NOSAVE") == (
        b"-ERR Error trying to load the RDB dump, check server logs.\r\n")


# --- BGSAVE and friends -------------------------------------------------------------------------


@pytest.fixture
def big_node(shardis_factory):
    """A node holding enough data that a background child runs for a few seconds."""
    proc = shardis_factory([DEBUG, "rdbcompression yes"])
    assert proc.request("DEBUG", "POPULATE", "150000", "key", "100") == b"+OK\r\n"
    return proc


def test_bgsave_replies_while_a_child_runs(big_node):
    p = big_node
    assert p.request("BGSAVE", "foo") == b"-ERR syntax error\r\n"
    assert p.request("BGSAVE", "SCHEDULE", "x") == b"-ERR syntax error\r\n"
    assert p.request("BGSAVE") == b"+Background saving started\r\n"
    i = info(p)
    assert i["rdb_bgsave_in_progress"] == "1" and int(i["rdb_current_bgsave_time_sec"]) >= 0
    assert i["current_save_keys_total"] == "150000"
    assert p.request("BGSAVE") == b"-ERR Background save already in progress\r\n"
    assert p.request("SAVE") == b"-ERR Background save already in progress\r\n"
    assert p.request("BGREWRITEAOF") == b"+Background append only file rewriting scheduled\r\n"
    assert info(p)["aof_rewrite_scheduled"] == "1"
    # the node keeps serving while the child writes
    t0 = time.monotonic()
    assert p.request("SET", "during", "bgsave") == b"+OK\r\n"
    assert time.monotonic() - t0 < 1.0
    i = wait_info(p, "rdb_bgsave_in_progress", "0")
    assert i["rdb_last_bgsave_status"] == "ok" and i["rdb_saves"] == "1"
    assert int(i["rdb_last_bgsave_time_sec"]) >= 0 and int(i["rdb_last_cow_size"]) > 0
    assert i["rdb_changes_since_last_save"] == "1"  # the SET made during the save
    # the scheduled rewrite starts from the cron once the child is gone
    i = wait_info(p, "aof_rewrite_in_progress", "1")
    assert i["aof_rewrite_scheduled"] == "0"
    assert p.request("BGREWRITEAOF") == b"-ERR Background append only file rewriting already in progress\r\n"
    assert p.request("BGSAVE") == (
        b"-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order "
        b"to schedule a BGSAVE whenever possible.\r\n")
    assert p.request("BGSAVE", "SCHEDULE") == b"+Background saving scheduled\r\n"
    # SAVE only refuses when an RDB child runs (a foreground save of this much data takes a while)
    assert p.connect(timeout=120).request("SAVE") == b"+OK\r\n"
    wait_info(p, "aof_rewrite_in_progress", "0")
    i = wait_info(p, "rdb_saves", "3")  # BGSAVE, SAVE, then the scheduled BGSAVE
    wait_info(p, "rdb_bgsave_in_progress", "0")
    log = p.log_text()
    assert "Background saving started by pid" in log and "Background saving terminated with success" in log
    assert "Background append only file rewriting started by pid" in log
    assert "Background AOF rewrite finished successfully" in log
    assert ":C " in log and "Fork CoW for RDB" in log
    assert not [f for f in os.listdir(p.dir) if f.startswith("temp-")]


def test_bgsave_inside_multi_is_scheduled(shardis_node):
    c = shardis_node.connect()
    assert c.pipeline(["MULTI"], ["BGSAVE"], ["EXEC"])[-1] == b"*1\r\n+Background saving scheduled\r\n"
    wait_info(shardis_node, "rdb_saves", "1")
    wait_info(shardis_node, "rdb_bgsave_in_progress", "0")
    assert os.path.exists(shardis_node.dir / "dump.rdb")


def test_lastsave_follows_saves(shardis_node):
    before = int(shardis_node.request("LASTSAVE")[1:-2])
    time.sleep(1.1)
    shardis_node.request("SET", "k", "v")
    assert info(shardis_node)["rdb_changes_since_last_save"] == "1"
    assert shardis_node.request("SAVE") == b"+OK\r\n"
    after = int(shardis_node.request("LASTSAVE")[1:-2])
    assert after > before and info(shardis_node)["rdb_changes_since_last_save"] == "0"


def test_save_points_trigger_a_bgsave(shardis_factory):
    proc = shardis_factory(["save 1 2"])
    proc.request("SET", "a", "1")
    time.sleep(1.5)
    assert info(proc)["rdb_saves"] == "0"  # one change: not enough
    proc.request("SET", "b", "2")
    proc.wait_for_log(r"2 changes in 1 seconds\. Saving\.\.\.", timeout=10)
    wait_info(proc, "rdb_changes_since_last_save", "0")
    assert os.path.exists(proc.dir / "dump.rdb")


def test_shutdown_save_nosave_and_default(tmp_path):
    d = tmp_path / "node"
    proc = ShardisProcess(["save 3600 1"], dir=d).start()
    try:
        proc.request("SET", "k", "1")
        c = proc.connect()
        c.send_command("SHUTDOWN")
        proc.wait(timeout=30)
        proc.close_connections()
        assert proc.returncode == 0 and "Saving the final RDB snapshot before exiting." in proc.log_text()
        assert "DB saved on disk" in proc.log_text()
        proc.start()
        assert proc.request("GET", "k") == b"$1\r\n1\r\n"
        proc.request("SET", "k", "2")
        c = proc.connect()
        c.send_command("SHUTDOWN", "NOSAVE")
        proc.wait(timeout=30)
        proc.close_connections()
        proc.start()
        assert proc.request("GET", "k") == b"$1\r\n1\r\n"
        proc.request("CONFIG", "SET", "save", "")
        proc.request("SET", "k", "3")
        c = proc.connect()
        c.send_command("SHUTDOWN", "SAVE")
        proc.wait(timeout=30)
        proc.close_connections()
        proc.start()
        assert proc.request("GET", "k") == b"$1\r\n3\r\n"
    finally:
        proc.cleanup()


def test_sigterm_saves_when_save_points_are_set(tmp_path):
    d = tmp_path / "node"
    proc = ShardisProcess(["save 3600 1"], dir=d).start()
    try:
        proc.request("RPUSH", "l", "a", "b")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        proc.close_connections()
        assert "Saving the final RDB snapshot before exiting." in proc.log_text()
        proc.start()
        assert proc.request("LRANGE", "l", "0", "-1") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    finally:
        proc.cleanup()


def test_failed_save_blocks_shutdown_and_writes(tmp_path):
    d = tmp_path / "node"
    proc = ShardisProcess(["save 3600 1"], dir=d).start()
    try:
        os.mkdir(d / "dump.rdb")  # the rename onto it fails
        proc.request("SET", "k", "v")
        assert proc.request("SAVE") == b"-ERR\r\n"
        assert proc.request("BGSAVE") == b"+Background saving started\r\n"
        wait_info(proc, "rdb_last_bgsave_status", "err")
        assert "Background saving error" in proc.log_text()
        misconf = proc.request("SET", "x", "1")
        assert misconf.startswith(b"-MISCONF Redis is configured to save RDB snapshots")
        assert proc.request("PING").startswith(b"-MISCONF")
        assert proc.request("GET", "k") == b"$1\r\nv\r\n"
        assert proc.request("SHUTDOWN") == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        assert "Error trying to save the DB, can't exit." in proc.log_text()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.is_running()  # as Redis: the final save failed, so it keeps running
        assert proc.request("CONFIG", "SET", "stop-writes-on-bgsave-error", "no") == b"+OK\r\n"
        assert proc.request("SET", "x", "1") == b"+OK\r\n"
        os.rmdir(d / "dump.rdb")
        assert proc.request("BGSAVE") == b"+Background saving started\r\n"
        wait_info(proc, "rdb_last_bgsave_status", "ok")
    finally:
        proc.cleanup()


def test_flushall_saves_an_empty_snapshot_with_save_points(tmp_path):
    d = tmp_path / "node"
    proc = ShardisProcess(["save 3600 100"], dir=d).start()
    try:
        proc.request("SET", "k", "v")
        assert proc.request("SAVE") == b"+OK\r\n"
        assert proc.request("FLUSHALL") == b"+OK\r\n"
        proc.stop(sig=signal.SIGKILL)
        proc.start()
        assert proc.request("DBSIZE") == b":0\r\n"
    finally:
        proc.cleanup()


# --- start-up ----------------------------------------------------------------------------------


def _rdb_blob(n: int) -> bytes:
    return b"".join(write_rdb({0: [(b"key:%d" % i, b"value:%d" % i, None) for i in range(n)]}))


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_bad_rdb_stops_the_node_with_file_and_offset(tmp_path, damage):
    d = tmp_path / "node"
    d.mkdir()
    blob = bytearray(_rdb_blob(2000))
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        blob[blob.index(b"value:1000") + 7] ^= 1
    else:
        blob[200:210] = b"\xf0" * 10
    (d / "dump.rdb").write_bytes(bytes(blob))
    proc = ShardisProcess(dir=d, startup_timeout=30)
    try:
        with pytest.raises(ServerStartError):
            proc.start()
        assert proc.returncode == 1
        log = proc.log_text()
        assert "dump.rdb" in log and "offset" in log
        assert "Loading failed, the node will not start" in log
        assert "Ready to accept connections" not in log
    finally:
        proc.cleanup()


def test_clients_get_loading_while_a_large_rdb_loads(tmp_path):
    d = tmp_path / "node"
    d.mkdir()
    (d / "dump.rdb").write_bytes(_rdb_blob(300_000))
    proc = ShardisProcess(dir=d, startup_timeout=120)
    replies = []
    infos = []
    starter = threading.Thread(target=proc.start)
    starter.start()
    try:
        deadline = time.monotonic() + 120
        while starter.is_alive() and time.monotonic() < deadline:
            try:
                with RawConnection(proc.port, timeout=5, connect_timeout=0.5) as c:
                    r = c.request("GET", "key:1")
                    replies.append(r)
                    if r.startswith(b"-LOADING"):
                        infos.append(c.request("INFO", "persistence"))
            except OSError:
                pass
            time.sleep(0.01)
        starter.join(timeout=120)
        assert b"-LOADING Redis is loading the dataset in memory\r\n" in replies
        loading_info = infos[0].decode()
        assert "loading:1" in loading_info and "loading_total_bytes:" in loading_info
        assert "loading_loaded_perc:" in loading_info and "loading_eta_seconds:" in loading_info
        assert proc.request("GET", "key:1") == b"$7\r\nvalue:1\r\n"
        assert proc.request("DBSIZE") == b":300000\r\n"
        assert "rdb_last_load_keys_loaded:300000" in proc.request("INFO", "persistence").decode()
    finally:
        starter.join(timeout=120)
        proc.cleanup()


def test_info_persistence_field_names_match_redis(diff):
    """Same fields, same order, as redis-server 7.0 (no AOF, not loading)."""
    names = []
    for conn in diff.pair():
        text = conn.request("INFO", "persistence").decode()
        names.append([line.split(":", 1)[0] for line in text.splitlines()])
    assert names[0] == names[1]
    assert names[0][1] == "# Persistence" and "rdb_last_bgsave_status" in names[0]
