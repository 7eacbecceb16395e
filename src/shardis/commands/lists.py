"""List commands (t_list.c): pushes, pops, ranges, LPOS, LMOVE, LMPOP and the blocking pops.

A list is a ``keyspace.objects.List`` (a deque: O(1) at both ends, C-speed
scans), which Redis 7.0 always reports as ``quicklist``.  Helpers come
first, then the commands in Redis's order.  Every handler follows t_list.c
in what it validates first (arguments before or after the key lookup), in
its keyspace events (``lpush``, ``rpush``, ``lpop``, ``rpop``, ``linsert``,
``lset``, ``lrem``, ``ltrim``, and ``del`` when a list is emptied; LMOVE
notifies the push on the destination before the pop on the source, as Redis
does) and in its ``dirty`` accounting.

The blocking commands (BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP) first try
the non-blocking form; when every key is empty they hand a ``serve``
callback to ``keyspace.blocking.block_for_keys``.  A served client's pop is
propagated as LPOP/RPOP (with a count for BLMPOP) or LMOVE/RPOPLPUSH, exactly
the commands Redis writes to its AOF for a served client.  Inside MULTI the
blocking forms answer at once as if timed out.  CLIENT UNBLOCK lives here too,
next to the commands it interrupts.
"""

from __future__ import annotations

from itertools import chain, islice, repeat, starmap

from ..keyspace import notify as kn
from ..keyspace.blocking import (
    block_for_keys,
    client_unblock,
    deadline_ms,
    must_not_block,
    parse_timeout,
    signal_key_ready,
)
from ..keyspace.objects import List
from ..protocol.resp import bulk, bulk_array, bulk_replies
from ..server import replies as R
from ..server.commandtable import KeySpecError, batch, command, subcommand
from ..server.dispatch import propagate_as as _propagate_as
from .strings import parse_int

LIST_HEAD = 0
LIST_TAIL = 1
LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)

# "$<length>" for elements shorter than this many bytes: reply headers looked up, not formatted.
BULK_HEADERS_CACHED = 1024
_BULK_HEADER = [b"$%d" % n for n in range(BULK_HEADERS_CACHED)]

_POP_NAME = {LIST_HEAD: b"LPOP", LIST_TAIL: b"RPOP"}
_POP_EVENT = {LIST_HEAD: b"lpop", LIST_TAIL: b"rpop"}
_PUSH_EVENT = {LIST_HEAD: b"lpush", LIST_TAIL: b"rpush"}


# --- helpers --------------------------------------------------------------------------------


def _new_list(c, db, key) -> List:
    """dbAdd of an empty list (the caller fills it before returning)."""
    lst = List()
    db.set(key, lst)  # emits the "new" event
    return lst


def _parse_where(arg: bytes):
    """getListPositionFromObjectOrReply: LEFT/RIGHT (any case)."""
    a = arg.lower()
    if a == b"left":
        return LIST_HEAD
    if a == b"right":
        return LIST_TAIL
    return None


def _normalize_range(start: int, end: int, llen: int):
    """Redis's LRANGE index arithmetic; (start, end) inclusive, or None for an empty range."""
    if start < 0:
        start += llen
    if end < 0:
        end += llen
    if start < 0:
        start = 0
    if start > end or start >= llen:
        return None
    if end >= llen:
        end = llen - 1
    return start, end


def _slice(lst: List, start: int, end: int) -> list:
    """Elements start..end (inclusive, valid indexes), walking from the nearer end."""
    n = len(lst)
    if start > n - 1 - end:
        items = list(islice(reversed(lst), n - 1 - end, n - start))
        items.reverse()
        return items
    return list(islice(lst, start, end + 1))


def _elements_reply(items: list) -> bytes:
    """An array of bulk strings (the elements of LRANGE & co), built in one join.

    Formatting "$<len>\r\n<element>\r\n" once per element costs more than
    everything else in a long LRANGE.  Here the "$<len>" headers are looked
    up, laid out between the elements by two slice assignments, and one join
    with "\r\n" as the separator writes the frame (the final b"" adds the
    last CRLF).  An element too long for the header table takes the
    formatting path.
    """
    n = len(items)
    parts = [b""] * (2 * n + 2)
    parts[0] = b"*%d" % n
    try:
        parts[1:-1:2] = [_BULK_HEADER[len(v)] for v in items]
    except IndexError:
        return bulk_array(items)
    parts[2:-1:2] = items
    return b"\r\n".join(parts)


def _pop_n(lst: List, where: int, n: int) -> list:
    """Pop ``n`` elements in reply order (from the tail first for RPOP)."""
    if n == 1:
        return [lst.popleft() if where == LIST_HEAD else lst.pop()]
    pop = lst.popleft if where == LIST_HEAD else lst.pop
    return [pop() for _ in range(n)]


def _elements_removed(c, db, key, where: int, lst: List, count: int) -> None:
    """listElementsRemoved: pop event, delete when empty, WATCH, dirty."""
    node = c.node
    if node.notify_flags:
        node.notify(kn.LIST, _POP_EVENT[where], key, db.id)
    if not lst:
        db.delete(key)
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", key, db.id)
    else:
        db.modified(key)
    node.dirty += count



