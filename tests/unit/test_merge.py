"""The declarative merge: which records, union/conflict rules, zone checks, verdicts, order independence."""

from __future__ import annotations

import gc
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuadns_sync.merge import merge
from kuadns_sync.model import (
    ClusterSnapshot,
    Endpoint,
    MergeResult,
    Nameserver,
    Origin,
    ProviderSecret,
    RecordVerdict,
    Settings,
    ZoneConfig,
)
from kuadns_sync.ownership import txt_name

ZONE = "k.example.com"
SETTINGS = Settings(zones=(ZoneConfig(ZONE, nameservers=(Nameserver("ns1.k.example.com", ("192.0.2.53",)),)),))
READY = ("ProviderSuccess", "Provider ensured the dns record")


def endpoint(name: str, rtype: str, *targets: str, ttl: int = 60, set_id: str = "", **ps: str) -> dict[str, Any]:
    raw: dict[str, Any] = {"dnsName": name, "recordType": rtype, "targets": list(targets), "recordTTL": ttl}
    if set_id:
        raw["setIdentifier"] = set_id
    if ps:
        raw["providerSpecific"] = [{"name": k.replace("_", "-"), "value": v} for k, v in ps.items()]
    return raw


def record(
    name: str,
    root: str,
    endpoints: list[dict[str, Any]],
    *,
    ns: str = "dnstest",
    owner: str | None = None,
    delegate: bool = False,
    provider: str | None = None,
    labels: dict[str, str] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"rootHost": root, "endpoints": endpoints}
    if owner:
        spec["ownerID"] = owner
    if delegate:
        spec["delegate"] = True
    if provider:
        spec["providerRef"] = {"name": provider}
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "kuadrant.io/v1alpha1", "kind": "DNSRecord", "metadata": meta, "spec": spec}


def cluster(name: str, *records: dict[str, Any], local: bool = False, **kw: Any) -> ClusterSnapshot:
    return ClusterSnapshot(name=name, records=records, local=local, **kw)


def verdict(result: MergeResult, cluster_name: str, name: str, ns: str = "dnstest") -> RecordVerdict:
    (found,) = [v for v in result.verdicts if v.origin == Origin(cluster_name, ns, name)]
    return found


def served(result: MergeResult, zone: str = ZONE) -> dict[tuple[str, str, str], Endpoint]:
    view = result.zone(zone)
    assert view is not None
    return {ep.key: ep for ep in view.endpoints}


def issue_lines(result: MergeResult, *, reason: str | None = None) -> list[str]:
    return [str(i) for i in result.issues if reason is None or i.reason == reason]


# --- kuadrant-coredns.md §2.7, reproduced exactly -----------------------------------------------

H = "api.k.example.com"


def worked_example_cluster(index: int, *, local: bool = False) -> ClusterSnapshot:
    uid = "11111111-1111-4111-8111-111111111111" if index == 1 else "22222222-2222-4222-8222-222222222222"
    short = "2k8o21" if index == 1 else "34udmw"
    ip = f"172.18.200.{index}"
    gw = f"{short}-360vxf.klb.{H}"
    geo, geo_lb, weight = ("GEO-EU", f"geo-eu.klb.{H}", "120") if index == 1 else ("GEO-NA", f"geo-na.klb.{H}", "100")
    eps = [
        endpoint(gw, "A", ip, ttl=60),
        endpoint(H, "CNAME", f"klb.{H}", ttl=300),
        endpoint(geo_lb, "CNAME", gw, ttl=60, set_id=gw, weight=weight),
        endpoint(f"klb.{H}", "CNAME", geo_lb, ttl=300, set_id=geo, geo_code=geo),
    ]
    if index == 1:
        eps.append(endpoint(f"klb.{H}", "CNAME", geo_lb, ttl=300, set_id="default", geo_code="*"))
    raw = record("external-api", H, eps, delegate=True)
    raw["metadata"]["uid"] = uid
    return cluster(f"cluster{index}", raw, local=local)


