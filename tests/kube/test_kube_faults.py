"""Cluster faults never turn into deletions: stale contributions are kept for --max-stale, then dropped loudly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.kube.kube_fleet import AUTH, HOST, SECRET_NS, UID, Fleet, dnsrecord, endpoints_of, fleet, lb_endpoints


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path) as f:
        f.apply("p1", dnsrecord("external-api", lb_endpoints(UID["p1"], "172.18.200.1", "GEO-EU", 100, True)))
        f.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.2", "GEO-NA", 125, False)))
        f.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.3", "GEO-EU", 100, True)))
        f.converge()
        yield f


def a_targets(f: Fleet, cluster: str) -> list[str]:
    return sorted(e["targets"][0] for e in endpoints_of(f, cluster).values() if e["recordType"] == "A")


def messages(report: Any) -> str:
    return "\n".join(str(i) for i in report.issues)


FAULTS: list[tuple[Any, float, str]] = [
    ("unreachable", 0.0, "unreachable"),
    ("slow", 1.0, "timed out after 0.5s"),
    (401, 0.0, "unauthorized (401)"),
    (403, 0.0, "forbidden (403)"),
]


@pytest.mark.parametrize(("fault", "delay", "cause"), FAULTS, ids=[str(f[0]) for f in FAULTS])
def test_faulty_cluster_keeps_its_records_until_max_stale_then_they_are_dropped(
    clusters: Fleet, fault: Any, delay: float, cause: str
) -> None:
    loop = clusters.loop("p1", max_stale=300.0, timeout=0.5)
    assert loop.sync_once().fresh == ("p1", "p2", "s1")
    clusters.servers["s1"].set_fault(fault, delay=delay)
    clusters.servers["p1"].reset_counters()

    clusters.clock.now += 120
    report = loop.sync_once()
    assert report.stale == ("s1",)
    assert f"cluster s1: {cause}" in messages(report)
    assert a_targets(clusters, "p1") == ["172.18.200.1", "172.18.200.2", "172.18.200.3"]
    assert report.writes.writes == 0  # nothing changed: no deletion, no status churn
    assert clusters.servers["p1"].write_count == 0

    clusters.clock.now += 200  # 320 s since the last successful read of s1
    report = loop.sync_once()
    assert report.dropped == ("s1",)
    assert "DROPPED" in messages(report)
    assert a_targets(clusters, "p1") == ["172.18.200.1", "172.18.200.2"]

    clusters.servers["s1"].set_fault(None)
    report = loop.sync_once()
    assert report.fresh == ("p1", "p2", "s1")
    assert a_targets(clusters, "p1") == ["172.18.200.1", "172.18.200.2", "172.18.200.3"]


def test_cluster_never_reached_since_start_keeps_the_endpoints_nobody_else_owns(clusters: Fleet) -> None:
    clusters.servers["s1"].set_fault("unreachable")
    # A fresh process: no memory of s1, only the authoritative record written before.
    loop = clusters.loop("p1", max_stale=300.0)
    report = loop.sync_once()
    assert report.unreached == ("s1",)
    assert "never read since start" in messages(report)
    assert a_targets(clusters, "p1") == ["172.18.200.1", "172.18.200.2", "172.18.200.3"]
    # The reachable clusters still propagate their changes meanwhile.
    clusters.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.22", "GEO-NA", 125, False)))
    loop.sync_once()
    assert a_targets(clusters, "p1") == ["172.18.200.1", "172.18.200.22", "172.18.200.3"]
    clusters.clock.now += 301
    report = loop.sync_once()
    assert report.dropped == ("s1",)
    assert a_targets(clusters, "p1") == ["172.18.200.1", "172.18.200.22"]


def test_misconfigured_cluster_secret_is_reported_by_name_and_contributes_nothing_new(clusters: Fleet) -> None:
    core = k8s.CoreV1Api(clusters.api("p1"))
    core.delete_namespaced_secret("s1", SECRET_NS)
    bad = "apiVersion: v1\nkind: Config\nusers:\n- name: x\n  user:\n    exec: {command: /bin/sh}\n"
    clusters.connect("p1", "s1", kubeconfig=bad)
    report = clusters.loop("p1", max_stale=300.0).sync_once()
    assert report.unreached == ("s1",)
    text = messages(report)
    assert "cluster s1 (secret kuadns-system/s1)" in text
    assert "'exec' is not allowed" in text
    assert a_targets(clusters, "p1") == ["172.18.200.1", "172.18.200.2", "172.18.200.3"]


def test_unsafe_mass_deletion_is_refused_without_force(clusters: Fleet) -> None:
    # Four more hosts contributed by the secondary only: losing them all is most of the zone.
    for i in range(4):
        host = f"app{i}.k.example.com"
        clusters.apply("s1", dnsrecord(f"app{i}", lb_endpoints(UID["s1"], f"10.0.0.{i}", "GEO-EU", 100, True, host),
                                       root=host))
    clusters.converge()
    before = clusters.authoritative("p1")
    assert len(before) == 5
    for i in range(4):
        clusters.delete("s1", f"app{i}")
    report = clusters.loop("p1").sync_once()
    assert report.refused
    assert "zone k.example.com" in report.refused[0]
    assert "--force" in report.refused[0]
    assert clusters.authoritative("p1") == before
    assert report.writes.writes == 0
    forced = clusters.loop("p1", force=True).sync_once()
    assert forced.writes.deleted == 4
    assert set(clusters.authoritative("p1")) == {AUTH}
    assert HOST in {e[0] for e in endpoints_of(clusters, "p1")}


def test_unreachable_local_cluster_writes_nothing_and_keeps_rendering_from_what_it_knows(
    clusters: Fleet, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    loop = clusters.loop("p1", out=out, max_stale=300.0, timeout=0.5)
    first = loop.sync_once()
    assert first.bundle is not None
    clusters.servers["p1"].set_fault("unreachable")
    clusters.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.33", "GEO-EU", 100, True)))
    for server in clusters.servers.values():
        server.reset_counters()
    report = loop.sync_once()
    assert report.stale == ("p1",)
    assert report.fresh == ("p2", "s1")  # the remote clusters known before are still read
    assert sum(s.write_count for s in clusters.servers.values()) == 0  # no status claims without the local cluster
    assert report.bundle_changed  # the bundle follows the reachable clusters
    assert "172.18.200.33" in "".join(p.read_text() for p in (report.bundle or out).rglob("*.zone"))
    clusters.servers["p1"].set_fault(None)
    assert loop.sync_once().writes.updated == 1
