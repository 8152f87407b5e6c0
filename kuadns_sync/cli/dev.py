"""Development commands: `kuadns-sync dev apiserver` runs one local Kubernetes API server emulator (one process per
simulated cluster) and writes a kubeconfig for it.

Console I/O only; the emulator is kuadns_sync.dev.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import yaml

from kuadns_sync.cli.app import app
from kuadns_sync.errors import KuadnsError

dev_app = typer.Typer(help="Development helpers (local Kubernetes API server emulator).", no_args_is_help=True)
app.add_typer(dev_app, name="dev")


def _manifests(paths: list[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(origin, object) for every YAML document in the files and directories (*.yaml, *.yml, *.json) given."""
    from kuadns_sync.dev import manifests

    for path in paths:
        files = (
            sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json")) if path.is_dir() else [path]
        )
        for file in files:
            try:
                docs = list(manifests.load_all(file.read_text(encoding="utf-8")))
            except (OSError, yaml.YAMLError) as exc:
                raise KuadnsError(f"{file}: cannot read manifests: {exc}") from exc
            for n, doc in enumerate(docs):
                if doc is None:
                    continue
                if not isinstance(doc, dict):
                    raise KuadnsError(f"{file}: document {n + 1} is not an object")
                items = doc.get("items") if str(doc.get("kind", "")).endswith("List") else [doc]
                for item in items or []:
                    yield f"{file} (document {n + 1})", item


@dev_app.command("apiserver")
def apiserver(
    kubeconfig: Annotated[Path, typer.Option("--kubeconfig", help="Write the kubeconfig for this cluster here.")],
    port: Annotated[int, typer.Option("--port", help="TCP port; 0 picks a free one.", min=0, max=65535)] = 0,
    cluster_name: Annotated[
        str, typer.Option("--cluster-name", help="Name of the cluster, context and user in the kubeconfig.")
    ] = "c1",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    token: Annotated[str | None, typer.Option("--token", help="Bearer token to accept (default: random).")] = None,
    kube_system_uid: Annotated[
        str | None, typer.Option("--kube-system-uid", help="UID of namespace kube-system (the cluster ID).")
    ] = None,
    load: Annotated[
        list[Path] | None,
        typer.Option(
            "--load", help="Manifest file or directory to create at start (repeatable; namespaces auto-created)."
        ),
    ] = None,
    insecure_http: Annotated[
        bool,
        typer.Option("--insecure-http", help="Serve plain HTTP (kubectl then sends no token: use the Python client)."),
    ] = False,
) -> None:
    """Run one emulated Kubernetes cluster until interrupted (Ctrl-C or SIGTERM)."""
    # Imported here: the emulator (TLS, HTTP server) is not needed by any other command.
    from kuadns_sync.dev import ApiError, start_apiserver

    try:
        server = start_apiserver(
            port, cluster_name, None, host=host, token=token, kube_system_uid=kube_system_uid, use_tls=not insecure_http
        )
    except KuadnsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        try:
            kubeconfig.parent.mkdir(parents=True, exist_ok=True)
            kubeconfig.write_text(server.kubeconfig_text, encoding="utf-8")
        except OSError as exc:
            raise KuadnsError(f"cannot write kubeconfig {kubeconfig}: {exc}") from exc
        loaded = 0
        for origin, obj in _manifests(load or []):
            try:
                server.create_object(obj)
            except ApiError as exc:
                raise KuadnsError(f"{origin}: {exc.message}") from exc
            except KeyError as exc:
                raise KuadnsError(f"{origin}: {exc.args[0]}") from exc
            loaded += 1
    except KuadnsError as exc:
        server.stop()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    typer.echo(f"cluster {cluster_name}: serving {server.url} (kube-system uid {server.kube_system_uid})")
    typer.echo(f"kubeconfig: {kubeconfig}" + (f"; loaded {loaded} objects" if load else ""), err=False)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