def test_worked_example_2_7_exactly() -> None:
    result = merge([worked_example_cluster(1, local=True), worked_example_cluster(2)], SETTINGS)
    (auth,) = result.authoritative
    assert (auth.namespace, auth.name, auth.root_host, auth.zone) == (
        "dnstest",
        "authoritative-record-13tjkx3j",
        H,
        ZONE,
    )
    assert dict(auth.labels) == {
        "kuadrant.io/authoritative-record": "true",
        "kuadrant.io/authoritative-record-hash": "13tjkx3j",
        "kuadrant.io/coredns-zone-name": ZONE,
        "kuadrant.io/dns-provider-name": "coredns",
    }
    data = [ep for ep in auth.endpoints if not ep.dns_name.startswith("kuadrant-")]
    txt = [ep for ep in auth.endpoints if ep.dns_name.startswith("kuadrant-")]
    assert (len(data), len(txt), len(auth.endpoints)) == (8, 9, 17)
    assert sorted((ep.dns_name, ep.set_identifier) for ep in txt) == [
        ("kuadrant-15dlpds8-a-2k8o21-360vxf.klb.api.k.example.com", ""),
        ("kuadrant-15dlpds8-cname-api.k.example.com", ""),
        ("kuadrant-15dlpds8-cname-geo-eu.klb.api.k.example.com", "2k8o21-360vxf.klb.api.k.example.com"),
        ("kuadrant-15dlpds8-cname-klb.api.k.example.com", "GEO-EU"),
        ("kuadrant-15dlpds8-cname-klb.api.k.example.com", "default"),
        ("kuadrant-2x2ntmn3-a-34udmw-360vxf.klb.api.k.example.com", ""),
        ("kuadrant-2x2ntmn3-cname-api.k.example.com", ""),
        ("kuadrant-2x2ntmn3-cname-geo-na.klb.api.k.example.com", "34udmw-360vxf.klb.api.k.example.com"),
        ("kuadrant-2x2ntmn3-cname-klb.api.k.example.com", "GEO-NA"),
    ]
    for ep in txt:
        owner = "247gdlk5" if "15dlpds8" in ep.dns_name else "13hon7vt"
        assert ep.targets == (f'"heritage=external-dns,external-dns/owner={owner},external-dns/version=1"',)
        assert ep.ttl == 0
        assert ep.label("ownedRecord") == ep.dns_name.split("-", 3)[3]
    geo_txt = [ep for ep in txt if ep.set_identifier == "GEO-EU"]
    assert geo_txt[0].provider_specific == (("geo-code", "GEO-EU"),)
    keys = [ep.key for ep in auth.endpoints]
    assert keys == sorted(keys)
    by_key = {tuple(ep.key): ep for ep in data}
    api = by_key[H, "CNAME", ""]
    assert (api.targets, api.ttl, api.label("owner")) == ((f"klb.{H}",), 300, "13hon7vt&&247gdlk5")
    assert by_key[f"klb.{H}", "CNAME", "default"].geo == "*"
    assert by_key[f"klb.{H}", "CNAME", "default"].label("owner") == "247gdlk5"
    assert by_key[f"geo-na.klb.{H}", "CNAME", f"34udmw-360vxf.klb.{H}"].weight == 100
    assert by_key[f"34udmw-360vxf.klb.{H}", "A", ""].targets == ("172.18.200.2",)
    # The zone view serves the same 17 endpoints; both records are ready.
    assert result.zone(ZONE) is not None
    assert result.zone(ZONE).endpoints == auth.endpoints  # type: ignore[union-attr]
    for name in ("cluster1", "cluster2"):
        v = verdict(result, name, "external-api")
        assert (v.ready, v.reason, v.message) == (True, *READY)
        assert (v.authoritative_record, v.zone) == ("authoritative-record-13tjkx3j", ZONE)
    assert result.issues == ()
    manifest = auth.to_manifest()
    assert manifest["metadata"]["name"] == "authoritative-record-13tjkx3j"
    assert len(manifest["spec"]["endpoints"]) == 17


# --- union and conflicts -----------------------------------------------------------------------


def test_union_across_clusters_serves_both_ips_with_both_owners() -> None:
    east = cluster(
        "east",
        record(
            "s", "s.k.example.com", [endpoint("s.k.example.com", "A", "127.0.0.1")], owner="ownereast", delegate=True
        ),
        local=True,
    )
    west = cluster(
        "west",
        record(
            "s",
            "s.k.example.com",
            [endpoint("s.k.example.com", "A", "127.0.0.2", "127.0.0.1")],
            owner="ownerwest",
            delegate=True,
        ),
    )
    result = merge([east, west], SETTINGS)
    ep = served(result)["s.k.example.com", "A", ""]
    assert ep.targets == ("127.0.0.1", "127.0.0.2")
    assert ep.label("owner") == "ownereast&&ownerwest"
    assert {o.cluster for o in ep.origins} == {"east", "west"}
    txt_names = sorted(e.dns_name for e in result.zones[0].endpoints if e.record_type == "TXT")
    assert len(txt_names) == 2 and all(n.endswith("-a-s.k.example.com") for n in txt_names)
    assert result.issues == ()


def test_ttl_is_the_smallest_configured_with_a_warning() -> None:
    east = cluster(
        "east",
        record("s", "s.k.example.com", [endpoint("s.k.example.com", "NS", "ns.x.org", ttl=300)], owner="ownereast"),
        local=True,
    )
    west = cluster(
        "west",
        record(
            "s",
            "s.k.example.com",
            [endpoint("s.k.example.com", "NS", "ns.y.org", ttl=0)],
            owner="ownerwest",
            delegate=True,
        ),
    )
    third = cluster(
        "third",
        record(
            "s",
            "s.k.example.com",
            [endpoint("s.k.example.com", "NS", "ns.z.org", ttl=60)],
            owner="ownerthird",
            delegate=True,
        ),
    )
    result = merge([east, west, third], SETTINGS)
    ep = served(result)["s.k.example.com", "NS", ""]
    assert (ep.targets, ep.ttl) == (("ns.x.org", "ns.y.org", "ns.z.org"), 60)
    assert issue_lines(result, reason="TTLMismatch") == [
        'warning: east/dnstest/s spec.endpoints[0]: NS "s.k.example.com": recordTTL 300 differs from 60 of '
        "third/dnstest/s spec.endpoints[0]; the smallest, 60, is served"
    ]


