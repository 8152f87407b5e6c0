"""Unreachable clusters keep their last contribution for at most --max-stale (pure stale module)."""

from __future__ import annotations

from typing import Any

from kuadns_sync.hashing import short_hash
from kuadns_sync.kube.stale import (
    UNATTRIBUTED_CLUSTER,
    ClusterFailure,
    ClusterMemory,
    carry_over,
    known_owners,
    unattributed_records,
)
from kuadns_sync.model import ClusterSnapshot

T0 = 1_800_000_000.0


def record(name: str, uid: str, owner: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"rootHost": "api.k.example.com", "delegate": True, "endpoints": []}
    if owner:
        spec["ownerID"] = owner
    return {"metadata": {"name": name, "namespace": "dnstest", "uid": uid}, "spec": spec}


def snap(name: str, *records: dict[str, Any]) -> ClusterSnapshot:
    return ClusterSnapshot(name=name, records=tuple(records))


def test_fresh_read_is_used_and_remembered() -> None:
    east = snap("east", record("a", "u1"))
    carried = carry_over({}, {"east": east}, T0, 600)
    assert carried.snapshots == (east,)
    assert carried.fresh == {"east"}
    assert carried.complete
    assert carried.memory["east"] == ClusterMemory(east, T0, None)
    assert carried.issues == ()


def test_unreachable_cluster_keeps_last_snapshot_marked_stale_until_max_stale() -> None:
    east = snap("east", record("a", "u1"))
    memory = carry_over({}, {"east": east}, T0, 600).memory
    failure = ClusterFailure("east", "unreachable: connection refused")

    later = carry_over(memory, {"east": failure}, T0 + 300, 600)
    assert later.stale == {"east"}
    assert [s.stale_since for s in later.snapshots] == [T0]
    assert later.snapshots[0].records == east.records
    assert [i.severity for i in later.issues] == ["warning"]
    assert "cluster east: unreachable: connection refused" in later.issues[0].message
    assert "5m00s ago" in later.issues[0].message

    # The outage start is remembered; the age is measured from the last successful read.
    too_late = carry_over(later.memory, {"east": failure}, T0 + 601, 600)
    assert too_late.snapshots == ()
    assert too_late.dropped == {"east"}
    assert too_late.issues[0].severity == "error"
    assert "DROPPED" in too_late.issues[0].message
    assert too_late.memory["east"].failing_since == T0 + 300


def test_cluster_back_after_outage_is_fresh_again() -> None:
    east = snap("east", record("a", "u1"))
    memory = carry_over({}, {"east": ClusterFailure("east", "timed out after 2s")}, T0, 600).memory
    back = carry_over(memory, {"east": east}, T0 + 5000, 600)
    assert back.fresh == {"east"}
    assert back.memory["east"].failing_since is None


def test_never_reached_cluster_is_unreached_within_max_stale_then_dropped() -> None:
    failure = ClusterFailure("west", "unauthorized (401): the cluster rejected our credentials")
    first = carry_over({}, {"west": failure}, T0, 60)
    assert first.unreached == {"west"}
    assert first.snapshots == ()
    assert "never read since start" in first.issues[0].message
    second = carry_over(first.memory, {"west": failure}, T0 + 61, 60)
    assert second.unreached == frozenset()
    assert second.dropped == {"west"}


def test_cluster_removed_from_configuration_is_forgotten() -> None:
    memory = carry_over({}, {"east": snap("east")}, T0, 600).memory
    assert carry_over(memory, {}, T0 + 1, 600).memory == {}


def test_known_owners_uses_spec_owner_or_uid_hash_and_skips_authoritative_records() -> None:
    auth = record("authoritative-record-x", "u9")
    auth["metadata"]["labels"] = {"kuadrant.io/authoritative-record": "true"}
    owners = known_owners([snap("east", record("a", "u1"), record("b", "u2", owner="explicit1")), snap("w", auth)])
    assert owners == {short_hash("u1"), "explicit1"}


def authoritative(endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "authoritative-record-13tjkx3j",
            "namespace": "dnstest",
            "labels": {"kuadrant.io/authoritative-record": "true"},
        },
        "spec": {"rootHost": "api.k.example.com", "endpoints": endpoints},
    }


def test_unattributed_endpoints_become_one_record_per_unknown_owner() -> None:
    auth = authoritative(
        [
            {"dnsName": "api.k.example.com", "recordType": "CNAME", "targets": ["klb.api.k.example.com"],
             "labels": {"owner": "known001&&lost0001"}},
            {"dnsName": "a.klb.api.k.example.com", "recordType": "A", "targets": ["1.2.3.4"],
             "labels": {"owner": "known001"}},
            {"dnsName": "b.klb.api.k.example.com", "recordType": "A", "targets": ["5.6.7.8"], "recordTTL": 60,
             "labels": {"owner": "lost0001"}},
            {"dnsName": "kuadrant-abcdefgh-a-b.klb.api.k.example.com", "recordType": "TXT",
             "targets": ['"heritage=external-dns,external-dns/owner=lost0001,external-dns/version=1"'],
             "labels": {"owner": "lost0001"}},
            {"dnsName": "x.api.k.example.com", "recordType": "A", "targets": ["9.9.9.9"]},
        ]
    )
    extra = unattributed_records([auth], {"known001"}, T0)
    assert extra is not None
    assert extra.name == UNATTRIBUTED_CLUSTER
    assert extra.stale_since == T0
    assert len(extra.records) == 1
    rec = extra.records[0]
    assert rec["metadata"]["namespace"] == "dnstest"
    assert rec["spec"]["ownerID"] == "lost0001"
    assert rec["spec"]["delegate"] is True
    assert rec["spec"]["rootHost"] == "api.k.example.com"
    assert rec["spec"]["endpoints"] == [
        {"dnsName": "api.k.example.com", "recordType": "CNAME", "targets": ["klb.api.k.example.com"]},
        {"dnsName": "b.klb.api.k.example.com", "recordType": "A", "targets": ["5.6.7.8"], "recordTTL": 60},
    ]


def test_everything_attributed_needs_no_stand_in() -> None:
    auth = authoritative(
        [{"dnsName": "api.k.example.com", "recordType": "A", "targets": ["1.1.1.1"], "labels": {"owner": "o1"}}]
    )
    assert unattributed_records([auth], {"o1"}, T0) is None


def test_the_local_cluster_never_read_has_no_stand_in() -> None:
    carried = carry_over({}, {"east": ClusterFailure("east", "unreachable: connection refused")}, T0, 600, "east")
    assert carried.unreached == frozenset()
    assert carried.dropped == {"east"}
    assert "cluster east (local)" in carried.issues[0].message
