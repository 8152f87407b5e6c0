"""Plans: what a render/sync would change, computed from the current and the desired bundle files.

Pure, no I/O. Changes to authoritative records are endpoint-level (create/update/delete by endpoint
key, octoDNS-style ordering); changes to zone files are unified diffs. Also the safety check that
refuses mass changes without --force (octoDNS TooMuchChange).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from kuadns_sync.fastyaml import SafeLoader
from kuadns_sync.model import LABEL_ZONE_NAME

Op = Literal["delete", "create", "update"]
_OP_ORDER = {"delete": 0, "create": 1, "update": 2}
MAX_SAFE_CHANGE_FRACTION = 0.3
MIN_EXISTING_FOR_SAFETY = 10


@dataclass(frozen=True, slots=True)
class Change:
    """One endpoint-level change in one authoritative record."""

    op: Op
    zone: str
    record: str
    dns_name: str
    record_type: str
    set_identifier: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class FileDiff:
    """A unified diff of one bundle file (zone file, routing.json)."""

    path: str
    diff: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything that would change, sorted; `existing` counts current endpoints per zone."""

    changes: tuple[Change, ...]
    files: tuple[FileDiff, ...]
    existing: Mapping[str, int]

    @property
    def empty(self) -> bool:
        return not self.changes and not self.files

    def counts(self) -> dict[str, int]:
        """Number of changes per operation."""
        out = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            out[change.op] += 1
        return out


def _records(files: Mapping[str, bytes]) -> dict[str, tuple[str, dict[tuple[str, str, str], dict[str, Any]]]]:
    out = {}
    for path, data in files.items():
        if not path.startswith("authoritative/"):
            continue
        text = data.decode("utf-8")
        obj = (json.loads(text) if path.endswith(".json") else yaml.load(text, Loader=SafeLoader)) or {}
        meta = obj.get("metadata") or {}
        zone = (meta.get("labels") or {}).get(LABEL_ZONE_NAME, "")
        name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        endpoints = {}
        for ep in (obj.get("spec") or {}).get("endpoints") or []:
            key = (
                str(ep.get("dnsName", "")),
                str(ep.get("recordType", "")),
                str(ep.get("setIdentifier", "")),
            )
            endpoints[key] = ep
        out[name] = (zone, endpoints)
    return out


def _is_text_diffable(path: str) -> bool:
    return path.startswith("zones/")


def diff_files(current: Mapping[str, bytes], desired: Mapping[str, bytes]) -> Plan:
    """Plan from the current bundle's files (empty mapping = no bundle yet) to the desired ones."""
    cur, new = _records(current), _records(desired)
    changes: list[Change] = []
    existing: dict[str, int] = {}
    for zone, endpoints in cur.values():
        existing[zone] = existing.get(zone, 0) + len(endpoints)
    for name in sorted(set(cur) | set(new)):
        zone_old, old_eps = cur.get(name, ("", {}))
        zone_new, new_eps = new.get(name, ("", {}))
        zone = zone_new or zone_old
        for key in sorted(set(old_eps) | set(new_eps)):
            old, fresh = old_eps.get(key), new_eps.get(key)
            if old == fresh:
                continue
            op: Op = "create" if old is None else "delete" if fresh is None else "update"
            changes.append(Change(op, zone, name, key[0], key[1], key[2], old, fresh))
    changes.sort(
        key=lambda c: (_OP_ORDER[c.op], c.zone, c.record, c.dns_name, c.record_type, c.set_identifier)
    )
    file_diffs = []
    for path in sorted(p for p in set(current) | set(desired) if _is_text_diffable(p)):
        old_text = current.get(path, b"").decode("utf-8")
        new_text = desired.get(path, b"").decode("utf-8")
        if old_text == new_text:
            continue
        diff = "".join(
            difflib.unified_diff(
                old_text.splitlines(keepends=True),
                new_text.splitlines(keepends=True),
                fromfile=f"a/{path}" if path in current else "/dev/null",
                tofile=f"b/{path}" if path in desired else "/dev/null",
            )
        )
        file_diffs.append(FileDiff(path, diff))
    return Plan(changes=tuple(changes), files=tuple(file_diffs), existing=existing)


def unsafe_reasons(plan: Plan, max_fraction: float = MAX_SAFE_CHANGE_FRACTION) -> list[str]:
    """Why `plan` needs --force: per zone, updates+deletes above `max_fraction` of existing endpoints."""
    reasons = []
    touched: dict[str, int] = {}
    for change in plan.changes:
        if change.op != "create":
            touched[change.zone] = touched.get(change.zone, 0) + 1
    for zone, count in sorted(touched.items()):
        existing = plan.existing.get(zone, 0)
        if existing >= MIN_EXISTING_FOR_SAFETY and count / existing > max_fraction:
            reasons.append(
                f"zone {zone}: {count} of {existing} existing endpoints would be updated or deleted "
                f"({count / existing:.0%} > {max_fraction:.0%}); use --force if this is intended"
            )
    return reasons


def _endpoint_text(ep: Mapping[str, Any]) -> str:
    parts = [f"{ep.get('dnsName')} {ep.get('recordType')}"]
    if ep.get("setIdentifier"):
        parts.append(f"set={ep['setIdentifier']}")
    if ep.get("recordTTL"):
        parts.append(f"ttl={ep['recordTTL']}")
    for ps in ep.get("providerSpecific") or []:
        parts.append(f"{ps.get('name')}={ps.get('value')}")
    parts.append("[" + ", ".join(str(t) for t in ep.get("targets") or []) + "]")
    owner = (ep.get("labels") or {}).get("owner")
    if owner:
        parts.append(f"owner={owner}")
    return " ".join(parts)


def format_text(plan: Plan, *, with_files: bool = True) -> str:
    """Human-readable plan: endpoint changes per authoritative record, zone-file diffs, a summary line."""
    lines: list[str] = []
    current = None
    for change in plan.changes:
        if change.record != current:
            current = change.record
            lines.append(f"{change.record} (zone {change.zone or '?'})")
        if change.op == "create" and change.new is not None:
            lines.append(f"  + {_endpoint_text(change.new)}")
        elif change.op == "delete" and change.old is not None:
            lines.append(f"  - {_endpoint_text(change.old)}")
        elif change.old is not None and change.new is not None:
            lines.append(f"  ~ {_endpoint_text(change.old)}")
            lines.append(f"    -> {_endpoint_text(change.new)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    if with_files:
        out += "".join(f.diff if f.diff.endswith("\n") else f.diff + "\n" for f in plan.files)
    counts = plan.counts()
    existing = sum(plan.existing.values())
    out += (
        f"Summary: {counts['create']} create, {counts['update']} update, {counts['delete']} delete "
        f"({existing} existing endpoints); {len(plan.files)} zone file(s) changed\n"
    )
    return out


def to_json(plan: Plan) -> str:
    """Machine-readable plan (sorted, stable)."""
    document = {
        "changes": [
            {
                "op": c.op,
                "zone": c.zone,
                "record": c.record,
                "dnsName": c.dns_name,
                "recordType": c.record_type,
                "setIdentifier": c.set_identifier,
                "old": c.old,
                "new": c.new,
            }
            for c in plan.changes
        ],
        "files": {f.path: f.diff for f in plan.files},
        "summary": {**plan.counts(), "existing": sum(plan.existing.values()), "files": len(plan.files)},
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
