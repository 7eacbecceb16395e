"""Unit tests for persistence/snapshot.py and persistence/loading.py on an in-process node.

* what a snapshot holds: Redis's AUX fields, every type, TTLs, no expired
  keys, a CRC64 that matches, a zero checksum with ``rdbchecksum no``;
* save + load round trips of generated keyspaces (every type, both
  encodings of each, TTLs, several databases), with the encodings Redis
  would give on load;
* loading refuses corrupt, truncated and mis-checksummed files with the
  file name and byte offset, skips expired keys (not in an AOF base), and
  refuses duplicates unless merging;
* SAVE/BGSAVE bookkeeping in the parent: dirty, lastsave, failures,
  save points, and the INFO persistence fields in Redis 7.0.15's order.
"""

from __future__ import annotations

import contextlib

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.commands import load_all
from shardis.keyspace.objects import Hash, List, Set, ZSet
from shardis.persistence import AuxField, EndOfFile, KeyValue, SelectDb, crc64, loading, read_rdb, snapshot
from shardis.server.config import Config
from shardis.server.node import Node

# The field names of INFO persistence on redis-server 7.0.15 (appendonly no, not loading).
REDIS_PERSISTENCE_FIELDS = [
    "loading", "async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age",
    "current_fork_perc", "current_save_keys_processed", "current_save_keys_total",
    "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time", "rdb_last_bgsave_status",
    "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec", "rdb_saves", "rdb_last_cow_size",
    "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded", "aof_enabled", "aof_rewrite_in_progress",
    "aof_rewrite_scheduled", "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec",
    "aof_last_bgrewrite_status", "aof_rewrites", "aof_rewrites_consecutive_failures", "aof_last_write_status",
    "aof_last_cow_size", "module_fork_in_progress", "module_fork_last_cow_size",
]
REDIS_AOF_EXTRA_FIELDS = ["aof_current_size", "aof_base_size", "aof_pending_rewrite", "aof_buffer_length",
                          "aof_pending_bio_fsync", "aof_delayed_fsync"]


def make_node(path, **values) -> Node:
    load_all()
    cfg = Config()
    cfg.values["dir"] = str(path)
    cfg.values["save"] = []
    cfg.values.update(values)
    n = Node(cfg)
    n.persistence.starting = False
    return n


@pytest.fixture
def node(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    n = make_node(tmp_path)
    yield n
    if n.persistence.child_pid != -1:
        n.persistence.kill_child()


def wait_child(node, timeout=30.0):
    p = node.persistence
    deadline = time.monotonic() + timeout
    while p.child_pid != -1:
        assert time.monotonic() < deadline, "child did not finish"
        p.check_child_done()
        time.sleep(0.005)


def contents(node):
    """Everything a client could observe of the keyspace, with encodings."""
    out = {}
    for db in node.dbs:
        for k, v in db.data.items():
            if isinstance(v, ZSet):
                obs = ("zset", v.encoding, tuple(v))
            elif isinstance(v, List):
                obs = ("list", v.encoding, tuple(v))
            elif isinstance(v, Set):
                obs = ("set", v.encoding, frozenset(v))
            elif isinstance(v, Hash):
                obs = ("hash", v.encoding, frozenset(v.items()))
            else:
                obs = ("string", bytes(v))
            out[(db.id, k)] = (obs, db.expires.get(k))
    return out


# --- what a snapshot holds ---------------------------------------------------------------------


def test_snapshot_has_redis_aux_fields_and_no_expired_keys(node, tmp_path):
    db = node.dbs[0]
    db.set(b"live", b"1")
    db.set(b"ttl", b"2")
    db.set_expire(b"ttl", int(time.time() * 1000) + 100_000)
    db.set(b"dead", b"3")
    db.set_expire(b"dead", int(time.time() * 1000) - 1)
    node.dbs[7].set(b"other", b"4")
    assert node.persistence.save()
    data = (tmp_path / "dump.rdb").read_bytes()
    assert data.startswith(b"REDIS0010")
    events = list(read_rdb(data))
    aux = [(e.key, e.value) for e in events if isinstance(e, AuxField)]
    assert [k for k, _ in aux] == [b"redis-ver", b"redis-bits", b"ctime", b"used-mem", b"aof-base"]
    assert dict(aux)[b"redis-ver"] == b"7.0.15" and dict(aux)[b"redis-bits"] == b"64"
    assert dict(aux)[b"aof-base"] == b"0" and abs(int(dict(aux)[b"ctime"]) - time.time()) < 5
    assert [e.db for e in events if isinstance(e, SelectDb)] == [0, 7]
    keys = {(e.db, e.key): e.expire_ms for e in events if isinstance(e, KeyValue)}
    assert keys == {(0, b"live"): None, (0, b"ttl"): db.expires[b"ttl"], (7, b"other"): None}
    assert events[-1] == EndOfFile(crc64(0, data[:-8]), True)
    assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]


