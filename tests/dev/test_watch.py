"""Watches and paginated lists through the official client: replay from a resourceVersion, event order,
selector transitions, bookmarks, 410 Gone after compaction, consistent pages and expired continue tokens."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from kubernetes import client, watch

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord
from kuadns_sync.dev import ApiServer


def _events(
    custom: client.CustomObjectsApi, rv: str, until: int = 0, seconds: int = 1, **kwargs: Any
) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of the events after `rv`: the first `until` ones, or all within `seconds`."""
    out = []
    w = watch.Watch()
    for ev in w.stream(
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        "default",
        PLURAL,
        resource_version=rv,
        timeout_seconds=seconds if not until else 5,
        **kwargs,
    ):
        meta = ev["raw_object"]["metadata"]
        out.append((ev["type"], meta.get("name", ""), meta["resourceVersion"]))
        if len(out) == until:
            w.stop()
    return out


def test_watch_replays_history_after_the_given_resource_version(
    server: ApiServer, custom: client.CustomObjectsApi
) -> None:
    server.create_object(dnsrecord("before"))
    start = custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)["metadata"]["resourceVersion"]
    server.create_object(dnsrecord("a"))
    server.patch_object("dnsrecords", "a", {"metadata": {"labels": {"x": "1"}}})
    server.delete_object("dnsrecords", "a")
    events = _events(custom, start, until=3)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    rvs = [int(rv) for _, _, rv in events]
    assert rvs == sorted(rvs) and rvs[0] > int(start)


def test_watch_without_resource_version_starts_with_the_current_objects(
    server: ApiServer, custom: client.CustomObjectsApi
) -> None:
    server.create_object(dnsrecord("a"))
    server.create_object(dnsrecord("b"))
    assert [(t, n) for t, n, _ in _events(custom, "0", until=2)] == [("ADDED", "a"), ("ADDED", "b")]


def test_live_events_arrive_while_watching(server: ApiServer, custom: client.CustomObjectsApi) -> None:
    rv = str(server.resource_version)

    def write_later() -> None:
        time.sleep(0.3)
        server.create_object(dnsrecord("live"))

    writer = threading.Thread(target=write_later)
    writer.start()
    events = _events(custom, rv, until=1)
    writer.join()
    assert [(t, n) for t, n, _ in events] == [("ADDED", "live")]


def test_a_selector_watch_sees_objects_enter_and_leave_the_selection(
    server: ApiServer, custom: client.CustomObjectsApi
) -> None:
    rv = str(server.resource_version)
    server.create_object(dnsrecord("a"))
    server.patch_object("dnsrecords", "a", {"metadata": {"labels": {"kuadrant.io/coredns-zone-name": "k.example.com"}}})
    server.patch_object("dnsrecords", "a", {"spec": {"endpoints": []}})
    server.patch_object("dnsrecords", "a", {"metadata": {"labels": None}})
    events = _events(custom, rv, until=3, label_selector="kuadrant.io/coredns-zone-name=k.example.com")
    assert [t for t, _, _ in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_bookmarks_carry_the_current_resource_version(server: ApiServer, custom: client.CustomObjectsApi) -> None:
    server.create_object(dnsrecord("a"))
    rv = str(server.resource_version)
    events = _events(custom, rv, until=2, allow_watch_bookmarks=True)
    bookmarks = [e for e in events if e[0] == "BOOKMARK"]
    assert bookmarks and all(int(b[2]) == server.resource_version for b in bookmarks)
    assert not _events(custom, rv)  # no bookmarks unless asked for


def test_watch_from_a_compacted_resource_version_raises_410(server: ApiServer, custom: client.CustomObjectsApi) -> None:
    server.create_object(dnsrecord("a"))
    old = str(server.resource_version)
    server.create_object(dnsrecord("b"))
    assert server.compact() == server.resource_version
    with pytest.raises(client.ApiException) as err:
        _events(custom, old)
    assert err.value.status == 410 and "too old resource version" in str(err.value.reason)
    assert _events(custom, str(server.resource_version)) == []  # the current version still works


def test_an_open_watch_that_falls_behind_a_compaction_gets_410(
    server: ApiServer, custom: client.CustomObjectsApi
) -> None:
    rv = str(server.resource_version)
    got: list[Any] = []

    def consume() -> None:
        try:
            got.extend(_events(custom, rv, seconds=3))
        except client.ApiException as exc:
            got.append(exc.status)

    reader = threading.Thread(target=consume)
    reader.start()
    time.sleep(0.4)  # the watch is now open and waiting at the head of the history
    with server.store.locked():  # write and compact before the watcher can read the event
        server.create_object(dnsrecord("a"))
        server.create_object(dnsrecord("b"))
        server.compact()
    reader.join()
    assert got == [410]


def test_pages_are_a_consistent_snapshot_and_expire_with_compaction(
    server: ApiServer, custom: client.CustomObjectsApi
) -> None:
    server.load(dnsrecord(f"r{i:02d}") for i in range(7))
    first = custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, limit=3)
    assert [i["metadata"]["name"] for i in first["items"]] == ["r00", "r01", "r02"]
    assert first["metadata"]["remainingItemCount"] == 4
    server.create_object(dnsrecord("r03a"))  # written after the first page: not part of this list
    names, token = [], first["metadata"]["continue"]
    while token:
        page = custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, limit=3, _continue=token)
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
    assert names == ["r03", "r04", "r05", "r06"]
    again = custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, limit=3)
    server.create_object(dnsrecord("later"))
    server.compact()  # history now starts after the snapshot the continue token points at
    with pytest.raises(client.ApiException) as err:
        custom.list_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, limit=3, _continue=again["metadata"]["continue"]
        )
    assert err.value.status == 410
