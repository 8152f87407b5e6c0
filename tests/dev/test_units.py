"""Pure building blocks of the emulator: patches (RFC 6902/7386 examples), RE2 pattern translation, CEL rule
coverage of the CRD, Table helpers, the protobuf decoder, the store's history and the kubeconfig."""

from __future__ import annotations

import base64
import datetime as dt
import gc
import threading
import time
import uuid
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kuadns_sync.dev import cel, protobuf, resources, tables
from kuadns_sync.dev.apiserver import render_kubeconfig
from kuadns_sync.dev.patch import PatchError, json_patch, merge_patch
from kuadns_sync.dev.registry import rfc3339, uuid4_text
from kuadns_sync.dev.schema import compile_pattern
from kuadns_sync.dev.store import Expired, Store


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [  # RFC 7386 appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_json_patch_follows_rfc_6902_and_never_mutates_its_input() -> None:
    doc = {"foo": ["bar", "baz"], "x": {"y": 1}}
    ops = [
        {"op": "add", "path": "/foo/1", "value": "qux"},
        {"op": "remove", "path": "/foo/2"},
        {"op": "replace", "path": "/x/y", "value": 2},
        {"op": "move", "from": "/x/y", "path": "/moved"},
        {"op": "copy", "from": "/foo/0", "path": "/copied"},
        {"op": "add", "path": "/a~1b", "value": True},
        {"op": "test", "path": "/moved", "value": 2},
    ]
    assert json_patch(doc, ops) == {"foo": ["bar", "qux"], "x": {}, "moved": 2, "copied": "bar", "a/b": True}
    assert doc == {"foo": ["bar", "baz"], "x": {"y": 1}}
    for bad, message in [
        ([{"op": "remove", "path": "/nope"}], "nonexistent"),
        ([{"op": "replace", "path": "/foo/5", "value": 1}], "out of bounds"),
        ([{"op": "test", "path": "/x", "value": {}}], "test failed"),
        ([{"op": "frobnicate", "path": "/x"}], "unknown op"),
        ({"op": "add"}, "must be a list"),
    ]:
        with pytest.raises(PatchError, match=message):
            json_patch(doc, bad)


def test_re2_patterns_translate_with_literal_brackets_and_ascii_classes() -> None:
    root_host = resources.load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["rootHost"]["pattern"]
    regex = compile_pattern(root_host)
    assert regex.search("api.k.example.com") and regex.search("*.api.k.example.com")
    assert not regex.search("localhost") and not regex.search("é.example.com")  # \w is ASCII in RE2
    assert compile_pattern("^[[a]+$").search("[a[") and compile_pattern("^[^]x]$").search("y")


def test_every_cel_rule_in_the_crd_is_implemented_and_unknown_rules_are_refused() -> None:
    crd = resources.load_crd()
    (rt,) = resources.crd_types(crd)
    assert rt.status_subresource and rt.namespaced and rt.kind == "DNSRecord"
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["x-kubernetes-validations"].append({"rule": "self.size() > 0", "message": "x"})
    with pytest.raises(resources.CrdError, match="self.size"):
        resources.crd_types(crd)
    assert cel.evaluate("self in [80, 443] || (self >= 1024 && self <= 49151)", 8080, None)
    assert not cel.evaluate("self in [80, 443] || (self >= 1024 && self <= 49151)", 50000, None)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (4 * 3600 + 120, "4h2m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (400 * 86400, "400d"),
        (3 * 365 * 86400, "3y"),
        (-5, "<invalid>"),
    ],
)
def test_ages_print_like_kubectl(seconds: int, text: str) -> None:
    assert tables.human_duration(seconds) == text


def test_printer_column_jsonpath_filters_conditions() -> None:
    obj = {"status": {"conditions": [{"type": "Healthy", "status": "False"}, {"type": "Ready", "status": "True"}]}}
    assert tables.jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert tables.jsonpath(obj, ".status.conditions[*].type") == ["Healthy", "Ready"]
    assert tables.jsonpath(obj, ".status.conditions[0].status") == ["False"]
    assert tables.jsonpath({}, ".spec.rootHost") == []


