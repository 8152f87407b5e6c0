"""Writes to clusters: authoritative DNSRecords in the local cluster, and status merge-patches anywhere.

`plan_writes` is pure (desired authoritative records vs what the cluster holds); `apply_pipelined` and
`apply_status` do the I/O (pipelined calls, `kuadns_sync.kube.pipe`; conflicts on the synchronous path,
`kuadns_sync.kube.rest`). Only objects labelled kuadrant.io/authoritative-record=true are ever created,
updated or deleted; updates carry the resourceVersion and are retried on 409 by re-reading.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from kubernetes.client.exceptions import ApiException

from kuadns_sync.kube import objects
from kuadns_sync.kube.clients import Cluster
from kuadns_sync.kube.collect import API_ERRORS, describe_failure
from kuadns_sync.kube.pipe import Answer, Call, Pipeline, Withheld
from kuadns_sync.kube.rest import JSON, MERGE_PATCH, Rest, record_path
from kuadns_sync.kube.status import StatusPatch
from kuadns_sync.model import (
    LABEL_AUTHORITATIVE,
    LABEL_AUTHORITATIVE_HASH,
    LABEL_PROVIDER_NAME,
    LABEL_ZONE_NAME,
    AuthoritativeRecord,
    Issue,
    Origin,
    RawObject,
)

log = logging.getLogger(__name__)

# The labels this tool decides on authoritative records; any other label is somebody else's.
OWNED_LABELS = (LABEL_AUTHORITATIVE, LABEL_AUTHORITATIVE_HASH, LABEL_ZONE_NAME, LABEL_PROVIDER_NAME)
MAX_CONFLICT_RETRIES = 5

Op = Literal["create", "update", "delete"]
Outcome = tuple[Op | None, RawObject | None, Issue | None]


@dataclass(frozen=True, slots=True)
class WriteAction:
    """One change to an authoritative object: the object to write (create/update) or remove (delete)."""

    op: Op
    namespace: str
    name: str
    desired: AuthoritativeRecord | None
    current: RawObject | None


@dataclass(slots=True)
class WriteReport:
    """What the writes did: counts, the objects as they are now, and problems (per object)."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    patched: int = 0
    objects: list[RawObject] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    # (cluster, namespace, name) -> resourceVersion each successful status patch produced
    versions: dict[tuple[str, str, str], str] = field(default_factory=dict)
    not_sent: int = 0  # writes left out because this replica stopped holding the Lease mid-pass

    @property
    def writes(self) -> int:
        """Total number of write requests that changed something."""
        return self.created + self.updated + self.deleted + self.patched


def desired_object(record: AuthoritativeRecord, existing: RawObject | None) -> RawObject:
    """The full object to send: our labels and spec over whatever else the existing object holds."""
    manifest = record.to_manifest()
    if existing is None:
        return manifest
    meta = dict(objects.metadata(existing))
    labels = {k: v for k, v in objects.labels(existing).items() if k not in OWNED_LABELS}
    labels.update(manifest["metadata"]["labels"])
    meta["labels"] = labels
    spec = {**objects.spec(existing), **manifest["spec"]}
    body: RawObject = {"apiVersion": manifest["apiVersion"], "kind": manifest["kind"], "metadata": meta, "spec": spec}
    return body


def delete_options(obj: RawObject) -> dict[str, object]:
    """DeleteOptions with a precondition: a record changed since we read it is not deleted (409)."""
    version = objects.resource_version(obj)
    return {"preconditions": {"resourceVersion": version} if version else {}}


def needs_update(record: AuthoritativeRecord, existing: RawObject) -> bool:
    """True when the object's labels we own, rootHost or endpoints differ from `record`."""
    manifest = record.to_manifest()
    want_labels: Mapping[str, str] = manifest["metadata"]["labels"]
    have = objects.labels(existing)
    for key in OWNED_LABELS:
        if have.get(key) != want_labels.get(key):
            return True
    spec = objects.spec(existing)
    return bool(
        spec.get("rootHost") != manifest["spec"]["rootHost"]
        or (spec.get("endpoints") or []) != manifest["spec"]["endpoints"]
    )


