"""The batch forms of INCR, DECR, INCRBY, DECRBY and MSET do what their requests do one by one.

Built on test_server_batch's ``Twin`` (two nodes set up alike, one given the
pipeline through run_uniform, the other request by request, everything
observable compared).  ``OrderTwin`` adds what Twin's state leaves out and
these forms could get wrong: the order of the keyspace's and the access
clock's keys (new keys must enter in the order the requests create them),
the cluster slot index when there is one, and what blocked clients received.

Counter states hold every kind of text the counter commands must tell
apart: small and 18/19/20-digit numbers, the limits of a 64-bit integer and
one past them, non-canonical spellings ``int()`` would accept ("+1", " 1",
"01", "-0", "1_000"), non-numbers, bytearray values, other types, TTLs,
WATCHed keys, clients blocked on a key.  Pipelines are drawn on one key (a
running sum), on a few keys (repeats) or on many (mostly distinct).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.cluster.index import SlotIndex
from shardis.protocol.resp import encode_request, split_uniform
from shardis.server.commandtable import TABLE
from test_server_batch import KEYS, Twin, apply_state, count_batches

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


class OrderTwin(Twin):
    """A Twin that also compares key order, slot indexes and blocked clients' output."""

    def __init__(self, notify: bool = False, cluster: bool = False):
        super().__init__(notify)
        self.blocked = ([], [])  # per side: the clients blocked in the set-up
        if cluster:
            for side in (self.batch, self.single):
                side.node.dbs[0].slot_index = SlotIndex()

    def block(self, key: bytes) -> None:
        for side, clients in zip((self.batch, self.single), self.blocked):
            c = side.client()
            side.run(c, [b"BLPOP", key, b"0"])
            clients.append(c)

    def pipeline(self, requests):
        got = super().pipeline(requests)
        b, s = self.batch.node.dbs[0], self.single.node.dbs[0]
        assert list(b.data) == list(s.data)
        assert list(b.access) == list(s.access)
        if b.slot_index is not None:
            assert {k: list(v) for k, v in b.slot_index.by_slot.items()} == {
                k: list(v) for k, v in s.slot_index.by_slot.items()
            }
            assert sorted(k for v in b.slot_index.by_slot.values() for k in v) == sorted(b.data)
        for cb, cs in zip(*self.blocked):
            assert bytes(cb.transport.data) == bytes(cs.transport.data)
            assert bool(cb.blocked) == bool(cs.blocked)
        return got


# --- states and pipelines drawn by hypothesis ----------------------------------------------------------

NUMBER_TEXTS = [
    b"0", b"1", b"-1", b"41", b"-17", b"999999999999999999", b"-99999999999999999", b"1000000000000000000",
    b"-999999999999999999", b"9223372036854775806", b"9223372036854775807", b"-9223372036854775807",
    b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775809", b"99999999999999999999",
    b"01", b"+1", b" 1", b"1 ", b"1\n", b"-0", b"", b"1.5", b"0x10", b"1e3", b"1_000", b"\xd9\xa1", b"abc",
]
numbers = st.one_of(
    st.sampled_from(NUMBER_TEXTS),
    st.sampled_from(NUMBER_TEXTS),
    st.sampled_from(NUMBER_TEXTS),
    st.integers(-1000, 1000).map(lambda i: b"%d" % i),
    st.integers(LLONG_MIN, LLONG_MAX).map(lambda i: b"%d" % i),
    st.integers(LLONG_MAX - 30, LLONG_MAX).map(lambda i: b"%d" % i),
    st.integers(LLONG_MIN, LLONG_MIN + 30).map(lambda i: b"%d" % i),
)

COUNTER_KINDS = ["num"] * 6 + ["num-bytearray", "block", "del"]
BASE_KINDS = ["string", "bytearray", "list", "ttl", "past-ttl", "watch"]
counter_state_ops = st.lists(
    st.tuples(st.sampled_from(COUNTER_KINDS * 2 + BASE_KINDS), st.sampled_from(KEYS), numbers), max_size=8
)


