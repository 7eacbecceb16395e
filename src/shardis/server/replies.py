"""Shared replies and every error text, exactly as Redis 7.0 spells them.

Handlers never spell an error inline: they return one of these constants or
call one of the small builders below.  Keeping them in one file makes it easy
to diff our texts against Redis's (server.c createSharedObjects, networking.c,
the t_*.c files) and keeps the wire bytes pre-encoded for the hot path.

Constants are complete RESP frames (``-ERR ...\\r\\n``) so they can be
appended to a client's output as they are.  The texts are identical in RESP2
and RESP3.
"""

from __future__ import annotations

__all__ = [name for name in dir() if name.isupper()]  # refreshed at the bottom


def err(text: str | bytes) -> bytes:
    """An error frame.  ``text`` includes the code (ERR, WRONGTYPE, ...)."""
    if isinstance(text, str):
        text = text.encode()
    # Redis replaces newlines in error strings so the frame stays one line.
    text = text.replace(b"\r", b" ").replace(b"\n", b" ")
    return b"-" + text + b"\r\n"


def err_fmt(text: str, *args) -> bytes:
    """An error frame with printf-style arguments (bytes args are decoded leniently)."""
    conv = tuple(a.decode("utf-8", "replace") if isinstance(a, (bytes, bytearray)) else a for a in args)
    return err(text % conv)


# --- status replies -------------------------------------------------------
OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
QUEUED = b"+QUEUED\r\n"
NOKEY_STATUS = b"+NOKEY\r\n"

# --- integers -------------------------------------------------------------
CZERO = b":0\r\n"
CONE = b":1\r\n"
CNEGONE = b":-1\r\n"
CNEGTWO = b":-2\r\n"

