"""base36 digit counting on both sides of the table of powers (hashing._POWERS), prefix by prefix."""

import pytest

from kuadns_sync.hashing import _POWERS, base36_bytes


@pytest.mark.parametrize("exponent", [0, 1, 43, 44, 99, 100, 101, 140])
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_digit_count_inside_and_beyond_the_table(exponent: int, delta: int) -> None:
    number = 36**exponent + delta
    data = number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
    whole = base36_bytes(data)
    assert int(whole.lstrip("0") or "0", 36) == number
    for length in (1, 8, exponent, exponent + 1, exponent + 2):
        assert base36_bytes(data, length) == whole[:length]


def test_the_table_reaches_past_a_64_byte_digest() -> None:
    assert _POWERS[-1] > 2**512