def test_rdbchecksum_no_writes_a_zero_checksum(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    n = make_node(tmp_path, rdbchecksum=False)
    n.dbs[0].set(b"k", b"v")
    assert n.persistence.save()
    data = (tmp_path / "dump.rdb").read_bytes()
    assert data[-8:] == b"\0" * 8
    other = make_node(tmp_path)
    assert loading.run_sync(loading.rdb_load(other, other.persistence, "dump.rdb")) == loading.RDB_OK
    assert other.dbs[0].data == {b"k": b"v"}


# --- round trips ----------------------------------------------------------------------------

ints = st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: b"%d" % i)
elements = st.one_of(st.binary(max_size=12), ints, st.binary(min_size=60, max_size=90),
                     st.sampled_from([b"a" * 100, b"abc" * 40]))


def _strings():
    return st.one_of(st.binary(max_size=50), ints, st.binary(min_size=45, max_size=300),
                     st.sampled_from([b"x" * 1000, b"", b"12345678901234567890"]))


@st.composite
def values(draw):
    kind = draw(st.sampled_from(["string", "list", "set", "intset", "zset", "bigzset", "hash", "bighash"]))
    if kind == "string":
        return draw(_strings())
    if kind == "list":
        return List(draw(st.lists(elements, min_size=1, max_size=30)))
    if kind in ("set", "intset"):
        items = draw(st.sets(ints if kind == "intset" else elements, min_size=1, max_size=30))
        if draw(st.booleans()):
            items |= {b"%d" % i for i in range(600)}
        s = Set(items)
        if not all(i.lstrip(b"-").isdigit() for i in items) or len(items) > 512:
            s.encoding = b"hashtable"
        return s
    if kind in ("zset", "bigzset"):
        z = ZSet()
        members = draw(st.lists(elements, min_size=1, max_size=20, unique=True))
        if kind == "bigzset":
            members += [b"m%d" % i for i in range(140) if b"m%d" % i not in members]
            z.encoding = b"skiplist"
        for m in members:
            z.add(m, draw(st.floats(allow_nan=False)))
        if any(len(m) > 64 for m in members):
            z.encoding = b"skiplist"
        return z
    h = Hash(draw(st.dictionaries(elements, elements, min_size=1, max_size=20)))
    if kind == "bighash":
        for i in range(520):
            h[b"f%d" % i] = b"v"
    if len(h) > 512 or any(len(f) > 64 or len(v) > 64 for f, v in h.items()):
        h.encoding = b"hashtable"
    return h


