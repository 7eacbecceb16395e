"""DUMP, RESTORE, RESTORE-ASKING and MIGRATE (cluster.c's key-moving commands).

DUMP and RESTORE speak Redis's serialization (the RDB value encoding, the
2-byte RDB version and the CRC64 trailer; persistence/rdb.py holds the one
codec), so a payload made by redis-server restores here and the reverse.

MIGRATE is, as in Redis, synchronous: the node sends a pipeline of RESTORE
commands over a blocking socket with the caller's timeout and waits for the
replies, so no other command interleaves with a key in flight.  Sockets to
targets are cached (at most ``MIGRATE_SOCKET_CACHE_ITEMS``, closed after
``MIGRATE_SOCKET_CACHE_TTL`` idle seconds) and remember the selected db, as
Redis's migrateCachedSocket does; a failure on a cached socket is retried
once on a fresh connection unless it was a timeout.

The payloads MIGRATE sends are never LZF-compressed, whatever
``rdbcompression`` says (DUMP follows it, as in Redis).  This is a deliberate
difference: compression is done in pure Python here and costs more than it
saves on a local network -- trying to compress a 1 KB value that does not
compress takes longer than the CRC64 and the RESP framing of the whole key --
and the receiving side, redis-server or shardis, takes an uncompressed
string exactly like a compressed one.  Payloads stay byte-for-byte what
Redis writes with ``rdbcompression no``.
"""

from __future__ import annotations

import socket
import time

from ..keyspace import notify as kn
from ..keyspace.lfu import restored_field
from ..keyspace.objects import List, ZSet
from ..persistence.rdb import (
    DEFAULT_THRESHOLDS,
    BadDataFormat,
    DumpPayloadError,
    RdbError,
    Thresholds,
    dump_value,
    load_dump_payload,
)
from ..protocol.resp import bulk
from ..server import replies as R
from ..server.commandtable import KeySpecError, command
from .strings import parse_int

MIGRATE_SOCKET_CACHE_ITEMS = 64  # sockets kept to migration targets (cluster.c)
MIGRATE_SOCKET_CACHE_TTL = 10  # seconds an unused cached socket stays open
MIGRATE_WRITE_CHUNK = 64 * 1024  # bytes per send, as Redis transfers the pipeline
MIGRATE_LINE_MAX = 1024  # reply line buffer (connSyncReadLine's buffer)

_THRESHOLD_NAMES = (
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "list-max-listpack-size",
)
_thresholds_cache: dict = {}  # the six config values -> their Thresholds (CONFIG SET makes a new key)


def thresholds(node) -> Thresholds:
    """The node's compact-encoding limits, for decoding payloads (built once per distinct config)."""
    cfg = node.config
    values = tuple([cfg[name] for name in _THRESHOLD_NAMES])
    th = _thresholds_cache.get(values)
    if th is None:
        if len(_thresholds_cache) > 64:
            _thresholds_cache.clear()
        th = _thresholds_cache[values] = Thresholds(*values)
    return th


def _signal_ready(db, key, value) -> None:
    """dbAdd signals lists and sorted sets as ready for blocked clients."""
    if isinstance(value, (List, ZSet)) and db.blocking:
        from ..keyspace.blocking import signal_key_ready

        signal_key_ready(db, key)


@command("dump", 2, "readonly", keys=(1, 1, 1), group="generic", categories="keyspace",
         summary="Return a serialized version of the value stored at the specified key.",
         since="2.6.0", complexity="O(1) to access the key and additional O(N*M) to serialize it")
def dump_command(c, argv):
    v = c.db.lookup_read(argv[1])
    if v is None:
        return c.resp.null
    return bulk(dump_value(v, compress=c.node.config["rdbcompression"]))


