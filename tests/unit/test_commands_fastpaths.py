"""The handlers' fast paths do what their general paths do.

LPUSH/RPUSH/LPOP/RPOP, SADD, SPOP, HSET, ZADD, ZPOPMIN and INCR each have a
flat path for their most common shape (one element, a container that
exists and stays non-empty, no conversion to consider).  Those paths skip
helpers, so each side effect is checked here for both shapes of every
command: the reply, keyspace events, the dirty counter, WATCH, the
propagated argv, and -- for the replies built differently (LRANGE's join,
ZPOPMIN's score text) -- byte equality with the general encoders.  The
replies themselves are also compared with redis-server by the integration
tests.
"""

from __future__ import annotations

import time

import pytest

from shardis.commands import lists as L
from shardis.commands import zsets as Z
from shardis.commands.sets import pop_random_member
from shardis.keyspace.objects import Set
from shardis.protocol.resp import RESP3, bulk_array, format_double
from shardis.server.connection import Client

from test_commands_keys import Harness  # noqa: E402  (same directory)

LONG = "v" * 100  # longer than every listpack value limit: forces hashtable/skiplist encodings


@pytest.fixture
def h():
    return Harness()


def watcher(h, key):
    """A second client WATCHing ``key``; its dirty_cas tells whether the key was touched."""
    w = Client(h.node)
    w.db = h.db
    h.db.watched.setdefault(key.encode(), set()).add(w)
    return w


def check(h, args, reply, events, dirty, propagated=None, touched=True):
    key = args[1]
    w = watcher(h, key)
    got = h.run(*args)
    assert got[0] == reply
    assert got[1] == [(e, key.encode(), 0) for e in events]
    assert got[2] == dirty
    assert got[3] == (propagated if propagated is not None else [[a.encode() for a in args]] if dirty else [])
    assert w.dirty_cas is touched


# --- lists ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd, event", [("LPUSH", b"lpush"), ("RPUSH", b"rpush")])
def test_push(h, cmd, event):
    check(h, (cmd, "l", "a"), b":1\r\n", [b"new", event], 1)  # creates: general path
    check(h, (cmd, "l", "b"), b":2\r\n", [event], 1)  # fast path
    check(h, (cmd, "l", "c", "d"), b":4\r\n", [event], 2)  # several: general path
    expected = [b"d", b"c", b"b", b"a"] if cmd == "LPUSH" else [b"a", b"b", b"c", b"d"]
    assert list(h.db.data[b"l"]) == expected
    h("SET", "s", "x")
    check(h, (cmd, "s", "a"), b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
          [], 0, touched=False)


@pytest.mark.parametrize("cmd, event", [("LPOP", b"lpop"), ("RPOP", b"rpop")])
def test_pop(h, cmd, event):
    h("RPUSH", "l", "a", "b", "c")
    first, last = (b"a", b"c") if cmd == "LPOP" else (b"c", b"a")
    check(h, (cmd, "l"), b"$1\r\n%b\r\n" % first, [event], 1)  # fast path: stays non-empty
    check(h, (cmd, "l"), b"$1\r\nb\r\n", [event], 1)
    check(h, (cmd, "l"), b"$1\r\n%b\r\n" % last, [event, b"del"], 1)  # empties: general path
    assert b"l" not in h.db.data
    check(h, (cmd, "l"), b"$-1\r\n", [], 0, touched=False)


def test_lrange_reply_is_the_general_encoding():
    for items in ([], [b"a"], [b"xxx"] * 100, [b"", b"ab" * 600, b"z"], [b"x" * 1023], [b"x" * 1024],
                  [bytearray(b"q"), b"\r\n"]):
        assert L._elements_reply(items) == bulk_array(items)


def test_lrange_and_counted_pops(h):
    h("RPUSH", "l", *[f"e{i}" for i in range(150)], "w" * 2000)
    assert h("LRANGE", "l", "0", "99") == bulk_array([b"e%d" % i for i in range(100)])
    assert h("LRANGE", "l", "-2", "-1") == bulk_array([b"e149", b"w" * 2000])
    assert h("LPOP", "l", "3") == bulk_array([b"e0", b"e1", b"e2"])
    assert h("LMPOP", "1", "l", "RIGHT", "COUNT", "2") == b"*2\r\n$1\r\nl\r\n" + bulk_array([b"w" * 2000, b"e149"])


