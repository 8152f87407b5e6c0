"""The benchmark: our server against BIND, Knot, NSD and PowerDNS on the same generated zone, with dnsperf.

I/O (files, child processes, loopback sockets only). `python3 -m bench.run [--records 1000] [--seconds 5]
[--out report.md]` generates input, renders a bundle, then runs every server in turn on 127.0.0.1 with
bounded dnsperf runs, and prints a Markdown report (see bench/README.md for what is measured and how).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.edns
import dns.message
import dns.rdatatype

from bench.gen_records import generate
from bench.pdns_geoip import geoip_zone_yaml, parse_zone_text
from bench.peers import (
    Bind,
    Knot,
    KuadnsServer,
    Nsd,
    Peer,
    PeerError,
    PowerDns,
    PowerDnsGeoip,
    package_env,
)
from kuadns_sync.bundle import ZoneBundle, read_bundle
from kuadns_sync.errors import KuadnsError
from kuadns_sync.geo import write_city_db
from kuadns_sync.model import Nameserver, Settings, ZoneConfig
from kuadns_sync.pipeline import render_records

STATIC = "static"
GEO = "geo+weighted"
# Client locations of the geo workload: (label, ECS subnet, (country, continent) in the test DB or None).
# The first two are upstream's demo subnets; FR and CA match only by continent; the last is unknown.
CLIENTS: tuple[tuple[str, str, tuple[str, str] | None], ...] = (
    ("IE", "127.0.100.0/24", ("IE", "EU")),
    ("US", "127.0.200.0/24", ("US", "NA")),
    ("DE", "127.0.101.0/24", ("DE", "EU")),
    ("FR", "127.0.102.0/24", ("FR", "EU")),
    ("JP", "127.0.103.0/24", ("JP", "AS")),
    ("BR", "127.0.104.0/24", ("BR", "SA")),
    ("AU", "127.0.105.0/24", ("AU", "OC")),
    ("CA", "127.0.201.0/24", ("CA", "NA")),
    ("unknown", "192.0.2.0/24", None),
)
MAX_QUERIES = 200_000
ALL_SERVERS = ("kuadns-1", "kuadns-2", "bind", "knot", "nsd", "pdns", "pdns-geoip")


@dataclass(frozen=True, slots=True)
class PerfResult:
    """What one dnsperf run reported (latencies in milliseconds)."""

    sent: int
    completed: int
    lost: int
    qps: float
    avg_ms: float
    max_ms: float
    p99_ms: float | None
    noerror_pct: float
    rcodes: str


@dataclass(slots=True)
class Row:
    """One line of the report."""

    server: str
    workload: str
    perf: PerfResult | None
    rss_mib: float
    start_s: float
    note: str = ""


@dataclass(slots=True)
class ReloadResult:
    """The reload-under-load run: dnsperf figures and the serials the server answered."""

    perf: PerfResult | None
    max_qps: int
    control: PerfResult | None = None
    serials: list[int] = field(default_factory=list)
    render_s: list[float] = field(default_factory=list)
    reload_s: list[float] = field(default_factory=list)
    note: str = ""


_NUM = r"([0-9.]+)"


def parse_dnsperf(text: str) -> PerfResult:
    """Parse dnsperf's statistics block. Raises ValueError if it is missing."""

    def grab(pattern: str) -> str:
        match = re.search(pattern, text)
        if match is None:
            raise ValueError(f"dnsperf output has no {pattern!r}:\n{text[-2000:]}")
        return match.group(1)

    rcodes = grab(r"Response codes:\s*(.*)")
    noerror = re.search(r"NOERROR \d+ \(([0-9.]+)%\)", rcodes)
    return PerfResult(
        sent=int(grab(r"Queries sent:\s*(\d+)")),
        completed=int(grab(r"Queries completed:\s*(\d+)")),
        lost=int(grab(r"Queries lost:\s*(\d+)")),
        qps=float(grab(r"Queries per second:\s*" + _NUM)),
        avg_ms=float(grab(r"Average Latency \(s\):\s*" + _NUM)) * 1000,
        max_ms=float(grab(r"max " + _NUM + r"\)")) * 1000,
        p99_ms=None,
        noerror_pct=float(noerror.group(1)) if noerror else 0.0,
        rcodes=rcodes.strip(),
    )


