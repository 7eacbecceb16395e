"""One logical database: keys, their expiry times, and lookups with lazy expiry.

Like Redis's ``redisDb`` this keeps two dicts: ``data`` (key -> value) and
``expires`` (key -> absolute unix time in ms), so a key without a TTL costs
nothing extra and the active expiry cycle can sample ``expires`` alone.

Every read or write of a key goes through the lookup methods here so that
lazy expiry, keyspace hit/miss statistics, the access clock (OBJECT
IDLETIME), WATCH invalidation and keyspace notifications have one home.
The methods are small and flat because they sit on the hot path: a GET is
``lookup_read`` and nothing else.

``expired_hook`` and the ``on_add``/``on_delete`` hooks let other
subsystems follow the keyspace without the keyspace knowing them: the
replication/AOF stream learns about lazily expired keys (Redis propagates a
DEL), and cluster mode keeps a per-slot key index.
"""

from __future__ import annotations

import heapq
import time
from itertools import compress, repeat
from operator import is_not

from . import notify as kn
from .lfu import lfu_new, lfu_touch

_NONE_TYPE = type(None)

__all__ = ["Database", "LFUDatabase"]


def now_ms() -> int:
    return int(time.time() * 1000)


class Database:
    __slots__ = (
        "id",
        "node",
        "data",
        "expires",
        "access",
        "watched",
        "watched_stale",
        "blocking",
        "hits",
        "misses",
        "expired_keys",
        "avg_ttl",
        "slot_index",
        "expiry_heap",
    )

    def __init__(self, dbid: int, node=None):
        self.id = dbid
        # The owning node (for its clocks and subsystems); a bare Database gets a
        # stand-in so the hot paths need no None checks.
        self.node = node if node is not None else _DetachedNode()
        self.data: dict = {}
        self.expires: dict = {}
        self.access: dict = {}  # key -> LRU clock (seconds) of last access
        self.watched: dict = {}  # key -> set of clients WATCHing it
        # key -> the clients of watched[key] that WATCHed it while it was
        # already logically expired (see touch_watched)
        self.watched_stale: dict = {}
        self.blocking: dict = {}  # key -> deque of clients blocked on it
        self.hits = 0
        self.misses = 0
        self.expired_keys = 0
        self.avg_ttl = 0
        self.slot_index = None  # cluster mode: a SlotIndex following every add/delete
        # (when_ms, key) for every TTL ever set; entries whose key has since
        # changed TTL are stale and skipped.  See keyspace/expire.py.
        self.expiry_heap: list = []

    # --- expiry -----------------------------------------------------------

    def _expire_if_needed(self, key) -> bool:
        """Delete ``key`` if its TTL has passed.  True when it is (logically) gone."""
        when = self.expires.get(key)
        if when is None or when > time.time() * 1000:
            return False
        node = self.node
        if node.loading:
            # keyIsExpired answers "no" while loading: a replayed AOF must see
            # keys as they were when written (expiry happens after the load).
            return False
        if node.is_replica_of_master():
            # A replica waits for its master's DEL but reports the key as gone.
            return True
        self._delete_expired(key)
        return True

    def _delete_expired(self, key) -> None:
        self.delete(key)
        self.expired_keys += 1
        node = self.node
        node.stat_expired_keys += 1
        node.key_expired(self, key)

    # --- lookups ----------------------------------------------------------

    def lookup_read(self, key):
        """The value for a read command (None when missing or expired)."""
        v = self.data.get(key)
        if v is None:
            self.misses += 1
            if self.node.notify_flags:
                self.node.notify(kn.KEY_MISS, b"keymiss", key, self.id)
            return None
        if self.expires and key in self.expires and self._expire_if_needed(key):
            self.misses += 1
            if self.node.notify_flags:
                self.node.notify(kn.KEY_MISS, b"keymiss", key, self.id)
            return None
        self.hits += 1
        self.access[key] = self.node.lru_clock
        return v

    def lookup_read_batch(self, keys, kinds: set):
        """``lookup_read`` of every key of a batch form's requests, or None having changed nothing.

        The values (None for a missing key), with lookup_read's hit/miss
        counts and LRU clock.  Declined: a key with a TTL, or a miss while
        keyspace events are on (see read_batch); a value whose type is not in
        ``kinds`` (the handler's WRONGTYPE is an error reply, counted per
        request).
        """
        values = self.read_batch(keys)
        if values is None:
            return None
        found = set(map(type, values))
        found.discard(_NONE_TYPE)
        if not found <= kinds:
            return None
        self.note_reads(keys, values)
        return values

    def read_batch(self, keys):
        """The values of ``keys`` (None for a missing key) for a read batch form, changing nothing.

        None when the batch must go request by request: a key with a TTL
        (expiry is decided at each lookup) or, with keyspace events on, a
        miss (keymiss events).  The caller checks the values' types, then
        has the reads counted with ``note_reads``.
        """
        expires = self.expires
        if expires and not expires.keys().isdisjoint(keys):
            return None
        values = list(map(self.data.get, keys))
        if self.node.notify_flags and None in values:
            return None
        return values

    def batch_key(self, keys, m: int):
        """The key of a single-key write batch form, or None when the batch must go request by request.

        Every one of the ``m`` requests must name the same key, and nothing
        that is decided request by request may apply to it: keyspace events,
        WATCH (any key watched in this database), a TTL (lookup_write decides
        expiry per request), or a client blocked on the key (it is served
        between the request that wakes it and the next one).
        """
        key = keys[0]
        if keys.count(key) != m:
            return None
        if self.node.notify_flags or self.watched:
            return None
        if self.expires and key in self.expires:
            return None
        if self.blocking and key in self.blocking:
            return None
        return key

    def note_reads(self, keys, values) -> None:
        """lookup_read's hit/miss counts and LRU clock for the reads of ``read_batch``."""
        misses = values.count(None)
        self.misses += misses
        self.hits += len(values) - misses
        clock = self.node.lru_clock
        if misses:
            # Only the hits: a missed key is absent from the keyspace, and so from
            # ``access``.  (Putting every key in and taking the misses out again
            # costs fewer instructions but twice the probes of a large dict, which
            # is where the time goes: cache misses.)
            self.access.update(zip(compress(keys, map(is_not, values, repeat(None))), repeat(clock)))
        else:
            self.access.update(zip(keys, repeat(clock)))

    def lookup_write(self, key):
        """The value for a write command (None when missing or expired); no hit/miss stats."""
        v = self.data.get(key)
        if v is None:
            return None
        if self.expires and key in self.expires and self._expire_if_needed(key):
            return None
        self.access[key] = self.node.lru_clock
        return v

    def peek(self, key):
        """The value without touching statistics or the access clock (but honouring expiry)."""
        v = self.data.get(key)
        if v is None:
            return None
        if self.expires and key in self.expires and self._expire_if_needed(key):
            return None
        return v

    def exists(self, key) -> bool:
        return self.peek(key) is not None

    # --- writes -------------------------------------------------------------

    def set(self, key, value, keepttl: bool = False) -> None:
        """Store ``value`` under ``key``, replacing any old value (and its TTL unless keepttl).

        An old value whose TTL already passed is expired first (event,
        statistics, propagated DEL), so the key is then created anew, as
        Redis's lookupKeyWrite + dbAdd do; creating a key is the ``new`` event.
        """
        expires = self.expires
        if expires and key in expires:
            if (
                expires[key] <= time.time() * 1000
                and not self.node.loading
                and not self.node.is_replica_of_master()
            ):
                self._delete_expired(key)
            elif not keepttl:
                del expires[key]
        node = self.node
        if node.notify_flags & kn.NEW and key not in self.data:
            node.notify(kn.NEW, b"new", key, self.id)
        if self.slot_index is not None and key not in self.data:
            self.slot_index.add(key)
        self.data[key] = value
        self.access[key] = node.lru_clock
        if self.watched:
            self.touch_watched(key)

    def replace_value(self, key, value) -> None:
        """Swap the value of an existing key in place (same TTL); for type-preserving rewrites."""
        self.data[key] = value

    def delete(self, key) -> bool:
        """Remove ``key`` (value and TTL).  True when it existed."""
        if self.data.pop(key, None) is None:
            return False
        if self.expires:
            self.expires.pop(key, None)
        self.access.pop(key, None)
        if self.slot_index is not None:
            self.slot_index.remove(key)
        if self.watched:
            self.touch_watched(key)
        return True

    def set_expire(self, key, when_ms: int) -> None:
        self.expires[key] = when_ms
        heapq.heappush(self.expiry_heap, (when_ms, key))

    def get_expire(self, key):
        """Absolute expiry time in ms, or None."""
        return self.expires.get(key)

    def persist(self, key) -> bool:
        return self.expires.pop(key, None) is not None

    # --- WATCH ----------------------------------------------------------------

    def modified(self, key) -> None:
        """Call after changing a value in place (HSET on an existing hash ...)."""
        if self.watched:
            self.touch_watched(key)

    def key_is_expired(self, key) -> bool:
        """keyIsExpired: the key still has a value but its TTL has passed."""
        when = self.expires.get(key)
        return when is not None and when <= time.time() * 1000

    def touch_watched(self, key) -> None:
        """signalModifiedKey: break the transactions of clients WATCHing ``key``.

        Called after the change.  A client that WATCHed the key while it was
        already logically expired saw "no key": the removal of that stale
        value is no change for it (only its mark is cleared), a write that
        leaves a value is (multi.c touchWatchedKey).
        """
        clients = self.watched.get(key)
        if not clients:
            return
        stale = self.watched_stale.get(key)
        if stale is None:
            for c in clients:
                c.dirty_cas = True
            return
        if key in self.data:
            for c in clients:
                c.dirty_cas = True
            return
        for c in clients:
            if c in stale:
                stale.discard(c)
            else:
                c.dirty_cas = True
        if not stale:
            del self.watched_stale[key]

    def touch_all_watched(self, replaced_with: "Database | None" = None) -> None:
        """FLUSHDB/FLUSHALL/SWAPDB (touchAllWatchedKeysInDb), called before the change.

        A watched key counts as modified when it exists now or (SWAPDB) in
        ``replaced_with``, the contents that take this db's place; a key
        missing from both is untouched.  Keys that were stale when WATCHed,
        and stale keys swapped in for missing ones, follow Redis's rules.
        """
        stale_marks = self.watched_stale
        for key, clients in self.watched.items():
            exists = key in self.data
            incoming = replaced_with is not None and key in replaced_with.data
            if not (exists or incoming):
                continue
            stale = stale_marks.get(key)
            for c in clients:
                if stale and c in stale:
                    if not incoming:
                        stale.discard(c)  # the stale value is simply gone: no change
                        continue
                    if replaced_with.key_is_expired(key):
                        continue  # stale before, stale after
                elif not exists and replaced_with.key_is_expired(key):
                    # "no key" replaced by a stale key: still no key
                    stale_marks.setdefault(key, set()).add(c)
                    continue
                c.dirty_cas = True
        for key in [k for k, v in stale_marks.items() if not v]:
            del stale_marks[key]

    # --- whole-db operations ------------------------------------------------

    def flush(self) -> int:
        """Remove every key; returns how many there were."""
        n = len(self.data)
        self.touch_all_watched()
        self.data = {}
        self.expires = {}
        self.access = {}
        self.expiry_heap = []
        if self.slot_index is not None:
            self.slot_index.clear()
        return n

    def swap_contents(self, other: "Database") -> None:
        """SWAPDB: exchange keyspaces (clients, watchers and blocked clients stay put)."""
        self.touch_all_watched(other)
        other.touch_all_watched(self)
        self.data, other.data = other.data, self.data
        self.expires, other.expires = other.expires, self.expires
        self.access, other.access = other.access, self.access
        self.expiry_heap, other.expiry_heap = other.expiry_heap, self.expiry_heap
        self.avg_ttl, other.avg_ttl = other.avg_ttl, self.avg_ttl
        # each slot index follows its keys (cluster mode)
        self.slot_index, other.slot_index = other.slot_index, self.slot_index

    def __len__(self) -> int:
        return len(self.data)


