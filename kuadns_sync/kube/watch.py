"""Watches that wake the sync loop: one thread per cluster, list+watch on DNSRecords by resourceVersion.

I/O (Kubernetes API, threads). A watch only signals; the loop always re-lists and recomputes from
scratch, so a missed event costs latency, never correctness. 410 Gone -> fresh list and wake;
other errors -> back off and retry. Events caused by our own writes are ignored (by resourceVersion).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from kuadns_sync.kube import objects
from kuadns_sync.kube.clients import Cluster, read_json, request_timeout
from kuadns_sync.kube.collect import API_ERRORS, describe_failure
from kuadns_sync.model import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

WINDOW_SECONDS = 120  # server-side watch timeout; the watch is simply re-opened after it
BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


class OwnWrites:
    """resourceVersions produced by our own writes, per cluster; their watch events wake nobody."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, set[str]] = {}

    def add(self, cluster: str, resource_version: str) -> None:
        """Remember that `resource_version` in `cluster` is our own write."""
        if resource_version:
            with self._lock:
                self._versions.setdefault(cluster, set()).add(resource_version)

    def consume(self, cluster: str, resource_version: str) -> bool:
        """True (once) if `resource_version` was our own write."""
        with self._lock:
            versions = self._versions.get(cluster)
            if versions is None or resource_version not in versions:
                return False
            versions.discard(resource_version)
            return True

    def clear(self, cluster: str) -> None:
        """Forget a cluster's writes (after a relist everything is known anyway)."""
        with self._lock:
            self._versions.pop(cluster, None)


class _ClusterWatch(threading.Thread):
    def __init__(
        self, cluster: Cluster, resource_version: str, wake: threading.Event, own: OwnWrites, timeout: float
    ) -> None:
        super().__init__(name=f"kuadns-watch-{cluster.name}", daemon=True)
        self.cluster = cluster
        self.resource_version = resource_version
        self.wake = wake
        self.own = own
        self.timeout = timeout
        self.stopped = threading.Event()
        self._watch: k8s_watch.Watch | None = None

    def stop(self) -> None:
        self.stopped.set()
        if self._watch is not None:
            self._watch.stop()  # type: ignore[no-untyped-call]

    def _relist(self) -> None:
        # Only the version is needed: the loop re-lists the content itself after the wake.
        response = k8s.CustomObjectsApi(self.cluster.api).list_cluster_custom_object(
            GROUP, VERSION, PLURAL, limit=1, _preload_content=False,
            _request_timeout=request_timeout(self.timeout),
        )
        self.resource_version = str(objects.metadata(read_json(response)).get("resourceVersion") or "")
        self.own.clear(self.cluster.name)

    def _stream(self) -> None:
        self._watch = k8s_watch.Watch()  # type: ignore[no-untyped-call]
        api = k8s.CustomObjectsApi(self.cluster.api)
        kwargs: dict[str, object] = {
            "timeout_seconds": WINDOW_SECONDS,
            "allow_watch_bookmarks": True,
            "_request_timeout": (min(self.timeout, 5.0), WINDOW_SECONDS + self.timeout),
        }
        if self.resource_version:
            kwargs["resource_version"] = self.resource_version
        stream = self._watch.stream(  # type: ignore[no-untyped-call]
            api.list_cluster_custom_object, GROUP, VERSION, PLURAL, **kwargs
        )
        for event in stream:
            if self.stopped.is_set():
                break
            raw = event.get("raw_object")
            version = objects.resource_version(raw) if isinstance(raw, dict) else ""
            if version:
                self.resource_version = version
            if event.get("type") == "BOOKMARK":
                continue
            if not self.own.consume(self.cluster.name, version):
                log.debug("cluster %s: %s %s", self.cluster.name, event.get("type"), version)
                self.wake.set()

    def run(self) -> None:
        failures = 0
        while not self.stopped.is_set():
            try:
                if not self.resource_version:
                    self._relist()
                self._stream()
                failures = 0
            except ApiException as exc:
                if exc.status == 410:
                    # RV too old (compacted): whatever happened since is unknown, so re-read.
                    self.resource_version = ""
                    self.wake.set()
                    continue
                failures += 1
                log.info("cluster %s: watch failed: %s", self.cluster.name, describe_failure(exc, self.timeout))
            except API_ERRORS as exc:
                failures += 1
                log.info("cluster %s: watch failed: %s", self.cluster.name, describe_failure(exc, self.timeout))
            if failures:
                self.stopped.wait(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1])


class Watcher:
    """Keeps one watch thread per connected cluster; any foreign change sets `wake`."""

    def __init__(self, wake: threading.Event, own: OwnWrites, timeout: float) -> None:
        self.wake = wake
        self.own = own
        self.timeout = timeout
        self._threads: dict[str, _ClusterWatch] = {}

    def ensure(self, cluster: Cluster, resource_version: str) -> None:
        """Watch `cluster` from `resource_version` unless it is already watched with the same client."""
        current = self._threads.get(cluster.name)
        if current is not None and current.cluster.api is cluster.api and current.is_alive():
            return
        if current is not None:
            current.stop()
        thread = _ClusterWatch(cluster, resource_version, self.wake, self.own, self.timeout)
        self._threads[cluster.name] = thread
        thread.start()

    def retain(self, names: Iterable[str]) -> None:
        """Stop watching clusters not in `names`."""
        keep = set(names)
        for name in sorted(set(self._threads) - keep):
            self._threads.pop(name).stop()

    def stop(self) -> None:
        """Stop every watch (threads are daemons; a blocked read ends with its window)."""
        for thread in self._threads.values():
            thread.stop()
        self._threads.clear()
