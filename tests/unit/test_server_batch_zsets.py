"""The sorted-set batch forms (ZADD, ZPOPMIN, ZPOPMAX, ZSCORE, ZCARD) do what their requests do one by one.

Hypothesis draws a starting state (sorted sets of either encoding, other
types under the same keys, TTLs, WATCHers, clients blocked in BZPOPMIN,
keyspace events, RESP2 or RESP3, low listpack limits so that a batch
crosses them) and pipelines of one command; ``Twin`` runs each pipeline at
once on one node and request by request on the other and compares all
that is observable.  Deterministic tests check that the batch forms are
actually taken for the shapes they are meant for, and declined for the
rest.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_server_batch import KEYS, Twin, apply_state

from shardis.keyspace.objects import ZSet
from shardis.server.commandtable import TABLE

keys = st.sampled_from(KEYS)
# a small pool, so that members repeat inside a batch and across batches
members = st.one_of(
    st.sampled_from([b"a", b"b", b"c", b"m1", b"m2", b"element:000000000042", b""]),
    st.binary(min_size=0, max_size=10),
)
valid_scores = st.one_of(
    st.integers(0, 10**12 - 1).map(lambda i: b"%012d" % i),  # redis-benchmark's
    st.integers(-5, 5).map(lambda i: b"%d" % i),
    st.sampled_from([b"1.5", b"-2.25", b"0", b"+0", b"0.0", b"inf", b"-inf", b"+inf", b"0x10", b"9999999999999999"]),
)
scores = st.one_of(
    *[valid_scores] * 10,
    # -0 (stored as 0 in a listpack, kept in a skiplist), and what the handler refuses
    st.sampled_from([b"-0", b"-0.0", b"1e400", b"1e-400", b"nan", b"abc", b"", b" 1", b"1 ", b"NX", b"CH"]),
)

ZADD = st.tuples(st.just(b"ZADD"), keys, scores, members)
ZADD_MANY = st.tuples(st.just(b"ZADD"), keys, scores, members, scores, members)
ZADD_OPT = st.tuples(st.just(b"ZADD"), keys, st.sampled_from([b"NX", b"XX", b"CH", b"GT", b"INCR"]), scores, members)
POP_COUNT = st.sampled_from([b"0", b"1", b"2", b"5", b"-1", b"x"])

CASES = {
    "ZADD": st.one_of(*[ZADD] * 6, ZADD_MANY, ZADD_OPT),
    "ZPOPMIN": st.one_of(*[st.tuples(st.just(b"ZPOPMIN"), keys)] * 3, st.tuples(st.just(b"ZPOPMIN"), keys, POP_COUNT)),
    "ZPOPMAX": st.one_of(*[st.tuples(st.just(b"ZPOPMAX"), keys)] * 3, st.tuples(st.just(b"ZPOPMAX"), keys, POP_COUNT)),
    "ZSCORE": st.tuples(st.just(b"ZSCORE"), keys, members),
    "ZCARD": st.tuples(st.just(b"ZCARD"), keys),
}

# A starting state: the shared kinds (strings, lists, TTLs, watches) and sorted sets.
zstate_ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["string", "list", "ttl", "past-ttl", "watch"]), keys),
        *[st.tuples(st.just("zset"), keys, st.lists(st.tuples(scores, members), min_size=1, max_size=6))] * 2,
        *[st.tuples(st.just("zset-big"), keys, st.integers(1, 40))] * 2,
        st.tuples(st.just("zset-ttl"), keys),
        st.tuples(st.just("bzpop"), keys),
    ),
    max_size=6,
)


def apply_zstate(t: Twin, ops) -> None:
    now = int(time.time() * 1000)
    for op in ops:
        kind, key = op[0], op[1]
        if kind == "zset":
            for s, m in op[2]:
                t.setup("ZADD", key, s, m)  # errors and wrong types included: both sides alike
        elif kind == "zset-big":
            t.setup("DEL", key)
            t.setup("ZADD", key, *[x for i in range(op[2]) for x in (b"%d" % (i * 7 % 11), b"big%d" % i)])
        elif kind == "zset-ttl":
            t.setup("ZADD", key, 1, b"t")
            t.setup("PEXPIREAT", key, now + 100_000)
        elif kind == "bzpop":
            for side in (t.batch, t.single):
                blocked = side.client()
                side.run(blocked, [b"BZPOPMIN", key, b"0"])
                side.blocked.append(blocked)
        else:
            apply_state(t, [op])


def new_twin(notify: bool, resp3: bool, limits) -> Twin:
    t = Twin(notify)
    for side in (t.batch, t.single):
        side.blocked = []
        if limits is not None:
            side.node.config.set_value("zset-max-listpack-entries", limits[0])
            side.node.config.set_value("zset-max-listpack-value", limits[1])
    if resp3:
        t.setup("HELLO", 3)
    return t


def blocked_view(side):
    return [(bytes(c.transport.data), bool(c.blocked)) for c in side.blocked]


def check_sets(side):
    """Every sorted set's SortedList is sound and agrees with its member index."""
    for db in side.node.dbs:
        for v in db.data.values():
            if isinstance(v, ZSet):
                v.sl._check()
                assert len(v.sl) == len(v.dict) > 0
                assert all(v.dict[m] == s for s, m in v.sl)


