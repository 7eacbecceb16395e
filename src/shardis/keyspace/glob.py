"""Glob-style pattern matching exactly as Redis's ``stringmatchlen`` (util.c).

KEYS, SCAN MATCH, HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE and PUBSUB CHANNELS all
match with the same glob dialect: ``*`` (any run), ``?`` (any byte),
``[...]`` classes with ranges and ``^`` negation, and ``\\`` escapes.  The
dialect has quirks that a textbook glob does not share, and clients can
observe every one of them, so this module reproduces them on purpose:

* a class that is never closed extends to the end of the pattern;
* ``[]`` matches nothing and ``[^]`` matches any byte (``]`` right after
  ``[`` closes the class);
* a range is recognised whenever ``x-y`` has a third byte after ``x``, even
  when that byte is the closing ``]`` (``[a-]`` is the range ``]``..``a``
  and the class then continues past that ``]``);
* range ends are C ``char`` values, i.e. signed: bytes >= 0x80 sort below
  ``\\0`` in ranges;
* inside a class an escaped byte is compared case-sensitively even in
  no-case mode;
* an empty string matches only the empty pattern (so ``*`` does not match
  the empty key: KEYS special-cases the single ``*``);
* more than 1000 nested ``*`` recursions abort the match (Redis's guard
  against abusive patterns): a pattern with more than 1000 star groups
  followed by something never matches.

Rather than interpreting the pattern for every key, ``compile_pattern``
parses it once into single-byte tokens (the parse of a class never depends on
the subject string) and turns those into a Python regular expression.  The
``*`` runs between literal segments become atomic lazy groups
(``(?>.*?SEG)``): for glob patterns the leftmost placement of each segment is
always a correct choice, so no backtracking into earlier segments is ever
needed and a match costs O(len(subject) * len(pattern)) at worst, which
keeps patterns like ``*a*a*a*a*b`` from going exponential on long keys.
``reference_match`` is a direct transcription of the C algorithm used to
cross-check the compiled form in tests.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["compile_pattern", "stringmatch", "reference_match", "MAX_NESTING"]

MAX_NESTING = 1000  # star recursions allowed by stringmatchlen_impl before it gives up

_ANY = "any"
_STAR = "star"
_SET = "set"


def _signed(b: int) -> int:
    """A byte as C's (signed) char sees it."""
    return b - 256 if b >= 128 else b


def _lower(c: int) -> int:
    """C tolower() in the C locale on a (possibly negative) char value."""
    return c + 32 if 65 <= c <= 90 else c


def _tokens(pattern: bytes, nocase: bool):
    """Parse ``pattern`` into tokens: ("star",), ("any",) or ("set", frozenset of bytes).

    Every non-star token consumes exactly one byte of the subject.  A literal
    is a set of one byte (two with ``nocase`` for letters).
    """
    out = []
    n = len(pattern)
    i = 0

    def at(k: int) -> int:
        # Bytes past the end read as the terminating NUL, as in the C code.
        return pattern[k] if k < n else 0

    while i < n:
        c = pattern[i]
        if c == 42:  # '*'
            while i + 1 < n and pattern[i + 1] == 42:
                i += 1
            out.append((_STAR,))
        elif c == 63:  # '?'
            out.append((_ANY,))
        elif c == 91:  # '['
            i += 1
            negate = at(i) == 94  # '^'
            if negate:
                i += 1
            members: set[int] = set()
            while True:
                left = n - i
                p0 = at(i)
                if p0 == 92 and left >= 2:  # '\\' escape: exact byte, even with nocase
                    i += 1
                    members.add(pattern[i])
                elif p0 == 93:  # ']'
                    break
                elif left == 0:
                    i -= 1  # unterminated class: it ends with the pattern
                    break
                elif left >= 3 and pattern[i + 1] == 45:  # 'x-y'
                    start, end = _signed(p0), _signed(pattern[i + 2])
                    if start > end:
                        start, end = end, start
                    if nocase:
                        start, end = _lower(start), _lower(end)
                        for b in range(256):
                            if start <= _lower(_signed(b)) <= end:
                                members.add(b)
                    else:
                        for b in range(256):
                            if start <= _signed(b) <= end:
                                members.add(b)
                    i += 2
                else:
                    if nocase:
                        lc = _lower(_signed(p0))
                        members.update(b for b in range(256) if _lower(_signed(b)) == lc)
                    else:
                        members.add(p0)
                i += 1
            if negate:
                members = set(range(256)) - members
            out.append((_SET, frozenset(members)))
        else:
            if c == 92 and n - i >= 2:  # '\\' escape outside a class
                i += 1
                c = pattern[i]
            if nocase and (65 <= c <= 90 or 97 <= c <= 122):
                out.append((_SET, frozenset((c | 32, c & ~32))))
            else:
                out.append((_SET, frozenset((c,))))
        i += 1
    return out


