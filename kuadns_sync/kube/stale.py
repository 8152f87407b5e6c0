"""Unreachable clusters: keep their last known contribution for at most --max-stale, then drop it loudly.

Pure, no I/O; the clock is passed in. Also builds the stand-in contribution of clusters never reached
since start: authoritative endpoints whose owners no reachable record accounts for are kept, so an
unreachable cluster never turns into deletions (routing-semantics §2 'unreachable cluster').
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Any

from kuadns_sync.hashing import short_hash
from kuadns_sync.kube import objects
from kuadns_sync.model import (
    GROUP,
    KIND,
    OWNER_DELIMITER,
    OWNER_LABEL,
    VERSION,
    ClusterSnapshot,
    Issue,
    RawObject,
)

# Name of the stand-in snapshot that carries unattributed authoritative endpoints.
UNATTRIBUTED_CLUSTER = "unattributed"


@dataclass(frozen=True, slots=True)
class ClusterFailure:
    """A cluster that could not be read in this pass; `message` says why (unreachable, 401, timeout...)."""

    cluster: str
    message: str


@dataclass(frozen=True, slots=True)
class ClusterMemory:
    """What the loop remembers about one cluster between passes."""

    snapshot: ClusterSnapshot | None = None  # the last successful read
    fetched_at: float | None = None  # when that read happened
    failing_since: float | None = None  # first failure of the current outage


@dataclass(frozen=True, slots=True)
class Carried:
    """The contributions to merge in this pass and the state of every cluster."""

    snapshots: tuple[ClusterSnapshot, ...]
    memory: Mapping[str, ClusterMemory]
    fresh: frozenset[str]  # read successfully in this pass
    stale: frozenset[str]  # unreachable, last known snapshot kept
    unreached: frozenset[str]  # never read yet, still within --max-stale
    dropped: frozenset[str]  # unreachable for longer than --max-stale: contributes nothing
    issues: tuple[Issue, ...]

    @property
    def complete(self) -> bool:
        """Every configured cluster was read in this pass."""
        return not (self.stale or self.unreached or self.dropped)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def carry_over(
    memory: Mapping[str, ClusterMemory],
    results: Mapping[str, ClusterSnapshot | ClusterFailure],
    now: float,
    max_stale: float,
    local: str | None = None,
) -> Carried:
    """Combine this pass's reads with what is remembered; clusters absent from `results` are forgotten.

    `local` names the cluster we run in: never read, it has no stand-in (its authoritative records
    are what the stand-in is made of).
    """
    snapshots: list[ClusterSnapshot] = []
    new_memory: dict[str, ClusterMemory] = {}
    fresh: set[str] = set()
    stale: set[str] = set()
    unreached: set[str] = set()
    dropped: set[str] = set()
    issues: list[Issue] = []
    for cluster in sorted(results):
        result = results[cluster]
        if isinstance(result, ClusterSnapshot):
            snapshots.append(replace(result, stale_since=None))
            new_memory[cluster] = ClusterMemory(result, now, None)
            fresh.add(cluster)
            continue
        known = memory.get(cluster, ClusterMemory())
        since = known.failing_since if known.failing_since is not None else now
        new_memory[cluster] = replace(known, failing_since=since)
        if known.snapshot is not None and known.fetched_at is not None:
            age = now - known.fetched_at
            if age <= max_stale:
                snapshots.append(replace(known.snapshot, stale_since=known.fetched_at))
                stale.add(cluster)
                issues.append(
                    Issue(
                        None,
                        "warning",
                        "Stale",
                        f"cluster {cluster}: {result.message}; serving its records as last read "
                        f"{_ago(age)} ago (dropped after --max-stale {_ago(max_stale)})",
                    )
                )
                continue
            dropped.add(cluster)
            issues.append(
                Issue(
                    None,
                    "error",
                    "Stale",
                    f"cluster {cluster}: {result.message}; last read {_ago(age)} ago, more than "
                    f"--max-stale {_ago(max_stale)}: its records are DROPPED",
                )
            )
            continue
        if cluster == local:
            dropped.add(cluster)
            issues.append(
                Issue(None, "error", "Stale", f"cluster {cluster} (local): {result.message}; never read since start")
            )
        elif now - since <= max_stale:
            unreached.add(cluster)
            issues.append(
                Issue(
                    None,
                    "warning",
                    "Stale",
                    f"cluster {cluster}: {result.message}; never read since start ({_ago(now - since)}): "
                    "authoritative endpoints of owners no reachable record accounts for are kept "
                    f"(until --max-stale {_ago(max_stale)})",
                )
            )
        else:
            dropped.add(cluster)
            issues.append(
                Issue(
                    None,
                    "error",
                    "Stale",
                    f"cluster {cluster}: {result.message}; not read for {_ago(now - since)}, more than "
                    f"--max-stale {_ago(max_stale)}: contributes nothing",
                )
            )
    return Carried(
        snapshots=tuple(snapshots),
        memory=new_memory,
        fresh=frozenset(fresh),
        stale=frozenset(stale),
        unreached=frozenset(unreached),
        dropped=frozenset(dropped),
        issues=tuple(issues),
    )


def known_owners(snapshots: Iterable[ClusterSnapshot]) -> frozenset[str]:
    """Owner IDs of every source record (not authoritative ones) in `snapshots`."""
    return frozenset(
        objects.owner_id(raw)
        for snap in snapshots
        for raw in snap.records
        if not objects.is_authoritative(raw)
    )


def _is_registry_txt(endpoint: Mapping[str, Any]) -> bool:
    # Ownership TXT records (kuadrant-coredns.md §2.5) are regenerated by the merge, never carried.
    if endpoint.get("recordType") != "TXT":
        return False
    targets = endpoint.get("targets")
    return isinstance(targets, list) and any(
        isinstance(t, str) and "heritage=external-dns" in t for t in targets
    )


def unattributed_records(
    authoritative: Sequence[RawObject], owners: Set[str], since: float, cluster: str = UNATTRIBUTED_CLUSTER
) -> ClusterSnapshot | None:
    """A stand-in snapshot holding the authoritative endpoints whose owners are not in `owners`.

    One synthetic delegating record per (namespace, root host, unknown owner), with that owner as
    spec.ownerID, so the merge keeps exactly those endpoints. The snapshot is named `cluster` (the
    unreachable cluster(s) it stands for). None when everything is attributed.
    """
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for auth in authoritative:
        root = objects.spec(auth).get("rootHost")
        endpoints = objects.spec(auth).get("endpoints")
        if not isinstance(root, str) or not isinstance(endpoints, list):
            continue
        for endpoint in endpoints:
            if not isinstance(endpoint, dict) or _is_registry_txt(endpoint):
                continue
            labels = endpoint.get("labels")
            owner_label = labels.get(OWNER_LABEL) if isinstance(labels, dict) else None
            if not isinstance(owner_label, str):
                continue
            for owner in owner_label.split(OWNER_DELIMITER):
                if owner and owner not in owners:
                    copy = dict(endpoint)
                    rest = {k: v for k, v in labels.items() if k != OWNER_LABEL} if labels else {}
                    if rest:
                        copy["labels"] = rest
                    else:
                        copy.pop("labels", None)
                    grouped.setdefault((objects.namespace(auth), root, owner), []).append(copy)
    if not grouped:
        return None
    records: list[RawObject] = []
    for (ns, root, owner), endpoints in sorted(grouped.items()):
        records.append(
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "metadata": {
                    "name": f"unattributed-{owner}-{short_hash(root)}",
                    "namespace": ns,
                    "uid": f"unattributed-{ns}-{root}-{owner}",
                    "generation": 1,
                },
                "spec": {"rootHost": root, "ownerID": owner, "delegate": True, "endpoints": endpoints},
                "status": {
                    "conditions": [
                        {"type": objects.READY_FOR_DELEGATION, "status": "True", "reason": "FinalizersSet"}
                    ]
                },
            }
        )
    return ClusterSnapshot(name=cluster, records=tuple(records), stale_since=since)
