"""Commands that work from DNSRecord manifests: `render`, `diff`, `validate`.

Console I/O only; the work is in kuadns_sync.pipeline and kuadns_sync.plan. Exit codes: 0 success
(diff: no changes), 2 diff found changes, 1 error (validate: any error issue).
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from kuadns_sync.bundle import Bundle, read_files, write_generation
from kuadns_sync.cli.app import app, fail, print_issues
from kuadns_sync.config import settings_from_options
from kuadns_sync.errors import KuadnsError, UnsafePlanError
from kuadns_sync.model import Settings
from kuadns_sync.pipeline import (
    BuiltBundle,
    build_bundle,
    collect_offline,
    load_previous,
    merge_snapshots,
    now_from_env,
)
from kuadns_sync.plan import diff_files, format_text, to_json, unsafe_reasons

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class OutputFormat(str, Enum):  # noqa: UP042  typer needs a str-valued Enum
    text = "text"
    json = "json"


RecordsOpt = Annotated[
    Path,
    typer.Option("--records", "-r", help="Directory of DNSRecord manifests; one sub-directory per cluster."),
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Bundle directory (served by `serve --bundle`).")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Settings file (default: <records>/kuadns.yaml if present).")
]
ZoneOpt = Annotated[list[str] | None, typer.Option("--zone", "-z", help="A zone to serve (repeatable).")]
NsOpt = Annotated[
    list[str] | None,
    typer.Option("--nameserver", help="Apex nameserver NAME[=ADDR,...] for the --zone zones (repeatable)."),
]
RnameOpt = Annotated[str | None, typer.Option("--rname", help="SOA contact e-mail (e.g. hostmaster@example.com).")]
RoleOpt = Annotated[str | None, typer.Option("--role", help="primary (default) or secondary.")]
LocalOpt = Annotated[
    str | None,
    typer.Option("--local-cluster", help="Which cluster directory is this cluster (default: local)."),
]
TtlOpt = Annotated[int | None, typer.Option("--default-ttl", help="TTL for endpoints without recordTTL (60).")]
FallbackOpt = Annotated[
    str | None,
    typer.Option("--geo-fallback", help="When no geo matches and no '*': any (default) or nodata."),
]


def load_settings(
    records: Path,
    config: Path | None,
    zones: list[str] | None,
    nameservers: list[str] | None,
    rname: str | None,
    role: str | None,
    local_cluster: str | None,
    default_ttl: int | None,
    geo_fallback: str | None,
) -> Settings:
    """Settings from the common options (raises KuadnsError)."""
    return settings_from_options(
        config=config,
        records=records,
        zones=zones or (),
        nameservers=nameservers or (),
        rname=rname,
        role=role,
        local_cluster=local_cluster,
        default_ttl=default_ttl,
        geo_fallback=geo_fallback,
    )


def _desired(
    records: Path, out: Path | None, settings: Settings
) -> tuple[BuiltBundle, Bundle | None, tuple[int, int]]:
    """The bundle the manifests call for, the bundle at `out` now, and (DNSRecords, clusters) read."""
    snapshots, source_issues = collect_offline(records, settings)
    counts = (sum(len(s.records) for s in snapshots), len(snapshots))
    result = merge_snapshots(snapshots, settings, source_issues)
    del snapshots  # the parsed manifests are not needed past the merge: free them before rendering
    previous = load_previous(out) if out is not None else None
    built = build_bundle(result, settings, previous, now_from_env() if out is not None else 0.0, parallel=True)
    return built, previous, counts


@app.command()
def render(
    records: RecordsOpt = EXAMPLES,
    out: OutOpt = Path("out"),
    config: ConfigOpt = None,
    zone: ZoneOpt = None,
    nameserver: NsOpt = None,
    rname: RnameOpt = None,
    role: RoleOpt = None,
    local_cluster: LocalOpt = None,
    default_ttl: TtlOpt = None,
    geo_fallback: FallbackOpt = None,
    force: Annotated[bool, typer.Option(help="Write even when the change exceeds the safety threshold.")] = False,
) -> None:
    """Render DNSRecord manifests into a bundle of per-region zone files (atomic; no-op when unchanged)."""
    try:
        built, previous, _ = _desired(
            records,
            out,
            load_settings(records, config, zone, nameserver, rname, role, local_cluster, default_ttl, geo_fallback),
        )
        if previous is not None and previous.content_hash != built.content_hash and not force:
            reasons = unsafe_reasons(diff_files(read_files(previous.path), built.files))
            if reasons:
                raise UnsafePlanError("; ".join(reasons))
        generation = write_generation(out, built.files, built.content_hash)
    except KuadnsError as exc:
        raise fail(str(exc)) from None
    print_issues(built.issues)
    changed = previous is None or previous.content_hash != built.content_hash
    zones = ", ".join(f"{name} (serial {serial})" for name, serial in sorted(built.serials.items()))
    state = "written" if changed else "unchanged"
    typer.echo(f"bundle {state}: {generation} zones: {zones or 'none'}; {len(built.issues)} issue(s)")


@app.command()
def diff(
    records: RecordsOpt = EXAMPLES,
    out: OutOpt = Path("out"),
    config: ConfigOpt = None,
    zone: ZoneOpt = None,
    nameserver: NsOpt = None,
    rname: RnameOpt = None,
    role: RoleOpt = None,
    local_cluster: LocalOpt = None,
    default_ttl: TtlOpt = None,
    geo_fallback: FallbackOpt = None,
    output: Annotated[OutputFormat, typer.Option("--output", help="text or json.")] = OutputFormat.text,
    no_files: Annotated[bool, typer.Option("--no-files", help="Omit zone-file diffs (text output).")] = False,
) -> None:
    """Dry run: what `render` would change in authoritative records and zone files (exit 0 none, 2 changes)."""
    try:
        built, previous, _ = _desired(
            records,
            out,
            load_settings(records, config, zone, nameserver, rname, role, local_cluster, default_ttl, geo_fallback),
        )
        plan = diff_files(read_files(previous.path) if previous is not None else {}, built.files)
    except KuadnsError as exc:
        raise fail(str(exc)) from None
    print_issues(built.issues)
    if output is OutputFormat.json:
        sys.stdout.write(to_json(plan))
    else:
        sys.stdout.write(format_text(plan, with_files=not no_files))
        for reason in unsafe_reasons(plan):
            typer.echo(f"unsafe: {reason}")
    raise typer.Exit(0 if plan.empty else 2)


@app.command()
def validate(
    records: RecordsOpt = EXAMPLES,
    config: ConfigOpt = None,
    zone: ZoneOpt = None,
    nameserver: NsOpt = None,
    rname: RnameOpt = None,
    role: RoleOpt = None,
    local_cluster: LocalOpt = None,
    default_ttl: TtlOpt = None,
    geo_fallback: FallbackOpt = None,
) -> None:
    """Report every problem in the manifests (exit 1 if any error; warnings alone exit 0)."""
    try:
        built, _, (records_count, clusters) = _desired(
            records,
            None,
            load_settings(records, config, zone, nameserver, rname, role, local_cluster, default_ttl, geo_fallback),
        )
    except KuadnsError as exc:
        raise fail(str(exc)) from None
    for issue in built.issues:
        typer.echo(str(issue))
    errors = sum(1 for i in built.issues if i.severity == "error")
    warnings = len(built.issues) - errors
    typer.echo(f"{records_count} DNSRecord(s) in {clusters} cluster(s): {errors} error(s), {warnings} warning(s)")
    raise typer.Exit(1 if errors else 0)


__all__ = ["diff", "load_settings", "render", "validate"]
