"""HyperLogLog values in Redis's own representation (hyperloglog.c).  Pure: bytes in, bytes out.

A HyperLogLog is a Redis string, so it travels through GET/SET, DUMP/RESTORE,
RDB files and replication as opaque bytes.  For shardis and redis-server to
exchange those values, this module keeps them byte for byte in Redis's
layout and updates them with the same algorithms:

* a 16-byte header: ``"HYLL"``, the encoding byte (0 dense, 1 sparse), three
  unused bytes, and the cached cardinality as a little-endian 64-bit integer
  whose top bit (bit 7 of byte 15) marks the cache as stale;
* dense: 16384 registers of 6 bits, packed least significant bit first
  (register ``i`` holds bits ``6i .. 6i+5`` of the little-endian bit stream);
* sparse: run-length opcodes over the registers -- ZERO ``00xxxxxx`` (1..64
  zero registers), XZERO ``01xxxxxx yyyyyyyy`` (1..16384 zero registers) and
  VAL ``1vvvvvxx`` (1..4 registers holding value 1..32).

The sparse update (``sparse_set``) is the delicate part: Redis edits the
opcode stream in place (split the opcode covering the register, then merge
adjacent equal VALs in a window of five opcodes), and the result depends on
that history, not only on the register values.  The function below performs
the same steps in the same order on a ``bytearray``, so a sequence of PFADDs
yields the very bytes redis-server would hold.  Elements are hashed with
MurmurHash64A and Redis's seed, and the cardinality estimator is Otmar
Ertl's improved estimator as in Redis 5+.

Bulk register work (histograms, merges, dense packing) goes through whole
byte strings and Python big integers rather than per-register loops, which
keeps PFCOUNT and PFMERGE in the millisecond range on dense values.
"""

from __future__ import annotations

import math
import random
import re
import struct
from bisect import bisect_right
from itertools import accumulate

__all__ = [
    "HLL_P",
    "HLL_REGISTERS",
    "HLL_HDR_SIZE",
    "HLL_DENSE_SIZE",
    "HLL_DENSE",
    "HLL_SPARSE",
    "murmurhash64a",
    "pat_len",
    "new_sparse",
    "is_hll",
    "encoding",
    "add",
    "sparse_set",
    "SparseEditor",
    "PROMOTE",
    "add_many",
    "dense_set",
    "dense_get",
    "sparse_to_dense",
    "registers",
    "merge_max",
    "pack_registers",
    "count",
    "count_registers",
    "cached_card",
    "set_cached_card",
    "invalidate_cache",
    "decode_sparse",
    "selftest",
]

HLL_P = 14  # precision: 2**14 registers
HLL_Q = 64 - HLL_P  # hash bits left for the run of zeroes
HLL_REGISTERS = 1 << HLL_P
HLL_P_MASK = HLL_REGISTERS - 1
HLL_BITS = 6  # bits per dense register
HLL_REGISTER_MAX = (1 << HLL_BITS) - 1
HLL_HDR_SIZE = 16  # magic(4) encoding(1) unused(3) cached cardinality(8)
HLL_DENSE_REGS_SIZE = (HLL_REGISTERS * HLL_BITS + 7) // 8  # 12288 bytes
HLL_DENSE_SIZE = HLL_HDR_SIZE + HLL_DENSE_REGS_SIZE  # 12304 bytes
HLL_DENSE = 0
HLL_SPARSE = 1
HLL_MAX_ENCODING = 1

HLL_SPARSE_XZERO_BIT = 0x40
HLL_SPARSE_VAL_BIT = 0x80
HLL_SPARSE_VAL_MAX_VALUE = 32
HLL_SPARSE_VAL_MAX_LEN = 4
HLL_SPARSE_ZERO_MAX_LEN = 64
HLL_SPARSE_XZERO_MAX_LEN = 16384

HLL_ALPHA_INF = 0.721347520444481703680  # 1 / (2 ln 2), the estimator's constant
HASH_SEED = 0xADC83B19  # the seed Redis passes to MurmurHash64A

