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
"""

from __future__ import annotations

from .rawclient import RawConnection

__all__ = ["dirty", "dirty_pair", "Events"]

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
