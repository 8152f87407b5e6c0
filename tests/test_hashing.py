"""The short hash must match upstream's test vectors bit for bit (kuadrant-coredns.md §2.6)."""

import pytest

from kuadns_sync.hashing import base36_bytes, root_host_hash, short_hash


@pytest.mark.parametrize(
    ("value", "length", "expected"),
    [
        ("example.com", 8, "1jbcyj4z"),
        ("foo.example.com", 8, "qtn4u6on"),
        ("api.toystore.k.example.com", 8, "oii1lttl"),
        ("simple.k.example.com", 8, "1c8db9d0"),
        ("2vl2ac4b", 8, "2kl5wt14"),
        ("2fgmvv67", 8, "1a20rnj9"),
        ("26yn4kgw", 8, "2o2qjax9"),
        ("34l61c8o", 8, "31aztxux"),
        ("fbf71c44-6b37-4962-ace6-801912e769be", 6, "2q5hyv"),
        ("TestName-TestNamespace", 6, "a8xcra"),
        ("k.example.com", 8, "282f7a1y"),
        ("api.k.example.com", 8, "13tjkx3j"),
        ("external-dnstest", 6, "360vxf"),
        ("11111111-1111-4111-8111-111111111111", 8, "247gdlk5"),
    ],
)
def test_short_hash_matches_upstream_vectors(value: str, length: int, expected: str) -> None:
    assert short_hash(value, length) == expected


def test_root_host_hash_ignores_wildcard_prefix() -> None:
    assert root_host_hash("*.api.k.example.com") == root_host_hash("api.k.example.com") == "13tjkx3j"


def test_base36_keeps_one_zero_per_leading_zero_byte() -> None:
    assert base36_bytes(b"\0\0\x01") == "001"
    assert base36_bytes(b"\x24") == "10"