def _key_reply(key: bytes, items: list) -> bytes:
    """``[key, [elements]]``: the shape of LMPOP/BLMPOP replies."""
    return b"*2\r\n" + bulk(key) + _elements_reply(items)


def _pop_range_with_key(c, db, key, lst: List, where: int, count: int) -> bytes:
    """listPopRangeAndReplyWithKey: pop up to ``count``, reply ``[key, [elements]]``."""
    n = min(count, len(lst))
    items = _pop_n(lst, where, n)
    _elements_removed(c, db, key, where, lst, n)
    return _key_reply(key, items)


def _numkeys_getkeys(numkeys_index: int):
    """Key positions of LMPOP/BLMPOP: numkeys at ``numkeys_index``, keys right after it."""

    def getkeys(argv):
        n = parse_int(argv[numkeys_index]) if len(argv) > numkeys_index else None
        if n is None or n <= 0 or n > len(argv) - numkeys_index - 1:
            raise KeySpecError("numkeys")
        return list(range(numkeys_index + 1, numkeys_index + 1 + n))

    return getkeys


# --- push -------------------------------------------------------------------------------------


def _push_generic(c, argv, where: int, xx: bool) -> bytes:
    key = argv[1]
    db = c.db
    lst = db.lookup_write(key)
    if lst is None:
        if xx:
            return R.CZERO
        lst = _new_list(c, db, key)
    elif not isinstance(lst, List):
        return R.WRONGTYPE
    else:
        db.modified(key)
    node = c.node
    if len(argv) == 3:
        # the usual push, one element: no slice, no extend
        if where == LIST_HEAD:
            lst.appendleft(argv[2])
        else:
            lst.append(argv[2])
        node.dirty += 1
    else:
        values = argv[2:]
        if where == LIST_HEAD:
            lst.extendleft(values)
        else:
            lst.extend(values)
        node.dirty += len(values)
    if node.notify_flags:
        node.notify(kn.LIST, _PUSH_EVENT[where], key, db.id)
    signal_key_ready(db, key)
    return b":%d\r\n" % len(lst)


