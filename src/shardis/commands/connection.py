"""Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET and CLIENT.

These change the state of one connection (protocol version, database, name,
reply mode, authentication ...) or report on connections (CLIENT LIST/INFO,
KILL).  Any change that affects the dispatch fast path ends with
``client.update_fast()``.

The texts follow redis-server 7.0.15 exactly, including its quirks: HELLO
authenticates while it parses its options (so ``HELLO 3 AUTH u p BADOPT``
authenticates and then fails), CLIENT KILL with a single argument is the old
``ip:port`` form (and may kill the caller), CLIENT LIST accepts one filter.
Arguments that carry passwords are replaced in ``argv`` by "(redacted)" so
that the slow log and MONITOR, which read ``argv`` after the handler, never
see them.

CLIENT LIST's line is Redis 7.0's, field for field.  Figures that belong to
Redis's own buffers (query buffer free space, the 16k reply buffer) are given
sensible equivalents; see ``client_info``.
"""

from __future__ import annotations

import time

from .. import REDIS_VERSION
from ..protocol.resp import RESP2, RESP3, bulk, integer
from ..server import connection as _conn
from ..server import replies as R
from ..server.commandtable import arg, command, describe, subcommand

__all__ = [
    "string2ll",
    "get_int",
    "help_reply",
    "client_info",
    "client_type",
    "authenticate",
    "reset_client",
]

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
LLONG_MAX = 2**63 - 1
REDACTED = b"(redacted)"

# CLIENT LIST figures for structures shardis does not have (see client_info).
REPLY_BUFFER_SIZE = 16384  # rbs/rbp: Redis's per-client reply buffer (PROTO_REPLY_CHUNK_BYTES)
CLIENT_STRUCT_SIZE = 1024  # bytes counted in tot-mem for the client itself

# getClientTypeByName
CLIENT_TYPE_NORMAL = 0
CLIENT_TYPE_REPLICA = 1
CLIENT_TYPE_PUBSUB = 2
CLIENT_TYPE_MASTER = 3
_CLIENT_TYPES = {
    b"normal": CLIENT_TYPE_NORMAL,
    b"slave": CLIENT_TYPE_REPLICA,
    b"replica": CLIENT_TYPE_REPLICA,
    b"pubsub": CLIENT_TYPE_PUBSUB,
    b"master": CLIENT_TYPE_MASTER,
}


# --- helpers shared with the server commands ------------------------------------------


def _tok(name: str, token: str, **kw) -> dict:
    """A pure-token argument (COMMAND DOCS)."""
    return arg(name, "pure-token", token=token, **kw)


def string2ll(b: bytes):
    """Redis's strict string2ll: the canonical decimal form of an int64, else None."""
    n = len(b)
    if n == 0 or n > 20:
        return None
    if b == b"0":
        return 0
    start = 1 if b[0] == 45 else 0  # '-'
    if start == n or not 49 <= b[start] <= 57:
        return None
    for c in b[start + 1 :]:
        if not 48 <= c <= 57:
            return None
    v = int(b)
    if not -(2**63) <= v <= LLONG_MAX:
        return None
    return v


def get_int(b: bytes):
    """getIntFromObjectOrReply: an int32, or the error frame Redis sends."""
    v = string2ll(b)
    if v is None:
        return R.NOT_INTEGER
    if not INT_MIN <= v <= INT_MAX:
        return R.err_fmt(R.INT_RANGE, INT_MIN, INT_MAX)
    return v


