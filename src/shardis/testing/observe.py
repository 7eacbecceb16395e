"""Side effects of commands that a differential test compares besides replies.

A command is only like Redis's if it also changes the ``dirty`` counter by
the same amount (INFO's ``rdb_changes_since_last_save``, which drives
persistence and propagation) and publishes the same keyspace events in the
same order.  Neither shows in a reply, so these helpers read them
explicitly: ``dirty`` on one connection, ``dirty_pair`` on both servers of a
``Differential`` through the same request path as ``check`` (so it is part
of the request history shown on a mismatch), and ``Events``, a pattern
subscriber on each server, drained up to a marker message published after
the commands, so that collecting never waits on a timeout.

``observe_keys`` reads a whole dataset the way a client sees it (type,
OBJECT ENCODING, value, absolute expire time of every key in every
database), so that a dataset can be compared before and after a restart, a
reload or a move to the other server.  It reads through redis-py, the
client the persistence tests write with, imported when first called so that
the package itself does not depend on it.
"""

from __future__ import annotations

from .rawclient import RawConnection

__all__ = ["dirty", "dirty_pair", "Events", "observe_keys"]

_DIRTY_FIELD = b"rdb_changes_since_last_save:"


def _dirty_of(info) -> int:
    """The dirty counter in the bytes of an INFO reply (that includes its persistence section)."""
    assert isinstance(info, bytes), info
    for line in info.split(b"\r\n"):
        if line.startswith(_DIRTY_FIELD):
            return int(line[len(_DIRTY_FIELD):])
    raise AssertionError(info)


def dirty(conn: RawConnection) -> int:
    """The dirty counter of the server behind ``conn``."""
    return _dirty_of(conn.request("INFO", "persistence"))


def dirty_pair(diff) -> tuple[int, int]:
    """(shardis, redis) dirty counters of a ``Differential``'s two servers."""
    a, b = diff.both("INFO", "persistence")
    return _dirty_of(a), _dirty_of(b)


class Events:
    """Keyspace events seen by a subscriber on each server, compared in order.

    Turns on every keyspace and keyevent notification (``KEAn``) on both
    servers of the ``Differential`` ``d``; ``close`` turns them off again.
    """

    MARKER = "events-marker"

    def __init__(self, d):
        self.d = d
        self.subs = d.pair()
        for c in (d.shardis, d.redis):
            assert c.request("CONFIG", "SET", "notify-keyspace-events", "KEAn") == b"+OK\r\n"
        for c in self.subs:
            c.send_command("PSUBSCRIBE", "__key*__:*")
            c.read_frame()
            c.send_command("SUBSCRIBE", self.MARKER)
            c.read_frame()

    def collect(self) -> list[list[bytes]]:
        """[shardis frames, redis frames]: the event messages since the last collect."""
        out = []
        for conn, pub in zip(self.subs, (self.d.shardis, self.d.redis)):
            pub.request("PUBLISH", self.MARKER, "end")
            frames = []
            while True:
                f = conn.read_frame(5)
                if self.MARKER.encode() in f:
                    break
                frames.append(f)
            out.append(frames)
        return out

    def check(self) -> list[bytes]:
        """Assert both servers published the same events since the last collect; return them."""
        a, b = self.collect()
        assert a == b, f"events differ:\nshardis {a}\nredis   {b}"
        return b

    def close(self) -> None:
        for c in (self.d.shardis, self.d.redis):
            c.request("CONFIG", "SET", "notify-keyspace-events", "")


def _value_of(r, key: bytes, kind: str):
    """A comparable value of ``key`` of type ``kind``, read through the redis-py client ``r``."""
    if kind == "string":
        return r.get(key)
    if kind == "list":
        return tuple(r.lrange(key, 0, -1))
    if kind == "set":
        return frozenset(r.smembers(key))
    if kind == "zset":
        return tuple(r.zrange(key, 0, -1, withscores=True))
    if kind == "hash":
        return frozenset(r.hgetall(key).items())
    if kind == "stream":  # the entries only: consumer groups and the last id are not compared
        return tuple((entry_id, tuple(fields.items())) for entry_id, fields in r.xrange(key))
    raise AssertionError(f"observe_keys cannot read a key of type {kind!r}: {key!r}")


def observe_keys(port: int, databases: int = 16, timeout: float = 30) -> dict:
    """Everything about every key: type, encoding, value, absolute expire time.

    ``{(db, key): (type, OBJECT ENCODING, value, PEXPIRETIME)}`` for every key
    of databases ``0 .. databases-1`` of the server on 127.0.0.1:``port``.
    Values are tuples (lists, sorted sets with their scores, stream entries)
    or frozensets (sets, hashes), so two observations compare with ``==``.
    """
    import redis  # redis-py: a test dependency, not one of the package's

    out = {}
    for db in range(databases):
        r = redis.Redis(host="127.0.0.1", port=port, db=db, socket_timeout=timeout)
        try:
            for key in r.keys("*"):
                kind = r.type(key).decode()
                enc = r.object("encoding", key)
                out[(db, key)] = (kind, enc, _value_of(r, key, kind), r.pexpiretime(key))
        finally:
            r.close()
    return out
