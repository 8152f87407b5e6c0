"""`meta.k8s.io/v1 Table` responses for `kubectl get`: per-kind columns, CRD additionalPrinterColumns
evaluated with the JSONPath subset CRDs use (`.a.b`, `[n]`, `[*]`, `[?(@.k=="v")]`), and ages.

Pure, no I/O: the current time is passed in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from kuadns_sync.dev.resources import ResourceType

Json = dict[str, Any]

_NAME_COLUMN: Json = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "priority": 0,
    "description": "Name must be unique within a namespace.",
}
_AGE_COLUMN: Json = {
    "name": "Age",
    "type": "string",
    "format": "",
    "priority": 0,
    "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
}


def human_duration(seconds: float) -> str:
    """Age as kubectl prints it: 45s, 3m20s, 5h, 2d3h, 1y20d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(timestamp: str | None, now: float) -> str:
    if not timestamp:
        return "<unknown>"
    created = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    return human_duration(now - created)


_STEP = re.compile(r"""\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\*\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*["']([^"']*)["']\)\]""")


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Values selected by a CRD printer-column JSONPath (subset). Raises ValueError for unsupported syntax."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    values: list[Any] = [obj]
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {pos}")
        pos = m.end()
        nxt: list[Any] = []
        for v in values:
            if m.group(1) is not None:
                if isinstance(v, Mapping) and m.group(1) in v:
                    nxt.append(v[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(v, list) and int(m.group(2)) < len(v):
                    nxt.append(v[int(m.group(2))])
            elif m.group(3) is not None:
                if isinstance(v, list):
                    for item in v:
                        field = jsonpath(item, "." + m.group(3))
                        if field and str(field[0]) == m.group(4):
                            nxt.append(item)
            elif isinstance(v, list):
                nxt.extend(v)
        values = nxt
    return values


def _cell(column: Mapping[str, Any], values: list[Any], now: float) -> Any:
    if not values:
        return None
    if column.get("type") == "date":
        return _age(str(values[0]), now)
    if len(values) == 1:
        value = values[0]
        return value if isinstance(value, str | int | float | bool) else str(value)
    return ",".join(str(v) for v in values)


def _builtin_columns(rt: ResourceType) -> list[tuple[Json, Any]]:
    """(column definition, extractor) pairs after Name for built-in kinds."""

    def col(name: str, kind: str = "string", desc: str = "") -> Json:
        return {"name": name, "type": kind, "format": "", "priority": 0, "description": desc}

    if rt.plural == "namespaces":
        return [(col("Status", desc="The status of the namespace"), lambda o: (o.get("status") or {}).get("phase"))]
    if rt.plural == "secrets":
        return [
            (col("Type", desc="The type of the secret"), lambda o: o.get("type")),
            (col("Data", "integer", "The number of entries in the secret"), lambda o: len(o.get("data") or {})),
        ]
    if rt.plural == "configmaps":
        return [
            (
                col("Data", "integer", "Number of data in the configmap"),
                lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            )
        ]
    if rt.plural == "leases":
        return [
            (col("Holder", desc="The holder of the lease"), lambda o: (o.get("spec") or {}).get("holderIdentity") or "")
        ]
    return []


def _partial(obj: Json) -> Json:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def to_table(rt: ResourceType, objects: Sequence[Json], list_meta: Json, now: float, include: str = "Metadata") -> Json:
    """A Table of `objects`; `include` is the includeObject policy (None, Metadata, Object)."""
    columns: list[Json] = [_NAME_COLUMN]
    rows: list[Json] = []
    if rt.plural == "customresourcedefinitions":
        columns.append({"name": "Created At", "type": "date", "format": "", "priority": 0, "description": ""})
        cells_for = [lambda o: (o.get("metadata") or {}).get("creationTimestamp")]
        for obj in objects:
            rows.append({"cells": [obj["metadata"]["name"], cells_for[0](obj)]})
    elif rt.custom:
        printer = list(rt.printer_columns) or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]
        for pc in printer:
            columns.append(
                {
                    "name": pc["name"],
                    "type": pc.get("type", "string"),
                    "format": pc.get("format", ""),
                    "description": pc.get("description", ""),
                    "priority": pc.get("priority", 0),
                }
            )
        for obj in objects:
            cells = [obj["metadata"]["name"]] + [_cell(pc, jsonpath(obj, pc["jsonPath"]), now) for pc in printer]
            rows.append({"cells": cells})
    else:
        extra = _builtin_columns(rt)
        columns += [c for c, _ in extra] + [_AGE_COLUMN]
        for obj in objects:
            cells = [obj["metadata"]["name"]] + [f(obj) for _, f in extra]
            cells.append(_age(obj["metadata"].get("creationTimestamp"), now))
            rows.append({"cells": cells})
    for row, obj in zip(rows, objects, strict=True):
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = _partial(obj)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    }
