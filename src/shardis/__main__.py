"""``python -m shardis`` is the ``shardis`` command."""

from .cli.main import main

raise SystemExit(main())