def apply_counter_state(t: OrderTwin, ops) -> None:
    for kind, key, text in ops:
        if kind in BASE_KINDS:
            apply_state(t, [(kind, key)])
        elif kind == "num":
            t.setup("SET", key, text)
        elif kind == "num-bytearray":
            t.setup("SET", key, text)
            t.setup("APPEND", key, b"")  # the same text, now a bytearray
        elif kind == "block":
            t.block(key)
        elif kind == "del":
            t.setup("DEL", key)


WIDE_KEYS = KEYS + [b"n%d" % i for i in range(40)]


@st.composite
def counter_pipeline(draw):
    """3 to 24 requests of one counter command: on one key, a few keys (repeats) or many."""
    name = draw(st.sampled_from([b"INCR", b"INCR", b"DECR", b"INCRBY", b"DECRBY"]))
    m = draw(st.integers(3, 24))
    spread = draw(st.sampled_from(["one", "few", "wide", "distinct"]))
    if spread == "one":
        keys = [draw(st.sampled_from(KEYS))] * m
    elif spread == "few":
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=m, max_size=m))
    elif spread == "wide":
        keys = draw(st.lists(st.sampled_from(KEYS) | st.sampled_from(WIDE_KEYS), min_size=m, max_size=m))
    else:
        # the keys of the state (in any order) among fresh ones: the path without repeats
        keys = draw(st.permutations(KEYS[: draw(st.integers(0, 5))] + WIDE_KEYS[5 : 5 + m]))[:m]
    if name in (b"INCR", b"DECR"):
        return [[name, k] for k in keys]
    small = draw(st.booleans())
    incs = st.integers(-5, 5).map(lambda i: b"%d" % i) if small else numbers
    return [[name, k, draw(incs)] for k in keys]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    notify=st.sampled_from([False, False, False, True]),
    cluster=st.booleans(),
    resp3=st.booleans(),
    ops=counter_state_ops,
)
def test_counter_pipelines_at_once_equal_their_requests_one_by_one(data, notify, cluster, resp3, ops):
    t = OrderTwin(notify, cluster)
    if resp3:
        t.setup("HELLO", "3")
    apply_counter_state(t, ops)
    for _ in range(data.draw(st.integers(1, 4))):
        t.pipeline(data.draw(counter_pipeline()))


values = st.one_of(st.sampled_from([b"", b"x", b"12", b"xxx"]), st.binary(max_size=8))


@st.composite
def mset_pipeline(draw):
    """3 to 12 MSETs of 1 to 12 pairs each (or a key without its value: the arity error)."""
    pairs = draw(st.sampled_from([1, 2, 3, 10, 12]))
    odd = draw(st.sampled_from([False] * 9 + [True]))
    pool = st.sampled_from(draw(st.sampled_from([KEYS, WIDE_KEYS])))
    m = draw(st.integers(3, 12))
    out = []
    for _ in range(m):
        req = [b"MSET"]
        for _ in range(pairs):
            req += [draw(pool), draw(values)]
        if odd:
            req.append(draw(pool))
        out.append(req)
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    notify=st.sampled_from([False, False, False, True]),
    cluster=st.booleans(),
    ops=counter_state_ops,
)
def test_mset_pipelines_at_once_equal_their_requests_one_by_one(data, notify, cluster, ops):
    t = OrderTwin(notify, cluster)
    apply_counter_state(t, ops)
    for _ in range(data.draw(st.integers(1, 3))):
        t.pipeline(data.draw(mset_pipeline()))


# --- the batch forms are taken, and do what the handlers do ---------------------------------------------


def test_batch_forms_are_declared():
    for name in (b"incr", b"decr", b"incrby", b"decrby", b"mset"):
        assert TABLE[name].batch is not None