def _pb_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (test-side encoder)."""
    key, length = bytes([number << 3 | 2]), len(payload)
    out = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            break
    return key + bytes(out) + payload


def test_protobuf_secret_decodes_to_the_json_form() -> None:
    meta = _pb_field(1, b"creds") + _pb_field(3, b"dnstest") + _pb_field(11, _pb_field(1, b"app") + _pb_field(2, b"x"))
    secret = (
        _pb_field(1, meta)
        + _pb_field(2, _pb_field(1, b"ZONES") + _pb_field(2, b"k.example.com"))
        + _pb_field(3, b"Opaque")
    )
    body = protobuf.MAGIC + _pb_field(1, _pb_field(1, b"v1") + _pb_field(2, b"Secret")) + _pb_field(2, secret)
    assert protobuf.decode(body) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "dnstest", "labels": {"app": "x"}},
        "data": {"ZONES": base64.b64encode(b"k.example.com").decode()},
        "type": "Opaque",
    }
    with pytest.raises(protobuf.ProtobufError, match="not supported"):
        protobuf.decode(protobuf.MAGIC + _pb_field(1, _pb_field(1, b"v1") + _pb_field(2, b"Pod")))
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(b"{}")


def _obj(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}}


def test_store_history_compacts_itself_and_expires_old_cursors() -> None:
    store = Store(history_limit=4)
    for i in range(6):
        store.put("g/r", _obj(f"o{i}"), "ADDED", None)
    assert store.compacted_rv > 0
    with pytest.raises(Expired):
        store.cursor_after(store.compacted_rv - 1)
    events, _, rv = store.wait(store.cursor_after(store.compacted_rv), 0)
    assert [e.rv for e in events] == list(range(store.compacted_rv + 1, 7)) and rv == 6
    assert [e.obj["metadata"]["name"] for e in store.entries("g/r", "ns")[0]] == [f"o{i}" for i in range(6)]


def test_kubeconfig_names_cluster_context_and_user_and_embeds_the_ca() -> None:
    text = render_kubeconfig("west", "https://127.0.0.1:6443", "tok", b"PEM")
    config = yaml.safe_load(text)
    assert config["current-context"] == "west"
    assert config["clusters"][0] == {
        "name": "west",
        "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": "UEVN"},
    }
    assert config["users"][0] == {"name": "west", "user": {"token": "tok"}}
    assert config["contexts"][0]["context"] == {"cluster": "west", "user": "west", "namespace": "default"}


@settings(max_examples=200, deadline=None)
@given(
    bits=st.integers(0, 2**128 - 1),
    # (also just below whole seconds, where datetime's rounding to microseconds moves to the next second)
    ts=st.floats(-1e9, 4e9, allow_nan=False) | st.integers(-(10**6), 4 * 10**9).map(lambda s: s - 5e-7),
)
def test_uid_and_timestamp_texts_are_the_stdlib_s(bits: int, ts: float) -> None:
    assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))
    stdlib = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rfc3339(ts) == stdlib
    assert rfc3339(ts) == stdlib  # (the second answer comes from the one-second cache)


def test_settling_store_moves_the_heap_out_of_the_collector_s_sight() -> None:
    gc.unfreeze()
    try:
        store = Store(settle_every=3)
        for name in ("a", "b"):
            store.put("r", {"metadata": {"name": name}}, "ADDED", None)
        assert gc.get_freeze_count() == 0
        store.put("r", {"metadata": {"name": "c"}}, "ADDED", None)
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert not any(e.obj is o for e in store.entries("r")[0] for o in gc.get_objects())  # none scanned now
        assert [e.obj["metadata"]["name"] for e in store.entries("r")[0]] == ["a", "b", "c"]
    finally:
        gc.unfreeze()


def test_a_watcher_wakes_for_changes_of_its_resource_only() -> None:
    store = Store()
    cursor, _ = store.head()
    woke: list[tuple[float, list[str]]] = []

    def watcher() -> None:
        started = time.monotonic()
        events, _, _ = store.wait(cursor, 1.5, "secrets")
        woke.append((time.monotonic() - started, [e.rkey for e in events]))

    thread = threading.Thread(target=watcher)
    thread.start()
    time.sleep(0.1)
    store.put("configmaps", {"metadata": {"name": "c"}}, "ADDED", None)  # not a secret: nobody is woken
    time.sleep(0.4)
    assert not woke
    store.put("secrets", {"metadata": {"name": "s"}}, "ADDED", None)
    thread.join(5)
    assert woke and woke[0][0] < 1.4 and woke[0][1] == ["configmaps", "secrets"]
    # Without a resource key, any change wakes the watcher.
    cursor, _ = store.head()
    timer = threading.Timer(0.1, store.put, ("configmaps", {"metadata": {"name": "d"}}, "ADDED", None))
    timer.start()
    started = time.monotonic()
    events, _, _ = store.wait(cursor, 5)
    assert time.monotonic() - started < 4 and [e.rkey for e in events] == ["configmaps"]
