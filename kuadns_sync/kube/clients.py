"""API clients for the local cluster and for every remote cluster named by a kubeconfig Secret.

I/O (reads kubeconfig files and Secrets). The local cluster comes from --kubeconfig/--context or the
in-cluster service account; remote clusters from Secrets labelled
kuadrant.io/multicluster-kubeconfig=true, key `kubeconfig`, secret name = cluster name (§3.8).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from kuadns_sync.errors import ConfigError
from kuadns_sync.kube import objects
from kuadns_sync.kube.rest import Rest
from kuadns_sync.kube.stale import ClusterFailure
from kuadns_sync.model import LABEL_MULTICLUSTER_KUBECONFIG, RawObject

KUBECONFIG_KEY = "kubeconfig"
DEFAULT_TIMEOUT = 10.0
# Connection-pool size per cluster: a watch stream, a list, a Lease call and the synchronous write path
# (the pipelined writes open their own connections: kuadns_sync.kube.pipe).
POOL_SIZE = 4


@dataclass(slots=True)
class Cluster:
    """One connected cluster: its name, API client and whether it is the cluster we run in."""

    name: str
    api: k8s.ApiClient
    local: bool = False
    source_version: str = ""  # resourceVersion of the kubeconfig Secret it was built from

    def close(self) -> None:
        """Release the connection pool."""
        self.api.close()  # type: ignore[no-untyped-call]


def read_json(response: object) -> Any:
    """The JSON body of a response fetched with _preload_content=False (a urllib3 response).

    The connection goes back to the pool explicitly: urllib3 does not do it for unpreloaded
    responses, and a new TLS handshake per request would triple the cost of a sync.
    """
    raw = cast(Any, response)
    try:
        data = raw.data
    finally:
        raw.release_conn()
    return json.loads(data)


def _configure(configuration: k8s.Configuration) -> k8s.Configuration:
    # No urllib3 read retries: a slow cluster must cost one --cluster-timeout, not four.
    configuration.retries = urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0)
    configuration.connection_pool_maxsize = POOL_SIZE
    # Pin the proxy taken from the environment now: left "from env", the client re-scans os.environ
    # on every request (about a quarter of its CPU per status patch).
    configuration.proxy = configuration.proxy
    return configuration


def local_client(kubeconfig: Path | None, context: str | None) -> k8s.ApiClient:
    """The client of the cluster we run in. Raises ConfigError naming the file/context on failure.

    Without --kubeconfig/--context: the in-cluster service account when running in a pod, else
    $KUBECONFIG / ~/.kube/config as kubectl does.
    """
    configuration = k8s.Configuration()
    try:
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            path = str(kubeconfig) if kubeconfig is not None else None
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
    except (ConfigException, OSError, yaml.YAMLError, TypeError, ValueError) as exc:
        where = str(kubeconfig) if kubeconfig is not None else "default kubeconfig"
        ctx = f" (context {context})" if context else ""
        raise ConfigError(f"{where}{ctx}: cannot load cluster configuration: {exc}") from exc
    return k8s.ApiClient(configuration=_configure(configuration))


def _check_kubeconfig(document: Mapping[str, Any]) -> str | None:
    # A kubeconfig read from a Secret must not make us run programs or read our own files with
    # the rights of this process: anybody who can write Secrets in that namespace would.
    for user in document.get("users") or []:
        spec = user.get("user") if isinstance(user, dict) else None
        if not isinstance(spec, dict):
            continue
        for refused in ("exec", "auth-provider", "tokenFile"):
            if refused in spec:
                return f"user auth '{refused}' is not allowed in a cluster Secret (use a token or client certificate)"
    return None


def client_from_kubeconfig(text: str, origin: str) -> k8s.ApiClient:
    """A client from kubeconfig YAML held in a Secret. Raises ConfigError naming `origin`."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: kubeconfig is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{origin}: kubeconfig is not a YAML mapping")
    refused = _check_kubeconfig(document)
    if refused:
        raise ConfigError(f"{origin}: {refused}")
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config_from_dict(  # type: ignore[no-untyped-call]
            document, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ConfigError(f"{origin}: unusable kubeconfig: {exc}") from exc
    return k8s.ApiClient(configuration=_configure(configuration))


def list_cluster_secrets(api: k8s.ApiClient, namespace: str, timeout: float) -> list[RawObject]:
    """The kubeconfig Secrets in `namespace` (label kuadrant.io/multicluster-kubeconfig=true)."""
    # A prepared call: CoreV1Api alone takes ~0.9 s to import, all of it in the first pass.
    body = Rest(api, timeout).call(
        "GET", f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets",
        query={"labelSelector": f"{LABEL_MULTICLUSTER_KUBECONFIG}=true"},
    )
    items = body.get("items") if isinstance(body, dict) else None
    return [item for item in items or [] if isinstance(item, dict)]


def kubeconfig_text(secret: RawObject) -> str:
    """The decoded `kubeconfig` key of a cluster Secret. Raises ConfigError naming the Secret."""
    origin = f"secret {objects.namespace(secret)}/{objects.name(secret)}"
    data = secret.get("data")
    encoded = data.get(KUBECONFIG_KEY) if isinstance(data, dict) else None
    if not isinstance(encoded, str) or not encoded:
        raise ConfigError(f"{origin}: has no '{KUBECONFIG_KEY}' key")
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{origin}: '{KUBECONFIG_KEY}' is not base64 UTF-8: {exc}") from exc


@dataclass(slots=True)
class RemoteClusters:
    """The remote clusters currently configured, rebuilt only when their Secret changes."""

    namespace: str
    exclude: frozenset[str] = frozenset()  # cluster names that are this cluster itself
    clusters: dict[str, Cluster] = field(default_factory=dict)
    factory: Callable[[str, str], k8s.ApiClient] = client_from_kubeconfig

    def refresh(
        self, local: k8s.ApiClient, timeout: float
    ) -> tuple[list[Cluster], dict[str, ClusterFailure]]:
        """Re-read the Secrets: (usable clusters, misconfigured clusters). Raises ApiException/urllib3 errors."""
        secrets = list_cluster_secrets(local, self.namespace, timeout)
        seen: set[str] = set()
        failures: dict[str, ClusterFailure] = {}
        for secret in sorted(secrets, key=objects.name):
            name = objects.name(secret)
            if not name or name in self.exclude:
                continue
            seen.add(name)
            version = objects.resource_version(secret)
            known = self.clusters.get(name)
            if known is not None and known.source_version == version and version:
                continue
            if known is not None:
                known.close()
                del self.clusters[name]
            origin = f"cluster {name} (secret {self.namespace}/{name})"
            try:
                api = self.factory(kubeconfig_text(secret), origin)
            except ConfigError as exc:
                failures[name] = ClusterFailure(name, f"misconfigured: {exc}")
                continue
            self.clusters[name] = Cluster(name, api, local=False, source_version=version)
        for name in sorted(set(self.clusters) - seen):
            self.clusters.pop(name).close()
        return [self.clusters[n] for n in sorted(self.clusters)], failures

    def close(self) -> None:
        """Close every client."""
        for cluster in self.clusters.values():
            cluster.close()
        self.clusters.clear()