keyspaces = st.dictionaries(
    st.tuples(st.integers(min_value=0, max_value=3), st.binary(min_size=1, max_size=20)),
    st.tuples(values(), st.one_of(st.none(), st.integers(min_value=60_000, max_value=10**9))),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(keyspaces, st.booleans(), st.booleans())
def test_save_then_load_round_trips_every_type(tmp_path, keyspace, compress, checksum):
    os.chdir(tmp_path)
    n = make_node(tmp_path, rdbcompression=compress, rdbchecksum=checksum)
    now = int(time.time() * 1000)
    for (dbid, key), (value, ttl) in keyspace.items():
        db = n.dbs[dbid]
        db.set(key, value)
        if ttl is not None:
            db.set_expire(key, now + ttl)
    before = contents(n)
    assert n.persistence.save()
    other = make_node(tmp_path, rdbcompression=compress, rdbchecksum=checksum)
    assert loading.run_sync(loading.rdb_load(other, other.persistence, "dump.rdb")) == loading.RDB_OK
    assert contents(other) == before
    assert other.persistence.rdb_last_load_keys_loaded == len(keyspace)


def test_bgsave_writes_the_same_snapshot_as_save(node, tmp_path):
    for i in range(2000):
        node.dbs[i % 3].set(b"k%d" % i, b"v%d" % i)
    node.dbs[1].set(b"h", Hash({b"a": b"1"}))
    node.dirty = 10
    assert node.persistence.bgsave()
    assert node.persistence.child_type == "rdb"
    assert node.persistence.bgsave() is False  # one child at a time
    node.dirty += 5  # writes during the save are not covered by it
    wait_child(node)
    assert node.lastbgsave_ok and node.dirty == 5
    assert node.persistence.rdb_last_bgsave_time_sec >= 0
    other = make_node(tmp_path)
    loading.run_sync(loading.rdb_load(other, other.persistence, "dump.rdb"))
    assert contents(other) == contents(node)


def test_bgsave_failure_sets_misconf_state(node, tmp_path):
    os.mkdir(tmp_path / "dump.rdb")  # the final rename fails: "Is a directory"
    node.dbs[0].set(b"k", b"v")
    node.config.values["save"] = [(3600, 1)]
    assert node.persistence.bgsave()
    wait_child(node)
    assert node.lastbgsave_ok is False
    assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]
    info = dict(node.persistence.info_fields())
    assert info["rdb_last_bgsave_status"] == "err"
    from shardis.server.connection import Client
    from shardis.server import dispatch
    from shardis.server.commandtable import lookup

    c = Client(node)
    assert dispatch.process_command(c, [b"SET", b"a", b"b"], lookup(b"SET")).startswith(b"-MISCONF ")
    assert dispatch.process_command(c, [b"GET", b"k"], lookup(b"GET")) == b"$1\r\nv\r\n"
    os.rmdir(tmp_path / "dump.rdb")
    assert node.persistence.save() and node.lastbgsave_ok
    assert dispatch.process_command(c, [b"SET", b"a", b"b"], lookup(b"SET")) == b"+OK\r\n"


def test_save_points_start_a_bgsave_from_cron(node):
    p = node.persistence
    node.config.values["save"] = [(100, 5), (1, 1)]
    node.lastsave = int(time.time()) - 2
    node.dirty = 0
    p.cron(time.time())
    assert p.child_pid == -1
    node.dirty = 1
    p.cron(time.time())
    assert p.child_type == "rdb"
    wait_child(node)
    assert node.dirty == 0 and node.lastsave >= int(time.time()) - 1


def test_killed_child_is_not_an_error(node, tmp_path):
    for i in range(20000):
        node.dbs[0].set(b"k%d" % i, b"v" * 50)
    assert node.persistence.bgsave()
    node.persistence.kill_child()
    assert node.persistence.child_pid == -1 and node.lastbgsave_ok
    assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]


def test_info_fields_are_redis_names_in_redis_order(node):
    names = [k for k, _ in node.persistence.info_fields()]
    assert names == REDIS_PERSISTENCE_FIELDS
    node.config.values["appendonly"] = True
    names = [k for k, _ in node.persistence.info_fields()]
    assert names == REDIS_PERSISTENCE_FIELDS + REDIS_AOF_EXTRA_FIELDS


# --- refusing bad files ---------------------------------------------------------------------


def _saved_file(node, tmp_path, n=300):
    for i in range(n):
        node.dbs[0].set(b"key:%d" % i, b"value:%d" % i)
    assert node.persistence.save()
    return (tmp_path / "dump.rdb").read_bytes()