def test_set_identifier_and_cname_conflicts_lowest_owner_wins() -> None:
    def rec(owner: str, target: str, extra: list[dict[str, Any]]) -> dict[str, Any]:
        eps = [
            endpoint("klb.c.k.example.com", "CNAME", target, set_id="default", geo_code="*"),
            endpoint("c.k.example.com", "CNAME", target),
            *extra,
        ]
        return record("c", "c.k.example.com", eps, owner=owner, delegate=True)

    a = cluster(
        "a", rec("bbbbbbbb", "x.c.k.example.com", [endpoint("x.c.k.example.com", "A", "192.0.2.1")]), local=True
    )
    b = cluster("b", rec("aaaaaaaa", "y.c.k.example.com", [endpoint("y.c.k.example.com", "A", "192.0.2.2")]))
    result = merge([a, b], SETTINGS)
    view = served(result)
    assert view["c.k.example.com", "CNAME", ""].targets == ("y.c.k.example.com",)
    assert view["c.k.example.com", "CNAME", ""].label("owner") == "aaaaaaaa"
    assert view["klb.c.k.example.com", "CNAME", "default"].targets == ("y.c.k.example.com",)
    assert ("x.c.k.example.com", "A", "") in view  # the loser's other endpoints are still served
    assert issue_lines(result, reason="Conflict") == [
        'error: a/dnstest/c spec.endpoints[0]: CNAME "klb.c.k.example.com" (setIdentifier "default") conflicts with '
        "b/dnstest/c spec.endpoints[0] (owner aaaaaaaa), whose version is served (the lowest owner ID wins)",
        'error: a/dnstest/c spec.endpoints[1]: CNAME "c.k.example.com" conflicts with b/dnstest/c spec.endpoints[1] '
        "(owner aaaaaaaa), whose version is served (the lowest owner ID wins)",
    ]
    loser = verdict(result, "a", "c")
    assert (loser.ready, loser.reason) == (False, "Conflict")
    assert loser.message.startswith('not served: spec.endpoints[0]: CNAME "klb.c.k.example.com"')
    assert loser.message.endswith("; the other endpoints are served")
    assert loser.authoritative_record is not None and loser.zone == ZONE
    assert verdict(result, "b", "c").ready
    # The authoritative record holds what is served: no trace of the loser's CNAMEs, no TXT for them.
    (auth,) = result.authoritative
    assert [ep.targets for ep in auth.endpoints if ep.dns_name == "c.k.example.com"] == [("y.c.k.example.com",)]
    assert len([ep for ep in auth.endpoints if "-cname-c.k.example.com" in ep.dns_name]) == 1


def test_identical_set_members_from_two_owners_are_one_endpoint() -> None:
    eps = [endpoint("klb.c.k.example.com", "CNAME", "ie.klb.c.k.example.com", ttl=300, set_id="default", geo_code="*")]
    a = cluster("a", record("c", "c.k.example.com", eps, owner="ownera1", delegate=True), local=True)
    b = cluster("b", record("c", "c.k.example.com", eps, owner="ownerb1", delegate=True))
    result = merge([a, b], SETTINGS)
    assert served(result)["klb.c.k.example.com", "CNAME", "default"].label("owner") == "ownera1&&ownerb1"
    assert [i for i in result.issues if i.reason == "Conflict"] == []


def test_union_with_differing_provider_specific_warns() -> None:
    a = cluster(
        "a",
        record("c", "c.k.example.com", [endpoint("c.k.example.com", "A", "192.0.2.1", weight="1")], owner="ownera1"),
        local=True,
    )
    b = cluster(
        "b",
        record(
            "c",
            "c.k.example.com",
            [endpoint("c.k.example.com", "A", "192.0.2.2", weight="5")],
            owner="ownerb1",
            delegate=True,
        ),
    )
    result = merge([a, b], SETTINGS)
    ep = served(result)["c.k.example.com", "A", ""]
    assert (ep.targets, ep.weight) == (("192.0.2.1", "192.0.2.2"), 1)
    assert issue_lines(result, reason="Conflict") == [
        'warning: b/dnstest/c spec.endpoints[0]: A "c.k.example.com": providerSpecific differs from '
        "a/dnstest/c spec.endpoints[0] (owner ownera1), whose providerSpecific is served"
    ]


def test_cname_beside_other_data_loses_to_the_data() -> None:
    a = cluster(
        "a",
        record("m", "m.k.example.com", [endpoint("m.k.example.com", "A", "192.0.2.7")], owner="zzzzzzzz"),
        local=True,
    )
    b_eps = [endpoint("m.k.example.com", "CNAME", "o.m.k.example.com"), endpoint("o.m.k.example.com", "A", "192.0.2.3")]
    b = cluster("b", record("m", "m.k.example.com", b_eps, owner="aaaaaaaa", delegate=True))
    result = merge([a, b], SETTINGS)
    view = served(result)
    assert ("m.k.example.com", "CNAME", "") not in view
    assert view["m.k.example.com", "A", ""].targets == ("192.0.2.7",)
    assert view["o.m.k.example.com", "A", ""].targets == ("192.0.2.3",)
    assert issue_lines(result, reason="Conflict") == [
        'error: b/dnstest/m spec.endpoints[0]: CNAME "m.k.example.com" cannot coexist with A data at the same name '
        "(from a/dnstest/m spec.endpoints[0]); the A data is served (RFC 1034 §3.6.2)"
    ]
    assert verdict(result, "b", "m").reason == "Conflict"
    assert verdict(result, "a", "m").ready


def test_conflict_across_namespaces_is_resolved_in_the_zone_and_the_loser_record() -> None:
    one = record(
        "r", "x.k.example.com", [endpoint("x.k.example.com", "CNAME", "a.example.net")], ns="one", owner="owner111"
    )
    two = record(
        "r", "x.k.example.com", [endpoint("x.k.example.com", "CNAME", "b.example.net")], ns="two", owner="owner222"
    )
    result = merge([cluster("local", one, two, local=True)], SETTINGS)
    assert served(result)["x.k.example.com", "CNAME", ""].targets == ("a.example.net",)
    by_ns = {a.namespace: a for a in result.authoritative}
    assert [ep.targets for ep in by_ns["one"].endpoints if ep.record_type == "CNAME"] == [("a.example.net",)]
    assert by_ns["two"].endpoints == ()
    assert verdict(result, "local", "r", "two").reason == "Conflict"


# --- CNAME chains --------------------------------------------------------------------------------


