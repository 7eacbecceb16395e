"""The ``shardis`` command line: ``shardis server [CONFIG-FILE] [--directive value ...]``.

``server`` follows redis-server's calling convention exactly (a config file
first, then ``--name value ...`` overrides, ``-`` to read the config from
stdin), so scripts written for redis-server work by changing the program
name.  Other subcommands (``up``, ``cluster``, ``cli``) are added by their
modules.
"""

from __future__ import annotations

import sys

from .. import REDIS_VERSION, __version__

__all__ = ["main"]

USAGE = """\
Usage: shardis server [/path/to/redis.conf] [options] [-]
       shardis server -v or --version
       shardis server -h or --help

Examples:
       shardis server (run a node with the default configuration)
       shardis server /etc/redis/6379.conf
       shardis server --port 7777
       shardis server --port 7777 --replicaof 127.0.0.1 8888
       shardis server /etc/myredis.conf --loglevel verbose -
       shardis server --port 7777 --cluster-enabled yes
"""


def _version_line() -> str:
    return f"shardis v={__version__} (Redis {REDIS_VERSION} compatible)"


def server_main(argv: list[str]) -> int:
    from ..server.config import Config, ConfigError, args_to_config_text

    if argv and argv[0] in ("-v", "--version"):
        print(_version_line())
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    config = Config()
    try:
        rest = argv
        if rest and not rest[0].startswith("--"):
            if rest[0] != "-":
                config.load_file(rest[0])
            rest = rest[1:]
        read_stdin = False
        if rest and rest[-1] == "-":
            read_stdin = True
            rest = rest[:-1]
        text = args_to_config_text(rest)
        if read_stdin:
            text = sys.stdin.read() + "\n" + text
        config.load_text(text)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 1
    return run_node(config)


def run_node(config) -> int:
    import asyncio

    from ..commands import load_all
    from ..server.node import Node

    try:
        import uvloop
    except ImportError:  # uvloop is a dependency; this only helps on odd platforms
        uvloop = None
    load_all()
    node = Node(config)
    try:
        if uvloop is not None:
            return uvloop.run(node.serve_forever())
        return asyncio.run(node.serve_forever())
    except OSError as e:
        node.log("warning", str(e.strerror or e))
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 1
    if argv[0] in ("-v", "--version"):
        print(_version_line())
        return 0
    sub, rest = argv[0], argv[1:]
    if sub == "server":
        return server_main(rest)
    print(f"shardis: unknown command '{sub}'\n\n{USAGE}", file=sys.stderr)
    return 1
