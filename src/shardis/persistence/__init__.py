"""Persistence: the RDB codec (DUMP/RESTORE payloads, RDB files, replication sync), snapshots and the AOF.

The codec is pure and lives in ``rdb`` with its helpers (``crc64``, ``lzf``,
``listpack``, ``ziplist``, ``intset``, ``zipmap``); the public surface is
re-exported here so callers write ``from shardis.persistence import
dump_value`` and never depend on the module split.

The node's persistence subsystem -- ``snapshot`` (SAVE/BGSAVE, the forked
child, save points, ``Persistence``), ``aof`` (the Redis 7.0 multi-part AOF)
and ``loading`` (start-up loading) -- is re-exported lazily (module
``__getattr__``), so importing the pure codec never imports the server.
"""

from .crc64 import crc64
from .rdb import (
    DEFAULT_THRESHOLDS,
    RDB_VERSION,
    AuxField,
    BadDataFormat,
    DumpPayloadError,
    EmptyKeyError,
    EndOfFile,
    FunctionLibrary,
    KeyValue,
    ModuleAux,
    RdbCorruptError,
    RdbError,
    RdbReader,
    RdbUnsupportedError,
    RdbWriter,
    ResizeDb,
    SelectDb,
    Thresholds,
    UnsupportedTypeError,
    decode_value,
    default_aux,
    dump_value,
    encode_length,
    encode_string,
    encode_value,
    load_dump_payload,
    read_rdb,
    verify_dump_payload,
    write_rdb,
)

__all__ = [
    "crc64",
    "DEFAULT_THRESHOLDS",
    "RDB_VERSION",
    "AuxField",
    "BadDataFormat",
    "DumpPayloadError",
    "EmptyKeyError",
    "EndOfFile",
    "FunctionLibrary",
    "KeyValue",
    "ModuleAux",
    "RdbCorruptError",
    "RdbError",
    "RdbReader",
    "RdbUnsupportedError",
    "RdbWriter",
    "ResizeDb",
    "SelectDb",
    "Thresholds",
    "UnsupportedTypeError",
    "decode_value",
    "default_aux",
    "dump_value",
    "encode_length",
    "encode_string",
    "encode_value",
    "load_dump_payload",
    "read_rdb",
    "verify_dump_payload",
    "write_rdb",
    # the node's subsystem (imported on first use)
    "Persistence",
    "AppendOnly",
    "Manifest",
    "ManifestError",
    "AofParser",
    "LoadError",
    "crc64_lanes",
]

_LAZY = {
    "Persistence": "snapshot",
    "crc64_lanes": "snapshot",
    "AppendOnly": "aof",
    "Manifest": "aof",
    "ManifestError": "aof",
    "AofParser": "aof",
    "LoadError": "loading",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