def test_cname_loop_across_records_drops_every_record_forming_it() -> None:
    r1 = record(
        "r1",
        "p.k.example.com",
        [endpoint("p.k.example.com", "CNAME", "q.k.example.com"), endpoint("x.p.k.example.com", "A", "192.0.2.1")],
    )
    r2 = record("r2", "q.k.example.com", [endpoint("q.k.example.com", "CNAME", "p.k.example.com")])
    r3 = record("r3", "z.k.example.com", [endpoint("z.k.example.com", "CNAME", "p.k.example.com")])
    result = merge([cluster("local", r1, r2, r3, local=True)], SETTINGS)
    assert issue_lines(result, reason="ValidationError") == [
        "error: local/dnstest/r1 spec.endpoints[0]: CNAME loop through p.k.example.com, q.k.example.com",
        "error: local/dnstest/r2 spec.endpoints[0]: CNAME loop through p.k.example.com, q.k.example.com",
    ]
    for name in ("r1", "r2"):
        v = verdict(result, "local", name)
        assert (v.ready, v.reason) == (False, "ValidationError")
        assert v.message == (
            "validation of DNSRecord failed: spec.endpoints[0]: CNAME loop through p.k.example.com, q.k.example.com"
        )
        assert v.authoritative_record is None and v.zone == ZONE
    # r3 pointed into the loop: after the loop is dropped its target dangles, which only warns.
    assert verdict(result, "local", "r3").ready
    assert issue_lines(result, reason="DanglingCNAME") == [
        'warning: local/dnstest/r3 spec.endpoints[0]: CNAME target "p.k.example.com" of "z.k.example.com" does not '
        "exist in zone k.example.com"
    ]
    assert [a.root_host for a in result.authoritative] == ["z.k.example.com"]


def test_self_loop_and_loop_through_a_wildcard() -> None:
    r1 = record("self", "s.k.example.com", [endpoint("s.k.example.com", "CNAME", "s.k.example.com")])
    r2 = record("wild", "w.k.example.com", [endpoint("*.w.k.example.com", "CNAME", "a.w.k.example.com")])
    result = merge([cluster("local", r1, r2, local=True)], SETTINGS)
    assert issue_lines(result, reason="ValidationError") == [
        "error: local/dnstest/self spec.endpoints[0]: CNAME loop through s.k.example.com",
        "error: local/dnstest/wild spec.endpoints[0]: CNAME loop through *.w.k.example.com",
    ]


def test_chain_of_8_hops_is_fine_9_is_too_long() -> None:
    def chain(hops: int) -> dict[str, Any]:
        names = ["c.k.example.com", *(f"h{i}.c.k.example.com" for i in range(1, hops + 1))]
        eps = [endpoint(names[i], "CNAME", names[i + 1]) for i in range(hops)]
        eps.append(endpoint(names[-1], "A", "192.0.2.1"))
        return record("chain", "c.k.example.com", eps)

    assert verdict(merge([cluster("local", chain(8), local=True)], SETTINGS), "local", "chain").ready
    result = merge([cluster("local", chain(9), local=True)], SETTINGS)
    v = verdict(result, "local", "chain")
    assert (v.ready, v.reason) == (False, "ValidationError")
    assert (
        'CNAME chain from "c.k.example.com" is 9 hops long (max 8): c.k.example.com -> h1.c.k.example.com' in v.message
    )
    assert result.authoritative == () and result.zones[0].endpoints == ()


def test_cname_targets_below_a_delegation_or_under_a_wildcard_do_not_dangle() -> None:
    eps = [
        endpoint("sub.k.example.com", "NS", "ns.sub.k.example.com"),
        endpoint("ns.sub.k.example.com", "A", "192.0.2.53"),
        endpoint("*.w.k.example.com", "A", "192.0.2.9"),
        endpoint("a.b.k.example.com", "A", "192.0.2.1"),
        endpoint("to-child.k.example.com", "CNAME", "www.sub.k.example.com"),
        endpoint("to-wild.k.example.com", "CNAME", "x.y.w.k.example.com"),
        endpoint("to-out.k.example.com", "CNAME", "www.example.org"),
        endpoint("to-ent.k.example.com", "CNAME", "b.k.example.com"),
        endpoint("to-none.k.example.com", "CNAME", "none.a.b.k.example.com"),
    ]
    result = merge([cluster("local", record("z", ZONE, eps), local=True)], SETTINGS)
    assert [i.message for i in result.issues if i.reason == "DanglingCNAME"] == [
        'CNAME target "b.k.example.com" of "to-ent.k.example.com" does not exist in zone k.example.com',
        'CNAME target "none.a.b.k.example.com" of "to-none.k.example.com" does not exist in zone k.example.com',
    ]
    assert verdict(result, "local", "z").ready


# --- warnings: routing sets, nameservers, sub-zones, stale ---------------------------------------


def test_routing_set_mixing_geo_and_plain_members_warns() -> None:
    eps = [
        endpoint("klb.g.k.example.com", "CNAME", "eu.example.net", set_id="eu", geo_code="GEO-EU"),
        endpoint("klb.g.k.example.com", "CNAME", "any.example.net", set_id="plain"),
        endpoint("w.g.k.example.com", "A", "192.0.2.1", set_id="one", weight="10"),
        endpoint("w.g.k.example.com", "A", "192.0.2.2", set_id="two"),
    ]
    result = merge([cluster("local", record("g", "g.k.example.com", eps), local=True)], SETTINGS)
    assert issue_lines(result, reason="RoutingSet") == [
        'warning: local/dnstest/g spec.endpoints[1]: CNAME "klb.g.k.example.com" (setIdentifier "plain") has no '
        'geo-code while other members of the CNAME set at "klb.g.k.example.com" have one; it is served as the '
        'default ("*")',
        'warning: local/dnstest/g spec.endpoints[3]: A "w.g.k.example.com" (setIdentifier "two") has no weight while '
        'other members of the A set at "w.g.k.example.com" have one; it is served with weight 1',
    ]
    assert verdict(result, "local", "g").ready


