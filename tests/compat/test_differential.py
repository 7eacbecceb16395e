"""Differential tests: shardis against redis-server 7.0, byte for byte.

Two parts:

* Command sequences drawn by hypothesis over a small key space run on both
  servers; every reply must be byte-equal (after the normalisers of
  shardis.testing.differential for replies that legitimately vary, such as
  remaining TTLs).  Hypothesis shrinks any difference to a minimal sequence.
* Bad input: wrong arity, unknown commands, inline quoting, malformed and
  oversized multibulk requests.  What each server sends back and whether it
  closes the connection must match, and afterwards both must still serve a
  client that was connected before and a new one.

Extending: add a generator to ``COMMANDS`` (name -> strategy of argument
lists).  Only names in ``ENABLED`` run; the rest wait in ``PENDING`` until
their family lands on shardis.  ``SHARDIS_DIFF_COMMANDS=all`` (or a comma
list of names) runs other sets, e.g. to see how far a family in progress is.
"""

from __future__ import annotations

import itertools
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.protocol.resp import ProtocolError, PureParser, RequestReader
from shardis.testing import RawConnection, encode_command

# --- the command generators ----------------------------------------------------------------


class Key:
    """A key placeholder; each example maps it into its own namespace."""

    __slots__ = ("i",)

    def __init__(self, i: int):
        self.i = i

    def __repr__(self) -> str:
        return f"k{self.i}"


class AbsTime:
    """An absolute unix time placeholder (``offset`` seconds from now), resolved when sent."""

    __slots__ = ("offset", "ms")

    def __init__(self, offset: int, ms: bool):
        self.offset, self.ms = offset, ms

    def __repr__(self) -> str:
        return f"now{self.offset:+d}s{'(ms)' if self.ms else ''}"

    def resolve(self, now: float) -> bytes:
        t = now + self.offset
        return b"%d" % (int(t * 1000) if self.ms else int(t))


N_KEYS = 4  # a small key space, so commands keep meeting each other's keys

key = st.integers(0, N_KEYS - 1).map(Key)
keys = st.lists(key, min_size=1, max_size=4)
# Values that exercise the number parsers and the int/embstr/raw encodings.
value = st.one_of(
    st.sampled_from(
        [b"", b"0", b"1", b"-1", b"10", b"007", b"abc", b" 1", b"1 ", b"3.5", b"-0", b"1e3", b"+1",
         b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"x" * 45]
    ),
    st.binary(max_size=12),
)
integer = st.sampled_from(
    [b"0", b"1", b"-1", b"2", b"5", b"100", b"-100", b"9223372036854775807", b"-9223372036854775808",
     b"9223372036854775808", b"abc", b"1.5", b"", b" 1", b"01"]
)
floaty = st.sampled_from([b"0", b"1.5", b"-2.25", b"1e2", b"inf", b"-inf", b"nan", b"abc", b"", b"5.0e3", b"0x10"])
offset = st.sampled_from([b"0", b"1", b"3", b"-1", b"-3", b"100", b"-100", b"abc", b"9223372036854775807"])
# Expiry amounts: long enough that nothing expires while a sequence runs, plus invalid ones.
seconds = st.sampled_from([b"100", b"1000", b"0", b"-1", b"abc", b"1.5", b"9223372036854775807", b""])
millis = st.sampled_from([b"100000", b"1000000", b"0", b"-1", b"abc", b"9223372036854775807"])
abs_time = st.one_of(
    st.builds(AbsTime, st.sampled_from([100, 1000]), st.booleans()),
    st.sampled_from([b"1", b"0", b"-1", b"abc"]),  # in the past (the key goes at once) or invalid
)
casing = st.sampled_from([str.upper, str.lower, str.title])


def word(w: str):
    return casing.map(lambda f: f(w).encode())


