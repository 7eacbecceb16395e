"""shardis.keyspace."""
