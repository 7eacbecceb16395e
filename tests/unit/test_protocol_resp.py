"""Unit tests of shardis.protocol.resp: the request readers, split_args and the encoders.

The expected error texts are Redis 7.0's (networking.c processInlineBuffer /
processMultibulkBuffer); tests/integration/test_protocol.py checks the same
inputs against a live redis-server.  Property tests cover what examples
cannot: any chunking of a valid pipeline yields the same commands, the
hybrid reader agrees with the exact parser, and no byte string makes a
reader raise anything but ProtocolError.
"""

from __future__ import annotations

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardis.protocol.resp import (
    PROTO_INLINE_MAX_SIZE,
    RESP2,
    RESP3,
    ProtocolError,
    PureParser,
    RequestReader,
    array_header,
    bulk,
    bulk_array,
    format_double,
    integer,
    one_request,
    simple,
    split_args,
)
from shardis.testing.rawclient import encode_command, frame_end

READERS = [PureParser, RequestReader]

# Known defects, found by these tests: each entry maps a case to its cause.
# A listed case that starts passing fails loudly ("fixed: remove it from the
# list") so the list cannot outlive the bugs.  (Fixed so far: hiredis's
# has_data() inside a partial aggregate, empty multibulks counted as taken,
# and line ends hidden behind a NUL as C's strchr() hides them.)
NUL_CASES = [
    b"ECHO a\x00b\r\n",
    b"\x00PING\r\n",
    b"*1\x00\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\x00\r\nPING\r\n",
]
HYBRID_BUGS: dict = {}
PURE_BUGS: dict = {}


def expect(cls, case, actual, expected):
    """assert actual == expected, except for the hybrid reader's listed known defects."""
    known = HYBRID_BUGS if cls is RequestReader else PURE_BUGS
    if case in known:
        if actual == expected:
            pytest.fail(f"fixed: remove {case!r} from the known defects")
        pytest.xfail(known[case])
    assert actual == expected


def read_all(reader, chunks):
    """Feed chunks one by one, draining after each; return (commands, error text or None)."""
    out = []
    try:
        for chunk in chunks:
            if not chunk:
                continue
            reader.feed(chunk)
            while True:
                cmd = reader.gets()
                if cmd is False:
                    break
                out.append(cmd)
    except ProtocolError as e:
        return out, str(e)
    return out, None


def chunked(data: bytes, cuts) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    parts, last = [], 0
    for p in points:
        parts.append(data[last:p])
        last = p
    parts.append(data[last:])
    return parts


# --- split_args (sdssplitargs) ------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        (b"", []),
        (b"   \t ", []),
        (b"set a b", [b"set", b"a", b"b"]),
        (b"  set   a  b  ", [b"set", b"a", b"b"]),
        (b'set "a b" c', [b"set", b"a b", b"c"]),
        (b'"\\x41\\x42" "\\n\\r\\t\\b\\a"', [b"AB", b"\n\r\t\b\a"]),
        (b'"\\x4"', [b"x4"]),  # not two hex digits: the backslash escapes the next char
        (b'"a\\"b"', [b'a"b']),
        (b"'a b' 'it\\'s'", [b"a b", b"it's"]),
        (b"'no \\n escape'", [b"no \\n escape"]),
        (b'""', [b""]),
        (b"''", [b""]),
        (b'a"b"', [b"ab"]),  # a quote inside a word opens a quoted part (sdssplitargs)
    ],
)
def test_split_args_examples(line, expected):
    assert split_args(line) == expected


@pytest.mark.parametrize("line", [b'"abc', b"'abc", b'"abc"def', b"'abc'def", b'"a\\"'])
def test_split_args_unbalanced(line):
    assert split_args(line) is None


def quote_for_split(arg: bytes) -> bytes:
    """Quote an argument in the double-quoted form sdssplitargs reads back exactly."""
    out = bytearray(b'"')
    for c in arg:
        if c in (34, 92):
            out += b"\\" + bytes([c])
        elif 32 <= c < 127:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    return bytes(out + b'"')


@given(st.lists(st.binary(max_size=20), max_size=8))
def test_split_args_reads_back_quoted_arguments(args):
    assert split_args(b" ".join(quote_for_split(a) for a in args)) == args


@given(st.binary(max_size=200))
def test_split_args_never_raises(line):
    r = split_args(line)
    assert r is None or all(isinstance(a, bytes) for a in r)


# --- both readers: examples ----------------------------------------------------------------


