"""DNSRecord status: merge verdicts -> status merge-patches, produced only where something differs.

Pure, no I/O; the clock is passed in. Field names, reasons and messages follow upstream
(kuadrant-coredns.md §1.5, §1.6, §3.6, §3.8): local records get top-level status, records read from
a remote cluster get `status.remoteRecordStatuses[<primary cluster id>]`, delegating records get
ReadyForDelegation. lastTransitionTime moves only when a condition's status flips, so an unchanged
sync produces no patch at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kuadns_sync.kube import objects
from kuadns_sync.model import (
    OWNER_DELIMITER,
    OWNER_LABEL,
    AuthoritativeRecord,
    ClusterSnapshot,
    MergeResult,
    Origin,
    RawObject,
    RecordVerdict,
)

REASON_SUCCESS = "ProviderSuccess"
REASON_FINALIZERS_SET = "FinalizersSet"
REASON_VALIDATION = "ValidationError"
REASON_REMOVED = "ProviderEndpointsRemoved"
REASON_PROVIDER_ERROR = "ProviderError"
# The merge's verdict for a local record that belongs to another DNS provider: never ours to write.
REASON_NOT_SERVED = "NotServed"
MSG_READY = "Provider ensured the dns record"
MSG_REMOVED = "DNS records removed from provider"
MSG_PROVIDER_FAILED = "The DNS provider failed to ensure the record: "
# The top-level status fields this tool writes (and nothing else; other writers' fields are kept).
_FIELDS = ("observedGeneration", "ownerID", "zoneID", "zoneDomainName", "domainOwners")


@dataclass(frozen=True, slots=True)
class Condition:
    """A metav1.Condition without its timestamp (that is decided when diffing)."""

    type: str
    status: bool
    reason: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class DesiredStatus:
    """The status this tool wants: its conditions and fields (a None field is to be removed)."""

    conditions: tuple[Condition, ...]
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusPatch:
    """A JSON merge patch (RFC 7386) for the status subresource of one DNSRecord."""

    cluster: str
    namespace: str
    name: str
    body: RawObject


def timestamp(now: float) -> str:
    """RFC 3339 UTC, second precision, as metav1.Time serialises."""
    return dt.datetime.fromtimestamp(int(now), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition_json(cond: Condition, generation: int, transition: str) -> dict[str, Any]:
    return {
        "type": cond.type,
        "status": "True" if cond.status else "False",
        "reason": cond.reason,
        "message": cond.message,
        "observedGeneration": generation,
        "lastTransitionTime": transition,
    }


def merge_conditions(
    current: Sequence[Mapping[str, Any]], desired: Sequence[Condition], generation: int, now: str
) -> list[dict[str, Any]] | None:
    """The new conditions list (others' conditions kept in place), or None when nothing changes."""
    wanted = {cond.type: cond for cond in desired}
    changed = False
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for existing in current:
        kind = existing.get("type")
        cond = wanted.get(kind) if isinstance(kind, str) else None
        if cond is None or kind in seen:
            result.append(dict(existing))
            continue
        seen.add(cond.type)
        same_status = existing.get("status") == ("True" if cond.status else "False")
        transition = existing.get("lastTransitionTime")
        if not same_status or not isinstance(transition, str) or not transition:
            transition = now
        new = _condition_json(cond, generation, transition)
        if any(existing.get(k) != v for k, v in new.items()):
            changed = True
        result.append(new)
    for cond in desired:
        if cond.type not in seen:
            result.append(_condition_json(cond, generation, now))
            changed = True
    return result if changed else None


def diff_status(
    current: Mapping[str, Any], desired: DesiredStatus, generation: int, now: str
) -> dict[str, Any] | None:
    """The keys of a status (or sub-status) mapping that must change, as a merge patch; None if none."""
    patch: dict[str, Any] = {}
    conds = merge_conditions(objects.conditions(current), desired.conditions, generation, now)
    if conds is not None:
        patch["conditions"] = conds
    for key, value in desired.fields.items():
        if current.get(key) != value:
            if value is None and key not in current:
                continue
            patch[key] = value
    return patch or None


def _zone_fields(
    zone_id: str | None, zone_domain: str | None, owners: Sequence[str] | None
) -> dict[str, Any]:
    return {
        "zoneID": zone_id,
        "zoneDomainName": zone_domain,
        "domainOwners": list(owners) if owners else None,
    }


def removed_status(raw: RawObject) -> DesiredStatus:
    """A record being deleted: its endpoints are no longer served (upstream's removal end state)."""
    return DesiredStatus(
        (Condition(objects.READY, False, REASON_REMOVED, MSG_REMOVED),),
        {"observedGeneration": objects.generation(raw), **_zone_fields(None, None, None)},
    )


def domain_owners(record: AuthoritativeRecord, root_host: str) -> tuple[str, ...]:
    """Sorted owners of the root host name in an authoritative record (upstream status.domainOwners)."""
    names = {root_host.lower(), root_host.lower().removeprefix("*."), record.root_host}
    owners: set[str] = set()
    for endpoint in record.endpoints:
        if endpoint.dns_name in names:
            label = endpoint.label(OWNER_LABEL)
            if label:
                owners.update(o for o in label.split(OWNER_DELIMITER) if o)
    return tuple(sorted(owners))


def source_status(
    raw: RawObject,
    verdict: RecordVerdict,
    authoritative: Mapping[tuple[str, str], AuthoritativeRecord],
    failed: Mapping[tuple[str, str], str] | None = None,
    owners: Callable[[AuthoritativeRecord, str], tuple[str, ...]] = domain_owners,
) -> DesiredStatus:
    """Desired status of a source record on a primary, from the merge's verdict.

    `failed` maps authoritative records that could not be written to why: their sources are not
    Ready (upstream's ProviderError message), whatever the merge thought of them. `owners` is
    `domain_owners` (or a memo of it: every contributing record of a root host asks the same).
    """
    if objects.is_deleting(raw):
        return removed_status(raw)
    ready, reason = verdict.ready, verdict.reason
    message = verdict.message or (MSG_READY if verdict.ready else verdict.reason)
    auth = None
    if verdict.authoritative_record is not None:
        ident = (objects.namespace(raw), verdict.authoritative_record)
        auth = authoritative.get(ident)
        if failed and ident in failed:
            ready, reason, message = False, REASON_PROVIDER_ERROR, MSG_PROVIDER_FAILED + failed[ident]
    conds = [Condition(objects.READY, ready, reason, message)]
    fields: dict[str, Any] = {"observedGeneration": objects.generation(raw), "ownerID": objects.owner_id(raw)}
    if auth is not None and ready:
        root = str(objects.spec(raw).get("rootHost") or auth.root_host)
        fields.update(_zone_fields(auth.name, auth.root_host, owners(auth, root)))
    else:
        fields.update(_zone_fields(None, None, None))
    return DesiredStatus(tuple(conds), fields)


def delegation_condition(verdict_reason: str) -> Condition | None:
    """ReadyForDelegation=True/FinalizersSet for a delegating record that passed validation."""
    if verdict_reason == REASON_VALIDATION:
        return None
    return Condition(objects.READY_FOR_DELEGATION, True, REASON_FINALIZERS_SET, "")


def secondary_status(raw: RawObject, verdict: RecordVerdict) -> DesiredStatus:
    """Desired status of a secondary's own delegating record (kuadrant-coredns.md §3.6 step 6).

    Valid: ReadyForDelegation=True/FinalizersSet and Ready=True/ProviderSuccess; else Ready=False
    with the merge's reason and message (ValidationError and the offending endpoints).
    """
    fields = {"observedGeneration": objects.generation(raw), "ownerID": objects.owner_id(raw)}
    if not verdict.ready:
        message = verdict.message or verdict.reason
        return DesiredStatus((Condition(objects.READY, False, verdict.reason, message),), fields)
    return DesiredStatus(
        (
            Condition(objects.READY_FOR_DELEGATION, True, REASON_FINALIZERS_SET, ""),
            Condition(objects.READY, True, REASON_SUCCESS, verdict.message or MSG_READY),
        ),
        fields,
    )


def authoritative_status(raw: RawObject, zone: str | None) -> DesiredStatus:
    """Desired status of an authoritative record we wrote (kuadrant-coredns.md §3.4 last bullets)."""
    own = objects.uid_hash(objects.uid(raw))
    fields: dict[str, Any] = {"observedGeneration": objects.generation(raw), "ownerID": own}
    if zone is None:
        root = objects.spec(raw).get("rootHost")
        cond = Condition(objects.READY, False, REASON_PROVIDER_ERROR, f"no configured zone serves {root}")
        fields.update(_zone_fields(None, None, None))
    else:
        cond = Condition(objects.READY, True, REASON_SUCCESS, MSG_READY)
        fields.update(_zone_fields(zone, zone, [own]))
    return DesiredStatus((cond,), fields)


def patch_local(cluster: str, raw: RawObject, desired: DesiredStatus, now: str) -> StatusPatch | None:
    """Patch of the top-level status of `raw`, or None when it already matches."""
    diff = diff_status(objects.status(raw), desired, objects.generation(raw), now)
    if diff is None:
        return None
    return StatusPatch(cluster, objects.namespace(raw), objects.name(raw), {"status": diff})


def patch_remote(
    cluster: str, raw: RawObject, desired: DesiredStatus, primary_id: str, now: str
) -> StatusPatch | None:
    """Patch of `status.remoteRecordStatuses[primary_id]` of a remote record, or None when it matches."""
    subs = objects.status(raw).get("remoteRecordStatuses")
    current = subs.get(primary_id) if isinstance(subs, dict) else None
    diff = diff_status(
        current if isinstance(current, dict) else {}, desired, objects.generation(raw), now
    )
    if diff is None:
        return None
    body = {"status": {"remoteRecordStatuses": {primary_id: diff}}}
    return StatusPatch(cluster, objects.namespace(raw), objects.name(raw), body)


def _has_sub_status(raw: RawObject, primary_id: str) -> bool:
    subs = objects.status(raw).get("remoteRecordStatuses")
    return isinstance(subs, dict) and primary_id in subs


class PrimaryStatus:
    """Status patches a primary writes for the source records of one merge result (lookups built once).

    Local records get top-level status (+ ReadyForDelegation when delegating); remote records get
    the sub-status keyed by this primary's cluster id. Authoritative objects are handled separately
    (`authoritative_patches`); records without a verdict are not ours and are left alone.
    """

    def __init__(self, result: MergeResult, primary_id: str, now: float) -> None:
        self.primary_id = primary_id
        self.stamp = timestamp(now)
        self.verdicts: dict[Origin, RecordVerdict] = {v.origin.record(): v for v in result.verdicts}
        self.auths = {(a.namespace, a.name): a for a in result.authoritative}
        self._owners: dict[tuple[str, str, str], tuple[str, ...]] = {}

    def owners(self, record: AuthoritativeRecord, root_host: str) -> tuple[str, ...]:
        """`domain_owners`, computed once per authoritative record and root host."""
        key = (record.namespace, record.name, root_host)
        found = self._owners.get(key)
        if found is None:
            found = self._owners[key] = domain_owners(record, root_host)
        return found

    def verdict(self, cluster: str, raw: RawObject) -> RecordVerdict | None:
        """The merge's verdict on `raw` read from `cluster`."""
        return self.verdicts.get(Origin(cluster, objects.namespace(raw), objects.name(raw)))

    def reports_on(self, cluster: str, raw: RawObject) -> tuple[str, str] | None:
        """(namespace, name) of the authoritative record whose write the status of `raw` reports on."""
        verdict = self.verdict(cluster, raw)
        if verdict is None or verdict.authoritative_record is None or objects.is_authoritative(raw):
            return None
        return objects.namespace(raw), verdict.authoritative_record

    def patch(
        self, snap: ClusterSnapshot, raw: RawObject, failed: Mapping[tuple[str, str], str] | None = None
    ) -> StatusPatch | None:
        """The patch for one record of `snap`, or None when its status already says it all.

        `failed` maps authoritative records that could not be written to why (see `source_status`).
        """
        if objects.is_authoritative(raw):
            return None
        verdict = self.verdict(snap.name, raw)
        if verdict is not None and verdict.reason == REASON_NOT_SERVED:
            return None
        if snap.local:
            if verdict is None:
                return None
            desired = source_status(raw, verdict, self.auths, failed, self.owners)
            if objects.is_delegating(raw) and not objects.is_deleting(raw):
                extra = delegation_condition(verdict.reason)
                if extra is not None:
                    desired = DesiredStatus((extra, *desired.conditions), desired.fields)
            return patch_local(snap.name, raw, desired, self.stamp)
        if verdict is None:
            # A record we wrote a sub-status for earlier and that is now being deleted.
            if not (objects.is_deleting(raw) and _has_sub_status(raw, self.primary_id)):
                return None
            desired = removed_status(raw)
        else:
            desired = source_status(raw, verdict, self.auths, failed, self.owners)
        return patch_remote(snap.name, raw, desired, self.primary_id, self.stamp)

    def patches(
        self, snapshots: Iterable[ClusterSnapshot], failed: Mapping[tuple[str, str], str] | None = None
    ) -> list[StatusPatch]:
        """Every patch for the records of `snapshots`, in their order."""
        out: list[StatusPatch] = []
        for snap in snapshots:
            for raw in snap.records:
                patch = self.patch(snap, raw, failed)
                if patch is not None:
                    out.append(patch)
        return out


def primary_patches(
    snapshots: Iterable[ClusterSnapshot],
    result: MergeResult,
    primary_id: str,
    now: float,
    failed: Mapping[tuple[str, str], str] | None = None,
) -> list[StatusPatch]:
    """Status patches a primary writes after a sync, for the records of the given (reachable) clusters
    (see `PrimaryStatus`)."""
    return PrimaryStatus(result, primary_id, now).patches(snapshots, failed)


class AuthoritativeStatus:
    """Status patches of the authoritative objects of one merge result, as they are in the cluster."""

    def __init__(self, cluster: str, result: MergeResult, now: float) -> None:
        self.cluster = cluster
        self.zones = {(a.namespace, a.name): a.zone for a in result.authoritative}
        self.stamp = timestamp(now)

    def patch(self, raw: RawObject) -> StatusPatch | None:
        """The patch for one authoritative object, or None (not ours, or its status already matches)."""
        ident = objects.key(raw)
        if ident not in self.zones or not objects.is_authoritative(raw):
            return None
        return patch_local(self.cluster, raw, authoritative_status(raw, self.zones[ident]), self.stamp)


def authoritative_patches(
    cluster: str, written: Iterable[RawObject], result: MergeResult, now: float
) -> list[StatusPatch]:
    """Status patches for the authoritative objects as they are in the cluster after writing."""
    planner = AuthoritativeStatus(cluster, result, now)
    return [patch for raw in written if (patch := planner.patch(raw)) is not None]
