"""The keyspace indexed by hash slot: which keys of a database live in which slot.

Cluster mode needs three questions about slots answered cheaply:
CLUSTER COUNTKEYSINSLOT (how many keys), CLUSTER GETKEYSINSLOT (which keys,
a few at a time, for MIGRATE) and "does this slot still hold keys" (before a
slot may be given away, and when an UPDATE takes a slot from us).  Redis
threads a linked list through its dict entries per slot; here each
non-empty slot maps to a dict used as an insertion-ordered set of its keys,
so adding and removing a key is O(1), counting is ``len`` and listing takes
the first N keys without scanning the slot.

The index is kept exact by the database itself: ``Database.set`` calls
``add`` for keys it creates, ``Database.delete`` calls ``remove`` and
``Database.flush`` calls ``clear``.  ``rebuild`` re-derives the index from a
database's keys when it is attached to a database that already has data
(keys loaded from disk before cluster mode took over).
"""

from __future__ import annotations

from .slots import key_slot

__all__ = ["SlotIndex"]


class SlotIndex:
    """Keys of one database grouped by hash slot."""

    __slots__ = ("by_slot",)

    def __init__(self) -> None:
        # slot -> {key: None}; only non-empty slots have an entry.
        self.by_slot: dict[int, dict] = {}

    def add(self, key) -> None:
        """Record a key the database has just created."""
        slot = key_slot(key)
        keys = self.by_slot.get(slot)
        if keys is None:
            self.by_slot[slot] = {key: None}
        else:
            keys[key] = None

    def remove(self, key) -> None:
        """Forget a key the database has just deleted (unknown keys are ignored)."""
        slot = key_slot(key)
        keys = self.by_slot.get(slot)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self.by_slot[slot]

    def clear(self) -> None:
        self.by_slot = {}

    def rebuild(self, keys) -> None:
        """Index exactly ``keys`` (an iterable of the database's keys)."""
        self.by_slot = {}
        for key in keys:
            self.add(key)

    def count(self, slot: int) -> int:
        """Number of keys in ``slot``."""
        keys = self.by_slot.get(slot)
        return len(keys) if keys else 0

    def keys_in_slot(self, slot: int, count: int) -> list:
        """Up to ``count`` keys of ``slot``, most recently added first (Redis's order)."""
        keys = self.by_slot.get(slot)
        if not keys or count <= 0:
            return []
        out = []
        for key in reversed(keys):
            out.append(key)
            if len(out) >= count:
                break
        return out

    def all_keys_in_slot(self, slot: int) -> list:
        keys = self.by_slot.get(slot)
        return list(keys) if keys else []

    def slots(self) -> list[int]:
        """The slots holding at least one key, in increasing order."""
        return sorted(self.by_slot)

    def __len__(self) -> int:
        return sum(len(k) for k in self.by_slot.values())
