"""The list commands' batch forms (LPUSH, RPUSH, LPOP, RPOP, LRANGE) against their handlers.

Built on the twin nodes of ``test_server_batch``: one node is given a
pipeline as one read (``run_uniform``, so the batch form when it accepts),
the other the same requests one at a time, and everything observable is
compared.  On top of what ``Twin`` compares, ``ListTwin`` compares the list
encodings, the cluster slot index (keys created and deleted, in order) and
what clients blocked on a key were sent.  Hypothesis draws the starting
state (short and long lists, one-element lists that a pop empties, other
types, TTLs, WATCHed keys, blocked clients, keyspace events, RESP3, a slot
index) and pipelines, many of them on one key as redis-benchmark sends
them; deterministic tests show that the batch forms are taken for the usual
shapes and declined for the others.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_server_batch import KEYS, Twin, apply_state, keys, shape, values

from shardis.cluster.index import SlotIndex
from shardis.keyspace.objects import List
from shardis.server.commandtable import TABLE

NAMES = ("lpush", "rpush", "lpop", "rpop", "lrange")


class ListTwin(Twin):
    """Twin plus list encodings, the slot index and blocked clients' replies."""

    def __init__(self, notify: bool = False, resp3: bool = False, slot_index: bool = False):
        super().__init__(notify)
        self.blocked = {self.batch: [], self.single: []}
        for side in (self.batch, self.single):
            if resp3:
                side.run(side.c, [b"HELLO", b"3"])
                side.c.transport.data.clear()
            if slot_index:
                side.node.dbs[0].slot_index = SlotIndex()

    def block(self, key: bytes) -> None:
        for side in (self.batch, self.single):
            c = side.client()
            side.run(c, [b"BLPOP", key, b"0"])
            assert c.blocked
            self.blocked[side].append(c)

    def extra(self, side):
        db = side.node.dbs[0]
        encodings = {k: v.encoding for k, v in db.data.items() if isinstance(v, List)}
        index = None if db.slot_index is None else {s: list(ks) for s, ks in db.slot_index.by_slot.items()}
        sent = [bytes(c.transport.data) for c in self.blocked[side]]
        return encodings, index, sent, list(db.data)

    def pipeline(self, requests: list) -> bytes:
        got = super().pipeline(requests)
        assert self.extra(self.batch) == self.extra(self.single)
        return got


class Spy:
    """Records whether each call of a command's batch form accepted (non-None) or declined."""

    def __init__(self, monkeypatch, name: str):
        self.results: list = []
        cmd = TABLE[name.encode()]
        inner = cmd.batch
        assert inner is not None

        def spied(c, columns, m):
            r = inner(c, columns, m)
            self.results.append(r is not None)
            return r

        monkeypatch.setattr(cmd, "batch", spied)


# --- random pipelines -----------------------------------------------------------------------------