def _class_regex(members: frozenset) -> bytes:
    if not members:
        return rb"(?!)"
    if len(members) == 256:
        return b"."
    if len(members) == 1:
        return re.escape(bytes(members))
    parts = []
    vals = sorted(members)
    lo = prev = vals[0]
    for v in vals[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(b"\\x%02x" % lo if lo == prev else b"\\x%02x-\\x%02x" % (lo, prev))
        if v is not None:
            lo = prev = v
    return b"[" + b"".join(parts) + b"]"


def _segment_regex(tokens) -> bytes:
    return b"".join(b"." if t[0] == _ANY else _class_regex(t[1]) for t in tokens)


def _never(s) -> bool:
    return False


@lru_cache(maxsize=1024)
def compile_pattern(pattern: bytes, nocase: bool = False):
    """A function ``match(subject: bytes) -> bool`` equivalent to stringmatchlen(pattern, subject)."""
    pattern = bytes(pattern)
    if not pattern:
        return lambda s: not s
    if not any(ch in pattern for ch in b"*?[\\") and not nocase:
        return pattern.__eq__  # a plain literal (the empty subject cannot equal it)
    tokens = _tokens(pattern, nocase)
    # Split into segments separated by star groups.
    segments: list[list] = [[]]
    for t in tokens:
        if t[0] == _STAR:
            segments.append([])
        else:
            segments[-1].append(t)
    stars = len(segments) - 1
    ends_with_star = tokens[-1][0] == _STAR
    if stars - (1 if ends_with_star else 0) > MAX_NESTING:
        return _never
    if stars == 0:
        rx = re.compile(rb"(?s)" + _segment_regex(segments[0]) + rb"\Z")
    else:
        body = [rb"(?s)", _segment_regex(segments[0])]
        for seg in segments[1:-1]:
            body.append(rb"(?>.*?" + _segment_regex(seg) + rb")")
        body.append(rb".*" + _segment_regex(segments[-1]) + rb"\Z")
        rx = re.compile(b"".join(body))
    if stars == 1 and ends_with_star and len(segments[0]) and all(
        t[0] == _SET and len(t[1]) == 1 for t in segments[0]
    ):
        # "prefix*": the commonest SCAN/KEYS pattern, answered by startswith.
        prefix = bytes(next(iter(t[1])) for t in segments[0])
        return lambda s: s.startswith(prefix)
    rxmatch = rx.match
    return lambda s: bool(s) and rxmatch(s) is not None


def stringmatch(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """stringmatchlen(pattern, subject, nocase) with a cached compiled pattern."""
    return compile_pattern(bytes(pattern), nocase)(subject)


def reference_match(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """A line-by-line transcription of stringmatchlen_impl (slow; for tests and cross-checks)."""
    skip = [False]

    def at(buf: bytes, k: int) -> int:
        return buf[k] if k < len(buf) else 0

    def low(c: int) -> int:
        return _lower(_signed(c))

    def impl(p: int, s: int, nesting: int) -> bool:
        if nesting > MAX_NESTING:
            return False
        plen = len(pattern) - p
        slen = len(subject) - s
        while plen and slen:
            c = pattern[p]
            if c == 42:  # '*'
                while plen and at(pattern, p + 1) == 42:
                    p += 1
                    plen -= 1
                if plen == 1:
                    return True
                while slen:
                    if impl(p + 1, s, nesting + 1):
                        return True
                    if skip[0]:
                        return False
                    s += 1
                    slen -= 1
                skip[0] = True
                return False
            elif c == 63:  # '?'
                s += 1
                slen -= 1
            elif c == 91:  # '['
                p += 1
                plen -= 1
                negate = at(pattern, p) == 94
                if negate:
                    p += 1
                    plen -= 1
                match = False
                while True:
                    p0 = at(pattern, p)
                    if p0 == 92 and plen >= 2:
                        p += 1
                        plen -= 1
                        if pattern[p] == subject[s]:
                            match = True
                    elif p0 == 93:
                        break
                    elif plen == 0:
                        p -= 1
                        plen += 1
                        break
                    elif plen >= 3 and pattern[p + 1] == 45:
                        start, end, ch = _signed(p0), _signed(pattern[p + 2]), _signed(subject[s])
                        if start > end:
                            start, end = end, start
                        if nocase:
                            start, end, ch = _lower(start), _lower(end), _lower(ch)
                        p += 2
                        plen -= 2
                        if start <= ch <= end:
                            match = True
                    else:
                        if not nocase:
                            if p0 == subject[s]:
                                match = True
                        elif low(p0) == low(subject[s]):
                            match = True
                    p += 1
                    plen -= 1
                if negate:
                    match = not match
                if not match:
                    return False
                s += 1
                slen -= 1
            else:
                if c == 92 and plen >= 2:  # '\\'
                    p += 1
                    plen -= 1
                pc = pattern[p]
                if not nocase:
                    if pc != subject[s]:
                        return False
                elif low(pc) != low(subject[s]):
                    return False
                s += 1
                slen -= 1
            p += 1
            plen -= 1
            if slen == 0:
                while at(pattern, p) == 42 and plen > 0:
                    p += 1
                    plen -= 1
                break
        return plen == 0 and slen == 0

    return impl(0, 0, 0)
