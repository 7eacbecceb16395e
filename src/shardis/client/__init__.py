"""shardis.client."""