def test_in_zone_nameserver_without_address_warns() -> None:
    bare = Settings(zones=(ZoneConfig(ZONE),))
    result = merge([cluster("local", local=True)], bare)
    assert issue_lines(result, reason="Nameserver") == [
        'warning: apex nameserver "ns1.k.example.com" is inside zone k.example.com but has no address (no '
        "configured address, no A/AAAA endpoint): stock servers refuse to load such a zone"
    ]
    eps = [
        endpoint(ZONE, "NS", "ns1.k.example.com", "ns2.k.example.com", "ns.example.org"),
        endpoint("ns1.k.example.com", "A", "192.0.2.1"),
        endpoint("sub.k.example.com", "NS", "ns.sub.k.example.com"),
    ]
    result = merge([cluster("local", record("apex", ZONE, eps), local=True)], bare)
    assert [i.message.split(" is inside")[0] for i in result.issues if i.reason == "Nameserver"] == [
        'apex nameserver "ns2.k.example.com"',
        'nameserver of the delegation "sub.k.example.com" "ns.sub.k.example.com"',
    ]
    assert {i.origin for i in result.issues if i.reason == "Nameserver"} == {
        Origin("local", "dnstest", "apex", 0),
        Origin("local", "dnstest", "apex", 2),
    }


def test_endpoint_in_a_more_specific_zone_than_its_record_warns() -> None:
    two = Settings(zones=(ZoneConfig(ZONE), ZoneConfig("api.k.example.com")))
    eps = [endpoint("ns1.k.example.com", "A", "192.0.2.1"), endpoint("x.api.k.example.com", "A", "192.0.2.2")]
    result = merge([cluster("local", record("r", ZONE, eps), local=True)], two)
    assert issue_lines(result, reason="OutOfZone") == [
        'warning: local/dnstest/r spec.endpoints[1]: "x.api.k.example.com" is inside zone api.k.example.com, but its '
        "record belongs to zone k.example.com (by rootHost); it is served in zone k.example.com only"
    ]
    assert [z.config.name for z in result.zones] == ["api.k.example.com", "k.example.com"]
    assert result.zone("api.k.example.com").endpoints == ()  # type: ignore[union-attr]


def test_stale_cluster_is_reported_and_still_served() -> None:
    remote = cluster(
        "west",
        record("s", "s.k.example.com", [endpoint("s.k.example.com", "A", "192.0.2.2")], delegate=True),
        stale_since=1_700_000_000.0,
    )
    result = merge([cluster("east", local=True), remote], SETTINGS)
    assert "s.k.example.com" in {ep.dns_name for ep in result.zones[0].endpoints}
    assert issue_lines(result, reason="Stale") == [
        "warning: cluster west is unreachable; serving its records as last listed at 2023-11-14T22:13:20Z"
    ]


def test_ownership_txt_with_an_overlong_label_is_left_out() -> None:
    label = "a" * 50
    eps = [endpoint(f"{label}.k.example.com", "A", "192.0.2.1")]
    result = merge([cluster("local", record("r", ZONE, eps, owner="owner-long"), local=True)], SETTINGS)
    assert [ep.record_type for ep in result.zones[0].endpoints] == ["A"]
    name = txt_name("owner-long", "A", f"{label}.k.example.com")
    first = name.split(".")[0]
    assert issue_lines(result, reason="Ownership") == [
        f'warning: local/dnstest/r spec.endpoints[0]: ownership TXT "{name}" for A "{label}.k.example.com" is left '
        f'out: label "{first}" is 70 characters long (max 63)'
    ]


# --- which records are served --------------------------------------------------------------------


def simple(name: str, ip: str, **kw: Any) -> dict[str, Any]:
    return record(name, f"{name}.k.example.com", [endpoint(f"{name}.k.example.com", "A", ip)], **kw)


def secret(
    name: str, stype: str = "kuadrant.io/coredns", *, default: bool = False, zones: tuple[str, ...] = (ZONE,)
) -> ProviderSecret:
    return ProviderSecret("local", "dnstest", name, stype, zones, default)


def test_primary_serves_local_records_and_every_delegating_record_only() -> None:
    local = cluster("local", simple("l1", "192.0.2.1"), simple("l2", "192.0.2.2", delegate=True), local=True)
    remote = cluster("remote", simple("r1", "192.0.2.3"), simple("r2", "192.0.2.4", delegate=True))
    result = merge([local, remote], SETTINGS)
    names = {ep.dns_name for ep in result.zones[0].endpoints if ep.record_type == "A"}
    assert names == {"l1.k.example.com", "l2.k.example.com", "r2.k.example.com"}
    assert [str(v.origin) for v in result.verdicts] == ["local/dnstest/l1", "local/dnstest/l2", "remote/dnstest/r2"]
    assert all(v.ready for v in result.verdicts)


def test_local_cluster_is_found_by_name() -> None:
    result = merge([cluster("east", simple("l1", "192.0.2.1"))], Settings(zones=SETTINGS.zones, local_cluster="east"))
    assert verdict(result, "east", "l1").ready


