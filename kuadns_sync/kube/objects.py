"""Accessors for raw Kubernetes objects (DNSRecords, Secrets) as the API returns them.

Pure, no I/O. Raw objects are untrusted JSON: every accessor tolerates missing or mistyped fields
and returns a neutral value instead of raising.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from kuadns_sync.hashing import short_hash
from kuadns_sync.model import LABEL_AUTHORITATIVE, RawObject

READY = "Ready"
READY_FOR_DELEGATION = "ReadyForDelegation"
# Ready reasons a deleting record shows (kuadrant-coredns.md §1.6, §3.6 step 1).
DELETION_REASONS = frozenset({"ProviderEndpointsDeletion", "ProviderEndpointsRemoved"})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def metadata(obj: RawObject) -> dict[str, Any]:
    """The object's metadata mapping (empty when absent)."""
    return _dict(obj.get("metadata"))


def spec(obj: RawObject) -> dict[str, Any]:
    """The object's spec mapping (empty when absent)."""
    return _dict(obj.get("spec"))


def status(obj: RawObject) -> dict[str, Any]:
    """The object's status mapping (empty when absent)."""
    return _dict(obj.get("status"))


def name(obj: RawObject) -> str:
    """metadata.name, or '' when absent."""
    return str(metadata(obj).get("name") or "")


def namespace(obj: RawObject) -> str:
    """metadata.namespace, or '' when absent."""
    return str(metadata(obj).get("namespace") or "")


def key(obj: RawObject) -> tuple[str, str]:
    """(namespace, name): the identity of a namespaced object inside one cluster."""
    return namespace(obj), name(obj)


def labels(obj: RawObject) -> dict[str, str]:
    """metadata.labels with non-string values dropped."""
    raw = _dict(metadata(obj).get("labels"))
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def generation(obj: RawObject) -> int:
    """metadata.generation, or 0 when absent."""
    value = metadata(obj).get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def resource_version(obj: RawObject) -> str:
    """metadata.resourceVersion, or '' when absent."""
    return str(metadata(obj).get("resourceVersion") or "")


def uid(obj: RawObject) -> str:
    """metadata.uid, or '' when absent."""
    return str(metadata(obj).get("uid") or "")


def is_authoritative(obj: RawObject) -> bool:
    """True when the object carries kuadrant.io/authoritative-record=true (an object this tool owns)."""
    # One lookup, not labels(): this runs for every record several times a pass.
    return _dict(metadata(obj).get("labels")).get(LABEL_AUTHORITATIVE) == "true"


def is_delegating(obj: RawObject) -> bool:
    """spec.delegate is true."""
    return spec(obj).get("delegate") is True


@functools.lru_cache(maxsize=65536)
def uid_hash(value: str) -> str:
    """short8 of a metadata.uid (memoised: the base36 of a SHA-224 costs more than a status diff)."""
    return short_hash(value, 8)


def owner_id(obj: RawObject) -> str:
    """The effective owner ID: spec.ownerID, else short8(metadata.uid) (kuadrant-coredns.md §3.6 step 5)."""
    explicit = spec(obj).get("ownerID")
    if isinstance(explicit, str) and explicit:
        return explicit
    return uid_hash(uid(obj))


def conditions(status_map: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The conditions list of a status (or sub-status) mapping; malformed entries dropped."""
    raw = status_map.get("conditions")
    if not isinstance(raw, list):
        return []
    return [c for c in raw if isinstance(c, dict) and isinstance(c.get("type"), str)]


def condition(status_map: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """The condition of type `kind` in a status mapping, if any."""
    for cond in conditions(status_map):
        if cond.get("type") == kind:
            return cond
    return None


def is_deleting(obj: RawObject) -> bool:
    """The record is going away: it has a deletionTimestamp, or its Ready reason says so."""
    if metadata(obj).get("deletionTimestamp"):
        return True
    ready = condition(status(obj), READY)
    return ready is not None and ready.get("reason") in DELETION_REASONS