@st.composite
def set_options(draw):
    """SET's options in any order and combination, valid or not."""
    opts = []
    for name in draw(st.lists(st.sampled_from(["NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT"]),
                              max_size=3, unique=True)):
        opts.append(draw(word(name)))
        if name == "EX":
            opts.append(draw(seconds))
        elif name == "PX":
            opts.append(draw(millis))
        elif name in ("EXAT", "PXAT"):
            t = draw(abs_time)
            if isinstance(t, AbsTime):
                t = AbsTime(t.offset, name == "PXAT")
            opts.append(t)
    if draw(st.integers(0, 15)) == 0:
        opts.append(draw(st.sampled_from([b"BOGUS", b"EX"])))  # unknown option / missing argument
    return opts


@st.composite
def getex_options(draw):
    kind = draw(st.sampled_from(["", "EX", "PX", "EXAT", "PXAT", "PERSIST", "BAD"]))
    if kind == "":
        return []
    if kind == "PERSIST":
        return [draw(word("PERSIST"))]
    if kind == "BAD":
        return [draw(st.sampled_from([b"EX", b"FOO", b"PERSIST"])), b"1"]
    amount = {"EX": seconds, "PX": millis}.get(kind) if kind in ("EX", "PX") else abs_time.map(
        lambda t: AbsTime(t.offset, kind == "PXAT") if isinstance(t, AbsTime) else t)
    return [draw(word(kind)), draw(amount)]


def cmd(name: str, *parts):
    """A strategy of [NAME, args...] from per-argument strategies (or fixed bytes)."""
    strategies = [p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]
    return st.tuples(word(name), *strategies).map(list)


def flat(*parts):
    """Like cmd but parts may be lists (spliced in)."""
    return cmd(*parts).map(lambda xs: [x for p in xs for x in (p if isinstance(p, list) else [p])])


expire_flag = st.sampled_from([[], [b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"NX", b"XX"], [b"gt", b"lt"], [b"foo"]])

COMMANDS = {
    "GET": cmd("GET", key),
    "SET": flat("SET", key, value, set_options()),
    "SETNX": cmd("SETNX", key, value),
    "SETEX": cmd("SETEX", key, seconds, value),
    "PSETEX": cmd("PSETEX", key, millis, value),
    "GETSET": cmd("GETSET", key, value),
    "GETDEL": cmd("GETDEL", key),
    "GETEX": flat("GETEX", key, getex_options()),
    "MGET": flat("MGET", keys),
    "MSET": flat("MSET", st.lists(st.tuples(key, value).map(list), min_size=1, max_size=3)
                 .map(lambda ps: [x for p in ps for x in p])),
    "MSETNX": flat("MSETNX", st.lists(st.tuples(key, value).map(list), min_size=1, max_size=3)
                   .map(lambda ps: [x for p in ps for x in p])),
    "APPEND": cmd("APPEND", key, value),
    "STRLEN": cmd("STRLEN", key),
    "INCR": cmd("INCR", key),
    "DECR": cmd("DECR", key),
    "INCRBY": cmd("INCRBY", key, integer),
    "DECRBY": cmd("DECRBY", key, integer),
    "INCRBYFLOAT": cmd("INCRBYFLOAT", key, floaty),
    "GETRANGE": cmd("GETRANGE", key, offset, offset),
    "SETRANGE": cmd("SETRANGE", key, st.sampled_from([b"0", b"1", b"5", b"-1", b"abc", b"536870912"]), value),
    "DEL": flat("DEL", keys),
    "UNLINK": flat("UNLINK", keys),
    "EXISTS": flat("EXISTS", keys),
    "TOUCH": flat("TOUCH", keys),
    "TYPE": cmd("TYPE", key),
    "RENAME": cmd("RENAME", key, key),
    "RENAMENX": cmd("RENAMENX", key, key),
    "COPY": flat("COPY", key, key, st.sampled_from([[], [b"REPLACE"], [b"DB", b"0"], [b"BAD"]])),
    "EXPIRE": flat("EXPIRE", key, seconds, expire_flag),
    "PEXPIRE": flat("PEXPIRE", key, millis, expire_flag),
    "EXPIREAT": flat("EXPIREAT", key, abs_time, expire_flag),
    "TTL": cmd("TTL", key),
    "PTTL": cmd("PTTL", key),
    "EXPIRETIME": cmd("EXPIRETIME", key),
    "PERSIST": cmd("PERSIST", key),
    "OBJECT": cmd("OBJECT", st.sampled_from([b"ENCODING", b"encoding", b"REFCOUNT"]), key),
    # Other types, so string and key commands meet WRONGTYPE and TYPE/RENAME/COPY see them.
    "LPUSH": flat("LPUSH", key, st.lists(value, min_size=1, max_size=3)),
    "SADD": flat("SADD", key, st.lists(value, min_size=1, max_size=3)),
    "ZADD": flat("ZADD", key, st.lists(st.tuples(floaty, value).map(list), min_size=1, max_size=2)
                 .map(lambda ps: [x for p in ps for x in p])),
    "HSET": flat("HSET", key, st.lists(st.tuples(value, value).map(list), min_size=1, max_size=2)
                 .map(lambda ps: [x for p in ps for x in p])),
    "PING": st.one_of(cmd("PING"), cmd("PING", value)),
    "ECHO": cmd("ECHO", value),
}