def test_provider_resolution_for_non_delegating_local_records() -> None:
    records = [
        simple("by-ref", "192.0.2.1", provider="coredns"),
        simple("aws-ref", "192.0.2.2", provider="aws"),
        simple("missing-ref", "192.0.2.3", provider="nope"),
        simple("by-default", "192.0.2.4"),
        simple("other-ns", "192.0.2.5", ns="elsewhere"),
        simple("delegating", "192.0.2.6", delegate=True),
    ]
    secrets = (
        secret("coredns", default=True, zones=("k.example.com", "extra.example.org")),
        secret("aws", "kuadrant.io/aws"),
        ProviderSecret("local", "elsewhere", "d1", "kuadrant.io/coredns", (ZONE,), True),
        ProviderSecret("local", "elsewhere", "d2", "kuadrant.io/coredns", (ZONE,), True),
    )
    result = merge([cluster("local", *records, local=True, secrets=secrets)], Settings())
    got = {v.origin.name: (v.ready, v.reason, v.message) for v in result.verdicts}
    assert got == {
        "by-ref": (True, *READY),
        "by-default": (True, *READY),
        "delegating": (True, *READY),
        "aws-ref": (
            False,
            "NotServed",
            "provider secret dnstest/aws has type kuadrant.io/aws, not kuadrant.io/coredns: this record is another "
            "provider's",
        ),
        "missing-ref": (
            False,
            "DNSProviderError",
            "The dns provider could not be loaded: provider secret dnstest/nope not found",
        ),
        "other-ns": (False, "DNSProviderError", "Multiple default providers secrets found. Only one expected"),
    }
    # Zones come from the local CoreDNS secrets when settings have none.
    assert [z.config.name for z in result.zones] == ["extra.example.org", "k.example.com"]
    assert {i.severity for i in result.issues if i.reason == "NotServed"} == {"warning"}


def test_no_default_provider_secret() -> None:
    result = merge([cluster("local", simple("a", "192.0.2.1"), local=True, secrets=(secret("x"),))], SETTINGS)
    v = verdict(result, "local", "a")
    assert (v.ready, v.reason, v.message) == (
        False,
        "DNSProviderError",
        "No default provider secret labeled kuadrant.io/default-provider was found",
    )


def test_provider_secret_zone_problems_are_reported() -> None:
    secrets = (
        secret("empty", zones=()),
        secret("bad", zones=("bad zone.org", ZONE)),
        secret("other", "kuadrant.io/gcp"),
    )
    result = merge([cluster("local", local=True, secrets=secrets)], Settings())
    assert issue_lines(result, reason="ProviderError") == [
        'error: local/dnstest/bad: ZONES item "bad zone.org" is not a valid DNS name: label "bad zone" contains \' \' '
        "(allowed: letters, digits, hyphen)",
        "warning: local/dnstest/empty: CoreDNS provider secret has no ZONES",
    ]
    assert [z.config.name for z in result.zones] == [ZONE]


def test_settings_zone_config_wins_over_secret_zone() -> None:
    result = merge([cluster("local", local=True, secrets=(secret("s"),))], SETTINGS)
    assert result.zones[0].config == SETTINGS.zones[0]


def test_out_of_zone_record_is_reported_not_served() -> None:
    result = merge(
        [cluster("local", record("o", "www.other.org", [endpoint("www.other.org", "A", "192.0.2.1")]), local=True)],
        SETTINGS,
    )
    message = 'rootHost "www.other.org" is not in any served zone (zones: k.example.com)'
    assert issue_lines(result, reason="OutOfZone") == [f"error: local/dnstest/o: {message}"]
    assert verdict(result, "local", "o") == RecordVerdict(Origin("local", "dnstest", "o"), False, "OutOfZone", message)
    assert result.authoritative == ()
    none = merge([cluster("local", simple("a", "192.0.2.1"), local=True)], Settings())
    assert verdict(none, "local", "a").message.endswith("(zones: none configured)")


def test_deleting_and_authoritative_and_invalid_records_contribute_nothing() -> None:
    auth = simple("authoritative-record-x", "192.0.2.9", labels={"kuadrant.io/authoritative-record": "true"})
    deleting = simple("gone", "192.0.2.8", deleting=True)
    removed = simple("removed", "192.0.2.7", delegate=True)
    removed["status"] = {"conditions": [{"type": "Ready", "reason": "ProviderEndpointsDeletion"}]}
    bad = record(
        "bad",
        "bad.k.example.com",
        [
            endpoint("bad.k.example.com", "A", "192.0.2.1", weight="x"),
            endpoint("ok.bad.k.example.com", "A", "192.0.2.2"),
        ],
    )
    result = merge([cluster("local", auth, deleting, bad, local=True), cluster("remote", removed)], SETTINGS)
    assert result.authoritative == ()
    assert result.zones[0].endpoints == ()
    got = {v.origin.name: (v.ready, v.reason, v.message) for v in result.verdicts}
    assert got == {
        "gone": (False, "ProviderEndpointsRemoved", "DNS records removed from provider"),
        "removed": (False, "ProviderEndpointsRemoved", "DNS records removed from provider"),
        "bad": (
            False,
            "ValidationError",
            'validation of DNSRecord failed: spec.endpoints[0]: weight "x" is not a base-10 integer >= 0',
        ),
    }
    assert issue_lines(result) == [
        'error: local/dnstest/bad spec.endpoints[0]: weight "x" is not a base-10 integer >= 0'
    ]


