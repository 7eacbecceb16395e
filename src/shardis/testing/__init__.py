"""shardis.testing: helpers for testing shardis against itself and against redis-server.

Part of the product rather than of the test suite, so that anyone building on
shardis (or on Redis) can reuse them: real server processes on free ports
(``ShardisProcess``, ``RedisServerProcess``), a raw RESP client that returns
reply frames as exact bytes (``RawConnection``), and a differential checker
that asserts shardis and redis-server answer byte for byte the same
(``Differential``), and readers of what a differential test compares besides
replies: the dirty counter (``dirty``, ``dirty_pair``) and keyspace events
(``Events``), and of a whole dataset as clients see it (``observe_keys``).
The pytest fixtures built on them live in ``shardis.testing.pytest_plugin``;
bounded waits and one-shot requests for tests of clusters in
``shardis.testing.cluster``.
"""

from .differential import DEFAULT_NORMALIZERS, Differential, DifferentialMismatch
from .observe import Events, dirty, dirty_pair, observe_keys
from .processes import (
    RedisServerProcess,
    ServerProcess,
    ServerStartError,
    ShardisProcess,
    free_port,
    redis_server_binary,
    redis_server_version,
)
from .rawclient import ConnectionClosed, RawConnection, ReplyTimeout, encode_command, frame_end, split_frames

__all__ = [
    "free_port",
    "ServerProcess",
    "ShardisProcess",
    "RedisServerProcess",
    "ServerStartError",
    "redis_server_binary",
    "redis_server_version",
    "RawConnection",
    "ConnectionClosed",
    "ReplyTimeout",
    "encode_command",
    "frame_end",
    "split_frames",
    "Differential",
    "DifferentialMismatch",
    "DEFAULT_NORMALIZERS",
    "dirty",
    "dirty_pair",
    "Events",
    "observe_keys",
]
