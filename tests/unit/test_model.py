"""model.new_endpoint: the fast constructor builds exactly what Endpoint(...) builds."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuadns_sync.model import Endpoint, Origin, new_endpoint

_TEXT = st.text(max_size=6)
_PAIRS = st.lists(st.tuples(_TEXT, _TEXT), max_size=3).map(tuple)
_ORIGINS = st.lists(st.builds(Origin, _TEXT, _TEXT, _TEXT, st.none() | st.integers(0, 9)), max_size=2).map(tuple)


@given(
    st.tuples(
        _TEXT,
        _TEXT,
        st.lists(_TEXT, max_size=3).map(tuple),
        st.integers(0, 2**31 - 1),
        _TEXT,
        st.none() | st.integers(0, 2**64 - 1),
        st.none() | _TEXT,
        _PAIRS,
        _PAIRS,
        _ORIGINS,
    )
)
def test_new_endpoint_is_the_dataclass_constructor(values: tuple[object, ...]) -> None:
    fast = new_endpoint(*values)  # type: ignore[arg-type]
    slow = Endpoint(*values)  # type: ignore[arg-type]
    assert type(fast) is Endpoint
    assert [getattr(fast, f.name) for f in dataclasses.fields(Endpoint)] == list(values)
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert fast.origins == slow.origins  # not part of equality


def test_new_endpoint_objects_stay_frozen() -> None:
    endpoint = new_endpoint("a.example.com", "A", ("192.0.2.1",), 60, "", None, None, (), (), ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoint.ttl = 1  # type: ignore[misc]