def test_secondary_only_validates_and_readies_its_own_delegating_records() -> None:
    local = cluster(
        "local",
        simple("deleg", "192.0.2.1", delegate=True),
        simple("plain", "192.0.2.2"),
        simple("gone", "192.0.2.3", delegate=True, deleting=True),
        record("bad", "bad.k.example.com", [endpoint("bad.k.example.com", "AAAA", "192.0.2.1")], delegate=True),
        local=True,
    )
    remote = cluster("remote", simple("r", "192.0.2.4", delegate=True))
    result = merge([local, remote], Settings(zones=SETTINGS.zones, role="secondary"))
    assert (result.authoritative, result.zones) == ((), ())
    got = {v.origin.name: (v.ready, v.reason) for v in result.verdicts}
    assert got == {
        "bad": (False, "ValidationError"),
        "deleg": (True, "ProviderSuccess"),
        "gone": (False, "ProviderEndpointsRemoved"),
        "plain": (False, "NotServed"),
    }
    assert all(v.authoritative_record is None and v.zone is None for v in result.verdicts)
    assert issue_lines(result) == [
        'error: local/dnstest/bad spec.endpoints[0]: AAAA target "192.0.2.1" is not an IPv6 address'
    ]


def test_empty_zones_are_present_and_sorted() -> None:
    zones = Settings(zones=(ZoneConfig("b.example.org"), ZoneConfig("a.example.org")))
    result = merge([], zones)
    assert [(z.config.name, z.endpoints) for z in result.zones] == [("a.example.org", ()), ("b.example.org", ())]


def test_wildcard_root_hosts_share_the_authoritative_record_of_the_stripped_host() -> None:
    wild = record("wild", "*.apps.k.example.com", [endpoint("*.apps.k.example.com", "A", "127.0.0.1")])
    plain = record("plain", "apps.k.example.com", [endpoint("foo.apps.k.example.com", "A", "127.0.0.2")])
    result = merge([cluster("local", wild, plain, local=True)], SETTINGS)
    (auth,) = result.authoritative
    assert (auth.name, auth.root_host) == ("authoritative-record-1i1gzkgb", "apps.k.example.com")
    names = [ep.dns_name for ep in auth.endpoints]
    assert "*.apps.k.example.com" in names
    assert any(n.startswith("kuadrant-") and n.endswith("-a-wildcard.apps.k.example.com") for n in names)


# --- order independence (hypothesis) --------------------------------------------------------------


def _scenario() -> list[ClusterSnapshot]:
    """Several clusters with unions, conflicts, CNAME-vs-A, a loop, TTL differences, and invalid data."""
    east = cluster(
        "east",
        worked_example_cluster(1).records[0],
        record(
            "shared",
            "shared.k.example.com",
            [
                endpoint("shared.k.example.com", "A", "192.0.2.1", ttl=60),
                endpoint("cn.shared.k.example.com", "CNAME", "shared.k.example.com"),
                endpoint("mixed.shared.k.example.com", "A", "192.0.2.7"),
                endpoint("klb.shared.k.example.com", "CNAME", "shared.k.example.com", set_id="default", geo_code="*"),
            ],
            owner="aaaaaaaa",
            delegate=True,
        ),
        record(
            "loop",
            "loop.k.example.com",
            [
                endpoint("loop.k.example.com", "CNAME", "b.loop.k.example.com"),
                endpoint("b.loop.k.example.com", "CNAME", "loop.k.example.com"),
            ],
        ),
        simple("bad", "not-an-ip"),
        local=True,
    )
    west = cluster(
        "west",
        worked_example_cluster(2).records[0],
        record(
            "shared",
            "shared.k.example.com",
            [
                endpoint("shared.k.example.com", "A", "192.0.2.2", ttl=30),
                endpoint("cn.shared.k.example.com", "CNAME", "other.shared.k.example.com"),
                endpoint("other.shared.k.example.com", "A", "192.0.2.3"),
                endpoint("mixed.shared.k.example.com", "CNAME", "other.shared.k.example.com"),
                endpoint(
                    "klb.shared.k.example.com", "CNAME", "other.shared.k.example.com", set_id="default", geo_code="*"
                ),
            ],
            owner="bbbbbbbb",
            delegate=True,
        ),
        simple("ignored", "192.0.2.99"),
    )
    third = cluster(
        "third",
        record(
            "shared",
            "shared.k.example.com",
            [
                endpoint("shared.k.example.com", "A", "192.0.2.1", "192.0.2.5", ttl=120),
            ],
            owner="cccccccc",
            delegate=True,
        ),
    )
    return [east, west, third]


def _shuffled(snapshots: list[ClusterSnapshot], rng: random.Random, *, endpoints: bool) -> list[ClusterSnapshot]:
    out = []
    for snap in snapshots:
        records = []
        for raw in snap.records:
            raw = {**raw, "spec": {**raw["spec"]}}
            if endpoints:
                eps = [dict(e, targets=rng.sample(e["targets"], len(e["targets"]))) for e in raw["spec"]["endpoints"]]
                rng.shuffle(eps)
                raw["spec"]["endpoints"] = eps
            records.append(raw)
        rng.shuffle(records)
        out.append(ClusterSnapshot(snap.name, tuple(records), snap.secrets, snap.local, snap.stale_since))
    rng.shuffle(out)
    return out


BASELINE = merge(_scenario(), SETTINGS)


def test_scenario_baseline_is_interesting() -> None:
    reasons = {i.reason for i in BASELINE.issues}
    assert {"Conflict", "ValidationError", "TTLMismatch"} <= reasons
    assert len(BASELINE.authoritative) == 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_result_is_independent_of_snapshot_and_record_order(rng: random.Random) -> None:
    assert merge(_shuffled(_scenario(), rng, endpoints=False), SETTINGS) == BASELINE


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_served_data_is_independent_of_endpoint_and_target_order(rng: random.Random) -> None:
    # Endpoint indexes are part of origins (and so of issue texts), so compare what is served and decided.
    result = merge(_shuffled(_scenario(), rng, endpoints=True), SETTINGS)
    assert (result.authoritative, result.zones) == (BASELINE.authoritative, BASELINE.zones)
    assert [(v.origin, v.ready, v.reason) for v in result.verdicts] == [
        (v.origin, v.ready, v.reason) for v in BASELINE.verdicts
    ]
    assert [(i.severity, i.reason) for i in result.issues] == [(i.severity, i.reason) for i in BASELINE.issues]