indexes = st.sampled_from(
    [b"0", b"1", b"2", b"-1", b"-2", b"-3", b"3", b"99", b"-100", b"x", b"01", b"+1",
     b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808"]
)
counts = st.sampled_from([b"0", b"1", b"2", b"5", b"-1", b"x"])

CASES = {
    "LPUSH": st.tuples(st.just(b"LPUSH"), keys, st.lists(values, min_size=1, max_size=4)),
    "RPUSH": st.tuples(st.just(b"RPUSH"), keys, st.lists(values, min_size=1, max_size=4)),
    "LPOP": st.one_of(st.tuples(st.just(b"LPOP"), keys, st.just([])), st.tuples(st.just(b"LPOP"), keys, counts.map(lambda x: [x]))),
    "RPOP": st.one_of(st.tuples(st.just(b"RPOP"), keys, st.just([])), st.tuples(st.just(b"RPOP"), keys, counts.map(lambda x: [x]))),
    "LRANGE": st.tuples(st.just(b"LRANGE"), keys, st.tuples(indexes, indexes).map(list)),
}

list_state_ops = st.lists(
    st.tuples(
        st.sampled_from(["string", "bytearray", "list", "ttl", "past-ttl", "watch",
                         "one", "long", "hash", "blocked", "list-ttl"]),
        keys,
    ),
    max_size=7,
)


def apply_list_state(t: ListTwin, ops) -> None:
    mine = {"one", "long", "hash", "blocked", "list-ttl"}
    for kind, key in ops:
        if kind not in mine:
            apply_state(t, [(kind, key)])
        elif kind == "one":
            t.setup("DEL", key)
            t.setup("RPUSH", key, b"only")
        elif kind == "long":
            t.setup("DEL", key)
            t.setup("RPUSH", key, *[b"e%d" % i for i in range(7)])
        elif kind == "hash":
            t.setup("DEL", key)
            t.setup("HSET", key, b"f", b"v")
        elif kind == "blocked":
            t.setup("DEL", key)  # BLPOP blocks on a missing key only
            t.block(key)
        elif kind == "list-ttl":
            t.setup("DEL", key)
            t.setup("RPUSH", key, b"a", b"b", b"c")
            t.setup("PEXPIRE", key, 100_000)


def request(r) -> list:
    name, key, rest = r
    return [name, key, *rest]


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), notify=st.booleans(), resp3=st.booleans(), slot_index=st.booleans(), ops=list_state_ops)
def test_a_list_pipeline_at_once_equals_its_requests_one_by_one(name, data, notify, resp3, slot_index, ops):
    t = ListTwin(notify, resp3, slot_index)
    apply_list_state(t, ops)
    for _ in range(data.draw(st.integers(1, 4))):
        first = request(data.draw(CASES[name]))
        rest = data.draw(st.lists(CASES[name].map(request).filter(lambda r: shape(r) == shape(first)), max_size=20))
        reqs = [first] + rest
        if data.draw(st.booleans()):
            reqs = [[r[0], first[1], *r[2:]] for r in reqs]  # one key, as redis-benchmark sends
        if name == "LRANGE" and data.draw(st.booleans()):
            reqs = [list(first) for _ in reqs]  # identical requests
        t.pipeline(reqs)


good_indexes = st.sampled_from([b"0", b"1", b"-1", b"-2", b"2", b"5", b"99", b"-100", b"9223372036854775807"])
CLEAN_CASES = dict(CASES)
CLEAN_CASES["LRANGE"] = st.tuples(st.just(b"LRANGE"), keys, st.tuples(good_indexes, good_indexes).map(list))
CLEAN_CASES["LPOP"] = st.tuples(st.just(b"LPOP"), keys, st.just([]))
CLEAN_CASES["RPOP"] = st.tuples(st.just(b"RPOP"), keys, st.just([]))
clean_state_ops = st.lists(st.tuples(st.sampled_from(["list", "one", "long"]), keys), max_size=6)


@pytest.mark.parametrize("name", sorted(CLEAN_CASES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), resp3=st.booleans(), slot_index=st.booleans(), ops=clean_state_ops)
def test_lists_only_pipelines_over_several_keys(name, data, resp3, slot_index, ops):
    # Only lists and missing keys, no events: the shapes the batch forms accept,
    # over several keys (lists created, emptied and deleted within a batch).
    t = ListTwin(False, resp3, slot_index)
    apply_list_state(t, ops)
    for _ in range(data.draw(st.integers(1, 4))):
        first = request(data.draw(CLEAN_CASES[name]))
        rest = data.draw(st.lists(CLEAN_CASES[name].map(request).filter(lambda r: shape(r) == shape(first)), max_size=20))
        t.pipeline([first] + rest)

# --- the batch forms are taken for the usual shapes -------------------------------------------------


def test_batch_forms_are_declared():
    for name in NAMES:
        assert TABLE[name.encode()].batch is not None, name


