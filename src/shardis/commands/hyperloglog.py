"""HyperLogLog commands (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

A HyperLogLog is a string value holding Redis's own representation (see
keyspace/hll.py), so GET, SET, DUMP and RESTORE move it between shardis and
redis-server unchanged.  The commands keep the value as a ``bytearray`` and
edit it in place, the way Redis edits its sds: that is also what makes
OBJECT ENCODING report ``raw`` for it, as Redis does.

Redis's visible side effects are kept: PFCOUNT on one key stores the
cardinality it computed in the header (a write to the value, counted in
``node.dirty``, although the command is read-only), PFMERGE and PFDEBUG
GETREG/TODENSE convert to the dense encoding when Redis does, and the
keyspace event for PFADD and PFMERGE is ``pfadd``.
"""

from __future__ import annotations

from ..keyspace import hll
from ..keyspace import notify as kn
from ..server import replies as R
from ..server.commandtable import command

_STRING_TYPES = (bytes, bytearray)


def _spec(flags: str, index: int, lastkey: int = 0, notes: str | None = None) -> dict:
    spec = {"flags": tuple(flags.split()), "begin_search": ("index", index), "find_keys": ("range", lastkey, 1, 0)}
    if notes:
        spec["notes"] = notes
    return spec


_PFCOUNT_NOTE = "RW because it may change the internal representation of the key, and propagate to replicas"


def _hll_value(db, key, v):
    """isHLLObjectOrReply + dbUnshareStringValue: the value as a mutable HLL, or an error frame."""
    if v.__class__ not in _STRING_TYPES:
        return R.WRONGTYPE
    if not hll.is_hll(v):
        return R.HLL_WRONGTYPE
    if v.__class__ is bytes:
        v = bytearray(v)
        db.replace_value(key, v)
    return v


def _check_hll(v):
    """isHLLObjectOrReply for a value only read: None when fine, else the error frame."""
    if v.__class__ not in _STRING_TYPES:
        return R.WRONGTYPE
    if not hll.is_hll(v):
        return R.HLL_WRONGTYPE
    return None


@command("pfadd", -2, "write denyoom fast", keys=(1, 1, 1), group="hyperloglog", categories="hyperloglog",
         key_specs=(_spec("RW insert", 1),),
         summary="Adds the specified elements to the specified HyperLogLog.", since="2.8.9",
         complexity="O(1) to add every element.")
def pfadd_command(c, argv):
    db = c.db
    node = c.node
    key = argv[1]
    v = db.lookup_write(key)
    updated = 0
    if v is None:
        buf = hll.new_sparse()
        db.set(key, buf)
        updated = 1
    else:
        buf = _hll_value(db, key, v)
        if buf.__class__ is bytes:
            return buf
    max_bytes = node.config["hll-sparse-max-bytes"]
    if len(argv) <= 4:
        for ele in argv[2:]:
            r = hll.add(buf, ele, max_bytes)
            if r < 0:
                return R.HLL_INVALID
            updated += r
    else:
        n, corrupt = hll.add_many(buf, argv[2:], max_bytes)
        if corrupt:
            return R.HLL_INVALID
        updated += n
    if updated:
        hll.invalidate_cache(buf)
        db.modified(key)
        if node.notify_flags:
            node.notify(kn.STRING, b"pfadd", key, db.id)
        node.dirty += updated
        return R.CONE
    return R.CZERO


@command("pfcount", -2, "readonly", keys=(1, -1, 1), group="hyperloglog", categories="hyperloglog",
         key_specs=(_spec("RW access", 1, -1, _PFCOUNT_NOTE),),
         summary="Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
         since="2.8.9",
         complexity="O(1) with a very small average constant time when called with a single key. O(N) with N "
                    "being the number of keys, and much bigger constant times, when called with multiple keys.")
def pfcount_command(c, argv):
    db = c.db
    if len(argv) > 2:
        # The cardinality of the union: merge every register array, count once.
        acc = None
        for key in argv[1:]:
            v = db.lookup_read(key)
            if v is None:
                continue
            err = _check_hll(v)
            if err is not None:
                return err
            regs = hll.registers(v)
            if regs is None:
                return R.HLL_INVALID
            acc = regs if acc is None else hll.merge_max(acc, regs)
        if acc is None:
            return R.CZERO
        return b":%d\r\n" % hll.count_registers(acc)
    key = argv[1]
    v = db.lookup_read(key)
    if v is None:
        return R.CZERO
    buf = _hll_value(db, key, v)
    if buf.__class__ is bytes:
        return buf
    card = hll.cached_card(buf)
    if card is None:
        card = hll.count(buf)
        if card is None:
            return R.HLL_INVALID
        hll.set_cached_card(buf, card)
        db.modified(key)
        c.node.dirty += 1
    return b":%d\r\n" % card


