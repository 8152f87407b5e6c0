"""Status patches: upstream fields and reasons, remote sub-status, and nothing when nothing changed."""

from __future__ import annotations

from typing import Any

from kuadns_sync.dev.patch import merge_patch
from kuadns_sync.hashing import short_hash
from kuadns_sync.kube.status import (
    Condition,
    authoritative_patches,
    merge_conditions,
    patch_local,
    primary_patches,
    secondary_status,
    timestamp,
)
from kuadns_sync.model import (
    AuthoritativeRecord,
    ClusterSnapshot,
    Endpoint,
    MergeResult,
    Origin,
    RecordVerdict,
)

T0 = 1_800_000_000.0
PRIMARY = "0a1b2c3d-0000-4000-8000-000000000001"
AUTH = AuthoritativeRecord(
    namespace="dnstest",
    name="authoritative-record-13tjkx3j",
    root_host="api.k.example.com",
    zone="k.example.com",
    labels=(("kuadrant.io/authoritative-record", "true"),),
    endpoints=(
        Endpoint("api.k.example.com", "CNAME", ("klb.api.k.example.com",), labels=(("owner", "o2&&o1"),)),
        Endpoint("klb.api.k.example.com", "CNAME", ("x",), labels=(("owner", "o3"),)),
    ),
)


def dnsrecord(name: str, *, delegate: bool = True, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "dnstest", "uid": f"uid-{name}", "generation": 3},
        "spec": {"rootHost": "api.k.example.com", "delegate": delegate, "endpoints": []},
    }
    if status is not None:
        obj["status"] = status
    return obj


def result_for(*verdicts: RecordVerdict) -> MergeResult:
    return MergeResult(authoritative=(AUTH,), zones=(), verdicts=verdicts, issues=())


def ok(cluster: str, name: str) -> RecordVerdict:
    return RecordVerdict(
        Origin(cluster, "dnstest", name), True, "ProviderSuccess", "Provider ensured the dns record",
        authoritative_record=AUTH.name, zone="k.example.com",
    )


def apply(obj: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = merge_patch(obj, body)
    return result


def test_local_delegating_record_gets_ready_ready_for_delegation_and_zone_fields() -> None:
    raw = dnsrecord("api")
    local = ClusterSnapshot("east", (raw,), local=True)
    patches = primary_patches([local], result_for(ok("east", "api")), PRIMARY, T0)
    assert len(patches) == 1
    status = patches[0].body["status"]
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("ReadyForDelegation", "True", "FinalizersSet"),
        ("Ready", "True", "ProviderSuccess"),
    ]
    assert status["conditions"][1]["message"] == "Provider ensured the dns record"
    assert status["conditions"][1]["observedGeneration"] == 3
    assert status["conditions"][1]["lastTransitionTime"] == timestamp(T0)
    assert status["observedGeneration"] == 3
    assert status["ownerID"] == short_hash("uid-api")
    assert status["zoneID"] == "authoritative-record-13tjkx3j"
    assert status["zoneDomainName"] == "api.k.example.com"
    assert status["domainOwners"] == ["o1", "o2"]


def test_no_patch_when_status_already_matches_even_later() -> None:
    raw = dnsrecord("api")
    result = result_for(ok("east", "api"))
    first = primary_patches([ClusterSnapshot("east", (raw,), local=True)], result, PRIMARY, T0)
    updated = apply(raw, first[0].body)
    again = primary_patches([ClusterSnapshot("east", (updated,), local=True)], result, PRIMARY, T0 + 3600)
    assert again == []


def test_remote_record_gets_sub_status_keyed_by_primary_cluster_id_only() -> None:
    raw = dnsrecord("api", status={"conditions": [{"type": "Ready", "status": "True", "reason": "ProviderSuccess"}]})
    remote = ClusterSnapshot("secondary", (raw,))
    patches = primary_patches([remote], result_for(ok("secondary", "api")), PRIMARY, T0)
    assert len(patches) == 1
    assert patches[0].cluster == "secondary"
    body = patches[0].body
    assert list(body["status"]) == ["remoteRecordStatuses"]
    sub = body["status"]["remoteRecordStatuses"][PRIMARY]
    assert [(c["type"], c["reason"]) for c in sub["conditions"]] == [("Ready", "ProviderSuccess")]
    assert sub["zoneID"] == AUTH.name
    # Applying it keeps the record's own status and makes the next pass silent.
    updated = apply(raw, body)
    assert updated["status"]["conditions"][0]["reason"] == "ProviderSuccess"
    assert primary_patches([ClusterSnapshot("secondary", (updated,))], result_for(ok("secondary", "api")),
                           PRIMARY, T0 + 60) == []


