"""Compatibility tests: shardis against redis-server 7.0 and real Redis tools.

A package so that its test modules are imported as ``compat.test_*`` and may
share a basename with a unit or integration test.
"""
