"""LZF compression, bit-compatible with the liblzf that Redis embeds.

RDB files and DUMP payloads carry long strings LZF-compressed; a redis-server
must be able to read what we write and we must read what it writes.  The
stream format is tiny:

* a control byte ``c < 32`` starts a literal run of ``c + 1`` bytes that
  follow verbatim;
* otherwise it is a back reference: ``len = c >> 5`` (``7`` means "read one
  more byte and add it"), then one byte completes the 13-bit distance
  ``((c & 0x1f) << 8) | next``; the decoder copies ``len + 2`` bytes starting
  ``distance + 1`` bytes behind the write position, byte by byte, so a copy
  may overlap its own output (that is how runs are encoded).

The compressor is our own greedy LZ77 over a dict of 3-byte prefixes.  It does
not try to reproduce liblzf's exact output (nothing requires that); it only
emits references liblzf's decoder accepts: distance < 8192, length 3..264.
Two things keep it usable from pure Python: match lengths are found by
comparing slices (memcmp in C) with a binary search instead of byte loops,
and input that zlib's fastest level cannot shrink at all is declared
incompressible without running the Python loop, since an LZ77 coder with a
smaller window and no entropy stage will not do better on it.
"""

from __future__ import annotations

import zlib

__all__ = ["LZFError", "compress", "decompress", "MAX_EXPANSION"]

MAX_DISTANCE = 1 << 13  # 8192: how far back a reference may reach
MAX_LITERAL_RUN = 1 << 5  # 32 bytes per literal control byte
MAX_REF_LEN = (1 << 8) + (1 << 3)  # 264 = 2 + 7 + 255
# Each back reference costs at least 2 input bytes and yields at most 264
# output bytes, so a valid stream never expands more than this.
MAX_EXPANSION = MAX_REF_LEN // 2 + 1


class LZFError(ValueError):
    """The compressed stream is malformed or does not match its stated size."""


def decompress(data, expected_len: int) -> bytes:
    """Inflate ``data`` into exactly ``expected_len`` bytes or raise LZFError.

    Work and memory are bounded by ``expected_len``, which the caller should
    sanity-check against ``len(data) * MAX_EXPANSION`` before calling.
    """
    src = bytes(data)
    n = len(src)
    if expected_len < 0 or expected_len > n * MAX_EXPANSION:
        raise LZFError("LZF length out of range")
    out = bytearray()
    ip = 0
    while ip < n:
        ctrl = src[ip]
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if ip + run > n:
                raise LZFError("LZF literal run past end of input")
            if len(out) + run > expected_len:
                raise LZFError("LZF output longer than declared")
            out += src[ip : ip + run]
            ip += run
            continue
        length = ctrl >> 5
        if ip >= n:
            raise LZFError("LZF reference truncated")
        if length == 7:
            length += src[ip]
            ip += 1
            if ip >= n:
                raise LZFError("LZF reference truncated")
        length += 2
        ref = len(out) - (((ctrl & 0x1F) << 8) | src[ip]) - 1
        ip += 1
        if ref < 0:
            raise LZFError("LZF reference before start of output")
        if len(out) + length > expected_len:
            raise LZFError("LZF output longer than declared")
        distance = len(out) - ref
        if distance >= length:
            out += out[ref : ref + length]
        else:
            # Overlapping copy: the source repeats with period ``distance``.
            chunk = out[ref:]
            reps = length // distance + 1
            out += (chunk * reps)[:length]
    if len(out) != expected_len:
        raise LZFError("LZF output shorter than declared")
    return bytes(out)


def _match_length(data: bytes, ref: int, pos: int, limit: int) -> int:
    """Length of the common prefix of data[ref:] and data[pos:], capped at limit.

    The caller guarantees the first 3 bytes match.  Most matches are short,
    so a few single-byte steps come first; long ones are measured by slice
    comparisons (memcmp in C) that gallop, then bisect.
    """
    n = 3
    short = min(limit, 8)
    while n < short and data[ref + n] == data[pos + n]:
        n += 1
    if n < short or n == limit:
        return n
    if data[ref : ref + limit] == data[pos : pos + limit]:
        return limit  # runs and long repeats: the common case for long matches
    step = 16
    while True:
        hi = min(n + step, limit)
        if data[ref + n : ref + hi] != data[pos + n : pos + hi]:
            break
        n = hi
        if n == limit:
            return n
        step <<= 1
    good, bad = n, hi  # equal up to good, differs before bad
    while bad - good > 1:
        mid = (good + bad) >> 1
        if data[ref + good : ref + mid] == data[pos + good : pos + mid]:
            good = mid
        else:
            bad = mid
    return good


def _emit_literals(out: bytearray, data: bytes, start: int, end: int) -> None:
    while start < end:
        run = min(MAX_LITERAL_RUN, end - start)
        out.append(run - 1)
        out += data[start : start + run]
        start += run


def compress(data, max_len: int | None = None) -> bytes | None:
    """LZF-compress ``data``; None if the result would exceed ``max_len``.

    ``max_len`` defaults to ``len(data) - 1`` (only an actual gain counts).
    Redis calls liblzf with ``len - 4`` so that compression saves at least
    four bytes; callers wanting Redis's choice pass that.
    """
    src = bytes(data)
    n = len(src)
    if max_len is None:
        max_len = n - 1
    if n < 4 or max_len <= 0:
        return None
    # Gate: if deflate's fastest setting saves nothing, neither will we.
    if n >= 64 and len(zlib.compress(src, 1)) >= n:
        return None
    out = bytearray()
    table: dict[bytes, int] = {}
    lit = 0  # start of the pending literal run
    pos = 0
    last = n - 2  # a match needs 3 bytes
    while pos < last:
        key = src[pos : pos + 3]
        ref = table.get(key)
        table[key] = pos
        if ref is not None and pos - ref <= MAX_DISTANCE:
            length = _match_length(src, ref, pos, min(MAX_REF_LEN, n - pos))
            if lit < pos:
                _emit_literals(out, src, lit, pos)
            distance = pos - ref - 1
            code = length - 2
            if code < 7:
                out.append((distance >> 8) | (code << 5))
            else:
                out.append((distance >> 8) | (7 << 5))
                out.append(code - 7)
            out.append(distance & 0xFF)
            end = pos + length
            # Index the tail of the match so the next one can chain on it.
            for p in range(max(pos + 1, end - 2), min(end, last)):
                table[src[p : p + 3]] = p
            pos = lit = end
            if len(out) > max_len:
                return None
        else:
            pos += 1
    _emit_literals(out, src, lit, n)
    if len(out) > max_len:
        return None
    return bytes(out)