@pytest.mark.parametrize("cut", [5, 9, 40, 200, -9, -1])
def test_truncated_rdb_is_refused_with_offset(node, tmp_path, cut):
    data = _saved_file(node, tmp_path)
    (tmp_path / "dump.rdb").write_bytes(data[:cut])
    other = make_node(tmp_path)
    with pytest.raises(loading.LoadError) as e:
        loading.run_sync(loading.rdb_load(other, other.persistence, "dump.rdb"))
    assert "dump.rdb" in str(e.value) and "offset" in str(e.value)
    assert other.loading is False


def test_flipped_byte_is_caught_by_the_checksum(node, tmp_path):
    data = bytearray(_saved_file(node, tmp_path))
    i = data.index(b"value:150")
    data[i + 6] ^= 0x01  # still a valid record: only the CRC notices
    (tmp_path / "dump.rdb").write_bytes(bytes(data))
    other = make_node(tmp_path)
    with pytest.raises(loading.LoadError) as e:
        loading.run_sync(loading.rdb_load(other, other.persistence, "dump.rdb"))
    assert "checksum" in str(e.value) and str(len(data) - 8) in str(e.value)
    assert any("Wrong RDB checksum" in line for line in e.value.lines)
    relaxed = make_node(tmp_path, rdbchecksum=False)
    loading.run_sync(loading.rdb_load(relaxed, relaxed.persistence, "dump.rdb"))
    assert relaxed.dbs[0].data[b"key:150"] == b"value:050"  # rdbchecksum no: loaded as is, as Redis does


def test_garbage_is_refused_and_a_missing_file_is_fine(node, tmp_path):
    (tmp_path / "dump.rdb").write_bytes(b"NOT AN RDB FILE AT ALL")
    with pytest.raises(loading.LoadError, match="dump.rdb"):
        loading.run_sync(loading.rdb_load(node, node.persistence, "dump.rdb"))
    os.unlink(tmp_path / "dump.rdb")
    assert loading.run_sync(loading.rdb_load(node, node.persistence, "dump.rdb")) == loading.RDB_NOT_EXIST


def test_expired_keys_are_skipped_except_in_an_aof_base(node, tmp_path):
    from shardis.persistence.rdb import write_rdb

    past = int(time.time() * 1000) - 1000
    blob = b"".join(write_rdb({0: [(b"old", b"1", past), (b"new", b"2", None)]}))
    (tmp_path / "dump.rdb").write_bytes(blob)
    loading.run_sync(loading.rdb_load(node, node.persistence, "dump.rdb"))
    assert set(node.dbs[0].data) == {b"new"}
    assert node.persistence.rdb_last_load_keys_expired == 1
    other = make_node(tmp_path)
    rest = loading.run_sync(loading.rdb_load_stream(other, other.persistence, lambda n: b"", "base",
                                                    preamble=True, first=blob))
    assert rest == b"" and set(other.dbs[0].data) == {b"old", b"new"}


def test_duplicate_keys_are_refused_unless_merging(node, tmp_path):
    from shardis.persistence.rdb import write_rdb

    blob = b"".join(write_rdb({0: [(b"k", b"1", None), (b"k", b"2", None)]}))
    (tmp_path / "dump.rdb").write_bytes(blob)
    with pytest.raises(loading.LoadError, match="duplicated key 'k'"):
        loading.run_sync(loading.rdb_load(node, node.persistence, "dump.rdb"))
    other = make_node(tmp_path)
    loading.run_sync(loading.rdb_load(other, other.persistence, "dump.rdb", allow_dup=True))
    assert other.dbs[0].data == {b"k": b"2"}


def test_too_many_databases_is_refused(node, tmp_path):
    from shardis.persistence.rdb import write_rdb

    (tmp_path / "dump.rdb").write_bytes(b"".join(write_rdb({20: [(b"k", b"1", None)]})))
    with pytest.raises(loading.LoadError, match="more than 16 databases"):
        loading.run_sync(loading.rdb_load(node, node.persistence, "dump.rdb"))