class LFUDatabase(Database):
    """A Database under an LFU maxmemory-policy: the access field counts accesses (keyspace/lfu.py).

    The node swaps its databases' class when the policy changes (same
    slots, so ``__class__`` can be assigned), which keeps the LRU hot paths
    free of a policy test.  Only the three methods that stamp the field
    differ, after Redis's lookupKey (updateLFU on every read or write
    lookup of a live key), createObject (a new key starts at
    LFU_INIT_VAL) and setKey (an existing key is looked up for writing,
    then keeps its field: dbSetValue).  The batch forms and fast paths,
    which stamp LRU clocks in bulk, are off under LFU (Node.update_fast).
    """

    __slots__ = ()

    def _touched(self, field):
        """updateLFU of ``field`` (None: a key without one, as loaded, counts as new)."""
        node = self.node
        now = node.unixtime
        cfg = node.config
        return lfu_touch(lfu_new(now) if field is None else field, now, cfg["lfu-decay-time"], cfg["lfu-log-factor"])

    def _looked_up(self, key) -> None:
        # Remembered for ``set`` in this same command (commands are counted after they run).
        node = self.node
        node.lfu_looked_up = (node.stat_numcommands, self.id, key)

    def _counted(self, key, field, v):
        """After a lookup that found ``v`` (None: none), the access counted on the field it had before."""
        if v is not None:
            self.access[key] = self._touched(field)
            self._looked_up(key)
        return v

    def lookup_read(self, key):
        return self._counted(key, self.access.get(key), Database.lookup_read(self, key))

    def lookup_write(self, key):
        return self._counted(key, self.access.get(key), Database.lookup_write(self, key))

    def set(self, key, value, keepttl: bool = False) -> None:
        """setKey: a new key starts afresh; an existing one keeps its field (dbSetValue).

        Redis's setKey looks an existing key up for writing first, which
        counts as an access, unless the command has just done so itself
        (SET, APPEND, INCRBYFLOAT ... then overwrite what they looked up).
        """
        live = self.peek(key) is not None
        field = self.access.get(key)
        node = self.node
        Database.set(self, key, value, keepttl)
        if not live:
            field = lfu_new(node.unixtime)
        elif node.lfu_looked_up != (node.stat_numcommands, self.id, key):
            field = self._touched(field)
        self.access[key] = field


class _DetachedNode:
    """What a Database needs of a node, for databases used on their own (tests, tools)."""

    lru_clock = 0
    stat_expired_keys = 0
    loading = False
    notify_flags = 0

    def is_replica_of_master(self) -> bool:
        return False

    def key_expired(self, db, key) -> None:
        pass
