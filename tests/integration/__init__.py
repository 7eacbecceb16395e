"""Integration tests: real shardis (and redis-server) processes on 127.0.0.1.

A package so that its test modules are imported as ``integration.test_*`` and
may share a basename with a unit test (tests/unit has no __init__.py: its
modules import their siblings by plain name).
"""