def plan_writes(
    desired: Sequence[AuthoritativeRecord],
    current: Sequence[RawObject],
    known_equal: Set[tuple[str, str]] = frozenset(),
) -> list[WriteAction]:
    """Creates, updates and deletes that turn `current` (our labelled objects) into `desired`.

    `known_equal`: (namespace, name) of objects already known to match (compared in an earlier pass
    at the same resourceVersion); they are not compared again.
    """
    have = {objects.key(obj): obj for obj in current if objects.is_authoritative(obj)}
    want = {(r.namespace, r.name): r for r in desired}
    actions: list[WriteAction] = []
    for ident in sorted(have.keys() - want.keys()):
        actions.append(WriteAction("delete", ident[0], ident[1], None, have[ident]))
    for ident in sorted(want):
        record, existing = want[ident], have.get(ident)
        if existing is None:
            actions.append(WriteAction("create", ident[0], ident[1], record, None))
        elif ident not in known_equal and needs_update(record, existing):
            actions.append(WriteAction("update", ident[0], ident[1], record, existing))
    return actions


class _Writer:
    def __init__(self, cluster: Cluster, timeout: float, hooks: WriteHooks) -> None:
        self.cluster = cluster
        self.rest = Rest(cluster.api, timeout)
        self.raw_timeout = timeout
        self.hooks = hooks

    def _origin(self, namespace: str, name: str) -> Origin:
        return Origin(self.cluster.name, namespace, name)

    def _issue(self, namespace: str, name: str, message: str) -> Issue:
        return Issue(self._origin(namespace, name), "error", "WriteError", message)

    def _get(self, namespace: str, name: str) -> RawObject | None:
        try:
            body = self.rest.call("GET", record_path(namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return body if isinstance(body, dict) else None

    def _written(self, body: object) -> RawObject:
        obj: RawObject = body if isinstance(body, dict) else {}
        self.hooks.wrote(self.cluster.name, obj)
        return obj

    def create(self, record: AuthoritativeRecord) -> Outcome:
        try:
            response = self.rest.call("POST", record_path(record.namespace), desired_object(record, None))
            return "create", self._written(response), None
        except ApiException as exc:
            if exc.status == 409:
                existing = self._get(record.namespace, record.name)
                if existing is not None and objects.is_authoritative(existing):
                    return self.update(record, existing)
                return None, None, self._issue(
                    record.namespace, record.name,
                    f"a DNSRecord with this name exists without label {LABEL_AUTHORITATIVE}=true; "
                    "it is not ours and is left alone",
                )
            if exc.status == 404:
                return None, None, self._issue(
                    record.namespace, record.name,
                    f"cannot create the authoritative record: namespace {record.namespace} does not exist "
                    f"in cluster {self.cluster.name}",
                )
            raise

    def update(
        self, record: AuthoritativeRecord, existing: RawObject
    ) -> Outcome:
        current: RawObject | None = existing
        for _ in range(MAX_CONFLICT_RETRIES):
            if current is None:
                return self.create(record)
            if not objects.is_authoritative(current):
                return None, None, self._issue(
                    record.namespace, record.name, f"label {LABEL_AUTHORITATIVE}=true was removed; left alone"
                )
            if not needs_update(record, current):
                return None, current, None
            try:
                response = self.rest.call(
                    "PUT", record_path(record.namespace, record.name), desired_object(record, current)
                )
                return "update", self._written(response), None
            except ApiException as exc:
                if exc.status not in (409, 404):
                    raise
                # Somebody else changed it since we read it: re-read and decide again.
                current = self._get(record.namespace, record.name)
        return None, current, self._issue(
            record.namespace, record.name, f"still conflicting after {MAX_CONFLICT_RETRIES} attempts"
        )

    def delete(self, existing: RawObject) -> Outcome:
        namespace, name = objects.key(existing)
        current: RawObject | None = existing
        for _ in range(MAX_CONFLICT_RETRIES):
            if current is None or not objects.is_authoritative(current):
                return None, None, None
            try:
                self.rest.call("DELETE", record_path(namespace, name), delete_options(current))
                self.hooks.deleted(self.cluster.name, namespace, name)
                return "delete", None, None
            except ApiException as exc:
                if exc.status == 404:
                    return None, None, None
                if exc.status != 409:
                    raise
                current = self._get(namespace, name)
        return None, None, self._issue(namespace, name, f"still conflicting after {MAX_CONFLICT_RETRIES} attempts")

    def settle(self, action: WriteAction, outcome: Answer | BaseException) -> Outcome | None:
        """What the answer to `_first_call(action)` means; None when the synchronous path must decide
        (a conflict, or a missing object or namespace: re-read and act as `run` does)."""
        if action.op == "delete" and isinstance(outcome, Answer) and outcome.ok:
            self.hooks.deleted(self.cluster.name, action.namespace, action.name)
            return "delete", None, None
        body, failure = _body(outcome)
        if failure is None:
            return action.op, self._written(body), None
        status = getattr(failure, "status", None)
        if status == 404 and action.op == "delete":
            return None, None, None
        if status in (404, 409):
            return None
        return None, action.current, self._issue(
            action.namespace, action.name, f"cannot {action.op}: {describe_failure(failure, self.raw_timeout)}"
        )

    def run(self, action: WriteAction) -> Outcome:
        try:
            if action.op == "delete" and action.current is not None:
                return self.delete(action.current)
            if action.desired is None:
                return None, None, None
            if action.op == "create":
                return self.create(action.desired)
            if action.current is not None:
                return self.update(action.desired, action.current)
            return None, None, None
        except API_ERRORS as exc:
            return None, action.current, self._issue(
                action.namespace, action.name, f"cannot {action.op}: {describe_failure(exc, self.raw_timeout)}"
            )


class WriteHooks:
    """Told about every successful write (the loop keeps its caches and wake-up filter current)."""

    def wrote(self, cluster: str, obj: RawObject) -> None:
        """`obj` is the object as the API server returned it after a create, update or status patch."""

    def deleted(self, cluster: str, namespace: str, name: str) -> None:
        """The object was deleted."""


def _count(report: WriteReport, results: Iterable[Outcome]) -> None:
    for op, obj, issue in results:
        if op == "create":
            report.created += 1
        elif op == "update":
            report.updated += 1
        elif op == "delete":
            report.deleted += 1
        if obj is not None:
            report.objects.append(obj)
        if issue is not None:
            report.issues.append(issue)


def _record_status(report: WriteReport, results: Iterable[tuple[StatusPatch, str | None, Issue | None]]) -> None:
    """Count status results: (patch, resourceVersion it produced or None when it failed, issue)."""
    for patch, version, issue in results:
        if version is not None:
            report.patched += 1
            report.versions[(patch.cluster, patch.namespace, patch.name)] = version
        if issue is not None:
            report.issues.append(issue)


AfterWrite = Callable[[WriteAction, RawObject | None, Issue | None], Sequence[StatusPatch]]


def _first_call(action: WriteAction) -> tuple[str, str, object] | None:
    """(method, path, body) of the one request that carries `action` when nothing is in the way."""
    if action.op == "delete" and action.current is not None:
        return "DELETE", record_path(action.namespace, action.name), delete_options(action.current)
    if action.desired is None:
        return None
    if action.op == "create":
        return "POST", record_path(action.namespace), desired_object(action.desired, None)
    if action.current is not None and objects.is_authoritative(action.current):
        body = desired_object(action.desired, action.current)
        return "PUT", record_path(action.namespace, action.name), body
    return None


def _body(outcome: Answer | BaseException) -> tuple[object, BaseException | None]:
    """(the parsed body of a 2xx answer, None), or (None, what failed: the transport, a body that is not
    JSON, or the ApiException the generated client raises for a non-2xx answer)."""
    if not isinstance(outcome, Answer):
        return None, outcome
    if not outcome.ok:
        return None, outcome.error()
    try:
        return outcome.json(), None
    except ValueError as exc:
        return None, exc


def _status_outcome(
    patch: StatusPatch, outcome: Answer | BaseException, timeout: float
) -> tuple[RawObject | None, Issue | None]:
    """What a status patch's answer means: the object as patched, nothing (deleted meanwhile) or an issue."""
    body, failure = _body(outcome)
    if failure is None:
        return (body if isinstance(body, dict) else {}), None
    if getattr(failure, "status", None) == 404:
        return None, None  # deleted since we read it; the next pass will not see it
    origin = Origin(patch.cluster, patch.namespace, patch.name)
    return None, Issue(origin, "error", "WriteError", f"cannot write status: {describe_failure(failure, timeout)}")


def apply_pipelined(
    local: Cluster,
    actions: Sequence[WriteAction],
    unchanged: Sequence[RawObject],
    targets: Mapping[str, Cluster],
    ready: Sequence[StatusPatch],
    after_write: AfterWrite,
    timeout: float,
    hooks: WriteHooks | None = None,
    leading: Callable[[], bool] = lambda: True,
) -> tuple[WriteReport, list[StatusPatch]]:
    """Authoritative writes in `local` and status patches in every cluster of `targets`, at once.

    Every request goes out pipelined (`kuadns_sync.kube.pipe`). `ready` patches go out at once; the
    patches that report on an authoritative record (returned by `after_write` for each action, given the
    object as written or the write's issue) go out as soon as that record is written, so a status never
    claims a record that is not there yet. A write that meets a conflict or a missing object is done
    again on the synchronous path (re-read, decide again: `_Writer.run`). `leading` is asked before every
    request goes out (only the Lease holder writes); once it says no, nothing more is sent (`not_sent`).
    Returns the report and every patch sent, sorted. Patches for clusters not in `targets` are dropped.
    """
    report = WriteReport(objects=list(unchanged))
    hooks = hooks or WriteHooks()
    writer = _Writer(local, timeout, hooks)
    pipeline = Pipeline(gate=leading)
    for name, cluster in {**targets, local.name: local}.items():
        pipeline.open(name, cluster.api, timeout)
    done: list[tuple[StatusPatch, str | None, Issue | None]] = []  # only the version: objects are let go
    outcomes: list[tuple[int, Outcome]] = []
    skipped: list[bool] = []  # one entry per write left out once the Lease was found lost

    def status_done(patch: StatusPatch, _call: Call, outcome: Answer | BaseException) -> None:
        if isinstance(outcome, Withheld):
            skipped.append(True)
            return
        obj, issue = _status_outcome(patch, outcome, timeout)
        if obj is not None:
            hooks.wrote(patch.cluster, obj)
        # list.append is atomic: every connection thread shares the list
        done.append((patch, objects.resource_version(obj) if obj is not None else None, issue))

    def send(patches: Iterable[StatusPatch]) -> None:
        for patch in patches:
            if patch.cluster in targets:
                path = record_path(patch.namespace, patch.name, "status")
                call = Call("PATCH", path, patch.body, MERGE_PATCH, partial(status_done, patch))
                pipeline.submit(patch.cluster, call)

    def finish(index: int, action: WriteAction, outcome: Outcome) -> None:
        outcomes.append((index, outcome))
        send(after_write(action, outcome[1], outcome[2]))

    def withheld(index: int, action: WriteAction) -> None:
        skipped.append(True)
        outcomes.append((index, (None, action.current, None)))

    def slowly(index: int, action: WriteAction) -> None:
        if pipeline.allowed():
            finish(index, action, writer.run(action))
        else:
            withheld(index, action)

    def write_done(index: int, action: WriteAction, _call: Call, outcome: Answer | BaseException) -> None:
        if isinstance(outcome, Withheld):
            withheld(index, action)
        elif (result := writer.settle(action, outcome)) is None:
            pipeline.aside(partial(slowly, index, action))
        else:
            finish(index, action, result)

    try:
        send(ready)
        for index, action in enumerate(actions):
            request = _first_call(action)
            if request is None:
                pipeline.aside(partial(slowly, index, action))
            else:
                method, path, body = request
                pipeline.submit(local.name, Call(method, path, body, JSON, partial(write_done, index, action)))
        pipeline.wait()
    finally:
        pipeline.close()
    _count(report, (outcome for _, outcome in sorted(outcomes, key=lambda item: item[0])))
    _record_status(report, done)
    report.not_sent = len(skipped)
    return report, sorted((p for p, _, _ in done), key=lambda p: (p.cluster, p.namespace, p.name))


def apply_status(
    cluster: Cluster,
    patches: Sequence[StatusPatch],
    timeout: float,
    hooks: WriteHooks | None = None,
) -> WriteReport:
    """Send every status patch for `cluster` (merge patch on the status subresource), pipelined."""
    if not patches:
        return WriteReport()
    report, _ = apply_pipelined(cluster, [], [], {cluster.name: cluster}, patches, lambda *_: [], timeout, hooks)
    return report