# Implemented on shardis today: these run by default.
ENABLED = [
    "GET", "SET", "SETNX", "SETEX", "PSETEX", "GETSET", "GETDEL", "GETEX", "MGET", "MSET", "MSETNX",
    "APPEND", "STRLEN", "INCR", "DECR", "INCRBY", "DECRBY", "INCRBYFLOAT", "GETRANGE", "SETRANGE",
    "DEL", "UNLINK", "EXISTS", "TOUCH", "TYPE", "RENAME", "RENAMENX", "COPY",
    "EXPIRE", "PEXPIRE", "EXPIREAT", "TTL", "PTTL", "EXPIRETIME", "PERSIST",
    "LPUSH", "SADD", "ZADD", "HSET", "PING", "ECHO",
]
# Kept out for now; move a name to ENABLED when this test passes with it.
PENDING = [
    # OBJECT ENCODING after INCRBYFLOAT k 0: shardis says "int", redis-server
    # "embstr" (a known limit of storing strings as plain bytes, see strings.py).
    "OBJECT",
]
assert set(ENABLED) | set(PENDING) == set(COMMANDS), "every generator is either enabled or pending"


def selected_commands() -> list[str]:
    env = os.environ.get("SHARDIS_DIFF_COMMANDS", "").strip()
    if not env:
        return ENABLED
    if env == "all":
        return list(COMMANDS)
    names = [n.strip().upper() for n in env.split(",") if n.strip()]
    unknown = [n for n in names if n not in COMMANDS]
    if unknown:
        raise ValueError(f"SHARDIS_DIFF_COMMANDS names without a generator: {unknown}")
    return names


def wrong_arity(name: str):
    """The command with a random, probably wrong, number of arguments."""
    return st.lists(st.sampled_from([b"a", b"1", b"EX"]), max_size=6).map(lambda a: [name.encode()] + a)


def command_sequences(names):
    one = st.one_of(*[COMMANDS[n] for n in names])
    with_noise = st.one_of(
        one, one, one, one, one, one, one, one,
        st.sampled_from(names).flatmap(wrong_arity),
    )
    return st.lists(with_noise, min_size=1, max_size=25)


_namespaces = itertools.count()
# SHARDIS_DIFF_EXAMPLES=5000 runs a long search; otherwise the hypothesis profile decides.
EXAMPLES = {"max_examples": int(os.environ["SHARDIS_DIFF_EXAMPLES"])} if os.environ.get("SHARDIS_DIFF_EXAMPLES") else {}


def run_sequence(diff, seq) -> None:
    """Run one drawn sequence on both servers, keys in a namespace of its own."""
    ns = b"ns%d:" % next(_namespaces)
    now = time.time()
    diff.reconnect()
    for c in seq:
        args = [
            ns + b"k%d" % a.i if isinstance(a, Key) else a.resolve(now) if isinstance(a, AbsTime) else a
            for a in c
        ]
        diff.check(*args)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], **EXAMPLES)
@given(data=st.data())
def test_command_sequences_match_redis(diff_servers, data):
    seq = data.draw(command_sequences(selected_commands()), label="commands")
    run_sequence(diff_servers.differential(), seq)


