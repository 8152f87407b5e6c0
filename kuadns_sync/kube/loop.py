"""The sync loop: read every cluster, keep unreachable ones' last contribution, merge, check safety,
write authoritative records and status (leader only), render the bundle. Once, or on an interval
with watches waking it early.

Orchestration (I/O through clients/collect/writer/lease/pipeline); the decisions are in the pure
modules stale, status, writer.plan_writes and kuadns_sync.plan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from functools import partial

from kuadns_sync.bundle import resolve_generation
from kuadns_sync.errors import BundleError
from kuadns_sync.forked import FORK_AVAILABLE, Forked
from kuadns_sync.heap import paused_gc
from kuadns_sync.kube import objects
from kuadns_sync.kube.clients import Cluster, RemoteClusters
from kuadns_sync.kube.collect import API_ERRORS, ClusterRead, cluster_id, describe_failure, read_clusters
from kuadns_sync.kube.lease import LeaderLease
from kuadns_sync.kube.memo import fingerprint
from kuadns_sync.kube.plans import safety_plan
from kuadns_sync.kube.report import SyncOptions, SyncReport
from kuadns_sync.kube.stale import (
    ClusterFailure,
    ClusterMemory,
    carry_over,
    known_owners,
    unattributed_records,
)
from kuadns_sync.kube.status import (
    AuthoritativeStatus,
    PrimaryStatus,
    StatusPatch,
    patch_local,
    secondary_status,
    timestamp,
)
from kuadns_sync.kube.watch import OwnWrites, Watcher
from kuadns_sync.kube.writer import (
    WriteAction,
    WriteHooks,
    apply_pipelined,
    apply_status,
    plan_writes,
)
from kuadns_sync.model import (
    ClusterSnapshot,
    Issue,
    MergeResult,
    Origin,
    RawObject,
    Settings,
)
from kuadns_sync.pipeline import RenderOutcome, merge_snapshots, write_bundle
from kuadns_sync.plan import unsafe_reasons

log = logging.getLogger(__name__)

MIN_GAP_SECONDS = 1.0  # coalesce bursts of watch events into one sync


class _Hooks(WriteHooks):
    """Our own writes: their watch events wake nobody, their results enter the watch caches at once."""

    def __init__(self, own: OwnWrites, watcher: Watcher) -> None:
        self.own = own
        self.watcher = watcher

    def wrote(self, cluster: str, obj: RawObject) -> None:
        self.own.add(cluster, objects.resource_version(obj))
        self.watcher.wrote(cluster, obj)

    def deleted(self, cluster: str, namespace: str, name: str) -> None:
        self.watcher.deleted(cluster, namespace, name)


class SyncLoop:
    """One primary or secondary sync loop over the local cluster and the remote clusters it knows."""

    def __init__(
        self,
        local: Cluster,
        settings: Settings,
        options: SyncOptions,
        *,
        lease: LeaderLease | None = None,
        remote: RemoteClusters | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.local = local
        self.settings = replace(settings, role=options.role, local_cluster=local.name)
        self.options = options
        self.lease = lease
        self.remote = remote or RemoteClusters(options.cluster_secret_namespace, frozenset({local.name}))
        self.clock = clock
        self.memory: dict[str, ClusterMemory] = {}
        self.primary_id: str | None = None
        self.wake = threading.Event()
        self.own = OwnWrites()
        self.watcher = Watcher(self.wake, self.own, options.timeout)
        self.hooks = _Hooks(self.own, self.watcher)
        self._listed_at = 0.0
        self._reads: dict[str, ClusterRead] = {}
        self._remotes: list[Cluster] = []
        self._memo: tuple[Hashable, MergeResult] | None = None
        # (cluster, namespace, name) -> resourceVersion at which the object matched the memoised result
        self._settled: dict[tuple[str, str, str], str] = {}
        self._failed: dict[tuple[str, str], str] = {}
        # The last render: the result it rendered and what it wrote.
        self._rendered: tuple[MergeResult, RenderOutcome] | None = None
        # Render in a forked child while writing (kuadns_sync.kube.forked); False renders in-process.
        self.fork_render = FORK_AVAILABLE

    # -- reading -------------------------------------------------------------------------------

    def _clusters(self, issues: list[Issue]) -> tuple[list[Cluster], dict[str, ClusterFailure]]:
        if self.options.role == "secondary":
            return [self.local], {}
        try:
            self._remotes, failures = self.remote.refresh(self.local.api, self.options.timeout)
        except API_ERRORS as exc:
            cause = describe_failure(exc, self.options.timeout)
            issues.append(
                Issue(
                    None, "warning", "SourceError",
                    f"cluster {self.local.name}: cannot list cluster Secrets in "
                    f"{self.options.cluster_secret_namespace}: {cause}; using the clusters known before",
                )
            )
            failures = {}
        return [self.local, *self._remotes], failures

    def _read(self, issues: list[Issue]) -> dict[str, ClusterSnapshot | ClusterFailure]:
        clusters, failures = self._clusters(issues)
        secrets_from = frozenset({self.local.name}) if self.options.role == "primary" else frozenset()
        # Live watches make a list unnecessary; a cluster whose watch is down is listed (and so an
        # unreachable cluster is noticed), and every cluster is listed again every --relist.
        cached = {}
        for cluster in clusters:
            cache = self.watcher.cache(cluster, self.options.relist)
            if cache is not None:
                cached[cluster.name] = cache.snapshot()
        self._listed_at = time.monotonic()
        reads = read_clusters(clusters, self.options.timeout, secrets_from=secrets_from, cached=cached)
        self._reads = {name: r for name, r in reads.items() if isinstance(r, ClusterRead)}
        results: dict[str, ClusterSnapshot | ClusterFailure] = dict(failures)
        for name, read in reads.items():
            results[name] = read.snapshot if isinstance(read, ClusterRead) else read
        return results

    def _primary_id(self) -> str | None:
        if self.primary_id is None:
            try:
                self.primary_id = cluster_id(self.local.api, self.options.timeout)
            except API_ERRORS as exc:
                log.warning("cluster %s: cannot read the kube-system namespace UID: %s",
                            self.local.name, describe_failure(exc, self.options.timeout))
        return self.primary_id

    def _leader(self, report: SyncReport) -> bool:
        # Consulted only when there is something to write: a no-change pass writes nothing, not even a
        # Lease renewal. Called again before each write phase, so a long pass renews its Lease.
        if self.options.dry_run or report.leader is False:
            report.leader = False
        elif self.lease is None:
            report.leader = True
        else:
            report.leader = self.lease.acquire()
            if self.lease.error is not None:
                report.issues += (Issue(None, "error", "LeaseError", f"{self.lease.error}; not writing"),)
        return report.leader

    def _still_leading(self) -> Callable[[], bool]:
        """For the writer threads of a long pass: renews the Lease when a third of it has elapsed (one
        thread does, under a lock) and says whether we still hold it."""
        lease = self.lease
        if lease is None:
            return lambda: True
        lock = threading.Lock()
        due = [time.monotonic() + lease.duration / 3]

        def check() -> bool:
            if time.monotonic() >= due[0] and lock.acquire(blocking=False):
                try:
                    due[0] = time.monotonic() + lease.duration / 3
                    return lease.acquire()
                finally:
                    lock.release()
            return lease.leading()

        return check

    # -- one pass ------------------------------------------------------------------------------

    def sync_once(self) -> SyncReport:
        """One complete pass; never raises for cluster trouble (it is in the report)."""
        started = time.monotonic()
        self.wake.clear()
        # A pass holds every cluster's records (millions of acyclic objects): with the cyclic collector
        # on, its full collections during the writes cost more CPU than the requests themselves
        # (profiled: ~70 % of the client's time per status patch, charged to json.loads and
        # http.client's header parser). Reference counting frees everything regardless.
        with paused_gc():
            report = (
                self._sync_secondary() if self.options.role == "secondary" else self._sync_primary()
            )
        report.seconds = time.monotonic() - started
        return report

    def _carry(self, issues: list[Issue]) -> tuple[list[ClusterSnapshot], SyncReport]:
        now = self.clock()
        results = self._read(issues)
        carried = carry_over(self.memory, results, now, self.options.max_stale, self.local.name)
        self.memory = dict(carried.memory)
        issues += carried.issues
        for name, result in sorted(results.items()):
            if isinstance(result, ClusterFailure) and name not in carried.stale | carried.unreached | carried.dropped:
                issues.append(Issue(None, "error", "SourceError", f"cluster {name}: {result.message}"))
        report = SyncReport(
            role=self.options.role,
            fresh=tuple(sorted(carried.fresh)),
            stale=tuple(sorted(carried.stale)),
            unreached=tuple(sorted(carried.unreached)),
            dropped=tuple(sorted(carried.dropped)),
        )
        snapshots = list(carried.snapshots)
        if carried.unreached:
            local = next((s for s in snapshots if s.name == self.local.name), None)
            if local is not None:
                auth = [r for r in local.records if objects.is_authoritative(r)]
                since = min(self.memory[n].failing_since or now for n in carried.unreached)
                stand_in = "+".join(sorted(carried.unreached))
                extra = unattributed_records(auth, known_owners(snapshots), since, stand_in)
                if extra is not None:
                    snapshots.append(extra)
        report.records = sum(
            1 for s in snapshots for r in s.records if not objects.is_authoritative(r)
        )
        return snapshots, report

    def _merge(self, snapshots: Sequence[ClusterSnapshot]) -> MergeResult:
        # The merge is a pure function of its inputs: when they are the same as last pass (same
        # records by uid/generation/labels/deletion, same secrets, same stale marks), so is the result.
        key = fingerprint(snapshots)
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]
        # Cluster-level issues (ages of outages) stay out of the result: they change every pass and
        # would make every bundle new.
        result = merge_snapshots(snapshots, self.settings)
        self._memo = (key, result)
        self._rendered = None
        self._settled.clear()
        return result

    def _start_render(self, result: MergeResult, now: float) -> Forked[RenderOutcome] | RenderOutcome | None:
        """The render of `result`: nothing to do (no --out), the last one (unchanged and still
        current), or a job rendering and writing the bundle in a forked child while we write."""
        out = self.options.out
        if out is None:
            return None
        if self._rendered is not None and self._rendered[0] is result:
            try:
                if resolve_generation(out) == self._rendered[1].generation:
                    return replace(self._rendered[1], changed=False)
            except BundleError:
                pass  # replaced or removed behind our back: render again
        return Forked(partial(write_bundle, result, out, self.settings, now), fork=self.fork_render)

    def _finish_render(
        self, job: Forked[RenderOutcome] | RenderOutcome | None, result: MergeResult, report: SyncReport
    ) -> list[Issue]:
        if job is None:
            return []
        if isinstance(job, Forked):
            rendered = job.result()
            # The child's CPU (this process's own is counted by report.phase).
            report.cpu_phases["render"] = report.cpu_phases.get("render", 0.0) + job.cpu_seconds
            self._rendered = (result, rendered)
        else:
            rendered = job
        report.bundle, report.bundle_changed = rendered.generation, rendered.changed
        report.serials = dict(rendered.serials)
        return list(rendered.issues)

    def _is_settled(self, cluster: str, raw: RawObject) -> bool:
        return self._settled.get((cluster, *objects.key(raw))) == objects.resource_version(raw)

    def _settle(
        self,
        pending: Sequence[ClusterSnapshot],
        written: Sequence[RawObject],
        patches: Sequence[StatusPatch],
        report: SyncReport,
    ) -> None:
        # Remember what matches the (memoised) merge result at which resourceVersion, so that the
        # next pass compares only objects somebody changed. Cleared whenever the result changes.
        patched = {(p.cluster, p.namespace, p.name) for p in patches}
        evaluated = [(s.name, r) for s in pending for r in s.records]
        # An authoritative object whose write failed must be compared (and retried) next time.
        evaluated += [(self.local.name, r) for r in written if objects.key(r) not in self._failed]
        for cluster, raw in evaluated:
            ident = (cluster, *objects.key(raw))
            if ident not in patched:
                self._settled[ident] = objects.resource_version(raw)
        for ident, version in report.writes.versions.items():
            self._settled[ident] = version

    def _sync_primary(self) -> SyncReport:
        issues: list[Issue] = []
        mark, cpu_mark = time.monotonic(), time.process_time()
        snapshots, report = self._carry(issues)
        report.cpu_mark = cpu_mark
        mark = report.phase("read", mark)
        local = next((s for s in snapshots if s.name == self.local.name), None)
        report.local_read = local is not None
        if local is None:
            issues.append(
                Issue(None, "error", "SourceError",
                      f"cluster {self.local.name} (local) has never been read: nothing written, bundle kept")
            )
            report.issues = tuple(sorted(set(issues)))
            return report
        writable = self.local.name in report.fresh
        now = self.clock()
        result = self._merge(snapshots)
        mark = report.phase("merge", mark)
        report.result = result
        report.authoritative = len(result.authoritative)
        current = [r for r in local.records if objects.is_authoritative(r)]
        report.current = tuple(current)
        known = {
            objects.key(r) for r in current
            if self._settled.get((self.local.name, *objects.key(r))) == objects.resource_version(r)
        }
        actions = plan_writes(result.authoritative, current, known)
        report.actions = tuple(actions)
        plan = safety_plan(actions, current, result)
        report.plan = plan
        reasons = unsafe_reasons(plan, self.options.max_change) if plan is not None else []
        mark = report.phase("plan", mark)
        if reasons and not self.options.force:
            report.refused = tuple(reasons)
            issues += [Issue(None, "error", "Unsafe", f"sync refused: {r}") for r in reasons]
            report.issues = tuple(sorted(set(issues) | set(result.issues)))
            return report
        # The bundle depends on the merge result only: it renders (in a forked child) while we write.
        render = None if self.options.dry_run else self._start_render(result, now)
        try:
            mark = self._write_primary(report, snapshots, result, actions, current, writable, now, mark)
        except BaseException:
            if isinstance(render, Forked):
                render.discard()
            raise
        issues += report.writes.issues
        if not self.options.dry_run:
            issues += self._finish_render(render, result, report)
            report.phase("render", mark)
        report.issues = tuple(sorted(set(issues) | set(result.issues) | set(report.issues)))
        return report

    def _write_primary(
        self,
        report: SyncReport,
        snapshots: Sequence[ClusterSnapshot],
        result: MergeResult,
        actions: Sequence[WriteAction],
        current: Sequence[RawObject],
        writable: bool,
        now: float,
        mark: float,
    ) -> float:
        """Write the authoritative records and every status; returns the end of the writes (monotonic).

        Statuses that report on an authoritative record being written go out as soon as that record is
        written (Ready, or ProviderError when its write failed); every other status goes out at once,
        while the local writes run (`apply_pipelined`).
        """
        if self._failed:
            self._settled.clear()  # the last pass failed writes: which sources are Ready is in question
        primary_id = self._primary_id()
        planner = PrimaryStatus(result, primary_id, now) if primary_id is not None and writable else None
        own = AuthoritativeStatus(self.local.name, result, now)
        acting = {(a.namespace, a.name) for a in actions} if writable else set()
        # Records to look at: those changed since they last matched, and every record whose status
        # reports on a record written now (its write may fail), grouped by that record.
        waiting: dict[tuple[str, str], list[tuple[ClusterSnapshot, RawObject]]] = {}
        pending: list[ClusterSnapshot] = []
        ready: list[StatusPatch] = []
        for snap in snapshots:
            if snap.name not in report.fresh:
                continue
            looked: list[RawObject] = []
            for raw in snap.records:
                ident = planner.reports_on(snap.name, raw) if acting and planner is not None else None
                if ident is not None and ident in acting:
                    waiting.setdefault(ident, []).append((snap, raw))
                    looked.append(raw)
                elif not self._is_settled(snap.name, raw):
                    looked.append(raw)
                    if planner is not None and (patch := planner.patch(snap, raw)) is not None:
                        ready.append(patch)
            pending.append(replace(snap, records=tuple(looked)))
        unchanged = [r for r in current if objects.key(r) not in acting]
        if writable:
            ready += [p for r in unchanged if not self._is_settled(self.local.name, r) and (p := own.patch(r))]
        mark = report.phase("status", mark)

        def after_write(action: WriteAction, obj: RawObject | None, issue: Issue | None) -> list[StatusPatch]:
            out: list[StatusPatch] = []
            if obj is not None and (mine := own.patch(obj)) is not None:
                out.append(mine)
            if planner is not None:
                failed = {(action.namespace, action.name): issue.message} if issue is not None else None
                for snap, raw in waiting.get((action.namespace, action.name), ()):
                    if (patch := planner.patch(snap, raw, failed)) is not None:
                        out.append(patch)
            return out

        if writable and (actions or ready or waiting) and self._leader(report):
            targets = {c.name: c for c in [self.local, *self._remotes]}
            report.writes, sent = apply_pipelined(
                self.local, actions, unchanged, targets, ready, after_write, self.options.timeout, self.hooks,
                self._still_leading(),
            )
            report.status_patches = tuple(sent)
            if report.writes.not_sent:
                report.issues += (Issue(None, "error", "LeaseError",
                                        f"lost the Lease while writing: {report.writes.not_sent} write(s) not sent"),)
        else:
            # Nothing is written (dry run, not the leader, local cluster stale): what a write would send.
            would = planner.patches(pending) if planner is not None else []
            if writable:
                would += [p for r in current if not self._is_settled(self.local.name, r) and (p := own.patch(r))]
            report.status_patches = tuple(would)
        failed = {
            (i.origin.namespace, i.origin.name): i.message
            for i in report.writes.issues
            if i.origin is not None and i.origin.cluster == self.local.name
        }
        if failed:
            self._settled.clear()  # which sources are Ready depends on which writes failed
        self._failed = failed
        written = report.writes.objects if actions and report.leader else current
        written = [r for r in written if not self._is_settled(self.local.name, r)]
        if writable and (report.leader or not actions):
            self._settle(pending, written, report.status_patches, report)
        return report.phase("write", mark)

    def _sync_secondary(self) -> SyncReport:
        issues: list[Issue] = []
        snapshots, report = self._carry(issues)
        report.local_read = self.local.name in report.fresh
        if not report.local_read:
            report.issues = tuple(sorted(set(issues)))
            return report
        local = next(s for s in snapshots if s.name == self.local.name)
        result = self._merge([local])
        report.result = result
        verdicts = {v.origin.record(): v for v in result.verdicts}
        stamp = timestamp(self.clock())
        patches: list[StatusPatch] = []
        for raw in local.records:
            # Only delegating records are a secondary's business; the rest belong to other providers.
            if not objects.is_delegating(raw) or objects.is_deleting(raw) or objects.is_authoritative(raw):
                continue
            verdict = verdicts.get(Origin(local.name, objects.namespace(raw), objects.name(raw)))
            if verdict is None:
                continue
            patch = patch_local(self.local.name, raw, secondary_status(raw, verdict), stamp)
            if patch is not None:
                patches.append(patch)
        report.status_patches = tuple(patches)
        if patches and self._leader(report):
            report.writes = apply_status(self.local, patches, self.options.timeout, self.hooks)
        issues += report.writes.issues
        report.issues = tuple(sorted(set(issues) | set(result.issues) | set(report.issues)))
        return report

    # -- the interval loop ---------------------------------------------------------------------

    def watch_clusters(self) -> None:
        """Start (or restart) a watch on every cluster listed in the last pass, seeded with that list."""
        clusters = {c.name: c for c in [self.local, *self._remotes]}
        with paused_gc():  # seeding the caches indexes every record (see sync_once)
            for name, read in self._reads.items():
                if name in clusters and read.listed:
                    self.watcher.start(clusters[name], list(read.snapshot.records), read.resource_version,
                                       self._listed_at)
        self.watcher.retain(clusters)

    def run(
        self,
        interval: float,
        stop: threading.Event,
        on_report: Callable[[SyncReport], None],
        *,
        watch: bool = True,
        min_gap: float = MIN_GAP_SECONDS,
    ) -> None:
        """Sync every `interval` seconds, or sooner when a watch sees a change, until `stop` is set."""
        try:
            while not stop.is_set():
                report = self.sync_once()
                on_report(report)
                if watch:
                    self.watch_clusters()
                deadline = time.monotonic() + interval
                while not stop.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    if self.wake.wait(min(remaining, 1.0)):
                        stop.wait(min_gap)  # let a burst of changes settle
                        break
        finally:
            self.close()

    def close(self) -> None:
        """Stop watches, release the lease, close remote clients."""
        self.watcher.stop()
        if self.lease is not None and not self.options.dry_run:
            self.lease.release()
        self.remote.close()
