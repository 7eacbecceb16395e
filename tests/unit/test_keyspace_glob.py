"""Tests of the glob matcher (keyspace/glob.py).

The compiled matcher must agree with ``reference_match``, a direct
transcription of Redis's stringmatchlen, on any pattern and subject; the
quirks listed in the module docstring are pinned with the answers
redis-server 7.0.15 gives (the integration tests check KEYS against a live
server with generated patterns as well).
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardis.keyspace.glob import MAX_NESTING, compile_pattern, reference_match, stringmatch

PATTERN_BYTES = b"ab*?[]^-\\\x80\xffAz\x00"
SUBJECT_BYTES = b"ab]^-\\\x80\xffAz*?[\x00"

patterns = st.lists(st.sampled_from(list(PATTERN_BYTES)), max_size=9).map(bytes)
subjects = st.lists(st.sampled_from(list(SUBJECT_BYTES)), max_size=8).map(bytes)


@settings(max_examples=1000)
@given(patterns, subjects, st.booleans())
def test_compiled_matches_reference(pattern, subject, nocase):
    assert compile_pattern(pattern, nocase)(subject) == reference_match(pattern, subject, nocase)


@settings(max_examples=500)
@given(st.binary(max_size=12), st.binary(max_size=12))
def test_arbitrary_bytes(pattern, subject):
    assert stringmatch(pattern, subject) == reference_match(pattern, subject)


@pytest.mark.parametrize(
    "pattern, subject, expected",
    [
        (b"*", b"", False),  # the empty string matches only the empty pattern
        (b"", b"", True),
        (b"h?llo", b"hello", True),
        (b"h*llo", b"hllo", True),
        (b"h[ae]llo", b"hallo", True),
        (b"h[^e]llo", b"hello", False),
        (b"h[a-b]llo", b"hbllo", True),
        (b"h[b-a]llo", b"hbllo", True),  # reversed ranges are swapped
        (b"[]", b"]", False),  # "]" right after "[" closes the class
        (b"[]]", b"]", False),
        (b"[^]", b"x", True),
        (b"[a-]", b"]", True),  # a range up to the closing bracket...
        (b"[a-]x", b"x", True),  # ...and the class goes on after it
        (b"[a-]x", b"]x", False),
        (b"[abc", b"c", True),  # an unterminated class ends with the pattern
        (b"[", b"[", False),
        (b"[^", b"z", True),
        (b"\\*", b"*", True),
        (b"\\*", b"a", False),
        (b"a\\", b"a\\", True),  # a trailing backslash is literal
        (b"[\\]]", b"]", True),
        (b"[a\\-z]", b"b", False),
        (b"[\x80-a]", b"\xff", True),  # char is signed: 0x80..0xff sort below 0
        (b"[\x80-a]", b"b", False),
    ],
)
def test_quirks(pattern, subject, expected):
    assert stringmatch(pattern, subject) is expected
    assert reference_match(pattern, subject) is expected


def test_nocase():
    assert stringmatch(b"HeLLo*", b"hello world", nocase=True)
    assert stringmatch(b"[A-C]x", b"bX", nocase=True)
    assert not stringmatch(b"[\\A]", b"a", nocase=True)  # escaped class members stay exact
    assert not stringmatch(b"HeLLo*", b"hello world")


def test_nesting_limit():
    n = MAX_NESTING
    subject = b"a" * (n + 2)
    ok = b"*a" * n
    too_deep = b"*a" * (n + 1)
    assert stringmatch(ok, subject)
    assert not stringmatch(too_deep, subject)
    assert stringmatch(ok + b"*", subject)  # a final star needs no recursion...
    assert not stringmatch(too_deep + b"*", subject)  # ...but the ones before it do


def test_pathological_patterns_stay_fast():
    subject = b"a" * 20000
    pattern = b"*a" * 12 + b"b"
    t0 = time.perf_counter()
    assert not stringmatch(pattern, subject)
    assert not stringmatch(b"*a*a*a*a*a*a*c*", subject)
    assert time.perf_counter() - t0 < 2


def test_literal_and_prefix_shortcuts():
    m = compile_pattern(b"user:")
    assert m(b"user:") and not m(b"user:1")
    m = compile_pattern(b"user:*")
    assert m(b"user:") and m(b"user:42") and not m(b"use")
