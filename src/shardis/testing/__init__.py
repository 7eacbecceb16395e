"""shardis.testing."""
