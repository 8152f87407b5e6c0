"""What a sync pass is told (SyncOptions) and what it reports (SyncReport).

Pure value types, no I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kuadns_sync.kube.status import StatusPatch
from kuadns_sync.kube.writer import WriteAction, WriteReport
from kuadns_sync.model import Issue, MergeResult, RawObject, Role
from kuadns_sync.plan import MAX_SAFE_CHANGE_FRACTION, Plan

DEFAULT_NAMESPACE = "kuadns-system"


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How the loop behaves (from the command line)."""

    role: Role = "primary"
    cluster_secret_namespace: str = DEFAULT_NAMESPACE
    out: Path | None = None
    max_stale: float = 600.0
    max_change: float = MAX_SAFE_CHANGE_FRACTION
    force: bool = False
    timeout: float = 10.0
    dry_run: bool = False
    relist: float = 600.0  # with live watches, list each cluster again at least this often (seconds)


@dataclass(slots=True)
class SyncReport:
    """What one pass saw and did."""

    role: Role
    leader: bool | None = None  # None: nothing to write, the Lease was not consulted
    local_read: bool = False  # the local cluster's records (fresh or last known) were available
    fresh: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    unreached: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    records: int = 0
    authoritative: int = 0
    current: tuple[RawObject, ...] = ()  # the local cluster's authoritative objects before writing
    actions: tuple[WriteAction, ...] = ()
    status_patches: tuple[StatusPatch, ...] = ()
    writes: WriteReport = field(default_factory=WriteReport)
    refused: tuple[str, ...] = ()
    plan: Plan | None = None
    bundle: Path | None = None
    bundle_changed: bool = False
    serials: dict[str, int] = field(default_factory=dict)
    issues: tuple[Issue, ...] = ()
    result: MergeResult | None = None
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    # CPU time of this process per phase (all its threads), next to the wall time in `phases`.
    cpu_phases: dict[str, float] = field(default_factory=dict)
    cpu_mark: float = field(default_factory=time.process_time)

    def phase(self, name: str, since: float) -> float:
        """Record the wall time spent in `name` since `since` (monotonic) and the process CPU time
        since the previous phase ended; returns now (monotonic)."""
        now, cpu = time.monotonic(), time.process_time()
        self.phases[name] = self.phases.get(name, 0.0) + now - since
        self.cpu_phases[name] = self.cpu_phases.get(name, 0.0) + cpu - self.cpu_mark
        self.cpu_mark = cpu
        return now

    @property
    def ok(self) -> bool:
        """No refusal, no write or lease error, and the local cluster was read."""
        lease_error = any(issue.reason == "LeaseError" for issue in self.issues)
        return not self.refused and not self.writes.issues and not lease_error and self.local_read

    def summary(self) -> str:
        """One log line."""
        clusters = f"{len(self.fresh)} cluster(s) read"
        if self.stale:
            clusters += f", stale: {','.join(self.stale)}"
        if self.unreached:
            clusters += f", never reached: {','.join(self.unreached)}"
        if self.dropped:
            clusters += f", DROPPED: {','.join(self.dropped)}"
        w = self.writes
        parts = [
            f"sync ({self.role}{', not leader' if self.leader is False else ''}): {clusters}",
            f"{self.records} record(s), {self.authoritative} authoritative",
            f"writes: {w.created} created, {w.updated} updated, {w.deleted} deleted, {w.patched} status",
        ]
        if self.refused:
            parts.append("REFUSED (unsafe, use --force)")
        if self.bundle is not None:
            serials = " ".join(f"{z}={s}" for z, s in sorted(self.serials.items()))
            parts.append(f"bundle {'written' if self.bundle_changed else 'unchanged'} ({serials or 'no zones'})")
        parts.append(f"{len(self.issues)} issue(s), {self.seconds:.2f}s")
        return "; ".join(parts)
