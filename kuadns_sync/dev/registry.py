"""REST semantics of the emulator on top of the store: create/get/list/update/patch/delete with
resourceVersion preconditions, generation rules, the status subresource, finalizers and deletionTimestamp,
namespace lifecycle, field validation (Strict/Warn/Ignore) and dry runs.

No sockets: the HTTP layer calls these with parsed requests and turns `ApiError` into Status responses.
Stored objects are immutable, so a write shares the unchanged parts of the current object instead of
copying them, and parts equal to the current object are neither pruned nor validated again (ratcheting).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kuadns_sync.dev import manifests, validation
from kuadns_sync.dev import patch as patches
from kuadns_sync.dev import status as errors
from kuadns_sync.dev.resources import CRDS, NAMESPACES, ResourceType, crd_status
from kuadns_sync.dev.selectors import FieldSelector, LabelSelector, field_value
from kuadns_sync.dev.store import Entry, Expired, Store, decode_continue, encode_continue
from kuadns_sync.jsoncodec import clone, decode, encode

Json = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
# k8s generateName suffix alphabet (no vowels, no confusable digits).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


@dataclass(slots=True)
class Outcome:
    """A successful write: the object to return, its HTTP code and Warning headers (and its JSON when known)."""

    obj: Json
    code: int = 200
    warnings: Sequence[str] = ()
    raw: bytes | None = None

    @staticmethod
    def of(entry: Entry, code: int = 200, warnings: Sequence[str] = ()) -> Outcome:
        """The outcome returning a stored entry (its JSON is already encoded)."""
        return Outcome(entry.obj, code, warnings, entry.raw)


@dataclass(frozen=True)
class WriteOptions:
    """Query options shared by writes."""

    dry_run: bool = False
    field_validation: str = "Warn"
    field_manager: str | None = None
    force: bool = False


_LAST_SECOND: tuple[int, str] = (0, "1970-01-01T00:00:00Z")


def rfc3339(ts: float) -> str:
    """Seconds-precision UTC timestamp as Kubernetes writes metadata times."""
    global _LAST_SECOND
    second = math.floor(ts)
    # datetime rounds to microseconds: only the last microsecond of a second can round up into the next one.
    if ts - second < 0.999999:
        last = _LAST_SECOND  # (one tuple: the last second formatted, as writes come many a second)
        if last[0] != second:
            last = _LAST_SECOND = (second, dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return last[1]
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def uuid4_text(bits: int) -> str:
    """The text of uuid.UUID(int=bits, version=4) (RFC 4122 variant and version bits set), without the class."""
    bits = (bits & ~(0xC000 << 48) | (0x8000 << 48)) & ~(0xF000 << 64) | (4 << 76)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _meta(obj: Mapping[str, Any]) -> Json:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _without(obj: Mapping[str, Any], *keys: str) -> Json:
    return {k: v for k, v in obj.items() if k not in keys}


class Registry:
    """All resource types served by one emulated cluster and the operations on them."""

    def __init__(
        self,
        store: Store,
        types: Sequence[ResourceType],
        clock: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.types = list(types)
        self.clock = clock
        self._rng = rng or random.Random()
        self._by_path = {(rt.group, rt.version, rt.plural): rt for rt in self.types}

    # --- lookup ---------------------------------------------------------------------------------------------

    def resource(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at /apis/<group>/<version>/<plural> (group '' for /api/v1)."""
        return self._by_path.get((group, version, plural))

    def by_name(self, name: str) -> ResourceType:
        """A type by plural, `plural.group`, kind or short name (for the Python API). Raises KeyError."""
        lowered = name.lower()
        for rt in self.types:
            names = {rt.plural, rt.singular, rt.kind.lower(), f"{rt.plural}.{rt.group}", *rt.short_names}
            if lowered in names:
                return rt
        raise KeyError(f"no resource type {name!r}")

    def _uid(self) -> str:
        return uuid4_text(self._rng.getrandbits(128))

    # --- reads ----------------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        """The stored object. Raises ApiError 404."""
        entry = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if entry is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return entry

    def matcher(self, rt: ResourceType, labels: LabelSelector, fields: FieldSelector) -> Callable[[Json], bool]:
        """Predicate for list and watch filtering."""

        def match(obj: Json) -> bool:
            return labels.matches(_meta(obj).get("labels")) and fields.matches(obj, field_value)

        return match

    def list_page(
        self,
        rt: ResourceType,
        namespace: str | None,
        match: Callable[[Json], bool],
        limit: int = 0,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> tuple[list[Entry], Json]:
        """Matching entries (one page) and the list metadata (resourceVersion, continue, remainingItemCount)."""
        if continue_token:
            try:
                sid, offset, rv = decode_continue(continue_token)
                remaining, rv = self.store.load_snapshot(sid)
            except ValueError as exc:
                raise errors.bad_request(f"continue key is not valid: {exc}") from exc
            except Expired as exc:
                raise errors.gone(
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter."
                ) from exc
            entries = remaining[offset:]
        else:
            if resource_version not in (None, "", "0"):
                try:
                    wanted = int(str(resource_version))
                except ValueError as exc:
                    raise errors.bad_request(f"invalid resource version {resource_version!r}") from exc
                if wanted > self.store.resource_version:
                    raise errors.ApiError(
                        504,
                        "Timeout",
                        f"Too large resource version: {wanted}, current: {self.store.resource_version}",
                        {
                            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                            "retryAfterSeconds": 1,
                        },
                    )
            all_entries, rv = self.store.entries(rt.key, namespace if rt.namespaced else None)
            entries = [e for e in all_entries if match(e.obj)]
            sid, offset = "", 0
        meta: Json = {"resourceVersion": str(rv)}
        if limit and len(entries) > limit:
            if not continue_token:
                sid = self.store.save_snapshot(entries, rv)
                offset = 0
            meta["continue"] = encode_continue(sid, offset + limit, rv)
            meta["remainingItemCount"] = len(entries) - limit
            entries = entries[:limit]
        return entries, meta

    # --- shared write preparation ---------------------------------------------------------------------------

    def _check_envelope(self, rt: ResourceType, body: Any) -> Json:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        # Like kube-apiserver's decoder, a body without kind/apiVersion gets the ones of the URL.
        if not body.get("kind") or not body.get("apiVersion"):
            rest = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
            body = {"apiVersion": body.get("apiVersion") or rt.api_version, "kind": body.get("kind") or rt.kind, **rest}
        if body["kind"] != rt.kind:
            raise errors.bad_request(
                f"the kind in the data ({body['kind']}) does not match the expected kind ({rt.kind})"
            )
        if body.get("apiVersion") != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the expected API version "
                f"({rt.api_version})"
            )
        if "metadata" in body and not isinstance(body["metadata"], dict):
            raise errors.bad_request("metadata must be an object")
        checked: Json = body
        return checked

    def _decode(
        self,
        rt: ResourceType,
        body: Json,
        namespace: str,
        opts: WriteOptions,
        *,
        owned: bool = False,
        current: Json | None = None,
    ) -> tuple[Json, list[str], Json | None]:
        """Prune unknown fields according to fieldValidation; fix the namespace from the URL. Also returns
        the schema part when it was found clean and valid as a new object (see validation.prune_unknown).

        `owned`: the body was built for this request (nobody else holds it), so it is not copied; parts
        of it that are the very objects of `current` (stored, already pruned) are not walked again.
        """
        obj, unknown, verified = validation.prune_unknown(body if owned else clone(body), rt, current)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        warnings: list[str] = []
        if unknown:
            if opts.field_validation == "Strict":
                listed = ", ".join(f'unknown field "{u}"' for u in unknown)
                raise errors.bad_request(f"strict decoding error: {listed}")
            if opts.field_validation == "Warn":
                warnings = [f'unknown field "{u}"' for u in unknown]
        return obj, warnings, verified

    def _validate(self, rt: ResourceType, obj: Json, old: Json | None, verified: Json | None = None) -> None:
        causes = validation.validate_meta(_meta(obj), rt, _meta(old) if old is not None else None)
        causes += validation.validate_kind(obj, rt, old, verified)
        if causes:
            raise errors.invalid(rt.kind, rt.group, str(_meta(obj).get("name", "")), causes)

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get(NAMESPACES.key, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if _meta(ns.obj).get("deletionTimestamp"):
            raise errors.forbidden(
                f'{errors.qualified(rt.plural, rt.group)} "{_meta(ns.obj).get("name")}" is forbidden: unable to '
                f"create new content in namespace {namespace} because it is being terminated"
            )

    def _writable(self, rt: ResourceType) -> None:
        if rt.read_only:
            raise errors.method_not_allowed()

    # --- create ---------------------------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: Any, opts: WriteOptions = WriteOptions()) -> Outcome:
        """POST: 201 with the stored object; `body` is taken over, not copied. Raises ApiError (400, 404, 409, 422)."""
        self._writable(rt)
        body = self._check_envelope(rt, body)
        obj, warnings, verified = self._decode(rt, body, namespace, opts, owned=True)
        with self.store.locked():
            self._check_namespace(rt, namespace)
            return Outcome.of(self._create_locked(rt, namespace, obj, opts, verified=verified), 201, warnings)

    def _create_locked(
        self,
        rt: ResourceType,
        namespace: str,
        obj: Json,
        opts: WriteOptions,
        *,
        uid: str | None = None,
        keep_status: bool = False,
        verified: Json | None = None,
    ) -> Entry:
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            for _ in range(8):
                candidate = meta["generateName"] + "".join(self._rng.choice(_NAME_ALPHABET) for _ in range(5))
                if self.store.get(rt.key, namespace if rt.namespaced else "", candidate) is None:
                    meta["name"] = candidate
                    break
        for key in (*_SERVER_META, "resourceVersion", "selfLink", "managedFields"):
            meta.pop(key, None)
        if rt.status_subresource and not keep_status:
            obj.pop("status", None)  # status is written only through /status
        obj = validation.normalize(obj, rt)
        obj = validation.apply_defaults(obj, rt)
        self._validate(rt, obj, None, verified)
        meta = obj["metadata"]
        if self.store.get(rt.key, namespace if rt.namespaced else "", meta["name"]) is not None:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        meta["uid"] = uid or self._uid()
        meta["resourceVersion"] = ""  # placeholder keeps kube-apiserver's key order; the store sets it
        meta["creationTimestamp"] = rfc3339(self.clock())
        if rt.custom:
            meta["generation"] = 1
        obj = _order(obj)
        if opts.dry_run:
            return Entry(obj, encode(obj))
        return self.store.put(rt.key, obj, "ADDED", None)

    # --- update / patch -------------------------------------------------------------------------------------

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        subresource: str | None = None,
        opts: WriteOptions = WriteOptions(),
    ) -> Outcome:
        """PUT on an object or its /status; `body` is taken over, not copied. Raises ApiError (400, 404, 409, 422)."""
        self._writable(rt)
        body = self._check_envelope(rt, body)
        obj, warnings, _ = self._decode(rt, body, namespace, opts, owned=True)
        body_name = _meta(obj).get("name")
        if body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        with self.store.locked():
            current = self.get(rt, namespace, name)
            rv = _meta(obj).get("resourceVersion")
            if not rv and rt.custom:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [
                        errors.Cause(
                            "FieldValueInvalid",
                            "Invalid value: 0x0: must be specified for an update",
                            "metadata.resourceVersion",
                        )
                    ],
                )
            if rv and rv != _meta(current.obj).get("resourceVersion"):
                raise errors.conflict(rt.plural, rt.group, name)
            result, code = self._update_locked(rt, current, obj, subresource, opts)
            return Outcome.of(result, code, warnings)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: bytes,
        subresource: str | None = None,
        opts: WriteOptions = WriteOptions(),
    ) -> Outcome:
        """PATCH (merge, JSON patch, strategic on core types, server-side apply). Raises ApiError."""
        self._writable(rt)
        accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + ([] if rt.custom else [STRATEGIC_PATCH])
        if content_type not in accepted:
            raise errors.unsupported_media_type(content_type, accepted)
        try:
            document = manifests.load(raw) if content_type == APPLY_PATCH else decode(raw or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"error decoding patch: {exc}") from exc
        if content_type == APPLY_PATCH:
            return self._apply(rt, namespace, name, document, subresource, opts)
        with self.store.locked():
            entry = self.get(rt, namespace, name)
            current = entry.obj
            try:
                if content_type == JSON_PATCH:
                    patched = patches.json_patch(current, document)
                elif content_type == MERGE_PATCH:
                    if not isinstance(document, dict):
                        raise patches.PatchError("a merge patch must be a JSON object")
                    # The document was parsed for this request: its values may become part of the result.
                    patched = patches.merge_patch(current, document, share=True)
                else:
                    if not isinstance(document, dict):
                        raise patches.PatchError("a strategic merge patch must be a JSON object")
                    patched = patches.strategic_merge_patch(current, document)
            except patches.PatchError as exc:
                raise errors.ApiError(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {exc}", {}
                ) from exc
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch result is not an object")
            patched = self._check_envelope(rt, patched)
            # Every patch result is a new value that shares only the (immutable) current object's parts.
            obj, warnings, _ = self._decode(rt, patched, namespace, opts, owned=True, current=current)
            if _meta(obj).get("name") != name:
                raise errors.bad_request("metadata.name cannot be changed by a patch")
            if _meta(obj).get("resourceVersion") != _meta(current).get("resourceVersion"):
                raise errors.conflict(rt.plural, rt.group, name)
            result, code = self._update_locked(rt, entry, obj, subresource, opts)
            return Outcome.of(result, code, warnings)

    def _apply(
        self, rt: ResourceType, namespace: str, name: str, document: Any, subresource: str | None, opts: WriteOptions
    ) -> Outcome:
        # Server-side apply, simplified: create when absent, otherwise merge the applied configuration into the
        # live object (maps merge, lists replace). Field ownership and conflicts are not tracked.
        if not opts.field_manager:
            raise errors.bad_request("PATCH requests with apply content type require fieldManager")
        applied = self._check_envelope(rt, document)
        with self.store.locked():
            entry = self.store.get(rt.key, namespace if rt.namespaced else "", name)
            if entry is None:
                if subresource:
                    raise errors.not_found(rt.plural, rt.group, name)
                obj, warnings, verified = self._decode(rt, applied, namespace, opts)
                if _meta(obj).get("name") != name:
                    raise errors.bad_request(
                        f"the name of the object ({_meta(obj).get('name')}) does not match the name on the URL ({name})"
                    )
                self._check_namespace(rt, namespace)
                created = self._create_locked(rt, namespace, obj, opts, verified=verified)
                return Outcome.of(created, 201, warnings)
            current = entry.obj
            merged = _deep_merge(current, applied)
            merged.setdefault("metadata", {})["resourceVersion"] = _meta(current).get("resourceVersion")
            obj, warnings, _ = self._decode(rt, merged, namespace, opts)
            result, code = self._update_locked(rt, entry, obj, subresource, opts)
            return Outcome.of(result, code, warnings)

    def _update_locked(
        self, rt: ResourceType, entry: Entry, obj: Json, subresource: str | None, opts: WriteOptions
    ) -> tuple[Entry, int]:
        current = entry.obj
        old_meta = _meta(current)
        if subresource == "status":
            if not rt.status_subresource:
                raise errors.path_not_found()
            # The status subresource changes status only (apiextensions statusStrategy.PrepareForUpdate).
            # Stored objects are never mutated: share everything but the metadata (which gets a new
            # resourceVersion) with the current object.
            new = {**current, "metadata": dict(old_meta)}
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        elif subresource:
            raise errors.path_not_found()
        else:
            new = obj
            meta = new["metadata"]
            for key in _SERVER_META:
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            meta["namespace"] = old_meta.get("namespace")
            if not rt.namespaced:
                meta.pop("namespace", None)
            meta.pop("managedFields", None)
            meta.pop("selfLink", None)
            if rt.status_subresource:
                if "status" in current:
                    new["status"] = current["status"]
                else:
                    new.pop("status", None)
            new = validation.normalize(new, rt)
            new = validation.apply_defaults(new, rt)
            if old_meta.get("deletionTimestamp"):
                added = [f for f in _meta(new).get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
                if added:
                    raise errors.invalid(
                        rt.kind,
                        rt.group,
                        old_meta["name"],
                        [
                            errors.Cause(
                                "FieldValueForbidden",
                                f"Forbidden: no new finalizers can be added if the object is being deleted, "
                                f"found new finalizers {json.dumps(added)}",
                                "metadata.finalizers",
                            )
                        ],
                    )
            if rt.custom and _spec_changed(current, new, rt):
                new["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
        self._validate(rt, new, current)
        new["metadata"]["resourceVersion"] = old_meta.get("resourceVersion")
        if subresource != "status":
            # (a status write keeps the stored object's key order: its keys stay where they were)
            new = _order(new)
        if new == current:
            return entry, 200  # kube-apiserver skips no-op writes: no new resourceVersion, no event
        if opts.dry_run:
            return Entry(new, encode(new)), 200
        if _meta(new).get("deletionTimestamp") and not _meta(new).get("finalizers"):
            removed = self.store.remove(rt.key, new)
            self._after_remove(rt, new)
            return removed, 200
        return self.store.put(rt.key, new, "MODIFIED", current), 200

    # --- delete ---------------------------------------------------------------------------------------------

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Outcome:
        """DELETE: marks objects with finalizers (deletionTimestamp), removes the others. Raises ApiError."""
        self._writable(rt)
        options = options or {}
        with self.store.locked():
            current = self.get(rt, namespace, name).obj
            meta = _meta(current)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
                raise errors.conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                    f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                )
            if rt.plural == "namespaces" and name in PROTECTED_NAMESPACES:
                raise errors.forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted')
            if meta.get("finalizers") or (rt.plural == "namespaces" and self._namespace_has_content(name)):
                if meta.get("deletionTimestamp"):
                    return Outcome(current)
                marked = clone(current)
                mmeta = marked["metadata"]
                mmeta["deletionTimestamp"] = rfc3339(self.clock())
                mmeta["deletionGracePeriodSeconds"] = 0
                if "generation" in mmeta:
                    mmeta["generation"] = int(mmeta["generation"]) + 1
                if rt.plural == "namespaces":
                    marked["status"] = {**(marked.get("status") or {}), "phase": "Terminating"}
                if dry_run:
                    return Outcome(_order(marked))
                stored = self.store.put(rt.key, _order(marked), "MODIFIED", current).obj
                if rt.plural == "namespaces":
                    self._terminate_namespace(name)
                    still = self.store.get(rt.key, "", name)
                    return Outcome(still.obj if still else stored)
                return Outcome(stored)
            if dry_run:
                return Outcome(_success(rt, current))
            self.store.remove(rt.key, current)
            self._after_remove(rt, current)
            return Outcome(_success(rt, current))

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        match: Callable[[Json], bool],
        options: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Json:
        """DELETE on a collection: deletes every matching object; returns the list of what was deleted."""
        self._writable(rt)
        with self.store.locked():
            entries, rv = self.store.entries(rt.key, namespace if rt.namespaced else None)
            items = []
            for entry in entries:
                if match(entry.obj):
                    meta = _meta(entry.obj)
                    outcome = self.delete(rt, meta.get("namespace", ""), meta["name"], options, dry_run)
                    items.append(outcome.obj if outcome.obj.get("kind") == rt.kind else entry.obj)
            return {
                "apiVersion": rt.api_version,
                "kind": rt.list_kind,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": items,
            }

    def _namespace_has_content(self, namespace: str) -> bool:
        return any(rt.namespaced and self.store.count(rt.key, namespace) for rt in self.types)

    def _terminate_namespace(self, namespace: str) -> None:
        # The namespace controller's job: delete everything inside, then drop the namespace once empty.
        for rt in self.types:
            if not rt.namespaced:
                continue
            entries, _ = self.store.entries(rt.key, namespace)
            for entry in entries:
                if self.store.get(rt.key, namespace, _meta(entry.obj)["name"]) is not None:
                    self.delete(rt, namespace, _meta(entry.obj)["name"])
        self._maybe_finish_namespace(namespace)

    def _after_remove(self, rt: ResourceType, obj: Json) -> None:
        if rt.namespaced:
            self._maybe_finish_namespace(_meta(obj).get("namespace", ""))

    def _maybe_finish_namespace(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACES.key, "", namespace)
        if ns is None or not _meta(ns.obj).get("deletionTimestamp") or self._namespace_has_content(namespace):
            return
        self.store.remove(NAMESPACES.key, ns.obj)

    # --- direct access for the Python API -------------------------------------------------------------------

    def seed(self, rt: ResourceType, obj: Json, uid: str | None = None) -> Json:
        """Store an object bypassing HTTP (bootstrap objects, bulk loads); validation still applies."""
        namespace = _meta(obj).get("namespace", "default") if rt.namespaced else ""
        body = {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
        with self.store.locked():
            if rt.namespaced and self.store.get(NAMESPACES.key, "", namespace) is None:
                self.seed(NAMESPACES, {"metadata": {"name": namespace}})
            decoded, _, verified = self._decode(rt, body, namespace, WriteOptions(field_validation="Ignore"))
            return self._create_locked(
                rt, namespace, decoded, WriteOptions(), uid=uid, keep_status=True, verified=verified
            ).obj


def _success(rt: ResourceType, obj: Json) -> Json:
    meta = _meta(obj)
    details: Json = {"name": meta.get("name"), "kind": rt.plural, "uid": meta.get("uid")}
    if rt.group:
        details["group"] = rt.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def _spec_changed(old: Json, new: Json, rt: ResourceType) -> bool:
    ignored = ("metadata", "status") if rt.status_subresource else ("metadata",)
    return _without(old, *ignored) != _without(new, *ignored)


def _deep_merge(live: Any, applied: Any) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict):
        result = dict(live)
        for key, value in applied.items():
            result[key] = _deep_merge(live.get(key), value)
        return result
    return clone(applied)


_TOP_ORDER = ("apiVersion", "kind", "metadata")
_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
)