@settings(max_examples=100)
@given(data=st.data())
def test_generators_produce_commands_redis_knows(diff_servers, data):
    # Guards the generators themselves (every one, enabled or pending): a typo
    # in a name would only ever test "unknown command".
    name = data.draw(st.sampled_from(sorted(COMMANDS)), label="name")
    args = data.draw(COMMANDS[name], label="args")
    now = time.time()
    args = [b"probe" if isinstance(a, Key) else a.resolve(now) if isinstance(a, AbsTime) else a for a in args]
    with RawConnection(diff_servers.redis.port) as r:
        reply = r.request(*args)
    assert b"unknown command" not in reply and b"unknown subcommand" not in reply, (name, reply)


# --- bad input -----------------------------------------------------------------------------------

BAD_COMMANDS = [
    pytest.param(["GET"], id="get-no-args"),
    pytest.param(["GET", "a", "b"], id="get-extra-arg"),
    pytest.param(["SET", "a"], id="set-no-value"),
    pytest.param(["PING", "a", "b"], id="ping-two-args"),
    pytest.param(["ECHO"], id="echo-no-args"),
    pytest.param([b"FOO\x00\xff", b"\x00\x01\x02", b"\xfe\xff"], id="unknown-binary"),
    pytest.param([b"NOSUCHCMD"] + [b"a" * 50] * 5, id="unknown-long-args"),
    pytest.param([b"x" * 200, b"y"], id="unknown-long-name"),
    pytest.param([b"", b"a"], id="empty-name"),
    pytest.param([b"get\x00", b"a"], id="name-with-nul"),
]


@pytest.mark.parametrize("args", BAD_COMMANDS)
def test_bad_commands(diff, args):
    diff.check(*args)
    diff.check("PING")
    diff.assert_both_alive()


