"""Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET, CLIENT.

These change the state of one connection (protocol version, database, name,
reply mode ...).  Any change that affects the dispatch fast path ends with
``client.update_fast()``.
"""

from __future__ import annotations

from ..protocol.resp import bulk
from ..server import replies as R
from ..server.commandtable import command


@command("ping", -1, "fast sentinel", group="connection", categories="connection",
         summary="Ping the server", since="1.0.0", complexity="O(1)")
def ping_command(c, argv):
    if len(argv) > 2:
        return R.wrong_arity(b"ping")
    if c.resp.version == 2 and (c.channels or c.patterns or c.shard_channels):
        # In RESP2 subscribed mode PING answers with a pub/sub-shaped array.
        msg = argv[1] if len(argv) == 2 else b""
        return b"*2\r\n$4\r\npong\r\n" + bulk(msg)
    if len(argv) == 2:
        return bulk(argv[1])
    return R.PONG


@command("echo", 2, "fast", group="connection", categories="connection",
         summary="Echo the given string", since="1.0.0", complexity="O(1)")
def echo_command(c, argv):
    return bulk(argv[1])


@command("quit", -1, "allow_busy noscript loading stale fast no_auth nofastpath", group="connection",
         categories="connection", summary="Close the connection", since="1.0.0", complexity="O(1)")
def quit_command(c, argv):
    c.close_after_reply = True
    return R.OK