def _order(obj: Json) -> Json:
    """Key order like kube-apiserver output (apiVersion, kind, metadata first) for readable `-o yaml`."""
    meta = obj.get("metadata", {})
    ordered_meta = {k: meta[k] for k in _META_ORDER if k in meta}
    ordered_meta.update({k: v for k, v in meta.items() if k not in ordered_meta})
    result = {k: obj[k] for k in _TOP_ORDER if k in obj and k != "metadata"}
    result["metadata"] = ordered_meta
    result.update({k: v for k, v in obj.items() if k not in result})
    return result


def crd_object(crd: Json, uid: str, timestamp: str) -> Json:
    """The stored form of a packaged CRD manifest."""
    obj: Json = clone(crd)
    meta = obj.setdefault("metadata", {})
    meta.update({"uid": uid, "creationTimestamp": timestamp, "generation": 1})
    obj["status"] = crd_status(crd, timestamp)
    return obj


def bootstrap(registry: Registry, crds: Iterable[Json], kube_system_uid: str | None) -> None:
    """Create the objects every cluster starts with: default, kube-system, kube-public, kube-node-lease
    namespaces and the CRDs."""
    registry.seed(NAMESPACES, {"metadata": {"name": "default", "labels": {"kubernetes.io/metadata.name": "default"}}})
    registry.seed(
        NAMESPACES,
        {"metadata": {"name": "kube-system", "labels": {"kubernetes.io/metadata.name": "kube-system"}}},
        uid=kube_system_uid,
    )
    for name in ("kube-public", "kube-node-lease"):
        registry.seed(NAMESPACES, {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}})
    for crd in crds:
        obj = crd_object(crd, registry._uid(), rfc3339(registry.clock()))
        with registry.store.locked():
            registry.store.put(CRDS.key, _order(obj), "ADDED", None)
