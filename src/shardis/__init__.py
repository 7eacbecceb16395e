"""shardis: a Redis Cluster written in Python.

A node that speaks Redis 7.0's client protocol and cluster bus, the tooling to
run clusters of such nodes, and a cluster-aware client.
"""

__version__ = "0.1.0"

# The Redis version whose behaviour we implement; INFO reports it because
# clients switch features on it.
REDIS_VERSION = "7.0.15"

__all__ = ["__version__", "REDIS_VERSION"]
