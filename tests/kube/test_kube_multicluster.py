"""The seed's multi-cluster scenario on three emulated clusters (two primaries, one secondary), end to end
through the official client: delegation, convergence, propagation, deletion, faults, status, safety."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kuadns_sync.bundle import read_bundle
from kuadns_sync.hashing import root_host_hash
from tests.kube.kube_fleet import AUTH, HOST, NS, UID, Fleet, dnsrecord, endpoint, endpoints_of, fleet, lb_endpoints


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path) as f:
        # The documented example (kuadrant-coredns.md §6.1): cluster 1 and the secondary EU with the
        # default geo, cluster 2 NA.
        f.apply("p1", dnsrecord("external-api", lb_endpoints(UID["p1"], "172.18.200.1", "GEO-EU", 100, True)))
        f.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.2", "GEO-NA", 125, False)))
        f.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.3", "GEO-EU", 100, True)))
        yield f


def zone_files(out: Path) -> dict[str, str]:
    bundle = read_bundle(out)
    root = bundle.path / "zones"
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_both_primaries_converge_to_identical_authoritative_records_and_bundles(
    clusters: Fleet, tmp_path: Path
) -> None:
    outs = {"p1": tmp_path / "out-p1", "p2": tmp_path / "out-p2"}
    clusters.converge(outs)
    auth1, auth2 = clusters.authoritative("p1"), clusters.authoritative("p2")
    assert list(auth1) == [AUTH]
    assert auth1 == auth2  # same names, labels, endpoints
    labels, spec = auth1[AUTH]
    assert labels == {
        "kuadrant.io/authoritative-record": "true",
        "kuadrant.io/authoritative-record-hash": root_host_hash(HOST),
        "kuadrant.io/coredns-zone-name": "k.example.com",
        "kuadrant.io/dns-provider-name": "coredns",
    }
    eps = endpoints_of(clusters, "p1")
    # Three gateways' A records, one per cluster; the shared host CNAME owned by all three.
    a_targets = sorted(e["targets"][0] for e in eps.values() if e["recordType"] == "A")
    assert a_targets == ["172.18.200.1", "172.18.200.2", "172.18.200.3"]
    assert len(eps[(HOST, "CNAME", "")]["labels"]["owner"].split("&&")) == 3
    assert zone_files(outs["p1"]) == zone_files(outs["p2"])
    assert any(name.endswith(".zone") for name in zone_files(outs["p1"]))


def test_statuses_follow_upstream_local_remote_and_secondary(clusters: Fleet) -> None:
    clusters.converge()
    own = clusters.get("p1", "external-api")["status"]
    conds = {c["type"]: c for c in own["conditions"]}
    assert conds["Ready"]["status"] == "True"
    assert conds["Ready"]["reason"] == "ProviderSuccess"
    assert conds["ReadyForDelegation"]["reason"] == "FinalizersSet"
    assert own["zoneID"] == AUTH
    assert own["zoneDomainName"] == HOST
    assert own["observedGeneration"] == 1
    assert len(own["domainOwners"]) == 3
    # The secondary marked its record; each primary wrote its own sub-status, keyed by its cluster id.
    remote = clusters.get("s1", "external-api")["status"]
    assert {c["type"]: c["status"] for c in remote["conditions"]} == {"ReadyForDelegation": "True", "Ready": "True"}
    assert sorted(remote["remoteRecordStatuses"]) == [UID["p1"], UID["p2"]]
    for sub in remote["remoteRecordStatuses"].values():
        assert sub["conditions"][0]["reason"] == "ProviderSuccess"
        assert sub["zoneID"] == AUTH
    # A primary's record seen by the other primary gets that primary's sub-status only.
    assert sorted(clusters.get("p2", "external-api")["status"]["remoteRecordStatuses"]) == [UID["p1"]]
    auth_status = clusters.get("p1", AUTH)["status"]
    assert auth_status["zoneID"] == "k.example.com"
    assert auth_status["conditions"][0]["reason"] == "ProviderSuccess"


def test_no_change_resync_writes_nothing_anywhere(clusters: Fleet) -> None:
    clusters.converge()
    for server in clusters.servers.values():
        server.reset_counters()
    for name in ("s1", "p1", "p2"):
        report = clusters.loop(name).sync_once()
        assert report.writes.writes == 0
    assert {name: s.write_count for name, s in clusters.servers.items()} == {"p1": 0, "p2": 0, "s1": 0}


def test_update_and_delete_on_the_secondary_propagate_to_both_primaries(clusters: Fleet) -> None:
    clusters.converge()
    clusters.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.33", "GEO-EU", 100, True)))
    clusters.converge()
    for primary in ("p1", "p2"):
        a_targets = sorted(e["targets"][0] for e in endpoints_of(clusters, primary).values() if e["recordType"] == "A")
        assert a_targets == ["172.18.200.1", "172.18.200.2", "172.18.200.33"]
    clusters.delete("s1", "external-api")
    clusters.converge()
    for primary in ("p1", "p2"):
        eps = endpoints_of(clusters, primary)
        a_targets = sorted(e["targets"][0] for e in eps.values() if e["recordType"] == "A")
        assert a_targets == ["172.18.200.1", "172.18.200.2"]
        assert len(eps[(HOST, "CNAME", "")]["labels"]["owner"].split("&&")) == 2
    assert clusters.authoritative("p1") == clusters.authoritative("p2")


def test_removing_the_last_source_removes_the_authoritative_record(clusters: Fleet) -> None:
    clusters.converge()
    for name in ("s1", "p2", "p1"):  # one gateway at a time: each step is below the safety threshold
        clusters.delete(name, "external-api")
        clusters.converge()
    assert clusters.authoritative("p1") == {}
    assert clusters.authoritative("p2") == {}


def test_non_delegating_record_with_another_provider_is_neither_served_nor_touched(clusters: Fleet) -> None:
    clusters.create_secret("s1", {
        "metadata": {"name": "aws-credentials", "namespace": NS}, "type": "kuadrant.io/aws",
        "stringData": {"AWS_ACCESS_KEY_ID": "x"},
    })
    other = dnsrecord("aws-record", [endpoint("www.k.example.com", "A", ["192.0.2.7"], 60)],
                      root="www.k.example.com", delegate=False, providerRef={"name": "aws-credentials"})
    clusters.apply("s1", other)
    clusters.converge()
    assert set(clusters.authoritative("p1")) == {AUTH}
    served = {e["dnsName"] for _, spec in clusters.authoritative("p1").values() for e in spec["endpoints"]}
    assert "www.k.example.com" not in served
    assert "status" not in clusters.get("s1", "aws-record")


def test_a_bad_record_gets_ready_false_with_a_clear_message_and_nothing_else_is_lost(clusters: Fleet) -> None:
    bad = dnsrecord("broken", [endpoint("bad.k.example.com", "A", ["not-an-ip"], 60)], root="bad.k.example.com")
    clusters.apply("p1", bad)
    clusters.converge()
    status = clusters.get("p1", "broken")["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "ValidationError"
    assert "spec.endpoints[0]" in ready["message"]
    assert "not-an-ip" in ready["message"]
    assert set(clusters.authoritative("p1")) == {AUTH}
    assert len([e for e in endpoints_of(clusters, "p1").values() if e["recordType"] == "A"]) == 3


def test_authoritative_record_that_cannot_be_written_makes_its_sources_not_ready(clusters: Fleet) -> None:
    # Delegation needs the same namespace on the primaries (kuadrant-coredns.md §3.8 step 4).
    other = dnsrecord("team-api", lb_endpoints(UID["s1"], "10.9.9.9", "GEO-EU", 100, True, "team.k.example.com"),
                      root="team.k.example.com")
    other["metadata"]["namespace"] = "team-a"
    clusters.apply("s1", other)
    reports = []
    for _ in range(2):
        clusters.loop("s1").sync_once()
        reports.append(clusters.loop("p1").sync_once())
    text = "\n".join(str(i) for i in reports[-1].issues)
    assert "namespace team-a does not exist in cluster p1" in text
    sub = clusters.get("s1", "team-api", "team-a")["status"]["remoteRecordStatuses"][UID["p1"]]
    ready = sub["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "ProviderError")
    assert ready["message"].startswith("The DNS provider failed to ensure the record: ")
    assert "zoneID" not in sub
    assert set(clusters.authoritative("p1")) == {AUTH}  # everything else is written


def test_a_long_running_loop_repairs_objects_edited_behind_its_back(clusters: Fleet) -> None:
    clusters.converge()
    loop = clusters.loop("p1")
    loop.sync_once()
    assert loop.sync_once().writes.writes == 0  # settled: nothing compared as changed
    # Somebody edits the authoritative record and wipes a source record's status.
    auth = clusters.get("p1", AUTH)
    kept = auth["spec"]["endpoints"][1:]
    auth["spec"]["endpoints"] = kept
    clusters.custom("p1").replace_namespaced_custom_object("kuadrant.io", "v1alpha1", NS, "dnsrecords", AUTH, auth)
    clusters.custom("s1").patch_namespaced_custom_object_status(
        "kuadrant.io", "v1alpha1", NS, "dnsrecords", "external-api",
        {"status": {"remoteRecordStatuses": {UID["p1"]: None}}},
    )
    report = loop.sync_once()
    assert report.writes.updated == 1
    assert len(clusters.get("p1", AUTH)["spec"]["endpoints"]) == len(kept) + 1
    assert UID["p1"] in clusters.get("s1", "external-api")["status"]["remoteRecordStatuses"]
    assert loop.sync_once().writes.writes == 0
