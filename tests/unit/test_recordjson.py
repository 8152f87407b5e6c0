"""Authoritative record files: the text straight from the fields is the text of dump_json(record.to_manifest())."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kuadns_sync.bundle import dump_json
from kuadns_sync.model import AuthoritativeRecord, Endpoint
from kuadns_sync.recordjson import authoritative_json, endpoint_json

# Text with quotes, backslashes, control characters and non-ASCII: everything the encoder escapes or keeps.
_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=8) | st.sampled_from(["", "a", 'q"\\', "é\n"])
_PAIRS = st.lists(st.tuples(_TEXT, _TEXT), max_size=3).map(tuple)  # keys may repeat, in any order

_ENDPOINT = st.builds(
    Endpoint,
    dns_name=_TEXT,
    record_type=st.sampled_from(["A", "AAAA", "CNAME", "TXT"]) | _TEXT,
    targets=st.lists(_TEXT, max_size=3).map(tuple),
    ttl=st.integers(min_value=-5, max_value=1 << 40) | st.just(0),
    set_identifier=_TEXT,
    labels=_PAIRS,
    provider_specific=_PAIRS,
)


@settings(max_examples=100, deadline=None)
@given(ep=_ENDPOINT)
def test_endpoint_json_is_the_encoders_text_of_to_raw(ep: Endpoint) -> None:
    expected = json.dumps(ep.to_raw(), sort_keys=True, ensure_ascii=False)
    assert endpoint_json(ep) == expected


@settings(max_examples=40, deadline=None)
@given(
    endpoints=st.lists(_ENDPOINT, max_size=4).map(tuple),
    labels=_PAIRS,
    root=_TEXT,
    namespace=_TEXT,
)
def test_authoritative_json_is_dump_json_of_the_manifest(
    endpoints: tuple[Endpoint, ...], labels: tuple[tuple[str, str], ...], root: str, namespace: str
) -> None:
    record = AuthoritativeRecord(namespace, "authoritative-record-x", root, "z.test", labels, endpoints)
    assert authoritative_json(record) == dump_json(record.to_manifest())