def test_lpush_creates_the_list_and_counts(monkeypatch):
    spy = Spy(monkeypatch, "lpush")
    t = ListTwin()
    reply = t.pipeline([[b"LPUSH", b"mylist", b"x%d" % i] for i in range(16)])
    assert reply == b"".join(b":%d\r\n" % n for n in range(1, 17))
    assert spy.results == [True]
    db = t.batch.node.dbs[0]
    assert list(db.data[b"mylist"]) == [b"x%d" % i for i in reversed(range(16))]
    assert db.data[b"mylist"].encoding == b"quicklist"
    assert t.batch.node.dirty == t.single.node.dirty == 16
    assert db.access[b"mylist"] == t.batch.node.lru_clock


def test_rpush_several_elements_per_request(monkeypatch):
    spy = Spy(monkeypatch, "rpush")
    t = ListTwin()
    t.setup("RPUSH", "l", "a")
    reply = t.pipeline([[b"RPUSH", b"l", b"%d" % i, b"%d+" % i, b"%d++" % i] for i in range(5)])
    assert reply == b"".join(b":%d\r\n" % n for n in range(4, 17, 3))
    assert list(t.batch.node.dbs[0].data[b"l"])[:4] == [b"a", b"0", b"0+", b"0++"]
    # several keys, one of them new
    reply = t.pipeline([[b"LPUSH", b"k%d" % (i % 3), b"v%d" % i, b"w"] for i in range(9)])
    assert spy.results == [True]
    assert reply.startswith(b":2\r\n:2\r\n:2\r\n:4\r\n")


def test_lpush_several_keys(monkeypatch):
    spy = Spy(monkeypatch, "lpush")
    t = ListTwin(slot_index=True)
    t.setup("RPUSH", "k1", "a", "b")
    reply = t.pipeline([[b"LPUSH", b"k%d" % (i % 4), b"v%d" % i] for i in range(10)])
    assert reply == b":1\r\n:3\r\n:1\r\n:1\r\n:2\r\n:4\r\n:2\r\n:2\r\n:3\r\n:5\r\n"
    assert spy.results == [True]
    assert list(t.batch.node.dbs[0].data) == [b"k1", b"k0", b"k2", b"k3"]


def test_pops_that_empty_the_list_delete_it(monkeypatch):
    for name, first in ((b"LPOP", b"e0"), (b"RPOP", b"e4")):
        spy = Spy(monkeypatch, name.decode().lower())
        t = ListTwin(slot_index=True)
        t.setup("RPUSH", "q", *[b"e%d" % i for i in range(5)])
        t.setup("SET", "other", "x")
        reply = t.pipeline([[name, b"q"] for _ in range(8)])
        assert reply.startswith(b"$2\r\n" + first + b"\r\n") and reply.endswith(b"$-1\r\n" * 3)
        db = t.batch.node.dbs[0]
        assert b"q" not in db.data and b"q" not in db.access
        assert [k for ks in db.slot_index.by_slot.values() for k in ks] == [b"other"]
        assert t.batch.node.dirty == t.single.node.dirty
        # a pipeline that leaves the list non-empty, and one on a missing key
        t.setup("RPUSH", "q", *[b"e%d" % i for i in range(20)])
        t.pipeline([[name, b"q"] for _ in range(16)])
        assert len(db.data[b"q"]) == 4
        t.pipeline([[name, b"missing"] for _ in range(4)])
        assert spy.results == [True, True, True]


def test_pops_over_several_keys(monkeypatch):
    spy = Spy(monkeypatch, "rpop")
    t = ListTwin(resp3=True)
    t.setup("RPUSH", "a", "1", "2")
    t.setup("RPUSH", "b", "3")
    reply = t.pipeline([[b"RPOP", k] for k in (b"a", b"b", b"c", b"b", b"a", b"a")])
    assert reply == b"$1\r\n2\r\n$1\r\n3\r\n_\r\n_\r\n$1\r\n1\r\n_\r\n"
    assert spy.results == [True]
    assert not t.batch.node.dbs[0].data


