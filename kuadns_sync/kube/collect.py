"""Read clusters: DNSRecords (all namespaces) and provider Secrets -> ClusterSnapshot, with timeouts.

I/O (Kubernetes API). Clusters are read in parallel so a slow one costs at most --cluster-timeout;
every failure becomes a ClusterFailure whose message names the cluster and the cause (unreachable,
timeout, 401, 403, HTTP error), never an exception. The watch that wakes the loop is in `watch`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kuadns_sync.kube import objects
from kuadns_sync.kube.clients import Cluster
from kuadns_sync.kube.rest import Rest
from kuadns_sync.kube.stale import ClusterFailure
from kuadns_sync.model import GROUP, PLURAL, PROVIDER_SECRET_TYPE, VERSION, ClusterSnapshot, ProviderSecret

KUBE_SYSTEM = "kube-system"


@dataclass(frozen=True, slots=True)
class ClusterRead:
    """A successful read: the snapshot and its resourceVersion (where a watch starts); `listed` is
    False when the records came from a watch cache instead of a list."""

    snapshot: ClusterSnapshot
    resource_version: str
    listed: bool = True


def describe_failure(exc: BaseException, timeout: float) -> str:
    """A one-line cause for a failed API call (no traceback: this is an operational condition)."""
    if isinstance(exc, ApiException):
        status = exc.status
        if status == 401:
            return "unauthorized (401): the cluster rejected our credentials"
        if status == 403:
            return f"forbidden (403): missing RBAC permission ({(exc.reason or '').strip() or 'Forbidden'})"
        return f"API error {status} {(exc.reason or '').strip()}".rstrip()
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # urllib3 2 derives NewConnectionError from ConnectTimeoutError: test it first.
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionError):
        cause = str(exc).rpartition("] ")[2] or "connection failed"
        return f"unreachable: {cause}"
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "unreachable: connection timed out"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return f"TLS error: {exc}"
    if isinstance(exc, ValueError):
        return f"unreadable response: {exc}"
    return f"unreachable: {type(exc).__name__}: {exc}"


# What a failed call can raise through the official client (besides bugs, which must surface).
API_ERRORS: tuple[type[BaseException], ...] = (
    ApiException,
    urllib3.exceptions.HTTPError,
    OSError,
    ValueError,
)


def list_records(api: k8s.ApiClient, timeout: float) -> tuple[list[dict[str, Any]], str]:
    """Every DNSRecord in every namespace, and the list's resourceVersion."""
    body = Rest(api, timeout).call("GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}")
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError("DNSRecord list without items")
    version = str(objects.metadata(body).get("resourceVersion") or "")
    return [item for item in items if isinstance(item, dict)], version


def list_provider_secrets(api: k8s.ApiClient, cluster: str, timeout: float) -> list[ProviderSecret]:
    """CoreDNS provider Secrets (type kuadrant.io/coredns) in every namespace of the cluster."""
    from kuadns_sync.parse import parse_provider_secret

    # Prepared calls here and below: CoreV1Api alone takes ~0.9 s to import, all of it in the first pass.
    body = Rest(api, timeout).call("GET", "/api/v1/secrets", query={"fieldSelector": f"type={PROVIDER_SECRET_TYPE}"})
    items = body.get("items") if isinstance(body, dict) else None
    secrets = []
    for item in items or []:
        if isinstance(item, dict) and item.get("type") == PROVIDER_SECRET_TYPE:
            secret = parse_provider_secret(item, cluster)
            if secret is not None:
                secrets.append(secret)
    return secrets


def read_cluster(
    cluster: Cluster,
    timeout: float,
    *,
    with_secrets: bool,
    cached: tuple[list[dict[str, Any]], str] | None = None,
) -> ClusterRead | ClusterFailure:
    """One cluster's snapshot, or why it could not be read.

    The DNSRecords come from `cached` (a live watch's cache: records, version) when given, else from
    a list. Provider Secrets are read only where zones come from (the local cluster of a primary):
    a remote cluster's RBAC for us covers DNSRecords only (kuadrant-coredns.md §3.8).
    """
    try:
        records, version = cached if cached is not None else list_records(cluster.api, timeout)
        secrets = list_provider_secrets(cluster.api, cluster.name, timeout) if with_secrets else []
    except API_ERRORS as exc:
        return ClusterFailure(cluster.name, describe_failure(exc, timeout))
    snapshot = ClusterSnapshot(
        name=cluster.name, records=tuple(records), secrets=tuple(secrets), local=cluster.local
    )
    return ClusterRead(snapshot, version, listed=cached is None)


def read_clusters(
    clusters: Sequence[Cluster],
    timeout: float,
    *,
    secrets_from: frozenset[str] = frozenset(),
    cached: Mapping[str, tuple[list[dict[str, Any]], str]] | None = None,
) -> dict[str, ClusterRead | ClusterFailure]:
    """Read every cluster in parallel; each result is a ClusterRead or a ClusterFailure."""
    if not clusters:
        return {}
    caches = cached or {}
    with ThreadPoolExecutor(max_workers=len(clusters), thread_name_prefix="kuadns-read") as pool:
        futures = {
            c.name: pool.submit(
                read_cluster, c, timeout, with_secrets=c.name in secrets_from, cached=caches.get(c.name)
            )
            for c in clusters
        }
        return {name: future.result() for name, future in futures.items()}


def cluster_id(api: k8s.ApiClient, timeout: float) -> str:
    """The cluster id Kuadrant uses: the UID of the kube-system namespace (kuadrant-coredns.md §2.1).

    Raises ApiException / urllib3 errors; ValueError when the namespace has no uid.
    """
    body = Rest(api, timeout).call("GET", f"/api/v1/namespaces/{KUBE_SYSTEM}")
    uid = objects.uid(body if isinstance(body, dict) else {})
    if not uid:
        raise ValueError("namespace kube-system has no metadata.uid")
    return uid