def help_reply(name: str, lines) -> bytes:
    """addReplyHelp: the usage line, the subcommand lines, then HELP, as status replies."""
    out = [f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    out.extend(lines)
    out.append("HELP")
    out.append("    Prints this help.")
    return b"*%d\r\n" % len(out) + b"".join(b"+" + s.encode() + b"\r\n" for s in out)


def subcommand_syntax_error(argv) -> bytes:
    """addReplySubcommandSyntaxError."""
    return R.err(
        b"ERR unknown subcommand or wrong number of arguments for '" + argv[1][:128]
        + b"'. Try " + argv[0].upper() + b" HELP."
    )


def valid_client_name(name: bytes) -> bool:
    """Client names are printable ASCII without spaces ('!' to '~'); empty clears the name."""
    for ch in name:
        if ch < 33 or ch > 126:
            return False
    return True


def client_type(c) -> int:
    """getClientType."""
    if c.is_master_link:
        return CLIENT_TYPE_MASTER
    if c.replica and not c.monitor:
        return CLIENT_TYPE_REPLICA
    if c.channels or c.patterns or c.shard_channels:
        return CLIENT_TYPE_PUBSUB
    return CLIENT_TYPE_NORMAL


def is_unix_client(c) -> bool:
    """Connected through the unix socket (its peer has no ip:port)."""
    return not c.addr and c.transport is not None


def peer_id(c) -> str:
    """getClientPeerId: ip:port, or <unixsocket>:0 for a unix socket client."""
    if is_unix_client(c):
        return (c.node.config["unixsocket"] or c.laddr) + ":0"
    return c.addr


def sock_name(c) -> str:
    """getClientSockname: the local ip:port, or <unixsocket>:0."""
    if is_unix_client(c):
        return (c.laddr or c.node.config["unixsocket"]) + ":0"
    return c.laddr


def _flags(c) -> str:
    f = ""
    if c.monitor:
        f += "O"
    elif c.replica:
        f += "S"
    if c.is_master_link:
        f += "M"
    if c.channels or c.patterns or c.shard_channels:
        f += "P"
    if c.multi:
        f += "x"
    if c.blocked or c.waiting_pause:
        f += "b"
    if c.dirty_cas:
        f += "d"
    if c.close_after_reply:
        f += "c"
    if is_unix_client(c):
        f += "U"
    if c.readonly:
        f += "r"
    if c.no_evict:
        f += "e"
    return f or "N"


def _cmd_name(cmd) -> str:
    if cmd is None or isinstance(cmd, (bytes, str)):
        return "NULL"
    return cmd.fullname


def client_info(c, now: float | None = None, current=None, argv=None) -> bytes:
    """catClientInfoString: one CLIENT LIST line (without the newline).

    ``current``/``argv``: the command the calling client is running now
    (Redis shows it as cmd= and counts its arguments in argv-mem).
    """
    if now is None:
        now = time.time()
    qbuf = c.reader.buffered() if c.reader is not None else 0
    argv_mem = sum(len(a) for a in argv) if argv is not None else 0
    if argv is None and c.pending_argv:
        argv_mem = sum(len(a) for a in c.pending_argv)
    multi_mem = sum(len(a) for _, av in c.mstate for a in av) if c.multi else 0
    omem = c.output_buffer_size()
    tot = CLIENT_STRUCT_SIZE + qbuf + argv_mem + multi_mem + REPLY_BUFFER_SIZE + omem
    line = (
        "id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d ssub=%d "
        "multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=%d rbs=%d rbp=%d obl=%d oll=%d omem=%d "
        "tot-mem=%d events=%s cmd=%s user=%s redir=%d resp=%d"
    ) % (
        c.id,
        peer_id(c),
        sock_name(c),
        c.fd,
        c.name.decode("latin-1"),
        max(0, int(now - c.created)),
        max(0, int(now - c.last_interaction)),
        _flags(c),
        c.db.id,
        len(c.channels),
        len(c.patterns),
        len(c.shard_channels),
        len(c.mstate) if c.multi else -1,
        qbuf,
        0,
        argv_mem,
        multi_mem,
        REPLY_BUFFER_SIZE,
        REPLY_BUFFER_SIZE,
        0,
        0,
        omem,
        tot,
        "rw" if omem else "r",
        _cmd_name(current if current is not None else c.last_cmd),
        c.user.decode("latin-1") if isinstance(c.user, (bytes, bytearray)) else str(c.user),
        -1,
        c.resp.version,
    )
    return line.encode("latin-1")


def _text_reply(c, text: bytes) -> bytes:
    """A report: a bulk string in RESP2, a verbatim "txt" string in RESP3."""
    return c.resp.verbatim(text) if c.resp.version == 3 else bulk(text)


def authenticate(c, username: bytes, password: bytes) -> bool:
    """ACLAuthenticateUser for the single "default" user (requirepass, or nopass).

    A node with an ACL subsystem (``node.acl.authenticate(user, pass) -> bool``)
    answers for itself.
    """
    node = c.node
    acl = getattr(node, "acl", None)
    if acl is not None:
        ok = acl.authenticate(username, password)
    else:
        required = node.config["requirepass"]
        ok = username == b"default" and (not required or password == required)
    if ok:
        c.authenticated = True
        c.user = username
        c.update_fast()
    return ok


def _redact(argv, *positions) -> None:
    for i in positions:
        if i < len(argv):
            argv[i] = REDACTED


# --- PING ECHO QUIT -----------------------------------------------------------------


@describe(arguments=(arg("message", "string", flags="optional"),))
@command("ping", -1, "fast sentinel", group="connection", categories="connection",
         summary="Ping the server", since="1.0.0", complexity="O(1)",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
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


@describe(arguments=(arg("message", "string"),))
@command("echo", 2, "loading stale fast", group="connection", categories="connection",
         summary="Echo the given string", since="1.0.0", complexity="O(1)")
def echo_command(c, argv):
    return bulk(argv[1])


@command("quit", -1, "allow_busy noscript loading stale fast no_auth nofastpath", group="connection",
         categories="connection", summary="Close the connection", since="1.0.0", complexity="O(1)")
def quit_command(c, argv):
    c.close_after_reply = True
    return R.OK


# --- HELLO AUTH SELECT RESET ----------------------------------------------------------


def hello_reply(c) -> bytes:
    node = c.node
    mode = b"cluster" if node.config["cluster-enabled"] or node.cluster is not None else b"standalone"
    role = b"replica" if node.master is not None else b"master"
    return b"".join((
        c.resp.map_header(7),
        b"$6\r\nserver\r\n$5\r\nredis\r\n",
        b"$7\r\nversion\r\n", bulk(REDIS_VERSION.encode()),
        b"$5\r\nproto\r\n", integer(c.resp.version),
        b"$2\r\nid\r\n", integer(c.id),
        b"$4\r\nmode\r\n", bulk(mode),
        b"$4\r\nrole\r\n", bulk(role),
        b"$7\r\nmodules\r\n*0\r\n",
    ))


@describe(history=(("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."),))
@describe(arguments=(
    arg("arguments", "block",
        arg("protover", "integer"),
        arg("username_password", "block", arg("username", "string"), arg("password", "string"),
            token="AUTH", flags="optional"),
        arg("clientname", "string", token="SETNAME", flags="optional"),
        flags="optional"),
))
@command("hello", -1, "noscript loading stale fast no_auth allow_busy sentinel",
         group="connection", categories="connection",
         summary="Handshake with Redis", since="6.0.0",
         complexity="O(1)")
def hello_command(c, argv):
    ver = 0
    j = 1
    argc = len(argv)
    if argc >= 2:
        ver = string2ll(argv[1])
        if ver is None:
            return R.PROTOVER_NOT_INT
        if ver < 2 or ver > 3:
            return R.NOPROTO
        j = 2
    clientname = None
    while j < argc:
        more = argc - 1 - j
        opt = argv[j].lower()
        if opt == b"auth" and more >= 2:
            user, password = argv[j + 1], argv[j + 2]
            _redact(argv, j + 1, j + 2)
            if not authenticate(c, user, password):
                return R.WRONGPASS
            j += 3
        elif opt == b"setname" and more >= 1:
            clientname = argv[j + 1]
            j += 2
        else:
            return R.err(b"ERR Syntax error in HELLO option '" + argv[j] + b"'")
    if not c.authenticated:
        return R.HELLO_NOAUTH
    if clientname is not None:
        if not valid_client_name(clientname):
            return R.BAD_CLIENT_NAME
        c.name = bytes(clientname)
    if ver:
        c.resp = RESP3 if ver == 3 else RESP2
    return hello_reply(c)


@describe(history=(("6.0.0", "Added ACL style (username and password)."),))
@describe(arguments=(arg("username", "string", since="6.0.0", flags="optional"), arg("password", "string")))
@command("auth", -2, "noscript loading stale fast no_auth allow_busy sentinel",
         group="connection", categories="connection",
         summary="Authenticate to the server", since="1.0.0",
         complexity="O(N) where N is the number of passwords defined for the user")
def auth_command(c, argv):
    argc = len(argv)
    if argc > 3:
        return R.SYNTAX
    args = list(argv)  # read before redacting argv for the slow log and MONITOR
    _redact(argv, 1, 2)
    if argc == 2:
        if not c.node.config["requirepass"] and getattr(c.node, "acl", None) is None:
            return R.AUTH_NOT_CONFIGURED
        user, password = b"default", args[1]
    else:
        user, password = args[1], args[2]
    if authenticate(c, user, password):
        return R.OK
    return R.WRONGPASS


@describe(arguments=(arg("index", "integer"),))
@command("select", 2, "loading stale fast", group="connection", categories="connection",
         summary="Change the selected database for the current connection", since="1.0.0",
         complexity="O(1)")
def select_command(c, argv):
    dbid = get_int(argv[1])
    if dbid.__class__ is bytes:
        return dbid
    node = c.node
    if node.cluster is not None and dbid != 0:
        return R.SELECT_CLUSTER
    if not 0 <= dbid < len(node.dbs):
        return R.DB_INDEX_OUT_OF_RANGE
    c.db = node.dbs[dbid]
    return R.OK


def reset_client(c) -> None:
    """clearClientConnectionState: back to a freshly connected client's state.

    Registrations other modules keep for the client (subscriptions, WATCHed
    keys, blocking) are dropped through the same hooks that run on
    disconnect, then the client's own fields are reset.
    """
    from ..server import dispatch

    if c.multi and dispatch.DISCARD_TRANSACTION is not None:
        dispatch.DISCARD_TRANSACTION(c)
    for hook in list(_conn._CLOSE_HOOKS):
        hook(c)
    node = c.node
    c.multi = False
    c.mstate = []
    c.dirty_cas = False
    c.dirty_exec = False
    c.watched = []
    c.channels = set()
    c.patterns = set()
    c.shard_channels = set()
    if c.monitor:
        c.monitor = False
        if c in node.monitors:
            node.monitors.remove(c)
            node.update_fast()
    c.db = node.dbs[0]
    c.resp = RESP2
    c.name = b""
    c.asking = False
    c.readonly = False
    c.reply_off = False
    c.reply_skip_next = False
    c.no_touch = False  # (CLIENT NO-EVICT survives RESET in Redis 7.0)
    c.user = b"default"
    c.authenticated = not node.config["requirepass"] and getattr(node, "acl", None) is None
    c.update_fast()


@command("reset", 1, "noscript loading stale fast no_auth allow_busy", group="connection",
         categories="connection", summary="Reset the connection", since="6.2.0", complexity="O(1)")
def reset_command(c, argv):
    reset_client(c)
    return b"+RESET\r\n"


# --- CLIENT -----------------------------------------------------------------------------

CLIENT_HELP = (
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
)

_CLIENT = dict(group="connection", categories="connection")


@subcommand("client", "help", 2, "loading stale", **_CLIENT,
            summary="Show helpful text about the different subcommands", since="5.0.0", complexity="O(1)")
def client_help(c, argv):
    return help_reply("CLIENT", CLIENT_HELP)


@subcommand("client", "id", 2, "noscript loading stale", **_CLIENT,
            summary="Returns the client ID for the current connection", since="5.0.0", complexity="O(1)")
def client_id(c, argv):
    return integer(c.id)


@subcommand("client", "getname", 2, "noscript loading stale", **_CLIENT,
            summary="Get the current connection name", since="2.6.9", complexity="O(1)")
def client_getname(c, argv):
    return bulk(c.name) if c.name else c.resp.null


@describe(arguments=(arg("connection-name", "string"),))
@subcommand("client", "setname", 3, "noscript loading stale", **_CLIENT,
            summary="Set the current connection name", since="2.6.9", complexity="O(1)")
def client_setname(c, argv):
    name = argv[2]
    if not valid_client_name(name):
        return R.BAD_CLIENT_NAME
    c.name = bytes(name)
    return R.OK


@subcommand("client", "info", 2, "noscript loading stale", **_CLIENT,
            summary="Returns information about the current client connection.", since="6.2.0",
            complexity="O(1)", tips=("nondeterministic_output",))
def client_info_command(c, argv):
    return _text_reply(c, client_info(c, current=client_info_command.command, argv=argv) + b"\n")


@describe(history=(
    ("2.8.12", "Added unique client `id` field."),
    ("5.0.0", "Added optional `TYPE` filter."),
    ("6.0.0", "Added `user` field."),
    ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
    ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
    ("7.0.3", "Added `ssub` field."),
))
@describe(arguments=(
    arg("normal_master_replica_pubsub", "oneof",
        _tok("normal", "NORMAL"), _tok("master", "MASTER"), _tok("replica", "REPLICA"), _tok("pubsub", "PUBSUB"),
        token="TYPE", since="5.0.0", flags="optional"),
    arg("id", "block", arg("client-id", "integer", flags="multiple"), token="ID", since="6.2.0", flags="optional"),
))
@subcommand("client", "list", -2, "admin noscript loading stale", **_CLIENT,
            summary="Get the list of client connections", since="2.4.0",
            complexity="O(N) where N is the number of client connections",
            tips=("nondeterministic_output",))
def client_list(c, argv):
    argc = len(argv)
    node = c.node
    if argc == 4 and argv[2].lower() == b"type":
        ctype = _CLIENT_TYPES.get(argv[3].lower())
        if ctype is None:
            return R.err(b"ERR Unknown client type '" + argv[3] + b"'")
        clients = [x for x in node.clients.values() if client_type(x) == ctype]
    elif argc > 3 and argv[2].lower() == b"id":
        clients = []
        for a in argv[3:]:
            cid = string2ll(a)
            if cid is None:
                return R.INVALID_CLIENT_ID
            x = node.clients.get(cid)
            if x is not None:
                clients.append(x)
    elif argc != 2:
        return R.SYNTAX
    else:
        clients = list(node.clients.values())
    now = time.time()
    me = client_list.command
    lines = [
        client_info(x, now, me, argv) if x is c else client_info(x, now)
        for x in clients
    ]
    return _text_reply(c, b"".join(line + b"\n" for line in lines))


@describe(history=(
    ("2.8.12", "Added new filter format."),
    ("2.8.12", "`ID` option."),
    ("3.2.0", "Added `master` type in for `TYPE` option."),
    ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
    ("6.2.0", "`LADDR` option."),
))
@describe(arguments=(
    arg("filter", "oneof",
        arg("ip:port", "string", deprecated_since="2.8.12"),
        arg("new-format", "oneof",
            arg("client-id", "integer", token="ID", since="2.8.12", flags="optional"),
            arg("normal_master_slave_pubsub", "oneof",
                _tok("normal", "NORMAL"), _tok("master", "MASTER", since="3.2.0"), _tok("slave", "SLAVE"),
                _tok("replica", "REPLICA", since="5.0.0"), _tok("pubsub", "PUBSUB"),
                token="TYPE", since="2.8.12", flags="optional"),
            arg("username", "string", token="USER", flags="optional"),
            arg("ip:port", "string", token="ADDR", flags="optional"),
            arg("ip:port", "string", token="LADDR", since="6.2.0", flags="optional"),
            arg("yes/no", "string", token="SKIPME", flags="optional"),
            flags="multiple"),
    ),
))
@subcommand("client", "kill", -3, "admin noscript loading stale", **_CLIENT,
            summary="Kill the connection of a client", since="2.4.0",
            complexity="O(N) where N is the number of client connections")
def client_kill(c, argv):
    argc = len(argv)
    node = c.node
    addr = laddr = user = None
    cid = 0
    ctype = None
    skipme = True
    if argc == 3:
        addr = argv[2]
        skipme = False  # with the old form a client may kill itself
    else:
        i = 2
        while i < argc:
            opt = argv[i].lower()
            if i + 1 >= argc:
                return R.SYNTAX
            val = argv[i + 1]
            if opt == b"id":
                v = string2ll(val)
                if v is None or v < 1:
                    return R.CLIENT_ID_POSITIVE
                cid = v
            elif opt == b"type":
                ctype = _CLIENT_TYPES.get(val.lower())
                if ctype is None:
                    return R.err(b"ERR Unknown client type '" + val + b"'")
            elif opt == b"addr":
                addr = val
            elif opt == b"laddr":
                laddr = val
            elif opt == b"user":
                if not _user_exists(node, val):
                    return R.err(b"ERR No such user '" + val + b"'")
                user = val
            elif opt == b"skipme":
                low = val.lower()
                if low == b"yes":
                    skipme = True
                elif low == b"no":
                    skipme = False
                else:
                    return R.SYNTAX
            else:
                return R.SYNTAX
            i += 2
    killed = 0
    for x in list(node.clients.values()):
        if addr is not None and peer_id(x).encode() != addr:
            continue
        if laddr is not None and sock_name(x).encode() != laddr:
            continue
        if ctype is not None and client_type(x) != ctype:
            continue
        if cid and x.id != cid:
            continue
        if user is not None and x.user != user:
            continue
        if x is c:
            if skipme:
                continue
            c.close_after_reply = True
        else:
            x.close()
        killed += 1
    if argc == 3:
        return R.OK if killed else R.NO_SUCH_CLIENT
    return integer(killed)


def _user_exists(node, name: bytes) -> bool:
    acl = getattr(node, "acl", None)
    if acl is not None and hasattr(acl, "user_exists"):
        return acl.user_exists(name)
    return name == b"default"


@describe(arguments=(arg("on_off_skip", "oneof", _tok("on", "ON"), _tok("off", "OFF"), _tok("skip", "SKIP")),))
@subcommand("client", "reply", 3, "noscript loading stale", **_CLIENT,
            summary="Instruct the server whether to reply to commands", since="3.2.0",
            complexity="O(1)")
def client_reply(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_off = False
        c.reply_skip = False
        c.reply_skip_next = False
        c.update_fast()
        return R.OK
    if mode == b"off":
        c.reply_off = True
        c.update_fast()
        return None
    if mode == b"skip":
        if not c.reply_off:
            c.reply_skip_next = True
            c.update_fast()
        return None
    return R.SYNTAX


@describe(history=(("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."),))
@describe(arguments=(
    arg("timeout", "integer"),
    arg("mode", "oneof", _tok("write", "WRITE"), _tok("all", "ALL"), since="6.2.0", flags="optional"),
))
@subcommand("client", "pause", -3, "admin noscript loading stale", **_CLIENT,
            summary="Stop processing commands from clients for some time", since="2.9.50",
            complexity="O(1)")
def client_pause(c, argv):
    argc = len(argv)
    if argc > 4:
        return subcommand_syntax_error(argv)
    ms = string2ll(argv[2])
    if ms is None:
        return R.TIMEOUT_NOT_INTEGER
    if ms < 0:
        return R.TIMEOUT_NEGATIVE
    if ms > LLONG_MAX - int(time.time() * 1000):
        return R.TIMEOUT_OUT_OF_RANGE
    pause_all = True
    if argc == 4:
        mode = argv[3].lower()
        if mode == b"write":
            pause_all = False
        elif mode != b"all":
            return R.PAUSE_MODE
    node = c.node
    if ms > 0:
        until = time.monotonic() + ms / 1000.0
        if node.paused_until:
            # A pause never gets shorter or less strict while another is running.
            until = max(until, node.paused_until)
            pause_all = pause_all or node.pause_all
        node.pause(until, pause_all)
    return R.OK


@subcommand("client", "unpause", 2, "admin noscript loading stale", **_CLIENT,
            summary="Resume processing of clients that were paused", since="6.2.0",
            complexity="O(N) Where N is the number of paused clients")
def client_unpause(c, argv):
    if c.node.paused_until:
        c.node.unpause()
    return R.OK


@describe(arguments=(arg("enabled", "oneof", _tok("on", "ON"), _tok("off", "OFF")),))
@subcommand("client", "no-evict", 3, "admin noscript loading stale", **_CLIENT,
            summary="Set client eviction mode for the current connection", since="7.0.0",
            complexity="O(1)")
def client_no_evict(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.no_evict = True
    elif mode == b"off":
        c.no_evict = False
    else:
        return R.SYNTAX
    return R.OK


# --- bookkeeping on disconnect ----------------------------------------------------------


@_conn.on_client_close
def _forget_monitor(c) -> None:
    if c.monitor:
        node = c.node
        if c in node.monitors:
            node.monitors.remove(c)
            node.update_fast()