# --- generic errors (server.c createSharedObjects) ------------------------
WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX = err("ERR syntax error")
NOT_INTEGER = err("ERR value is not an integer or out of range")
NOT_FLOAT = err("ERR value is not a valid float")
NO_SUCH_KEY = err("ERR no such key")
OUT_OF_RANGE = err("ERR index out of range")
NOAUTH = err("NOAUTH Authentication required.")
WRONGPASS = err("WRONGPASS invalid username-password pair or user is disabled.")
AUTH_NOT_CONFIGURED = err(
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
DB_INDEX_OUT_OF_RANGE = err("ERR DB index is out of range")
INVALID_DB_INDEX = err("ERR invalid DB index")
SAME_OBJECT = err("ERR source and destination objects are the same")
OVERFLOW = err("ERR increment or decrement would overflow")
INCR_FLOAT_NAN = err("ERR increment would produce NaN or Infinity")
BIT_OFFSET = err("ERR bit offset is not an integer or out of range")
BIT_VALUE = err("ERR bit is not an integer or out of range")
STRING_TOO_LONG = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
OFFSET_OUT_OF_RANGE = err("ERR offset is out of range")
INVALID_EXPIRE_TIME = "ERR invalid expire time in '%s' command"
TIMEOUT_NOT_FLOAT = err("ERR timeout is not a float or out of range")
TIMEOUT_NEGATIVE = err("ERR timeout is negative")
TIMEOUT_OUT_OF_RANGE = err("ERR timeout is out of range")
NX_XX_GT_LT = err("ERR NX and XX, GT or LT options at the same time are not compatible")
GT_LT_NX = err("ERR GT, LT, and/or NX options at the same time are not compatible")
UNKNOWN_COMMAND = "ERR unknown command '%s', with args beginning with: %s"
UNKNOWN_SUBCOMMAND = "ERR unknown subcommand '%s'. Try %s HELP."
WRONG_ARITY = "ERR wrong number of arguments for '%s' command"
MULTI_NESTED = err("ERR MULTI calls can not be nested")
EXEC_WITHOUT_MULTI = err("ERR EXEC without MULTI")
DISCARD_WITHOUT_MULTI = err("ERR DISCARD without MULTI")
WATCH_INSIDE_MULTI = err("ERR WATCH inside MULTI is not allowed")
EXECABORT = err("EXECABORT Transaction discarded because of previous errors.")
NOT_IN_MULTI_CMD = "ERR Command not allowed inside a transaction"
PROTO_ERROR = "ERR Protocol error: %s"
NOPROTO = err("NOPROTO unsupported protocol version")
SELECT_CLUSTER = err("ERR SELECT is not allowed in cluster mode")
NO_SCRIPT = err("NOSCRIPT No matching script. Please use EVAL.")
BUSYKEY = err("BUSYKEY Target key name already exists.")
MIN_ONE = err("ERR value is out of range, must be positive")
INVALID_CURSOR = err("ERR invalid cursor")
PUBSUB_CONTEXT = (
    "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
    "are allowed in this context"
)
SHUTDOWN_ERR = err("ERR Errors trying to SHUTDOWN. Check logs.")
LOADING = err("LOADING Redis is loading the dataset in memory")
OOM = err("OOM command not allowed when used memory > 'maxmemory'.")
MASTERDOWN = err(
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
)
READONLY = err("READONLY You can't write against a read only replica.")
MISCONF = err(
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
    "persist to disk. Commands that may modify the data set are disabled, because this "
    "instance is configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details "
    "about the RDB error."
)

# --- protocol errors (networking.c) ---------------------------------------
PROTO_INVALID_MULTIBULK = "invalid multibulk length"
PROTO_INVALID_BULK = "invalid bulk length"
PROTO_UNAUTH_MULTIBULK = "unauthenticated multibulk length"
PROTO_UNAUTH_BULK = "unauthenticated bulk length"
PROTO_TOO_BIG_MBULK = "too big mbulk count string"
PROTO_TOO_BIG_BULK = "too big bulk count string"
PROTO_TOO_BIG_INLINE = "too big inline request"
PROTO_UNBALANCED_QUOTES = "unbalanced quotes in request"
PROTO_EXPECTED_DOLLAR = "expected '$', got '%s'"


def wrong_arity(name: bytes) -> bytes:
    return err_fmt(WRONG_ARITY, name.lower())


def unknown_subcommand(sub: bytes, cmd: bytes) -> bytes:
    return err_fmt(UNKNOWN_SUBCOMMAND, sub, cmd.upper())


def proto_error(detail: str) -> bytes:
    return err(PROTO_ERROR % detail)


__all__ = [name for name in dir() if name.isupper() or name in ("err", "err_fmt", "wrong_arity", "unknown_subcommand", "proto_error")]


# --- connection and server commands (networking.c, server.c, config.c, debug.c ...) ----
PROTOVER_NOT_INT = err("ERR Protocol version is not an integer or out of range")
HELLO_SYNTAX = "ERR Syntax error in HELLO option '%s'"
HELLO_NOAUTH = err(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
    "the RESP protocol version at the same time"
)
BAD_CLIENT_NAME = err("ERR Client names cannot contain spaces, newlines or special characters.")
INT_RANGE = "ERR value is out of range, value must between %d and %d"
UNKNOWN_CLIENT_TYPE = "ERR Unknown client type '%s'"
INVALID_CLIENT_ID = err("ERR Invalid client ID")
NO_SUCH_CLIENT = err("ERR No such client")
CLIENT_ID_POSITIVE = err("ERR client-id should be greater than 0")
NO_SUCH_USER = "ERR No such user '%s'"
TIMEOUT_NOT_INTEGER = err("ERR timeout is not an integer or out of range")
PAUSE_MODE = err("ERR CLIENT PAUSE mode must be WRITE or ALL")
SUBCOMMAND_SYNTAX = "ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
CONFIG_SET_FAILED = "ERR CONFIG SET failed (possibly related to argument '%s') - %s"
CONFIG_SET_UNKNOWN = "ERR Unknown option or number of arguments for CONFIG SET - '%s'"
NO_CONFIG_FILE = err("ERR The server is running without a config file")
CONFIG_REWRITE_FAILED = "ERR Rewriting config file: %s"
SLOWLOG_COUNT = err("ERR count should be greater than or equal to -1")
NO_SHUTDOWN_IN_PROGRESS = err("ERR No shutdown in progress.")
PROTECTED_COMMAND = (
    "ERR %s command not allowed. If the %s option is set to \"local\", you can run it from a "
    "local connection, otherwise you need to set this option in the configuration file, and "
    "then restart the server."
)
INVALID_COMMAND = err("ERR Invalid command specified")
COMMAND_NO_KEYS = err("ERR The command has no key arguments")
COMMAND_BAD_ARITY = err("ERR Invalid number of arguments specified for command")
COMMAND_BAD_ARGS = err("ERR Invalid arguments specified for command")
FUNCTION_FLUSH_MODE = err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
FUNCTION_UNKNOWN_ARG = "ERR Unknown argument %s"
FUNCTION_NO_LIBNAME = err("ERR library name argument was not given")
FUNCTION_LIBRARY_NOT_FOUND = err("ERR Library not found")
NOTBUSY = err("NOTBUSY No scripts in execution right now.")
LATENCY_NO_SAMPLES = "ERR No samples available for event '%s'"
INVALID_FIRST_DB = err("ERR invalid first DB index")
INVALID_SECOND_DB = err("ERR invalid second DB index")
SWAPDB_CLUSTER = err("ERR SWAPDB is not allowed in cluster mode")
DEBUG_PROTOCOL_TYPE = err(
    "ERR Wrong protocol type name. Please use one of the following: "
    "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"
)
RESP2_UNSUPPORTED = err("ERR RESP2 is not supported by this command")
REPLICA_KEYSPACE = err("ERR Replica can't interact with the keyspace")

# --- hashes, lists, sets, blocking (t_hash.c, t_list.c, t_set.c, blocked.c) ---
HASH_NOT_INTEGER = err("ERR hash value is not an integer")
HASH_NOT_FLOAT = err("ERR hash value is not a float")
VALUE_NAN_OR_INF = err("ERR value is NaN or Infinity")
VALUE_OUT_OF_RANGE = err("ERR value is out of range")
NUMKEYS_NOT_POSITIVE = err("ERR numkeys should be greater than 0")
COUNT_NOT_POSITIVE = err("ERR count should be greater than 0")
NUMKEYS_OVER_ARGS = err("ERR Number of keys can't be greater than number of args")
LIMIT_NEGATIVE = err("ERR LIMIT can't be negative")
LPOS_RANK_ZERO = err(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
LPOS_COUNT_NEGATIVE = err("ERR COUNT can't be negative")
LPOS_MAXLEN_NEGATIVE = err("ERR MAXLEN can't be negative")
UNBLOCKED = err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
CLIENT_UNBLOCK_REASON = err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
# getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) for SRANDMEMBER/HRANDFIELD counts
COUNT_OUT_OF_LONG_RANGE = err(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)

# --- keyspace, strings, bitmaps (db.c, expire.c, object.c, t_string.c, bitops.c) ---
GT_AND_LT = err("ERR GT and LT options at the same time are not compatible")
UNSUPPORTED_OPTION = b"ERR Unsupported option %b"  # bytes template: the option as sent, up to a NUL
MOVE_CLUSTER = err("ERR MOVE is not allowed in cluster mode")
COPY_CLUSTER = err("ERR Copying to another database is not allowed in cluster mode")
IDLETIME_LFU = err(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)
FREQ_NOT_LFU = err(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that "
    "when switching between policies at runtime LRU and LFU data will take some time to adjust."
)
DECR_OVERFLOW = err("ERR decrement would overflow")
LCS_LEN_AND_IDX = err("ERR If you want both the length and indexes, please just use IDX.")
LCS_NOT_STRINGS = err("ERR The specified keys must contain string values")
LCS_TOO_LONG = err("ERR String too long for LCS")
LCS_MEMORY = err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
BIT_ARG_0_OR_1 = err("ERR The bit argument must be 1 or 0.")
BITOP_NOT_ONE_KEY = err("ERR BITOP NOT must be called with a single source key.")
BITFIELD_TYPE = err(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)
BITFIELD_OVERFLOW_TYPE = err("ERR Invalid OVERFLOW type specified")
BITFIELD_RO_GET_ONLY = err("ERR BITFIELD_RO only supports the GET subcommand")

# --- sorted sets and HyperLogLog (t_zset.c, hyperloglog.c) ---
ZADD_NX_XX = err("ERR XX and NX options at the same time are not compatible")
ZADD_INCR_PAIR = err("ERR INCR option supports a single increment-element pair")
ZSET_NAN = err("ERR resulting score is not a number (NaN)")
ZRANGE_NOT_FLOAT = err("ERR min or max is not a float")
ZRANGE_NOT_LEX = err("ERR min or max not valid string range item")
ZRANGE_LIMIT = err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
ZRANGE_WITHSCORES_BYLEX = err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
ZSET_NO_INPUT_KEY = "ERR at least 1 input key is needed for '%s' command"
WEIGHT_NOT_FLOAT = err("ERR weight value is not a float")
HLL_WRONGTYPE = err("WRONGTYPE Key is not a valid HyperLogLog string value.")
HLL_INVALID = err("INVALIDOBJ Corrupted HLL object detected")
HLL_NO_KEY = err("ERR The specified key does not exist")
HLL_NOT_SPARSE = err("ERR HLL encoding is not sparse")
PFDEBUG_UNKNOWN = "ERR Unknown PFDEBUG subcommand '%s'"

# --- transactions and pub/sub (multi.c, pubsub.c) -------------------------------------
EXECABORT_BECAUSE = b"EXECABORT Transaction discarded because of: %s"  # %s: the rejection, without "-ERR "
SSUBSCRIBE_DENY_BLOCKING = err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")

# --- cluster (cluster.c) ----------------------------------------------------------------
CROSSSLOT = err("CROSSSLOT Keys in request don't hash to the same slot")
TRYAGAIN = err("TRYAGAIN Multiple keys request during rehashing of slot")
CLUSTERDOWN = err("CLUSTERDOWN The cluster is down")
CLUSTERDOWN_RO = err("CLUSTERDOWN The cluster is down and only accepts read commands")
CLUSTERDOWN_UNBOUND = err("CLUSTERDOWN Hash slot not served")
CLUSTER_DISABLED = err("ERR This instance has cluster support disabled")
CLUSTER_BAD_SLOT = err("ERR Invalid or out of range slot")
CLUSTER_INVALID_SLOT = err("ERR Invalid slot")
CLUSTER_INVALID_SLOT_OR_COUNT = err("ERR Invalid slot or number of keys")
CLUSTER_SLOT_BUSY = "ERR Slot %d is already busy"
CLUSTER_SLOT_UNASSIGNED = "ERR Slot %d is already unassigned"
CLUSTER_SLOT_TWICE = "ERR Slot %d specified multiple times"
CLUSTER_RANGE_ORDER = "ERR start slot number %d is greater than end slot number %d"
CLUSTER_UNKNOWN_NODE = "ERR Unknown node %s"
CLUSTER_DONT_KNOW_NODE = "ERR I don't know about node %s"
CLUSTER_BAD_BASE_PORT = "ERR Invalid TCP base port specified: %s"
CLUSTER_BAD_BUS_PORT = "ERR Invalid TCP bus port specified: %s"
CLUSTER_BAD_ADDRESS = "ERR Invalid node address specified: %s:%s"
CLUSTER_FLUSHSLOTS_NOT_EMPTY = err("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
CLUSTER_SETSLOT_REPLICA = err("ERR Please use SETSLOT only with masters.")
CLUSTER_NOT_OWNER = "ERR I'm not the owner of hash slot %u"
CLUSTER_ALREADY_OWNER = "ERR I'm already the owner of hash slot %u"
CLUSTER_TARGET_NOT_MASTER = err("ERR Target node is not a master")
CLUSTER_SLOT_HAS_KEYS = (
    "ERR Can't assign hashslot %d to a different node while I still hold keys for this hash slot."
)
CLUSTER_SETSLOT_SYNTAX = err("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
CLUSTER_SAVECONFIG_FAILED = "ERR error saving the cluster node config: %s"
CLUSTER_FORGET_MYSELF = err("ERR I tried hard but I can't forget myself...")
CLUSTER_FORGET_MASTER = err("ERR Can't forget my master!")
CLUSTER_REPLICATE_MYSELF = err("ERR Can't replicate myself")
CLUSTER_REPLICATE_REPLICA = err("ERR I can only replicate a master, not a replica.")
CLUSTER_REPLICATE_NOT_EMPTY = err("ERR To set a master the node must be empty and without assigned slots.")
CLUSTER_NOT_A_MASTER = err("ERR The specified node is not a master")
CLUSTER_BAD_CONFIG_EPOCH = "ERR Invalid config epoch specified: %d"
CLUSTER_EPOCH_NODES_KNOWN = err(
    "ERR The user can assign a config epoch only when the node does not know any other node."
)
CLUSTER_EPOCH_NONZERO = err("ERR Node config epoch is already non-zero")
CLUSTER_RESET_WITH_KEYS = err("ERR CLUSTER RESET can't be called with master nodes containing keys")

# --- persistence (rdb.c, aof.c, debug.c, server.c) -------------------------
ERR_BARE = b"-ERR\r\n"  # shared.err: SAVE / BGSAVE / DEBUG RELOAD when the save failed
MISCONF_AOF = "MISCONF Errors writing to the AOF file: %s"
BGSAVE_IN_PROGRESS = err("ERR Background save already in progress")
BGSAVE_CHILD_ACTIVE = err(
    "ERR Another child process is active (AOF?): can't BGSAVE right now. "
    "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
)
BGREWRITEAOF_IN_PROGRESS = err("ERR Background append only file rewriting already in progress")
BGREWRITEAOF_FAILED = err(
    "ERR Can't execute an AOF background rewriting. Please check the server logs for more information."
)
DEBUG_RELOAD_OPTIONS = err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
DEBUG_RELOAD_LOAD_FAILED = err("ERR Error trying to load the RDB dump, check server logs.")

# --- DUMP / RESTORE / MIGRATE (cluster.c) ---------------------------------------
DUMP_PAYLOAD_BAD = err("ERR DUMP payload version or checksum are wrong")
RESTORE_BAD_DATA = err("ERR Bad data format")
RESTORE_BAD_TTL = err("ERR Invalid TTL value, must be >= 0")
RESTORE_BAD_IDLETIME = err("ERR Invalid IDLETIME value, must be >= 0")
RESTORE_BAD_FREQ = err("ERR Invalid FREQ value, must be >= 0 and <= 255")
MIGRATE_KEYS_OPTION = err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
MIGRATE_IOERR_CONNECT = err("IOERR error or timeout connecting to the client")
MIGRATE_IOERR_WRITING = err("IOERR error or timeout writing to target instance")
MIGRATE_IOERR_READING = err("IOERR error or timeout reading to target instance")
MIGRATE_TARGET_ERROR = b"ERR Target instance replied with error: "  # + the target's error line

__all__ = [name for name in dir() if name.isupper() or name in ("err", "err_fmt", "wrong_arity", "unknown_subcommand", "proto_error")]
