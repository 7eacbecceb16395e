"""The batch forms of SADD, SPOP and SISMEMBER do what their requests do one by one.

Built on test_server_batch's ``Twin`` (two nodes set up alike, one given the
pipeline through run_uniform, the other request by request, everything
observable compared).  SPOP draws random members: ``SeededTwin`` seeds the
random generator with the same value before each side runs, so the batch
form, which must draw exactly as the handler does, is compared byte for byte
like everything else (a structural check, independent of the seed, is added
for the members a batch pops).

States are drawn with sets of every shape the batch forms care about
(intset and hashtable encodings, sets large enough for the sampling side
index, with and without it, one-member sets a single SPOP empties), low
conversion thresholds so that a batch crosses them, and the shapes the batch
forms decline (other types, TTLs, WATCHed keys, keyspace events, several
keys in one pipeline).
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.cluster.index import SlotIndex
from shardis.protocol import resp
from shardis.commands import sets as setmod
from shardis.keyspace.objects import Set
from shardis.server.commandtable import TABLE
from test_server_batch import KEYS, Twin, apply_state, count_batches

# --- the harness: a Twin whose two sides draw the same random numbers --------------------------------


class SeededTwin(Twin):
    """A Twin whose sides both start each run from the same random seed.

    Every way Twin makes a side run -- ``Side.feed`` and, on the batch side,
    ``Client.run_uniform`` -- reseeds the module-level generator (the one
    SPOP and SRANDMEMBER draw from) with ``self.seed`` first; each pipeline
    takes a new seed.
    """

    def __init__(self, notify: bool = False):
        super().__init__(notify)
        self.seed = 0
        for side in (self.batch, self.single):
            side.feed = self._seeded(side.feed)
        self.batch.c.run_uniform = self._seeded(self.batch.c.run_uniform)

    def _seeded(self, fn):
        def run(*args):
            random.seed(self.seed)
            return fn(*args)

        return run

    def pipeline(self, requests):
        self.seed += 1
        return super().pipeline(requests)


# --- states and pipelines drawn by hypothesis ----------------------------------------------------------

SET_KINDS = ["intset", "hashset", "one", "bigset", "bigtracked", "bigint", "sample", "block", "del"]
BASE_KINDS = ["string", "list", "ttl", "past-ttl", "watch"]

set_state_ops = st.lists(
    st.tuples(st.sampled_from(SET_KINDS * 3 + BASE_KINDS), st.sampled_from(KEYS)), max_size=6
)


def apply_set_state(t: Twin, ops) -> None:
    base = []
    for kind, key in ops:
        if kind in BASE_KINDS:
            base.append((kind, key))
            continue
        apply_state(t, base)
        base = []
        if kind == "intset":
            t.setup("SADD", key, 1, 2, 3)
        elif kind == "hashset":
            t.setup("SADD", key, "a", "b", 7)
        elif kind == "one":
            t.setup("DEL", key)
            t.setup("SADD", key, "only")
        elif kind == "bigset":
            t.setup("SADD", key, *[b"element:%012d" % i for i in range(160)])
        elif kind == "bigtracked":
            t.setup("SADD", key, *[b"m%d" % i for i in range(200)])
            t.setup("SRANDMEMBER", key)
        elif kind == "bigint":
            t.setup("SADD", key, *range(1000, 1160))
        elif kind == "sample":
            t.setup("SRANDMEMBER", key)  # a set of 128 or more gets its sampling side index
        elif kind == "block":
            for side in (t.batch, t.single):
                side.run(side.client(), [b"BLPOP", key, b"0"])
        elif kind == "del":
            t.setup("DEL", key)
    apply_state(t, base)


members = st.one_of(
    st.integers(-3, 12).map(lambda i: b"%d" % i),
    st.sampled_from([b"a", b"b", b"7", b"007", b"-0", b"only", b"element:000000000001"]),
    st.integers(0, 170).map(lambda i: b"element:%012d" % i),
    st.integers(1000, 1200).map(lambda i: b"%d" % i),
)


@st.composite
def set_pipeline(draw):
    """3 to 24 requests of one command and shape, on one key (mostly) or on several."""
    kind = draw(st.sampled_from(["sadd1", "sadd1", "saddn", "spop", "spop", "spopn", "sismember"]))
    one_key = draw(st.sampled_from([True, True, True, False]))
    key0 = draw(st.sampled_from(KEYS))
    keys = st.just(key0) if one_key else st.sampled_from(KEYS)
    m = draw(st.integers(3, 24))
    nmembers = draw(st.sampled_from([2, 3, 5, 12]))  # 12: more than one digit per count
    out = []
    for _ in range(m):
        key = draw(keys)
        if kind == "sadd1":
            out.append([b"SADD", key, draw(members)])
        elif kind == "saddn":
            out.append([b"SADD", key] + [draw(members) for _ in range(nmembers)])
        elif kind == "spop":
            out.append([b"SPOP", key])
        elif kind == "spopn":
            out.append([b"SPOP", key, b"1"])
        else:
            out.append([b"SISMEMBER", key, draw(members)])
    return out


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    notify=st.sampled_from([False, False, False, True]),
    ops=set_state_ops,
    intset_max=st.sampled_from([512, 512, 4, 1, 0]),
    resp3=st.booleans(),
)
def test_set_pipelines_at_once_equal_their_requests_one_by_one(data, notify, ops, intset_max, resp3):
    t = SeededTwin(notify)
    t.setup("CONFIG", "SET", "set-max-intset-entries", intset_max)
    if resp3:
        t.setup("HELLO", "3")
    apply_set_state(t, ops)
    for _ in range(data.draw(st.integers(1, 4))):
        t.pipeline(data.draw(set_pipeline()))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    size=st.sampled_from([1, 2, 5, 127, 128, 140, 160, 300]),
    ints=st.booleans(),
    sample=st.booleans(),
)
def test_spop_and_sadd_pipelines_on_one_set(data, size, ints, sample):
    # A set of every size around SAMPLE_INDEX_MIN, with or without its side
    # index, popped and refilled by pipelines: the draws, the side index
    # kept by SADD and the key's deletion when a batch empties it.
    t = SeededTwin()
    t.setup("SADD", "s", *[(b"%d" % i if ints else b"m%d" % i) for i in range(size)])
    if sample:
        t.setup("SRANDMEMBER", "s")
    for _ in range(data.draw(st.integers(1, 6))):
        m = data.draw(st.integers(3, 40))
        if data.draw(st.booleans()):
            t.pipeline([[b"SPOP", b"s"]] * m)
        else:
            t.pipeline([[b"SADD", b"s", data.draw(members)] for _ in range(m)])


# --- the batch forms are taken, and do what the handler does --------------------------------------------


def test_batch_forms_are_declared():
    for name in (b"sadd", b"spop", b"sismember"):
        assert TABLE[name].batch is not None


def test_sadd_benchmark_shape_creates_the_set_then_adds_to_it(monkeypatch):
    taken = count_batches(monkeypatch, b"sadd")
    t = SeededTwin()
    first = [[b"SADD", b"myset", b"element:%012d" % i] for i in (5, 6, 5, 7)]
    assert t.pipeline(first) == b":1\r\n:1\r\n:0\r\n:1\r\n"
    more = [[b"SADD", b"myset", b"element:%012d" % i] for i in (7, 8, 9, 8, 10, 11)]
    assert t.pipeline(more) == b":0\r\n:1\r\n:1\r\n:0\r\n:1\r\n:1\r\n"
    assert taken == [True, True]
    db = t.batch.node.dbs[0]
    s = db.data[b"myset"]
    assert s.encoding == b"hashtable" and len(s) == 7
    assert t.batch.node.dirty == 7 and db.access[b"myset"] == t.batch.node.lru_clock


def test_sadd_with_several_members_counts_per_request(monkeypatch):
    taken = count_batches(monkeypatch, b"sadd")
    t = SeededTwin()
    reqs = [[b"SADD", b"s", b"1", b"2"], [b"SADD", b"s", b"2", b"3"], [b"SADD", b"s", b"x", b"x"],
            [b"SADD", b"s", b"1", b"x"]]
    assert t.pipeline(reqs) == b":2\r\n:1\r\n:1\r\n:0\r\n"
    assert t.batch.node.dbs[0].data[b"s"].encoding == b"hashtable"  # "x" converted the intset
    wide = [[b"SADD", b"w"] + [b"%d" % (i * 3 + j) for j in range(12)] for i in range(4)]
    assert t.pipeline(wide) == b":12\r\n:3\r\n:3\r\n:3\r\n"
    # (requests that wide are batched when split_uniform takes that many arguments)
    assert taken == [True] + [True] * (len(wide[0]) <= resp.UNIFORM_MAX_ARGS)


def test_sadd_crosses_the_intset_limit_inside_a_batch(monkeypatch):
    taken = count_batches(monkeypatch, b"sadd")
    t = SeededTwin()
    t.setup("CONFIG", "SET", "set-max-intset-entries", 4)
    t.pipeline([[b"SADD", b"s", b"%d" % i] for i in range(4)])
    assert t.batch.node.dbs[0].data[b"s"].encoding == b"intset"
    t.pipeline([[b"SADD", b"s", b"%d" % i] for i in (1, 2, 3)])  # nothing new: stays an intset
    assert t.batch.node.dbs[0].data[b"s"].encoding == b"intset"
    t.pipeline([[b"SADD", b"s", b"%d" % i] for i in (3, 4, 5)])
    assert t.batch.node.dbs[0].data[b"s"].encoding == b"hashtable"
    t.pipeline([[b"SADD", b"n", b"%d" % i] for i in (1, 2)] + [[b"SADD", b"n", b"01"]])  # not canonical
    assert t.batch.node.dbs[0].data[b"n"].encoding == b"hashtable"
    assert taken == [True] * 4


def test_sadd_keeps_the_sampling_side_index_exact(monkeypatch):
    taken = count_batches(monkeypatch, b"sadd")
    t = SeededTwin()
    t.setup("SADD", "s", *[b"m%d" % i for i in range(200)])
    t.setup("SRANDMEMBER", "s")
    for side in (t.batch, t.single):
        s = side.node.dbs[0].data[b"s"]
        track = setmod._TRACKED[id(s)]
        assert len(track.items) == 200
    t.pipeline([[b"SADD", b"s", b"n%d" % (i % 5)] for i in range(8)])
    for side in (t.batch, t.single):
        s = side.node.dbs[0].data[b"s"]
        track = setmod._TRACKED[id(s)]
        assert track.items[200:] == [b"n0", b"n1", b"n2", b"n3", b"n4"]
        assert track.pos == {x: i for i, x in enumerate(track.items)} and set(track.items) == s
    # the index drives the draws: the same pops on both sides
    t.pipeline([[b"SPOP", b"s"]] * 20)
    assert taken == [True]


def test_sadd_declines_what_it_cannot_do_at_once(monkeypatch):
    taken = count_batches(monkeypatch, b"sadd")
    t = SeededTwin()
    t.setup("SET", "str", "v")
    reply = t.pipeline([[b"SADD", b"s", b"a"], [b"SADD", b"str", b"a"], [b"SADD", b"s", b"b"]])  # two keys
    assert b"WRONGTYPE" in reply
    reply = t.pipeline([[b"SADD", b"str", b"a"]] * 3)
    assert reply.count(b"WRONGTYPE") == 3
    t.setup("EXPIRE", "s", 100)
    t.pipeline([[b"SADD", b"s", b"c"]] * 3)
    t.watch(b"w")
    t.pipeline([[b"SADD", b"w", b"c"]] * 3)
    assert t.batch.watcher.dirty_cas and t.single.watcher.dirty_cas
    assert taken == [False, False, False, False]


def test_sadd_creates_keys_in_the_slot_index(monkeypatch):
    taken = count_batches(monkeypatch, b"sadd")
    t = SeededTwin()
    for side in (t.batch, t.single):
        side.node.dbs[0].slot_index = SlotIndex()
    t.pipeline([[b"SADD", b"{a}s", b"%d" % i] for i in range(3)])
    t.pipeline([[b"SPOP", b"{a}s"]] * 4)
    t.pipeline([[b"SADD", b"{b}s", b"x"]] * 3)
    for side in (t.batch, t.single):
        idx = side.node.dbs[0].slot_index
        assert sorted(k for keys in idx.by_slot.values() for k in keys) == [b"{b}s"]
    assert taken == [True, True]


def test_spop_pops_every_member_then_deletes_the_key(monkeypatch):
    taken = count_batches(monkeypatch, b"spop")
    t = SeededTwin()
    t.setup("SADD", "s", 1, 2, 3)
    reply = t.pipeline([[b"SPOP", b"s"]] * 5)
    parts = reply.split(b"\r\n")
    popped = {parts[1], parts[3], parts[5]}
    assert popped == {b"1", b"2", b"3"} and reply.endswith(b"$-1\r\n$-1\r\n")
    for side in (t.batch, t.single):
        db = side.node.dbs[0]
        assert b"s" not in db.data and b"s" not in db.access
        assert side.node.dirty == 3 + 3  # the SADD, then the pops
    assert t.pipeline([[b"SPOP", b"s"]] * 3) == b"$-1\r\n" * 3  # missing key
    t.setup("HELLO", "3")
    t.setup("SADD", "s", "a")
    assert t.pipeline([[b"SPOP", b"s"]] * 3) == b"$1\r\na\r\n_\r\n_\r\n"
    assert taken == [True, True, True]


def test_spop_of_a_large_tracked_set_draws_as_the_handler(monkeypatch):
    # 300 members, sampled once: every pop of the batch takes the inline
    # swap-removal.  The two sides are seeded alike, so Twin holds the
    # replies (the members drawn) equal byte for byte.
    taken = count_batches(monkeypatch, b"spop")
    t = SeededTwin()
    t.setup("SADD", "s", *[b"element:%012d" % i for i in range(300)])
    t.setup("SRANDMEMBER", "s")
    before = set(t.batch.node.dbs[0].data[b"s"])
    reply = t.pipeline([[b"SPOP", b"s"]] * 16)
    # ... and, independently of the seed: 16 distinct members of the set left it
    got = reply.split(b"\r\n")[1::2][:16]
    after = set(t.batch.node.dbs[0].data[b"s"])
    assert len(set(got)) == 16 and set(got) <= before
    assert after | set(got) == before and not after & set(got)
    track = setmod._TRACKED[id(t.batch.node.dbs[0].data[b"s"])]
    assert set(track.items) == after and track.pos == {x: i for i, x in enumerate(track.items)}
    assert taken == [True]


def test_spop_batch_draws_like_the_handler_on_sets_of_every_size():
    # Compared with the handler run in the same process from the same seed:
    # the same members in the same order (small sets: a draw from the set's
    # iteration order; large ones: from the side index, built by the first draw).
    for size in (1, 5, 127, 128, 140, 200):
        for m in (3, 16, 40):
            runs = []
            for use_batch in (True, False):
                t = Twin()
                t.setup("SADD", "s", *[b"m%d" % i for i in range(size)])
                c = t.batch.c
                s = c.db.data[b"s"]
                random.seed(size * 100 + m)
                if use_batch:
                    reply = setmod.spop_batch(c, [[b"SPOP"] * m, [b"s"] * m], m)
                else:
                    reply = b"".join(TABLE[b"spop"].handler(c, [b"SPOP", b"s"]) for _ in range(m))
                runs.append((reply, sorted(s), c.db.data.get(b"s") is s, t.batch.node.dirty))
            assert runs[0] == runs[1], (size, m)


def test_spop_declines_what_it_cannot_do_at_once(monkeypatch):
    taken = count_batches(monkeypatch, b"spop")
    t = SeededTwin()
    t.setup("SET", "str", "v")
    t.setup("SADD", "s", 1, 2)
    assert t.pipeline([[b"SPOP", b"str"]] * 3).count(b"WRONGTYPE") == 3
    t.pipeline([[b"SPOP", b"s", b"1"]] * 3)  # with a count: the handler
    t.setup("SADD", "s", 1, 2, 3, 4)
    t.pipeline([[b"SPOP", b"s"], [b"SPOP", b"t"], [b"SPOP", b"s"]])  # two keys
    t.watch(b"s")
    t.pipeline([[b"SPOP", b"s"]] * 3)
    assert t.batch.watcher.dirty_cas
    assert taken == [False] * 4


def test_spop_with_keyspace_events_runs_request_by_request(monkeypatch):
    taken = count_batches(monkeypatch, b"spop")
    t = SeededTwin(notify=True)
    t.setup("SADD", "s", "a", "b")
    t.pipeline([[b"SPOP", b"s"]] * 3)
    assert [e[0] for e in t.batch.events] == [b"spop", b"spop", b"del"]
    assert taken == [False]


def test_sismember_batches(monkeypatch):
    taken = count_batches(monkeypatch, b"sismember")
    t = SeededTwin()
    t.setup("SADD", "s", "a", "b")
    t.setup("SADD", "u", "c")
    assert t.pipeline([[b"SISMEMBER", b"s", x] for x in (b"a", b"c", b"b")]) == b":1\r\n:0\r\n:1\r\n"
    assert t.pipeline([[b"SISMEMBER", k, b"c"] for k in (b"s", b"u", b"nope", b"u")]) == b":0\r\n:1\r\n:0\r\n:1\r\n"
    assert t.pipeline([[b"SISMEMBER", b"nope", b"c"]] * 3) == b":0\r\n" * 3
    db = t.batch.node.dbs[0]
    assert (db.hits, db.misses) == (6, 4)
    t.setup("SET", "str", "v")
    assert t.pipeline([[b"SISMEMBER", b"str", b"c"]] * 3).count(b"WRONGTYPE") == 3
    assert taken == [True, True, True, False]


def test_a_set_built_by_batches_is_the_set_built_one_by_one():
    t = SeededTwin()
    for i in range(30):
        t.pipeline([[b"SADD", b"s", b"element:%012d" % ((i * 37 + j * 11) % 500)] for j in range(16)])
    sb = t.batch.node.dbs[0].data[b"s"]
    ss = t.single.node.dbs[0].data[b"s"]
    assert isinstance(sb, Set) and list(sb) == list(ss)  # same members, same iteration order
