"""FUNCTION DUMP / FUNCTION RESTORE with no libraries, byte for byte against redis-server 7.0.

``redis-cli --cluster add-node`` copies FUNCTION DUMP of an existing node to
the new node with FUNCTION RESTORE, so both must answer as Redis does.
"""

from __future__ import annotations


def _payload(diff) -> bytes:
    reply = diff.check("FUNCTION", "DUMP")
    return reply.split(b"\r\n", 1)[1][:-2]


def test_function_restore_matches_redis(diff):
    payload = _payload(diff)
    diff.check("FUNCTION", "RESTORE", payload)
    for policy in ("APPEND", "REPLACE", "FLUSH", "flush"):
        diff.check("FUNCTION", "RESTORE", payload, policy)
    diff.check("FUNCTION", "RESTORE", payload, "BAD")
    diff.check("FUNCTION", "RESTORE", payload[:-1] + bytes([payload[-1] ^ 1]))
    diff.check("FUNCTION", "RESTORE", b"x")
    diff.check("FUNCTION", "RESTORE", payload, "FLUSH", "extra")
    diff.check("FUNCTION", "RESTORE")
    diff.check("FUNCTION", "LIST")