# --- sets -----------------------------------------------------------------------------------------


def test_sadd(h):
    check(h, ("SADD", "s", "a"), b":1\r\n", [b"new", b"sadd"], 1)  # creates
    check(h, ("SADD", "s", "b"), b":1\r\n", [b"sadd"], 1)  # hashtable, new member: fast path
    check(h, ("SADD", "s", "b"), b":0\r\n", [], 0, touched=False)  # present: no change at all
    check(h, ("SADD", "s", "c", "d"), b":2\r\n", [b"sadd"], 2)
    assert h.db.data[b"s"] == {b"a", b"b", b"c", b"d"}
    check(h, ("SADD", "i", "1"), b":1\r\n", [b"new", b"sadd"], 1)  # intset: general path
    check(h, ("SADD", "i", "x"), b":1\r\n", [b"sadd"], 1)
    assert h.db.data[b"i"].encoding == b"hashtable"


def test_spop_propagates_srem(h):
    h("SADD", "s", "a", "b", "c")
    w = watcher(h, "s")
    reply, events, dirty, prop = h.run("SPOP", "s")  # fast path
    m = reply.split(b"\r\n")[1]
    assert m in (b"a", b"b", b"c") and m not in h.db.data[b"s"]
    assert (events, dirty, prop, w.dirty_cas) == ([(b"spop", b"s", 0)], 1, [[b"SREM", b"s", m]], True)
    h.run("SPOP", "s")
    reply, events, dirty, prop = h.run("SPOP", "s")  # the last one: general path
    m = reply.split(b"\r\n")[1]
    assert (events, dirty, prop) == ([(b"spop", b"s", 0), (b"del", b"s", 0)], 1, [[b"SREM", b"s", m]])
    assert b"s" not in h.db.data


def test_spop_leaves_no_rewrite_without_propagation():
    h = Harness()
    h.node.propagate_hooks = []
    h("SADD", "s", "a", "b", "c")
    h("SPOP", "s")
    assert getattr(h.c, "propagate_argv", None) is None


def test_pop_random_member_keeps_the_side_index_exact():
    s = Set(b"m%d" % i for i in range(300))
    seen = set()
    while len(s) > 1:
        m = pop_random_member(s)
        assert m not in s and m not in seen
        seen.add(m)
    assert len(seen) == 299


# --- hashes ---------------------------------------------------------------------------------------


def test_hset(h):
    check(h, ("HSET", "h", "f", LONG), b":1\r\n", [b"new", b"hset"], 1)  # creates, converts
    assert h.db.data[b"h"].encoding == b"hashtable"
    check(h, ("HSET", "h", "g", "1"), b":1\r\n", [b"hset"], 1)  # fast path, new field
    check(h, ("HSET", "h", "g", "1"), b":0\r\n", [b"hset"], 1)  # fast path, same value: still a write
    check(h, ("HSET", "h", "g", "2", "k", "3"), b":1\r\n", [b"hset"], 2)
    assert dict(h.db.data[b"h"]) == {b"f": LONG.encode(), b"g": b"2", b"k": b"3"}
    check(h, ("HSET", "small", "f", "1"), b":1\r\n", [b"new", b"hset"], 1)  # creates a listpack
    check(h, ("HSET", "small", "g", "2"), b":1\r\n", [b"hset"], 1)  # fits: fast path
    check(h, ("HSET", "small", "g", "3"), b":0\r\n", [b"hset"], 1)
    assert h.db.data[b"small"].encoding == b"listpack"
    check(h, ("HSET", "small", "f", LONG), b":0\r\n", [b"hset"], 1)  # too long a value: converts
    assert h.db.data[b"small"].encoding == b"hashtable"


