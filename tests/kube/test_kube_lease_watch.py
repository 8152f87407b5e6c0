"""Leader election (only the Lease holder writes) and the watch that wakes the loop (incl. 410 Gone)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kuadns_sync.dev import ApiServer
from kuadns_sync.kube.report import SyncReport
from tests.kube.kube_fleet import UID, Fleet, dnsrecord, endpoints_of, fleet, lb_endpoints


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path) as f:
        f.apply("p1", dnsrecord("external-api", lb_endpoints(UID["p1"], "172.18.200.1", "GEO-EU", 100, True)))
        f.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.3", "GEO-EU", 100, True)))
        yield f


def a_targets(f: Fleet) -> list[str]:
    return sorted(e["targets"][0] for e in endpoints_of(f, "p1").values() if e["recordType"] == "A")


def test_of_two_replicas_only_the_lease_holder_writes_and_the_other_takes_over(clusters: Fleet) -> None:
    a = clusters.loop("p1", lease="kuadns-sync", identity="replica-a")
    b = clusters.loop("p1", lease="kuadns-sync", identity="replica-b")
    first = a.sync_once()
    assert first.leader
    assert first.writes.created == 1
    lease = clusters.servers["p1"].get_object("leases", "kuadns-sync", "kuadns-system")
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "replica-a"

    clusters.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.2", "GEO-NA", 125, False)))
    writes_before = {name: s.write_count for name, s in clusters.servers.items()}
    second = b.sync_once()
    assert not second.leader
    assert second.actions  # it knows what should change ...
    assert second.writes.writes == 0  # ... but writes nothing, anywhere
    assert {name: s.write_count for name, s in clusters.servers.items()} == writes_before
    assert a_targets(clusters) == ["172.18.200.1", "172.18.200.3"]

    assert a.sync_once().writes.updated == 1
    assert a_targets(clusters) == ["172.18.200.1", "172.18.200.2", "172.18.200.3"]

    # The holder stops renewing (crashed): after the lease duration the other replica takes over.
    clusters.clock.now += 31
    clusters.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.22", "GEO-NA", 125, False)))
    third = b.sync_once()
    assert third.leader
    assert third.writes.updated == 1
    clusters.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.23", "GEO-NA", 125, False)))
    assert a.sync_once().leader is False


def test_a_released_lease_is_taken_over_at_once(clusters: Fleet) -> None:
    a = clusters.loop("p1", lease="kuadns-sync", identity="replica-a")
    b = clusters.loop("p1", lease="kuadns-sync", identity="replica-b")
    assert a.sync_once().leader
    clusters.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.2", "GEO-NA", 125, False)))
    assert b.sync_once().leader is False
    a.close()
    assert b.sync_once().leader is True
    assert a_targets(clusters) == ["172.18.200.1", "172.18.200.2", "172.18.200.3"]


def test_a_pass_with_nothing_to_write_does_not_even_renew_the_lease(clusters: Fleet) -> None:
    a = clusters.loop("p1", lease="kuadns-sync", identity="replica-a")
    assert a.sync_once().leader
    a.sync_once()  # statuses of the new authoritative record settle
    clusters.clock.now += 25  # renewal would be due
    server = clusters.servers["p1"]
    server.reset_counters()
    report = a.sync_once()
    assert report.leader is None
    assert server.write_count == 0
    assert not [r for r in server.requests() if "leases" in r.path]


class Running:
    """A sync loop running in a thread, collecting its reports."""

    def __init__(self, f: Fleet, cluster: str) -> None:
        self.loop = f.loop(cluster)
        self.reports: list[SyncReport] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.loop.run, args=(60.0, self.stop, self.reports.append), kwargs={"min_gap": 0.1}, daemon=True
        )

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.loop.wake.set()
        self.thread.join(10)

    def settle(self, quiet: float = 0.8, timeout: float = 15.0) -> int:
        """Wait until no pass has started for `quiet` seconds; returns the number of passes so far."""
        deadline = time.monotonic() + timeout
        seen, since = len(self.reports), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if len(self.reports) != seen:
                seen, since = len(self.reports), time.monotonic()
            elif seen and time.monotonic() - since >= quiet:
                return seen
        raise AssertionError("the loop never settled")


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_a_change_in_a_remote_cluster_wakes_the_loop_long_before_the_interval(clusters: Fleet) -> None:
    with Running(clusters, "p1") as running:
        settled = running.settle()
        # Our own writes (authoritative record, statuses) do not wake the loop again and again.
        time.sleep(0.8)
        assert len(running.reports) == settled
        clusters.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.33", "GEO-EU", 100, True)))
        wait_until(lambda: a_targets(clusters) == ["172.18.200.1", "172.18.200.33"])


def test_after_410_gone_the_watch_relists_and_keeps_waking_the_loop(
    clusters: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kuadns_sync.kube.watch")
    s1 = clusters.servers["s1"]
    with Running(clusters, "p1") as running:
        running.settle()
        passes = len(running.reports)
        # The watch is cut off; meanwhile the record changes and the history is compacted, so the
        # watch's resourceVersion is too old when it comes back (410 Gone inside the watch stream).
        s1.set_fault("unreachable")
        time.sleep(0.2)
        s1.set_fault(None)
        clusters.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.44", "GEO-EU", 100, True)))
        s1.compact()
        s1.reset_counters()
        # Woken by the watch (the interval is 60 s): a pass ends with the new address written.
        wait_until(lambda: len(running.reports) > passes
                   and a_targets(clusters) == ["172.18.200.1", "172.18.200.44"], timeout=15)
        lists = [r for r in s1.requests() if r.method == "GET" and r.path.endswith("/dnsrecords")
                 and "watch=true" not in r.query]
        assert lists, "nobody re-listed after 410 Gone"
    assert "cluster s1: watch history expired (410 Gone): re-listing" in caplog.text


def dnsrecord_lists(server: ApiServer) -> int:
    return len([
        r for r in server.requests()
        if r.method == "GET" and r.path.endswith("/dnsrecords") and "watch=true" not in r.query
    ])


def test_live_watches_replace_lists_and_a_broken_watch_falls_back_to_listing(clusters: Fleet) -> None:
    s1 = clusters.servers["s1"]
    with Running(clusters, "p1") as running:
        running.settle()
        for server in clusters.servers.values():
            server.reset_counters()
        clusters.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.2", "GEO-NA", 125, False)))
        wait_until(lambda: a_targets(clusters) == ["172.18.200.1", "172.18.200.2", "172.18.200.3"])
        running.settle()
        assert dnsrecord_lists(s1) == 0  # s1 came from its watch cache
        assert dnsrecord_lists(clusters.servers["p2"]) == 0
        s1.set_fault("unreachable")
        wait_until(lambda: not running.loop.watcher.healthy("s1"))
        passes = len(running.reports)
        clusters.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.22", "GEO-NA", 125, False)))
        wait_until(lambda: len(running.reports) > passes and running.reports[-1].stale == ("s1",))
        assert a_targets(clusters) == ["172.18.200.1", "172.18.200.22", "172.18.200.3"]


def test_a_lease_that_cannot_be_taken_is_reported_and_nothing_is_written(clusters: Fleet) -> None:
    loop = clusters.loop("p1", lease="kuadns-sync", identity="replica-a")
    assert loop.lease is not None
    loop.lease.namespace = "no-such-namespace"
    report = loop.sync_once()
    assert report.leader is False
    assert report.writes.writes == 0
    assert "lease no-such-namespace/kuadns-sync" in "\n".join(str(i) for i in report.issues)
    assert clusters.authoritative("p1") == {}
    assert not report.ok
