"""shardis.server."""
