"""`ApiServer`: one emulated Kubernetes cluster running in a background thread, with its kubeconfig,
fault injection, history compaction, request counters and direct object access for tests.

I/O: binds a TCP socket and writes the kubeconfig file.
"""

from __future__ import annotations

import base64
import random
import secrets
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from kuadns_sync.dev import resources, tls
from kuadns_sync.dev.api import Api
from kuadns_sync.dev.http import FaultMode, RequestRecord, Server, Transport
from kuadns_sync.dev.registry import Registry, WriteOptions, bootstrap
from kuadns_sync.dev.resources import BUILTIN_TYPES, ResourceType
from kuadns_sync.dev.store import Store
from kuadns_sync.errors import ConfigError
from kuadns_sync.jsoncodec import clone

Json = dict[str, Any]
_FAULTS = ("unreachable", "slow")
# Writes between two settles of the heap (see kuadns_sync.dev.store): the collector's full passes then
# rescan at most this many writes' objects, not every stored object.
SETTLE_EVERY = 1000


def render_kubeconfig(
    name: str, server_url: str, token: str, ca_pem: bytes | None = None, namespace: str = "default"
) -> str:
    """Kubeconfig text with one cluster, user and context, all called `name`, using a bearer token
    (and trusting `ca_pem` for an https server)."""
    cluster: Json = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


