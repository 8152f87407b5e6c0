"""The write path: prepared calls raise what the generated client raises, statuses that report on an
authoritative record are written only after that record (while the other clusters' statuses go out at
once), every record gets its status once, a replica that loses the Lease mid-pass stops writing, and the
bundle rendered in a forked child is the same as one rendered in-process (a child that fails is replaced
by an in-process render)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kuadns_sync.bundle import read_bundle
from kuadns_sync.forked import FORK_AVAILABLE, Forked
from kuadns_sync.kube import objects
from kuadns_sync.kube.lease import LeaderLease
from kuadns_sync.kube.rest import Rest, record_path
from kuadns_sync.model import RawObject
from tests.kube.kube_fleet import NS, UID, Fleet, dnsrecord, fleet, lb_endpoints

HOSTS = [f"app{i}.k.example.com" for i in range(8)]


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path, ("p1", "s1", "s2")) as f:
        for i, host in enumerate(HOSTS):
            for cluster in ("p1", "s1", "s2"):
                f.apply(cluster, dnsrecord(
                    f"gw{i}", lb_endpoints(UID.get(cluster, f"uid-{cluster}"), f"10.0.{i}.1", "GEO-EU", 100, True,
                                           host), root=host,
                ))
        yield f


class Recorder:
    """Wraps a loop's write hooks: the order in which writes completed, across every thread."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.events: list[tuple[str, str, str, bool]] = []  # (cluster, name, zoneID or "", is authoritative)

    def wrote(self, cluster: str, obj: RawObject) -> None:
        status = obj.get("status") or {}
        sub = next(iter((status.get("remoteRecordStatuses") or {}).values()), {})
        with self.lock:
            self.events.append((cluster, objects.name(obj), status.get("zoneID") or sub.get("zoneID") or "",
                                objects.is_authoritative(obj)))
        self.inner.wrote(cluster, obj)

    def deleted(self, cluster: str, namespace: str, name: str) -> None:
        self.inner.deleted(cluster, namespace, name)


def test_a_status_naming_an_authoritative_record_is_written_only_after_that_record(clusters: Fleet) -> None:
    for name in ("s1", "s2"):
        clusters.loop(name).sync_once()  # ReadyForDelegation on the secondaries
    loop = clusters.loop("p1")
    recorder = Recorder(loop.hooks)
    loop.hooks = recorder
    report = loop.sync_once()
    assert not report.writes.issues
    assert report.writes.created == len(HOSTS)
    created: dict[str, int] = {}
    claims = 0
    for index, (cluster, name, zone_id, authoritative) in enumerate(recorder.events):
        if authoritative and not zone_id:
            created.setdefault(name, index)  # the create (its status patch follows)
        elif zone_id and not authoritative:
            claims += 1
            assert zone_id in created and created[zone_id] < index, (cluster, name, zone_id)
    assert claims == len(HOSTS) * 3  # every source record (local and remote) is Ready on its record
    # One status per source record and per authoritative record; a second pass writes nothing.
    assert report.writes.patched == len(HOSTS) * 4
    assert sorted(report.status_patches, key=lambda p: (p.cluster, p.namespace, p.name)) == list(report.status_patches)
    again = loop.sync_once()
    assert again.writes.writes == 0


def test_prepared_calls_raise_the_generated_clients_exceptions(clusters: Fleet) -> None:
    rest = Rest(clusters.api("p1"), 2.0)
    with pytest.raises(ApiException) as missing:
        rest.call("GET", record_path(NS, "nope"))
    assert missing.value.status == 404
    assert '"reason":"NotFound"' in (missing.value.body or "")
    body = rest.call("GET", record_path(NS, "gw0"))
    assert objects.name(body) == "gw0"
    listed = rest.call("GET", "/api/v1/namespaces", query={"labelSelector": "kubernetes.io/metadata.name=default"})
    assert [objects.name(n) for n in listed["items"]] == ["default"]


@pytest.mark.skipif(not FORK_AVAILABLE, reason="fork is used on Linux only")
def test_a_forked_job_returns_its_result_and_a_failing_child_is_replaced_in_process() -> None:
    parent = os.getpid()
    job = Forked(lambda: (os.getpid(), sum(range(1000))))
    pid, total = job.result()
    assert pid != parent and total == 499500
    assert job.ran_in_child and job.cpu_seconds >= 0.0

    def dies_in_the_child() -> int:
        if os.getpid() != parent:
            os._exit(3)
        return 42

    def fails_in_the_child() -> str:
        if os.getpid() != parent:
            raise RuntimeError("child only")
        return "here"

    for job_, expected in ((Forked(dies_in_the_child), 42), (Forked(fails_in_the_child), "here"),
                           (Forked(lambda: "no fork", fork=False), "no fork")):
        assert job_.result() == expected
        assert not job_.ran_in_child


def test_the_bundle_rendered_in_a_child_equals_the_one_rendered_in_process(clusters: Fleet, tmp_path: Path) -> None:
    outs = {"forked": tmp_path / "forked", "inline": tmp_path / "inline"}
    reports = {}
    for kind, out in outs.items():
        loop = clusters.loop("p1", out=out, dry_run=False)
        loop.fork_render = kind == "forked"
        reports[kind] = loop.sync_once()
    assert reports["forked"].bundle is not None and reports["inline"].bundle is not None
    assert reports["forked"].serials == reports["inline"].serials
    assert read_bundle(outs["forked"]).content_hash == read_bundle(outs["inline"]).content_hash


class _LosesTheLease(LeaderLease):
    """Wins the Lease, then (as if another replica took it over) stops holding it after `calls` checks."""

    def __init__(self, *args: Any, calls: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = calls

    def leading(self) -> bool:
        self.calls -= 1
        return self.calls >= 0 and super().leading()


def test_a_replica_that_loses_the_lease_mid_pass_stops_writing(clusters: Fleet) -> None:
    loop = clusters.loop("p1")
    lease = _LosesTheLease(loop.local, "kuadns-system", "kuadns-sync", identity="a", clock=clusters.clock, calls=5)
    loop.lease = lease
    report = loop.sync_once()
    assert report.leader is True
    assert report.writes.not_sent > 0
    assert report.writes.created + report.writes.patched <= 5
    assert any(i.reason == "LeaseError" and "lost the Lease" in i.message for i in report.issues)
    assert not report.ok
