"""Commands `serve` (the embedded GeoDNS server) and `geoip-demo` (write the demo GeoIP database).

Console I/O only; the server is kuadns_sync.serve. With neither --bundle nor --records, `serve`
renders the bundled example into a cache directory, generates the demo GeoIP DB there, and serves
it on 127.0.0.1:5353.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kuadns_sync.cli.app import app, fail
from kuadns_sync.cli.offline import (
    EXAMPLES,
    ConfigOpt,
    FallbackOpt,
    LocalOpt,
    NsOpt,
    RnameOpt,
    TtlOpt,
    ZoneOpt,
    load_settings,
)
from kuadns_sync.errors import ConfigError, KuadnsError

# The server and the GeoIP reader are imported by the commands that use them: `render` and `--help`
# should not pay for dnspython, maxminddb and asyncio at start-up.
if TYPE_CHECKING:
    from kuadns_sync.serve import Address, RecordsWatch

DEMO_DB_NAME = "GeoLite2-City-demo.mmdb"


def cache_dir() -> Path:
    """A writable per-user cache directory for rendered bundles and the demo DB."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kuadns-sync"
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError:
        base = Path(tempfile.gettempdir()) / f"kuadns-sync-{os.getuid()}"
        base.mkdir(parents=True, exist_ok=True)
    return base


def _render_into(records: Path, out: Path, settings_args: Mapping[str, object]) -> RecordsWatch:
    from kuadns_sync.pipeline import render_records  # imported here: only --records mode needs it
    from kuadns_sync.serve import RecordsWatch

    settings = load_settings(records, **settings_args)  # type: ignore[arg-type]

    def render() -> Path:
        return render_records(records, out, settings)

    render()
    return RecordsWatch(records, render)