@command("pfmerge", -2, "write denyoom", keys=(1, -1, 1), group="hyperloglog", categories="hyperloglog",
         key_specs=(_spec("RW access insert", 1), _spec("RO access", 2, -1)),
         summary="Merge N different HyperLogLogs into a single one.", since="2.8.9",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.")
def pfmerge_command(c, argv):
    db = c.db
    node = c.node
    acc = bytes(hll.HLL_REGISTERS)
    use_dense = False
    for key in argv[1:]:
        v = db.lookup_read(key)
        if v is None:
            continue
        err = _check_hll(v)
        if err is not None:
            return err
        if hll.encoding(v) == hll.HLL_DENSE:
            use_dense = True
        regs = hll.registers(v)
        if regs is None:
            return R.HLL_INVALID
        acc = hll.merge_max(acc, regs)

    dest = argv[1]
    v = db.lookup_write(dest)
    if v is None:
        buf = hll.new_sparse()
        db.set(dest, buf)
    else:
        buf = v
        if buf.__class__ is bytes:
            buf = bytearray(buf)
            db.replace_value(dest, buf)
    if use_dense and not hll.sparse_to_dense(buf):
        return R.HLL_INVALID
    if hll.encoding(buf) == hll.HLL_SPARSE:
        # Register by register, as Redis does: the sparse bytes depend on the order of the edits.
        _merge_into_sparse(buf, acc, node.config["hll-sparse-max-bytes"])
    if hll.encoding(buf) == hll.HLL_DENSE:
        # Every register ends at the maximum over the inputs, the destination included.
        buf[hll.HLL_HDR_SIZE:] = hll.pack_registers(acc)
    hll.invalidate_cache(buf)
    db.modified(dest)
    if node.notify_flags:
        node.notify(kn.STRING, b"pfadd", dest, db.id)
    node.dirty += 1
    return R.OK


def _merge_into_sparse(buf, acc, max_bytes: int) -> None:
    """hllSparseSet(j, max[j]) for every non-zero register j, in order (promoting when Redis would)."""
    ed = hll.SparseEditor(buf)
    if ed.ok:
        for j, val in enumerate(acc):
            if val and ed.set(j, val, max_bytes) == hll.PROMOTE:
                ed.flush(buf)
                hll.sparse_to_dense(buf)
                return
        ed.flush(buf)
        return
    for j, val in enumerate(acc):
        if val:
            if hll.encoding(buf) != hll.HLL_SPARSE:
                return
            hll.sparse_set(buf, j, val, max_bytes)


@command("pfdebug", 3, "write denyoom admin", keys=(2, 2, 1), group="hyperloglog", categories="hyperloglog",
         key_specs=(_spec("RW access", 2),),
         summary="Internal commands for debugging HyperLogLog values", since="2.8.9", complexity="N/A")
def pfdebug_command(c, argv):
    db = c.db
    key = argv[2]
    v = db.lookup_write(key)
    if v is None:
        return R.HLL_NO_KEY
    buf = _hll_value(db, key, v)
    if buf.__class__ is bytes:
        return buf
    sub = argv[1].split(b"\0", 1)[0].lower()
    if sub == b"getreg":
        if hll.encoding(buf) == hll.HLL_SPARSE:
            if not hll.sparse_to_dense(buf):
                return R.HLL_INVALID
            c.node.dirty += 1  # force propagation of the encoding change
        regs = hll.registers(buf)
        return b"*%d\r\n" % len(regs) + b"".join(b":%d\r\n" % r for r in regs)
    if sub == b"decode":
        if hll.encoding(buf) != hll.HLL_SPARSE:
            return R.HLL_NOT_SPARSE
        text = hll.decode_sparse(buf)
        return b"$%d\r\n%b\r\n" % (len(text), text)
    if sub == b"encoding":
        return b"+dense\r\n" if hll.encoding(buf) == hll.HLL_DENSE else b"+sparse\r\n"
    if sub == b"todense":
        conv = False
        if hll.encoding(buf) == hll.HLL_SPARSE:
            if not hll.sparse_to_dense(buf):
                return R.HLL_INVALID
            conv = True
            c.node.dirty += 1
        return R.CONE if conv else R.CZERO
    return R.err_fmt(R.PFDEBUG_UNKNOWN, argv[1].split(b"\0", 1)[0])


@command("pfselftest", 1, "admin", group="hyperloglog", categories="hyperloglog",
         summary="An internal command for testing HyperLogLog values", since="2.8.9", complexity="N/A")
def pfselftest_command(c, argv):
    failure = hll.selftest(c.node.config["hll-sparse-max-bytes"])
    if failure is not None:
        return R.err("ERR " + failure)
    return R.OK
