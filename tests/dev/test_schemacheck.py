"""The compiled yes/no checks of `kuadns_sync.dev.schemacheck` against the full schema walks, on generated
DNSRecord bodies: "valid" exactly when the walk finds no cause (creates and ratcheting updates, transition
rules included), "has unknown fields" exactly when pruning drops something (also next to a clean object)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kuadns_sync.dev import resources, schemacheck, validation
from kuadns_sync.dev.registry import Registry, WriteOptions, bootstrap
from kuadns_sync.dev.schema import _MISSING, _no_causes, plan, prune, validate
from kuadns_sync.dev.status import ApiError
from kuadns_sync.dev.store import Store
from kuadns_sync.jsoncodec import encode

SCHEMA: dict[str, Any] = resources.load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
PLAN = plan(SCHEMA)

_KEYS = [
    "dnsName", "targets", "recordType", "setIdentifier", "recordTTL", "labels", "providerSpecific", "name", "value",
    "rootHost", "endpoints", "ownerID", "delegate", "providerRef", "healthCheck", "port", "path", "protocol",
    "conditions", "type", "status", "reason", "message", "lastTransitionTime", "observedGeneration", "zoneID",
    "domainOwners", "remoteRecordStatuses", "failureThreshold", "interval", "zzz",
]
_STRINGS = [
    "", "x", "Ready", "True", "Unknown", "HTTP", "HTTPS", "not valid!", "2026-11-26T00:00:00Z", "2026-13-01",
    "api.k.example.com", "/healthz", "a" * 40, "ProviderSuccess", "example.com",
]
_scalars = (
    st.none() | st.booleans() | st.integers(-3, 70_000) | st.sampled_from([60.0, 0.5, -1.0, 443.0])
    | st.sampled_from(_STRINGS) | st.text(max_size=4)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=10,
)


def _record() -> dict[str, Any]:
    return {
        "apiVersion": "kuadrant.io/v1alpha1",
        "kind": "DNSRecord",
        "spec": {
            "rootHost": "api.k.example.com",
            "ownerID": "abcdef",
            "endpoints": [
                {"dnsName": "api.k.example.com", "recordType": "A", "targets": ["192.0.2.1"], "recordTTL": 60,
                 "providerSpecific": [{"name": "weight", "value": "100"}], "labels": {"owner": "abc"}},
                {"dnsName": "w.k.example.com", "recordType": "CNAME", "targets": ["api.k.example.com"]},
            ],
            "healthCheck": {"path": "/healthz", "port": 443, "protocol": "HTTPS"},
        },
        "status": {
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True", "reason": "ProviderSuccess", "message": "ok",
                            "lastTransitionTime": "2026-11-26T00:00:00Z", "observedGeneration": 1}],
        },
    }


_PATHS: list[tuple[Any, ...]] = [
    (), ("spec",), ("status",), ("spec", "rootHost"), ("spec", "ownerID"), ("spec", "delegate"),
    ("spec", "providerRef"), ("spec", "endpoints"), ("spec", "endpoints", 0), ("spec", "endpoints", 1, "targets"),
    ("spec", "endpoints", 0, "recordTTL"), ("spec", "endpoints", 0, "labels"),
    ("spec", "endpoints", 0, "labels", "k"),
    ("spec", "endpoints", 0, "providerSpecific", 0), ("spec", "endpoints", 0, "providerSpecific", 0, "value"),
    ("spec", "endpoints", 0, "zzz"), ("spec", "healthCheck", "port"), ("spec", "healthCheck", "protocol"),
    ("spec", "healthCheck", "failureThreshold"), ("status", "conditions"), ("status", "conditions", 0),
    ("status", "conditions", 0, "reason"), ("status", "conditions", 0, "status"),
    ("status", "conditions", 0, "lastTransitionTime"), ("status", "conditions", 0, "observedGeneration"),
    ("status", "zzz"), ("zzz",),
]

_edits = st.lists(
    st.tuples(st.sampled_from(_PATHS), st.one_of(st.just(_MISSING), _json)), min_size=1, max_size=3
)


def _edited(edits: list[tuple[tuple[Any, ...], Any]]) -> Any:
    """A record with each (path, value) set (or deleted for _MISSING); a path that does not exist is skipped."""
    value: Any = _record()
    for path, new in edits:
        if not path:
            value = copy.deepcopy(new) if new is not _MISSING else {}
            continue
        target = value
        for step in path[:-1]:
            try:
                target = target[step]
            except (KeyError, IndexError, TypeError):
                break
        else:
            last = path[-1]
            if isinstance(target, dict) or (isinstance(target, list) and isinstance(last, int) and last < len(target)):
                if new is _MISSING:
                    if isinstance(target, dict):
                        target.pop(last, None)
                else:
                    target[last] = copy.deepcopy(new)
    return value


@settings(max_examples=150, deadline=None)
@given(edits=_edits)
def test_valid_is_true_exactly_when_the_walk_finds_no_cause_on_create(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    body = _edited(edits)
    assert PLAN.valid(body, _MISSING) == (validate(body, SCHEMA, "", walk=True) == [])


@settings(max_examples=150, deadline=None)
@given(old_edits=st.lists(st.tuples(st.sampled_from(_PATHS), _json), max_size=1), edits=_edits, share=st.booleans())
def test_valid_is_true_exactly_when_the_walk_finds_no_cause_on_update(
    old_edits: list[tuple[tuple[Any, ...], Any]], edits: list[tuple[tuple[Any, ...], Any]], share: bool
) -> None:
    old = _edited(old_edits)
    body = _edited(edits)
    if share and isinstance(body, dict) and isinstance(old, dict) and "spec" in old:
        body["spec"] = old["spec"]  # as a status write shares the stored spec
    assert PLAN.valid(body, old) == (validate(body, SCHEMA, "", old, walk=True) == [])
    for cause in validate(body, SCHEMA, "", old):
        assert cause in validate(body, SCHEMA, "", old, walk=True)


@settings(max_examples=150, deadline=None)
@given(edits=_edits, against_clean=st.booleans())
def test_has_unknown_is_true_exactly_when_pruning_drops_a_field(
    edits: list[tuple[tuple[Any, ...], Any]], against_clean: bool
) -> None:
    body = _edited(edits)
    clean = None
    if against_clean and isinstance(body, dict):
        clean = _record()
        body["spec"] = clean["spec"]  # shared with an object pruned before: not looked at again
        clean["spec"]["endpoints"][0]["zzz"] = 1  # (so a walk into it would find this)
    unknown: list[str] = []
    walked = prune(body, SCHEMA, "", unknown, clean, walk=True)
    assert PLAN.has_unknown(body, clean) == bool(unknown)
    quick: list[str] = []
    assert prune(body, SCHEMA, "", quick, clean) == walked
    assert quick == unknown


def test_known_cases_of_both_checks() -> None:
    record = _record()
    assert PLAN.valid(record, _MISSING) and not PLAN.has_unknown(record, None)
    record["spec"]["endpoints"][0]["recordTTL"] = True  # a boolean is not an integer
    assert not PLAN.valid(record, _MISSING)
    record["spec"]["endpoints"][0]["recordTTL"] = 60.0  # an integral number is (through the walk)
    assert PLAN.valid(record, _MISSING)
    record["spec"]["endpoints"][0]["labels"]["k"] = {"nested": 1}  # a map in a string slot: its key is unknown
    assert PLAN.has_unknown(record, None)
    moved = _record()
    moved["spec"]["rootHost"] = "other.k.example.com"
    assert PLAN.valid(moved, _MISSING)  # RootHost is immutable: a transition rule, not run on create
    assert not PLAN.valid(moved, _record())


@settings(max_examples=150, deadline=None)
@given(edits=_edits)
def test_new_ok_stands_for_both_checks_of_a_new_value(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    body = _edited(edits)
    unknown: list[str] = []
    prune(body, SCHEMA, "", unknown, walk=True)
    clean_and_valid = not unknown and validate(body, SCHEMA, "", walk=True) == []
    if PLAN.new_ok(body):
        assert clean_and_valid
    elif clean_and_valid:
        # Only values of other JSON types than the schema's (an integral float) are left to the two checks.
        assert "60.0" in repr(body) or "443.0" in repr(body) or "-1.0" in repr(body), body


def _registry() -> Registry:
    """A fresh cluster's registry (no HTTP): fixed clock and seed, so two of them answer alike."""
    crd = resources.load_crd()
    types = [*resources.BUILTIN_TYPES, *resources.crd_types(crd)]
    registry = Registry(Store(), types, lambda: 1_800_000_000.0, random.Random(1))
    bootstrap(registry, [crd], None)
    return registry


