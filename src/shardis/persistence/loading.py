"""Loading the dataset at start-up (and for DEBUG RELOAD / LOADAOF): RDB files and AOFs.

This is Redis's loadDataFromDisk: with ``appendonly yes`` the AOF (its
manifest, base and incr files, or an old single ``appendonly.aof`` which is
moved into the AOF directory first), otherwise ``dbfilename``.  Like Redis,
with the AOF enabled an existing dump.rdb is *not* looked at.

Loading is written as generators that yield every chunk of input (RDB) or
every 1024 commands (AOF), so the same code runs to completion for DEBUG
RELOAD and, at start-up, hands the event loop back between chunks: the node
is already listening and answers ``-LOADING Redis is loading the dataset in
memory`` meanwhile (``node.loading``), and INFO shows the progress.

Nothing is ever half loaded silently.  A file that cannot be read, is
corrupt, or ends early raises ``LoadError`` whose message names the file
and the byte offset; the node logs Redis's lines plus that message and
exits with status 1.  The one exception is Redis's own: an AOF whose *last*
file ends inside a command (or inside a MULTI without EXEC) is truncated to
its last complete command and loaded, when ``aof-load-truncated yes``, and
the truncation is logged.

AOF commands are replayed through the command table by a client without a
connection, as Redis's fake AOF client does: handlers run directly (no
process_command checks, no statistics), MULTI queues until EXEC, and replies
are dropped.  RDB keys go straight into the databases, skipping keys whose
TTL has passed on a master (not inside an AOF base, where later commands may
still refer to them).  The RDB checksum is verified here over large chunks
rather than per record
(``snapshot.crc64_lanes``).
"""

from __future__ import annotations

import asyncio
import os
import time

from ..keyspace.lfu import restored_field
from .aof import AofFormatError, AofParser, AofTruncated, ManifestError
from .rdb import (
    AuxField,
    EndOfFile,
    FunctionLibrary,
    KeyValue,
    ModuleAux,
    RdbCorruptError,
    RdbReader,
    RdbUnsupportedError,
    SelectDb,
)
from .snapshot import crc64_lanes, thresholds_from_config

__all__ = [
    "LoadError",
    "LoadAborted",
    "load_data_from_disk",
    "rdb_load",
    "aof_load",
    "run_sync",
    "run_async",
    "RDB_OK",
    "RDB_NOT_EXIST",
    "AOF_OK",
    "AOF_NOT_EXIST",
    "AOF_EMPTY",
    "AOF_TRUNCATED",
]

READ_CHUNK = 256 * 1024  # bytes of an AOF read (and replayed) between two returns to the event loop
READ_BIG_CHUNK = 8 * 1024 * 1024  # bytes of an RDB read between two returns to the event loop
LOAD_EVENTS_PER_YIELD = 2048  # RDB keys loaded between two returns to the event loop
CRC_CHUNK = 2 * 1024 * 1024  # bytes checksummed at once (crc64_lanes pays off on large buffers)
AOF_COMMANDS_PER_YIELD = 1024  # commands replayed between two returns to the event loop

RDB_OK = "ok"
RDB_NOT_EXIST = "not-exist"
AOF_OK = "ok"
AOF_NOT_EXIST = "not-exist"
AOF_EMPTY = "empty"
AOF_TRUNCATED = "truncated"


class LoadError(Exception):
    """Loading failed; ``lines`` are the log lines to print (Redis's, then ours with file and offset)."""

    def __init__(self, message: str, lines=()):
        super().__init__(message)
        self.lines = list(lines)


class LoadAborted(Exception):
    """A shutdown was requested while loading."""


# --- drivers ------------------------------------------------------------------------------


def run_sync(gen):
    """Run a loading generator to completion; returns its result."""
    while True:
        try:
            next(gen)
        except StopIteration as done:
            return done.value


async def run_async(gen, node):
    """Run a loading generator, giving the event loop a turn between steps."""
    shutdown = node.shutdown_requested
    while True:
        try:
            next(gen)
        except StopIteration as done:
            return done.value
        await asyncio.sleep(0)
        if shutdown is not None and shutdown.done():
            gen.close()
            raise LoadAborted()


