"""server/info.py: section selection, Redis's text layout, subsystem fields, CONFIG RESETSTAT."""

from __future__ import annotations

import re

import pytest

from shardis.commands import load_all
from shardis.server import info
from shardis.server.commandtable import lookup
from shardis.server.config import Config
from shardis.server.node import Node


@pytest.fixture
def node():
    load_all()
    return Node(Config())


def sections_of(text: bytes) -> list[str]:
    return re.findall(r"^# (\w+)\r$", text.decode(), re.M)


def test_section_selection():
    assert info.section_names([]) == set(info.DEFAULT_SECTIONS)
    assert info.section_names([b"default"]) == set(info.DEFAULT_SECTIONS)
    assert info.section_names([b"ALL"]) == set(info.SECTION_ORDER)
    assert info.section_names([b"everything"]) == set(info.SECTION_ORDER)
    assert info.section_names([b"nosuch"]) == set()
    assert info.section_names([b"Keyspace", b"server", b"server"]) == {"keyspace", "server"}
    assert "commandstats" not in info.DEFAULT_SECTIONS and "latencystats" not in info.DEFAULT_SECTIONS


def test_sections_come_in_redis_order_with_crlf_layout(node):
    text = info.generate(node, [b"keyspace", b"cluster", b"server"])
    assert sections_of(text) == ["Server", "Cluster", "Keyspace"]
    assert text.endswith(b"\r\n") and b"\n" not in text.replace(b"\r\n", b"")
    # sections are separated by one empty line, the last one ends with its last field
    assert b"\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n" in text
    assert sections_of(info.generate(node, [b"everything"])) == [
        "Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules",
        "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace",
    ]
    assert info.generate(node, [b"nosuch"]) == b""


def test_field_formats(node):
    text = info.generate(node, [b"all"]).decode()
    fields = dict(line.split(":", 1) for line in text.split("\r\n") if line and not line.startswith("#"))
    assert fields["redis_version"] == "7.0.15" and fields["redis_mode"] == "standalone"
    assert fields["role"] == "master" and fields["connected_slaves"] == "0"
    assert re.fullmatch(r"[0-9a-f]{40}", fields["run_id"]) and re.fullmatch(r"[0-9a-f]{40}", fields["master_replid"])
    assert fields["master_replid2"] == "0" * 40
    assert re.fullmatch(r"\d+\.\d\d", fields["mem_fragmentation_ratio"])
    assert re.fullmatch(r"\d+\.\d\d%", fields["used_memory_peak_perc"])
    assert re.fullmatch(r"\d+\.\d{6}", fields["used_cpu_sys"])
    assert fields["rdb_last_bgsave_status"] == "ok" and fields["aof_enabled"] == "0"
    assert int(fields["lru_clock"]) < 1 << 24
    assert fields["instantaneous_input_kbps"] == "0.00"


def test_keyspace_lines(node):
    db0, db5 = node.dbs[0], node.dbs[5]
    db0.set(b"a", b"1")
    db0.set(b"b", b"2")
    db0.set_expire(b"b", int((__import__("time").time() + 100) * 1000))
    db5.set(b"x", b"y")
    text = info.render_section(node, "keyspace").decode()
    assert re.search(r"^db0:keys=2,expires=1,avg_ttl=(\d+)\r$", text, re.M)
    assert 90_000 < int(re.search(r"avg_ttl=(\d+)", text).group(1)) <= 100_000
    assert "db5:keys=1,expires=0,avg_ttl=0\r\n" in text and "db1:" not in text


def test_commandstats_and_errorstats(node):
    get = lookup(b"get")
    get.calls, get.failed_calls, get.rejected_calls = 4, 1, 2
    get.ns = 10_000
    node.errorstats.update({b"WRONGTYPE": 3, b"ERR": 1})
    try:
        text = info.generate(node, [b"commandstats", b"errorstats"]).decode()
        assert "cmdstat_get:calls=4,usec=10,usec_per_call=2.50,rejected_calls=2,failed_calls=1\r\n" in text
        assert text.index("errorstat_ERR:count=1") < text.index("errorstat_WRONGTYPE:count=3")
        info.reset_stats(node)
        text = info.generate(node, [b"commandstats", b"errorstats"]).decode()
        assert "cmdstat_get" not in text and "errorstat_" not in text
    finally:
        get.reset_stats()


def test_latency_percentiles_from_buckets():
    buckets = [0] * 20
    buckets[11] = 99  # < 2048 ns
    buckets[15] = 1  # < 32768 ns
    assert info.percentile_usec(buckets, 50) == 2.048
    assert info.percentile_usec(buckets, 99) == 2.048
    assert info.percentile_usec(buckets, 99.9) == 32.768
    assert info.percentile_usec([], 50) == 0.0


def test_register_overrides_in_place_and_appends(node):
    def provider(n):
        return [("rdb_bgsave_in_progress", 1), ("extra_field", "x")]

    info.register("persistence", provider)
    try:
        lines = info.render_section(node, "persistence").decode().split("\r\n")
        names = [line.split(":")[0] for line in lines[1:] if line]
        assert names.index("rdb_bgsave_in_progress") == 9  # kept its place
        assert "rdb_bgsave_in_progress:1" in lines and lines[-2] == "extra_field:x"
    finally:
        info._PROVIDERS["persistence"].remove(provider)


def test_resetstat_keeps_state_fields(node):
    node.stat_numcommands = 10
    node.stat_rejected_conn = 2
    node.dbs[0].hits = 7
    info.reset_stats(node)
    assert node.stat_numcommands == 0 and node.stat_rejected_conn == 0 and node.dbs[0].hits == 0
