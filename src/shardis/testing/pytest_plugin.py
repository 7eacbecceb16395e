"""pytest plugin: fixtures that start shardis nodes and redis-server, and a differential pair.

Load it with ``pytest_plugins = ["shardis.testing.pytest_plugin"]`` in a
conftest.py.  Fixtures:

``shardis_node`` / ``redis_server``
    A fresh server for one test (``ShardisProcess`` / ``RedisServerProcess``).
    Extra directives come from ``@pytest.mark.node_directives("appendonly yes", ...)``.
``shardis_factory`` / ``redis_factory``
    ``start(directives=None, **kwargs)`` starts one more server; every server
    started through it is stopped when the test ends (clusters, replicas).
``diff_servers`` (module scope)
    A shardis node and a redis-server with the same directives, shared by
    the tests of a module; ``reset()`` empties both.
``diff``
    A ``Differential`` over ``diff_servers``, emptied (FLUSHALL) before the
    test and checked to be alive after it.
``events``
    An ``Events`` recorder on ``diff``: keyspace notifications are on for
    the test and turned off after it.

Processes are stopped in finalizers, so a failing test cleans up too; the
processes module's atexit hook catches anything left.  When a test fails,
the tail of every running server's log is attached to the report.

redis-server 7.0 is required by the redis fixtures: without it they skip,
or fail when the ``CI`` environment variable is set (CI must not silently
skip the oracle).
"""

from __future__ import annotations

import os

import pytest

from .differential import Differential
from .observe import Events
from .processes import (
    _LIVE,
    RedisServerProcess,
    ShardisProcess,
    redis_server_binary,
    redis_server_version,
)
from .rawclient import ConnectionClosed, RawConnection, ReplyTimeout

__all__ = ["ServerPair", "require_redis_server"]

REQUIRED_REDIS = "7.0"  # the behaviour shardis reproduces; other versions answer differently


def require_redis_server() -> None:
    """Skip (or, under CI, fail) unless a redis-server 7.0.x is available."""
    binary = redis_server_binary()
    version = redis_server_version(binary) if binary else None
    problem = None
    if not binary:
        problem = "redis-server not found (apt-get install redis-server, or set SHARDIS_REDIS_SERVER)"
    elif not version or not version.startswith(REQUIRED_REDIS + "."):
        problem = f"redis-server {REQUIRED_REDIS}.x required as the oracle, {binary} is {version}"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "node_directives(*directives): extra config directives for shardis_node, redis_server "
        "and diff_servers (lines like 'appendonly yes', or one mapping)",
    )


def _marker_directives(request) -> list:
    out: list = []
    node = getattr(request, "node", None)
    if node is None:
        return out
    for mark in reversed(list(node.iter_markers("node_directives"))):
        for d in mark.args:
            if isinstance(d, dict):
                out.extend(d.items())
            else:
                out.append(d)
    return out


def _start_or_cleanup(proc):
    try:
        return proc.start()
    except BaseException:
        proc.cleanup()
        raise


# --- single servers ---------------------------------------------------------------------------


@pytest.fixture
def shardis_factory():
    """``start(directives=None, **kwargs) -> ShardisProcess``; all are stopped after the test."""
    procs: list[ShardisProcess] = []

    def start(directives=None, **kwargs) -> ShardisProcess:
        proc = ShardisProcess(directives, **kwargs)
        procs.append(proc)
        return _start_or_cleanup(proc)

    yield start
    for p in procs:
        p.cleanup()


@pytest.fixture
def redis_factory():
    """``start(directives=None, **kwargs) -> RedisServerProcess``; all are stopped after the test."""
    require_redis_server()
    procs: list[RedisServerProcess] = []

    def start(directives=None, **kwargs) -> RedisServerProcess:
        proc = RedisServerProcess(directives, **kwargs)
        procs.append(proc)
        return _start_or_cleanup(proc)

    yield start
    for p in procs:
        p.cleanup()


@pytest.fixture
def shardis_node(request, shardis_factory) -> ShardisProcess:
    """A fresh shardis node on a free port (directives from @pytest.mark.node_directives)."""
    return shardis_factory(_marker_directives(request))


@pytest.fixture
def redis_server(request, redis_factory) -> RedisServerProcess:
    """A fresh redis-server 7.0 on a free port (directives from @pytest.mark.node_directives)."""
    return redis_factory(_marker_directives(request))


# --- the differential pair ----------------------------------------------------------------------


class ServerPair:
    """A shardis node and a redis-server started with the same directives."""

    def __init__(self, directives=None):
        self.directives = list(directives or [])
        self.shardis: ShardisProcess | None = None
        self.redis: RedisServerProcess | None = None

    def start(self) -> "ServerPair":
        try:
            self.redis = RedisServerProcess(self.directives)
            self.redis.start()
            self.shardis = ShardisProcess(self.directives)
            self.shardis.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def cleanup(self) -> None:
        for p in (self.shardis, self.redis):
            if p is not None:
                p.cleanup()

    def differential(self, **kwargs) -> Differential:
        return Differential(self.shardis.port, self.redis.port, **kwargs)

    def _flushall(self, proc) -> bool:
        try:
            with RawConnection(proc.port, timeout=10) as c:
                return c.request("FLUSHALL") == b"+OK\r\n"
        except (OSError, ConnectionClosed, ReplyTimeout):
            return False

    def reset(self) -> None:
        """Empty both servers: FLUSHALL, or a restart where that is not possible."""
        for attr, cls in (("redis", RedisServerProcess), ("shardis", ShardisProcess)):
            proc = getattr(self, attr)
            if proc.is_running() and self._flushall(proc):
                continue
            # Dead, or FLUSHALL not available: a fresh process is empty by construction.
            proc.cleanup()
            fresh = cls(self.directives)
            setattr(self, attr, fresh)  # cleaned up with the pair even if its start fails
            fresh.start()

    def check_alive(self) -> None:
        """Fail with the log tail if either server died."""
        for proc in (self.shardis, self.redis):
            if not proc.is_running():
                pytest.fail(f"{proc!r} died during the test\n{proc.log_tail()}", pytrace=False)


@pytest.fixture(scope="module")
def diff_servers(request):
    """A shardis node and a redis-server shared by one test module (see ServerPair)."""
    require_redis_server()
    pair = ServerPair(_marker_directives(request)).start()
    yield pair
    pair.cleanup()


@pytest.fixture
def diff(diff_servers):
    """A Differential over empty servers; both must still be alive after the test."""
    diff_servers.reset()
    d = diff_servers.differential()
    yield d
    d.close()
    diff_servers.check_alive()


@pytest.fixture
def events(diff):
    """Keyspace events of both servers of ``diff`` (see ``Events``); notifications off afterwards."""
    ev = Events(diff)
    yield ev
    ev.close()


# --- logs in failure reports ------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when in ("call", "setup") and rep.failed:
        for proc in list(_LIVE.values()):
            try:
                rep.sections.append((f"{proc.kind} log 127.0.0.1:{proc.port} pid {proc.pid}", proc.log_tail()))
            except Exception:  # a report decoration must never break the report
                pass
