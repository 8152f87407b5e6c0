"""Schema handling against the packaged DNSRecord CRD: updates ratchet (unchanged values are not validated
again, as kube-apiserver's CRDValidationRatcheting), pruning reports exactly the unknown fields and copies
nothing when there are none, defaults are applied only where the schema has them, JSON types are exact
(a boolean is not an integer), and a merge patch may take over the patch's values."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuadns_sync.dev import resources
from kuadns_sync.dev.patch import merge_patch
from kuadns_sync.dev.schema import apply_defaults, prune, validate

SCHEMA: dict[str, Any] = resources.load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _record(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rootHost": "api.k.example.com",
        "endpoints": [
            {"dnsName": "api.k.example.com", "recordType": "A", "targets": ["192.0.2.1"], "recordTTL": 60,
             "providerSpecific": [{"name": "weight", "value": "100"}], "labels": {"owner": "abc"}},
        ],
    }
    body.update(spec)
    return {"apiVersion": "kuadrant.io/v1alpha1", "kind": "DNSRecord", "spec": body}


def _condition(**fields: Any) -> dict[str, Any]:
    cond = {"type": "Ready", "status": "True", "reason": "ProviderSuccess", "message": "ok",
            "lastTransitionTime": "2026-11-26T00:00:00Z", "observedGeneration": 1}
    cond.update(fields)
    return cond


def _paths(causes: list[Any]) -> set[str]:
    return {c.field for c in causes}


def test_an_unchanged_invalid_value_ratchets_and_a_changed_one_is_rejected() -> None:
    old = _record()
    old["status"] = {"conditions": [_condition(reason="not valid!")]}  # as if stored before a stricter schema
    assert "status.conditions[0].reason" in _paths(validate(old, SCHEMA, ""))
    same = copy.deepcopy(old)
    same["status"]["observedGeneration"] = 2
    assert validate(same, SCHEMA, "", old) == []  # the bad reason did not change: not reported again
    changed = copy.deepcopy(same)
    changed["status"]["conditions"][0]["reason"] = "still not valid!"
    assert _paths(validate(changed, SCHEMA, "", old)) == {"status.conditions[0].reason"}
    # Transition rules still run on changed values: rootHost is immutable.
    moved = copy.deepcopy(old)
    moved["spec"]["rootHost"] = "other.k.example.com"
    assert any("RootHost is immutable" in c.message for c in validate(moved, SCHEMA, "", old))


@pytest.mark.parametrize(
    ("path", "value", "ok"),
    [
        (("spec", "endpoints", 0, "recordTTL"), True, False),  # a boolean is not an integer
        (("spec", "endpoints", 0, "recordTTL"), 60.0, True),  # an integral number is
        (("spec", "endpoints", 0, "recordTTL"), 60.5, False),
        (("spec", "endpoints", 0, "dnsName"), None, False),
        (("spec", "endpoints", 0, "dnsName"), 7, False),
        (("spec", "endpoints", 0, "targets", 0), False, False),
        (("spec", "endpoints", 0, "labels", "owner"), 1, False),
        (("spec", "endpoints", 0, "providerSpecific", 0, "value"), "x", True),
        (("spec", "delegate"), "true", False),
        (("spec", "delegate"), True, True),
    ],
)
def test_json_types_are_checked_exactly(path: tuple[Any, ...], value: Any, ok: bool) -> None:
    record = _record()
    target: Any = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    causes = validate(record, SCHEMA, "")
    assert (causes == []) is ok, causes


def test_pruning_reports_unknown_fields_and_copies_nothing_without_them() -> None:
    clean = _record()
    unknown: list[str] = []
    assert prune(clean, SCHEMA, "", unknown) is clean
    assert unknown == []
    dirty = _record()
    dirty["spec"]["endpoints"][0]["extra"] = 1
    dirty["spec"]["extra"] = {"x": 1}
    pruned = prune(dirty, SCHEMA, "", unknown)
    assert sorted(unknown) == ["spec.endpoints[0].extra", "spec.extra"]
    assert pruned == _record()
    assert "extra" in dirty["spec"]  # the input is left alone


def test_pruning_skips_parts_shared_with_an_object_pruned_before() -> None:
    stored = _record()
    patched = merge_patch(stored, {"status": {"ownerID": "abc", "bogus": 1}})
    assert patched["spec"] is stored["spec"]
    unknown: list[str] = []
    result = prune(patched, SCHEMA, "", unknown, stored)
    assert unknown == ["status.bogus"]
    assert result["spec"] is stored["spec"]


def test_defaults_fill_only_where_the_schema_has_them_and_leave_the_rest_shared() -> None:
    record = _record(healthCheck={"path": "/healthz"})
    defaulted = apply_defaults(record, SCHEMA)
    assert defaulted["spec"]["healthCheck"] == {
        "path": "/healthz", "port": 443, "protocol": "HTTPS", "interval": "5m", "failureThreshold": 5,
    }
    assert defaulted["spec"]["endpoints"] is record["spec"]["endpoints"]
    assert "port" not in record["spec"]["healthCheck"]
    plain = _record()
    assert apply_defaults(plain, SCHEMA)["spec"] is plain["spec"]


def test_a_merge_patch_that_shares_takes_the_patch_values_as_they_are() -> None:
    patch = {"status": {"conditions": [{"type": "Ready"}]}}
    shared = merge_patch({"spec": {}}, patch, share=True)
    copied = merge_patch({"spec": {}}, patch)
    assert shared["status"]["conditions"] is patch["status"]["conditions"]
    assert copied["status"]["conditions"] is not patch["status"]["conditions"]
    assert shared == copied


_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=3)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "name", "value"]), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(["dnsName", "targets", "recordType", "setIdentifier", "recordTTL", "labels",
                           "providerSpecific", "unknownField"]),
    value=_json,
)
def test_any_value_in_an_endpoint_is_either_accepted_or_reported_at_its_path(field: str, value: Any) -> None:
    record = _record()
    record["spec"]["endpoints"][0][field] = value
    unknown: list[str] = []
    pruned = prune(record, SCHEMA, "", unknown)
    causes = validate(pruned, SCHEMA, "")
    for cause in causes:
        assert cause.field.startswith(f"spec.endpoints[0].{field}"), cause
    if field == "unknownField":
        assert unknown == ["spec.endpoints[0].unknownField"]
        assert causes == []