# --- RDB -----------------------------------------------------------------------------------


def _begin_loading(node, p, total_bytes: int) -> None:
    node.loading = True
    node.update_fast()
    p.loading_start_time = int(time.time())
    p.loading_process_start = time.time()
    p.loading_total_bytes = total_bytes
    p.loading_loaded_bytes = 0
    p.loading_rdb_used_mem = 0


def _end_loading(node) -> None:
    node.loading = False
    node.update_fast()


def rdb_load_stream(node, p, read, name: str, *, preamble: bool = False, allow_dup: bool = False,
                    first: bytes = b"", base_offset: int = 0, stats=None):
    """Generator: load one RDB from ``read(n)``; returns the bytes after its end (an AOF tail).

    ``first`` holds bytes already read from the stream.  ``stats`` is a dict
    that receives "loaded" and "expired".  Raises LoadError.

    The whole input is read first (in pieces, handing the loop back between
    them) and given to the reader as complete: the reader then parses each
    record once instead of first scanning it for completeness, which is most
    of its cost on a stream that arrives in pieces.
    """
    progress_base = p.loading_loaded_bytes  # progress counts parsed bytes
    pieces = [first] if first else []
    while True:
        piece = read(READ_BIG_CHUNK)
        if not piece:
            break
        pieces.append(piece)
        yield
    data = b"".join(pieces)
    del pieces

    cfg = node.config
    do_crc = cfg["rdbchecksum"]
    reader = RdbReader(thresholds=thresholds_from_config(cfg), verify_checksum=False)
    reader.feed(data)
    reader.feed_eof()
    dbs = node.dbs
    ndbs = len(dbs)
    skip_expired = not preamble and node.master is None
    now_ms = int(time.time() * 1000)
    clock = node.lru_clock
    unixtime = node.unixtime
    lfu = node.lfu
    loaded = expired = 0
    crc = 0
    crc_pos = 0  # offset up to which the CRC is computed
    db = dbs[0]
    data_dict, slot_index = db.data, db.slot_index
    libraries = []
    events = 0
    try:
        while True:
            ev = reader.next_event()
            if ev is None:  # pragma: no cover - a complete input ends with EndOfFile or an error
                raise RdbCorruptError(reader.offset, "unexpected end of data")
            cls = ev.__class__
            if cls is KeyValue:
                if ev.db != db.id:
                    db = dbs[ev.db]
                    data_dict, slot_index = db.data, db.slot_index
                exp = ev.expire_ms
                if exp is not None and skip_expired and exp < now_ms:
                    expired += 1
                else:
                    key = ev.key
                    if key in data_dict:
                        if not allow_dup:
                            shown = key.decode("utf-8", "replace")
                            msg = f"RDB has duplicated key '{shown}' in DB {db.id}"
                            raise LoadError(f"{msg} ({name}, offset {base_offset + reader.offset})", [msg])
                        db.delete(key)
                    data_dict[key] = ev.value
                    if exp is not None:
                        db.set_expire(key, exp)
                    if slot_index is not None:
                        slot_index.add(key)
                    field = restored_field(ev.lfu_freq, ev.lru_idle, clock, unixtime, lfu)
                    if field is not None:
                        db.access[key] = field
                    loaded += 1
                events += 1
                if events % LOAD_EVENTS_PER_YIELD == 0:
                    upto = reader.offset
                    if do_crc and upto - crc_pos >= CRC_CHUNK:
                        crc = crc64_lanes(crc, data[crc_pos:upto])
                        crc_pos = upto
                    p.loading_loaded_bytes = progress_base + upto
                    yield
                continue
            if cls is SelectDb:
                if ev.db >= ndbs:
                    msg = (f"FATAL: Data file was created with a Redis server configured to handle more "
                           f"than {ndbs} databases. Exiting")
                    raise LoadError(f"{msg} ({name}, offset {base_offset + reader.offset})", [msg])
                db = dbs[ev.db]
                data_dict, slot_index = db.data, db.slot_index
            elif cls is AuxField:
                _aux(node, p, ev, preamble)
            elif cls is FunctionLibrary:
                libraries.append(ev.code)
            elif cls is ModuleAux:
                msg = "The RDB file contains AUX module data I can't load: no matching module"
                raise LoadError(f"{msg} ({name}, offset {base_offset + reader.offset})", [msg])
            elif cls is EndOfFile:
                break
        end = reader.offset
        if do_crc:
            upto = end - 8 if reader.version >= 5 else end
            crc = crc64_lanes(crc, data[crc_pos:upto])
            if reader.version >= 5:
                if ev.checksum == 0:
                    node.log("warning", "RDB file was saved with checksum disabled: no check performed.")
                elif ev.checksum != crc:
                    msg = f"Wrong RDB checksum expected: ({ev.checksum:x}) got ({crc:x}). Aborting now."
                    raise LoadError(
                        f"{name}: wrong checksum (offset {base_offset + upto})",
                        [msg, f"Internal error in RDB reading offset {base_offset + upto}, "
                              f"file {name} -> RDB CRC error"],
                    )
        p.loading_loaded_bytes = progress_base + end
        p.function_libraries = libraries
        node.log("notice", "Done loading RDB, keys loaded: %d, keys expired: %d." % (loaded, expired))
        if stats is not None:
            stats["loaded"] = stats.get("loaded", 0) + loaded
            stats["expired"] = stats.get("expired", 0) + expired
        return data[end:]
    except RdbUnsupportedError as e:
        off = base_offset + e.offset
        raise LoadError(
            f"{name}: unsupported data at offset {off}: {e.reason}",
            [f"Internal error in RDB reading offset {off}, file {name} -> {e.reason} are not supported by shardis"],
        ) from None
    except RdbCorruptError as e:
        off = base_offset + e.offset
        short = "unexpected end" in e.reason
        lines = []
        if short:
            lines.append("Short read or OOM loading DB. Unrecoverable error, aborting now.")
        reason = "Unexpected EOF reading RDB file" if short else e.reason
        lines.append(f"Internal error in RDB reading offset {off}, file {name} -> {reason}")
        raise LoadError(f"{name}: {'truncated' if short else 'corrupt'} at byte offset {off}: {e.reason}",
                        lines) from None


