"""Commands against live clusters: `sync` (the multi-cluster loop) and `diff-live` (its dry run).

Console I/O only; the work is in kuadns_sync.kube.loop. Exit codes: sync --once 0 ok, 1 error or
refused; diff-live 0 nothing to change, 2 changes, 1 error.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from kuadns_sync.cli.app import app, fail, print_issues
from kuadns_sync.cli.offline import OutputFormat
from kuadns_sync.config import settings_from_options
from kuadns_sync.errors import ConfigError, KuadnsError
from kuadns_sync.model import Issue, Settings

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, flag: str) -> float:
    """'30s', '10m', '1h30m', '2.5s' or plain seconds -> seconds. Raises typer.BadParameter."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise typer.BadParameter(f"{text!r} is not a duration like 30s, 10m or 1h30m", param_hint=flag) from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 0:
        raise typer.BadParameter(f"{text!r} must not be negative", param_hint=flag)
    return seconds


KubeconfigOpt = Annotated[
    Path | None, typer.Option("--kubeconfig", help="Kubeconfig of the local cluster (default: in-cluster or ~/.kube).")
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="Kubeconfig context of the local cluster.")]
SecretNsOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster-secret-namespace",
        help="Namespace of the kubeconfig Secrets labelled kuadrant.io/multicluster-kubeconfig=true "
        "(default: the pod's namespace, else kuadns-system).",
    ),
]
ZoneOpt = Annotated[list[str] | None, typer.Option("--zone", "-z", help="A zone to serve (repeatable).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Settings file (kuadns.yaml).")]
NsOpt = Annotated[list[str] | None, typer.Option("--nameserver", help="Apex nameserver NAME[=ADDR,...] (repeatable).")]
RnameOpt = Annotated[str | None, typer.Option("--rname", help="SOA contact e-mail.")]
NameOpt = Annotated[str, typer.Option("--cluster-name", help="Name of the local cluster in reports and origins.")]
RoleOpt = Annotated[str, typer.Option("--role", help="primary (merge, write, render) or secondary.")]
MaxStaleOpt = Annotated[
    str, typer.Option("--max-stale", help="Keep an unreachable cluster's last records this long (e.g. 10m).")
]
TimeoutOpt = Annotated[str, typer.Option("--cluster-timeout", help="Per-cluster API timeout (e.g. 10s).")]


def _settings(
    config: Path | None,
    zones: list[str] | None,
    nameservers: list[str] | None,
    rname: str | None,
    role: str,
    cluster_name: str,
) -> Settings:
    if role not in ("primary", "secondary"):
        raise typer.BadParameter(f"{role!r} is not primary or secondary", param_hint="--role")
    return settings_from_options(
        config=config,
        zones=zones or (),
        nameservers=nameservers or (),
        rname=rname,
        role=role,
        local_cluster=cluster_name,
    )


def _namespace(flag: str | None) -> str:
    if flag:
        return flag
    try:  # in a pod: the service account's namespace (downward API file)
        return Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read_text("utf-8").strip()
    except OSError:
        from kuadns_sync.kube.report import DEFAULT_NAMESPACE

        return DEFAULT_NAMESPACE