@pytest.mark.parametrize("cls", READERS)
@pytest.mark.parametrize(
    "data, commands",
    [
        (b"*1\r\n$4\r\nPING\r\n", [[b"PING"]]),
        (b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n", [[b"GET", b""]]),
        (b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", [[b"ECHO", b"a\r\nb"]]),
        (b"PING\r\n", [[b"PING"]]),
        (b"PING\n", [[b"PING"]]),  # a bare LF ends an inline request
        (b'SET k "a b"\r\nGET k\r\n', [[b"SET", b"k", b"a b"], [b"GET", b"k"]]),
        (b"*1\r\n$4\r\nPING\r\nPING\r\n", [[b"PING"], [b"PING"]]),
        (b"PING\r\n*1\r\n$4\r\nPING\r\n", [[b"PING"], [b"PING"]]),
    ],
)
def test_readers_valid_requests(cls, data, commands):
    assert read_all(cls(), [data]) == (commands, None)


@pytest.mark.parametrize("cls", READERS)
@pytest.mark.parametrize(
    "data",
    [
        b"\r\n\r\nPING\r\n",  # empty inline lines are skipped
        b"   \r\nPING\r\n",
        b"*0\r\nPING\r\n",  # an empty multibulk is skipped
        b"*-1\r\nPING\r\n",
        b"*0\r\n*-1\r\nPING\r\n",
        b"*1\r\n$4\r\nPING\r\n*0\r\n*1\r\n$4\r\nPING\r\n",
    ],
)
def test_readers_skip_empty_requests(cls, data):
    expect(cls, data, read_all(cls(), [data]), ([[b"PING"]] * data.count(b"PING"), None))


@pytest.mark.parametrize("cls", READERS)
@pytest.mark.parametrize(
    "data, error",
    [
        (b"*1\r\n:5\r\n", "expected '$', got ':'"),
        (b"*2\r\n$3\r\nGET\r\n*1\r\n", "expected '$', got '*'"),
        # RESP3 types that hiredis reads as strings: Redis still wants '$'
        (b"*2\r\n$3\r\nGET\r\n+k\r\n", "expected '$', got '+'"),
        (b"*2\r\n$3\r\nGET\r\n=5\r\ntxt:k\r\n", "expected '$', got '='"),
        (b"*2\r\n$3\r\nGET\r\n(12\r\n", "expected '$', got '('"),
        (b"*3\r\n$999999999999\r\n", "invalid bulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$abc\r\n", "invalid bulk length"),
        (b"*1\r\n$01\r\n", "invalid bulk length"),  # string2ll: no leading zeros
        (b"*abc\r\n", "invalid multibulk length"),
        (b"*+1\r\n", "invalid multibulk length"),
        (b"*2147483648\r\n", "invalid multibulk length"),  # > INT_MAX
        (b"*99999999999999999999999\r\n", "invalid multibulk length"),
        (b'SET "a b\r\n', "unbalanced quotes in request"),
        (b"SET 'a b\r\n", "unbalanced quotes in request"),
        (b'SET "a"b\r\n', "unbalanced quotes in request"),
    ],
)
def test_readers_protocol_errors(cls, data, error):
    expect(cls, data, read_all(cls(), [data]), ([], error))


@pytest.mark.parametrize("cls", READERS)
@pytest.mark.parametrize("data", NUL_CASES)
def test_a_nul_hides_the_end_of_a_line(cls, data):
    # networking.c looks for the line end with strchr(), which stops at a NUL:
    # redis-server 7.0 answers nothing to these and waits for more bytes.
    expect(cls, data, read_all(cls(), [data]), ([], None))


@pytest.mark.parametrize("cls", READERS)
def test_readers_commands_before_an_error_are_returned(cls):
    data = b"*1\r\n$4\r\nPING\r\nGET a\r\n*1\r\n:5\r\n"
    assert read_all(cls(), [data]) == ([[b"PING"], [b"GET", b"a"]], "expected '$', got ':'")


@pytest.mark.parametrize("cls", READERS)
def test_too_big_inline_request(cls):
    r = cls()
    assert read_all(r, [b"x" * PROTO_INLINE_MAX_SIZE]) == ([], None)  # still waiting
    assert read_all(r, [b"x"]) == ([], "too big inline request")


@pytest.mark.parametrize("cls", READERS)
def test_too_big_mbulk_count_string(cls):
    r = cls()
    assert read_all(r, [b"*" + b"1" * (PROTO_INLINE_MAX_SIZE - 1)]) == ([], None)
    expect(cls, "too big mbulk count string", read_all(r, [b"11"]), ([], "too big mbulk count string"))


@pytest.mark.parametrize("cls", READERS)
def test_too_big_bulk_count_string(cls):
    r = cls()
    head = b"*2\r\n$4\r\nECHO\r\n$"
    assert read_all(r, [head + b"1" * (PROTO_INLINE_MAX_SIZE - 1)]) == ([], None)
    expect(cls, "too big bulk count string", read_all(r, [b"11"]), ([], "too big bulk count string"))


@pytest.mark.parametrize("cls", READERS)
def test_a_large_argument_across_many_reads(cls):
    r = cls()
    value = bytes(range(256)) * 1000
    data = encode_command("SET", "k", value)
    cmds, err = read_all(r, [data[i : i + 4096] for i in range(0, len(data), 4096)])
    assert (cmds, err) == ([[b"SET", b"k", value]], None)


@pytest.mark.parametrize("cls", READERS)
def test_max_bulk_limit(cls):
    r = cls(max_bulk=10)
    assert read_all(r, [b"*1\r\n$11\r\n"]) == ([], "invalid bulk length")
    r = cls(max_bulk=10)
    assert read_all(r, [b"*1\r\n$10\r\n0123456789\r\n"]) == ([[b"0123456789"]], None)


def test_unauthenticated_limits_pure():
    p = PureParser(unauth=True)
    assert read_all(p, [b"*11\r\n"]) == ([], "unauthenticated multibulk length")
    p = PureParser(unauth=True)
    assert read_all(p, [b"*1\r\n$16385\r\n"]) == ([], "unauthenticated bulk length")
    p = PureParser(unauth=True)
    assert read_all(p, [b"*10\r\n"]) == ([], None)


def test_unauthenticated_limits_reader_and_lifting_them():
    r = RequestReader()
    r.set_unauth(True)
    assert read_all(r, [b"*11\r\n"]) == ([], "unauthenticated multibulk length")
    r = RequestReader()
    r.set_unauth(True)
    assert read_all(r, [encode_command("AUTH", "pw")]) == ([[b"AUTH", b"pw"]], None)
    r.set_unauth(False)
    big = [b"x"] * 20
    assert read_all(r, [encode_command(*big)]) == ([big], None)


def test_reader_buffered_counts_unconsumed_bytes():
    r = RequestReader()
    r.feed(b"*2\r\n$3\r\nGET\r\n$5\r\nab")
    assert r.gets() is False
    assert r.buffered() > 0
    r.feed(b"cde\r\n")
    assert r.gets() == [b"GET", b"abcde"]
    assert r.gets() is False
    assert r.buffered() == 0


# --- property tests ---------------------------------------------------------------------------

args_st = st.lists(st.binary(max_size=40), min_size=1, max_size=6)
# Inline words: no separators, quotes or NUL (Redis finds the end of an inline
# line with strchr, so a NUL hides the newline behind it).
inline_word = st.binary(min_size=1, max_size=10).filter(
    lambda b: not any(c in b for c in b" \t\n\r\x0b\x0c\"'\x00")
)


@st.composite
def pipelines(draw, with_inline=True, with_empty=False):
    """(bytes of a valid pipeline, the commands a server reads from it)."""
    parts, cmds = [], []
    for _ in range(draw(st.integers(1, 8))):
        kinds = ["multibulk"] + (["inline"] if with_inline else []) + (["empty"] if with_empty else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "multibulk":
            args = draw(args_st)
            parts.append(encode_command(*args))
            cmds.append(args)
        elif kind == "inline":
            args = draw(st.lists(inline_word, min_size=1, max_size=4).filter(lambda a: a[0][:1] != b"*"))
            parts.append(b" ".join(args) + draw(st.sampled_from([b"\r\n", b"\n"])))
            cmds.append(args)
        else:
            parts.append(draw(st.sampled_from([b"*0\r\n", b"*-1\r\n", b"\r\n", b"\n", b"  \r\n"])))
    return b"".join(parts), cmds


@pytest.mark.parametrize("cls", [PureParser, RequestReader])
@given(p=pipelines(), cuts=st.lists(st.integers(0, 10**6), max_size=12))
def test_any_chunking_of_a_pipeline_gives_the_same_commands(cls, p, cuts):
    data, cmds = p
    assert read_all(cls(), chunked(data, cuts)) == (cmds, None)


@pytest.mark.parametrize("cls", [PureParser, RequestReader])
@given(p=pipelines(with_empty=True), cuts=st.lists(st.integers(0, 10**6), max_size=12))
def test_any_chunking_with_empty_requests_gives_the_same_commands(cls, p, cuts):
    data, cmds = p
    assert read_all(cls(), chunked(data, cuts)) == (cmds, None)


# Bytes that look like requests more often than uniform noise does.
protocol_tokens = st.sampled_from(
    [b"*", b"$", b"\r\n", b"\r", b"\n", b"0", b"1", b"2", b"3", b"-1", b"99999999999", b"PING", b"GET",
     b" ", b'"', b"'", b"\\x4", b"\\", b":", b"+", b"=", b"(", b"abc", b"\x00", b"\xff"]
)
fuzz_bytes = st.one_of(st.binary(max_size=300), st.lists(protocol_tokens, max_size=60).map(b"".join))


@pytest.mark.parametrize("cls", READERS)
@given(data=fuzz_bytes, cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_fuzzed_bytes_raise_only_protocol_errors(cls, data, cuts):
    cmds, err = read_all(cls(), chunked(data, cuts))  # anything but ProtocolError propagates
    assert all(isinstance(c, list) and c and all(isinstance(a, bytes) for a in c) for c in cmds)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=fuzz_bytes, cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_hybrid_reader_agrees_with_the_exact_parser(data, cuts):
    # The pure parser is the reference (it follows networking.c); the hiredis
    # fast path must never change what a client's bytes mean.
    expected = read_all(PureParser(), [data])
    assert read_all(RequestReader(), chunked(data, cuts)) == expected


@given(p=pipelines(), garbage=fuzz_bytes, cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_valid_prefix_then_garbage(p, garbage, cuts):
    data = p[0] + garbage
    expected = read_all(PureParser(), [data])
    assert expected[0][: len(p[1])] == p[1]
    assert read_all(RequestReader(), chunked(data, cuts)) == expected


# --- encoders ------------------------------------------------------------------------------------


def parse_one(frame: bytes, protover: int = 2):
    """Decode one frame with hiredis and check it is exactly one complete frame."""
    assert frame_end(frame) == len(frame)
    r = hiredis.Reader()
    r.feed(frame)
    v = r.gets()
    assert r.gets() is False
    return v


def test_fixed_encoders():
    assert bulk(b"abc") == b"$3\r\nabc\r\n"
    assert bulk(b"") == b"$0\r\n\r\n"
    assert integer(0) == b":0\r\n"
    assert integer(-(2**63)) == b":-9223372036854775808\r\n"
    assert simple(b"OK") == b"+OK\r\n"
    assert array_header(3) == b"*3\r\n"
    assert bulk_array([b"a", None, b""]) == b"*3\r\n$1\r\na\r\n$-1\r\n$0\r\n\r\n"
    assert bulk_array([]) == b"*0\r\n"


@pytest.mark.parametrize(
    "value, text",
    [
        (1.5, b"1.5"),
        (0.1, b"0.10000000000000001"),  # %.17g, as Redis 7.0 replies
        (3.0, b"3"),
        (-0.0, b"-0"),
        (1e100, b"1e+100"),  # redis-server 7.0: ZADD z 1e100 m; ZSCORE z m
        (float("inf"), b"inf"),
        (float("-inf"), b"-inf"),
        (float("nan"), b"nan"),
    ],
)
def test_format_double(value, text):
    assert format_double(value) == text


def test_protocol_dependent_frames():
    assert (RESP2.null, RESP3.null) == (b"$-1\r\n", b"_\r\n")
    assert (RESP2.null_array, RESP3.null_array) == (b"*-1\r\n", b"_\r\n")
    assert (RESP2.true, RESP3.true) == (b":1\r\n", b"#t\r\n")
    assert (RESP2.false, RESP3.false) == (b":0\r\n", b"#f\r\n")
    assert (RESP2.map_header(2), RESP3.map_header(2)) == (b"*4\r\n", b"%2\r\n")
    assert (RESP2.set_header(2), RESP3.set_header(2)) == (b"*2\r\n", b"~2\r\n")
    assert (RESP2.push_header(3), RESP3.push_header(3)) == (b"*3\r\n", b">3\r\n")
    assert RESP2.double(1.5) == b"$3\r\n1.5\r\n"
    assert RESP3.double(1.5) == b",1.5\r\n"
    assert RESP2.verbatim(b"hi") == b"$2\r\nhi\r\n"
    assert RESP3.verbatim(b"hi") == b"=6\r\ntxt:hi\r\n"
    assert RESP2.bulk_or_null_array([b"a", None]) == b"*2\r\n$1\r\na\r\n$-1\r\n"
    assert RESP3.bulk_or_null_array([b"a", None]) == b"*2\r\n$1\r\na\r\n_\r\n"


@given(st.binary(max_size=300))
def test_bulk_round_trips_through_hiredis(b):
    assert parse_one(bulk(b)) == b


@given(st.integers(-(2**63), 2**63 - 1))
def test_integer_round_trips_through_hiredis(n):
    assert parse_one(integer(n)) == n


@given(st.lists(st.one_of(st.none(), st.binary(max_size=30)), max_size=20))
def test_bulk_array_round_trips_through_hiredis(items):
    assert parse_one(bulk_array(items)) == items


@given(st.floats(allow_nan=False))
def test_double_text_round_trips(d):
    # %.17g is exact: parsing the text gives back the same double.
    assert float(format_double(d)) == d
    assert parse_one(RESP2.double(d)) == format_double(d)


@given(st.lists(st.one_of(st.none(), st.binary(max_size=20), st.sampled_from([b"x" * 4095, b"y" * 5000])),
                min_size=1, max_size=12),
       st.sampled_from([b"$-1\r\n", b"_\r\n"]))
def test_bulk_replies_frame_each_value_as_one_bulk_or_null(values, null):
    from shardis.protocol.resp import bulk_replies

    assert bulk_replies(values, null) == b"".join(null if v is None else bulk(v) for v in values)
    same = [v for v in values if v is not None] or [b""]
    assert bulk_replies([same[0]] * 5) == bulk(same[0]) * 5  # one length: the single-join way


# --- one_request: a read that is exactly one request ------------------------------------------------


@given(argv=st.lists(st.binary(max_size=40), min_size=1, max_size=8))
def test_one_request_reads_an_encoded_request(argv):
    # A payload holding CRLF is left to the usual route, by design.
    assert one_request(encode_command(*argv)) == (None if any(b"\r\n" in a for a in argv) else argv)


def test_one_request_declines_what_it_does_not_read():
    for data in (
        b"PING\r\n",  # inline
        b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",  # two requests
        b"*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n",  # CRLF in a payload (read the usual way)
        b"*2\r\n$4\r\nECHO\r\n$1\r\na",  # partial
        b"*2\r\n$4\r\nECHO\r\n$01\r\na\r\n",  # non-canonical header
        b"*0\r\n",
        encode_command(b"SET", b"k", b"v" * 4096),  # headers past the table of canonical ones
        encode_command(*[b"a"] * 65),  # wider than UNIFORM_MAX_ARGS
        # the spelled-out two- and three-argument cases
        encode_command(b"GET", b"k") + b"x",  # something after the request
        encode_command(b"SET", b"k", b"v") + b"x",
        encode_command(b"GET", b"k").replace(b"*2", b"*3"),  # a count that does not match
        encode_command(b"SET", b"k", b"v").replace(b"*3", b"*2"),
        encode_command(b"SET", b"k", b"v").replace(b"*3", b"*4"),
        b"*2\r\n$3\r\nGET\r\n$2\r\nk\r\n",  # a length that does not match
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv\r\n",
        b"*3\r\n$3\r\nSET\r\n$01\r\nk\r\n$1\r\nv\r\n",
    ):
        assert one_request(data) is None, data


@st.composite
def damaged_requests(draw):
    """An encoded request with one byte replaced, inserted or removed."""
    data = bytearray(encode_command(*draw(st.lists(st.binary(max_size=12), min_size=1, max_size=4))))
    how = draw(st.sampled_from(["replace", "insert", "delete"]))
    i = draw(st.integers(0, len(data) if how == "insert" else len(data) - 1))  # inserting may append
    byte = draw(st.sampled_from(b"*$\r\n0123456789+=(:x"))
    if how == "replace":
        data[i] = byte
    elif how == "insert":
        data.insert(i, byte)
    else:
        del data[i]
    return bytes(data)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(damaged_requests(), fuzz_bytes))
def test_one_request_returns_only_what_redis_would_read_as_the_whole_read(data):
    # The exact parser follows networking.c: one_request may decline anything,
    # but what it returns must be the single request the read holds, all of it.
    argv = one_request(data)
    if argv is not None:
        p = PureParser()
        assert read_all(p, [data]) == ([argv], None)
        assert p.pending() == 0


@pytest.mark.parametrize(
    "values",
    [[[b"a"]], [None, {b"f": b"v"}], [b"ab", {b"x", b"y"}], [b"abc", b"abd", [b"x"] * 3], [5], [b"x" * 5000, []]],
)
def test_bulk_replies_raises_type_error_for_a_value_that_is_not_a_string(values):
    # Batch forms (GET) rely on it as their type check: WRONGTYPE goes request by request.
    from shardis.protocol.resp import bulk_replies

    with pytest.raises(TypeError):
        bulk_replies(values)