def _aux(node, p, ev: AuxField, preamble: bool) -> None:
    key = ev.key
    val = ev.value
    if key == b"redis-ver":
        node.log("notice", "Loading RDB produced by version " + val.decode("utf-8", "replace"))
    elif key == b"ctime":
        try:
            age = int(time.time()) - int(val)
        except ValueError:
            return
        node.log("notice", f"RDB age {max(age, 0)} seconds")
    elif key == b"used-mem":
        try:
            used = int(val)
        except ValueError:
            return
        p.loading_rdb_used_mem = used
        node.log("notice", "RDB memory usage when created %.2f Mb" % (used / (1024 * 1024)))
    elif key in (b"repl-id", b"repl-offset", b"repl-stream-db"):
        info = dict(zip(("repl-id", "repl-offset", "repl-stream-db"), p.loaded_repl_info or (None, None, None)))
        info[key.decode()] = val
        p.loaded_repl_info = (info["repl-id"], info["repl-offset"], info["repl-stream-db"])
    elif key in (b"redis-bits", b"aof-base", b"lua", b"aof-preamble"):
        pass
    else:
        node.log("debug", "Unrecognized RDB AUX field: '%s'" % key.decode("utf-8", "replace"))


def rdb_load(node, p, filename: str, *, allow_dup: bool = False, manage_loading: bool = True):
    """Generator: rdbLoad.  Returns RDB_OK or RDB_NOT_EXIST; raises LoadError."""
    try:
        f = open(filename, "rb")
    except FileNotFoundError:
        return RDB_NOT_EXIST
    except OSError as e:
        raise LoadError(f"{filename}: {e.strerror}",
                        [f"Fatal error loading the DB: {e.strerror}. Exiting."]) from None
    start = time.time()
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
        except OSError:
            size = 0
        if manage_loading:
            _begin_loading(node, p, size)
        try:
            try:
                first = f.read(READ_CHUNK)
            except IsADirectoryError as e:
                raise LoadError(f"{filename}: {e.strerror}",
                                ["Short read or OOM loading DB. Unrecoverable error, aborting now.",
                                 f"Internal error in RDB reading offset 0, file {filename} -> "
                                 "Unexpected EOF reading RDB file"]) from None
            stats: dict = {}
            yield from rdb_load_stream(node, p, f.read, filename, first=first, allow_dup=allow_dup, stats=stats)
        finally:
            if manage_loading:
                _end_loading(node)
    p.rdb_last_load_keys_loaded = stats.get("loaded", 0)
    p.rdb_last_load_keys_expired = stats.get("expired", 0)
    node.log("notice", "DB loaded from disk: %.3f seconds" % (time.time() - start))
    return RDB_OK


