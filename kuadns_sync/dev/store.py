"""In-memory object store of the emulator: objects per resource, one global resourceVersion counter, the event
history that watches replay from, compaction (410 Gone), and consistent snapshots for paginated lists.

Thread-safe, no sockets. Stored objects are never mutated after `put` (copy on write), so events, snapshots and
readers share them freely; writers hold the lock only for bookkeeping and never wait for watchers.
With `settle_every`, every that many writes the process's young garbage is collected and everything alive is
moved out of the cyclic collector's sight (`kuadns_sync.heap.settle`): stored objects are long-lived, cycle-free
JSON trees, and full collections rescanning hundreds of thousands of them cost more CPU than the writes did.
"""

from __future__ import annotations

import base64
import bisect
import gc
import itertools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from kuadns_sync.heap import settle
from kuadns_sync.jsoncodec import encode

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored object and its encoded JSON."""

    obj: Json
    raw: bytes


@dataclass(frozen=True, slots=True)
class Event:
    """One change: `type` ADDED/MODIFIED/DELETED of `entry` (the new state; the last state for DELETED)."""

    rv: int
    type: str
    rkey: str
    entry: Entry
    prev: Json | None


class Expired(Exception):
    """The requested resourceVersion or continue token is older than the retained history."""


@dataclass(slots=True)
class _Snapshot:
    rv: int
    entries: list[Entry]
    created: float


class Store:
    """Objects keyed by (resource key, namespace, name); every write gets the next resourceVersion."""

    def __init__(self, history_limit: int = 200_000, snapshot_ttl: float = 300.0, settle_every: int = 0) -> None:
        self._lock = threading.RLock()
        # Watchers wait for changes of their resource only (one condition per resource key, all on the one
        # lock), and a write wakes nobody when nobody waits for its resource.
        self._changed: dict[str | None, threading.Condition] = {}
        self._waiting: dict[str | None, int] = {}
        self._rv = 0
        self._objects: dict[str, dict[tuple[str, str], Entry]] = {}
        self._events: list[Event] = []
        self._base = 0  # absolute index of self._events[0]
        self._compacted_rv = 0
        self._history_limit = history_limit
        self._snapshot_ttl = snapshot_ttl
        self._snapshots: OrderedDict[str, _Snapshot] = OrderedDict()
        self._snapshot_ids = itertools.count(1)
        self._closed = False
        self._settle_every = settle_every
        self._unsettled = 0

    def locked(self) -> AbstractContextManager[Any]:
        """Hold the store lock for a read-modify-write sequence (`with store.locked(): ...`)."""
        return self._lock

    @property
    def resource_version(self) -> int:
        """The newest resourceVersion handed out."""
        return self._rv

    @property
    def compacted_rv(self) -> int:
        """Watches from a resourceVersion below this get 410 Gone."""
        return self._compacted_rv

    def get(self, rkey: str, namespace: str, name: str) -> Entry | None:
        """The stored entry or None."""
        return self._objects.get(rkey, {}).get((namespace, name))

    def entries(self, rkey: str, namespace: str | None = None) -> tuple[list[Entry], int]:
        """Entries sorted by (namespace, name), optionally in one namespace, and the list resourceVersion."""
        with self._lock:
            table = self._objects.get(rkey, {})
            keys = sorted(k for k in table if namespace is None or k[0] == namespace)
            return [table[k] for k in keys], self._rv

    def count(self, rkey: str, namespace: str | None = None) -> int:
        """Number of objects of a resource (optionally in one namespace)."""
        with self._lock:
            table = self._objects.get(rkey, {})
            return len(table) if namespace is None else sum(1 for k in table if k[0] == namespace)

    def put(self, rkey: str, obj: Json, event_type: str, prev: Json | None) -> Entry:
        """Store `obj` (not copied; callers hand over ownership) under the next resourceVersion."""
        with self._lock:
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            meta = obj["metadata"]
            entry = Entry(obj, encode(obj))
            self._objects.setdefault(rkey, {})[(meta.get("namespace", ""), meta["name"])] = entry
            self._append(Event(self._rv, event_type, rkey, entry, prev))
            if self._settle_every:
                self._unsettled += 1
                if self._unsettled >= self._settle_every:
                    self._unsettled = 0
                    _settle()
            return entry

    def remove(self, rkey: str, obj: Json) -> Entry:
        """Delete the object; the DELETED event carries its last state with a new resourceVersion."""
        with self._lock:
            self._rv += 1
            meta = obj["metadata"]
            del self._objects[rkey][(meta.get("namespace", ""), meta["name"])]
            final = {**obj, "metadata": {**meta, "resourceVersion": str(self._rv)}}
            entry = Entry(final, encode(final))
            self._append(Event(self._rv, "DELETED", rkey, entry, obj))
            return entry

    def _append(self, event: Event) -> None:
        self._events.append(event)
        if len(self._events) > self._history_limit:
            self._compact_to(self._events[len(self._events) // 2].rv)
            self._wake_all()
        elif self._waiting:
            for key in (event.rkey, None):
                if self._waiting.get(key):
                    self._changed[key].notify_all()

    def _wake_all(self) -> None:
        for condition in self._changed.values():
            condition.notify_all()

    def _compact_to(self, rv: int) -> None:
        cut = bisect.bisect_right(self._events, rv, key=lambda e: e.rv)
        del self._events[:cut]
        self._base += cut
        self._compacted_rv = max(self._compacted_rv, rv)
        for token in [t for t, s in self._snapshots.items() if s.rv < self._compacted_rv]:
            del self._snapshots[token]

    def compact(self, rv: int | None = None) -> int:
        """Forget the history up to `rv` (default: all of it); older watches and continue tokens get 410."""
        with self._lock:
            target = self._rv if rv is None else min(rv, self._rv)
            self._compact_to(target)
            self._wake_all()
            return self._compacted_rv

    # --- watches -------------------------------------------------------------------------------------------

    def cursor_after(self, rv: int) -> int:
        """The history position just after `rv`. Raises Expired when `rv` was compacted away."""
        with self._lock:
            if rv < self._compacted_rv:
                raise Expired(f"too old resource version: {rv} ({self._compacted_rv})")
            return self._base + bisect.bisect_right(self._events, rv, key=lambda e: e.rv)

    def head(self) -> tuple[int, int]:
        """(cursor at the end of history, current resourceVersion)."""
        with self._lock:
            return self._base + len(self._events), self._rv

    def wait(self, cursor: int, timeout: float, rkey: str | None = None) -> tuple[list[Event], int, int]:
        """Events from `cursor` on (waiting up to `timeout` for one, of resource `rkey` when given), the new
        cursor and the resourceVersion reached. Raises Expired when the cursor fell behind a compaction."""
        with self._lock:
            if cursor < self._base:
                raise Expired(f"too old resource version: history before {self._compacted_rv} was compacted")
            if cursor - self._base >= len(self._events) and not self._closed and timeout > 0:
                condition = self._changed.get(rkey)
                if condition is None:
                    condition = self._changed[rkey] = threading.Condition(self._lock)
                self._waiting[rkey] = self._waiting.get(rkey, 0) + 1
                try:
                    condition.wait(timeout)
                finally:
                    self._waiting[rkey] -= 1
                    if not self._waiting[rkey]:
                        del self._waiting[rkey]
                if cursor < self._base:
                    raise Expired(f"too old resource version: history before {self._compacted_rv} was compacted")
            events = self._events[cursor - self._base :]
            return events, cursor + len(events), self._rv

    def close(self) -> None:
        """Wake every waiting watcher (server shutdown)."""
        with self._lock:
            self._closed = True
            self._wake_all()

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._closed

    # --- paginated lists -----------------------------------------------------------------------------------

    def save_snapshot(self, entries: list[Entry], rv: int, now: float | None = None) -> str:
        """Keep the remaining entries of a paginated list; returns an opaque snapshot id."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire_snapshots(now)
            sid = f"{next(self._snapshot_ids)}"
            self._snapshots[sid] = _Snapshot(rv, entries, now)
            while len(self._snapshots) > 256:
                self._snapshots.popitem(last=False)
            return sid

    def load_snapshot(self, sid: str, now: float | None = None) -> tuple[list[Entry], int]:
        """The entries of a saved snapshot. Raises Expired when it is gone."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire_snapshots(now)
            snap = self._snapshots.get(sid)
            if snap is None:
                raise Expired("continue token expired")
            return snap.entries, snap.rv

    def _expire_snapshots(self, now: float) -> None:
        for sid in [s for s, snap in self._snapshots.items() if now - snap.created > self._snapshot_ttl]:
            del self._snapshots[sid]


def _settle() -> None:
    # Young garbage first (a cycle frozen now would never be collected), then out of sight: gc.freeze
    # is O(1) and the frozen objects are still freed by reference counting when dropped.
    gc.collect(1)
    settle()


def encode_continue(sid: str, offset: int, rv: int) -> str:
    """Opaque continue token (base64 JSON, as kube-apiserver's tokens are)."""
    raw = json.dumps({"v": "kuadns.dev/v1", "sid": sid, "off": offset, "rv": rv}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[str, int, int]:
    """(snapshot id, offset, resourceVersion) of a continue token. Raises ValueError."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return str(data["sid"]), int(data["off"]), int(data["rv"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"invalid continue token: {exc}") from exc


Predicate = Callable[[Json], bool]
