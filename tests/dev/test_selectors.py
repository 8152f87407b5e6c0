"""Label and field selectors: the parser (every operator, errors) and server-side filtering through the client."""

from __future__ import annotations

import pytest
from kubernetes import client

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord, status_of
from kuadns_sync.dev import ApiServer
from kuadns_sync.dev.selectors import SelectorError, field_value, parse_field_selector, parse_label_selector

LABELS = {
    "a": {"kuadrant.io/coredns-zone-name": "k.example.com", "tier": "gold", "n": "3"},
    "b": {"kuadrant.io/coredns-zone-name": "other.example.com", "tier": "silver", "n": "10"},
    "c": {"tier": "gold"},
    "d": {},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("kuadrant.io/coredns-zone-name=k.example.com", {"a"}),
        ("kuadrant.io/coredns-zone-name==k.example.com", {"a"}),
        ("tier!=gold", {"b", "d"}),
        ("tier in (gold, silver)", {"a", "b", "c"}),
        ("tier notin (gold)", {"b", "d"}),
        ("kuadrant.io/coredns-zone-name", {"a", "b"}),
        ("!kuadrant.io/coredns-zone-name", {"c", "d"}),
        ("tier=gold,kuadrant.io/coredns-zone-name", {"a"}),
        ("n>5", {"b"}),
        ("n<5", {"a"}),
        ("", {"a", "b", "c", "d"}),
    ],
)
def test_label_selector_forms_match_like_kubernetes(selector: str, expected: set[str]) -> None:
    parsed = parse_label_selector(selector)
    assert {name for name, labels in LABELS.items() if parsed.matches(labels)} == expected


@pytest.mark.parametrize("bad", ["tier in gold", "=x", "tier in ()", "tier,", "bad key!=x", "n>x", "tier=a b"])
def test_malformed_label_selectors_are_rejected(bad: str) -> None:
    with pytest.raises(SelectorError, match="unable to parse requirement|invalid"):
        parse_label_selector(bad)


def test_field_selector_supports_equality_inequality_and_escapes() -> None:
    obj = {"metadata": {"name": "a,b", "namespace": "ns"}}
    allowed = ("metadata.name", "metadata.namespace")
    assert parse_field_selector(r"metadata.name=a\,b", allowed).matches(obj, field_value)
    assert parse_field_selector("metadata.namespace!=other,metadata.namespace==ns", allowed).matches(obj, field_value)
    assert not parse_field_selector("metadata.namespace!=ns", allowed).matches(obj, field_value)
    with pytest.raises(SelectorError, match="field label not supported: spec.rootHost"):
        parse_field_selector("spec.rootHost=x", allowed)


@pytest.fixture
def labelled(server: ApiServer) -> ApiServer:
    for name, labels in LABELS.items():
        server.create_object(dnsrecord(name, labels=labels))
    server.create_object(dnsrecord("a", "other", labels=LABELS["a"]))
    return server


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("kuadrant.io/coredns-zone-name=k.example.com", ["a"]),
        ("tier in (gold,silver),tier!=silver", ["a", "c"]),
        ("!kuadrant.io/coredns-zone-name", ["c", "d"]),
        ("tier notin (gold)", ["b", "d"]),
    ],
)
def test_server_filters_lists_by_label_selector(
    labelled: ApiServer, custom: client.CustomObjectsApi, selector: str, expected: list[str]
) -> None:
    got = custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, label_selector=selector)
    assert [i["metadata"]["name"] for i in got["items"]] == expected


def test_server_filters_by_field_selector_across_namespaces(
    labelled: ApiServer, custom: client.CustomObjectsApi
) -> None:
    by_name = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, field_selector="metadata.name=a")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in by_name["items"]] == [
        ("default", "a"),
        ("other", "a"),
    ]
    by_ns = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, field_selector="metadata.namespace=other")
    assert [i["metadata"]["name"] for i in by_ns["items"]] == ["a"]


def test_bad_selectors_answer_400(labelled: ApiServer, custom: client.CustomObjectsApi) -> None:
    with pytest.raises(client.ApiException) as err:
        custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, field_selector="spec.rootHost=x")
    assert err.value.status == 400 and status_of(err.value)["message"] == "field label not supported: spec.rootHost"
    with pytest.raises(client.ApiException) as err:
        custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, label_selector="tier in gold")
    assert err.value.status == 400


def test_secrets_can_be_selected_by_type(server: ApiServer, core: client.CoreV1Api) -> None:
    server.load(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "p", "namespace": "dnstest"},
                "type": "kuadrant.io/coredns",
                "stringData": {"ZONES": "k.example.com"},
            },
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "o", "namespace": "dnstest"}},
        ]
    )
    got = core.list_namespaced_secret("dnstest", field_selector="type=kuadrant.io/coredns")
    assert [s.metadata.name for s in got.items] == ["p"]