@settings(max_examples=50, deadline=None)
@given(edits=_edits, strict=st.booleans(), status=st.booleans(), health=st.booleans())
@example(edits=[(("spec", "rootHost"), _MISSING)], strict=False, status=False, health=False)
@example(edits=[(("spec", "rootHost"), "x")], strict=False, status=False, health=False)
@example(edits=[(("spec", "healthCheck", "port"), 1)], strict=False, status=False, health=True)
@example(edits=[(("spec", "zzz"), 1), (("status", "zzz"), {})], strict=True, status=True, health=False)
@example(edits=[(("status", "conditions", 0, "reason"), "not valid!")], strict=False, status=True, health=False)
def test_a_create_answers_the_same_with_and_without_the_one_walk_shortcut(
    edits: list[tuple[tuple[Any, ...], Any]], strict: bool, status: bool, health: bool
) -> None:
    # Without status and healthCheck (where defaults land) a create keeps the values found valid.
    dropped = [(("status",), _MISSING)] * (not status) + [(("spec", "healthCheck"), _MISSING)] * (not health)
    outcomes = []
    for shortcut in (True, False):
        body = _edited([*dropped, *edits])
        if isinstance(body, dict):
            body["metadata"] = {"name": "r", "namespace": "default"}
        registry = _registry()
        rt = registry.resource("kuadrant.io", "v1alpha1", "dnsrecords")
        assert rt is not None
        with pytest.MonkeyPatch.context() as patch:
            if not shortcut:  # every create walks the schema again, as before the shortcut
                patch.setattr(validation, "_same_values", lambda body, verified: False)
            try:
                opts = WriteOptions(field_validation="Strict" if strict else "Warn")
                done = registry.create(rt, "default", body, opts)
                outcomes.append((done.code, done.raw, done.warnings))
            except ApiError as err:
                outcomes.append((err.code, encode(err.to_status()), []))
    assert outcomes[0] == outcomes[1]