def test_hset_listpack_entries_limit():
    h = Harness(hash_max_listpack_entries=3)
    for i in range(3):
        check(h, ("HSET", "h", f"f{i}", "v"), b":1\r\n", [b"new", b"hset"] if i == 0 else [b"hset"], 1)
    assert h.db.data[b"h"].encoding == b"listpack"
    check(h, ("HSET", "h", "f0", "w"), b":0\r\n", [b"hset"], 1)  # present: still fits
    assert h.db.data[b"h"].encoding == b"listpack"
    check(h, ("HSET", "h", "f3", "v"), b":1\r\n", [b"hset"], 1)  # a fourth field: converts
    assert h.db.data[b"h"].encoding == b"hashtable"
    check(h, ("HSET", "k", "f", "x" * 64), b":1\r\n", [b"new", b"hset"], 1)  # at the value limit
    check(h, ("HSET", "k", "x" * 64, "v"), b":1\r\n", [b"hset"], 1)
    assert h.db.data[b"k"].encoding == b"listpack"
    check(h, ("HSET", "k", "x" * 65, "v"), b":1\r\n", [b"hset"], 1)
    assert h.db.data[b"k"].encoding == b"hashtable"


# --- sorted sets ----------------------------------------------------------------------------------


def test_zadd(h):
    check(h, ("ZADD", "z", "1", LONG), b":1\r\n", [b"new", b"zadd"], 1)  # creates a skiplist
    assert h.db.data[b"z"].encoding == b"skiplist"
    check(h, ("ZADD", "z", "2", "m"), b":1\r\n", [b"zadd"], 1)  # fast path, insert
    check(h, ("ZADD", "z", "3", "m"), b":0\r\n", [b"zadd"], 1)  # fast path, update
    check(h, ("ZADD", "z", "3", "m"), b":0\r\n", [], 0, touched=False)  # same score: nothing
    assert list(h.db.data[b"z"]) == [(1.0, LONG.encode()), (3.0, b"m")]
    check(h, ("ZADD", "lp", "5", "a"), b":1\r\n", [b"new", b"zadd"], 1)
    check(h, ("ZADD", "lp", "0", "b"), b":1\r\n", [b"zadd"], 1)  # listpack: limits applied
    assert h.db.data[b"lp"].encoding == b"listpack"


@pytest.mark.parametrize("resp3", [False, True])
def test_zpopmin(h, resp3):
    if resp3:
        h.c.resp = RESP3
    h("ZADD", "z", "1.5", "a", "2", "b", "-0", "c")
    c_score = b"$1\r\n0\r\n" if not resp3 else b",0\r\n"  # a listpack stores -0 as 0
    check(h, ("ZPOPMIN", "z"), b"*2\r\n$1\r\nc\r\n" + c_score, [b"zpopmin"], 1)  # fast path
    a_score = b"$3\r\n1.5\r\n" if not resp3 else b",1.5\r\n"
    check(h, ("ZPOPMIN", "z"), b"*2\r\n$1\r\na\r\n" + a_score, [b"zpopmin"], 1)
    b_score = b"$1\r\n2\r\n" if not resp3 else b",2\r\n"
    check(h, ("ZPOPMAX", "z"), b"*2\r\n$1\r\nb\r\n" + b_score, [b"zpopmax", b"del"], 1)  # empties it
    assert b"z" not in h.db.data


def test_score_text_is_format_double():
    for d in (0.0, -0.0, 1.5, 2.0, -3.25, 1e17, 1e300, 5e-324, 0.1, float("inf"), float("-inf"), float("nan")):
        assert Z.score_text(d) == format_double(d)


# --- strings --------------------------------------------------------------------------------------


def test_incr(h):
    check(h, ("INCR", "n"), b":1\r\n", [b"new", b"incrby"], 1, propagated=[[b"INCR", b"n"]])
    check(h, ("INCR", "n"), b":2\r\n", [b"incrby"], 1)  # fast path
    when = int(time.time() * 1000) + 3_600_000
    h.db.set_expire(b"n", when)
    check(h, ("INCR", "n"), b":3\r\n", [b"incrby"], 1)
    assert h.db.get_expire(b"n") == when  # the TTL stays
    h("SET", "big", "9" * 18)
    check(h, ("INCR", "big"), b":1%s\r\n" % (b"0" * 18), [b"incrby"], 1)
    h("SET", "neg", "-5")
    check(h, ("INCR", "neg"), b":-4\r\n", [b"incrby"], 1)  # general path
    for text in ("007", "+1", " 1", "9" * 19, "1.0"):
        h("SET", "bad", text)
        check(h, ("INCR", "bad"), b"-ERR value is not an integer or out of range\r\n", [], 0, touched=False)
    h("SET", "max", str(2**63 - 1))
    check(h, ("INCR", "max"), b"-ERR increment or decrement would overflow\r\n", [], 0, touched=False)
