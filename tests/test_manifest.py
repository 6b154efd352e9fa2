"""manifest.py: the input fingerprint."""

from __future__ import annotations

from churnlab.runs.manifest import fingerprint


def test_fingerprint_names_bytes_and_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    fp = fingerprint([("a", a), ("b", b)])
    assert fp == fingerprint([("b", b), ("a", a)])
    assert fp["sha256"] != fingerprint([("a", a), ("c", b)])["sha256"]
    b.write_bytes(b"twO")
    assert fp["sha256"] != fingerprint([("a", a), ("b", b)])["sha256"]
