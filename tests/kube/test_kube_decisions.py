"""Pure decisions of the writer (what to create/update/delete) and of the lease (who leads)."""

from __future__ import annotations

from typing import Any

import pytest

from kuadns_sync.kube.lease import LeaseState, decide
from kuadns_sync.kube.writer import desired_object, needs_update, plan_writes
from kuadns_sync.model import AuthoritativeRecord, Endpoint

LABELS = (
    ("kuadrant.io/authoritative-record", "true"),
    ("kuadrant.io/authoritative-record-hash", "13tjkx3j"),
    ("kuadrant.io/coredns-zone-name", "k.example.com"),
    ("kuadrant.io/dns-provider-name", "coredns"),
)


def auth(name: str, *targets: str, zone: str = "k.example.com") -> AuthoritativeRecord:
    labels = tuple((k, zone if k == "kuadrant.io/coredns-zone-name" else v) for k, v in LABELS)
    return AuthoritativeRecord(
        namespace="dnstest", name=name, root_host="api.k.example.com", zone=zone, labels=labels,
        endpoints=(Endpoint("api.k.example.com", "A", tuple(targets), ttl=60),),
    )


def in_cluster(record: AuthoritativeRecord, **extra_labels: str) -> dict[str, Any]:
    obj = record.to_manifest()
    obj["metadata"].update(resourceVersion="7", uid="u")
    obj["metadata"]["labels"].update(extra_labels)
    obj["spec"]["providerRef"] = {"name": ""}
    return obj


def test_plan_creates_missing_updates_changed_deletes_orphans_and_leaves_equal_alone() -> None:
    same = auth("authoritative-record-same", "1.1.1.1")
    changed = auth("authoritative-record-chg", "2.2.2.2")
    new = auth("authoritative-record-new", "3.3.3.3")
    orphan = in_cluster(auth("authoritative-record-old", "4.4.4.4"))
    foreign = {"metadata": {"name": "user-record", "namespace": "dnstest"}, "spec": {}}
    current = [in_cluster(same), in_cluster(auth("authoritative-record-chg", "9.9.9.9")), orphan, foreign]
    actions = plan_writes([same, changed, new], current)
    assert [(a.op, a.name) for a in actions] == [
        ("delete", "authoritative-record-old"),
        ("update", "authoritative-record-chg"),
        ("create", "authoritative-record-new"),
    ]


def test_foreign_labels_and_spec_fields_are_kept_on_update_and_do_not_trigger_one() -> None:
    record = auth("authoritative-record-x", "1.1.1.1")
    existing = in_cluster(record, team="dns")
    assert not needs_update(record, existing)
    moved = auth("authoritative-record-x", "1.1.1.1", zone="example.com")
    assert needs_update(moved, existing)
    body = desired_object(moved, existing)
    assert body["metadata"]["labels"]["team"] == "dns"
    assert body["metadata"]["labels"]["kuadrant.io/coredns-zone-name"] == "example.com"
    assert body["metadata"]["resourceVersion"] == "7"  # optimistic concurrency on replace
    assert body["spec"]["providerRef"] == {"name": ""}


def test_a_zone_label_we_no_longer_want_is_removed() -> None:
    record = AuthoritativeRecord("dnstest", "authoritative-record-x", "api.k.example.com", None, LABELS[:2], ())
    existing = in_cluster(auth("authoritative-record-x"))
    assert needs_update(record, existing)
    labels = desired_object(record, existing)["metadata"]["labels"]
    assert "kuadrant.io/coredns-zone-name" not in labels
    assert "kuadrant.io/dns-provider-name" not in labels


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        (None, 100.0, "create"),
        (LeaseState("me", 30, 100.0), 105.0, "hold"),  # ours, renewed recently: no write
        (LeaseState("me", 30, 100.0), 111.0, "renew"),  # a third of the duration elapsed
        (LeaseState("other", 30, 100.0), 129.0, "wait"),
        (LeaseState("other", 30, 100.0), 131.0, "take"),  # expired
        (LeaseState(None, 30, None), 0.0, "take"),  # released
    ],
)
def test_lease_decisions(state: LeaseState | None, now: float, expected: str) -> None:
    assert decide(state, "me", now, 30) == expected


def source(**meta: Any) -> dict[str, Any]:
    metadata = {"name": "api", "namespace": "dnstest", "uid": "u1", "generation": 1, **meta}
    return {"metadata": metadata, "spec": {"rootHost": "api.k.example.com", "delegate": True}}


def test_merge_fingerprint_ignores_our_own_writes_but_not_input_changes() -> None:
    from kuadns_sync.kube.memo import fingerprint
    from kuadns_sync.model import ClusterSnapshot

    def key(*records: dict[str, Any], stale: float | None = None) -> object:
        return fingerprint([ClusterSnapshot("east", records, stale_since=stale)])

    base = key(source())
    with_status = source()
    with_status["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "ProviderSuccess"}],
                             "remoteRecordStatuses": {"x": {}}}
    with_status["metadata"]["resourceVersion"] = "99"
    authoritative = source(name="authoritative-record-x", labels={"kuadrant.io/authoritative-record": "true"})
    assert key(with_status) == base  # statuses we wrote
    assert key(source(), authoritative) == base  # our own output
    assert key(source(generation=2)) != base  # spec changed
    assert key(source(labels={"team": "a"})) != base
    assert key(source(deletionTimestamp="2027-01-01T00:00:00Z")) != base
    assert key(source(), stale=5.0) != base
    no_generation = source(generation=None)
    changed = source(generation=None)
    changed["spec"]["rootHost"] = "www.k.example.com"
    assert key(no_generation) != key(changed)  # without a generation the spec itself counts