@app.command("serve")
def serve_command(
    bundle: Annotated[
        Path | None, typer.Option("--bundle", "-b", help="Bundle to serve (OUT root, polled for changes, or g-* dir).")
    ] = None,
    records: Annotated[
        Path | None,
        typer.Option("--records", "-r", help="Render this manifests directory and serve it; re-render on change."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where --records mode writes its bundle (default: cache).")
    ] = None,
    geoip: Annotated[
        Path | None, typer.Option("--geoip", help="MaxMind City/Country .mmdb; reloaded when the file changes.")
    ] = None,
    listen: Annotated[
        list[str] | None,
        typer.Option("--listen", "-l", help="IP:PORT or [IPv6]:PORT for UDP+TCP (repeatable; 127.0.0.1:5353)."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Processes sharing the port.")] = 1,
    allow_transfer: Annotated[
        list[str] | None, typer.Option("--allow-transfer", help="CIDR allowed to AXFR (repeatable).")
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option("--notify", help="Secondary IP:PORT to NOTIFY when a zone's serial changes (repeatable)."),
    ] = None,
    geo_fallback: FallbackOpt = None,
    health_listen: Annotated[
        str | None, typer.Option("--health-listen", help="IP:PORT for /healthz, /readyz and /metrics.")
    ] = None,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.05, help="Seconds between checks for a new bundle.")
    ] = 0.5,
    config: ConfigOpt = None,
    zone: ZoneOpt = None,
    nameserver: NsOpt = None,
    rname: RnameOpt = None,
    local_cluster: LocalOpt = None,
    default_ttl: TtlOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Serve DNS from a bundle (or from manifests rendered on the fly) with GeoIP and weighted answers."""
    from kuadns_sync.geo import Locator, write_demo_db
    from kuadns_sync.serve import ServeOptions, bundle_signature, parse_listen, parse_networks, serve

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if bundle is not None and records is not None:
            raise ConfigError("--bundle and --records are mutually exclusive")
        addresses = tuple(parse_listen(text) for text in (listen or ["127.0.0.1:5353"]))
        health = parse_listen(health_listen, "--health-listen") if health_listen else None
        networks = parse_networks(allow_transfer or [])
        notify_targets = tuple(parse_listen(text, "--notify") for text in notify or [])
        watch = None
        what: str
        if records is None and bundle is None:
            records = EXAMPLES
            if geoip is None:
                geoip = cache_dir() / DEMO_DB_NAME
                write_demo_db(geoip)
        if records is not None:
            if not records.is_dir():
                raise ConfigError(f"--records {records}: not a directory")
            if out is None:
                digest = hashlib.sha256(str(records.resolve()).encode()).hexdigest()[:12]
                out = cache_dir() / "bundles" / digest
            settings_args: dict[str, object] = {
                "config": config,
                "zones": zone,
                "nameservers": nameserver,
                "rname": rname,
                "role": None,
                "local_cluster": local_cluster,
                "default_ttl": default_ttl,
                "geo_fallback": geo_fallback,
            }
            watch = _render_into(records, out, settings_args)
            bundle = out
            what = f"records {records} (bundle {out})"
        else:
            assert bundle is not None
            what = f"bundle {bundle}"
        geo_text = "no GeoIP database (every client gets the default variant)"
        if geoip is not None:
            locator = Locator(geoip)  # fail now, with a clear message, if the file is unusable
            geo_text = f"GeoIP {geoip} ({locator.database_type})"
            locator.close()
        if records is None and bundle_signature(bundle) is None:
            typer.echo(f"waiting for a bundle at {bundle} ...", err=True)
        if records is None and geo_fallback is not None:
            typer.echo("note: --geo-fallback applies when rendering; a bundle keeps its own", err=True)
        options = ServeOptions(
            bundle=bundle,
            listen=addresses,
            geoip=geoip,
            workers=workers,
            allow_transfer=networks,
            notify=notify_targets,
            health_listen=health,
            poll_interval=poll_interval,
            records_watch=watch,
        )
    except KuadnsError as exc:
        raise fail(str(exc)) from None

    def announce(bound: Sequence[Address], health_bound: Address | None) -> None:
        where = ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in bound)
        extra = f", health on http://{health_bound[0]}:{health_bound[1]}/" if health_bound else ""
        procs = f", {workers} workers" if workers > 1 else ""
        typer.echo(f"serving {what} on {where} (udp+tcp){procs}{extra}; {geo_text}")

    try:
        code = serve(options, announce)
    except KuadnsError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


@app.command("explain")
def explain_command(
    name: Annotated[str, typer.Argument(help="Query name, e.g. api.k.example.com")],
    qtype: Annotated[str, typer.Argument(help="Query type.")] = "A",
    bundle: Annotated[Path | None, typer.Option("--bundle", "-b", help="Bundle to explain from.")] = None,
    records: Annotated[
        Path | None, typer.Option("--records", "-r", help="Render these manifests (to a temporary bundle) first.")
    ] = None,
    geoip: Annotated[Path | None, typer.Option("--geoip", help="MaxMind City/Country .mmdb.")] = None,
    client: Annotated[str | None, typer.Option("--client", help="The client's (packet source) address.")] = None,
    subnet: Annotated[
        str | None, typer.Option("--subnet", help="EDNS Client Subnet ADDR/PREFIX (wins over --client).")
    ] = None,
    config: ConfigOpt = None,
    zone: ZoneOpt = None,
) -> None:
    """Explain the answer a client gets: location, variant, weighted draws with their odds, ECS scope."""
    import ipaddress

    from kuadns_sync.explain import Client, explain
    from kuadns_sync.geo import Locator, write_demo_db
    from kuadns_sync.serve import load_tables

    try:
        if bundle is not None and records is not None:
            raise ConfigError("--bundle and --records are mutually exclusive")
        with tempfile.TemporaryDirectory(prefix="kuadns-explain-") as scratch:
            if bundle is None:
                if records is None:
                    records = EXAMPLES
                    if geoip is None:
                        geoip = write_demo_db(Path(scratch) / DEMO_DB_NAME)
                settings = {
                    "config": config,
                    "zones": zone,
                    "nameservers": None,
                    "rname": None,
                    "role": None,
                    "local_cluster": None,
                    "default_ttl": None,
                    "geo_fallback": None,
                }
                _render_into(records, Path(scratch) / "bundle", settings)
                bundle = Path(scratch) / "bundle"
            tables = load_tables(bundle)
            who = Client(client, "packet source") if client else Client(None, "none")
            if subnet is not None:
                try:
                    network = ipaddress.ip_network(subnet, strict=False)
                except ValueError as exc:
                    raise ConfigError(f"--subnet {subnet!r}: {exc}") from exc
                who = Client(str(network.network_address), f"ECS {network}", network.prefixlen)
            location = None
            if geoip is not None and who.address is not None and who.ecs_prefix != 0:
                locator = Locator(geoip)
                location = locator.locate(who.address)
                locator.close()
            typer.echo(explain(tables, name, qtype, who, location), nl=False)
    except KuadnsError as exc:
        raise fail(str(exc)) from None


@app.command("geoip-demo")
def geoip_demo(
    out: Annotated[Path, typer.Argument(help="Where to write the .mmdb file.")] = Path(DEMO_DB_NAME),
) -> None:
    """Write upstream's demo GeoIP DB: 127.0.100.0/24, 10.89.100.0/24 IE/EU; 127.0.200.0/24, 10.89.200.0/24 US/NA."""
    from kuadns_sync.geo import write_demo_db

    try:
        write_demo_db(out)
    except (KuadnsError, OSError) as exc:
        raise fail(f"{out}: {exc}") from None
    typer.echo(f"wrote {out}")
