"""The stages in order: sources -> parse/merge -> resolve/render -> bundle. Used by render, diff, serve, sync.

Orchestration only: the pure work is in merge/variants/render/plan; this module reads and writes
through manifests and bundle. `build_bundle` is pure (files as bytes); `write_bundle` does the I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kuadns_sync import __version__
from kuadns_sync.bundle import (
    FORMAT,
    MANIFEST,
    Bundle,
    dump_json,
    read_bundle,
    routing_json,
    sha256_hex,
    write_generation,
)
from kuadns_sync.errors import BundleError
from kuadns_sync.forked import FORK_AVAILABLE, Forked
from kuadns_sync.heap import paused_gc
from kuadns_sync.manifests import read_records_dir
from kuadns_sync.model import ClusterSnapshot, Issue, MergeResult, Settings
from kuadns_sync.recordjson import authoritative_json
from kuadns_sync.render import SERIAL_PLACEHOLDER, render_variants
from kuadns_sync.variants import resolve_zone


@dataclass(frozen=True, slots=True)
class BuiltBundle:
    """A bundle computed in memory: relative path -> bytes, its content hash, serials and issues."""

    files: Mapping[str, bytes]
    content_hash: str
    serials: Mapping[str, int]
    issues: tuple[Issue, ...]


@dataclass(frozen=True, slots=True)
class RenderOutcome:
    """What a render did: the generation served now, whether it is new, and what was reported."""

    generation: Path
    changed: bool
    serials: Mapping[str, int]
    issues: tuple[Issue, ...]


def date_serial(now: float) -> int:
    """YYYYMMDD00 for the UTC day of `now` (RFC 1912 §2.2 style serial)."""
    day = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    return int(day.strftime("%Y%m%d")) * 100


def next_serial(previous: int | None, now: float) -> int:
    """Serial for changed content: monotonic, and at least today's YYYYMMDD00."""
    base = date_serial(now)
    return base if previous is None else max(previous + 1, base)


def issues_text(issues: Sequence[Issue]) -> str:
    """The issues report: one issue a line, sorted."""
    return "".join(f"{issue}\n" for issue in sorted(set(issues)))


def authoritative_files(result: MergeResult) -> dict[str, bytes]:
    """authoritative/<namespace>/<name>.json for every computed authoritative record."""
    # JSON (a subset of YAML; `kubectl apply -f` reads it): ~30x faster to write than a YAML dump, which
    # matters with thousands of root hosts.
    return {
        f"authoritative/{record.namespace}/{record.name}.json": authoritative_json(record).encode("utf-8")
        for record in result.authoritative
    }


def build_bundle(
    result: MergeResult, settings: Settings, previous: Bundle | None, now: float, *, parallel: bool = False
) -> BuiltBundle:
    """Compute every file of the bundle for `result`; serials follow `previous` (unchanged content keeps it).

    `parallel` (for single-threaded callers such as the CLI) computes the authoritative record files in a
    forked child while this process renders the zones; the bytes are the same either way.
    """
    with paused_gc():
        return _build_bundle(result, settings, previous, now, parallel)


def _build_bundle(
    result: MergeResult, settings: Settings, previous: Bundle | None, now: float, parallel: bool
) -> BuiltBundle:
    authoritative = Forked(lambda: authoritative_files(result), fork=parallel and FORK_AVAILABLE)
    try:
        return _assemble(result, settings, previous, now, authoritative)
    except BaseException:
        authoritative.discard()
        raise