@command("lpush", -3, "write denyoom fast", keys=(1, 1, 1), group="list", categories="list",
         summary="Prepend one or multiple elements to a list", since="1.0.0",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
def lpush_command(c, argv):
    return _push_generic(c, argv, LIST_HEAD, False)


@command("rpush", -3, "write denyoom fast", keys=(1, 1, 1), group="list", categories="list",
         summary="Append one or multiple elements to a list", since="1.0.0",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
def rpush_command(c, argv):
    return _push_generic(c, argv, LIST_TAIL, False)


@command("lpushx", -3, "write denyoom fast", keys=(1, 1, 1), group="list", categories="list",
         summary="Prepend an element to a list, only if the list exists", since="2.2.0",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
def lpushx_command(c, argv):
    return _push_generic(c, argv, LIST_HEAD, True)


@command("rpushx", -3, "write denyoom fast", keys=(1, 1, 1), group="list", categories="list",
         summary="Append an element to a list, only if the list exists", since="2.2.0",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
def rpushx_command(c, argv):
    return _push_generic(c, argv, LIST_TAIL, True)


@command("linsert", 5, "write denyoom", keys=(1, 1, 1), group="list", categories="list",
         summary="Insert an element before or after another element in a list", since="2.2.0",
         complexity="O(N) where N is the number of elements to traverse before seeing the value pivot. "
                    "This means that inserting somewhere on the left end on the list (head) can be "
                    "considered O(1) and inserting somewhere on the right end (tail) is O(N).")
def linsert_command(c, argv):
    pos = argv[2].lower()
    if pos == b"after":
        after = True
    elif pos == b"before":
        after = False
    else:
        return R.SYNTAX
    key = argv[1]
    db = c.db
    lst = db.lookup_write(key)
    if lst is None:
        return R.CZERO
    if not isinstance(lst, List):
        return R.WRONGTYPE
    try:
        i = lst.index(argv[3])
    except ValueError:
        return R.CNEGONE
    lst.insert(i + 1 if after else i, argv[4])
    db.modified(key)
    node = c.node
    if node.notify_flags:
        node.notify(kn.LIST, b"linsert", key, db.id)
    node.dirty += 1
    return b":%d\r\n" % len(lst)


# --- read --------------------------------------------------------------------------------------


@command("llen", 2, "readonly fast", keys=(1, 1, 1), group="list", categories="list",
         summary="Get the length of a list", since="1.0.0", complexity="O(1)")
def llen_command(c, argv):
    lst = c.db.lookup_read(argv[1])
    if lst is None:
        return R.CZERO
    if not isinstance(lst, List):
        return R.WRONGTYPE
    return b":%d\r\n" % len(lst)


@command("lindex", 3, "readonly", keys=(1, 1, 1), group="list", categories="list",
         summary="Get an element from a list by its index", since="1.0.0",
         complexity="O(N) where N is the number of elements to traverse to get to the element at index. "
                    "This makes asking for the first or the last element of the list O(1).")
def lindex_command(c, argv):
    lst = c.db.lookup_read(argv[1])
    if lst is None:
        return c.resp.null
    if not isinstance(lst, List):
        return R.WRONGTYPE
    index = parse_int(argv[2])
    if index is None:
        return R.NOT_INTEGER
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        return c.resp.null
    return bulk(lst[index])


@command("lset", 4, "write denyoom", keys=(1, 1, 1), group="list", categories="list",
         summary="Set the value of an element in a list by its index", since="1.0.0",
         complexity="O(N) where N is the length of the list. Setting either the first or the last "
                    "element of the list is O(1).")
def lset_command(c, argv):
    key = argv[1]
    db = c.db
    lst = db.lookup_write(key)
    if lst is None:
        return R.NO_SUCH_KEY
    if not isinstance(lst, List):
        return R.WRONGTYPE
    index = parse_int(argv[2])
    if index is None:
        return R.NOT_INTEGER
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        return R.OUT_OF_RANGE
    lst[index] = argv[3]
    db.modified(key)
    node = c.node
    if node.notify_flags:
        node.notify(kn.LIST, b"lset", key, db.id)
    node.dirty += 1
    return R.OK


@command("lrange", 4, "readonly", keys=(1, 1, 1), group="list", categories="list",
         summary="Get a range of elements from a list", since="1.0.0",
         complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, from "
                    "nearest end (HEAD or TAIL) for large lists; and N is the number of elements in "
                    "the specified range.")
def lrange_command(c, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start is None or end is None:
        return R.NOT_INTEGER
    lst = c.db.lookup_read(argv[1])
    if lst is None:
        return b"*0\r\n"
    if not isinstance(lst, List):
        return R.WRONGTYPE
    rng = _normalize_range(start, end, len(lst))
    if rng is None:
        return b"*0\r\n"
    return _elements_reply(_slice(lst, *rng))


@command("lpos", -3, "readonly", keys=(1, 1, 1), group="list", categories="list",
         summary="Return the index of matching elements on a list", since="6.0.6",
         complexity="O(N) where N is the number of elements in the list, for the average case. When "
                    "searching for elements near the head or the tail of the list, or when the MAXLEN "
                    "option is provided, the command may run in constant time.")
def lpos_command(c, argv):
    rank = 1
    count = -1  # -1: no COUNT option (reply is one index or null)
    maxlen = 0
    argc = len(argv)
    j = 3
    while j < argc:
        opt = argv[j].upper()
        more = argc - 1 - j
        if opt == b"RANK" and more:
            j += 1
            rank = parse_int(argv[j])
            if rank is None:
                return R.NOT_INTEGER
            if rank == 0:
                return R.LPOS_RANK_ZERO
        elif opt == b"COUNT" and more:
            j += 1
            count = parse_int(argv[j])
            if count is None or count < 0:
                return R.LPOS_COUNT_NEGATIVE
        elif opt == b"MAXLEN" and more:
            j += 1
            maxlen = parse_int(argv[j])
            if maxlen is None or maxlen < 0:
                return R.LPOS_MAXLEN_NEGATIVE
        else:
            return R.SYNTAX
        j += 1
    forward = True
    if rank < 0:
        forward = False
        # -LONG_MIN overflows to itself in C: every match then satisfies the rank.
        rank = 1 if rank == LONG_MIN else -rank
    lst = c.db.lookup_read(argv[1])
    if lst is None:
        return b"*0\r\n" if count != -1 else c.resp.null
    if not isinstance(lst, List):
        return R.WRONGTYPE
    n = len(lst)
    limit = n if maxlen == 0 else min(maxlen, n)
    # Scan with C-speed index() over the part of the list MAXLEN allows.
    if forward:
        seq = lst if limit == n else list(islice(lst, limit))
    else:
        seq = list(islice(reversed(lst), limit))
    ele = argv[2]
    matches = 0
    found = []
    i = 0
    while True:
        try:
            i = seq.index(ele, i, limit)
        except ValueError:
            break
        matches += 1
        if matches >= rank:
            pos = i if forward else n - 1 - i
            if count == -1:
                return b":%d\r\n" % pos
            found.append(pos)
            if count and len(found) >= count:
                break
        i += 1
    if count == -1:
        return c.resp.null
    return b"*%d\r\n" % len(found) + b"".join(b":%d\r\n" % p for p in found)


# --- remove ---------------------------------------------------------------------------------------


@command("ltrim", 4, "write", keys=(1, 1, 1), group="list", categories="list",
         summary="Trim a list to the specified range", since="1.0.0",
         complexity="O(N) where N is the number of elements to be removed by the operation.")
def ltrim_command(c, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start is None or end is None:
        return R.NOT_INTEGER
    key = argv[1]
    db = c.db
    lst = db.lookup_write(key)
    if lst is None:
        return R.OK
    if not isinstance(lst, List):
        return R.WRONGTYPE
    llen = len(lst)
    rng = _normalize_range(start, end, llen)
    if rng is None:
        ltrim, rtrim = llen, 0
    else:
        ltrim, rtrim = rng[0], llen - rng[1] - 1
    kept = llen - ltrim - rtrim
    if ltrim + rtrim > kept:
        items = _slice(lst, ltrim, ltrim + kept - 1) if kept else []
        lst.clear()
        lst.extend(items)
    else:
        for _ in range(ltrim):
            lst.popleft()
        for _ in range(rtrim):
            lst.pop()
    node = c.node
    if node.notify_flags:
        node.notify(kn.LIST, b"ltrim", key, db.id)
    if not lst:
        db.delete(key)
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", key, db.id)
    else:
        db.modified(key)
    node.dirty += ltrim + rtrim
    return R.OK


@command("lrem", 4, "write", keys=(1, 1, 1), group="list", categories="list",
         summary="Remove elements from a list", since="1.0.0",
         complexity="O(N+M) where N is the length of the list and M is the number of elements removed.")
def lrem_command(c, argv):
    toremove = parse_int(argv[2])
    if toremove is None:
        return R.NOT_INTEGER
    key = argv[1]
    db = c.db
    lst = db.lookup_write(key)
    if lst is None:
        return R.CZERO
    if not isinstance(lst, List):
        return R.WRONGTYPE
    ele = argv[3]
    present = lst.count(ele)
    removed = present if toremove == 0 else min(present, abs(toremove))
    if removed:
        if removed == present:
            items = [x for x in lst if x != ele]
        else:
            items = []
            left = removed
            source = lst if toremove > 0 else reversed(lst)
            for x in source:
                if left and x == ele:
                    left -= 1
                    continue
                items.append(x)
            if toremove < 0:
                items.reverse()
        lst.clear()
        lst.extend(items)
        db.modified(key)
    node = c.node
    node.dirty += removed
    if removed and node.notify_flags:
        node.notify(kn.LIST, b"lrem", key, db.id)
    if not lst:
        db.delete(key)
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", key, db.id)
    return b":%d\r\n" % removed


def _pop_generic(c, argv, where: int) -> bytes:
    argc = len(argv)
    if argc > 3:
        return R.wrong_arity(argv[0])
    count = 0
    if argc == 3:
        count = parse_int(argv[2])
        if count is None or count < 0:
            return R.MIN_ONE
    key = argv[1]
    db = c.db
    lst = db.lookup_write(key)
    if lst is None:
        return c.resp.null_array if argc == 3 else c.resp.null
    if not isinstance(lst, List):
        return R.WRONGTYPE
    if argc == 3 and count == 0:
        return b"*0\r\n"
    if argc == 2:
        v = lst.popleft() if where == LIST_HEAD else lst.pop()
        _elements_removed(c, db, key, where, lst, 1)
        return b"$%d\r\n%b\r\n" % (len(v), v)
    n = min(count, len(lst))
    items = _pop_n(lst, where, n)
    _elements_removed(c, db, key, where, lst, n)
    return _elements_reply(items)


@command("lpop", -2, "write fast", keys=(1, 1, 1), group="list", categories="list",
         summary="Remove and get the first elements in a list", since="1.0.0",
         complexity="O(N) where N is the number of elements returned")
def lpop_command(c, argv):
    return _pop_generic(c, argv, LIST_HEAD)


@command("rpop", -2, "write fast", keys=(1, 1, 1), group="list", categories="list",
         summary="Remove and get the last elements in a list", since="1.0.0",
         complexity="O(N) where N is the number of elements returned")
def rpop_command(c, argv):
    return _pop_generic(c, argv, LIST_TAIL)


# --- move ------------------------------------------------------------------------------------------


def _move_push(c, db, dstkey, dst, value, where: int) -> None:
    """lmoveHandlePush: create the destination if needed, push, notify, wake its waiters."""
    if dst is None:
        dst = _new_list(c, db, dstkey)
    else:
        db.modified(dstkey)
    if where == LIST_HEAD:
        dst.appendleft(value)
    else:
        dst.append(value)
    node = c.node
    if node.notify_flags:
        node.notify(kn.LIST, _PUSH_EVENT[where], dstkey, db.id)
    signal_key_ready(db, dstkey)


def _move_finish_source(c, db, srckey, src: List, wherefrom: int) -> None:
    """The source half of a move, after the push: pop event, deletion of an emptied list."""
    node = c.node
    if node.notify_flags:
        node.notify(kn.LIST, _POP_EVENT[wherefrom], srckey, db.id)
    if not src:
        db.delete(srckey)
        if node.notify_flags:
            node.notify(kn.GENERIC, b"del", srckey, db.id)
    else:
        db.modified(srckey)


def _lmove_generic(c, srckey, dstkey, wherefrom: int, whereto: int) -> bytes:
    """lmoveGenericCommand for LMOVE, RPOPLPUSH and the non-blocking path of their B forms."""
    db = c.db
    src = db.lookup_write(srckey)
    if src is None:
        return c.resp.null
    if not isinstance(src, List):
        return R.WRONGTYPE
    if not src:
        return c.resp.null
    dst = db.lookup_write(dstkey)
    if dst is not None and not isinstance(dst, List):
        return R.WRONGTYPE
    value = src.popleft() if wherefrom == LIST_HEAD else src.pop()
    if dst is None and srckey == dstkey:
        dst = src  # rotating a one-element list: it is never empty in between
    _move_push(c, db, dstkey, dst, value, whereto)
    _move_finish_source(c, db, srckey, src, wherefrom)
    c.node.dirty += 1
    return b"$%d\r\n%b\r\n" % (len(value), value)


@command("lmove", 5, "write denyoom", keys=(1, 2, 1), group="list", categories="list",
         summary="Pop an element from a list, push it to another list and return it", since="6.2.0",
         complexity="O(1)")
def lmove_command(c, argv):
    wherefrom = _parse_where(argv[3])
    if wherefrom is None:
        return R.SYNTAX
    whereto = _parse_where(argv[4])
    if whereto is None:
        return R.SYNTAX
    return _lmove_generic(c, argv[1], argv[2], wherefrom, whereto)


@command("rpoplpush", 3, "write denyoom", keys=(1, 2, 1), group="list", categories="list",
         summary="Remove the last element in a list, prepend it to another list and return it",
         since="1.2.0", complexity="O(1)")
def rpoplpush_command(c, argv):
    return _lmove_generic(c, argv[1], argv[2], LIST_TAIL, LIST_HEAD)


# --- LMPOP -------------------------------------------------------------------------------------------


def _parse_mpop(argv, numkeys_index: int):
    """The arguments of LMPOP/BLMPOP after the timeout: (keys, where, count) or an error frame."""
    numkeys = parse_int(argv[numkeys_index])
    if numkeys is None or numkeys <= 0:
        return R.NUMKEYS_NOT_POSITIVE
    where_index = numkeys_index + numkeys + 1
    argc = len(argv)
    if where_index >= argc:
        return R.SYNTAX
    where = _parse_where(argv[where_index])
    if where is None:
        return R.SYNTAX
    count = -1
    j = where_index + 1
    while j < argc:
        if count == -1 and argv[j].upper() == b"COUNT" and argc - 1 - j > 0:
            j += 1
            count = parse_int(argv[j])
            if count is None or count <= 0:
                return R.COUNT_NOT_POSITIVE
        else:
            return R.SYNTAX
        j += 1
    if count == -1:
        count = 1
    return argv[numkeys_index + 1:where_index], where, count


def _mpop_now(c, keys, where: int, count: int):
    """Pop from the first non-empty list among ``keys``: the reply, or None if all are empty."""
    db = c.db
    for key in keys:
        lst = db.lookup_write(key)
        if lst is None:
            continue
        if not isinstance(lst, List):
            return R.WRONGTYPE
        if not lst:
            continue
        n = min(count, len(lst))
        reply = _pop_range_with_key(c, db, key, lst, where, count)
        _propagate_as(c, [_POP_NAME[where], key, b"%d" % n])
        return reply
    return None


@command("lmpop", -4, "write", group="list", categories="list", getkeys=_numkeys_getkeys(1),
         summary="Pop elements from a list", since="7.0.0",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements returned.")
def lmpop_command(c, argv):
    parsed = _parse_mpop(argv, 1)
    if parsed.__class__ is bytes:
        return parsed
    keys, where, count = parsed
    reply = _mpop_now(c, keys, where, count)
    return c.resp.null_array if reply is None else reply


# --- blocking pops -------------------------------------------------------------------------------------


def _serve_pop(where: int, count: int):
    """The serve callback of BLPOP/BRPOP (count -1) and BLMPOP (count >= 1)."""

    def serve(c, key):
        db = c.db
        lst = db.peek(key)
        if not isinstance(lst, List) or not lst:
            return None
        node = c.node
        if count == -1:
            node.propagate(db.id, [_POP_NAME[where], key])
            v = lst.popleft() if where == LIST_HEAD else lst.pop()
            if node.notify_flags:
                node.notify(kn.LIST, _POP_EVENT[where], key, db.id)
            if not lst:
                db.delete(key)
                if node.notify_flags:
                    node.notify(kn.GENERIC, b"del", key, db.id)
            else:
                db.modified(key)
            return b"*2\r\n" + bulk(key) + bulk(v)
        # BLMPOP goes through listPopRangeAndReplyWithKey, which counts dirty.
        node.propagate(db.id, [_POP_NAME[where], key, b"%d" % min(count, len(lst))])
        return _pop_range_with_key(c, db, key, lst, where, count)

    return serve


def _blocking_pop(c, keys, where: int, timeout_arg: bytes, count: int):
    """blockingPopGenericCommand for BLPOP/BRPOP (count -1) and BLMPOP."""
    seconds = parse_timeout(timeout_arg)
    if seconds.__class__ is bytes:
        return seconds
    db = c.db
    for key in keys:
        lst = db.lookup_write(key)
        if lst is None:
            continue
        if not isinstance(lst, List):
            return R.WRONGTYPE
        if not lst:
            continue
        if count != -1:
            n = min(count, len(lst))
            reply = _pop_range_with_key(c, db, key, lst, where, count)
            _propagate_as(c, [_POP_NAME[where], key, b"%d" % n])
            return reply
        v = lst.popleft() if where == LIST_HEAD else lst.pop()
        _elements_removed(c, db, key, where, lst, 1)
        _propagate_as(c, [_POP_NAME[where], key])
        return b"*2\r\n" + bulk(key) + bulk(v)
    if must_not_block(c):
        return c.resp.null_array
    return block_for_keys(c, db, keys, deadline_ms(seconds), _serve_pop(where, count))


@command("blpop", -3, "write noscript blocking", keys=(1, -2, 1), group="list", categories="list",
         summary="Remove and get the first element in a list, or block until one is available",
         since="2.0.0", complexity="O(N) where N is the number of provided keys.")
def blpop_command(c, argv):
    return _blocking_pop(c, argv[1:-1], LIST_HEAD, argv[-1], -1)


@command("brpop", -3, "write noscript blocking", keys=(1, -2, 1), group="list", categories="list",
         summary="Remove and get the last element in a list, or block until one is available",
         since="2.0.0", complexity="O(N) where N is the number of provided keys.")
def brpop_command(c, argv):
    return _blocking_pop(c, argv[1:-1], LIST_TAIL, argv[-1], -1)


@command("blmpop", -5, "write blocking", group="list", categories="list", getkeys=_numkeys_getkeys(2),
         summary="Pop elements from a list, or block until one is available", since="7.0.0",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements returned.")
def blmpop_command(c, argv):
    parsed = _parse_mpop(argv, 2)
    if parsed.__class__ is bytes:
        return parsed
    keys, where, count = parsed
    return _blocking_pop(c, keys, where, argv[1], count)


def _serve_move(dstkey: bytes, wherefrom: int, whereto: int, brpoplpush: bool):
    """The serve callback of BLMOVE/BRPOPLPUSH (serveClientBlockedOnList with a target)."""

    def serve(c, key):
        db = c.db
        src = db.peek(key)
        if not isinstance(src, List) or not src:
            return None
        dst = db.lookup_write(dstkey)
        if dst is not None and not isinstance(dst, List):
            return R.WRONGTYPE
        value = src.popleft() if wherefrom == LIST_HEAD else src.pop()
        if dst is None and dstkey == key:
            dst = src
        _move_push(c, db, dstkey, dst, value, whereto)
        if brpoplpush:
            argv = [b"RPOPLPUSH", key, dstkey]
        else:
            argv = [b"LMOVE", key, dstkey, _WHERE_NAME[wherefrom], _WHERE_NAME[whereto]]
        c.node.propagate(db.id, argv)
        _move_finish_source(c, db, key, src, wherefrom)
        return b"$%d\r\n%b\r\n" % (len(value), value)

    return serve


_WHERE_NAME = {LIST_HEAD: b"left", LIST_TAIL: b"right"}


def _blmove_generic(c, argv, wherefrom: int, whereto: int, timeout_arg: bytes, brpoplpush: bool):
    """BLMOVE/BRPOPLPUSH: move at once when the source has elements, else block on it."""
    srckey, dstkey = argv[1], argv[2]
    seconds = parse_timeout(timeout_arg)
    if seconds.__class__ is bytes:
        return seconds
    db = c.db
    src = db.lookup_write(srckey)
    if src is not None and not isinstance(src, List):
        return R.WRONGTYPE
    if src is None:
        if must_not_block(c):
            return c.resp.null
        return block_for_keys(c, db, [srckey], deadline_ms(seconds),
                              _serve_move(dstkey, wherefrom, whereto, brpoplpush))
    reply = _lmove_generic(c, srckey, dstkey, wherefrom, whereto)
    if reply[:1] == b"$":
        if brpoplpush:
            _propagate_as(c, [b"RPOPLPUSH", srckey, dstkey])
        else:
            _propagate_as(c, [b"LMOVE", srckey, dstkey, argv[3], argv[4]])
    return reply


@command("brpoplpush", 4, "write denyoom noscript blocking", keys=(1, 2, 1), group="list",
         categories="list",
         summary="Pop an element from a list, push it to another list and return it; or block until one is available",
         since="2.2.0", complexity="O(1)")
def brpoplpush_command(c, argv):
    return _blmove_generic(c, argv, LIST_TAIL, LIST_HEAD, argv[3], True)


@command("blmove", 6, "write denyoom noscript blocking", keys=(1, 2, 1), group="list", categories="list",
         summary="Pop an element from a list, push it to another list and return it; or block until one is available",
         since="6.2.0", complexity="O(1)")
def blmove_command(c, argv):
    wherefrom = _parse_where(argv[3])
    if wherefrom is None:
        return R.SYNTAX
    whereto = _parse_where(argv[4])
    if whereto is None:
        return R.SYNTAX
    return _blmove_generic(c, argv, wherefrom, whereto, argv[5], False)


# --- CLIENT UNBLOCK ----------------------------------------------------------------------------------


@subcommand("client", "unblock", -3, "admin noscript loading stale", categories="connection",
            summary="Unblock a client blocked in a blocking command from a different connection",
            since="5.0.0", complexity="O(log N) where N is the number of client connections")
def client_unblock_command(c, argv):
    if len(argv) > 4:
        return R.err_fmt(R.SUBCOMMAND_SYNTAX, argv[1][:128], argv[0].upper())
    error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason == b"error":
            error = True
        elif reason != b"timeout":
            return R.CLIENT_UNBLOCK_REASON
    cid = parse_int(argv[2])
    if cid is None:
        return R.NOT_INTEGER
    target = c.node.clients.get(cid)
    if target is not None and client_unblock(target, error):
        return R.CONE
    return R.CZERO


# --- batch forms (a pipeline of one command at once, see commandtable.batch) ----------------------
#
# Each form does what the handler does m times, in one pass of C-level
# operations where it can: a list is always quicklist-encoded in Redis 7.0
# (no conversion to follow), so the state of a batch is the elements, the
# keys created or deleted, the LRU clock, hit/miss counts and dirty.  Every
# form declines (returns None having changed nothing) when keyspace events
# are on, when a key has a TTL (lazy expiry is decided per request), when a
# key is WATCHed, when a client waits on a pushed key, or when a request
# would reply an error (wrong type, not an integer).

_INT_REPLY = b":%d\r\n".__mod__
_TWO_DIGITS = [b"%02d" % i for i in range(100)]
_ONE_OR_TWO_DIGITS = [b"%d" % i for i in range(100)]


def _counting_replies(first: int, last: int, step: int) -> bytes:
    """The integer replies first, first+step, ... last (0 <= first, 0 < step < 100), joined.

    The lengths a run of pushes onto one list replies with.  Formatting an
    integer costs more than the push itself, so the numbers are written a
    hundred at a time: those sharing ``n // 100`` differ only in their two
    last digits, which are looked up, and one join per hundred writes
    ":<high><low>\\r\\n" for each.
    """
    out = []
    n = first
    while n <= last:
        high = n // 100
        low = n - high * 100
        end = high * 100 + 99
        if end > last:
            end = last
        count = (end - n) // step + 1
        if high:
            head = b":%d" % high
            table = _TWO_DIGITS
        else:
            head = b":"
            table = _ONE_OR_TWO_DIGITS  # no leading zero below 100
        out.append(head + (b"\r\n" + head).join(table[low:low + (count - 1) * step + 1:step]) + b"\r\n")
        n += count * step
    return b"".join(out)


def _batch_declines(c, db, keys) -> bool:
    """The conditions every list batch form declines on (``keys``: the distinct keys)."""
    if c.node.notify_flags:
        return True
    expires = db.expires
    if expires and not expires.keys().isdisjoint(keys):
        return True
    watched = db.watched
    return bool(watched) and not watched.keys().isdisjoint(keys)


def _create_lists(db, keys) -> None:
    """dbAdd of an empty list for each of ``keys`` (missing, no TTL, not watched), in this order.

    What ``Database.set`` does for such a key (the caller declined keyspace
    events): the slot index in cluster mode and the value; the caller sets
    the LRU clock of every key it touched, in order of first appearance.
    """
    data = db.data
    index = db.slot_index
    for key in keys:
        if index is not None:
            index.add(key)
        data[key] = List()


def _push_batch(c, columns, m: int, where: int):
    """m LPUSH/RPUSH requests: the elements of every request in one extend per key."""
    db = c.db
    keys = columns[1]
    key = keys[0]
    single = keys.count(key) == m
    distinct = (key,) if single else list(dict.fromkeys(keys))
    if _batch_declines(c, db, distinct):
        return None
    blocking = db.blocking
    if blocking and not blocking.keys().isdisjoint(distinct):
        return None  # a waiter must be served after the push that wakes it: the handler's route
    data = db.data
    missing = []
    for k in distinct:
        v = data.get(k)
        if v is None:
            missing.append(k)
        elif v.__class__ is not List:
            return None  # WRONGTYPE
    # Decided: from here on every request succeeds.
    width = len(columns) - 2  # elements per request
    node = c.node
    if missing:
        _create_lists(db, missing)
    if single:
        lst = data[key]
        n0 = len(lst)
        if width == 1:
            values = columns[2]
        else:
            # row by row: request 1's elements, then request 2's ... as m pushes add them
            values = list(chain.from_iterable(zip(*columns[2:])))
        if where == LIST_HEAD:
            lst.extendleft(values)
        else:
            lst.extend(values)
        db.access[key] = node.lru_clock
        node.dirty += m * width
        return _counting_replies(n0 + width, n0 + width * m, width)
    lists = {k: data[k] for k in distinct}
    lengths = []
    if width == 1:
        if where == LIST_HEAD:
            for k, v in zip(keys, columns[2]):
                lst = lists[k]
                lst.appendleft(v)
                lengths.append(len(lst))
        else:
            for k, v in zip(keys, columns[2]):
                lst = lists[k]
                lst.append(v)
                lengths.append(len(lst))
    else:
        for k, row in zip(keys, zip(*columns[2:])):
            lst = lists[k]
            if where == LIST_HEAD:
                lst.extendleft(row)
            else:
                lst.extend(row)
            lengths.append(len(lst))
    db.access.update(zip(distinct, repeat(node.lru_clock)))
    node.dirty += m * width
    return b"".join(map(_INT_REPLY, lengths))


@batch("lpush")
def lpush_batch(c, columns, m):
    return _push_batch(c, columns, m, LIST_HEAD)


@batch("rpush")
def rpush_batch(c, columns, m):
    return _push_batch(c, columns, m, LIST_TAIL)


def _pop_batch(c, columns, m: int, where: int):
    """m LPOP/RPOP requests without a count: the pops of each key in one C-level pass.

    A list that runs out in the batch is deleted where the handler deletes
    it (after its last element), and the requests after that find no key.
    """
    if len(columns) != 2:
        return None  # with a count: the handler
    db = c.db
    keys = columns[1]
    key = keys[0]
    single = keys.count(key) == m
    distinct = (key,) if single else list(dict.fromkeys(keys))
    if _batch_declines(c, db, distinct):
        return None
    data = db.data
    for k in distinct:
        v = data.get(k)
        if v is not None and (v.__class__ is not List or not v):
            return None  # WRONGTYPE (or an empty list, which is never stored)
    node = c.node
    null = c.resp.null
    if single:
        lst = data.get(key)
        if lst is None:
            return null * m  # lookup_write of a missing key counts nothing
        n = len(lst)
        pop = lst.popleft if where == LIST_HEAD else lst.pop
        if m < n:
            items = list(starmap(pop, repeat((), m)))
            db.access[key] = node.lru_clock
            node.dirty += m
            return bulk_replies(items)
        items = list(starmap(pop, repeat((), n)))
        db.delete(key)  # the last element gone: the key goes with it
        node.dirty += n
        return bulk_replies(items) + null * (m - n)
    lists = {k: data.get(k) for k in distinct}
    out = []
    popped = 0
    for k in keys:
        lst = lists[k]
        if lst:
            v = lst.popleft() if where == LIST_HEAD else lst.pop()
            out.append(b"$%d\r\n%b\r\n" % (len(v), v))
            popped += 1
        else:
            out.append(null)
    access = db.access
    clock = node.lru_clock
    for k, lst in lists.items():
        if lst is None:
            continue
        access[k] = clock
        if not lst:
            db.delete(k)
    node.dirty += popped
    return b"".join(out)


@batch("lpop")
def lpop_batch(c, columns, m):
    return _pop_batch(c, columns, m, LIST_HEAD)


@batch("rpop")
def rpop_batch(c, columns, m):
    return _pop_batch(c, columns, m, LIST_TAIL)


def _range_reply(lst: List, start: int, end: int) -> bytes:
    """LRANGE's reply for a list and parsed indexes (the handler's last steps)."""
    rng = _normalize_range(start, end, len(lst))
    if rng is None:
        return b"*0\r\n"
    return _elements_reply(_slice(lst, *rng))


@batch("lrange")
def lrange_batch(c, columns, m):
    """m LRANGE requests: read-only, so each distinct (key, start, end) is answered once.

    The lists cannot change within the batch, so m identical requests (the
    usual pipeline) cost one range and a repeated reply; the hit/miss counts
    and LRU clock are those of m lookups.
    """
    db = c.db
    keys, starts, ends = columns[1], columns[2], columns[3]
    key, s0, e0 = keys[0], starts[0], ends[0]
    data = db.data
    if keys.count(key) == m and starts.count(s0) == m and ends.count(e0) == m:
        start = parse_int(s0)
        end = parse_int(e0)
        if start is None or end is None:
            return None  # the handler's error
        expires = db.expires
        if expires and key in expires:
            return None
        lst = data.get(key)
        if lst is None:
            if c.node.notify_flags:
                return None  # keymiss events
            db.misses += m
            return b"*0\r\n" * m
        if lst.__class__ is not List:
            return None  # WRONGTYPE
        reply = _range_reply(lst, start, end)
        db.hits += m
        db.access[key] = c.node.lru_clock
        return reply * m
    indexes = {}
    for a in chain(dict.fromkeys(starts), dict.fromkeys(ends)):
        v = parse_int(a)
        if v is None:
            return None
        indexes[a] = v
    distinct = list(dict.fromkeys(keys))
    expires = db.expires
    if expires and not expires.keys().isdisjoint(distinct):
        return None
    lists = {}
    for k in distinct:
        v = data.get(k)
        if v is not None and v.__class__ is not List:
            return None
        lists[k] = v
    misses = sum(1 for k in keys if lists[k] is None) if None in lists.values() else 0
    if misses and c.node.notify_flags:
        return None
    cache = {}
    out = []
    for request in zip(keys, starts, ends):
        reply = cache.get(request)
        if reply is None:
            lst = lists[request[0]]
            if lst is None:
                reply = b"*0\r\n"
            else:
                reply = _range_reply(lst, indexes[request[1]], indexes[request[2]])
            cache[request] = reply
        out.append(reply)
    db.misses += misses
    db.hits += m - misses
    clock = c.node.lru_clock
    db.access.update((k, clock) for k, v in lists.items() if v is not None)
    return b"".join(out)