def test_records_without_verdict_are_not_touched() -> None:
    raw = dnsrecord("foreign", delegate=False)
    assert primary_patches([ClusterSnapshot("east", (raw,), local=True)], result_for(), PRIMARY, T0) == []
    assert primary_patches([ClusterSnapshot("west", (raw,))], result_for(), PRIMARY, T0) == []


def test_validation_error_sets_ready_false_clears_zone_and_no_ready_for_delegation() -> None:
    raw = dnsrecord("bad", status={"zoneID": "old", "zoneDomainName": "old"})
    verdict = RecordVerdict(Origin("east", "dnstest", "bad"), False, "ValidationError",
                            "validation of DNSRecord failed: weight \"x\" is not an integer")
    patches = primary_patches([ClusterSnapshot("east", (raw,), local=True)], result_for(verdict), PRIMARY, T0)
    status = patches[0].body["status"]
    conds = [(c["type"], c["status"], c["reason"]) for c in status["conditions"]]
    assert conds == [("Ready", "False", "ValidationError")]
    assert "is not an integer" in status["conditions"][0]["message"]
    assert status["zoneID"] is None
    assert status["zoneDomainName"] is None
    assert "domainOwners" not in status  # absent already: nothing to remove


def test_deleting_remote_record_with_our_sub_status_is_marked_removed() -> None:
    raw = dnsrecord("gone", status={"remoteRecordStatuses": {PRIMARY: {"zoneID": AUTH.name}}})
    raw["metadata"]["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    patches = primary_patches([ClusterSnapshot("west", (raw,))], result_for(), PRIMARY, T0)
    sub = patches[0].body["status"]["remoteRecordStatuses"][PRIMARY]
    assert sub["conditions"][0]["reason"] == "ProviderEndpointsRemoved"
    assert sub["zoneID"] is None


def test_transition_time_kept_when_status_unchanged_and_moved_when_it_flips() -> None:
    old: list[dict[str, Any]] = [{"type": "Ready", "status": "True", "reason": "ProviderSuccess", "message": "m",
            "observedGeneration": 1, "lastTransitionTime": "2020-01-01T00:00:00Z"},
           {"type": "Healthy", "status": "True", "reason": "AllChecksPassed"}]
    same = merge_conditions(old, [Condition("Ready", True, "ProviderSuccess", "m2")], 1, "NOW")
    assert same is not None
    assert same[0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert same[0]["message"] == "m2"
    assert same[1] == old[1]  # somebody else's condition is kept as is
    flipped = merge_conditions(old, [Condition("Ready", False, "ValidationError", "bad")], 1, "NOW")
    assert flipped is not None
    assert flipped[0]["lastTransitionTime"] == "NOW"
    assert merge_conditions(old, [Condition("Ready", True, "ProviderSuccess", "m")], 1, "NOW") is None


def test_secondary_marks_valid_records_ready_for_delegation_and_reports_invalid_ones() -> None:
    raw = dnsrecord("api")
    verdict = RecordVerdict(Origin("sec", "dnstest", "api"), True, "ProviderSuccess", "Provider ensured the dns record")
    good = patch_local("sec", raw, secondary_status(raw, verdict), timestamp(T0))
    assert good is not None
    conds = good.body["status"]["conditions"]
    assert [(c["type"], c["status"], c["reason"]) for c in conds] == [
        ("ReadyForDelegation", "True", "FinalizersSet"),
        ("Ready", "True", "ProviderSuccess"),
    ]
    message = "validation of DNSRecord failed: spec.endpoints[0]: dnsName is not under rootHost"
    invalid = RecordVerdict(Origin("sec", "dnstest", "api"), False, "ValidationError", message)
    bad = patch_local("sec", raw, secondary_status(raw, invalid), timestamp(T0))
    assert bad is not None
    (cond,) = bad.body["status"]["conditions"]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "ValidationError", message)


def test_local_record_of_another_provider_is_never_written() -> None:
    raw = dnsrecord("aws", delegate=False)
    verdict = RecordVerdict(Origin("east", "dnstest", "aws"), False, "NotServed", "provider secret has type aws")
    assert primary_patches([ClusterSnapshot("east", (raw,), local=True)], result_for(verdict), PRIMARY, T0) == []


def test_authoritative_record_status_follows_upstream() -> None:
    obj = {"metadata": {"name": AUTH.name, "namespace": "dnstest", "uid": "auth-uid", "generation": 2,
                        "labels": {"kuadrant.io/authoritative-record": "true"}},
           "spec": {"rootHost": "api.k.example.com"}}
    (patch,) = authoritative_patches("east", [obj], result_for(), T0)
    status = patch.body["status"]
    assert status["ownerID"] == short_hash("auth-uid")
    assert status["domainOwners"] == [short_hash("auth-uid")]
    assert status["zoneID"] == status["zoneDomainName"] == "k.example.com"
    assert authoritative_patches("east", [apply(obj, patch.body)], result_for(), T0 + 10) == []
