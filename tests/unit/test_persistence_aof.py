"""Unit tests for persistence/aof.py: the manifest, the command reader, rewrites, and the node's AOF.

The manifest and command formats are checked against the texts Redis 7.0
writes (the example manifest of aof.c, SELECT/RESP framing, ``#TS:``
annotations); the reader is checked by property: any sequence of commands,
cut into any chunks, reads back unchanged, and a stream cut inside a command
is reported as truncated at the start of that command.  ``AppendOnly`` runs
in-process on a real node in a temporary directory.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardis.commands import load_all
from shardis.keyspace.objects import Hash, List, Set, ZSet
from shardis.persistence import aof as A
from shardis.protocol.resp import split_args
from shardis.server.config import Config
from shardis.server.node import Node

# --- the manifest ---------------------------------------------------------------------------

REDIS_EXAMPLE = (
    b"file appendonly.aof.2.base.rdb seq 2 type b\n"
    b"file appendonly.aof.1.incr.aof seq 1 type h\n"
    b"file appendonly.aof.2.incr.aof seq 2 type h\n"
    b"file appendonly.aof.3.incr.aof seq 3 type h\n"
    b"file appendonly.aof.4.incr.aof seq 4 type i\n"
    b"file appendonly.aof.5.incr.aof seq 5 type i\n"
)


def test_manifest_parses_and_formats_redis_example():
    m = A.Manifest.parse(REDIS_EXAMPLE)
    assert m.base == A.AofInfo("appendonly.aof.2.base.rdb", 2, "b")
    assert [i.file_seq for i in m.history] == [1, 2, 3]
    assert [i.file_name for i in m.incr] == ["appendonly.aof.4.incr.aof", "appendonly.aof.5.incr.aof"]
    assert m.curr_base_seq == 2 and m.curr_incr_seq == 5
    assert m.format() == REDIS_EXAMPLE
    assert [i.file_name for i in m.files_to_load()] == [
        "appendonly.aof.2.base.rdb", "appendonly.aof.4.incr.aof", "appendonly.aof.5.incr.aof"]


def test_manifest_accepts_comments_any_key_order_and_extra_pairs():
    text = b"# a comment\nseq 1 type b file x.1.base.rdb future value\ntype i file x.1.incr.aof seq 1\n"
    m = A.Manifest.parse(text)
    assert m.base.file_name == "x.1.base.rdb" and m.incr[0].file_name == "x.1.incr.aof"
    assert m.format() == b"file x.1.base.rdb seq 1 type b\nfile x.1.incr.aof seq 1 type i\n"


@pytest.mark.parametrize(
    "text, reason",
    [
        (b"", "Found an empty AOF manifest"),
        (b"\n", "Invalid AOF manifest file format"),
        (b"file a seq 1\n", "Invalid AOF manifest file format"),
        (b"file a seq 1 type\n", "Invalid AOF manifest file format"),
        (b"file a seq 0 type b\n", "Invalid AOF manifest file format"),
        (b"file dir/a seq 1 type b\n", "File can't be a path, just a filename"),
        (b"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"),
        (b"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"),
        (b"file a seq 1 type x\n", "Unknown AOF file type"),
        (b"file a seq 1 type b", "The AOF manifest file contains too long line"),
        (b"file " + b"a" * 1100 + b" seq 1 type b\n", "The AOF manifest file contains too long line"),
        (b'file "unbalanced seq 1 type b\n', "Invalid AOF manifest file format"),
    ],
)
def test_manifest_errors_are_redis_texts(text, reason):
    with pytest.raises(A.ManifestError) as e:
        A.Manifest.parse(text)
    assert e.value.reason == reason


# A single quote is not quoted by sdsneedsrepr yet starts a quoted word for
# sdssplitargs: Redis itself cannot read such a name back, so neither do we.
@given(st.text(alphabet=st.characters(blacklist_characters="/\x00'", blacklist_categories=("Cs",)), min_size=1,
               max_size=40))
def test_manifest_file_names_round_trip_through_quoting(name):
    m = A.Manifest(base=A.AofInfo(name, 1, "b"), curr_base_seq=1)
    text = m.format()
    assert A.Manifest.parse(text).base.file_name == name
    line = text.rstrip(b"\n")
    assert split_args(line)[1] == name.encode("utf-8", "surrogateescape")


def test_repr_name_quotes_like_sdscatrepr():
    assert A.repr_name("appendonly.aof.1.base.rdb") == "appendonly.aof.1.base.rdb"
    assert A.repr_name("my file") == '"my file"'
    assert A.repr_name('q"\\\n') == '"q\\"\\\\\\n"'
    assert A.repr_name("\x01") == '"\\x01"'


def test_manifest_rewrite_bookkeeping():
    m = A.Manifest()
    assert m.last_incr_name("appendonly.aof") == "appendonly.aof.1.incr.aof"
    assert m.new_base_name("appendonly.aof", True) == "appendonly.aof.1.base.rdb"
    assert m.new_incr_name("appendonly.aof") == "appendonly.aof.2.incr.aof"
    # a rewrite finished while incr 2 is being written: incr 1 becomes history
    assert m.new_base_name("appendonly.aof", False) == "appendonly.aof.2.base.aof"
    m.mark_rewritten_incr_as_history(keep_last=True)
    assert m.format() == (
        b"file appendonly.aof.2.base.aof seq 2 type b\n"
        b"file appendonly.aof.1.incr.aof seq 1 type h\n"
        b"file appendonly.aof.1.base.rdb seq 1 type h\n"
        b"file appendonly.aof.2.incr.aof seq 2 type i\n"
    )
    m.mark_rewritten_incr_as_history(keep_last=False)
    assert m.incr == [] and len(m.history) == 3
    c = m.copy()
    c.new_incr_name("appendonly.aof")
    assert m.incr == [] and len(c.incr) == 1


# --- commands -----------------------------------------------------------------------------


def test_encode_command_and_select_are_redis_bytes():
    assert A.encode_command([b"SET", b"k", b""]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
    assert A.select_command(12) == b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n"
    assert A.timestamp_annotation(1700000000) == b"#TS:1700000000\r\n"


argvs = st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=5), min_size=1, max_size=20)


def _read_all(data: bytes, cuts):
    p = A.AofParser()
    out = []
    pos = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        p.feed(data[pos:cut])
        pos = cut
        while (got := p.next_command()) is not None:
            out.append(got)
    while (got := p.next_command(final=True)) is not None:
        out.append(got)
    return out


@given(argvs, st.lists(st.integers(min_value=0, max_value=2000), max_size=8), st.booleans())
def test_parser_reads_any_chunking(cmds, cuts, annotate):
    data = b""
    ends = []
    for argv in cmds:
        if annotate:
            data += b"#TS:12345\r\n"
        data += A.encode_command(argv)
        ends.append(len(data))
    cuts = [c for c in cuts if c <= len(data)]
    got = _read_all(data, cuts)
    assert [g[0] for g in got] == cmds
    assert [g[1] for g in got] == ends


@given(argvs, st.data())
def test_parser_reports_truncation_at_the_start_of_the_cut_command(cmds, data):
    blob = b""
    starts = []
    for argv in cmds:
        starts.append(len(blob))
        blob += A.encode_command(argv)
    cut = data.draw(st.integers(min_value=0, max_value=len(blob)))
    p = A.AofParser()
    p.feed(blob[:cut])
    complete = [s for s in starts if s < cut]
    if cut in starts or cut == len(blob):
        n = 0
        while p.next_command(final=True) is not None:
            n += 1
        assert n == len([s for s in starts if s < cut])
        return
    with pytest.raises(A.AofTruncated) as e:
        while p.next_command(final=True) is not None:
            pass
    assert e.value.offset == complete[-1]


@pytest.mark.parametrize("blob, offset", [
    (b"SET k v\r\n", 0),
    (b"*1\r\n$3\r\nGET\r\nxx\r\n", 13),
    (b"*0\r\n", 0),
    (b"*2\r\n$3\r\nGET\r\n:1\r\n", 13),
    (b"*1\r\n$-5\r\n", 4),
])
def test_parser_format_errors(blob, offset):
    p = A.AofParser()
    p.feed(blob)
    with pytest.raises(A.AofFormatError) as e:
        while p.next_command(final=True) is not None:
            pass
    assert e.value.offset == offset


def test_parser_skips_annotations_even_cut_at_the_end():
    p = A.AofParser()
    p.feed(b"#TS:1\r\n*1\r\n$4\r\nPING\r\n#TS:2")
    assert p.next_command(final=True) == ([b"PING"], 21)
    assert p.next_command(final=True) is None


# --- an in-process node ------------------------------------------------------------------------


@pytest.fixture
def node(tmp_path, monkeypatch):
    load_all()
    monkeypatch.chdir(tmp_path)
    cfg = Config()
    cfg.values["dir"] = str(tmp_path)
    cfg.values["save"] = []
    n = Node(cfg)
    n.persistence.starting = False
    yield n
    p = n.persistence
    if p.child_pid != -1:
        p.kill_child()
    if p.aof.fd != -1:
        os.close(p.aof.fd)


def _client(node):
    from shardis.server.connection import Client

    return Client(node)


def _run(c, *argv):
    from shardis.server import dispatch
    from shardis.server.commandtable import lookup

    argv = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
    return dispatch.process_command(c, argv, lookup(argv[0]))


def _replay(node, blob: bytes):
    """Replay AOF bytes into ``node`` through the command table, as the loader does."""
    from shardis.persistence import loading

    c = _client(node)
    p = A.AofParser()
    p.feed(blob)
    while (got := p.next_command(final=True)) is not None:
        loading._replay(c, got[0], "test", got[1])


def _snapshot(node):
    out = {}
    for db in node.dbs:
        for k, v in db.data.items():
            if isinstance(v, ZSet):
                v = list(v)
            elif isinstance(v, (List,)):
                v = list(v)
            elif isinstance(v, (Set,)):
                v = set(v)
            elif isinstance(v, Hash):
                v = dict(v)
            else:
                v = bytes(v)
            out[(db.id, k)] = (v, db.expires.get(k))
    return out


def test_rewrite_commands_rebuild_every_type(node, tmp_path):
    db = node.dbs[2]
    db.set(b"s", b"v")
    db.set(b"l", List([b"%d" % i for i in range(150)]))
    db.set(b"set", Set({b"%d" % i for i in range(70)}))
    z = ZSet()
    for i in range(130):
        z.add(b"m%d" % i, i / 3)
    z.add(b"inf", float("inf"))
    z.add(b"ninf", float("-inf"))
    db.set(b"z", z)
    db.set(b"h", Hash({b"f%d" % i: b"v" * i for i in range(66)}))
    db.set_expire(b"s", 99999999999999)
    blob = b"".join(A.rewrite_commands(2, [(k, v, db.expires.get(k)) for k, v in db.data.items()]))
    assert blob.startswith(A.select_command(2))
    assert blob.count(b"RPUSH") == 3 and blob.count(b"HMSET") == 2 and blob.count(b"ZADD") == 3
    assert b"$9\r\nPEXPIREAT\r\n$1\r\ns\r\n$14\r\n99999999999999\r\n" in blob
    expect = _snapshot(node)
    for d in node.dbs:
        d.flush()
    _replay(node, blob)
    assert _snapshot(node) == expect


def test_feed_writes_select_and_commands_before_returning(node, tmp_path):
    node.config.values["appendonly"] = True
    p = node.persistence
    p.aof.open_on_start()
    assert sorted(os.listdir(tmp_path / "appendonlydir")) == [
        "appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
    assert node.fast is False  # writes must go through dispatch, which propagates
    c = _client(node)
    assert _run(c, "SET", "a", "1") == b"+OK\r\n"
    incr = tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof"
    # written by the time the reply exists
    assert incr.read_bytes() == A.select_command(0) + A.encode_command([b"SET", b"a", b"1"])
    _run(c, "SELECT", "5")
    _run(c, "SET", "b", "2")
    _run(c, "GET", "b")  # reads are not logged
    _run(c, "MULTI")
    _run(c, "SET", "c", "3")
    _run(c, "SET", "d", "4")
    _run(c, "EXEC")
    assert incr.read_bytes() == (
        A.select_command(0) + A.encode_command([b"SET", b"a", b"1"])
        + A.select_command(5) + A.encode_command([b"SET", b"b", b"2"])
        + A.encode_command([b"MULTI"]) + A.encode_command([b"SET", b"c", b"3"])
        + A.encode_command([b"SET", b"d", b"4"]) + A.encode_command([b"EXEC"])
    )
    assert p.aof.current_size == os.path.getsize(incr) + os.path.getsize(
        tmp_path / "appendonlydir" / "appendonly.aof.1.base.rdb")


def test_timestamp_annotations(node, tmp_path):
    node.config.values["appendonly"] = True
    node.config.set_value("aof-timestamp-enabled", True)
    node.persistence.aof.open_on_start()
    c = _client(node)
    node.unixtime = 1700000000
    _run(c, "SET", "a", "1")
    _run(c, "SET", "b", "1")
    node.unixtime = 1700000001
    _run(c, "SET", "c", "1")
    data = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert data.startswith(b"#TS:1700000000\r\n*2\r\n$6\r\nSELECT")
    assert data.count(b"#TS:") == 2 and b"#TS:1700000001\r\n*3\r\n$3\r\nSET\r\n$1\r\nc" in data


def test_expired_key_deletion_is_logged_as_del(node, tmp_path):
    node.config.values["appendonly"] = True
    node.persistence.aof.open_on_start()
    c = _client(node)
    _run(c, "SET", "k", "v", "PX", "1")
    import time

    time.sleep(0.01)
    assert _run(c, "GET", "k") == b"$-1\r\n"
    data = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert data.endswith(A.encode_command([b"DEL", b"k"]))


def test_background_rewrite_swaps_base_and_keeps_writes(node, tmp_path):
    node.config.values["appendonly"] = True
    aof = node.persistence.aof
    aof.open_on_start()
    c = _client(node)
    for i in range(50):
        _run(c, "SET", f"k{i}", i)
    assert aof.rewrite_background()
    _run(c, "SET", "during", "x")  # lands in the new incr file
    import time

    deadline = time.monotonic() + 20
    while node.persistence.child_pid != -1 and time.monotonic() < deadline:
        node.persistence.check_child_done()
        time.sleep(0.01)
    assert node.persistence.child_pid == -1 and aof.lastbgrewrite_ok
    d = tmp_path / "appendonlydir"
    assert sorted(os.listdir(d)) == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof",
                                     "appendonly.aof.manifest"]
    assert (d / "appendonly.aof.manifest").read_bytes() == (
        b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
    assert (d / "appendonly.aof.2.incr.aof").read_bytes() == (
        A.select_command(0) + A.encode_command([b"SET", b"during", b"x"]))
    # reload everything from the files into a fresh node and compare
    expect = _snapshot(node)
    from shardis.persistence import loading

    os.close(aof.fd)
    aof.fd = -1
    cfg = Config()
    cfg.values["dir"] = str(tmp_path)
    cfg.values["appendonly"] = True
    other = Node(cfg)
    assert loading.run_sync(loading.aof_load(other, other.persistence)) == loading.AOF_OK
    assert _snapshot(other) == expect


def test_truncated_tail_is_cut_back_when_allowed(node, tmp_path):
    from shardis.persistence import loading

    node.config.values["appendonly"] = True
    aof = node.persistence.aof
    aof.open_on_start()
    c = _client(node)
    _run(c, "SET", "a", "1")
    _run(c, "SET", "b", "2")
    os.close(aof.fd)
    aof.fd = -1
    incr = tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof"
    good = incr.read_bytes()
    incr.write_bytes(good + b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1")
    cfg = Config()
    cfg.values["dir"] = str(tmp_path)
    cfg.values["appendonly"] = True
    cfg.values["aof-load-truncated"] = False
    other = Node(cfg)
    with pytest.raises(loading.LoadError) as e:
        loading.run_sync(loading.aof_load(other, other.persistence))
    assert "appendonly.aof.1.incr.aof" in str(e.value) and str(len(good)) in str(e.value)
    assert incr.read_bytes() != good  # refused: nothing was cut
    cfg.values["aof-load-truncated"] = True
    other = Node(cfg)
    assert loading.run_sync(loading.aof_load(other, other.persistence)) == loading.AOF_TRUNCATED
    assert incr.read_bytes() == good
    assert set(other.dbs[0].data) == {b"a", b"b"}


def test_incomplete_multi_is_reverted(node, tmp_path):
    from shardis.persistence import loading

    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_bytes(b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    ok = A.encode_command([b"SET", b"a", b"1"])
    (d / "appendonly.aof.1.incr.aof").write_bytes(
        ok + A.encode_command([b"MULTI"]) + A.encode_command([b"SET", b"b", b"2"]))
    node.config.values["appendonly"] = True
    assert loading.run_sync(loading.aof_load(node, node.persistence)) == loading.AOF_TRUNCATED
    assert set(node.dbs[0].data) == {b"a"}
    assert (d / "appendonly.aof.1.incr.aof").read_bytes() == ok


def test_truncated_file_that_is_not_last_is_fatal(node, tmp_path):
    from shardis.persistence import loading

    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_bytes(
        b"file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
    (d / "appendonly.aof.1.incr.aof").write_bytes(b"*3\r\n$3\r\nSET\r\n$1\r\na")
    (d / "appendonly.aof.2.incr.aof").write_bytes(A.encode_command([b"SET", b"b", b"2"]))
    node.config.values["appendonly"] = True
    with pytest.raises(loading.LoadError, match="not the last"):
        loading.run_sync(loading.aof_load(node, node.persistence))


def test_unknown_command_and_missing_file_are_fatal(node, tmp_path):
    from shardis.persistence import loading

    d = tmp_path / "appendonlydir"
    d.mkdir()
    node.config.values["appendonly"] = True
    (d / "appendonly.aof.manifest").write_bytes(b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    with pytest.raises(loading.LoadError, match="missing"):
        loading.run_sync(loading.aof_load(node, node.persistence))
    (d / "appendonly.aof.1.incr.aof").write_bytes(A.encode_command([b"NOSUCHCMD", b"x"]))
    with pytest.raises(loading.LoadError, match="Unknown command 'NOSUCHCMD'"):
        loading.run_sync(loading.aof_load(node, node.persistence))


def test_old_style_aof_is_moved_into_the_directory(node, tmp_path):
    from shardis.persistence import loading

    (tmp_path / "appendonly.aof").write_bytes(A.encode_command([b"SET", b"old", b"style"]))
    node.config.values["appendonly"] = True
    assert loading.run_sync(loading.aof_load(node, node.persistence)) == loading.AOF_OK
    assert node.dbs[0].data[b"old"] == b"style"
    assert not (tmp_path / "appendonly.aof").exists()
    assert (tmp_path / "appendonlydir" / "appendonly.aof.manifest").read_bytes() == (
        b"file appendonly.aof seq 1 type b\n")


def test_write_error_refuses_writes_with_misconf(node, tmp_path):
    node.config.values["appendonly"] = True
    aof = node.persistence.aof
    aof.open_on_start()
    c = _client(node)
    real = aof.fd
    aof.fd = os.open(os.devnull, os.O_RDONLY)  # writes fail with EBADF
    try:
        assert _run(c, "SET", "a", "1") == b"+OK\r\n"  # the write itself was applied
        assert not aof.last_write_ok
        reply = _run(c, "SET", "b", "1")
        assert reply.startswith(b"-MISCONF Errors writing to the AOF file: ")
        assert _run(c, "GET", "a") == b"$1\r\n1\r\n"
    finally:
        os.close(aof.fd)
        aof.fd = real
    aof.flush()
    assert aof.last_write_ok and node.aof_write_error is None
    assert _run(c, "SET", "b", "1") == b"+OK\r\n"


def test_keys_do_not_expire_while_the_aof_replays(node, tmp_path):
    from shardis.persistence import loading

    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_bytes(b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    past = b"%d" % (int(__import__("time").time() * 1000) - 60_000)  # was in the future when written
    (d / "appendonly.aof.1.incr.aof").write_bytes(
        A.encode_command([b"SET", b"counter", b"1"]) + A.encode_command([b"PEXPIREAT", b"counter", past])
        + A.encode_command([b"INCR", b"counter"]))
    node.config.values["appendonly"] = True
    loading.run_sync(loading.aof_load(node, node.persistence))
    assert node.dbs[0].get_expire(b"counter") is not None or b"counter" not in node.dbs[0].data


def test_a_loop_pass_writes_the_aof_once_before_any_reply(node, tmp_path, monkeypatch):
    # With an event loop, the commands of one pass (every client served in it)
    # are written with one write -- one fsync with appendfsync always -- and
    # before the first reply leaves, as Redis does in beforeSleep.
    from shardis.server.connection import Client
    from shardis.testing.loop import PassLoop

    events = []

    class Transport:
        def write(self, data):
            events.append(("reply", bytes(data)))

        def close(self):
            pass

        def get_write_buffer_size(self):
            return 0

        def get_extra_info(self, name, default=None):
            return default

    node.config.values["appendonly"] = True
    node.config.values["appendfsync"] = "always"
    p = node.persistence
    p.aof.open_on_start()
    p.aof.fsync_policy = "always"
    node.loop = PassLoop()
    writes = []
    real_write = os.write
    monkeypatch.setattr(A.os, "write", lambda fd, data: writes.append(bytes(data)) or real_write(fd, data))
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(A.os, "fsync", lambda fd: fsyncs.append(fd) or real_fsync(fd))
    monkeypatch.setattr(A.os, "fdatasync", lambda fd: fsyncs.append(fd) or real_fsync(fd), raising=False)
    clients = []
    for _ in range(3):
        c = Client(node)
        c.transport = Transport()
        node.clients[c.id] = c
        c.update_fast()
        clients.append(c)
    for i, c in enumerate(clients):
        c.data_received(b"SET a%d 1\r\nINCR n\r\n" % i)
    assert writes == [] and events == []  # nothing leaves while the pass serves clients
    node.loop.run_pass()
    assert len(writes) == 1 and len(fsyncs) == 1  # the whole pass: one write, one fsync
    assert writes[0].count(b"$3\r\nSET\r\n") == 3 and writes[0].count(b"INCR") == 3
    assert [e[0] for e in events] == ["reply"] * 3  # ... and it came first
    incr = tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof"
    assert incr.read_bytes().endswith(A.encode_command([b"INCR", b"n"]))
