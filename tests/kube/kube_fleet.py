"""Several emulated clusters wired like Kuadrant's multi-cluster delegation, driven with the official client.

Test helper (I/O: starts emulated API servers on loopback). Two primaries (`p1`, `p2`) hold provider
Secrets and kubeconfig Secrets for every other cluster; `s1` is a secondary. Records follow the
load-balanced delegating layout of kuadrant-coredns.md §2.3/§2.7.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kuadns_sync.dev import ApiServer, start_apiserver
from kuadns_sync.hashing import root_host_hash, short_hash
from kuadns_sync.kube.clients import Cluster, local_client
from kuadns_sync.kube.lease import LeaderLease
from kuadns_sync.kube.loop import SyncLoop
from kuadns_sync.kube.report import SyncOptions, SyncReport
from kuadns_sync.model import Settings

ZONE = "k.example.com"
HOST = f"api.{ZONE}"
NS = "dnstest"
SECRET_NS = "kuadns-system"
GROUP, VERSION, PLURAL = "kuadrant.io", "v1alpha1", "dnsrecords"
T0 = 1_800_000_000.0
AUTH = f"authoritative-record-{root_host_hash(HOST)}"
UID = {name: f"0a1b2c3d-0000-4000-8000-00000000000{i + 1}" for i, name in enumerate(("p1", "p2", "s1"))}


class Clock:
    """A settable clock shared by the loops of a test."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def endpoint(name: str, rtype: str, targets: list[str], ttl: int, set_id: str = "", **ps: str) -> dict[str, Any]:
    """An external-dns Endpoint as JSON."""
    ep: dict[str, Any] = {"dnsName": name, "recordType": rtype, "targets": targets, "recordTTL": ttl}
    if set_id:
        ep["setIdentifier"] = set_id
    if ps:
        ep["providerSpecific"] = [{"name": k.replace("_", "-"), "value": v} for k, v in ps.items()]
    return ep


def lb_endpoints(cluster_uid: str, ip: str, geo: str, weight: int, default_geo: bool, host: str = HOST) -> list[Any]:
    """Kuadrant's load-balanced layout for one gateway (kuadrant-coredns.md §2.3)."""
    lb = f"klb.{host}"
    geo_lb = f"{geo}.{lb}".lower()
    a_name = f"{short_hash(cluster_uid, 6)}-{short_hash('external-' + NS, 6)}.{lb}"
    eps = [
        endpoint(a_name, "A", [ip], 60),
        endpoint(host, "CNAME", [lb], 300),
        endpoint(geo_lb, "CNAME", [a_name], 60, a_name, weight=str(weight)),
        endpoint(lb, "CNAME", [geo_lb], 300, geo, geo_code=geo),
    ]
    if default_geo:
        eps.append(endpoint(lb, "CNAME", [geo_lb], 300, "default", geo_code="*"))
    return eps


def dnsrecord(name: str, endpoints: list[Any], *, root: str = HOST, delegate: bool = True, **spec: Any) -> Any:
    """A DNSRecord manifest in namespace dnstest."""
    body: dict[str, Any] = {"rootHost": root, "endpoints": endpoints, **spec}
    if delegate:
        body["delegate"] = True
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DNSRecord", "metadata": {"name": name, "namespace": NS},
            "spec": body}


