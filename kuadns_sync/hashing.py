"""Kuadrant's short hashes: lowercase base36 of SHA-224, truncated (kuadrant-coredns.md §2.6).

Pure, no I/O. The names of authoritative records and ownership TXT records depend on these being
bit-exact with the upstream Go implementation, so the algorithm is spelled out here once.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from functools import lru_cache

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# Every pair of base36 digits, so that one divmod peels off two digits instead of one.
_PAIRS = tuple(a + b for a in _DIGITS for b in _DIGITS)
_BITS_PER_DIGIT = math.log2(36)


def _base36_number(number: int) -> str:
    """Base36 digits of a non-negative integer ("" for 0)."""
    pairs: list[str] = []
    while number:
        number, pair = divmod(number, 36 * 36)
        pairs.append(_PAIRS[pair])
    return "".join(reversed(pairs)).lstrip("0")


@lru_cache(maxsize=128)
def _power(exponent: int) -> int:
    """36**exponent (a digest needs the same few again and again)."""
    return int(36**exponent)  # int() only for the type checker: ** of ints may be a float


# 36**0 .. 36**100: a number below 36**k has at most k digits, so for every digest up to 64 bytes (512 bits,
# 99 digits) the digit count is one binary search away.
_POWERS = tuple(36**k for k in range(101))


def _digit_count(number: int) -> int:
    """How many base36 digits `number` has (0 for 0)."""
    if number < _POWERS[-1]:
        return bisect_right(_POWERS, number)
    # Beyond the table: estimated from the bit length, then made exact.
    count = int(number.bit_length() / _BITS_PER_DIGIT)
    while count > 0 and _power(count - 1) > number:
        count -= 1
    while _power(count) <= number:
        count += 1
    return count


def base36_bytes(data: bytes, length: int | None = None) -> str:
    """Encode bytes as base36 (big-endian number), one leading '0' per leading zero byte.

    With `length`, only the first `length` characters (computed without converting the rest).
    """
    zeros = "0" * (len(data) - len(data.lstrip(b"\0")))
    number = int.from_bytes(data, "big")
    if length is None or length < 0:  # a negative length slices from the end, as str slicing does
        return (zeros + _base36_number(number))[:length]
    if len(zeros) >= length:
        return zeros[:length]
    # Dropping the low digits with one division leaves exactly the leading digits wanted.
    surplus = _digit_count(number) - (length - len(zeros))
    if surplus > 0:
        number //= _POWERS[surplus] if surplus < len(_POWERS) else _power(surplus)
    return zeros + _base36_number(number)


@lru_cache(maxsize=1 << 16)
def short_hash(value: str, length: int = 8) -> str:
    """Return the first `length` characters of base36(SHA-224(value)), lower-cased.

    Memoised: a pass hashes each record's uid several times (its owner ID when parsed, again for its
    status) and the same few owner IDs for every endpoint."""
    return base36_bytes(hashlib.sha224(value.encode("utf-8")).digest(), length)


@lru_cache(maxsize=65536)
def root_host_hash(root_host: str) -> str:
    """Hash of a root host for authoritative record names; a leading '*.' is ignored."""
    return short_hash(root_host.removeprefix("*."), 8)