def percentile_from_verbose(lines: Iterable[str], fraction: float = 0.99) -> float | None:
    """The `fraction` latency percentile (ms) of the answered queries, from dnsperf -v lines
    `> RCODE <query> <seconds>` (timeouts `> T` and interruptions `> I` carry no latency)."""
    latencies: list[float] = []
    for line in lines:
        if not line.startswith("> ") or line.startswith(("> T ", "> I ")):
            continue
        try:
            latencies.append(float(line.rsplit(None, 1)[1]))
        except (IndexError, ValueError):
            continue
    if not latencies:
        return None
    latencies.sort()
    return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000


def dnsperf_command(
    port: int,
    datafile: Path,
    *,
    seconds: float,
    binary: bool,
    clients: int,
    outstanding: int,
    verbose: bool,
    max_qps: int | None = None,
) -> list[str]:
    """The dnsperf command line for one bounded run against 127.0.0.1:`port`."""
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(datafile), "-l", f"{seconds:g}"]
    cmd += ["-c", str(clients), "-q", str(outstanding), "-t", "2", "-O", "suppress=timeouts,congestion"]
    if max_qps is not None:
        cmd += ["-Q", str(max_qps)]
    if binary:
        cmd.append("-B")
    if verbose:
        cmd.append("-v")
    return cmd


def run_dnsperf(
    port: int,
    datafile: Path,
    *,
    seconds: float,
    binary: bool,
    clients: int,
    outstanding: int,
    verbose: bool,
    scratch: Path,
) -> PerfResult:
    """Run dnsperf once (bounded by `seconds`) and parse it; with `verbose` also compute p99."""
    cmd = dnsperf_command(
        port, datafile, seconds=seconds, binary=binary, clients=clients, outstanding=outstanding,
        verbose=verbose,
    )
    out_path = scratch / "dnsperf.out"
    with open(out_path, "w") as out:
        subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=seconds + 60)
    return _finish_perf(out_path, verbose)


def _finish_perf(out_path: Path, verbose: bool) -> PerfResult:
    text_tail = _tail(out_path, 4000)
    result = parse_dnsperf(text_tail)
    if verbose:
        with open(out_path, errors="replace") as handle:
            result = dataclasses.replace(result, p99_ms=percentile_from_verbose(handle))
    out_path.unlink(missing_ok=True)
    return result


def _tail(path: Path, size: int) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read().decode(errors="replace")


# -- inputs -------------------------------------------------------------------------------------


def static_names(bundle: ZoneBundle) -> list[str]:
    """Owner names of the plain A RRsets of the default variant (the gateway A leaves)."""
    weighted = {n for n, types in bundle.routing.get("default", {}).items() if "A" in types}
    names = {owner for owner, rtype, _, _ in parse_zone_text(bundle.zone_texts["default"], bundle.name)
             if rtype == "A" and owner not in weighted}  # fmt: skip
    return sorted(names)


def geo_names(bundle: ZoneBundle) -> list[str]:
    """Names `H` whose CNAME points at `klb.H` (the entry points of Kuadrant's geo+weighted layout)."""
    return sorted(
        owner
        for owner, rtype, _, rdata in parse_zone_text(bundle.zone_texts["default"], bundle.name)
        if rtype == "CNAME" and rdata.rstrip(".").lower() == f"klb.{owner}"
    )


def write_text_queries(path: Path, names: Sequence[str], rtype: str = "A") -> None:
    """dnsperf's text input: one `name type` a line."""
    path.write_text("".join(f"{name} {rtype}\n" for name in names))


def write_ecs_queries(path: Path, names: Sequence[str], seed: int = 0) -> int:
    """dnsperf -B input: A queries for `names`, each with an ECS option (RFC 7871) from the CLIENTS mix.

    dnsperf's -E would put the same option on every query; prebuilt packets give each query its own
    client subnet. Returns the number of queries written.
    """
    pairs = [(name, subnet) for name in names for _, subnet, _ in CLIENTS]
    rng = random.Random(seed)
    rng.shuffle(pairs)
    pairs = pairs[:MAX_QUERIES]
    with open(path, "wb") as handle:
        for name, subnet in pairs:
            address, prefix = subnet.split("/")
            query = dns.message.make_query(
                name, dns.rdatatype.A, use_edns=0, options=[dns.edns.ECSOption(address, int(prefix))]
            )
            # dnsperf -v copies each -B packet up to its first NUL byte as the query's description:
            # a printable ID keeps that text free of newlines (dnsperf replaces the ID when sending).
            query.id = 0x4141
            wire = query.to_wire()
            handle.write(struct.pack("!H", len(wire)) + wire)
    return len(pairs)


