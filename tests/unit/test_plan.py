"""Plans over bundle files: endpoint changes, zone-file diffs, idempotency, safety threshold."""

from __future__ import annotations

from typing import Any

import yaml

from kuadns_sync.plan import diff_files, format_text, to_json, unsafe_reasons


def _record(endpoints: list[dict[str, Any]], zone: str = "k.example.com") -> bytes:
    obj = {
        "metadata": {
            "name": "authoritative-record-x",
            "namespace": "ns",
            "labels": {"kuadrant.io/coredns-zone-name": zone},
        },
        "spec": {"rootHost": "api.k.example.com", "endpoints": endpoints},
    }
    return yaml.safe_dump(obj).encode()


def _a(name: str, ip: str) -> dict[str, Any]:
    return {"dnsName": name, "recordType": "A", "targets": [ip], "recordTTL": 60}


def test_same_files_give_an_empty_plan() -> None:
    files = {"authoritative/ns/x.yaml": _record([_a("a.k.example.com", "192.0.2.1")]), "zones/k/default.zone": b"x\n"}
    plan = diff_files(files, files)
    assert plan.empty
    assert "0 create, 0 update, 0 delete" in format_text(plan)


def test_creates_updates_deletes_are_ordered_and_counted() -> None:
    old = {"authoritative/ns/x.yaml": _record([_a("a.k.example.com", "192.0.2.1"), _a("b.k.example.com", "192.0.2.2")])}
    new = {"authoritative/ns/x.yaml": _record([_a("a.k.example.com", "192.0.2.9"), _a("c.k.example.com", "192.0.2.3")])}
    plan = diff_files(old, new)
    assert [(c.op, c.dns_name) for c in plan.changes] == [
        ("delete", "b.k.example.com"),
        ("create", "c.k.example.com"),
        ("update", "a.k.example.com"),
    ]
    text = format_text(plan)
    assert "- b.k.example.com A ttl=60 [192.0.2.2]" in text
    assert "1 create, 1 update, 1 delete (2 existing endpoints)" in text
    assert '"op": "create"' in to_json(plan)


def test_zone_file_changes_are_unified_diffs() -> None:
    plan = diff_files({"zones/k/default.zone": b"a\nb\n"}, {"zones/k/default.zone": b"a\nc\n"})
    assert plan.files[0].path == "zones/k/default.zone"
    assert "-b\n+c\n" in plan.files[0].diff


def test_mass_deletion_is_unsafe_but_small_zones_are_not() -> None:
    many = [_a(f"h{i}.k.example.com", "192.0.2.1") for i in range(20)]
    old = {"authoritative/ns/x.yaml": _record(many)}
    new = {"authoritative/ns/x.yaml": _record(many[:10])}
    reasons = unsafe_reasons(diff_files(old, new))
    assert reasons and "10 of 20" in reasons[0]
    small_old = {"authoritative/ns/x.yaml": _record(many[:4])}
    assert unsafe_reasons(diff_files(small_old, {"authoritative/ns/x.yaml": _record([])})) == []
