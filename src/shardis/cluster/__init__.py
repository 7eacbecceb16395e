"""Redis Cluster support for shardis.

The pure building blocks (key hashing and slot ranges in ``slots``, the
cluster bus codec in ``busproto``) carry no I/O so that they can be tested
byte for byte against real redis-server traffic; the stateful and networked
parts live in their own modules next to them.
"""
