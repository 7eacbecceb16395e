"""commands/server.py: COMMAND's description of the table, DEBUG DIGEST, CONFIG SET, SHUTDOWN, helpers."""

from __future__ import annotations

import hiredis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardis.commands import load_all
from shardis.commands import server as srv
from shardis.keyspace.objects import Hash, List, Set, ZSet
from shardis.protocol.resp import RESP2, RESP3
from shardis.server import replies as R
from shardis.server.commandtable import Command, lookup
from shardis.server.config import Config
from shardis.server.connection import Client
from shardis.server.node import Node


load_all()


@pytest.fixture
def node():
    return Node(Config())


@pytest.fixture
def client(node):
    return Client(node)


def parse(frame: bytes):
    r = hiredis.Reader()
    r.feed(frame)
    return r.gets()


# --- COMMAND ---------------------------------------------------------------------------------------


def test_command_info_shape_in_both_protocols():
    get = lookup(b"get")
    for r in (RESP2, RESP3):
        info = parse(srv.command_info(r, get))
        assert info[:7] == [b"get", 2, [b"readonly", b"fast"], 1, 1, 1, [b"@read", b"@string", b"@fast"]]
        spec = info[8][0]
        spec = dict(zip(spec[::2], spec[1::2])) if isinstance(spec, list) else spec
        assert spec[b"flags"] == [b"RO", b"access"]
    raw3 = srv.command_info(RESP3, get)
    assert b"~2\r\n+readonly\r\n+fast\r\n" in raw3 and raw3.endswith(b"~0\r\n")  # sets in RESP3


def test_flag_and_category_order_follow_redis():
    cmd = Command("x", -1, frozenset("allow_busy no_auth fast stale loading noscript admin nofastpath sentinel".split()))
    assert srv._flag_names(cmd) == ["admin", "noscript", "loading", "stale", "fast", "no_auth", "allow_busy"]
    cmd = Command("y", 1, frozenset({"write"}), categories=("connection", "keyspace", "dangerous"))
    assert srv._acl_names(cmd) == ["keyspace", "write", "slow", "dangerous", "connection"]


def test_key_specs_derived_from_legacy_positions():
    mset = Command("mset", -3, frozenset({"write", "denyoom"}), first_key=1, last_key=-1, key_step=2)
    (spec,) = srv.key_specs(mset)
    assert spec["begin_search"] == ("index", 1) and spec["find_keys"] == ("range", -1, 2, 0)
    pair = Command("smove", 4, frozenset({"write"}), first_key=1, last_key=2, key_step=1)
    assert srv.key_specs(pair)[0]["find_keys"] == ("range", 1, 1, 0)
    assert srv.key_specs(Command("ping", -1, frozenset())) == ()
    declared = ({"flags": ("RO",), "begin_search": ("index", 2), "find_keys": ("range", 0, 1, 0)},)
    assert srv.key_specs(lookup(b"memory").subcommands[b"usage"]) == declared


def test_command_docs_map():
    docs = parse(srv.command_docs(RESP2, lookup(b"config")))
    d = dict(zip(docs[::2], docs[1::2]))
    assert d[b"summary"] == b"A container for server configuration commands" and d[b"group"] == b"server"
    subs = dict(zip(d[b"subcommands"][::2], d[b"subcommands"][1::2]))
    get = dict(zip(subs[b"config|get"][::2], subs[b"config|get"][1::2]))
    assert get[b"history"] == [[b"7.0.0", b"Added the ability to pass multiple pattern parameters in one call"]]


def test_lookup_by_fullname():
    assert srv.lookup_by_fullname(b"CONFIG|GET") is lookup(b"config").subcommands[b"get"]
    assert srv.lookup_by_fullname(b"get") is lookup(b"get")
    assert srv.lookup_by_fullname(b"get|x") is None and srv.lookup_by_fullname(b"a|b|c") is None


def test_getkeys(client):
    assert parse(srv.command_getkeys(client, [b"COMMAND", b"GETKEYS", b"MSET", b"a", b"1", b"b", b"2"])) == [b"a", b"b"]
    assert srv.command_getkeys(client, [b"COMMAND", b"GETKEYS", b"ping", b"x"]) == R.COMMAND_NO_KEYS
    assert srv.command_getkeys(client, [b"COMMAND", b"GETKEYS", b"get", b"a", b"b"]) == R.COMMAND_BAD_ARITY
    assert srv.command_getkeys(client, [b"COMMAND", b"GETKEYS", b"nosuch", b"a"]) == R.INVALID_COMMAND
    flags = parse(srv.command_getkeysandflags(client, [b"COMMAND", b"GETKEYSANDFLAGS", b"MEMORY", b"USAGE", b"k"]))
    assert flags == [[b"k", [b"RO"]]]