def write_geoip_db(path: Path) -> Path:
    """The benchmark's GeoIP database: every located subnet of CLIENTS."""
    return write_city_db(path, {subnet: loc for _, subnet, loc in CLIENTS if loc is not None})


def bench_settings(zone: str) -> Settings:
    """Render settings: the zone with an in-zone nameserver that has an address (stock servers need it)."""
    return Settings(
        zones=(ZoneConfig(name=zone, nameservers=(Nameserver(f"ns1.{zone}", ("127.0.0.1",)),)),),
        local_cluster="cluster-1",  # gen_records names its clusters cluster-1, cluster-2, ...
    )


# -- the run ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Context:
    """Everything a server run needs."""

    args: argparse.Namespace
    work: Path
    bundle_root: Path
    bundle: ZoneBundle
    geoip_db: Path
    static_file: Path
    geo_file: Path
    pdns_yaml: Path


def _perf(ctx: Context, port: int, workload: str) -> PerfResult:
    binary = workload == GEO
    return run_dnsperf(
        port,
        ctx.geo_file if binary else ctx.static_file,
        seconds=ctx.args.seconds,
        binary=binary,
        clients=ctx.args.clients,
        outstanding=ctx.args.outstanding,
        verbose=not ctx.args.no_p99,
        scratch=ctx.work,
    )


def make_server(ctx: Context, name: str) -> tuple[Peer, tuple[str, ...]]:
    """The server called `name` and the workloads it runs."""
    zone = ctx.bundle.name
    gen = ctx.bundle_root / "current" / "zones" / zone
    workers = ctx.args.peer_workers
    if name.startswith("kuadns-"):
        server: Peer = KuadnsServer(zone, ctx.bundle_root, ctx.geoip_db, workers=int(name.split("-")[1]))
        return server, (STATIC, GEO)
    if name == "bind":
        return Bind(zone, {"default": gen / "default.zone"}, workers=workers), (STATIC,)
    if name == "knot":
        return Knot(zone, gen / "default.zone", workers=workers), (STATIC,)
    if name == "nsd":
        return Nsd(zone, gen / "default.zone", workers=workers), (STATIC,)
    if name == "pdns":
        return PowerDns(zone, gen / "default.zone", workers=workers), (STATIC,)
    if name == "pdns-geoip":
        return PowerDnsGeoip(zone, ctx.pdns_yaml, ctx.geoip_db, workers=workers), (STATIC, GEO)
    raise ValueError(f"unknown server {name!r} (known: {', '.join(ALL_SERVERS)})")


def bench_server(ctx: Context, name: str, log: Callable[[str], None]) -> list[Row]:
    """Start one server, run its workloads, record RSS, stop it."""
    server, workloads = make_server(ctx, name)
    try:
        server.start()
    except PeerError as exc:
        log(f"  {name}: could not start: {exc}")
        return [Row(name, w, None, 0.0, 0.0, f"not started: {str(exc).splitlines()[0]}") for w in workloads]
    rows = []
    try:
        for workload in workloads:
            log(f"  {name} {workload} ...")
            perf = _perf(ctx, server.port, workload)
            rows.append(Row(name, workload, perf, server.rss_kib() / 1024, server.start_seconds))
            log(f"    {perf.qps:,.0f} qps, lost {perf.lost}, {perf.rcodes}")
    finally:
        server.stop()
    return rows


RELOAD_CAP_SECONDS = 300.0
RELOAD_LOAD_SHARE = 0.15  # of kuadns-1's measured geo qps: the renderer needs CPU on the same cores
RELOAD_WAIT_SECONDS = 120.0


def render_command(records: Path, out: Path, zone: str) -> list[str]:
    """`kuadns-sync render` for generated input (a separate, niced process, like a sync sidecar)."""
    return [
        "nice", "-n", "10", sys.executable, "-m", "kuadns_sync", "render", "--records", str(records),
        "--out", str(out), "--zone", zone, "--nameserver", f"ns1.{zone}=127.0.0.1",
        "--local-cluster", "cluster-1",
    ]  # fmt: skip


