"""The batch forms of HSET and HGET do what their requests do one by one.

Built on test_server_batch's ``Twin`` (two nodes set up alike, one given the
pipeline through run_uniform, the other request by request, everything
observable compared, a hash's encoding and field order included).  States
are drawn with hashes of both encodings, low listpack limits so that a
batch crosses them (by field count and by field/value length), hashes
large enough for the sampling side index (HRANDFIELD), and the shapes the
batch forms decline (other types, TTLs, WATCHed keys, keyspace events,
several keys, an odd argument count).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.cluster.index import SlotIndex
from shardis.protocol import resp
from shardis.commands import sets as side_index
from shardis.server.commandtable import TABLE
from test_server_batch import KEYS, Twin, apply_state
from test_server_batch_sets import SeededTwin, count_batches

HASH_KINDS = ["hash", "bighash", "longval", "sample", "set", "del"]
BASE_KINDS = ["string", "list", "ttl", "past-ttl", "watch"]

hash_state_ops = st.lists(
    st.tuples(st.sampled_from(HASH_KINDS * 3 + BASE_KINDS), st.sampled_from(KEYS)), max_size=6
)

LONG = b"v" * 70  # longer than hash-max-listpack-value's default (64)


def apply_hash_state(t: Twin, ops) -> None:
    base = []
    for kind, key in ops:
        if kind in BASE_KINDS:
            base.append((kind, key))
            continue
        apply_state(t, base)
        base = []
        if kind == "hash":
            t.setup("HSET", key, "f1", "v1", "f2", "v2")
        elif kind == "bighash":
            t.setup("HSET", key, *[b"element:%012d" % (i // 2) if i % 2 == 0 else b"x" for i in range(320)])
        elif kind == "longval":
            t.setup("HSET", key, "f3", LONG)
        elif kind == "sample":
            t.setup("HRANDFIELD", key)  # a hash of 128 fields or more gets its sampling side index
        elif kind == "set":
            t.setup("DEL", key)
            t.setup("SADD", key, "a")
        elif kind == "del":
            t.setup("DEL", key)
    apply_state(t, base)


fields = st.one_of(
    st.sampled_from([b"f1", b"f2", b"f3", b"f4", b"", b"x" * 10]),
    st.integers(0, 170).map(lambda i: b"element:%012d" % i),
)
values = st.one_of(st.sampled_from([b"", b"x", b"xxx", b"12", LONG]), st.binary(max_size=12))


@st.composite
def hash_pipeline(draw):
    """3 to 24 requests of one command and shape, on one key (mostly) or on several."""
    kind = draw(st.sampled_from(["hset1", "hset1", "hsetn", "hsetodd", "hget", "hget"]))
    one_key = draw(st.sampled_from([True, True, True, False]))
    key0 = draw(st.sampled_from(KEYS))
    keys = st.just(key0) if one_key else st.sampled_from(KEYS)
    m = draw(st.integers(3, 24))
    npairs = draw(st.sampled_from([2, 3, 11]))  # 11: more than one digit per reply
    out = []
    for _ in range(m):
        key = draw(keys)
        if kind == "hset1":
            out.append([b"HSET", key, draw(fields), draw(values)])
        elif kind == "hsetn":
            pairs = [a for _ in range(npairs) for a in (draw(fields), draw(values))]
            out.append([b"HSET", key] + pairs)
        elif kind == "hsetodd":
            out.append([b"HSET", key, draw(fields), draw(values), draw(fields)])
        else:
            out.append([b"HGET", key, draw(fields)])
    return out


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    notify=st.sampled_from([False, False, False, True]),
    ops=hash_state_ops,
    max_entries=st.sampled_from([512, 512, 4, 1, 0]),
    max_value=st.sampled_from([64, 64, 3, 0]),
    resp3=st.booleans(),
)
def test_hash_pipelines_at_once_equal_their_requests_one_by_one(data, notify, ops, max_entries, max_value, resp3):
    t = SeededTwin(notify)
    t.setup("CONFIG", "SET", "hash-max-listpack-entries", max_entries)
    t.setup("CONFIG", "SET", "hash-max-listpack-value", max_value)
    if resp3:
        t.setup("HELLO", "3")
    apply_hash_state(t, ops)
    for _ in range(data.draw(st.integers(1, 4))):
        t.pipeline(data.draw(hash_pipeline()))


# --- the batch forms are taken, and do what the handler does --------------------------------------------


def test_batch_forms_are_declared():
    assert TABLE[b"hset"].batch is not None and TABLE[b"hget"].batch is not None


def test_hset_benchmark_shape_creates_the_hash_then_sets_fields(monkeypatch):
    taken = count_batches(monkeypatch, b"hset")
    t = Twin()
    first = [[b"HSET", b"myhash", b"element:%012d" % i, b"xxx"] for i in (5, 6, 5, 7)]
    assert t.pipeline(first) == b":1\r\n:1\r\n:0\r\n:1\r\n"
    more = [[b"HSET", b"myhash", b"element:%012d" % i, b"v%d" % i] for i in (7, 8, 9, 8)]
    assert t.pipeline(more) == b":0\r\n:1\r\n:1\r\n:0\r\n"
    assert taken == [True, True]
    db = t.batch.node.dbs[0]
    h = db.data[b"myhash"]
    assert h.encoding == b"listpack"
    assert list(h.items()) == [(b"element:%012d" % i, v) for i, v in ((5, b"xxx"), (6, b"xxx"), (7, b"v7"),
                                                                         (8, b"v8"), (9, b"v9"))]
    assert t.batch.node.dirty == 8 and db.access[b"myhash"] == t.batch.node.lru_clock


def test_hset_with_several_pairs_counts_per_request(monkeypatch):
    taken = count_batches(monkeypatch, b"hset")
    t = Twin()
    reqs = [[b"HSET", b"h", b"a", b"1", b"b", b"2"], [b"HSET", b"h", b"b", b"3", b"c", b"4"],
            [b"HSET", b"h", b"d", b"5", b"d", b"6"]]
    assert t.pipeline(reqs) == b":2\r\n:1\r\n:1\r\n"
    assert list(t.batch.node.dbs[0].data[b"h"].items()) == [(b"a", b"1"), (b"b", b"3"), (b"c", b"4"), (b"d", b"6")]
    assert t.batch.node.dirty == 6
    wide = [[b"HSET", b"w"] + [a for j in range(11) for a in (b"f%d" % (i * 2 + j), b"v")] for i in range(3)]
    assert t.pipeline(wide) == b":11\r\n:2\r\n:2\r\n"
    # (requests that wide are batched when split_uniform takes that many arguments)
    assert taken == [True] + [True] * (len(wide[0]) <= resp.UNIFORM_MAX_ARGS)


def test_hset_crosses_the_listpack_limits_inside_a_batch(monkeypatch):
    taken = count_batches(monkeypatch, b"hset")
    t = Twin()
    t.setup("CONFIG", "SET", "hash-max-listpack-entries", 4)
    t.setup("CONFIG", "SET", "hash-max-listpack-value", 8)
    db = t.batch.node.dbs[0]
    t.pipeline([[b"HSET", b"h", b"f%d" % i, b"v"] for i in range(4)])
    assert db.data[b"h"].encoding == b"listpack"
    t.pipeline([[b"HSET", b"h", b"f%d" % i, b"w"] for i in range(4)])  # updates only
    assert db.data[b"h"].encoding == b"listpack"
    t.pipeline([[b"HSET", b"h", b"f%d" % i, b"w"] for i in range(3, 6)])  # a fifth field
    assert db.data[b"h"].encoding == b"hashtable"
    t.pipeline([[b"HSET", b"g", b"f%d" % i, b"v"] for i in range(2)] + [[b"HSET", b"g", b"f0", b"123456789"]])
    assert db.data[b"g"].encoding == b"hashtable"  # a value longer than 8, even on an update
    t.pipeline([[b"HSET", b"k", b"f%d" % i, b"v"] for i in range(2)] + [[b"HSET", b"k", b"f123456789", b"v"]])
    assert db.data[b"k"].encoding == b"hashtable"  # a field longer than 8
    # the limit lowered below the size of a listpack hash: updates keep it, a new field converts it
    t.setup("CONFIG", "SET", "hash-max-listpack-entries", 1)
    t.pipeline([[b"HSET", b"n", b"a", b"1"]] * 3)
    t.setup("HSET", "m", "a", "1", "b", "2")
    assert db.data[b"m"].encoding == b"hashtable"
    t.setup("CONFIG", "SET", "hash-max-listpack-entries", 4)
    t.setup("HSET", "p", "a", "1", "b", "2", "c", "3")
    t.setup("CONFIG", "SET", "hash-max-listpack-entries", 1)
    t.pipeline([[b"HSET", b"p", b"a", b"9"]] * 3)
    assert db.data[b"p"].encoding == b"listpack"
    t.pipeline([[b"HSET", b"p", b"a", b"9"], [b"HSET", b"p", b"z", b"9"], [b"HSET", b"p", b"a", b"8"]])
    assert db.data[b"p"].encoding == b"hashtable"
    assert taken == [True] * 8


def test_hset_keeps_the_sampling_side_index_exact(monkeypatch):
    taken = count_batches(monkeypatch, b"hset")
    t = SeededTwin()
    t.setup("HSET", "h", *[a for i in range(150) for a in (b"f%d" % i, b"v")])
    t.setup("HRANDFIELD", "h")
    t.pipeline([[b"HSET", b"h", b"n%d" % (i % 4), b"v"] for i in range(7)])
    for side in (t.batch, t.single):
        h = side.node.dbs[0].data[b"h"]
        track = side_index._TRACKED[id(h)]
        assert track.items[150:] == [b"n0", b"n1", b"n2", b"n3"] and set(track.items) == set(h)
    t.pipeline([[b"HRANDFIELD", b"h"]] * 5)  # drawn through the index: the same fields on both sides
    assert taken == [True]


def test_hset_declines_what_it_cannot_do_at_once(monkeypatch):
    taken = count_batches(monkeypatch, b"hset")
    t = Twin()
    t.setup("SADD", "s", "a")
    assert t.pipeline([[b"HSET", b"s", b"f", b"v"]] * 3).count(b"WRONGTYPE") == 3
    t.pipeline([[b"HSET", b"h", b"f", b"v"], [b"HSET", b"g", b"f", b"v"], [b"HSET", b"h", b"f", b"v"]])
    reply = t.pipeline([[b"HSET", b"h", b"f", b"v", b"g"]] * 3)
    assert reply == b"-ERR wrong number of arguments for 'hset' command\r\n" * 3
    t.setup("EXPIRE", "h", 100)
    t.pipeline([[b"HSET", b"h", b"f", b"w"]] * 3)
    t.watch(b"w")
    t.pipeline([[b"HSET", b"w", b"f", b"v"]] * 3)
    assert t.batch.watcher.dirty_cas and t.single.watcher.dirty_cas
    assert taken == [False] * 5


def test_hset_with_keyspace_events_runs_request_by_request(monkeypatch):
    taken = count_batches(monkeypatch, b"hset")
    t = Twin(notify=True)
    t.pipeline([[b"HSET", b"h", b"f%d" % i, b"v"] for i in range(3)])
    assert [e[0] for e in t.batch.events] == [b"new", b"hset", b"hset", b"hset"]
    assert taken == [False]


def test_hset_creates_keys_in_the_slot_index(monkeypatch):
    taken = count_batches(monkeypatch, b"hset")
    t = Twin()
    for side in (t.batch, t.single):
        side.node.dbs[0].slot_index = SlotIndex()
    t.pipeline([[b"HSET", b"{a}h", b"f%d" % i, b"v"] for i in range(3)])
    for side in (t.batch, t.single):
        idx = side.node.dbs[0].slot_index
        assert [k for keys in idx.by_slot.values() for k in keys] == [b"{a}h"]
    assert taken == [True]


def test_hget_batches(monkeypatch):
    taken = count_batches(monkeypatch, b"hget")
    t = Twin()
    t.setup("HSET", "h", "a", "1", "b", "22")
    t.setup("HSET", "g", "c", "333")
    assert t.pipeline([[b"HGET", b"h", f] for f in (b"a", b"c", b"b")]) == b"$1\r\n1\r\n$-1\r\n$2\r\n22\r\n"
    assert t.pipeline([[b"HGET", b"h", f] for f in (b"a", b"a", b"a")]) == b"$1\r\n1\r\n" * 3
    assert t.pipeline([[b"HGET", k, b"c"] for k in (b"h", b"g", b"nope", b"g")]) == b"$-1\r\n$3\r\n333\r\n$-1\r\n$3\r\n333\r\n"
    assert t.pipeline([[b"HGET", b"nope", b"c"]] * 3) == b"$-1\r\n" * 3
    db = t.batch.node.dbs[0]
    assert (db.hits, db.misses) == (9, 4)
    t.setup("HELLO", "3")
    assert t.pipeline([[b"HGET", b"h", f] for f in (b"a", b"c", b"b")]) == b"$1\r\n1\r\n_\r\n$2\r\n22\r\n"
    t.setup("SET", "str", "v")
    assert t.pipeline([[b"HGET", b"str", b"c"]] * 3).count(b"WRONGTYPE") == 3
    assert t.pipeline([[b"HGET", b"h", b"c"], [b"HGET", b"str", b"c"], [b"HGET", b"h", b"c"]]).count(b"WRONGTYPE") == 1
    assert taken == [True] * 5 + [False, False]