_CLOSURE_NEW_OK = schemacheck.create_check(PLAN.node, _no_causes, _MISSING)


@settings(max_examples=150, deadline=None)
@given(edits=_edits)
def test_the_generated_create_check_answers_as_the_closures(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    body = _edited(edits)
    assert PLAN.new_ok(body) == _CLOSURE_NEW_OK(body)


# Node kinds the DNSRecord schema lacks: properties next to additionalProperties, int-or-string, enums on
# containers, item bounds, nested arrays, preserved subtrees, numbers, plain booleans.
_OTHER: dict[str, Any] = {
    "type": "object",
    "required": ["a"],
    "properties": {
        "a": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}, "o": {"type": "boolean"}},
              "additionalProperties": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
        "b": {"x-kubernetes-int-or-string": True},
        "c": {"type": "array", "minItems": 1, "items": {"type": "array", "items": {"type": "boolean"}}},
        "d": {"type": "object", "enum": [{"k": "v"}], "properties": {"k": {"type": "string"}}},
        "e": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "f": {"type": "number"},
        "g": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"h": {"type": "string"}}},
        "i": {"type": "object", "additionalProperties": True, "properties": {"j": {"type": "integer"}}},
    },
}
_OTHER_PLAN = plan(_OTHER)
_OTHER_CLOSURE = schemacheck.create_check(_OTHER_PLAN.node, _no_causes, _MISSING)
_OTHER_VALID = {"a": {"n": 2, "o": True, "z": ["x"]}, "c": [[True]], "d": {"k": "v"}, "i": {"j": 1, "q": {}}}
_OTHER_PATHS: list[tuple[Any, ...]] = [
    ("a",), ("a", "n"), ("a", "o"), ("a", "z"), ("a", "z", 0), ("a", "y"), ("b",), ("c",), ("c", 0), ("c", 0, 0),
    ("d",), ("d", "k"), ("e",), ("f",), ("g",), ("g", "h"), ("i",), ("i", "j"), ("i", "q"), ("zz",),
]
_other_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.sampled_from([0.5, 2.0]) | st.sampled_from(["", "v", "x"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["h", "j", "k", "n", "o", "z"]), inner, max_size=3),
    max_leaves=8,
)


def _child(value: Any, step: Any) -> Any:
    if isinstance(value, dict):
        return value.get(step)
    if isinstance(value, list) and isinstance(step, int) and step < len(value):
        return value[step]
    return None


@settings(max_examples=250, deadline=None)
@given(edits=st.lists(st.tuples(st.sampled_from(_OTHER_PATHS), st.one_of(st.just(_MISSING), _other_values)),
                      max_size=2))
@example(edits=[(("a", "z"), ["x", "x", "x"])])
@example(edits=[(("c",), [])])
@example(edits=[(("d", "k"), "x")])
@example(edits=[(("a", "o"), _MISSING)])
@example(edits=[(("a", "n"), 5)])
def test_the_generated_create_check_answers_as_the_closures_on_other_node_kinds(
    edits: list[tuple[tuple[Any, ...], Any]],
) -> None:
    assert _OTHER_PLAN.new_ok(_OTHER_VALID)
    value: Any = copy.deepcopy(_OTHER_VALID)
    for path, new in edits:
        target = value
        for step in path[:-1]:
            target = _child(target, step)
        last = path[-1]
        if isinstance(target, dict):
            if new is _MISSING:
                target.pop(last, None)
            else:
                target[last] = copy.deepcopy(new)
        elif isinstance(target, list) and isinstance(last, int) and last < len(target) and new is not _MISSING:
            target[last] = copy.deepcopy(new)
    assert _OTHER_PLAN.new_ok(value) == _OTHER_CLOSURE(value)
    if _OTHER_PLAN.new_ok(value):
        unknown: list[str] = []
        prune(value, _OTHER, "", unknown, walk=True)
        assert not unknown and validate(value, _OTHER, "", walk=True) == []