# --- AOF ------------------------------------------------------------------------------------


def _fake_client(node):
    """createAOFClient: a client with no connection whose replies go nowhere."""
    from ..server.connection import Client

    c = Client(node)
    c.authenticated = True
    c.name = b""
    return c


def _replay(c, argv, name: str, offset: int):
    """Run one AOF command in the fake client; returns the command (for MULTI tracking)."""
    from ..server import dispatch
    from ..server.commandtable import lookup

    cmd = lookup(argv[0])
    if cmd is not None and cmd.subcommands:
        cmd = cmd.subcommands.get(argv[1].lower()) if len(argv) > 1 else None
    if cmd is None:
        shown = argv[0].decode("utf-8", "replace")
        msg = f"Unknown command '{shown}' reading the append only file {name}"
        raise LoadError(f"{msg} (offset {offset})", [msg])
    if c.multi and cmd.fullname_b != b"exec":
        dispatch.QUEUE_MULTI(c, cmd, argv)
        return cmd
    try:
        cmd.handler(c, argv)
    except Exception as e:  # a handler failing on our data must stop the load, not skip it
        msg = f"Error replaying '{cmd.fullname}' from the append only file {name} at offset {offset}: {e!r}"
        raise LoadError(msg, [msg]) from None
    c.out.clear()
    return cmd


def load_single_aof(node, p, aof, name: str, stats: dict):
    """Generator: loadSingleAppendOnlyFile.  Returns AOF_OK / AOF_EMPTY / AOF_NOT_EXIST / AOF_TRUNCATED."""
    path = aof.path(name)
    try:
        f = open(path, "rb")
    except FileNotFoundError as e:
        node.log("warning", f"The append log file {name} doesn't exist: {e.strerror}")
        return AOF_NOT_EXIST
    except OSError as e:
        msg = f"Fatal error: can't open the append log file {name} for reading: {e.strerror}"
        raise LoadError(msg, [msg]) from None
    with f:
        if os.fstat(f.fileno()).st_size == 0:
            return AOF_EMPTY
        c = _fake_client(node)
        parser = AofParser()
        valid_up_to = 0
        valid_before_multi = 0
        head = f.read(READ_CHUNK)
        if head[:5] == b"REDIS":
            old_style = name == aof.filename
            node.log("notice", "Reading RDB preamble from AOF file..." if old_style
                     else "Reading RDB base file on AOF loading...")
            try:
                rest = yield from rdb_load_stream(node, p, f.read, name, preamble=True, first=head, stats=stats)
            except LoadError as e:
                for line in e.lines:
                    node.log("warning", line)
                what = "the RDB preamble of the AOF file" if old_style else "the RDB base file"
                msg = f"Error reading {what} {name}, AOF loading aborted"
                raise LoadError(f"{msg}: {e}", [msg]) from None
            valid_up_to = p_offset = _file_pos(f) - len(rest)
            valid_before_multi = valid_up_to
            parser = AofParser(p_offset)
            if old_style:
                node.log("notice", "Reading the remaining AOF tail...")
            chunk = rest
        else:
            chunk = head
        final = False
        loops = 0
        while True:
            if chunk:
                parser.feed(chunk)
                p.loading_loaded_bytes += len(chunk)
            else:
                final = True
            try:
                while True:
                    got = parser.next_command(final)
                    if got is None:
                        break
                    argv, end = got
                    cmd = _replay(c, argv, name, end)
                    if cmd.fullname_b == b"multi":
                        valid_before_multi = valid_up_to
                    valid_up_to = end
                    loops += 1
                    if loops % AOF_COMMANDS_PER_YIELD == 0:
                        yield
            except AofTruncated:
                return (yield from _truncated(node, aof, name, path, valid_up_to, c))
            except AofFormatError as e:
                msg = (f"Bad file format reading the append only file {name}: make a backup of your AOF file, "
                       "then use ./redis-check-aof --fix <filename.manifest>")
                raise LoadError(f"{name}: bad file format at byte offset {e.offset}: {e.reason}",
                                [msg, f"Bad file format at offset {e.offset} of {name}: {e.reason}"]) from None
            if final:
                break
            yield
            chunk = f.read(READ_CHUNK)
        if c.multi:
            node.log("warning", f"Revert incomplete MULTI/EXEC transaction in AOF file {name}")
            return (yield from _truncated(node, aof, name, path, valid_before_multi, c))
    return AOF_OK


