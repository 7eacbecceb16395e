"""shardis.cli."""
