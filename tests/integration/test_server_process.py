"""The ``shardis server`` command: configuration, start-up errors, signals, version.

shardis follows redis-server's calling convention, so each behaviour is
checked against redis-server 7.0 run the same way: a config file with
``--name value`` overrides (the command line wins), a config error stops
start-up with the "*** FATAL CONFIG FILE ERROR" report naming the line, and
SIGTERM/SIGINT shut down cleanly with exit code 0.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shardis import REDIS_VERSION, __version__
from shardis.testing import RawConnection, free_port, redis_server_binary
from shardis.testing.processes import _package_root

RUN_TIMEOUT = 20  # seconds for a process that must exit by itself


def shardis_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "shardis", *args]


def run(cmd: list[str], cwd, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = _package_root() + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env)


@pytest.fixture
def redis_bin():
    from shardis.testing.pytest_plugin import require_redis_server

    require_redis_server()
    return redis_server_binary()


# --- version and usage ----------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version(tmp_path, flag):
    for argv in (["server", flag], [flag]):
        p = run(shardis_cmd(*argv), tmp_path)
        assert p.returncode == 0
        # The same shape as redis-server's "Redis server v=7.0.15 sha=...".
        assert p.stdout.strip() == f"shardis v={__version__} (Redis {REDIS_VERSION} compatible)"


def test_help_and_unknown_subcommand(tmp_path):
    p = run(shardis_cmd("server", "--help"), tmp_path)
    assert p.returncode == 0 and "Usage: shardis server" in p.stdout
    p = run(shardis_cmd("no-such-subcommand"), tmp_path)
    assert p.returncode == 1 and "unknown command 'no-such-subcommand'" in p.stderr


# --- configuration ------------------------------------------------------------------------------


def config_get(port: int, name: str) -> bytes:
    with RawConnection(port) as c:
        return c.request("CONFIG", "GET", name)


def test_config_file_and_command_line_overrides(shardis_factory):
    # "shardis server node.conf --maxmemory 2mb --databases 4": the file is
    # read first, the command line after it, so the command line wins.
    node = shardis_factory(
        ["maxmemory 1mb", "hz 20", ("save", "900 1 300 10"), ("maxmemory-policy", "allkeys-lru")],
        args=["--maxmemory", "2mb", "--databases", "4"],
    )
    assert config_get(node.port, "maxmemory") == b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n"
    assert config_get(node.port, "hz") == b"*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
    assert config_get(node.port, "save") == b"*2\r\n$4\r\nsave\r\n$12\r\n900 1 300 10\r\n"
    assert config_get(node.port, "maxmemory-policy").endswith(b"$11\r\nallkeys-lru\r\n")
    assert config_get(node.port, "databases") == b"*2\r\n$9\r\ndatabases\r\n$1\r\n4\r\n"


def test_config_from_stdin(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        shardis_cmd("server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "-"),
        cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": _package_root()},
    )
    try:
        proc.stdin.write(b"maxmemory 3mb\n")
        proc.stdin.close()
        line = b""
        while b"Ready to accept connections" not in line:
            line = proc.stdout.readline()
            assert line, "the node exited before it was ready"
        assert config_get(port, "maxmemory").endswith(b"$7\r\n3145728\r\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(RUN_TIMEOUT) == 0
        proc.stdout.close()


BAD_CONFIGS = [
    pytest.param("foo bar\n", id="unknown-directive"),
    pytest.param("port 6379\nmaxmemory abc\n", id="bad-memory-value"),
    pytest.param("port 99999\n", id="port-out-of-range"),
    pytest.param("appendonly maybe\n", id="bad-bool"),
    pytest.param("maxmemory-policy sometimes\n", id="bad-enum"),
    pytest.param("maxmemory\n", id="missing-argument"),
    pytest.param('save "900 1\n', id="unbalanced-quotes"),
    pytest.param("hz 10 20\n", id="too-many-arguments"),
]


@pytest.mark.parametrize("text", BAD_CONFIGS)
def test_bad_config_file_stops_start_up_like_redis(tmp_path, redis_bin, text):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    ours = run(shardis_cmd("server", str(conf)), tmp_path)
    theirs = run([redis_bin, str(conf)], tmp_path)
    assert theirs.returncode == 1 and ours.returncode == 1
    assert "*** FATAL CONFIG FILE ERROR" in ours.stderr
    # Same report, to the byte: header, line number, the line, the reason.
    assert ours.stderr == theirs.stderr


@pytest.mark.parametrize("args, name", [
    (["--no-such-directive", "x"], "no-such-directive"),
    (["--maxmemory", "lots"], "maxmemory"),
    (["--maxmemory"], "maxmemory"),
])
def test_bad_command_line_directive_is_named(tmp_path, redis_bin, args, name):
    ours = run(shardis_cmd("server", "--port", "0", *args), tmp_path)
    theirs = run([redis_bin, "--port", "0", *args], tmp_path)
    assert theirs.returncode == 1 and ours.returncode == 1
    pattern = re.compile(
        r"\*\*\* FATAL CONFIG FILE ERROR \(Redis 7\.0\.\d+\) \*\*\*\n"
        r"Reading the configuration file, at line \d+\n"
        r">>> '(?P<line>[^\n]*)'\n(?P<reason>[^\n]+)\n?$"
    )
    m_ours, m_theirs = pattern.search(ours.stderr), pattern.search(theirs.stderr)
    assert m_theirs, theirs.stderr
    assert m_ours, ours.stderr
    # redis-server quotes command-line values ('maxmemory "lots"') and counts
    # lines differently; the shape, the directive named and the reason agree.
    assert m_ours.group("line").split()[0] == name
    assert m_ours.group("reason") == m_theirs.group("reason")


def test_missing_config_file(tmp_path, redis_bin):
    missing = str(tmp_path / "missing.conf")
    ours = run(shardis_cmd("server", missing), tmp_path)
    theirs = run([redis_bin, missing], tmp_path)
    assert ours.returncode == theirs.returncode == 1
    text = f"Fatal error, can't open config file '{missing}': No such file or directory"
    assert text in theirs.stdout + theirs.stderr
    assert text in ours.stdout + ours.stderr


def test_port_in_use(tmp_path, shardis_node):
    p = run(shardis_cmd("server", "--port", str(shardis_node.port), "--bind", "127.0.0.1", "--save", ""), tmp_path)
    assert p.returncode == 1
    assert f"Could not create server TCP listening socket 127.0.0.1:{shardis_node.port}" in p.stdout + p.stderr


# --- start-up and shutdown ---------------------------------------------------------------------------


def test_ready_log_line(shardis_node):
    log = shardis_node.log_text()
    assert re.search(r"^\d+:M \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} \* Ready to accept connections", log, re.M), log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shutdown_is_clean(shardis_factory, sig):
    node = shardis_factory()
    with RawConnection(node.port) as c:
        assert c.request("SET", "k", "v") == b"+OK\r\n"
        node.send_signal(sig)
        assert node.wait(RUN_TIMEOUT) == 0
    log = node.log_text()
    name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
    assert f"Received {name} scheduling shutdown" in log
    assert "ready to exit, bye bye" in log
    assert not node.killed


def test_pidfile_written_and_removed(shardis_factory):
    node = shardis_factory(["pidfile shardis.pid"])
    pidfile = Path(node.dir) / "shardis.pid"
    assert pidfile.read_text().strip() == str(node.pid)
    assert node.stop() == 0
    assert not pidfile.exists()
