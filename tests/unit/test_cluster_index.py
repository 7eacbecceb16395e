"""SlotIndex: the keys of a database grouped by slot, kept exact by the database."""

from hypothesis import given
from hypothesis import strategies as st

from shardis.cluster.index import SlotIndex
from shardis.cluster.slots import key_slot
from shardis.keyspace.db import Database


def test_add_count_remove():
    idx = SlotIndex()
    idx.add(b"foo")
    idx.add(b"{foo}bar")
    assert idx.count(key_slot(b"foo")) == 2
    assert idx.count(0) == 0 or key_slot(b"foo") == 0
    idx.remove(b"foo")
    assert idx.count(key_slot(b"foo")) == 1
    idx.remove(b"{foo}bar")
    assert idx.count(key_slot(b"foo")) == 0
    assert idx.slots() == []
    idx.remove(b"never-added")  # ignored
    assert len(idx) == 0


def test_keys_in_slot_newest_first_and_bounded():
    idx = SlotIndex()
    keys = [b"{t}%d" % i for i in range(10)]
    for k in keys:
        idx.add(k)
    slot = key_slot(b"t")
    assert idx.keys_in_slot(slot, 3) == [keys[9], keys[8], keys[7]]
    assert idx.keys_in_slot(slot, 100) == list(reversed(keys))
    assert idx.keys_in_slot(slot, 0) == []
    assert idx.keys_in_slot((slot + 1) % 16384, 5) == []


def test_database_keeps_the_index_exact():
    db = Database(0)
    db.slot_index = SlotIndex()

    class FakeNode:
        lru_clock = 0
        notify_flags = 0

        def is_replica_of_master(self):
            return False

    db.node = FakeNode()
    db.set(b"a", b"1")
    db.set(b"a", b"2")  # overwrite: still one key
    db.set(b"{a}b", b"3")
    assert db.slot_index.count(key_slot(b"a")) == 2
    assert db.delete(b"a")
    assert not db.delete(b"a")
    assert db.slot_index.count(key_slot(b"a")) == 1
    db.flush()
    assert len(db.slot_index) == 0


@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=6)), max_size=200))
def test_index_matches_a_set_model(ops):
    idx = SlotIndex()
    model: set = set()
    for add, key in ops:
        if add:
            if key not in model:  # the database only adds keys it creates
                idx.add(key)
                model.add(key)
        elif key in model:
            idx.remove(key)
            model.discard(key)
    by_slot: dict = {}
    for k in model:
        by_slot.setdefault(key_slot(k), set()).add(k)
    assert idx.slots() == sorted(by_slot)
    for slot, keys in by_slot.items():
        assert idx.count(slot) == len(keys)
        assert set(idx.keys_in_slot(slot, 10**6)) == keys
    rebuilt = SlotIndex()
    rebuilt.rebuild(model)
    assert rebuilt.slots() == idx.slots()
