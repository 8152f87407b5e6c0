"""`kuadns_sync.jsoncodec` against the json module it replaces: `encode` gives the same bytes for every JSON
value (non-string keys, big integers, NaN and infinities included), floats outside 1e-4..1e16 with the same
value; `decode` gives json.loads's value (types included) or its error for texts and broken texts; the same
results without orjson."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuadns_sync import jsoncodec as codec


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


def _typed(value: Any) -> Any:
    """A value with its types spelled out (1, 1.0 and True compare equal in Python; NaN does not)."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


def _loads(raw: bytes) -> Any:
    try:
        return _typed(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        return (type(exc).__name__, str(exc))


def _decode(raw: bytes) -> Any:
    try:
        return _typed(codec.decode(raw))
    except (ValueError, RecursionError) as exc:
        return (type(exc).__name__, str(exc))


_texts = st.builds(
    lambda value, indent, ascii_only: json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode(),
    _values | st.floats() | st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([None, 0, 2]),
    st.booleans(),
)


@settings(max_examples=100, deadline=None)
@given(raw=_texts)
def test_decode_gives_json_loads_values(raw: bytes) -> None:
    assert _decode(raw) == _loads(raw)


@settings(max_examples=150, deadline=None)
@given(raw=_texts, at=st.integers(0, 200), insert=st.binary(max_size=3), cut=st.integers(0, 3))
def test_decode_gives_json_loads_values_or_errors_for_broken_texts(
    raw: bytes, at: int, insert: bytes, cut: int
) -> None:
    at = min(at, len(raw))
    broken = raw[:at] + insert + raw[at + cut :]
    assert _decode(broken) == _loads(broken)


def test_decode_of_texts_orjson_reads_otherwise() -> None:
    for raw in (b"-9223372036854775809", b"[18446744073709551616]", b'{"a":NaN}', b"[1e400]", b'"\\udfff"',
                b'\xef\xbb\xbf{"a":1}', '{"a":1}'.encode("utf-16"), b'"\xff"', b"1" * 40):
        assert _decode(raw) == _loads(raw), raw
