"""The command families.  Importing this package registers every command in the table.

Each module holds one family (strings, keys, hashes ...), its helpers first and
then its commands, declared with ``@command``/``@subcommand`` from
``shardis.server.commandtable``.  Modules are discovered rather than listed so
that adding a family is adding a file.
"""

import importlib
import pkgutil

__all__ = ["load_all"]

_loaded = False


def load_all() -> None:
    """Import every command module once (idempotent)."""
    global _loaded
    if _loaded:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True