def test_function_libraries_survive_a_save(node, tmp_path):
    from shardis.persistence.rdb import write_rdb

    code = b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)"
    (tmp_path / "dump.rdb").write_bytes(b"".join(write_rdb({0: [(b"k", b"1", None)]}, functions=[code])))
    loading.run_sync(loading.rdb_load(node, node.persistence, "dump.rdb"))
    assert node.persistence.function_libraries == [code]
    assert node.persistence.save()
    from shardis.persistence import FunctionLibrary

    assert [e.code for e in read_rdb((tmp_path / "dump.rdb").read_bytes()) if isinstance(e, FunctionLibrary)] == [
        code]


# --- the CRC over large buffers -------------------------------------------------------------


@contextlib.contextmanager
def pure_python_lanes():
    """Run crc64_lanes's own code even where anycrc makes it defer to crc64 (checked against it)."""
    saved = snapshot.CRC_ACCELERATED
    snapshot.CRC_ACCELERATED = False
    try:
        yield
    finally:
        snapshot.CRC_ACCELERATED = saved


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=70_000), st.integers(0, 2**64 - 1),
       st.randoms(use_true_random=False))
def test_crc64_lanes_equals_crc64(head, size, crc, rnd):
    from shardis.persistence.crc64 import crc64

    data = head + rnd.randbytes(size)
    with pure_python_lanes():
        assert snapshot.crc64_lanes(crc, data) == crc64(crc, data)
        assert snapshot.crc64_lanes(0, bytearray(data)) == crc64(0, data)


def test_crc64_lanes_check_value_and_chaining():
    from shardis.persistence.crc64 import crc64

    with pure_python_lanes():
        assert snapshot.crc64_lanes(0, b"123456789") == 0xE9C6D914C4B8D9CA
        data = bytes(range(256)) * 1000
        assert snapshot.crc64_lanes(snapshot.crc64_lanes(0, data[:77777]), data[77777:]) == crc64(0, data)


# --- the LZF pre-filter -------------------------------------------------------------------------

_texty = st.one_of(
    st.binary(min_size=21, max_size=300),
    st.tuples(st.binary(min_size=1, max_size=12), st.integers(2, 40)).map(lambda t: t[0] * t[1]),
    st.text(alphabet="abcdefghij0123456789 :{}\",", min_size=21, max_size=300).map(str.encode),
    st.tuples(st.binary(min_size=5, max_size=60), st.binary(max_size=40), st.binary(min_size=5, max_size=60))
    .map(lambda t: t[0] + t[1] + t[0] + t[2] + t[0]),
)


@settings(max_examples=400, deadline=None)
@given(_texty)
def test_lzf_filter_only_skips_strings_lzf_would_barely_shrink(s):
    from shardis.persistence import lzf
    from shardis.persistence.rdb import LZF_MIN_LEN, LZF_MIN_SAVING

    if len(s) <= LZF_MIN_LEN or snapshot.lzf_worth_trying(s):
        return
    packed = lzf.compress(s, len(s) - LZF_MIN_SAVING)
    # skipped: LZF would not have shrunk it, or by very little (a heuristic, see lzf_worth_trying)
    assert packed is None or len(s) - len(packed) <= max(8, len(s) // 10), (len(s), len(packed))


def test_lzf_filter_skips_random_bytes_and_keeps_redundant_ones(node, tmp_path):
    import random

    rnd = random.Random(7)
    noise = [rnd.randbytes(200) for _ in range(200)]
    assert sum(map(snapshot.lzf_worth_trying, noise)) < 40  # mostly skipped (a heuristic: not always)
    assert snapshot.lzf_worth_trying(b"abcdefgh" * 30)
    node.dbs[0].set(b"r", noise[0])
    node.dbs[0].set(b"c", b"0123456789" * 100)
    assert node.persistence.save()
    data = (tmp_path / "dump.rdb").read_bytes()
    assert len(data) < 300 + 1000  # the redundant value went out LZF-compressed
    other = make_node(tmp_path)
    loading.run_sync(loading.rdb_load(other, other.persistence, "dump.rdb"))
    assert other.dbs[0].data == node.dbs[0].data