def restore_generic(c, argv):
    """restoreCommand: options, BUSYKEY, TTL, payload checks, then the key."""
    node = c.node
    db = c.db
    key = argv[1]
    replace = absttl = False
    lru_idle = lfu_freq = -1
    j = 4
    argc = len(argv)
    while j < argc:
        opt = argv[j].lower()
        more = argc - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and lfu_freq == -1:
            v = parse_int(argv[j + 1])
            if v is None:
                return R.NOT_INTEGER
            if v < 0:
                return R.RESTORE_BAD_IDLETIME
            lru_idle = v
            j += 1
        elif opt == b"freq" and more >= 1 and lru_idle == -1:
            v = parse_int(argv[j + 1])
            if v is None:
                return R.NOT_INTEGER
            if not 0 <= v <= 255:
                return R.RESTORE_BAD_FREQ
            lfu_freq = v
            j += 1
        else:
            return R.SYNTAX
        j += 1
    if not replace and db.lookup_write(key) is not None:
        return R.BUSYKEY
    ttl = parse_int(argv[2])
    if ttl is None:
        return R.NOT_INTEGER
    if ttl < 0:
        return R.RESTORE_BAD_TTL
    payload = argv[3]
    try:
        # A string (type 0) needs no encoding limits; containers do.
        value = load_dump_payload(payload, thresholds(node) if payload[:1] != b"\x00" else DEFAULT_THRESHOLDS)
    except DumpPayloadError:
        return R.DUMP_PAYLOAD_BAD
    except (BadDataFormat, RdbError):
        return R.RESTORE_BAD_DATA
    deleted = db.delete(key) if replace else False
    now = int(time.time() * 1000)
    if ttl and not absttl:
        ttl += now
    if ttl and ttl <= now and not node.loading and node.master is None:
        # Already expired: nothing is created (an existing key was replaced by nothing).
        if deleted:
            c.propagate_argv = [b"DEL", key]
            node.dirty += 1
            if node.notify_flags:
                node.notify(kn.GENERIC, b"del", key, db.id)
        return R.OK
    db.set(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            # Propagated with the absolute time, as Redis rewrites it.
            c.propagate_argv = [argv[0], key, b"%d" % ttl, argv[3]] + list(argv[4:]) + [b"ABSTTL"]
    field = restored_field(lfu_freq, lru_idle, node.lru_clock, node.unixtime, node.lfu)
    if field is not None:
        db.access[key] = field
    node.dirty += 1
    if node.notify_flags:
        node.notify(kn.GENERIC, b"restore", key, db.id)
    _signal_ready(db, key, value)
    return R.OK


@command("restore", -4, "write denyoom", keys=(1, 1, 1), group="generic", categories="keyspace dangerous",
         summary="Create a key using the provided serialized value, previously obtained using DUMP.",
         since="2.6.0", complexity="O(1) to create the new key and additional O(N*M) to reconstruct the serialized value")
def restore_command(c, argv):
    return restore_generic(c, argv)


@command("restore-asking", -4, "write denyoom asking", keys=(1, 1, 1), group="server",
         categories="keyspace dangerous",
         summary="An internal command for migrating keys in a cluster", since="3.0.0",
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the serialized value")
def restore_asking_command(c, argv):
    return restore_generic(c, argv)


# --- MIGRATE -------------------------------------------------------------------


class _TargetSocket:
    """A cached blocking connection to a migration target."""

    __slots__ = ("sock", "last_dbid", "last_use", "rbuf")

    def __init__(self, sock):
        self.sock = sock
        self.last_dbid = -1
        self.last_use = time.monotonic()
        self.rbuf = b""

    def read_line(self, deadline: float) -> bytes:
        """One reply line (without CRLF), like connSyncReadLine; raises OSError/TimeoutError."""
        buf = self.rbuf
        end = buf.find(b"\n")
        while end < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(16384)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
            end = buf.find(b"\n")
        self.rbuf = buf[end + 1:]
        return buf[:end].rstrip(b"\r")[: MIGRATE_LINE_MAX - 1]

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


def _cache(node) -> dict:
    cache = getattr(node, "migrate_sockets", None)
    if cache is None:
        cache = node.migrate_sockets = {}
        node.cron_hooks.append(lambda now: _cache_cron(node))
    return cache


def _cache_cron(node) -> None:
    """migrateCloseTimedoutSockets."""
    cache = node.migrate_sockets
    now = time.monotonic()
    for name, cs in list(cache.items()):
        if now - cs.last_use > MIGRATE_SOCKET_CACHE_TTL:
            cs.close()
            del cache[name]


def _get_socket(node, host: bytes, port: bytes, timeout_ms: int):
    """migrateGetSocket: a cached socket, or a new one (None on failure)."""
    cache = _cache(node)
    name = host + b":" + port
    cs = cache.get(name)
    if cs is not None:
        cs.last_use = time.monotonic()
        return cs
    if len(cache) >= MIGRATE_SOCKET_CACHE_ITEMS:
        victim = next(iter(cache))
        cache.pop(victim).close()
    try:
        sock = socket.create_connection((host.decode(errors="replace"), int(port)), timeout=timeout_ms / 1000)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except ConnectionRefusedError:
        # Redis connects non-blocking and waits for writability, which a refused
        # connect also gives: the failure then surfaces as a write error.
        sock = None
    except (OSError, ValueError, UnicodeError):
        return None
    cs = cache[name] = _TargetSocket(sock)
    return cs


def _close_socket(node, host: bytes, port: bytes) -> None:
    cs = _cache(node).pop(host + b":" + port, None)
    if cs is not None:
        cs.close()


def _multibulk(*args) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


def migrate_getkeys(argv) -> list[int]:
    """MIGRATE's keys: argv[3], or everything after KEYS when argv[3] is empty."""
    if len(argv) > 6:
        for j in range(6, len(argv)):
            opt = argv[j].lower()
            if opt == b"keys":
                if argv[3]:
                    raise KeySpecError("key must be empty with KEYS")
                return list(range(j + 1, len(argv)))
            if opt == b"auth":
                continue
    return [3] if argv[3] else []


@command("migrate", -6, "write movablekeys", keys=(3, 3, 1), group="generic", categories="keyspace dangerous",
         getkeys=migrate_getkeys,
         summary="Atomically transfer a key from a Redis instance to another one.", since="2.6.0",
         complexity="This command actually executes a DUMP+DEL in the source instance, and a RESTORE in "
                    "the target instance.")
def migrate_command(c, argv):
    node = c.node
    db = c.db
    copy = replace = False
    password = username = None
    first_key, num_keys = 3, 1
    argc = len(argv)
    j = 6
    while j < argc:
        opt = argv[j].lower()
        more = argc - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                return R.SYNTAX
            j += 1
            password = argv[j]
        elif opt == b"auth2":
            if more < 2:
                return R.SYNTAX
            username, password = argv[j + 1], argv[j + 2]
            j += 2
        elif opt == b"keys":
            if argv[3]:
                return R.MIGRATE_KEYS_OPTION
            first_key, num_keys = j + 1, argc - j - 1
            break
        else:
            return R.SYNTAX
        j += 1
    timeout = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout is None or dbid is None:
        return R.NOT_INTEGER
    if timeout <= 0:
        timeout = 1000

    # Keys that exist now; all missing -> +NOKEY (not an error: they may just have expired).
    keys = [k for k in argv[first_key : first_key + num_keys] if db.lookup_read(k) is not None]
    if not keys:
        return R.NOKEY_STATUS

    may_retry = True
    while True:
        write_error = False
        cs = _get_socket(node, argv[1], argv[2], timeout)
        if cs is None:
            return R.MIGRATE_IOERR_CONNECT
        parts = []
        if password is not None:
            parts.append(_multibulk(b"AUTH", username, password) if username is not None else _multibulk(b"AUTH", password))
        select = cs.last_dbid != dbid
        if select:
            parts.append(_multibulk(b"SELECT", b"%d" % dbid))
        # RESTORE-ASKING key ttl payload [REPLACE], one frame per key, framed by hand.
        restore = b"$14\r\nRESTORE-ASKING\r\n" if node.cluster is not None else b"$7\r\nRESTORE\r\n"
        head = (b"*5\r\n" if replace else b"*4\r\n") + restore
        tail = b"$7\r\nREPLACE\r\n" if replace else b""
        sent = []
        now = int(time.time() * 1000)
        for k in keys:
            v = db.peek(k)
            if v is None:
                continue
            ttl = 0
            when = db.get_expire(k)
            if when is not None:
                ttl = when - now
                if ttl < 0:
                    continue
                ttl = max(ttl, 1)
            blob = dump_value(v, compress=False)  # see the module docstring
            ttl_text = b"%d" % ttl
            parts.append(b"%b$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n%b" % (
                head, len(k), k, len(ttl_text), ttl_text, len(blob), blob, tail))
            sent.append(k)
        payload = b"".join(parts)
        deadline = time.monotonic() + timeout / 1000
        socket_error = False
        error_from_target = None
        acked = []
        j_read = 0
        try:
            if cs.sock is None:
                raise ConnectionRefusedError
            cs.sock.settimeout(timeout / 1000)
            view = memoryview(payload)
            for off in range(0, len(payload), MIGRATE_WRITE_CHUNK):
                cs.sock.sendall(view[off : off + MIGRATE_WRITE_CHUNK])
        except (OSError, TimeoutError) as e:
            write_error = True
            timed_out = isinstance(e, (TimeoutError, socket.timeout))
            _close_socket(node, argv[1], argv[2])
            if not timed_out and may_retry:
                may_retry = False
                continue
            return R.MIGRATE_IOERR_WRITING
        try:
            auth_reply = cs.read_line(deadline) if password is not None else b""
            select_reply = cs.read_line(deadline) if select else b""
        except (OSError, TimeoutError) as e:
            timed_out = isinstance(e, (TimeoutError, socket.timeout))
            _close_socket(node, argv[1], argv[2])
            if not timed_out and may_retry:
                may_retry = False
                continue
            return R.MIGRATE_IOERR_READING
        timed_out = False
        for k in sent:
            try:
                line = cs.read_line(deadline)
            except (OSError, TimeoutError) as e:
                socket_error = True
                timed_out = isinstance(e, (TimeoutError, socket.timeout))
                break
            j_read += 1
            err_line = None
            if auth_reply[:1] == b"-":
                err_line = auth_reply
            elif select_reply[:1] == b"-":
                err_line = select_reply
            elif line[:1] == b"-":
                err_line = line
            if err_line is not None:
                if error_from_target is None:
                    cs.last_dbid = -1
                    error_from_target = R.err(R.MIGRATE_TARGET_ERROR + err_line[1:])
            elif not copy:
                if db.delete(k):
                    node.dirty += 1
                    if node.notify_flags:
                        node.notify(kn.GENERIC, b"del", k, db.id)
                acked.append(k)
        if error_from_target is None and socket_error and j_read == 0 and may_retry and not timed_out:
            _close_socket(node, argv[1], argv[2])
            may_retry = False
            continue
        if socket_error:
            _close_socket(node, argv[1], argv[2])
        if not copy:
            # Propagated as a DEL of the keys the target acknowledged.
            c.propagate_argv = [b"DEL"] + acked if acked else None
        if error_from_target is None and socket_error:
            return R.MIGRATE_IOERR_READING
        if error_from_target is not None:
            return error_from_target
        cs.last_dbid = dbid
        return R.OK