# --- DEBUG DIGEST ----------------------------------------------------------------------------------


def digest_of(node, key, value, ttl=False):
    db = node.dbs[0]
    db.flush()
    db.set(key, value)
    if ttl:
        db.set_expire(key, 2**40)
    return srv.dataset_digest(node)


def test_empty_dataset_digest_is_zero(node):
    assert srv.dataset_digest(node) == b"0" * 40


@given(st.lists(st.binary(max_size=8), min_size=2, max_size=6, unique=True))
def test_set_and_hash_digests_ignore_order(members):
    node = Node(Config())
    a = digest_of(node, b"k", Set(members))
    b = digest_of(node, b"k", Set(reversed(members)))
    assert a == b
    h1 = Hash((m, b"v" + m) for m in members)
    h2 = Hash((m, b"v" + m) for m in reversed(members))
    assert digest_of(node, b"k", h1) == digest_of(node, b"k", h2)


def test_list_digest_depends_on_order_and_ttl_and_db(node):
    a = digest_of(node, b"k", List([b"a", b"b"]))
    assert a != digest_of(node, b"k", List([b"b", b"a"]))
    assert digest_of(node, b"k", b"v") != digest_of(node, b"k", b"v", ttl=True)
    plain = digest_of(node, b"k", b"v")
    node.dbs[0].flush()
    node.dbs[1].set(b"k", b"v")
    assert srv.dataset_digest(node) != plain  # the db number is part of the signature
    node.dbs[1].flush()


def test_zset_digest_depends_on_scores(node):
    z1, z2 = ZSet(), ZSet()
    z1.add(b"m", 1.0)
    z2.add(b"m", 2.0)
    assert digest_of(node, b"z", z1) != digest_of(node, b"z", z2)


# --- CONFIG SET / SHUTDOWN / misc ---------------------------------------------------------------------


def test_config_set_is_atomic(client, node):
    hz = node.config["hz"]
    reply = srv.config_set(client, [b"CONFIG", b"SET", b"hz", b"33", b"maxmemory", b"nope"])
    assert reply.startswith(b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory')")
    assert node.config["hz"] == hz
    assert srv.config_set(client, [b"CONFIG", b"SET", b"hz", b"33", b"maxmemory", b"1mb"]) == R.OK
    assert node.config["hz"] == 33 and node.config["maxmemory"] == 1048576


def test_config_set_redacts_passwords(client):
    argv = [b"CONFIG", b"SET", b"requirepass", b"secret", b"nosuch", b"x"]
    assert srv.config_set(client, argv).startswith(b"-ERR Unknown option")
    assert argv[3] == b"(redacted)"


def test_shutdown_refuses_when_the_save_fails(client, node, monkeypatch):
    stops = []
    monkeypatch.setattr(node, "request_shutdown", lambda code=0: stops.append(code))
    monkeypatch.setattr(srv, "SHUTDOWN_SAVE", lambda n: False)
    node.config.set_value("save", [(3600, 1)])
    assert srv.shutdown_command(client, [b"SHUTDOWN"]) == R.SHUTDOWN_ERR and not stops
    assert srv.shutdown_command(client, [b"SHUTDOWN", b"FORCE"]) is None and stops == [0]
    assert srv.shutdown_command(client, [b"SHUTDOWN", b"NOSAVE"]) is None and stops == [0, 0]


def test_strtod_and_atoi_like_c():
    assert srv._strtod(b"0.5xyz") == 0.5 and srv._strtod(b"x") == 0.0 and srv._strtod(b" 2e1") == 20.0
    assert srv._atoi(b"1abc") == 1 and srv._atoi(b"abc") == 0


def test_debug_protocol_frames(client):
    assert srv._debug_protocol(client, b"push") == R.RESP2_UNSUPPORTED
    client.resp = RESP3
    assert srv._debug_protocol(client, b"bignum") == b"(1234567999999999999999999999999999999\r\n"
    assert srv._debug_protocol(client, b"map") == b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"