def test_same_owner_twice_labels_carried_and_unset_ttl() -> None:
    labelled = endpoint("s.k.example.com", "A", "192.0.2.1", ttl=0)
    labelled["labels"] = {"team": "blue", "owner": "forged"}
    one = cluster("one", record("s", "s.k.example.com", [labelled], owner="same-owner", delegate=True), local=True)
    two = cluster(
        "two",
        record(
            "s",
            "s.k.example.com",
            [endpoint("s.k.example.com", "A", "192.0.2.2", ttl=0)],
            owner="same-owner",
            delegate=True,
        ),
    )
    result = merge([one, two], SETTINGS)
    view = result.zones[0].endpoints
    (data,) = [ep for ep in view if ep.record_type == "A"]
    assert (data.targets, data.ttl, data.labels) == (
        ("192.0.2.1", "192.0.2.2"),
        0,
        (("owner", "same-owner"), ("team", "blue")),
    )
    (txt,) = [ep for ep in view if ep.record_type == "TXT"]
    assert txt.targets == (
        '"heritage=external-dns,external-dns/owner=same-owner,external-dns/team=blue,external-dns/version=1"',
    )


def test_record_level_validation_error_in_the_verdict() -> None:
    raw = record("r", "", [])
    result = merge([cluster("local", raw, local=True)], SETTINGS)
    assert verdict(result, "local", "r").message == "validation of DNSRecord failed: spec.rootHost is missing or empty"


# --- each authoritative record is merged on its own (the zone's per-key merges are only reused when equal) ----


def test_union_across_namespaces_serves_both_but_each_authoritative_record_has_its_own() -> None:
    one = record("r", "s.k.example.com", [endpoint("s.k.example.com", "A", "192.0.2.1")], ns="one", owner="owner111")
    two = record(
        "r", "s.k.example.com", [endpoint("s.k.example.com", "A", "192.0.2.2", ttl=30)], ns="two", owner="owner222"
    )
    alone = record("q", "q.k.example.com", [endpoint("q.k.example.com", "A", "192.0.2.9")], ns="one", owner="owner111")
    result = merge([cluster("local", one, two, alone, local=True)], SETTINGS)
    zone_ep = served(result)["s.k.example.com", "A", ""]
    assert (zone_ep.targets, zone_ep.ttl, zone_ep.label("owner")) == (
        ("192.0.2.1", "192.0.2.2"),
        30,
        "owner111&&owner222",
    )
    by_name = {(a.namespace, a.root_host): a for a in result.authoritative}
    for ns, target, ttl, owner in (("one", "192.0.2.1", 60, "owner111"), ("two", "192.0.2.2", 30, "owner222")):
        (auth_ep,) = [e for e in by_name[ns, "s.k.example.com"].endpoints if e.record_type == "A"]
        assert (auth_ep.targets, auth_ep.ttl, auth_ep.label("owner")) == ((target,), ttl, owner)
        (auth_txt,) = [e for e in by_name[ns, "s.k.example.com"].endpoints if e.record_type == "TXT"]
        assert auth_txt.dns_name == txt_name(owner, "A", "s.k.example.com")
    # A key with one group's contributions only: the authoritative record holds the very endpoint served.
    (q_ep,) = [e for e in by_name["one", "q.k.example.com"].endpoints if e.record_type == "A"]
    assert q_ep is served(result)["q.k.example.com", "A", ""]


def test_ownership_txt_whose_name_is_data_is_left_out_of_the_zone_but_not_of_its_own_record() -> None:
    registry_name = txt_name("owner111", "A", "x.k.example.com")
    data = record("x", "x.k.example.com", [endpoint("x.k.example.com", "A", "192.0.2.1")], owner="owner111")
    squatter = record("t", ZONE, [endpoint(registry_name, "TXT", "hello")], owner="owner222")
    result = merge([cluster("local", data, squatter, local=True)], SETTINGS)
    assert served(result)[registry_name, "TXT", ""].targets == ("hello",)
    assert issue_lines(result, reason="Ownership") == [
        f'warning: local/dnstest/x spec.endpoints[0]: ownership TXT "{registry_name}" for A "x.k.example.com" is '
        "left out: a data endpoint already has that name"
    ]
    by_root = {a.root_host: a for a in result.authoritative}
    assert [e.dns_name for e in by_root["x.k.example.com"].endpoints if e.record_type == "TXT"] == [registry_name]


def test_wildcard_and_literal_wildcard_label_share_one_ownership_txt_the_first_key_wins() -> None:
    eps = [endpoint("wildcard.w.k.example.com", "A", "192.0.2.2"), endpoint("*.w.k.example.com", "A", "192.0.2.1")]
    result = merge([cluster("local", record("w", "w.k.example.com", eps, owner="owner111"), local=True)], SETTINGS)
    name = txt_name("owner111", "A", "*.w.k.example.com")
    assert name == txt_name("owner111", "A", "wildcard.w.k.example.com")
    for endpoints in (result.zones[0].endpoints, result.authoritative[0].endpoints):
        (txt,) = [e for e in endpoints if e.record_type == "TXT"]
        assert (txt.dns_name, txt.label("ownedRecord")) == (name, "*.w.k.example.com")
    assert result.issues == ()


@pytest.mark.parametrize("enabled", [True, False])
def test_merge_leaves_the_cyclic_collector_as_it_found_it(enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        merge([worked_example_cluster(1, local=True)], SETTINGS)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
