"""Watches: one thread per cluster keeps a cache of its DNSRecords current and wakes the loop on changes.

I/O (Kubernetes API, threads). Informer-style: seeded from the loop's list at its resourceVersion,
then watch events (bookmarks on); 410 Gone -> a fresh full list; other errors -> the cache is
unusable until the watch is back (the loop lists instead, so an unreachable cluster is noticed), and
back-off. Events caused by our own writes update the cache but wake nobody (matched by resourceVersion).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence

from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from kuadns_sync.kube import objects
from kuadns_sync.kube.clients import Cluster
from kuadns_sync.kube.collect import API_ERRORS, describe_failure, list_records
from kuadns_sync.model import GROUP, PLURAL, VERSION, RawObject

log = logging.getLogger(__name__)

WINDOW_SECONDS = 120  # server-side watch timeout; the watch is simply re-opened after it
BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


def _newer(candidate: str, current: str) -> bool:
    # resourceVersions are opaque strings to clients, but etcd's (and the emulator's) are integers;
    # order them when both are, otherwise accept the candidate (events arrive in order).
    if candidate.isdigit() and current.isdigit():
        return int(candidate) >= int(current)
    return True


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


class ClusterCache:
    """The DNSRecords of one cluster as its watch last saw them (thread-safe)."""

    def __init__(self, items: Iterable[RawObject], version: str, listed_at: float) -> None:
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], RawObject] = {objects.key(o): o for o in items}
        self.version = version
        self.listed_at = listed_at  # monotonic time of the list the cache is built on
        self.healthy = True  # False between a watch failure and the next event

    def reset(self, items: Iterable[RawObject], version: str, listed_at: float) -> None:
        """Replace the content with a fresh list."""
        with self._lock:
            self._objects = {objects.key(o): o for o in items}
            self.version, self.listed_at = version, listed_at

    def apply(self, kind: str, obj: RawObject) -> None:
        """Apply one watch event (ADDED / MODIFIED / DELETED) or one of our own write results."""
        ident = objects.key(obj)
        version = objects.resource_version(obj)
        with self._lock:
            known = self._objects.get(ident)
            if known is not None and not _newer(version, objects.resource_version(known)):
                return  # an older state than the one we already hold (our own write was faster)
            if kind == "DELETED":
                self._objects.pop(ident, None)
            else:
                self._objects[ident] = obj

    def remove(self, namespace: str, name: str) -> None:
        """Forget an object we deleted ourselves."""
        with self._lock:
            self._objects.pop((namespace, name), None)

    def snapshot(self) -> tuple[list[RawObject], str]:
        """The objects now (a consistent copy of the list) and the version last seen."""
        with self._lock:
            return list(self._objects.values()), self.version


class _ClusterWatch(threading.Thread):
    def __init__(
        self, cluster: Cluster, cache: ClusterCache, wake: threading.Event, own: OwnWrites, timeout: float
    ) -> None:
        super().__init__(name=f"kuadns-watch-{cluster.name}", daemon=True)
        self.cluster = cluster
        self.cache = cache
        self.resource_version = cache.version
        self.wake = wake
        self.own = own
        self.timeout = timeout
        self.stopped = threading.Event()
        self._watch: k8s_watch.Watch | None = None

    def stop(self) -> None:
        self.stopped.set()
        self.cache.healthy = False
        if self._watch is not None:
            self._watch.stop()  # type: ignore[no-untyped-call]

    def _relist(self) -> None:
        items, version = list_records(self.cluster.api, self.timeout)
        self.cache.reset(items, version, time.monotonic())
        self.resource_version = version
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
            kind, raw = event.get("type"), event.get("raw_object")
            if not isinstance(raw, dict):
                continue
            version = objects.resource_version(raw)
            if version:
                self.resource_version = version
                self.cache.version = version
            self.cache.healthy = True
            if kind == "BOOKMARK":
                continue
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self.cache.apply(str(kind), raw)
            if not self.own.consume(self.cluster.name, version):
                log.debug("cluster %s: %s %s", self.cluster.name, kind, version)
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
                    # RV too old (compacted): whatever happened since is unknown, so re-read all.
                    log.info("cluster %s: watch history expired (410 Gone): re-listing", self.cluster.name)
                    self.resource_version = ""
                    self.wake.set()
                    continue
                failures += 1
                self.cache.healthy = False
                log.info("cluster %s: watch failed: %s", self.cluster.name, describe_failure(exc, self.timeout))
            except API_ERRORS as exc:
                failures += 1
                self.cache.healthy = False
                log.info("cluster %s: watch failed: %s", self.cluster.name, describe_failure(exc, self.timeout))
            if failures:
                self.stopped.wait(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1])


class Watcher:
    """Keeps one watch (and cache) per connected cluster; any foreign change sets `wake`."""

    def __init__(self, wake: threading.Event, own: OwnWrites, timeout: float) -> None:
        self.wake = wake
        self.own = own
        self.timeout = timeout
        self._threads: dict[str, _ClusterWatch] = {}

    def start(self, cluster: Cluster, items: Sequence[RawObject], version: str, listed_at: float) -> None:
        """(Re)start watching `cluster` from a list just made (its items at `version`)."""
        current = self._threads.pop(cluster.name, None)
        if current is not None:
            current.stop()
        cache = ClusterCache(items, version, listed_at)
        thread = _ClusterWatch(cluster, cache, self.wake, self.own, self.timeout)
        self._threads[cluster.name] = thread
        thread.start()

    def cache(self, cluster: Cluster, max_age: float) -> ClusterCache | None:
        """The cluster's cache if its watch is live, uses this client, and was listed within `max_age` s."""
        thread = self._threads.get(cluster.name)
        if thread is None or thread.cluster.api is not cluster.api or not thread.is_alive():
            return None
        cache = thread.cache
        if not cache.healthy or time.monotonic() - cache.listed_at > max_age:
            return None
        return cache

    def healthy(self, cluster: str) -> bool:
        """Whether `cluster` has a live watch whose cache is usable."""
        thread = self._threads.get(cluster)
        return thread is not None and thread.is_alive() and thread.cache.healthy

    def wrote(self, cluster: str, obj: RawObject) -> None:
        """One of our writes succeeded: its result goes into the cache at once."""
        thread = self._threads.get(cluster)
        if thread is not None:
            thread.cache.apply("MODIFIED", obj)

    def deleted(self, cluster: str, namespace: str, name: str) -> None:
        """We deleted an object."""
        thread = self._threads.get(cluster)
        if thread is not None:
            thread.cache.remove(namespace, name)

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
