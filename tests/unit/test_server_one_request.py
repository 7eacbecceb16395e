"""A read that is exactly one request (connection.run_one) does what the usual route does.

A client that waits for each reply sends one request per read; those reads
skip the request reader (``protocol.resp.one_request`` cuts them) and
process_input's loop (``Client.run_one``).  The Twin of test_server_batch
gives the same read to two nodes set up alike -- one through
``data_received`` as it comes, the other with those shortcuts off -- and
compares the replies, the keyspace (values, TTLs, LRU clocks), hit/miss
counters, dirty, keyspace events, WATCH, the call counts and INFO's command
total.  Requests are drawn over commands of every kind, and over the cases
run_one must hand back: unknown commands, wrong arity, lowercase names,
errors, commands that may not take the fast path.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.protocol.resp import encode_request
from shardis.server.connection import Client

from test_server_batch import Twin, apply_state, keys, state_ops, values  # noqa: E402  (same directory)

ints = st.sampled_from([b"0", b"1", b"-5", b"100000", b"x", b"9223372036854775807"])

REQUESTS = st.one_of(
    st.tuples(st.sampled_from([b"GET", b"get", b"gEt", b"STRLEN", b"TYPE", b"EXISTS", b"TTL", b"INCR", b"DEL",
                               b"LPOP", b"RPOP", b"SCARD", b"HLEN", b"ZCARD", b"PERSIST", b"GETDEL"]), keys),
    st.tuples(st.sampled_from([b"SET", b"SETNX", b"APPEND", b"LPUSH", b"RPUSH", b"SADD", b"SISMEMBER", b"HGET",
                               b"ZSCORE", b"GETSET"]), keys, values),
    st.tuples(st.sampled_from([b"INCRBY", b"EXPIRE", b"PEXPIRE", b"DECRBY"]), keys, ints),
    st.tuples(st.sampled_from([b"HSET", b"SETEX", b"LRANGE"]), keys, ints, values),
    st.tuples(st.just(b"ZADD"), keys, ints, values),
    st.tuples(st.just(b"SET"), keys, values, st.sampled_from([b"NX", b"XX", b"GET", b"KEEPTTL", b"BAD"])),
    st.tuples(st.sampled_from([b"MGET", b"DEL", b"EXISTS", b"MSET"]), keys, keys, keys),
    st.tuples(st.sampled_from([b"PING", b"DBSIZE", b"NOPE"])),
    st.tuples(st.sampled_from([b"ECHO", b"PING", b"NOPE"]), values),
    st.tuples(st.sampled_from([b"GET", b"INCR", b"LPUSH"])),  # too few arguments
    st.tuples(st.sampled_from([b"GET", b"INCR"]), keys, keys),  # too many
    st.tuples(st.just(b"SELECT"), st.sampled_from([b"0", b"1", b"99"])),
    st.tuples(st.just(b"COMMAND"), st.sampled_from([b"COUNT", b"NOPE"])),  # not on the fast path
    st.tuples(st.just(b"BLPOP"), keys, st.just(b"0")),  # blocking: never the fast path
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=state_ops, requests=st.lists(REQUESTS, min_size=1, max_size=12), notify=st.booleans())
def test_one_request_per_read_equals_the_usual_route(ops, requests, notify):
    t = Twin(notify)
    apply_state(t, ops)
    for request in requests:
        t.one(list(request))
        if t.batch.c.blocked:  # BLPOP on an empty list: both sides wait; nothing more to compare
            assert t.single.c.blocked
            break


@pytest.fixture
def taken(monkeypatch):
    """Record what Client.run_one answered for each read offered to it."""
    answers = []
    run_one = Client.run_one

    def counted(self, argv):
        r = run_one(self, argv)
        answers.append((argv[0], r))
        return r

    monkeypatch.setattr(Client, "run_one", counted)
    return answers


def test_plain_requests_take_run_one(taken):
    t = Twin()
    assert t.one([b"SET", b"k", b"v"]) == b"+OK\r\n"
    assert t.one([b"GET", b"k"]) == b"$1\r\nv\r\n"
    assert t.one([b"INCR", b"k"]) == b"-ERR value is not an integer or out of range\r\n"
    assert taken == [(b"SET", True), (b"GET", True), (b"INCR", True)]
    assert t.batch.node.dbs[0].hits == 1


def test_requests_run_one_hands_back(taken):
    t = Twin()
    assert t.one([b"NOPE", b"x"]).startswith(b"-ERR unknown command 'NOPE'")
    assert t.one([b"GET"]) == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert t.one([b"COMMAND", b"COUNT"]).startswith(b":")  # flagged off the fast path
    assert [r for _, r in taken] == [False, False, False]


def test_reads_that_are_not_one_plain_request_skip_run_one(taken):
    t = Twin()
    for data in (
        b"PING\r\n",  # inline
        b"*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n",  # CRLF inside a payload
        b"*2\r\n$4\r\nECHO\r\n$1\r\na",  # partial
        b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",  # two requests
    ):
        for side in (t.batch, t.single):
            side.feed(side.c, data)
        t.compare()
    assert taken == []


def test_a_request_split_over_reads_still_runs_once():
    t = Twin()
    data = encode_request([b"SET", b"k", b"value"])
    for side in (t.batch, t.single):
        side.feed(side.c, data[:7])
        side.feed(side.c, data[7:])
    assert t.compare() == b"+OK\r\n"


def test_a_slow_command_reaches_the_slow_log():
    t = Twin()
    node = t.batch.node
    node._on_slowlog_change(0, None)  # slowlog-log-slower-than 0: every command
    before = len(node.slowlog)
    t.batch.feed(t.batch.c, encode_request([b"GET", b"k"]))
    assert len(node.slowlog) == before + 1
    assert node.slowlog[0][3] == [b"GET", b"k"]  # newest first
