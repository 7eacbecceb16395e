"""shardis.protocol."""