def test_incr_benchmark_shape_new_and_present_counters(monkeypatch):
    taken = count_batches(monkeypatch, b"incr")
    t = OrderTwin()
    t.setup("SET", b"counter:000000000003", b"41")
    t.setup("SET", b"counter:000000000005", b"-7")
    keys = [b"counter:%012d" % i for i in (1, 3, 2, 5, 9, 4)]
    assert t.pipeline([[b"INCR", k] for k in keys]) == b":1\r\n:42\r\n:1\r\n:-6\r\n:1\r\n:1\r\n"
    assert t.pipeline([[b"INCR", k] for k in keys]) == b":2\r\n:43\r\n:2\r\n:-5\r\n:2\r\n:2\r\n"
    assert taken == [True, True]
    db = t.batch.node.dbs[0]
    assert db.data[b"counter:000000000003"] == b"43" and type(db.data[b"counter:000000000003"]) is bytes
    assert all(db.access[k] == t.batch.node.lru_clock for k in keys)
    assert t.batch.node.dirty == 2 + 12 and db.hits == db.misses == 0
    assert t.uniform_runs == 2


def test_one_counter_is_a_running_sum(monkeypatch):
    taken = count_batches(monkeypatch, b"incr")
    taken_by = count_batches(monkeypatch, b"decrby")
    t = OrderTwin()
    assert t.pipeline([[b"INCR", b"c"]] * 5) == b"".join(b":%d\r\n" % i for i in range(1, 6))
    assert t.pipeline([[b"INCR", b"c"]] * 3) == b":6\r\n:7\r\n:8\r\n"
    reqs = [[b"DECRBY", b"c", b"%d" % d] for d in (10, -3, 0, 1)]
    assert t.pipeline(reqs) == b":-2\r\n:1\r\n:1\r\n:0\r\n"
    assert taken == [True, True] and taken_by == [True]
    assert t.batch.node.dbs[0].data[b"c"] == b"0"


def test_repeated_keys_see_the_earlier_results(monkeypatch):
    taken = count_batches(monkeypatch, b"incr")
    taken_by = count_batches(monkeypatch, b"incrby")
    t = OrderTwin()
    t.setup("SET", b"b", b"10")
    assert t.pipeline([[b"INCR", k] for k in (b"a", b"b", b"a", b"c", b"a", b"b")]) == (
        b":1\r\n:11\r\n:2\r\n:1\r\n:3\r\n:12\r\n"
    )
    reqs = [[b"INCRBY", k, i] for k, i in ((b"a", b"5"), (b"b", b"-20"), (b"a", b"-1"), (b"d", b"7"))]
    assert t.pipeline(reqs) == b":8\r\n:-8\r\n:7\r\n:7\r\n"
    assert taken == [True] and taken_by == [True]
    assert list(t.batch.node.dbs[0].data) == [b"b", b"a", b"c", b"d"]


def test_a_request_that_would_fail_declines_the_whole_batch(monkeypatch):
    taken = count_batches(monkeypatch, b"incr")
    taken_by = count_batches(monkeypatch, b"incrby")
    taken_decrby = count_batches(monkeypatch, b"decrby")
    t = OrderTwin()
    t.setup("SET", b"text", b"abc")
    t.setup("SET", b"plus", b"+1")
    t.setup("SET", b"top", LLONG_MAX - 2)
    t.setup("RPUSH", b"list", b"x")
    for bad in (b"text", b"plus", b"list"):
        reply = t.pipeline([[b"INCR", k] for k in (b"a", bad, b"a")])
        assert reply.startswith(b":1\r\n-") and reply.endswith(b":2\r\n")  # the batch's neighbours still ran
        t.setup("DEL", b"a")
    reply = t.pipeline([[b"INCR", b"top"]] * 4)  # the third overflows, the fourth too
    overflow = b"-ERR increment or decrement would overflow\r\n"
    assert reply == b":%d\r\n:%d\r\n" % (LLONG_MAX - 1, LLONG_MAX) + overflow * 2
    reply = t.pipeline([[b"INCR", k] for k in (b"n1", b"top", b"n2")])
    assert reply.count(b"overflow") == 1
    assert t.pipeline([[b"INCRBY", b"a", i] for i in (b"1", b"x", b"2")]).count(b"not an integer") == 1
    assert t.pipeline([[b"INCRBY", b"a", i] for i in (b"1", b"1", b"%d" % LLONG_MAX)]).count(b"overflow") == 1
    reply = t.pipeline([[b"DECRBY", b"a", i] for i in (b"1", b"%d" % LLONG_MIN, b"1")])
    assert b"-ERR decrement would overflow\r\n" in reply
    assert not any(taken + taken_by + taken_decrby)


