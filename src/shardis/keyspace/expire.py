"""The active expiry cycle: reclaim keys whose TTL passed without anyone touching them.

Redis samples random keys from its ``expires`` dict.  A Python dict has no
O(1) random access, so instead each database keeps a min-heap of
``(when_ms, key)`` pushed whenever a TTL is set (``Database.set_expire``).
The cycle pops entries that are due; an entry is acted on only if the key's
current TTL is still that exact time (otherwise the TTL changed or the key
went away, and the entry is stale).  Due keys are therefore found in
O(log n) each, in expiry order, and none is missed.  Like Redis's slow cycle,
each run is bounded in time so a mass expiry cannot stall the event loop; the
heap is rebuilt when stale entries dominate it.
"""

from __future__ import annotations

import heapq
import time

__all__ = ["active_expire_cycle"]

STALE_REBUILD_FACTOR = 2  # rebuild when heap > factor × live TTLs (+ slack)
STALE_REBUILD_SLACK = 1024  # entries


def active_expire_cycle(db, now_ms: int, deadline: float) -> int:
    """Expire due keys of ``db`` until none is due or ``time.monotonic()`` passes ``deadline``.

    Returns the number of keys expired.
    """
    heap = db.expiry_heap
    expires = db.expires
    n = 0
    while heap and heap[0][0] <= now_ms:
        when, key = heapq.heappop(heap)
        if expires.get(key) == when:
            db._delete_expired(key)
            n += 1
            if n % 64 == 0 and time.monotonic() > deadline:
                break
    if len(heap) > STALE_REBUILD_FACTOR * len(expires) + STALE_REBUILD_SLACK:
        db.expiry_heap = [(w, k) for k, w in expires.items()]
        heapq.heapify(db.expiry_heap)
    return n
