"""shardis.replication."""
