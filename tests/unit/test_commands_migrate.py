"""commands/migrate.py helpers without a server: the encoding limits RESTORE decodes with."""

from __future__ import annotations

from shardis.commands.migrate import thresholds
from shardis.keyspace.objects import Hash
from shardis.persistence.rdb import Thresholds, dump_value, load_dump_payload


class FakeNode:
    def __init__(self, **overrides):
        self.config = {
            "hash-max-listpack-entries": 512,
            "hash-max-listpack-value": 64,
            "set-max-intset-entries": 512,
            "zset-max-listpack-entries": 128,
            "zset-max-listpack-value": 64,
            "list-max-listpack-size": -2,
        }
        self.config.update(overrides)


def test_thresholds_follow_the_config_and_are_shared():
    node = FakeNode()
    th = thresholds(node)
    assert th == Thresholds()
    assert thresholds(node) is th  # built once per distinct configuration
    node.config["hash-max-listpack-entries"] = 2  # CONFIG SET
    small = thresholds(node)
    assert small.hash_max_listpack_entries == 2 and small is not th
    assert thresholds(FakeNode()) is th


def test_restored_hash_takes_the_node_limits():
    h = Hash()
    for i in range(5):
        h[b"f%d" % i] = b"v"
    h.encoding = b"listpack"
    payload = dump_value(h, compress=False)
    assert load_dump_payload(payload, thresholds(FakeNode())).encoding == b"listpack"
    small = FakeNode(**{"hash-max-listpack-entries": 2})
    assert load_dump_payload(payload, thresholds(small)).encoding == b"hashtable"
