"""Object checks kube-apiserver does before storing: ObjectMeta (names, labels, annotations, finalizers),
per-kind rules (Secret data, Lease spec, Namespace defaults) and schema validation of custom resources.

Pure, no I/O. Every function returns the list of field errors (`Cause`) instead of raising, so one 422 names
every problem at once.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from kuadns_sync.dev import schema as schemas
from kuadns_sync.dev.resources import ResourceType
from kuadns_sync.dev.selectors import label_key_error, label_value_error
from kuadns_sync.dev.status import Cause

Json = dict[str, Any]

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
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
        "managedFields",
    }
)
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_MAX_ANNOTATIONS_BYTES = 256 * 1024
_MAX_SECRET_BYTES = 1024 * 1024


def _name_error(name: str, rt: ResourceType) -> str | None:
    if rt.plural == "namespaces":
        if len(name) > 63 or not _DNS1123_LABEL.match(name):
            return (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            )
        return None
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
            "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
    return None


def validate_meta(meta: Mapping[str, Any], rt: ResourceType, old: Mapping[str, Any] | None = None) -> list[Cause]:
    """Errors in ObjectMeta: name, labels, annotations and finalizers.

    On updates (`old`: the stored object's metadata, which passed these checks) a field equal to the old
    one is not checked again: the checks depend on the value alone.
    """

    def changed(key: str) -> bool:
        return old is None or key not in old or not (meta.get(key) is old[key] or meta.get(key) == old[key])

    causes: list[Cause] = []
    if changed("name"):
        causes += _check_name(meta.get("name"), rt)
    if changed("labels"):
        causes += _check_labels(meta.get("labels"))
    if changed("annotations"):
        causes += _check_annotations(meta.get("annotations"))
    if changed("finalizers"):
        causes += _check_finalizers(meta.get("finalizers"))
    return causes


def _check_name(name: Any, rt: ResourceType) -> list[Cause]:
    if not isinstance(name, str) or not name:
        return [Cause("FieldValueRequired", "Required value: name or generateName is required", "metadata.name")]
    why = _name_error(name, rt)
    return [Cause("FieldValueInvalid", f'Invalid value: "{name}": {why}', "metadata.name")] if why else []


def _check_labels(labels: Any) -> list[Cause]:
    causes: list[Cause] = []
    if labels is not None:
        if not isinstance(labels, dict):
            causes.append(Cause("FieldValueTypeInvalid", "Invalid value: must be a map of strings", "metadata.labels"))
        else:
            for key, value in labels.items():
                why = label_key_error(key)
                if why:
                    causes.append(Cause("FieldValueInvalid", f'Invalid value: "{key}": {why}', "metadata.labels"))
                if not isinstance(value, str):
                    causes.append(
                        Cause("FieldValueTypeInvalid", "Invalid value: must be a string", f"metadata.labels.{key}")
                    )
                else:
                    why = label_value_error(value)
                    if why:
                        causes.append(Cause("FieldValueInvalid", f'Invalid value: "{value}": {why}', "metadata.labels"))
    return causes


def _check_annotations(annotations: Any) -> list[Cause]:
    causes: list[Cause] = []
    if annotations is not None:
        if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
            causes.append(
                Cause("FieldValueTypeInvalid", "Invalid value: must be a map of strings", "metadata.annotations")
            )
        else:
            for key in annotations:
                why = label_key_error(key.lower())
                if why:
                    causes.append(Cause("FieldValueInvalid", f'Invalid value: "{key}": {why}', "metadata.annotations"))
            size = sum(len(k) + len(v) for k, v in annotations.items())
            if size > _MAX_ANNOTATIONS_BYTES:
                causes.append(
                    Cause(
                        "FieldValueTooLong",
                        f"Too long: must have at most {_MAX_ANNOTATIONS_BYTES} bytes",
                        "metadata.annotations",
                    )
                )
    return causes


def _check_finalizers(finalizers: Any) -> list[Cause]:
    causes: list[Cause] = []
    if finalizers is not None:
        if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
            causes.append(
                Cause("FieldValueTypeInvalid", "Invalid value: must be a list of strings", "metadata.finalizers")
            )
        else:
            for i, fin in enumerate(finalizers):
                why = label_key_error(fin)
                if why:
                    causes.append(
                        Cause("FieldValueInvalid", f'Invalid value: "{fin}": {why}', f"metadata.finalizers[{i}]")
                    )
                elif "/" not in fin and fin not in ("kubernetes", "orphan", "foregroundDeletion"):
                    causes.append(
                        Cause(
                            "FieldValueInvalid",
                            f'Invalid value: "{fin}": name is neither a standard finalizer name '
                            "nor is it fully qualified",
                            f"metadata.finalizers[{i}]",
                        )
                    )
    return causes


def _same_values(body: Json, verified: Json) -> bool:
    return body.keys() == verified.keys() and all(value is verified[key] for key, value in body.items())


def normalize(obj: Json, rt: ResourceType) -> Json:
    """Kind-specific conversions done on every write: Secret stringData -> data, type and Namespace defaults."""
    if rt.plural == "secrets":
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = dict(obj.get("data") or {})
            for key, value in string_data.items():
                if isinstance(value, str):
                    data[key] = base64.b64encode(value.encode()).decode()
            obj["data"] = data
        obj.setdefault("type", "Opaque")
    elif rt.plural == "namespaces":
        obj["spec"] = {"finalizers": ["kubernetes"]}
        status: Json = obj["status"] if isinstance(obj.get("status"), dict) else {}
        obj["status"] = {**status, "phase": status.get("phase", "Active")}
    return obj


def validate_kind(
    obj: Mapping[str, Any], rt: ResourceType, old: Mapping[str, Any] | None, verified: Json | None = None
) -> list[Cause]:
    """Kind-specific errors: schema (types, CRD constraints, CEL), Secret/ConfigMap keys, Lease bounds.

    `verified`: a schema part `prune_unknown` found valid as a new object; on a create whose schema part
    still holds exactly those values (no default landed) the schema is not walked again.
    """
    causes: list[Cause] = []
    if rt.schema is not None:
        body = {k: v for k, v in obj.items() if k != "metadata"}
        if not (old is None and verified is not None and _same_values(body, verified)):
            old_body: Any = {k: v for k, v in old.items() if k != "metadata"} if old is not None else schemas._MISSING
            causes += schemas.validate(body, rt.schema, "", old_body)
    if rt.plural in ("secrets", "configmaps"):
        data = obj.get("data") or {}
        total = 0
        for key, value in data.items() if isinstance(data, dict) else ():
            if not _CONFIG_KEY.match(key) or len(key) > 253:
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f'Invalid value: "{key}": a valid config key must consist of alphanumeric characters, '
                        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                        "validation is '[-._a-zA-Z0-9]+')",
                        f"data[{key}]",
                    )
                )
            if rt.plural == "secrets" and isinstance(value, str):
                try:
                    total += len(base64.b64decode(value, validate=True))
                except (binascii.Error, ValueError):
                    causes.append(
                        Cause(
                            "FieldValueInvalid", f'Invalid value: "{value[:20]}": illegal base64 data', f"data[{key}]"
                        )
                    )
        if total > _MAX_SECRET_BYTES:
            causes.append(Cause("FieldValueTooLong", f"Too long: must have at most {_MAX_SECRET_BYTES} bytes", "data"))
        if old is not None and old.get("immutable") is True:
            for fld in ("data", "binaryData", "stringData"):
                if obj.get(fld) != old.get(fld):
                    causes.append(
                        Cause("FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", fld)
                    )
            if obj.get("immutable") is not True:
                causes.append(
                    Cause("FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", "immutable")
                )
        if rt.plural == "secrets" and old is not None and obj.get("type") != old.get("type"):
            causes.append(Cause("FieldValueInvalid", f'Invalid value: "{obj.get("type")}": field is immutable', "type"))
    if rt.plural == "leases":
        spec = obj.get("spec") or {}
        duration = spec.get("leaseDurationSeconds") if isinstance(spec, dict) else None
        if isinstance(duration, int) and duration <= 0:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {duration}: must be greater than 0",
                    "spec.leaseDurationSeconds",
                )
            )
        transitions = spec.get("leaseTransitions") if isinstance(spec, dict) else None
        if isinstance(transitions, int) and transitions < 0:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {transitions}: must be greater than or equal to 0",
                    "spec.leaseTransitions",
                )
            )
    return causes


def prune_unknown(obj: Json, rt: ResourceType, clean: Json | None = None) -> tuple[Json, list[str], Json | None]:
    """`obj` without unknown fields (schema and ObjectMeta), the dotted paths that were dropped, and the
    schema part of `obj` when it was found both clean and valid as a new object (else None): `validate_kind`
    does not check those very values again.

    Parts of `obj` that are the very objects found at the same place in `clean` (an object pruned
    before) are taken as they are.
    """
    unknown: list[str] = []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        if meta.keys() <= OBJECT_META_FIELDS:
            meta = dict(meta)
        else:
            unknown.extend(f"metadata.{key}" for key in meta if key not in OBJECT_META_FIELDS)
            meta = {k: v for k, v in meta.items() if k in OBJECT_META_FIELDS}
    body = {k: v for k, v in obj.items() if k != "metadata"}
    verified = None
    if rt.schema is not None:
        if clean is None and schemas.plan(rt.schema).new_ok(body):
            verified = body  # one walk stood for pruning's and validation's
        else:
            body = schemas.prune(body, rt.schema, "", unknown, clean)
    # apiVersion, kind and metadata first, as kube-apiserver returns objects.
    result: Json = {k: body[k] for k in ("apiVersion", "kind") if k in body}
    if isinstance(meta, dict):
        result["metadata"] = meta
    result.update(body)  # (apiVersion and kind keep their places)
    return result, unknown, verified


def apply_defaults(obj: Json, rt: ResourceType) -> Json:
    """Schema defaults of custom resources."""
    if rt.custom and rt.schema is not None:
        defaulted: Json = schemas.apply_defaults(obj, rt.schema)
        return defaulted
    return obj
