"""What a pass would change, as kuadns_sync.plan Plans: the one the safety threshold judges, and the
full one `diff-live` prints.

`safety_plan` is pure; `live_plan` also reads the current bundle directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from kuadns_sync.kube import objects
from kuadns_sync.kube.writer import WriteAction
from kuadns_sync.model import LABEL_ZONE_NAME, OWNER_LABEL, MergeResult, RawObject, Settings
from kuadns_sync.ownership import parse_txt_value
from kuadns_sync.pipeline import authoritative_files, build_bundle, load_previous
from kuadns_sync.plan import Plan, diff_files

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def auth_file(obj: RawObject) -> tuple[str, bytes]:
    """The bundle path and YAML of an authoritative object as it is in the cluster (for diff_files)."""
    meta = objects.metadata(obj)
    doc = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"), "labels": objects.labels(obj)},
        "spec": objects.spec(obj),
    }
    text = yaml.dump(doc, Dumper=_DUMPER, sort_keys=True, default_flow_style=False, width=1000)
    return f"authoritative/{objects.namespace(obj)}/{objects.name(obj)}.yaml", text.encode("utf-8")


def _is_registry(endpoint: Mapping[str, Any] | None) -> bool:
    # Ownership TXT records (kuadrant-coredns.md §2.5) follow their data records; counting them would
    # double every change and make a one-gateway removal look like a mass deletion.
    if endpoint is None or endpoint.get("recordType") != "TXT":
        return False
    return any(isinstance(t, str) and parse_txt_value(t) is not None for t in endpoint.get("targets") or [])


def _served_part(endpoint: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if endpoint is None:
        return None
    labels = {k: v for k, v in (endpoint.get("labels") or {}).items() if k != OWNER_LABEL}
    return {**endpoint, "labels": labels}


def safety_plan(
    actions: Sequence[WriteAction], current: Sequence[RawObject], result: MergeResult
) -> Plan | None:
    """The plan the safety threshold judges: data endpoints of the zones that updates or deletes touch.

    Creates are always safe; registry TXT endpoints and owner-label-only updates change nothing
    that is served, so they are left out of both the changes and the existing count.
    """
    zones: set[str] = set()
    for action in actions:
        if action.op == "create":
            continue
        if action.desired is not None and action.desired.zone:
            zones.add(action.desired.zone)
        if action.current is not None:
            zones.add(objects.labels(action.current).get(LABEL_ZONE_NAME, ""))
    if not zones:
        return None
    in_zones = [
        obj for obj in current
        if objects.is_authoritative(obj) and objects.labels(obj).get(LABEL_ZONE_NAME, "") in zones
    ]
    touched = replace(result, authoritative=tuple(r for r in result.authoritative if (r.zone or "") in zones))
    full = diff_files(dict(auth_file(obj) for obj in in_zones), authoritative_files(touched))
    changes = tuple(
        c for c in full.changes
        if not (_is_registry(c.old) or _is_registry(c.new))
        and not (c.op == "update" and _served_part(c.old) == _served_part(c.new))
    )
    existing: dict[str, int] = {}
    for obj in in_zones:
        zone = objects.labels(obj).get(LABEL_ZONE_NAME, "")
        eps = objects.spec(obj).get("endpoints") or []
        existing[zone] = existing.get(zone, 0) + sum(1 for e in eps if isinstance(e, dict) and not _is_registry(e))
    return Plan(changes=changes, files=(), existing=existing)



def live_plan(
    result: MergeResult, current_objects: Sequence[RawObject], settings: Settings, out: Path | None, now: float
) -> Plan:
    """Everything the next sync would change: authoritative records in the cluster and, with `out`,
    the zone files of the bundle there (the `diff-live` view)."""
    current = dict(auth_file(obj) for obj in current_objects)
    if out is None:
        return diff_files(current, authoritative_files(result))
    previous = load_previous(out)
    if previous is not None:
        root = previous.path
        for path in sorted(root.rglob("*")):
            rel = str(path.relative_to(root))
            if path.is_file() and rel.startswith("zones/"):
                current[rel] = path.read_bytes()
    built = build_bundle(result, settings, previous, now)
    return diff_files(current, built.files)