_MASK64 = (1 << 64) - 1
_M = 0xC6A4A7935BD1E995  # MurmurHash64A multiplier
_R = 47
_MAGIC = b"HYLL"
_CARD_STALE = 0x80  # bit 7 of the last cardinality byte: the cache is stale
_INF = float("inf")


# --- hashing ------------------------------------------------------------------------


def murmurhash64a(data: bytes, seed: int = HASH_SEED) -> int:
    """MurmurHash64A (Austin Appleby), 64-bit little-endian reads, as Redis uses it."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK64
    nblocks = n & ~7
    if nblocks:
        for (k,) in struct.iter_unpack("<Q", data[:nblocks]):
            k = (k * _M) & _MASK64
            k ^= k >> _R
            k = (k * _M) & _MASK64
            h ^= k
            h = (h * _M) & _MASK64
    if n & 7:
        h ^= int.from_bytes(data[nblocks:], "little")
        h = (h * _M) & _MASK64
    h ^= h >> _R
    h = (h * _M) & _MASK64
    h ^= h >> _R
    return h


def pat_len(ele: bytes) -> tuple:
    """(register index, run length of the "000..1" pattern + 1) for one element."""
    h = murmurhash64a(ele)
    index = h & HLL_P_MASK
    h >>= HLL_P
    h |= 1 << HLL_Q  # bounds the count to Q+1
    return index, (h & -h).bit_length()


# --- header -----------------------------------------------------------------------------


def new_sparse() -> bytearray:
    """createHLLObject: an empty sparse HLL (all registers zero, cached cardinality 0)."""
    buf = bytearray(_MAGIC + bytes([HLL_SPARSE]) + bytes(11))
    left = HLL_REGISTERS
    while left:
        run = min(HLL_SPARSE_XZERO_MAX_LEN, left)
        buf += bytes((((run - 1) >> 8) | HLL_SPARSE_XZERO_BIT, (run - 1) & 0xFF))
        left -= run
    return buf


def is_hll(value) -> bool:
    """isHLLObjectOrReply's structural test (the value already known to be a string)."""
    if len(value) < HLL_HDR_SIZE or value[:4] != _MAGIC:
        return False
    enc = value[4]
    if enc > HLL_MAX_ENCODING:
        return False
    if enc == HLL_DENSE and len(value) != HLL_DENSE_SIZE:
        return False
    return True



def encoding(buf) -> int:
    return buf[4]


def cached_card(buf):
    """The cached cardinality, or None when the cache is stale."""
    if buf[15] & _CARD_STALE:
        return None
    return int.from_bytes(buf[8:16], "little")


def set_cached_card(buf: bytearray, card: int) -> None:
    buf[8:16] = (card & _MASK64).to_bytes(8, "little")


def invalidate_cache(buf: bytearray) -> None:
    buf[15] |= _CARD_STALE


# --- dense --------------------------------------------------------------------------------


def dense_get(buf, regnum: int) -> int:
    """HLL_DENSE_GET_REGISTER on a whole HLL value (header included)."""
    pos = HLL_HDR_SIZE + regnum * HLL_BITS // 8
    fb = regnum * HLL_BITS & 7
    b0 = buf[pos]
    b1 = buf[pos + 1] if pos + 1 < len(buf) else 0
    return ((b0 >> fb) | (b1 << (8 - fb))) & HLL_REGISTER_MAX


def _dense_put(buf, regnum: int, val: int) -> None:
    pos = HLL_HDR_SIZE + regnum * HLL_BITS // 8
    fb = regnum * HLL_BITS & 7
    buf[pos] = (buf[pos] & ~(HLL_REGISTER_MAX << fb) & 0xFF) | ((val << fb) & 0xFF)
    if pos + 1 < len(buf):
        fb8 = 8 - fb
        buf[pos + 1] = (buf[pos + 1] & ~(HLL_REGISTER_MAX >> fb8) & 0xFF) | (val >> fb8)