@app.command()
def sync(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (CronJob).")] = False,
    interval: Annotated[str, typer.Option("--interval", help="Resync period in loop mode (e.g. 30s).")] = "30s",
    role: RoleOpt = "primary",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    cluster_secret_namespace: SecretNsOpt = None,
    zone: ZoneOpt = None,
    config: ConfigOpt = None,
    nameserver: NsOpt = None,
    rname: RnameOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Bundle directory to render (primary).")] = None,
    max_stale: MaxStaleOpt = "10m",
    max_change: Annotated[
        float, typer.Option("--max-change", help="Refuse when a zone would change more than this share.")
    ] = 0.3,
    force: Annotated[bool, typer.Option("--force", help="Apply even a change above --max-change.")] = False,
    lease: Annotated[
        str | None, typer.Option("--lease", help="Lease name for leader election (several replicas).")
    ] = None,
    lease_namespace: Annotated[
        str | None, typer.Option("--lease-namespace", help="Namespace of the Lease (default: secret namespace).")
    ] = None,
    cluster_timeout: TimeoutOpt = "10s",
    cluster_name: NameOpt = "local",
    no_watch: Annotated[
        bool, typer.Option("--no-watch", help="No watches: list every cluster on every pass, only on the interval.")
    ] = False,
    relist: Annotated[
        str, typer.Option("--relist", help="With watches, list every cluster again at least this often.")
    ] = "10m",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Sync DNSRecords across clusters: merge, write authoritative records and status, render the bundle."""
    from kuadns_sync.kube.clients import Cluster, local_client
    from kuadns_sync.kube.lease import LeaderLease
    from kuadns_sync.kube.loop import SyncLoop
    from kuadns_sync.kube.report import SyncOptions, SyncReport

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # Its retry warnings repeat what the pass reports once, per cluster, with the cause.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    period = parse_duration(interval, "--interval")
    if not 0 <= max_change <= 1:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--max-change")
    try:
        settings = _settings(config, zone, nameserver, rname, role, cluster_name)
        namespace = _namespace(cluster_secret_namespace)
        options = SyncOptions(
            role=settings.role,
            cluster_secret_namespace=namespace,
            out=out,
            max_stale=parse_duration(max_stale, "--max-stale"),
            max_change=max_change,
            force=force,
            timeout=parse_duration(cluster_timeout, "--cluster-timeout"),
            relist=parse_duration(relist, "--relist"),
        )
        local = Cluster(cluster_name, local_client(kubeconfig, context), local=True)
    except KuadnsError as exc:
        raise fail(str(exc)) from None
    elector = LeaderLease(local, lease_namespace or namespace, lease, timeout=options.timeout) if lease else None
    loop = SyncLoop(local, settings, options, lease=elector)
    if once:
        try:
            report = loop.sync_once()
        finally:
            loop.close()
        print_issues(report.issues)
        typer.echo(report.summary())
        raise typer.Exit(0 if report.ok else 1)

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        loop.wake.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    seen: set[Issue] = set()

    def _report(report: SyncReport) -> None:
        nonlocal seen
        current = set(report.issues)
        print_issues(sorted(current - seen))  # each issue once, while it lasts
        seen = current
        typer.echo(report.summary())

    loop.run(period, stop, _report, watch=not no_watch)


@app.command("diff-live")
def diff_live(
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    cluster_secret_namespace: SecretNsOpt = None,
    zone: ZoneOpt = None,
    config: ConfigOpt = None,
    nameserver: NsOpt = None,
    rname: RnameOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Bundle to compare zone files with (default: records only).")
    ] = None,
    max_stale: MaxStaleOpt = "10m",
    cluster_timeout: TimeoutOpt = "10s",
    cluster_name: NameOpt = "local",
    output: Annotated[OutputFormat, typer.Option("--output", help="text or json.")] = OutputFormat.text,
    no_files: Annotated[bool, typer.Option("--no-files", help="Omit zone-file diffs (text output).")] = False,
) -> None:
    """Dry run against live clusters: what `sync` would change (exit 0 none, 2 changes, 1 error)."""
    from kuadns_sync.kube.clients import Cluster, local_client
    from kuadns_sync.kube.loop import SyncLoop
    from kuadns_sync.kube.plans import live_plan
    from kuadns_sync.kube.report import SyncOptions
    from kuadns_sync.model import MergeResult
    from kuadns_sync.plan import format_text, to_json, unsafe_reasons

    try:
        settings = _settings(config, zone, nameserver, rname, "primary", cluster_name)
        options = SyncOptions(
            cluster_secret_namespace=_namespace(cluster_secret_namespace),
            dry_run=True,
            max_stale=parse_duration(max_stale, "--max-stale"),
            timeout=parse_duration(cluster_timeout, "--cluster-timeout"),
        )
        local = Cluster(cluster_name, local_client(kubeconfig, context), local=True)
        loop = SyncLoop(local, settings, options)
        try:
            report = loop.sync_once()
        finally:
            loop.close()
        if not report.local_read:
            raise ConfigError(f"cluster {cluster_name}: cannot be read")
        result = report.result or MergeResult((), (), (), ())
        plan = live_plan(result, report.current, settings, out, time.time())
    except KuadnsError as exc:
        raise fail(str(exc)) from None
    print_issues(report.issues)
    if output is OutputFormat.json:
        sys.stdout.write(to_json(plan))
    else:
        sys.stdout.write(format_text(plan, with_files=not no_files))
        for name in report.stale:
            typer.echo(f"stale: cluster {name} is unreachable; its last known records are used")
        for name in report.unreached + report.dropped:
            typer.echo(f"unreachable: cluster {name}")
        for patch in report.status_patches:
            typer.echo(f"status: {patch.cluster}/{patch.namespace}/{patch.name}")
        for reason in unsafe_reasons(plan):
            typer.echo(f"unsafe: {reason}")
    raise typer.Exit(0 if plan.empty and not report.status_patches else 2)
