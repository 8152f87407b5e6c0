"""Kuadrant's short hashes: lowercase base36 of SHA-224, truncated (kuadrant-coredns.md §2.6).

Pure, no I/O. The names of authoritative records and ownership TXT records depend on these being
bit-exact with the upstream Go implementation, so the algorithm is spelled out here once.
"""

from __future__ import annotations

import hashlib

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36_bytes(data: bytes) -> str:
    """Encode bytes as base36 (big-endian number), one leading '0' per leading zero byte."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rem = divmod(number, 36)
        digits.append(_DIGITS[rem])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "0" * leading_zeros + "".join(reversed(digits))


def short_hash(value: str, length: int = 8) -> str:
    """Return the first `length` characters of base36(SHA-224(value)), lower-cased."""
    return base36_bytes(hashlib.sha224(value.encode("utf-8")).digest())[:length]


def root_host_hash(root_host: str) -> str:
    """Hash of a root host for authoritative record names; a leading '*.' is ignored."""
    return short_hash(root_host.removeprefix("*."), 8)
