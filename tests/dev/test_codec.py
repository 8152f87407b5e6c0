"""`kuadns_sync.dev.codec.encode` against the json module it replaces: the same bytes for every JSON value
(non-string keys, big integers, NaN and infinities included), floats outside 1e-4..1e16 with the same value;
the same results without orjson."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuadns_sync.dev import codec


def _stdlib(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


_plain_floats = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or 1e-4 <= abs(x) < 1e16)
_scalars = (
    st.none() | st.booleans() | st.integers() | _plain_floats | st.text()
    | st.sampled_from([math.nan, math.inf, -math.inf, "null", "a\x00\x1f\x7f\u2028\"\\/\b\f\n\r\t"])
    | st.sampled_from([2**64, -(2**63) - 1, 2**63])
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=_values)
def test_encode_gives_the_json_module_s_bytes(value: Any) -> None:
    assert codec.encode(value) == _stdlib(value)


@settings(max_examples=200, deadline=None)
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_keeps_its_value(value: float) -> None:
    decoded = json.loads(codec.encode({"x": [value]}))["x"][0]
    assert decoded == value and type(decoded) is float
    assert math.copysign(1, decoded) == math.copysign(1, value)


def test_keys_and_numbers_orjson_does_not_write_fall_back_to_the_json_module() -> None:
    for value in ({1: "a", None: 2, 1.5: 3}, [2**70, -(2**70)], {"n": math.nan, "i": [math.inf, -math.inf]}):
        assert codec.encode(value) == _stdlib(value)


def test_without_orjson_the_results_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"apiVersion": "v1", "kind": "Secret", "data": {"é": "x\n"}, "n": [1, 2.5, None, True], "big": 2**70}
    with_orjson = codec.encode(value)
    monkeypatch.setattr(codec, "orjson", None)
    assert codec.encode(value) == with_orjson == _stdlib(value)


def test_clone_is_a_deep_copy() -> None:
    value = {"a": [{"b": 1}], "c": "d"}
    copied = codec.clone(value)
    assert copied == value and copied["a"][0] is not value["a"][0]