def test_the_edges_of_64_bits(monkeypatch):
    taken = count_batches(monkeypatch, b"incr")
    taken_decr = count_batches(monkeypatch, b"decr")
    t = OrderTwin()
    near = {b"a": LLONG_MAX - 1, b"b": 10**18, b"c": -(10**18) + 1, b"d": LLONG_MIN + 1}
    for k, v in near.items():
        t.setup("SET", k, v)
    keys = [b"a", b"b", b"c", b"d", b"e"]
    for name, delta in ((b"INCR", 1), (b"DECR", 0), (b"DECR", -1)):
        expected = b"".join(b":%d\r\n" % (near.get(k, 0) + delta) for k in keys)
        assert t.pipeline([[name, k] for k in keys]) == expected
    assert taken == [True] and taken_decr == [True, True]
    t.setup("SET", b"a", LLONG_MAX)
    assert t.pipeline([[b"INCR", k] for k in keys]).count(b"overflow") == 1
    t.setup("SET", b"d", LLONG_MIN)
    assert t.pipeline([[b"DECR", k] for k in keys]).count(b"overflow") == 1
    for i, bad in enumerate((b"9223372036854775808", b"-9223372036854775809", b"", b"-0", b"007")):
        t.setup("SET", b"b", bad)
        assert t.pipeline([[b"DECR", k] for k in (b"b", b"c", b"e")]).count(b"not an integer") == 1
        fresh = [b"f%d" % i, b"b", b"g%d" % i]  # the bad value is the only one present
        assert t.pipeline([[b"DECR", k] for k in fresh]).count(b"not an integer") == 1
    assert taken == [True, False] and taken_decr == [True, True] + [False] * 11


def test_declined_shapes(monkeypatch):
    # a TTL, a WATCHed key, keyspace events, a client blocked on a key: the handler runs them
    taken = count_batches(monkeypatch, b"incr")
    t = OrderTwin()
    t.setup("SET", b"t", b"5", "PX", 100_000)
    t.pipeline([[b"INCR", k] for k in (b"a", b"t", b"b")])
    assert t.batch.node.dbs[0].expires.keys() == {b"t"}  # INCR keeps the TTL
    t.watch(b"w")
    t.pipeline([[b"INCR", b"a"]] * 3)
    assert t.batch.watcher.dirty_cas is False
    t.pipeline([[b"INCR", b"w"]] * 3)
    assert t.batch.watcher.dirty_cas is True
    t2 = OrderTwin(notify=True)
    t2.pipeline([[b"INCR", b"a"]] * 3)
    assert t2.batch.events == [(b"new", b"a", 0)] + [(b"incrby", b"a", 0)] * 3
    t3 = OrderTwin()
    t3.block(b"q")
    t3.pipeline([[b"INCR", k] for k in (b"a", b"q", b"b")])
    assert t3.blocked[0][0].blocked and t3.batch.node.dbs[0].data[b"q"] == b"1"
    assert taken == [False] * 5