def _file_pos(f) -> int:
    return f.tell()


def _truncated(node, aof, name: str, path: str, valid_up_to: int, c):
    """The uxeof path of loadSingleAppendOnlyFile (a generator for symmetry; never yields)."""
    if c.multi:
        from ..server import dispatch

        if dispatch.DISCARD_TRANSACTION is not None:
            dispatch.DISCARD_TRANSACTION(c)
    if node.config["aof-load-truncated"]:
        node.log("warning", f"!!! Warning: short read while loading the AOF file {name}!!!")
        node.log("warning", f"!!! Truncating the AOF {name} at offset {valid_up_to} !!!")
        try:
            os.truncate(path, valid_up_to)
        except OSError as e:
            node.log("warning", f"Error truncating the AOF file {name}: {e.strerror}")
        else:
            node.log("warning", f"AOF {name} loaded anyway because aof-load-truncated is enabled")
            return AOF_TRUNCATED
    msg = (f"Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF "
           "file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the "
           "'aof-load-truncated' configuration option to yes and restart the server.")
    raise LoadError(f"{name}: truncated after byte offset {valid_up_to}", [msg])
    yield  # pragma: no cover - makes this a generator


def _upgrade_prepare(node, aof) -> None:
    """aofUpgradePrepare: move an old single-file AOF into the directory, as the base."""
    from .aof import AofInfo

    try:
        aof.ensure_dir()
    except OSError as e:
        msg = f"Can't open or create append-only dir {aof.dirname}: {e.strerror}"
        raise LoadError(msg, [msg]) from None
    m = aof.manifest
    m.base = AofInfo(aof.filename, 1, "b")
    m.curr_base_seq = 1
    m.dirty = True
    try:
        aof.persist_manifest()
        os.rename(aof.filename, aof.path(aof.filename))
    except OSError as e:
        msg = (f"Error trying to move the old AOF file {aof.filename} into dir {aof.dirname}: {e.strerror}")
        raise LoadError(msg, [msg]) from None
    node.log("notice", f"Successfully migrated an old-style AOF file ({aof.filename}) into the AOF directory "
                       f"({aof.dirname}).")


def load_manifest(aof) -> None:
    """aofLoadManifestFromDisk, with its errors as LoadError."""
    try:
        aof.load_manifest()
    except ManifestError as e:
        lines = ["\n*** FATAL AOF MANIFEST FILE ERROR ***\n"]
        if e.line is not None:
            lines += [f"Reading the manifest file, at line {e.linenum}\n", f">>> '{e.line}'\n"]
        lines.append(f"{e.reason}\n")
        raise LoadError(f"{aof.manifest_name}: {e.reason} (line {e.linenum})", lines) from None
    except OSError as e:
        msg = f"Fatal error: can't open the AOF manifest file {aof.manifest_name} for reading: {e.strerror}"
        raise LoadError(msg, [msg]) from None