def test_lrange_identical_requests_are_answered_once(monkeypatch):
    spy = Spy(monkeypatch, "lrange")
    t = ListTwin()
    t.setup("RPUSH", "mylist", *[b"x%d" % i for i in range(150)])
    reply = t.pipeline([[b"LRANGE", b"mylist", b"0", b"99"] for _ in range(16)])
    one = b"*100\r\n" + b"".join(b"$%d\r\nx%d\r\n" % (len(b"x%d" % i), i) for i in range(100))
    assert reply == one * 16
    db = t.batch.node.dbs[0]
    assert db.hits == t.single.node.dbs[0].hits and db.hits >= 16
    # several keys and ranges, one of them missing
    reply = t.pipeline([[b"LRANGE", k, s, b"-1"] for k in (b"mylist", b"nope") for s in (b"-2", b"148", b"0")])
    assert reply.startswith(b"*2\r\n$4\r\nx148\r\n$4\r\nx149\r\n*2\r\n")
    assert spy.results == [True, True]


def test_batch_forms_decline_what_they_cannot_do_exactly(monkeypatch):
    spies = {n: Spy(monkeypatch, n) for n in NAMES}
    t = ListTwin()
    t.setup("RPUSH", "l", *"abcdefgh")
    t.setup("SET", "s", "x")
    # wrong type anywhere in the batch
    t.pipeline([[b"LPUSH", k, b"v"] for k in (b"l", b"l", b"s")])
    t.pipeline([[b"LPOP", k] for k in (b"l", b"s", b"l")])
    t.pipeline([[b"LRANGE", b"s", b"0", b"1"]] * 3)
    # not an integer
    t.pipeline([[b"LRANGE", b"l", b"0", b"x"]] * 3)
    # a count: the handler
    t.pipeline([[b"RPOP", b"l", b"1"]] * 3)
    # a TTL
    t.setup("PEXPIRE", "l", 100000)
    assert t.batch.node.dbs[0].expires
    t.pipeline([[b"RPUSH", b"l", b"v"]] * 3)
    t.setup("PERSIST", "l")
    # a WATCHed key
    t.watch(b"l")
    t.pipeline([[b"RPUSH", b"l", b"v"]] * 3)
    assert {n: s.results for n, s in spies.items()} == {
        "lpush": [False], "lpop": [False], "lrange": [False, False], "rpop": [False], "rpush": [False, False]
    }
    assert t.batch.watcher.dirty_cas and t.single.watcher.dirty_cas


def test_a_push_to_a_key_with_waiters_declines_and_serves_them(monkeypatch):
    spy = Spy(monkeypatch, "rpush")
    t = ListTwin()
    t.block(b"q")
    t.pipeline([[b"RPUSH", b"q", b"v%d" % i] for i in range(4)])
    assert spy.results == [False]
    for side in (t.batch, t.single):
        assert bytes(t.blocked[side][0].transport.data) == b"*2\r\n$1\r\nq\r\n$2\r\nv0\r\n"
    # waiters on another key do not stop a batch
    t.block(b"other")
    t.pipeline([[b"RPUSH", b"q", b"w%d" % i] for i in range(4)])
    assert spy.results == [False, True]


def test_keyspace_events_make_the_batch_decline(monkeypatch):
    spy = Spy(monkeypatch, "lpush")
    t = ListTwin(notify=True)
    t.pipeline([[b"LPUSH", b"k", b"v"]] * 3)
    assert spy.results == [False]
    assert (b"lpush", b"k", 0) in t.batch.events


def test_hypothesis_keys_are_the_shared_ones():
    assert len(KEYS) >= 3  # the state and pipeline strategies draw from these


@given(first=st.integers(0, 10**7), step=st.integers(1, 7), m=st.integers(1, 600))
def test_counting_replies_are_the_formatted_integers(first, step, m):
    from shardis.commands.lists import _counting_replies

    last = first + step * (m - 1)
    assert _counting_replies(first, last, step) == b"".join(b":%d\r\n" % n for n in range(first, last + 1, step))