def changed_input(base: Path, dest: Path, step: int) -> Path:
    """A copy of the generated input with a realistic change: step 1 moves the gateways of the
    first file of cluster-1 to new addresses; step 2 also bumps the weights in cluster-2's first
    file (each step stays below render's 30 % safety threshold)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(base, dest)
    first = dest / "cluster-1" / "records-0000.yaml"
    first.write_text(first.read_text().replace("- 198.18.", "- 198.19."))
    if step >= 2 and (dest / "cluster-2").is_dir():
        second = dest / "cluster-2" / "records-0000.yaml"
        text = re.sub(r"value: '(\d+)'", lambda m: f"value: '{int(m.group(1)) + 1}'", second.read_text())
        second.write_text(text)
    return dest


def reload_under_load(ctx: Context, max_qps: int, log: Callable[[str], None]) -> ReloadResult:
    """While dnsperf runs against our server at `max_qps`, render two changed bundles into the served
    directory (see changed_input), each time waiting until the server answers the new serial; count
    lost queries.

    The rate is capped below saturation so that a lost query means a reload problem, not an
    overflowing socket buffer (which any UDP server shows when driven past its capacity). A control
    phase first renders the same inputs into a directory the server does not watch, to separate the
    renderer's CPU use from the server's reload. Each phase's dnsperf runs until its renders are done
    plus one second (at most RELOAD_CAP_SECONDS), then gets SIGINT (in-flight queries are not lost).
    """
    result = ReloadResult(perf=None, max_qps=max_qps)
    server = KuadnsServer(ctx.bundle.name, ctx.bundle_root, ctx.geoip_db, workers=1)
    inputs = [changed_input(ctx.work / "records", ctx.work / f"records-changed-{n}", n) for n in (1, 2)]
    try:
        server.start()
    except PeerError as exc:
        result.note = f"not started: {str(exc).splitlines()[0]}"
        return result
    try:
        result.serials.append(server.serial() or 0)
        result.control = _reload_phase(ctx, server, max_qps, inputs, ctx.work / "control-bundle", None)
        log(f"  control (renders not served): lost {result.control.lost} of {result.control.sent}")
        result.perf = _reload_phase(ctx, server, max_qps, inputs, ctx.bundle_root, result)
        log(f"  reloads: lost {result.perf.lost} of {result.perf.sent}")
    finally:
        server.stop()
    return result


def _reload_phase(
    ctx: Context,
    server: Peer,
    max_qps: int,
    inputs: Sequence[Path],
    target: Path,
    served: ReloadResult | None,
) -> PerfResult:
    """One dnsperf run at `max_qps` while `inputs` are rendered into `target`. With `served`, wait
    after each render until the server answers a new serial and record it there; else settle 3 s."""
    args = ctx.args
    out_path = ctx.work / "dnsperf-reload.out"
    cmd = dnsperf_command(
        server.port, ctx.geo_file, seconds=RELOAD_CAP_SECONDS, binary=True, clients=args.clients,
        outstanding=args.outstanding, verbose=not args.no_p99, max_qps=max_qps,
    )  # fmt: skip
    with open(out_path, "w") as out:
        perf_proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            time.sleep(1.0)
            for records in inputs:
                t0 = time.monotonic()
                rendered = subprocess.run(
                    render_command(records, target, ctx.bundle.name),
                    env=package_env(), capture_output=True, text=True, check=False, timeout=600,
                )  # fmt: skip
                t1 = time.monotonic()
                if served is None:
                    time.sleep(3.0)
                    continue
                if rendered.returncode != 0:
                    served.note = f"render failed: {rendered.stderr.strip()[-500:]}"
                    break
                served.render_s.append(t1 - t0)
                serial = _await_new_serial(server, served.serials[-1], t1 + RELOAD_WAIT_SECONDS)
                if serial is None:
                    served.note = f"no new serial within {RELOAD_WAIT_SECONDS:.0f} s of a render"
                    break
                served.reload_s.append(time.monotonic() - t1)
                served.serials.append(serial)
            time.sleep(1.0)
            perf_proc.send_signal(signal.SIGINT)
            perf_proc.wait(timeout=60)
        finally:
            if perf_proc.poll() is None:
                perf_proc.kill()
                perf_proc.wait()
    return _finish_perf(out_path, not args.no_p99)


def reload_ok(reload: ReloadResult) -> bool:
    """Both reloads were answered and dnsperf lost nothing."""
    return reload.perf is not None and reload.perf.lost == 0 and not reload.note and len(reload.serials) == 3


def _await_new_serial(server: Peer, old: int, deadline: float) -> int | None:
    while time.monotonic() < deadline:
        serial = server.serial(timeout=0.5)
        if serial is not None and serial != old:
            return serial
        time.sleep(0.05)
    return None


# -- report -------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(ctx: Context, rows: Sequence[Row], reload: ReloadResult | None, meta: dict[str, str]) -> str:
    """The Markdown report."""
    base: dict[str, float | None] = {
        STATIC: next((r.perf.qps for r in rows if r.server == "bind" and r.workload == STATIC and r.perf), None),
        GEO: next((r.perf.qps for r in rows if r.server == "pdns-geoip" and r.workload == GEO and r.perf), None),
    }
    lines = ["# kuadns-sync benchmark", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [
        "",
        "| server | workload | qps | avg ms | p99 ms | max ms | lost | NOERROR % | RSS MiB | start s "
        "| vs BIND (static) | vs PowerDNS GeoIP (geo) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        p = row.perf
        if p is None:
            lines.append(f"| {row.server} | {row.workload} | {row.note} | | | | | | | | | |")
            continue
        base_qps = base[row.workload]
        ratio = f"{p.qps / base_qps:.2f}" if base_qps else "-"
        ratio_static, ratio_geo = (ratio, "-") if row.workload == STATIC else ("-", ratio)
        lines.append(
            f"| {row.server} | {row.workload} | {p.qps:,.0f} | {p.avg_ms:.3f} | {_fmt(p.p99_ms, '.3f')} "
            f"| {p.max_ms:.3f} | {p.lost} | {p.noerror_pct:.1f} | {row.rss_mib:.1f} | {row.start_s:.2f} "
            f"| {ratio_static} | {ratio_geo} |"
        )
    lines += [
        "",
        "lost: queries without an answer within 2 s (dnsperf's 'Queries lost'; at saturation a UDP server "
        "drops what overflows its socket buffer). RSS: VmRSS of the server and its children after its runs.",
    ]
    if reload is not None:
        lines += ["", "## Reload under load", ""]
        if reload.perf is None:
            lines.append(f"not run: {reload.note}")
        else:
            p = reload.perf
            lines += [
                f"kuadns-1, geo+weighted workload at a fixed {reload.max_qps:,} qps (dnsperf -Q, below "
                "saturation); two changed inputs (new gateway addresses in cluster-1, then new weights in "
                "cluster-2) rendered "
                "by a separate `nice -n 10 kuadns-sync render` into the served bundle directory during the "
                f"run; render took {', '.join(f'{s:.1f} s' for s in reload.render_s) or '-'}, the new serial "
                f"was answered {', '.join(f'{s:.2f} s' for s in reload.reload_s) or '-'} after each render.",
                "",
                "| phase | serials answered | qps | p99 ms | max ms | sent | lost |",
                "|---|---|--:|--:|--:|--:|--:|",
            ]
            if reload.control is not None:
                c = reload.control
                lines.append(
                    f"| control: same renders into an unserved directory | {reload.serials[0]} | {c.qps:,.0f} "
                    f"| {_fmt(c.p99_ms, '.3f')} | {c.max_ms:.3f} | {c.sent} | {c.lost} |"
                )
            lines += [
                f"| renders into the served bundle | {' → '.join(str(s) for s in reload.serials)} | {p.qps:,.0f} "
                f"| {_fmt(p.p99_ms, '.3f')} | {p.max_ms:.3f} | {p.sent} | {p.lost} |",
            ]
            verdict = "PASS: two reloads, no query lost" if reload_ok(reload) else "FAIL"
            lines += ["", f"{verdict}{': ' + reload.note if reload.note else ''}"]
    return "\n".join(lines) + "\n"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python3 -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="DNSRecord objects to generate")
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--zone", default="bench.example.com")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each dnsperf run")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf -c")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q")
    parser.add_argument("--peer-workers", type=int, default=os.cpu_count() or 2, help="threads/processes of peers")
    parser.add_argument("--servers", default=",".join(ALL_SERVERS), help="comma list of servers to run")
    parser.add_argument("--no-reload", action="store_true", help="skip the reload-under-load run")
    parser.add_argument(
        "--reload-qps", type=int, help="query rate of the reload run (default: 15 %% of kuadns-1 geo qps)"
    )
    parser.add_argument("--no-p99", action="store_true", help="no dnsperf -v (no per-query latencies)")
    parser.add_argument("--out", type=Path, help="also write the report here")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = sorted(set(servers) - set(ALL_SERVERS))
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)} (known: {', '.join(ALL_SERVERS)})")
    if not 0 < args.seconds <= 120:
        parser.error("--seconds must be in (0, 120]")
    if not 0 < args.records <= 100_000:
        parser.error("--records must be in (0, 100000]")
    args.server_list = servers
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    args = parse_args(argv)
    if shutil.which("dnsperf") is None:
        print("error: dnsperf is not installed (scripts/setup installs it)", file=sys.stderr)
        return 1

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    work = args.keep or Path(tempfile.mkdtemp(prefix="kuadns-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        log(f"generating {args.records} DNSRecords ...")
        records = work / "records"
        generate(records, args.records, args.clusters, zone=args.zone, seed=args.seed)
        bundle_root = work / "bundle"
        log("rendering the bundle ...")
        t0 = time.monotonic()
        render_records(records, bundle_root, bench_settings(args.zone))
        args.render_seconds = time.monotonic() - t0
        bundle = read_bundle(bundle_root).zone(args.zone.rstrip(".").lower())
        if bundle is None:
            print(f"error: the rendered bundle has no zone {args.zone}", file=sys.stderr)
            return 1
        geoip_db = write_geoip_db(work / "bench-city.mmdb")
        static_file = work / "static.txt"
        statics = static_names(bundle)
        write_text_queries(static_file, statics)
        geo_file = work / "geo.bin"
        geo_count = write_ecs_queries(geo_file, geo_names(bundle), args.seed)
        pdns_yaml = work / "pdns-geoip.yaml"
        pdns_yaml.write_text(geoip_zone_yaml(bundle))
        ctx = Context(args, work, bundle_root, bundle, geoip_db, static_file, geo_file, pdns_yaml)
        meta = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores ({_cpu_model()}), Linux {platform.release()}",
            "input": f"{args.records} DNSRecords from {args.clusters} clusters, zone {bundle.name}, "
            f"{len(bundle.variants)} variants ({', '.join(bundle.variants)}), render {args.render_seconds:.1f} s",
            "workloads": f"static = A queries for {len(statics)} gateway A names (no EDNS); "
            f"geo+weighted = {geo_count} A queries for {len(geo_names(bundle))} hosts × {len(CLIENTS)} "
            "client subnets in ECS (prebuilt, dnsperf -B)",
            "dnsperf": f"-l {args.seconds:g} -c {args.clients} -q {args.outstanding}"
            + ("" if args.no_p99 else " -v (p99 from per-query latencies)"),
            "peers": f"{args.peer_workers} worker threads/processes each; BIND, Knot, NSD and PowerDNS (bind) "
            "serve the default variant; PowerDNS GeoIP serves the YAML translation of the whole bundle",
            "caveat": "server and dnsperf share the same 2 cores; loopback only; compare rows of one run, "
            "not absolute numbers across machines",
        }
        rows: list[Row] = []
        for name in args.server_list:
            log(f"server {name}:")
            rows += bench_server(ctx, name, log)
        reload = None
        if not args.no_reload and any(s.startswith("kuadns") for s in args.server_list):
            measured = [r.perf.qps for r in rows if r.server == "kuadns-1" and r.workload == GEO and r.perf]
            rate = args.reload_qps or (int(measured[0] * RELOAD_LOAD_SHARE) if measured else 2000)
            log(f"reload under load at {rate} qps:")
            reload = reload_under_load(ctx, max(rate, 100), log)
        text = report(ctx, rows, reload, meta)
        print(text)
        if args.out:
            args.out.write_text(text)
        return 1 if reload is not None and not reload_ok(reload) else 0
    except (KuadnsError, PeerError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