def aof_load(node, p, manage_loading: bool = True):
    """Generator: aofLoadManifestFromDisk + loadAppendOnlyFiles.  Raises LoadError."""
    aof = p.aof
    load_manifest(aof)
    m = aof.manifest
    if os.path.isfile(aof.filename):
        if (
            not os.path.isdir(aof.dirname)
            or (m.base is None and not m.incr)
            or (m.base is not None and not m.incr and m.base.file_name == aof.filename
                and not os.path.exists(aof.path(aof.filename)))
        ):
            _upgrade_prepare(node, aof)
    files = m.files_to_load()
    if not files:
        return AOF_NOT_EXIST
    total = 0
    for info in files:
        try:
            total += os.stat(aof.path(info.file_name)).st_size
        except OSError as e:
            msg = f"Unable to obtain the AOF file {info.file_name} length. stat: {e.strerror}"
            raise LoadError(f"{info.file_name}: listed in the manifest but missing ({e.strerror})", [msg]) from None
    if total == 0:
        return AOF_EMPTY
    if manage_loading:
        _begin_loading(node, p, total)
    stats: dict = {}
    ret = AOF_OK
    base_size = 0
    try:
        for i, info in enumerate(files):
            last = i == len(files) - 1
            start = time.time()
            if info is m.base:
                base_size = os.stat(aof.path(info.file_name)).st_size
            ret = yield from load_single_aof(node, p, aof, info.file_name, stats)
            if ret == AOF_OK or (ret == AOF_TRUNCATED and last):
                kind = "base" if info is m.base else "incr"
                node.log("notice", "DB loaded from %s file %s: %.3f seconds" % (kind, info.file_name,
                                                                               time.time() - start))
            if ret == AOF_EMPTY:
                ret = AOF_OK
            if ret == AOF_TRUNCATED and not last:
                msg = "Fatal error: the truncated file is not the last file"
                raise LoadError(f"{info.file_name}: truncated but not the last AOF file", [msg])
            if ret == AOF_NOT_EXIST:
                raise LoadError(f"{info.file_name}: listed in the manifest but missing",
                                [f"The append log file {info.file_name} doesn't exist"])
    finally:
        if manage_loading:
            _end_loading(node)
    p.rdb_last_load_keys_loaded = stats.get("loaded", p.rdb_last_load_keys_loaded)
    p.rdb_last_load_keys_expired = stats.get("expired", p.rdb_last_load_keys_expired)
    aof.current_size = sum(os.stat(aof.path(i.file_name)).st_size for i in files)
    aof.rewrite_base_size = base_size
    aof.fsync_offset = aof.current_size
    return ret


# --- start-up --------------------------------------------------------------------------------


async def load_data_from_disk(node, p) -> bool:
    """loadDataFromDisk.  False when the node must exit (the reason is logged)."""
    start = time.time()
    try:
        if node.config["appendonly"]:
            ret = await run_async(aof_load(node, p), node)
            if ret != AOF_NOT_EXIST:
                node.log("notice", "DB loaded from append only file: %.3f seconds" % (time.time() - start))
        else:
            # As Redis, the manifest is read even with the AOF off: a later
            # BGREWRITEAOF or CONFIG SET appendonly yes continues its numbering.
            load_manifest(p.aof)
            await run_async(rdb_load(node, p, node.config["dbfilename"]), node)
    except LoadAborted:
        node.log("warning", "Shutdown requested while loading: exiting without saving.")
        p.load_failed = True
        p.load_aborted = True
        return False
    except LoadError as e:
        for line in e.lines:
            node.log("warning", line.rstrip("\n") if line.strip() else line)
        node.log("warning", f"Loading failed, the node will not start: {e}")
        return False
    node.dirty = 0
    return True