def test_bytearray_counters_become_plain_int_encoded_strings(monkeypatch):
    taken = count_batches(monkeypatch, b"decr")
    t = OrderTwin()
    for k in (b"x", b"y"):
        t.setup("SET", k, b"12")
        t.setup("APPEND", k, b"3")
    assert type(t.batch.node.dbs[0].data[b"x"]) is bytearray
    assert t.pipeline([[b"DECR", k] for k in (b"x", b"y", b"z")]) == b":122\r\n:122\r\n:-1\r\n"
    assert t.pipeline([[b"DECR", b"x"]] * 3) == b":121\r\n:120\r\n:119\r\n"
    assert taken == [True, True]
    for side in (t.batch, t.single):
        assert type(side.node.dbs[0].data[b"y"]) is bytes
        side.run(side.c, [b"OBJECT", b"ENCODING", b"y"])
        assert bytes(side.c.transport.data) == b"$3\r\nint\r\n"
        side.c.transport.data.clear()


def test_new_keys_enter_the_slot_index(monkeypatch):
    taken = count_batches(monkeypatch, b"incr")
    taken_mset = count_batches(monkeypatch, b"mset")
    t = OrderTwin(cluster=True)
    t.setup("SET", b"{a}1", b"4")
    t.pipeline([[b"INCR", k] for k in (b"{a}1", b"{a}2", b"{b}1", b"{a}2")])
    t.pipeline([[b"INCR", b"{c}"]] * 3)
    t.pipeline([[b"MSET", b"{d}1", b"v", b"{a}1", b"w"], [b"MSET", b"{d}2", b"v", b"{d}1", b"x"]] * 2)
    assert taken == [True, True] and taken_mset == [True]
    index = t.batch.node.dbs[0].slot_index.by_slot
    assert sum(map(len, index.values())) == 6


def test_mset_benchmark_shape(monkeypatch):
    taken = count_batches(monkeypatch, b"mset")
    t = OrderTwin()
    t.setup("SET", b"key:000000000007", b"old")
    reqs = [[b"MSET"] + sum(([b"key:%012d" % ((i * 7 + j) % 23), b"v%d.%d" % (i, j)] for j in range(10)), [])
            for i in range(16)]
    assert len(reqs[0]) == 21
    assert t.pipeline(reqs) == b"+OK\r\n" * 16
    assert taken == [True]
    db = t.batch.node.dbs[0]
    last = {}
    for r in reqs:
        for k, v in zip(r[1::2], r[2::2]):
            last[k] = v
    assert {k: db.data[k] for k in last} == last
    assert t.batch.node.dirty == 1 + 160 and db.hits == db.misses == 0
    assert all(db.access[k] == t.batch.node.lru_clock for k in last)


def test_mset_declined_shapes(monkeypatch):
    taken = count_batches(monkeypatch, b"mset")
    t = OrderTwin()
    t.setup("SET", b"t", b"5", "PX", 100_000)
    t.pipeline([[b"MSET", b"a", b"1", b"t", b"2"]] * 3)
    assert not t.batch.node.dbs[0].expires  # MSET clears the TTL
    t.watch(b"w")
    t.pipeline([[b"MSET", b"a", b"1", b"b", b"2"]] * 3)
    t2 = OrderTwin(notify=True)
    t2.pipeline([[b"MSET", b"a", b"1"]] * 3)
    assert t2.batch.events == [(b"new", b"a", 0)] + [(b"set", b"a", 0)] * 3
    reply = t2.pipeline([[b"MSET", b"a", b"1", b"b"]] * 3)
    assert reply == b"-ERR wrong number of arguments for 'mset' command\r\n" * 3
    assert taken == [False] * 4


def test_split_uniform_takes_the_benchmark_mset():
    req = [b"MSET"] + [b"key:000000000001", b"xxx"] * 10
    cols = split_uniform(encode_request(req) * 16)
    assert cols is not None and len(cols) == 21 and [list(c) for c in cols] == [[a] * 16 for a in req]
