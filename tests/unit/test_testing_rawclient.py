"""Unit tests of shardis.testing.rawclient: frame boundaries and request encoding.

Differential tests are only as good as the frame splitter that cuts replies,
so every RESP2/RESP3 type, nesting, nulls and attributes are covered, and a
property test checks that any concatenation of frames splits back exactly.
"""

from __future__ import annotations

import hiredis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardis.testing.rawclient import encode_command, frame_end, split_frames

FRAMES = [
    b"+OK\r\n",
    b"-ERR syntax error\r\n",
    b":-12\r\n",
    b"$-1\r\n",
    b"$0\r\n\r\n",
    b"$4\r\na\r\nb\r\n",  # CRLF inside a bulk is payload
    b"*-1\r\n",
    b"*0\r\n",
    b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
    b"_\r\n",
    b",1.5\r\n",
    b"#t\r\n",
    b"(12345678901234567890\r\n",
    b"!3\r\nerr\r\n",
    b"=8\r\ntxt:abcd\r\n",
    b"%1\r\n$1\r\nk\r\n*2\r\n:1\r\n_\r\n",
    b"~2\r\n:1\r\n:2\r\n",
    b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
    b"|1\r\n$3\r\nttl\r\n:5\r\n$1\r\nv\r\n",  # an attribute and its reply are one frame
]


@pytest.mark.parametrize("frame", FRAMES)
def test_frame_end_finds_the_whole_frame_and_nothing_more(frame):
    assert frame_end(frame) == len(frame)
    assert frame_end(frame + b"+NEXT\r\n") == len(frame)
    for cut in range(len(frame)):
        assert frame_end(frame[:cut]) is None


def test_deep_nesting_does_not_recurse():
    depth = 100_000
    frame = b"*1\r\n" * depth + b":1\r\n"
    assert frame_end(frame) == len(frame)


@pytest.mark.parametrize("bad", [b"?x\r\n", b"$x\r\nab\r\n", b"*y\r\n", b"$2\r\nabcd\r\n"])
def test_frame_end_rejects_non_resp(bad):
    with pytest.raises(ValueError):
        frame_end(bad)


@given(st.lists(st.sampled_from(FRAMES), max_size=10), st.integers(0, 50))
def test_split_frames_round_trip(frames, cut):
    data = b"".join(frames)
    got, rest = split_frames(data)
    assert got == frames and rest == b""
    cut = min(cut, len(data))
    got, rest = split_frames(data[:cut])
    assert b"".join(got) + rest == data[:cut]


@given(st.lists(st.one_of(st.binary(max_size=20), st.text(max_size=10), st.integers()), min_size=1, max_size=6))
def test_encode_command_is_a_multibulk_hiredis_reads_back(args):
    r = hiredis.Reader()
    r.feed(encode_command(*args))
    expected = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    assert r.gets() == expected


def test_encode_command_refuses_ambiguous_types():
    with pytest.raises(TypeError):
        encode_command("SET", "k", True)
    with pytest.raises(TypeError):
        encode_command("SET", "k", None)