@dataclass
class Fleet:
    """The emulated clusters of a test, with official-client helpers and sync loops."""

    servers: dict[str, ApiServer]
    tmp: Path
    clock: Clock = field(default_factory=Clock)
    primaries: tuple[str, ...] = ("p1", "p2")
    secondaries: tuple[str, ...] = ("s1",)
    _clients: dict[str, k8s.ApiClient] = field(default_factory=dict)
    _loops: list[SyncLoop] = field(default_factory=list)

    def api(self, name: str) -> k8s.ApiClient:
        """An official client for cluster `name`."""
        if name not in self._clients:
            self._clients[name] = local_client(self.servers[name].kubeconfig_path, None)
        return self._clients[name]

    def custom(self, name: str) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.api(name))

    def ensure_namespace(self, cluster: str, namespace: str) -> None:
        with contextlib.suppress(ApiException):
            k8s.CoreV1Api(self.api(cluster)).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))

    def apply(self, cluster: str, obj: Any) -> Any:
        """Create or update (spec) a DNSRecord through the API."""
        meta = obj["metadata"]
        self.ensure_namespace(cluster, meta["namespace"])
        api = self.custom(cluster)
        try:
            current: Any = api.get_namespaced_custom_object(GROUP, VERSION, meta["namespace"], PLURAL, meta["name"])
        except ApiException as exc:
            if exc.status != 404:
                raise
            return api.create_namespaced_custom_object(GROUP, VERSION, meta["namespace"], PLURAL, obj)
        current["spec"] = obj["spec"]
        return api.replace_namespaced_custom_object(GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], current)

    def delete(self, cluster: str, name: str, namespace: str = NS) -> None:
        self.custom(cluster).delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def get(self, cluster: str, name: str, namespace: str = NS) -> Any:
        return self.custom(cluster).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def records(self, cluster: str) -> list[Any]:
        listed: Any = self.custom(cluster).list_cluster_custom_object(GROUP, VERSION, PLURAL)
        items: list[Any] = listed["items"]
        return items

    def authoritative(self, cluster: str) -> dict[str, Any]:
        """name -> (labels, spec) of the authoritative records in `cluster`."""
        return {
            r["metadata"]["name"]: (r["metadata"].get("labels"), r["spec"])
            for r in self.records(cluster)
            if (r["metadata"].get("labels") or {}).get("kuadrant.io/authoritative-record") == "true"
        }

    def create_secret(self, cluster: str, body: Any) -> None:
        self.ensure_namespace(cluster, body["metadata"]["namespace"])
        k8s.CoreV1Api(self.api(cluster)).create_namespaced_secret(body["metadata"]["namespace"], body)

    def connect(self, cluster: str, other: str, *, kubeconfig: str | None = None) -> None:
        """Give `cluster` a kubeconfig Secret for `other` (upstream's add-cluster-secret)."""
        text = kubeconfig if kubeconfig is not None else self.servers[other].kubeconfig_text
        self.create_secret(cluster, {
            "metadata": {"name": other, "namespace": SECRET_NS,
                         "labels": {"kuadrant.io/multicluster-kubeconfig": "true"}},
            "stringData": {"kubeconfig": text},
        })

    def loop(
        self, cluster: str, *, role: str | None = None, out: Path | None = None, lease: str | None = None,
        identity: str | None = None, **options: Any,
    ) -> SyncLoop:
        """A sync loop running as cluster `cluster` (closed at the end of the test)."""
        role = role or ("primary" if cluster in self.primaries else "secondary")
        local = Cluster(cluster, local_client(self.servers[cluster].kubeconfig_path, None), local=True)
        options.setdefault("timeout", 2.0)
        opts = SyncOptions(role=role, cluster_secret_namespace=SECRET_NS, out=out, **options)  # type: ignore[arg-type]
        elector = LeaderLease(local, SECRET_NS, lease, identity=identity, clock=self.clock) if lease else None
        loop = SyncLoop(local, Settings(), opts, lease=elector, clock=self.clock)
        self._loops.append(loop)
        return loop

    def converge(self, out: dict[str, Path] | None = None, **options: Any) -> list[SyncReport]:
        """Secondaries first (ReadyForDelegation), then every primary, twice (statuses settle).

        Fails the test when a pass is refused or cannot write: these passes are meant to succeed.
        """
        reports = []
        for _ in range(2):
            for name in self.secondaries:
                reports.append(self.loop(name).sync_once())
            for name in self.primaries:
                reports.append(self.loop(name, out=(out or {}).get(name), **options).sync_once())
        for report in reports:
            assert not report.refused, report.refused
            assert not report.writes.issues, report.writes.issues
        return reports

    def close(self) -> None:
        for loop in self._loops:
            loop.close()
        for api in self._clients.values():
            api.close()  # type: ignore[no-untyped-call]


def endpoints_of(f: Fleet, cluster: str) -> dict[tuple[str, str, str], Any]:
    """(dnsName, recordType, setIdentifier) -> endpoint of the api host's authoritative record."""
    _, spec = f.authoritative(cluster)[AUTH]
    return {(e["dnsName"], e["recordType"], e.get("setIdentifier", "")): e for e in spec["endpoints"]}


@contextlib.contextmanager
def fleet(tmp: Path, names: tuple[str, ...] = ("p1", "p2", "s1")) -> Iterator[Fleet]:
    """Start the clusters, wire the primaries to every other cluster, add CoreDNS provider Secrets."""
    servers: dict[str, ApiServer] = {}
    try:
        for i, name in enumerate(names):
            uid = UID.get(name, f"0a1b2c3d-0000-4000-8000-00000000001{i}")
            servers[name] = start_apiserver(cluster_name=name, kubeconfig_dir=tmp, kube_system_uid=uid)
        result = Fleet(servers, tmp)
        result.primaries = tuple(n for n in names if n.startswith("p"))
        result.secondaries = tuple(n for n in names if n.startswith("s"))
        for primary in result.primaries:
            result.create_secret(primary, {
                "metadata": {"name": "dns-provider-coredns", "namespace": NS,
                             "labels": {"kuadrant.io/default-provider": "true"}},
                "type": "kuadrant.io/coredns",
                "stringData": {"ZONES": ZONE},
            })
            for other in names:
                if other != primary:
                    result.connect(primary, other)
        try:
            yield result
        finally:
            result.close()
    finally:
        for server in servers.values():
            server.stop()