def _assemble(
    result: MergeResult,
    settings: Settings,
    previous: Bundle | None,
    now: float,
    authoritative: Forked[dict[str, bytes]],
) -> BuiltBundle:
    files: dict[str, bytes] = {}
    zones_meta: dict[str, dict[str, object]] = {}
    serials: dict[str, int] = {}
    issues: list[Issue] = list(result.issues)
    hash_parts: list[str] = []
    for view in result.zones:
        resolved = resolve_zone(view, settings)
        issues += resolved.issues
        texts = render_variants(resolved, settings.default_ttl)
        # Each text is dropped once encoded, each encoding once the serial is in: one extra copy at a time.
        encoded = {name: texts.pop(name).encode("utf-8") for name in list(texts)}
        routing_text = routing_json(resolved.name, resolved.routing)
        zone_hash = _zone_hash(encoded, routing_text)
        prev_zone = previous.zone(resolved.name) if previous is not None else None
        if prev_zone is not None and prev_zone.content_hash == zone_hash:
            serial = prev_zone.serial
        else:
            serial = next_serial(prev_zone.serial if prev_zone else None, now)
        serials[resolved.name] = serial
        zone_files: dict[str, bytes] = {}
        placeholder, serial_text = SERIAL_PLACEHOLDER.encode(), str(serial).encode()
        for name in list(encoded):
            # Only the first: the SOA serial precedes the body, where a TXT value may hold the same text.
            zone_files[f"{name}.zone"] = encoded.pop(name).replace(placeholder, serial_text, 1)
        zone_files["routing.json"] = routing_text.encode("utf-8")
        for name, data in zone_files.items():
            files[f"zones/{resolved.name}/{name}"] = data
        zones_meta[resolved.name] = {
            "serial": serial,
            "content_hash": zone_hash,
            "variants": [v.name for v in resolved.variants],
            "files": {name: sha256_hex(data) for name, data in sorted(zone_files.items())},
        }
        hash_parts.append(f"{resolved.name}\0{zone_hash}")
    files.update(authoritative.result())
    report = issues_text(issues).encode("utf-8")
    files["issues.txt"] = report
    for path in sorted(files):
        if path.startswith("authoritative/") or path == "issues.txt":
            hash_parts.append(f"{path}\0{sha256_hex(files[path])}")
    hash_parts.append(f"geo_fallback\0{settings.geo_fallback}")
    content_hash = sha256_hex("\n".join(hash_parts).encode("utf-8"))
    manifest = {
        "format": FORMAT,
        "generator": f"kuadns-sync {__version__}",
        "content_hash": content_hash,
        "geo_fallback": settings.geo_fallback,
        "zones": zones_meta,
    }
    files[MANIFEST] = dump_json(manifest).encode("utf-8")
    return BuiltBundle(files=files, content_hash=content_hash, serials=serials, issues=tuple(sorted(set(issues))))


def _zone_hash(texts: Mapping[str, bytes], routing_text: str) -> str:
    """sha256 of `variant NUL text NUL ... routing`, fed piece by piece (no joined copy of the zone data)."""
    digest = hashlib.sha256()
    for variant in sorted(texts):
        digest.update(f"{variant}\0".encode())
        digest.update(texts[variant])
        digest.update(b"\0")
    digest.update(routing_text.encode("utf-8"))
    return digest.hexdigest()


def load_previous(out: Path) -> Bundle | None:
    """The bundle currently at `out`, or None when there is none (or it cannot be read: it is replaced)."""
    try:
        return read_bundle(out)
    except BundleError:
        return None


def now_from_env() -> float:
    """The clock for serials: SOURCE_DATE_EPOCH when set (reproducible builds), else the wall clock."""
    import os

    value = os.environ.get("SOURCE_DATE_EPOCH")
    return float(value) if value else time.time()


def write_bundle(result: MergeResult, out: Path, settings: Settings, now: float | None = None) -> RenderOutcome:
    """Render `result` into the bundle directory `out` (atomic swap; no-op when nothing changed)."""
    previous = load_previous(out)
    built = build_bundle(result, settings, previous, now_from_env() if now is None else now)
    changed = previous is None or previous.content_hash != built.content_hash
    generation = write_generation(out, built.files, built.content_hash)
    return RenderOutcome(generation=generation, changed=changed, serials=built.serials, issues=built.issues)


def collect_offline(records: Path, settings: Settings) -> tuple[list[ClusterSnapshot], list[Issue]]:
    """Read a manifests directory into cluster snapshots (offline source)."""
    with paused_gc():
        return read_records_dir(records, settings)


def merge_snapshots(
    snapshots: Sequence[ClusterSnapshot], settings: Settings, source_issues: Sequence[Issue] = ()
) -> MergeResult:
    """Run the merge and add the source-level issues to its report."""
    from kuadns_sync.merge import merge

    with paused_gc():
        result = merge(snapshots, settings)
    if not source_issues:
        return result
    return MergeResult(
        authoritative=result.authoritative,
        zones=result.zones,
        verdicts=result.verdicts,
        issues=tuple(sorted(set(result.issues) | set(source_issues))),
    )


def render_records(records: Path, out: Path, settings: Settings, now: float | None = None) -> Path:
    """Offline: manifests directory -> bundle at `out`. Returns the generation directory served now."""
    snapshots, issues = collect_offline(records, settings)
    result = merge_snapshots(snapshots, settings, issues)
    return write_bundle(result, out, settings, now).generation