class ApiServer:
    """A running emulated cluster. Use `start_apiserver()`; stop with `.stop()` or a `with` block."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cluster_name: str = "c1",
        kubeconfig_path: Path | None = None,
        token: str | None = None,
        kube_system_uid: str | None = None,
        bookmark_interval: float = 10.0,
        history_limit: int = 200_000,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        use_tls: bool = True,
    ) -> None:
        self.cluster_name = cluster_name
        self.token = token or secrets.token_hex(16)
        rng = random.Random(seed)
        self.kube_system_uid = kube_system_uid or str(uuid.UUID(int=rng.getrandbits(128), version=4))
        crd = resources.load_crd()
        types: list[ResourceType] = [
            *BUILTIN_TYPES,
            *resources.crd_types(crd, f"kuadns_sync/crd/{resources.DNSRECORD_CRD}"),
        ]
        self.store = Store(history_limit=history_limit, settle_every=SETTLE_EVERY)
        self.registry = Registry(self.store, types, clock, rng)
        bootstrap(self.registry, [crd], self.kube_system_uid)
        self._stopping = threading.Event()
        self.api = Api(self.registry, self._address, bookmark_interval, self._stopping)
        self._transport = Transport(self.api, self.token)
        # Private directory for the TLS key (and the kubeconfig when no path is given).
        self._tmpdir = tempfile.TemporaryDirectory(prefix=f"kuadns-dev-{cluster_name}-")
        context: ssl.SSLContext | None = None
        self.ca_pem: bytes | None = None
        if use_tls:
            self.ca_pem, key_pem = tls.self_signed(host, f"kuadns-dev-{cluster_name}")
            cert_file, key_file = Path(self._tmpdir.name) / "tls.crt", Path(self._tmpdir.name) / "tls.key"
            cert_file.write_bytes(self.ca_pem)
            key_file.write_bytes(key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
        try:
            self._server = Server((host, port), self._transport, context)
        except OSError as exc:
            self._tmpdir.cleanup()
            raise ConfigError(f"dev apiserver {cluster_name}: cannot listen on {host}:{port}: {exc.strerror}") from exc
        self.host, self.port = str(self._server.server_address[0]), int(self._server.server_address[1])
        scheme = "https" if use_tls else "http"
        shown_host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{scheme}://{shown_host}:{self.port}"
        self.kubeconfig_text = render_kubeconfig(cluster_name, self.url, self.token, self.ca_pem)
        if kubeconfig_path is None:
            kubeconfig_path = Path(self._tmpdir.name) / "kubeconfig"
        self.kubeconfig_path = Path(kubeconfig_path)
        try:
            self.kubeconfig_path.parent.mkdir(parents=True, exist_ok=True)
            self.kubeconfig_path.write_text(self.kubeconfig_text, encoding="utf-8")
        except OSError as exc:
            self._server.server_close()
            self._tmpdir.cleanup()
            raise ConfigError(
                f"dev apiserver {cluster_name}: cannot write kubeconfig {kubeconfig_path}: {exc}"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"kuadns-dev-apiserver-{cluster_name}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def _address(self) -> str:
        return f"{self.host}:{self.port}"

    # --- lifecycle ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving: end watches, reset open connections, release the port. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self.store.close()
        self._server.shutdown()
        self._transport.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._tmpdir.cleanup()

    def __enter__(self) -> ApiServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- faults and history ---------------------------------------------------------------------------------

    def set_fault(self, fault: FaultMode, delay: float = 0.0) -> None:
        """Inject a fault for every following request: None (healthy), "unreachable" (connections are reset,
        open watches end), "slow" (each response delayed by `delay` s) or an HTTP status code (401, 403, 500, ...)
        answered as a Status object. Raises ValueError for anything else."""
        if fault is not None and fault not in _FAULTS and not (isinstance(fault, int) and 400 <= fault <= 599):
            raise ValueError(f"fault must be None, 'unreachable', 'slow' or a 4xx/5xx status code, not {fault!r}")
        if fault == "slow" and delay <= 0:
            raise ValueError("the 'slow' fault needs a positive delay")
        self._transport.delay = delay
        self._transport.fault = fault
        if fault == "unreachable":
            self._transport.drop_connections()

    @property
    def fault(self) -> FaultMode:
        """The fault currently injected."""
        return self._transport.fault

    def compact(self, resource_version: int | None = None) -> int:
        """Drop watch history up to `resource_version` (default: everything so far); watches and continue tokens
        from before it get 410 Gone. Returns the compacted resourceVersion."""
        return self.store.compact(resource_version)

    @property
    def resource_version(self) -> int:
        """The newest resourceVersion of the cluster."""
        return self.store.resource_version

    # --- counters -------------------------------------------------------------------------------------------

    @property
    def write_count(self) -> int:
        """POST/PUT/PATCH/DELETE requests that passed auth and faults (successful or not)."""
        return self._transport.write_count

    @property
    def request_count(self) -> int:
        """Requests that passed faults (including 401s)."""
        return self._transport.request_count

    def requests(self) -> list[RequestRecord]:
        """Recorded requests (method, path, query, code), oldest first (the last 100,000)."""
        return self._transport.records()

    def reset_counters(self) -> None:
        """Zero write_count/request_count and forget recorded requests."""
        self._transport.reset_counters()

    # --- direct object access (bypasses HTTP, auth, faults and counters) -------------------------------------

    def resource_type(self, resource: str) -> ResourceType:
        """A served type by plural, `plural.group`, kind or short name. Raises KeyError."""
        return self.registry.by_name(resource)

    def objects(self, resource: str, namespace: str | None = None) -> list[Json]:
        """Copies of the stored objects of a type (all namespaces when `namespace` is None), sorted."""
        rt = self.resource_type(resource)
        entries, _ = self.store.entries(rt.key, namespace if rt.namespaced else None)
        return [clone(e.obj) for e in entries]

    def get_object(self, resource: str, name: str, namespace: str = "default") -> Json | None:
        """A copy of one stored object, or None."""
        rt = self.resource_type(resource)
        entry = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        return clone(entry.obj) if entry else None

    def create_object(self, obj: Json) -> Json:
        """Create one object (kind/apiVersion pick the type; missing namespaces are created; status kept for
        types with a status subresource) and return a copy. Validation applies. Raises ApiError or KeyError."""
        created: Json = clone(self.registry.seed(self._type_of(obj), obj))
        return created

    def load(self, objects: Iterable[Json]) -> int:
        """Create many objects like create_object (inputs are not modified); returns how many. Much faster than
        HTTP for bulk fixtures. Raises ApiError or KeyError at the first bad object (earlier ones stay)."""
        count = 0
        for obj in objects:
            self.registry.seed(self._type_of(obj), obj)
            count += 1
        return count

    def delete_object(self, resource: str, name: str, namespace: str = "default") -> None:
        """Delete one object as a DELETE request would (finalizers respected). Raises ApiError."""
        rt = self.resource_type(resource)
        self.registry.delete(rt, namespace if rt.namespaced else "", name)

    def patch_object(
        self, resource: str, name: str, patch: Json, namespace: str = "default", subresource: str | None = None
    ) -> Json:
        """Apply a JSON merge patch as a PATCH request would. Raises ApiError."""
        import json

        rt = self.resource_type(resource)
        outcome = self.registry.patch(
            rt,
            namespace if rt.namespaced else "",
            name,
            "application/merge-patch+json",
            json.dumps(patch).encode(),
            subresource,
            WriteOptions(),
        )
        patched: Json = clone(outcome.obj)
        return patched

    def _type_of(self, obj: Json) -> ResourceType:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        for rt in self.registry.types:
            if rt.kind == kind and rt.api_version == api_version:
                return rt
        raise KeyError(f"{self.cluster_name}: no resource type for apiVersion={api_version!r} kind={kind!r}")


def start_apiserver(
    port: int = 0,
    cluster_name: str = "c1",
    kubeconfig_dir: Path | None = None,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    kube_system_uid: str | None = None,
    bookmark_interval: float = 10.0,
    history_limit: int = 200_000,
    seed: int | None = None,
    use_tls: bool = True,
    clock: Callable[[], float] = time.time,
) -> ApiServer:
    """Start an emulated cluster in a background thread; its kubeconfig is written to
    `kubeconfig_dir/<cluster_name>.kubeconfig` (a private temp dir when None). `clock` stamps
    creation/deletion times and ages; `seed` makes UIDs and generated names reproducible. Raises ConfigError."""
    path = Path(kubeconfig_dir) / f"{cluster_name}.kubeconfig" if kubeconfig_dir is not None else None
    return ApiServer(
        host=host,
        port=port,
        cluster_name=cluster_name,
        kubeconfig_path=path,
        token=token,
        kube_system_uid=kube_system_uid,
        bookmark_interval=bookmark_interval,
        history_limit=history_limit,
        seed=seed,
        use_tls=use_tls,
        clock=clock,
    )