def dense_set(buf, index: int, count: int) -> int:
    """hllDenseSet: raise register ``index`` to ``count``.  1 when it changed."""
    if count > dense_get(buf, index):
        _dense_put(buf, index, count)
        return 1
    return 0


# A mask selecting the low 6 bits of every third byte of the register area:
# after shifting the packed registers right by 6k bits, register 4g+k sits in
# the low bits of byte 3g.
_LANE_MASK = int.from_bytes(b"\x3f\x00\x00" * (HLL_REGISTERS // 4), "little")


def _dense_registers(buf) -> bytes:
    n = int.from_bytes(buf[HLL_HDR_SIZE:HLL_DENSE_SIZE], "little")
    out = bytearray(HLL_REGISTERS)
    for k in range(4):
        lane = ((n >> (HLL_BITS * k)) & _LANE_MASK).to_bytes(HLL_DENSE_REGS_SIZE, "little")
        out[k::4] = lane[0::3]
    return bytes(out)


def pack_registers(regs) -> bytes:
    """16384 register values (bytes, each <= 63) -> the 12288-byte dense register area."""
    n = 0
    lane = bytearray(HLL_DENSE_REGS_SIZE)
    for k in range(4):
        lane[0::3] = regs[k::4]
        n |= int.from_bytes(lane, "little") << (HLL_BITS * k)
    return n.to_bytes(HLL_DENSE_REGS_SIZE, "little")


# --- sparse ---------------------------------------------------------------------------------


def _sparse_registers(buf):
    """Register values of a sparse HLL (bytes), or None when the opcodes are corrupt."""
    out = bytearray(HLL_REGISTERS)
    idx = 0
    p = HLL_HDR_SIZE
    end = len(buf)
    while p < end:
        b = buf[p]
        if b & 0xC0 == 0:
            idx += (b & 0x3F) + 1
            p += 1
        elif b & HLL_SPARSE_VAL_BIT:
            runlen = (b & 3) + 1
            if idx + runlen > HLL_REGISTERS:
                return None
            out[idx : idx + runlen] = bytes((((b >> 2) & 0x1F) + 1,)) * runlen
            idx += runlen
            p += 1
        else:
            idx += (((b & 0x3F) << 8) | (buf[p + 1] if p + 1 < end else 0)) + 1
            p += 2
    if idx != HLL_REGISTERS:
        return None
    return bytes(out)


def sparse_to_dense(buf: bytearray) -> bool:
    """hllSparseToDense, in place.  False (buffer untouched) when the sparse data is corrupt."""
    if buf[4] == HLL_DENSE:
        return True
    regs = _sparse_registers(buf)
    if regs is None:
        return False
    header = bytearray(buf[:HLL_HDR_SIZE])  # magic, unused bytes and cached cardinality are kept
    header[4] = HLL_DENSE
    buf[:] = header + pack_registers(regs)
    return True


def _val(value: int, runlen: int) -> int:
    return ((value - 1) << 2 | (runlen - 1)) | HLL_SPARSE_VAL_BIT


def _zero_run(seq: bytearray, runlen: int) -> None:
    if runlen > HLL_SPARSE_ZERO_MAX_LEN:
        seq.append(((runlen - 1) >> 8) | HLL_SPARSE_XZERO_BIT)
        seq.append((runlen - 1) & 0xFF)
    else:
        seq.append(runlen - 1)


def sparse_set(buf: bytearray, index: int, count: int, max_bytes: int) -> int:
    """hllSparseSet: raise register ``index`` to ``count`` in a sparse HLL, in place.

    Returns 1 when the register changed (the value may have been promoted to
    dense), 0 when not, -1 when the opcodes are corrupt.  This works on the
    bytes exactly as Redis does, scanning from the first opcode; for many
    updates in a row ``SparseEditor`` gives the same bytes faster.
    """
    if count > HLL_SPARSE_VAL_MAX_VALUE:
        return _promote(buf, index, count)

    # Step 1: find the opcode covering the register.
    end = len(buf)
    p, first, prev = HLL_HDR_SIZE, 0, -1
    span = 0
    while p < end:
        b = buf[p]
        oplen = 1
        if b & 0xC0 == 0:
            span = (b & 0x3F) + 1
        elif b & HLL_SPARSE_VAL_BIT:
            span = (b & 3) + 1
        else:
            span = (((b & 0x3F) << 8) | (buf[p + 1] if p + 1 < end else 0)) + 1
            oplen = 2
        if index <= first + span - 1:
            break
        prev = p
        p += oplen
        first += span
    if span == 0 or p >= end:
        return -1

    b = buf[p]
    is_zero = b & 0xC0 == 0
    is_val = bool(b & HLL_SPARSE_VAL_BIT)
    is_xzero = not is_zero and not is_val
    runlen = span

    # Cases A/B: a VAL opcode already high enough, or covering only this register.
    if is_val:
        if ((b >> 2) & 0x1F) + 1 >= count:
            return 0
        if runlen == 1:
            buf[p] = _val(count, 1)
            return _merge_and_finish(buf, prev, end)
    # Case C: a ZERO opcode of length 1.
    if is_zero and runlen == 1:
        buf[p] = _val(count, 1)
        return _merge_and_finish(buf, prev, end)

    # Case D: split the opcode into up to three.
    seq = bytearray()
    last = first + span - 1
    if is_zero or is_xzero:
        if index != first:
            _zero_run(seq, index - first)
        seq.append(_val(count, 1))
        if index != last:
            _zero_run(seq, last - index)
    else:
        curval = ((b >> 2) & 0x1F) + 1
        if index != first:
            seq.append(_val(curval, index - first))
        seq.append(_val(count, 1))
        if index != last:
            seq.append(_val(curval, last - index))

    oldlen = 2 if is_xzero else 1
    delta = len(seq) - oldlen
    if delta > 0 and end + delta > max_bytes:
        return _promote(buf, index, count)
    buf[p : p + oldlen] = seq
    return _merge_and_finish(buf, prev, end + delta)


def _merge_and_finish(buf: bytearray, prev: int, end: int) -> int:
    """Step 4 of hllSparseSet: merge adjacent equal VALs, scanning five opcodes from ``prev``."""
    p = prev if prev >= 0 else HLL_HDR_SIZE
    scanlen = 5
    while p < end and scanlen:
        scanlen -= 1
        b = buf[p]
        if b & 0xC0 == HLL_SPARSE_XZERO_BIT:
            p += 2
            continue
        if b & 0xC0 == 0:
            p += 1
            continue
        if p + 1 < end:
            b2 = buf[p + 1]
            if b2 & HLL_SPARSE_VAL_BIT and (b >> 2) & 0x1F == (b2 >> 2) & 0x1F:
                runlen = (b & 3) + (b2 & 3) + 2
                if runlen <= HLL_SPARSE_VAL_MAX_LEN:
                    buf[p + 1] = _val(((b >> 2) & 0x1F) + 1, runlen)
                    del buf[p]
                    end -= 1
                    continue
        p += 1
    buf[15] |= _CARD_STALE
    return 1


def _promote(buf: bytearray, index: int, count: int) -> int:
    if not sparse_to_dense(buf):
        return -1
    dense_set(buf, index, count)
    return 1


# --- many sparse updates in a row ---------------------------------------------------------------

# One sparse opcode: XZERO is two bytes, ZERO and VAL one.
_OPCODE = re.compile(rb"[\x40-\x7f][\x00-\xff]|[\x00-\x3f\x80-\xff]", re.S)


def _op_span(op: bytes) -> int:
    b = op[0]
    if len(op) == 2:
        return (((b & 0x3F) << 8) | op[1]) + 1
    if b & HLL_SPARSE_VAL_BIT:
        return (b & 3) + 1
    return b + 1


_SPAN1 = {bytes((b,)): _op_span(bytes((b,))) for b in range(256) if b & 0xC0 != HLL_SPARSE_XZERO_BIT}
_VALS = [None] + [[None] + [bytes((_val(v, n),)) for n in range(1, 5)] for v in range(1, 33)]
PROMOTE = 2  # SparseEditor.set: the representation must become dense


def _zero_op(runlen: int) -> bytes:
    if runlen > HLL_SPARSE_ZERO_MAX_LEN:
        return bytes((((runlen - 1) >> 8) | HLL_SPARSE_XZERO_BIT, (runlen - 1) & 0xFF))
    return bytes((runlen - 1,))


class SparseEditor:
    """hllSparseSet applied to a decoded opcode list, for runs of updates (PFADD of many, PFMERGE).

    The opcodes live in a list with, beside it, the first register each one
    covers.  An update only rewrites the opcode covering its register and
    merges in a window of five opcodes after the previous one, and neither
    step changes which registers the later opcodes cover, so those "first"
    values stay valid and the covering opcode is found by bisection.  The
    edit steps are hllSparseSet's, one for one, so ``flush`` writes the bytes
    the byte-level ``sparse_set`` (and Redis) would have produced.  ``ok`` is
    False when the opcodes do not cover exactly 16384 registers: callers then
    use ``sparse_set``, which reproduces Redis's behaviour on corrupt data.
    """

    __slots__ = ("ops", "firsts", "nbytes", "ok", "changed")

    def __init__(self, buf):
        data = bytes(buf[HLL_HDR_SIZE:])
        ops = _OPCODE.findall(data)
        span1 = _SPAN1
        spans = [span1.get(op) or _op_span(op) for op in ops]
        firsts = [0]
        firsts += accumulate(spans)
        self.ok = firsts[-1] == HLL_REGISTERS and len(data) == sum(map(len, ops))
        firsts.pop()
        self.ops = ops
        self.firsts = firsts
        self.nbytes = len(buf)
        self.changed = False

    def set(self, index: int, count: int, max_bytes: int) -> int:
        """1 changed, 0 unchanged, PROMOTE when the caller must convert to dense and set there."""
        if count > HLL_SPARSE_VAL_MAX_VALUE:
            return PROMOTE
        ops = self.ops
        firsts = self.firsts
        k = bisect_right(firsts, index) - 1
        op = ops[k]
        first = firsts[k]
        b = op[0]
        if len(op) == 2:
            kind = 2  # XZERO
            runlen = (((b & 0x3F) << 8) | op[1]) + 1
        elif b & HLL_SPARSE_VAL_BIT:
            kind = 1  # VAL
            runlen = (b & 3) + 1
            if ((b >> 2) & 0x1F) + 1 >= count:
                return 0
        else:
            kind = 0  # ZERO
            runlen = b + 1
        if (kind == 1 or kind == 0) and runlen == 1:
            ops[k] = _VALS[count][1]
        else:
            last = first + runlen - 1
            seq = []
            seqfirst = []
            if kind == 1:
                curval = ((b >> 2) & 0x1F) + 1
                if index != first:
                    seq.append(_VALS[curval][index - first])
                    seqfirst.append(first)
                seq.append(_VALS[count][1])
                seqfirst.append(index)
                if index != last:
                    seq.append(_VALS[curval][last - index])
                    seqfirst.append(index + 1)
            else:
                if index != first:
                    seq.append(_zero_op(index - first))
                    seqfirst.append(first)
                seq.append(_VALS[count][1])
                seqfirst.append(index)
                if index != last:
                    seq.append(_zero_op(last - index))
                    seqfirst.append(index + 1)
            delta = sum(map(len, seq)) - len(op)
            if delta > 0 and self.nbytes + delta > max_bytes:
                return PROMOTE
            ops[k:k + 1] = seq
            firsts[k:k + 1] = seqfirst
            self.nbytes += delta
        # Merge adjacent equal VALs, five opcodes from the previous one.
        p = k - 1 if k > 0 else 0
        scanlen = 5
        while p < len(ops) and scanlen:
            scanlen -= 1
            b = ops[p][0]
            if not b & HLL_SPARSE_VAL_BIT:
                p += 1
                continue
            if p + 1 < len(ops):
                b2 = ops[p + 1][0]
                if b2 & HLL_SPARSE_VAL_BIT and (b >> 2) & 0x1F == (b2 >> 2) & 0x1F:
                    runlen = (b & 3) + (b2 & 3) + 2
                    if runlen <= HLL_SPARSE_VAL_MAX_LEN:
                        ops[p + 1] = _VALS[((b >> 2) & 0x1F) + 1][runlen]
                        del ops[p]
                        del firsts[p + 1]
                        self.nbytes -= 1
                        continue
            p += 1
        self.changed = True
        return 1

    def flush(self, buf: bytearray) -> None:
        """Write the opcodes back into ``buf`` (a stale cardinality cache if anything changed)."""
        if self.changed:
            buf[HLL_HDR_SIZE:] = b"".join(self.ops)
            buf[15] |= _CARD_STALE


def add_many(buf: bytearray, elements, max_bytes: int) -> tuple:
    """hllAdd for each element in turn: (registers changed, corrupt?)."""
    updated = 0
    it = iter(elements)
    if buf[4] == HLL_SPARSE:
        ed = SparseEditor(buf)
        if not ed.ok:
            for ele in it:
                r = add(buf, ele, max_bytes)
                if r < 0:
                    return updated, True
                updated += r
            return updated, False
        for ele in it:
            index, cnt = pat_len(ele)
            r = ed.set(index, cnt, max_bytes)
            if r == PROMOTE:
                ed.flush(buf)
                if not sparse_to_dense(buf):
                    return updated, True
                dense_set(buf, index, cnt)
                updated += 1
                break
            updated += r
        else:
            ed.flush(buf)
            return updated, False
    elif buf[4] != HLL_DENSE:
        return 0, next(it, None) is not None  # hllAdd refuses an unknown encoding
    for ele in it:
        index, cnt = pat_len(ele)
        updated += dense_set(buf, index, cnt)
    return updated, False


# --- commands' building blocks ---------------------------------------------------------------


def add(buf: bytearray, ele: bytes, max_bytes: int) -> int:
    """hllAdd: 1 when a register changed, 0 when not, -1 for a corrupt value."""
    index, cnt = pat_len(ele)
    enc = buf[4]
    if enc == HLL_DENSE:
        return dense_set(buf, index, cnt)
    if enc == HLL_SPARSE:
        return sparse_set(buf, index, cnt, max_bytes)
    return -1


def registers(buf):
    """All register values of an HLL as bytes, or None when it is corrupt."""
    if buf[4] == HLL_DENSE:
        return _dense_registers(buf)
    return _sparse_registers(buf)


def merge_max(acc, regs) -> bytes:
    """Register-wise maximum of two register arrays."""
    return bytes(map(max, acc, regs))


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        zp = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if zp == z:
            return z / 3


def _sigma(x: float) -> float:
    if x == 1.0:
        return _INF
    y = 1.0
    z = x
    while True:
        x *= x
        zp = z
        z += x * y
        y += y
        if zp == z:
            return z


def _estimate(hist) -> int:
    """The cardinality from the register histogram (Ertl's estimator, as hllCount)."""
    m = float(HLL_REGISTERS)
    z = m * _tau((m - hist[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = HLL_ALPHA_INF * m * m / z
    # llroundl: halves away from zero (e is never negative).
    whole = math.floor(e)
    return int(whole) + (1 if e - whole >= 0.5 else 0)


def count_registers(regs) -> int:
    """Cardinality estimate for an array of register values."""
    hist = [regs.count(v) for v in range(64)]
    return _estimate(hist)


def count(buf):
    """hllCount for a stored HLL: the estimate, or None when the value is corrupt."""
    if buf[4] == HLL_DENSE:
        return count_registers(_dense_registers(buf))
    hist = [0] * 64
    idx = 0
    p = HLL_HDR_SIZE
    end = len(buf)
    while p < end:
        b = buf[p]
        if b & 0xC0 == 0:
            runlen = (b & 0x3F) + 1
            hist[0] += runlen
            p += 1
        elif b & HLL_SPARSE_VAL_BIT:
            runlen = (b & 3) + 1
            hist[((b >> 2) & 0x1F) + 1] += runlen
            p += 1
        else:
            runlen = (((b & 0x3F) << 8) | (buf[p + 1] if p + 1 < end else 0)) + 1
            hist[0] += runlen
            p += 2
        idx += runlen
    if idx != HLL_REGISTERS:
        return None
    return _estimate(hist)


def decode_sparse(buf) -> bytes:
    """PFDEBUG DECODE: the opcodes as text (``z:len``, ``Z:len``, ``v:value,len``)."""
    parts = []
    p = HLL_HDR_SIZE
    end = len(buf)
    while p < end:
        b = buf[p]
        if b & 0xC0 == 0:
            parts.append(b"z:%d" % ((b & 0x3F) + 1))
            p += 1
        elif b & HLL_SPARSE_VAL_BIT:
            parts.append(b"v:%d,%d" % (((b >> 2) & 0x1F) + 1, (b & 3) + 1))
            p += 1
        else:
            parts.append(b"Z:%d" % ((((b & 0x3F) << 8) | (buf[p + 1] if p + 1 < end else 0)) + 1))
            p += 2
    return b" ".join(parts)


# --- self test --------------------------------------------------------------------------------

SELFTEST_REGISTER_CYCLES = 8  # Redis runs 1000; each cycle rewrites every register
SELFTEST_MAX_CARD = 100_000  # Redis goes to 10M elements; the same checkpoints up to 1e5


def selftest(sparse_max_bytes: int = 3000):
    """PFSELFTEST: None on success, else the TESTFAILED message."""
    rnd = random.Random()
    # Test 1: every register keeps the value written to it without touching its neighbours.
    dense = bytearray(_MAGIC + bytes(HLL_DENSE_SIZE - 4))
    for _ in range(SELFTEST_REGISTER_CYCLES):
        expect = bytes(rnd.getrandbits(6) for _ in range(HLL_REGISTERS))
        for i in range(HLL_REGISTERS):
            _dense_put(dense, i, expect[i])
        for i in range(HLL_REGISTERS):
            val = dense_get(dense, i)
            if val != expect[i]:
                return "TESTFAILED Register %d should be %d but is %d" % (i, expect[i], val)
        if _dense_registers(dense) != expect:
            return "TESTFAILED bulk register read disagrees with single reads"
        if pack_registers(expect) != bytes(dense[HLL_HDR_SIZE:]):
            return "TESTFAILED register packing disagrees with single writes"

    # Test 2: approximation error, dense and sparse side by side.
    dense = bytearray(_MAGIC + bytes(HLL_DENSE_SIZE - 4))
    sparse = new_sparse()
    relerr = 1.04 / math.sqrt(HLL_REGISTERS)
    checkpoint = 1
    seed = rnd.getrandbits(64)
    for j in range(1, SELFTEST_MAX_CARD + 1):
        ele = ((j ^ seed) & _MASK64).to_bytes(8, "little")
        index, cnt = pat_len(ele)
        dense_set(dense, index, cnt)
        if sparse[4] == HLL_DENSE:
            dense_set(sparse, index, cnt)
        elif sparse_set(sparse, index, cnt, sparse_max_bytes) < 0:
            return "TESTFAILED sparse representation corrupted"
        if j == checkpoint:
            if j < sparse_max_bytes // 2 and sparse[4] != HLL_SPARSE:
                return "TESTFAILED sparse encoding not used"
            card = count(dense)
            if card != count(sparse):
                return "TESTFAILED dense/sparse disagree"
            abserr = abs(checkpoint - card)
            maxerr = math.ceil(relerr * 6 * checkpoint)
            if j == 10:
                maxerr = 1
            if abserr > maxerr:
                return "TESTFAILED Too big error. card:%d abserr:%d" % (checkpoint, abserr)
            checkpoint *= 10
    return None