BAD_INPUT = [
    # inline commands and their quoting
    pytest.param(b"PING\r\n", id="inline-ping"),
    pytest.param(b"ECHO hello\n", id="inline-lf"),
    pytest.param(b'SET k "a b"\r\nGET k\r\n', id="inline-quoted"),
    pytest.param(b'ECHO "\\x41\\x4a\\n"\r\n', id="inline-hex-escape"),
    pytest.param(b"ECHO 'it\\'s'\r\n", id="inline-single-quote"),
    pytest.param(b'ECHO a"b c"\r\n', id="inline-quote-mid-word"),
    pytest.param(b'ECHO "abc\r\n', id="unbalanced-double"),
    pytest.param(b"ECHO 'abc\r\n", id="unbalanced-single"),
    pytest.param(b'ECHO "a"b\r\n', id="quote-then-char"),
    pytest.param(b"FOO\xff\xfe bar\r\n", id="inline-unknown-binary"),
    pytest.param(b"GET\r\n", id="inline-wrong-arity"),
    # empty requests
    pytest.param(b"\r\n\r\nPING\r\n", id="empty-lines"),
    pytest.param(b"   \t \r\nPING\r\n", id="blank-line"),
    pytest.param(b"\n", id="lone-lf"),
    pytest.param(b"*0\r\nPING\r\n", id="mbulk-0"),
    pytest.param(b"*-1\r\nPING\r\n", id="mbulk-minus-1"),
    # malformed multibulk
    pytest.param(b"*1\r\n:5\r\n", id="int-element"),
    pytest.param(b"*1\r\n+OK\r\n", id="status-element"),
    pytest.param(b"*2\r\n$3\r\nGET\r\n*1\r\n$1\r\na\r\n", id="nested-array"),
    pytest.param(b"*1\r\n*1\r\n$4\r\nPING\r\n", id="nested-array-first"),
    pytest.param(b"*abc\r\n", id="mbulk-not-a-number"),
    pytest.param(b"*1\r\n$abc\r\n", id="bulk-not-a-number"),
    pytest.param(b"*1\r\n$-1\r\n", id="bulk-minus-1"),
    pytest.param(b"*1\r\n$-5\r\n", id="bulk-negative"),
    pytest.param(b"*1\r\n$4\r\nPINGxx\r\n", id="bulk-longer-than-declared"),
    pytest.param(b"*2147483648\r\n", id="mbulk-over-int-max"),
    pytest.param(b"*1\r\n$536870913\r\n", id="bulk-over-proto-max"),
    pytest.param(b"*3\r\n$999999999999\r\n", id="huge-bulk-length"),
    pytest.param(b"*999999\r\n", id="huge-count-waits"),
    pytest.param(b"*1\r\n$536870912\r\n", id="max-bulk-waits"),
    pytest.param(b"*3\r\n", id="partial-waits"),
    pytest.param(b"PING\r\n*1\r\n:5\r\n", id="good-then-bad"),
    pytest.param(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", id="pipelined-pings"),
    # oversized lines
    pytest.param(b"x" * (64 * 1024 + 1), id="inline-too-big"),
    pytest.param(b"x" * (64 * 1024), id="inline-at-limit-waits"),
    pytest.param(b"*" + b"1" * (64 * 1024 + 1), id="mbulk-count-too-big"),
    pytest.param(b"*1\r\n$" + b"1" * (64 * 1024 + 1), id="bulk-count-too-big"),
    # a NUL hides a line end from Redis (strchr)
    pytest.param(b"ECHO a\x00b\r\n", id="inline-nul"),
    pytest.param(b"QUIT\r\n", id="quit"),
]


@pytest.mark.parametrize("data", BAD_INPUT)
def test_bad_input(diff, data):
    bystander_s, bystander_r = diff.pair()  # connected before the bad input
    diff.check_raw(data, idle=0.25)
    for conn in (bystander_s, bystander_r):
        assert conn.request("PING") == b"+PONG\r\n"
    diff.check("SET", "after", "1")
    diff.check("GET", "after")
    diff.assert_both_alive()


# Bytes shaped like requests, for the random part of the bad-input tests:
# whole requests, request headers and payloads, inline lines and loose tokens,
# so that both structural mistakes and byte-level noise are likely.
# (No GET/SET tokens: glued together they make GETSET, which shardis does not have yet.)
_tokens = st.sampled_from(
    [b"*", b"$", b"\r\n", b"\n", b"\r", b"0", b"1", b"2", b"3", b"-1", b"4", b"PING", b"ECHO",
     b"a", b" ", b'"', b"'", b"\\x41", b"\\", b":", b"+", b"QUIT", b"\x00"]
)
_small_cmd = st.lists(st.sampled_from([b"PING", b"ECHO", b"GET", b"SET", b"a", b"", b"1", b"x y"]),
                      min_size=1, max_size=3)
_fragment = st.one_of(
    _tokens,
    _small_cmd.map(lambda a: encode_command(*a)),
    _small_cmd.map(lambda a: b" ".join(a) + b"\r\n"),
    st.integers(-2, 4).map(lambda n: b"*%d\r\n" % n),
    st.integers(-2, 5).map(lambda n: b"$%d\r\n" % n),
    st.sampled_from([b"a\r\n", b"PING\r\n", b"ab\r\n", b"\r\n"]),
)
fuzz_input = st.lists(_fragment, min_size=1, max_size=20).map(b"".join)


def _read_all(reader, data: bytes):
    out = []
    try:
        reader.feed(data)
        while (cmd := reader.gets()) is not False:
            out.append(cmd)
    except ProtocolError as e:
        return out, str(e)
    return out, None


def _known_divergence(data: bytes) -> bool:
    """Inputs on which the hybrid reader and the exact parser disagree.

    That is a reader defect, tracked by tests/unit/test_protocol_resp.py
    (hybrid vs exact property tests); skipping it here keeps this test
    watching everything else.  The check asks the readers themselves, so it
    skips nothing while they agree.
    """
    return _read_all(RequestReader(), data) != _read_all(PureParser(), data)


@settings(suppress_health_check=[HealthCheck.too_slow], **EXAMPLES)
@given(data=fuzz_input)
def test_fuzzed_input_matches_redis(diff_servers, data):
    # The client closes its sending side after the bytes, so both servers see
    # the end of input: what they answered before closing must be equal.
    if _known_divergence(data):
        return
    with diff_servers.differential() as d:
        d.check_raw(data, half_close=True)
