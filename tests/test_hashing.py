"""The short hash must match upstream's test vectors bit for bit (kuadrant-coredns.md §2.6)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def _decode(text: str, data: bytes) -> int:
    """The number `text` spells after the one '0' per leading zero byte of `data` (Python's own base36 parser)."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    assert text[:zeros] == "0" * zeros
    rest = text[zeros:]
    assert not rest.startswith("0")  # no padding beyond the leading zero bytes
    return int(rest, 36) if rest else 0


@given(st.binary(max_size=64))
def test_base36_spells_the_big_endian_number(data: bytes) -> None:
    assert _decode(base36_bytes(data), data) == int.from_bytes(data, "big")


@given(st.binary(max_size=64), st.integers(min_value=-4, max_value=120))
def test_base36_prefix_is_the_prefix_of_the_whole_encoding(data: bytes, length: int) -> None:
    assert base36_bytes(data, length) == base36_bytes(data)[:length]


@pytest.mark.parametrize("exponent", [1, 2, 7, 8, 9, 43, 44, 45])
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_base36_prefix_at_digit_count_boundaries(exponent: int, delta: int) -> None:
    number = 36**exponent + delta
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    whole = base36_bytes(data)
    assert len(whole) == exponent + (delta >= 0)
    assert _decode(whole, data) == number
    for length in (1, 8, exponent - 1, exponent, exponent + 1):
        assert base36_bytes(data, length) == whole[:length]


def test_base36_prefix_of_mostly_zero_bytes() -> None:
    assert base36_bytes(b"\0\0\0\x01", 2) == "00"
    assert base36_bytes(b"\0\0\0\x01", 8) == "0001"
    assert base36_bytes(b"\0" * 4, 8) == "0000"
    assert base36_bytes(b"", 8) == ""