def shape(req) -> tuple:
    return (req[0], len(req))


limits = st.one_of(st.none(), st.tuples(st.sampled_from([0, 1, 3, 8]), st.sampled_from([0, 2, 8, 64])))


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), notify=st.sampled_from([False, False, True]), resp3=st.booleans(), lim=limits, ops=zstate_ops)
def test_a_zset_pipeline_at_once_equals_its_requests_one_by_one(name, data, notify, resp3, lim, ops):
    t = new_twin(notify, resp3, lim)
    apply_zstate(t, ops)
    for _ in range(data.draw(st.integers(1, 4))):
        first = data.draw(CASES[name])
        if data.draw(st.sampled_from([True, True, False])):
            # redis-benchmark's shape: one key for the whole pipeline
            rest = data.draw(
                st.lists(CASES[name].filter(lambda r: shape(r) == shape(first)).map(lambda r: r[:1] + first[1:2] + r[2:]),
                         min_size=2, max_size=20)
            )
        else:
            rest = data.draw(st.lists(CASES[name].filter(lambda r: shape(r) == shape(first)), max_size=20))
        t.pipeline([list(first)] + [list(r) for r in rest])
        assert blocked_view(t.batch) == blocked_view(t.single)
        check_sets(t.batch)


one_key_pipelines = st.lists(
    st.one_of(
        st.lists(st.tuples(valid_scores, members), min_size=3, max_size=24).map(
            lambda pairs: [[b"ZADD", b"z", s, m] for s, m in pairs]
        ),
        st.tuples(st.sampled_from([b"ZPOPMIN", b"ZPOPMAX"]), st.one_of(st.integers(3, 5), st.integers(3, 24))).map(
            lambda p: [[p[0], b"z"]] * p[1]
        ),
        st.lists(members, min_size=3, max_size=8).map(lambda ms: [[b"ZSCORE", b"z", m] for m in ms]),
        # positional reads build the SortedList's index, which the batch forms then keep or drop
        st.sampled_from([[b"ZRANGE", b"z", b"-3", b"-1"], [b"ZRANGE", b"z", b"7", b"9"], [b"ZRANK", b"z", b"s5"]]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelines=one_key_pipelines, resp3=st.booleans(), lim=limits, seed=st.integers(0, 60),
       load=st.sampled_from([None, 4, 7, 16]))
def test_batches_on_one_key_equal_their_requests(pipelines, resp3, lim, seed, load):
    # the shape the batch forms take: their own rules (new members, repeats,
    # conversions, the key created and emptied) rather than their declines;
    # a small SortedList load factor makes small sets span many sublists,
    # so that batches split, shrink and merge them
    t = new_twin(False, resp3, lim)
    if seed:
        t.setup("ZADD", "z", *[x for i in range(seed) for x in (b"%d" % (i * 37 % 23), b"s%d" % i)])
        if load:
            for side in (t.batch, t.single):
                side.node.dbs[0].data[b"z"].sl._reset(load)
    for reqs in pipelines:
        if len(reqs) > 2 and isinstance(reqs[0], list):
            t.pipeline(reqs)
        else:
            t.setup(*reqs)
        check_sets(t.batch)
        check_sets(t.single)


# --- the batch forms are taken for their shapes, and declined for the rest ----------------------------


@pytest.fixture
def taken(monkeypatch):
    """name -> list of True (the batch form ran the pipeline) / False (it declined), per call."""
    log: dict = {}
    for name in (b"zadd", b"zpopmin", b"zpopmax", b"zscore", b"zcard"):
        cmd = TABLE[name]
        if cmd.batch is None:
            continue
        runs = log.setdefault(name.decode(), [])

        def spy(c, columns, m, _fn=cmd.batch, _runs=runs):
            r = _fn(c, columns, m)
            _runs.append(r is not None)
            return r

        monkeypatch.setattr(cmd, "batch", spy)
    return log


def zadds(key, pairs):
    return [[b"ZADD", key, s, m] for s, m in pairs]


def test_zadd_batch_counts_new_members_per_request(taken):
    t = Twin()
    t.setup("ZADD", "z", 5, "old")
    reqs = zadds(b"z", [(b"1", b"a"), (b"2", b"b"), (b"5", b"old"), (b"3", b"a"), (b"6", b"old"), (b"1", b"c")])
    assert t.pipeline(reqs) == b":1\r\n:1\r\n:0\r\n:0\r\n:0\r\n:1\r\n"
    z = t.batch.node.dbs[0].data[b"z"]
    assert list(z.sl) == [(1.0, b"c"), (2.0, b"b"), (3.0, b"a"), (6.0, b"old")]
    assert t.batch.node.dirty == t.single.node.dirty == 1 + 5  # the setup, then all but "5 old"
    # a member repeated, no score changing: nothing to do
    assert t.pipeline(zadds(b"z", [(b"1", b"c"), (b"2", b"b"), (b"1", b"c")])) == b":0\r\n" * 3
    assert t.batch.node.dirty == 6
    # distinct members, the benchmark's shape: new ones, moved ones, unchanged ones
    reqs = zadds(b"z", [(b"000000000007", b"element:%012d" % i) for i in range(10)] + [(b"6", b"old"), (b"9", b"b")])
    assert t.pipeline(reqs) == b":1\r\n" * 10 + b":0\r\n:0\r\n"
    assert taken["zadd"] == [True, True, True]
    assert t.uniform_runs == 3


def test_zadd_batch_creates_the_key_and_converts_at_the_limits(taken):
    t = Twin()
    for side in (t.batch, t.single):
        side.node.config.set_value("zset-max-listpack-entries", 4)
    t.pipeline(zadds(b"z", [(b"1", b"a"), (b"2", b"b"), (b"3", b"c")]))
    assert t.batch.node.dbs[0].data[b"z"].encoding == b"listpack"
    t.pipeline(zadds(b"z", [(b"4", b"d"), (b"5", b"a"), (b"6", b"b")]))  # 4 members: still a listpack
    assert t.batch.node.dbs[0].data[b"z"].encoding == b"listpack"
    t.pipeline(zadds(b"z", [(b"1", b"a"), (b"5", b"e"), (b"6", b"f")]))  # a fifth member
    assert t.batch.node.dbs[0].data[b"z"].encoding == b"skiplist"
    t.pipeline(zadds(b"y", [(b"1", b"a"), (b"2", b"b" * 65), (b"3", b"c")]))  # a member past the value limit
    assert t.batch.node.dbs[0].data[b"y"].encoding == b"skiplist"
    assert taken["zadd"] == [True] * 4


def test_zadd_batch_declines_errors_options_and_special_keys(taken):
    t = Twin(notify=False)
    t.setup("SET", "s", "x")
    t.setup("ZADD", "ttl", 1, "a")
    t.setup("EXPIRE", "ttl", 1000)
    t.setup("ZADD", "w", 1, "a")
    cases = [
        zadds(b"z", [(b"1", b"a"), (b"nan", b"b"), (b"2", b"c")]),  # one bad score
        zadds(b"z", [(b"1", b"a"), (b"-0", b"b"), (b"2", b"c")]),  # -0
        zadds(b"s", [(b"1", b"a"), (b"2", b"b"), (b"3", b"c")]),  # WRONGTYPE
        zadds(b"ttl", [(b"1", b"a"), (b"2", b"b"), (b"3", b"c")]),  # TTL
        [[b"ZADD", b"z", b"1", b"a"], [b"ZADD", b"z2", b"1", b"a"], [b"ZADD", b"z", b"2", b"b"]],  # keys differ
        [[b"ZADD", b"z", b"NX", b"1", b"a"]] * 3,  # an option
    ]
    for reqs in cases:
        t.pipeline(reqs)
    t.watch(b"w")
    t.pipeline(zadds(b"w", [(b"1", b"a"), (b"2", b"b"), (b"3", b"c")]))
    assert t.batch.watcher.dirty_cas and t.single.watcher.dirty_cas
    assert taken["zadd"] == [False] * 7


def test_zadd_batch_declines_when_a_client_waits_on_the_key(taken):
    t = Twin()
    for side in (t.batch, t.single):
        side.blocked = [side.client()]
        side.run(side.blocked[0], [b"BZPOPMIN", b"z", b"0"])
    t.pipeline(zadds(b"z", [(b"1", b"a"), (b"2", b"b"), (b"3", b"c")]))
    for side in (t.batch, t.single):
        assert bytes(side.blocked[0].transport.data) == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
        assert list(side.node.dbs[0].data[b"z"].sl) == [(2.0, b"b"), (3.0, b"c")]
    assert taken["zadd"] == [False]


@pytest.mark.parametrize("resp3", [False, True])
@pytest.mark.parametrize("cmd", [b"ZPOPMIN", b"ZPOPMAX"])
def test_zpop_batch_pops_in_order_and_deletes_the_emptied_key(taken, resp3, cmd):
    t = Twin()
    if resp3:
        t.setup("HELLO", 3)
    t.setup("ZADD", "z", 1, "a", 2.5, "b", "-inf", "c", "inf", "d", 1e-300, "e", "0.1", "f")
    got = t.pipeline([[cmd, b"z"]] * 3)
    order = [(b"c", b"-inf"), (b"a", b"1"), (b"e", b"1e-300"), (b"f", b"0.10000000000000001"), (b"b", b"2.5"), (b"d", b"inf")]
    order.sort(key=lambda e: float(e[1]))
    if cmd == b"ZPOPMAX":
        order.reverse()

    def frame(m, s):
        return b"*2\r\n$%d\r\n%b\r\n" % (len(m), m) + (b",%b\r\n" % s if resp3 else b"$%d\r\n%b\r\n" % (len(s), s))

    assert got == b"".join(frame(m, s) for m, s in order[:3])
    got = t.pipeline([[cmd, b"z"]] * 5)  # three left: the third pop deletes the key
    assert got == b"".join(frame(m, s) for m, s in order[3:]) + b"*0\r\n" * 2
    assert b"z" not in t.batch.node.dbs[0].data
    assert t.pipeline([[cmd, b"z"]] * 3) == b"*0\r\n" * 3
    assert taken[cmd.decode().lower()] == [True] * 3


def test_zpop_batch_over_a_large_set(taken):
    t = Twin()
    for i in range(0, 3000, 500):
        t.setup("ZADD", "z", *[x for j in range(i, i + 500) for x in (b"%d" % (j * 7919 % 3001), b"m%d" % j)])
    for _ in range(20):
        t.pipeline([[b"ZPOPMIN", b"z"]] * 16)
        t.pipeline([[b"ZPOPMAX", b"z"]] * 16)
    check_sets(t.batch)
    assert len(t.batch.node.dbs[0].data[b"z"]) == 3000 - 640
    assert taken["zpopmin"] == [True] * 20 and taken["zpopmax"] == [True] * 20


def test_zpop_batch_declines_counts_wrong_types_and_watched_keys(taken):
    t = Twin()
    t.setup("SET", "s", "x")
    t.setup("ZADD", "w", 1, "a", 2, "b", 3, "c", 4, "d")
    t.pipeline([[b"ZPOPMIN", b"s"]] * 3)
    t.pipeline([[b"ZPOPMIN", b"w", b"1"]] * 3)
    t.watch(b"w")
    t.pipeline([[b"ZPOPMIN", b"w"]] * 3)
    assert t.batch.watcher.dirty_cas
    assert taken["zpopmin"] == [False] * 3


# --- the SortedList helpers against SortedList's own operations ----------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    load=st.sampled_from([4, 5, 8, 1000]),
    start=st.lists(st.integers(0, 300), unique=True, max_size=200),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("insert"), st.lists(st.integers(0, 300), max_size=12)),
            # clustered: into one sublist, over and over, until it splits
            st.tuples(st.just("insert"), st.integers(0, 300).flatmap(lambda b: st.lists(st.integers(b, b + 30), max_size=12))),
            st.tuples(st.sampled_from(["head", "tail"]), st.integers(1, 12)),
            st.tuples(st.just("index"), st.integers(0, 300)),
        ),
        max_size=20,
    ),
)
def test_sortedlist_helpers_keep_its_layout_sound(load, start, steps):
    from shardis.commands.zsets import _sl_insert, _sl_take
    from sortedcontainers import SortedList

    sl = SortedList()
    sl._reset(load)
    sl.update((float(i), b"m%d" % i) for i in start)
    ref = sorted(sl)
    for kind, arg in steps:
        if kind == "insert":
            new = sorted({(float(i), b"m%d" % i) for i in arg} - set(ref))
            _sl_insert(sl, new[::-1])  # in no particular order
            ref = sorted(ref + new)
        elif kind == "index":
            if ref:
                assert sl[arg % len(ref)] == ref[arg % len(ref)]  # builds the positional index
        elif ref:
            k = min(arg, len(ref))
            got = _sl_take(sl, k, kind == "tail")
            want = ref[:k] if kind == "head" else ref[-k:][::-1]
            ref = ref[k:] if kind == "head" else ref[:-k]
            assert got == want
        sl._check()
        assert list(sl) == ref and len(sl) == len(ref)
        if ref:
            assert sl.index(ref[-1]) == len(ref) - 1 and sl[len(ref) // 2] == ref[len(ref) // 2]


def test_batches_keep_the_slot_index_of_created_and_deleted_keys(taken):
    from shardis.cluster.index import SlotIndex

    t = Twin()
    for side in (t.batch, t.single):
        side.node.dbs[0].slot_index = SlotIndex()
    t.pipeline(zadds(b"{a}z", [(b"1", b"x"), (b"2", b"y"), (b"3", b"x")]))
    indexes = [side.node.dbs[0].slot_index.by_slot for side in (t.batch, t.single)]
    assert indexes[0] == indexes[1] and any(b"{a}z" in keys for keys in indexes[0].values())
    t.pipeline([[b"ZPOPMIN", b"{a}z"]] * 3)
    assert indexes[0] == indexes[1] == {}
    assert taken["zadd"] == [True] and taken["zpopmin"] == [True]


@pytest.mark.parametrize("resp3", [False, True])
def test_zscore_and_zcard_batches_read_with_lookup_accounting(taken, resp3):
    t = Twin()
    if resp3:
        t.setup("HELLO", 3)
    t.setup("ZADD", "z", "-0", "neg", 1.5, "a", "inf", "b")  # a listpack writes -0 as 0
    t.setup("ZADD", "y", 3, "c")
    got = t.pipeline([[b"ZSCORE", b"z", m] for m in (b"a", b"b", b"nope", b"neg")] + [[b"ZSCORE", b"missing", b"a"]])
    if resp3:
        assert got == b",1.5\r\n,inf\r\n_\r\n,0\r\n_\r\n"
    else:
        assert got == b"$3\r\n1.5\r\n$3\r\ninf\r\n$-1\r\n$1\r\n0\r\n$-1\r\n"
    assert t.pipeline([[b"ZCARD", k] for k in (b"z", b"y", b"missing", b"z")]) == b":3\r\n:1\r\n:0\r\n:3\r\n"
    db = t.batch.node.dbs[0]
    assert (db.hits, db.misses) == (4 + 3, 1 + 1)
    t.setup("SET", "s", "x")
    t.pipeline([[b"ZCARD", b"z"], [b"ZCARD", b"s"], [b"ZCARD", b"y"]])  # WRONGTYPE: declined
    assert taken["zscore"] == [True] and taken["zcard"] == [True, False]
