"""Prepared API calls on the official client's connection pool: JSON bodies in, parsed JSON out.

I/O (Kubernetes API). The generated API methods validate every argument with pydantic and walk every
body through `sanitize_for_serialization`: about a third of the client's CPU per status patch. Here
paths, headers and bodies are prepared once and sent on the urllib3 pool the client built from its
configuration (TLS, CA, client certificates, retries), with credentials from the configuration on
every call (its refresh hooks run). Through a proxy, calls go through `ApiClient.call_api` instead.
Failures raise exactly what the generated methods raise (`ApiException` for non-2xx answers,
urllib3 errors for transport failures).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kuadns_sync.model import GROUP, PLURAL, VERSION

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
# The only security scheme of the Kubernetes OpenAPI document (what every generated method passes).
AUTH_SETTINGS = ("BearerToken",)


def request_timeout(timeout: float) -> tuple[float, float]:
    """(connect, read) timeouts for one API call bounded by `timeout` seconds."""
    return (min(timeout, 5.0), timeout)


def record_path(namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    """The API path of the DNSRecord collection in `namespace`, of one record, or of its subresource."""
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace, safe='')}/{PLURAL}"
    if name is not None:
        path += "/" + quote(name, safe="")
        if subresource is not None:
            path += "/" + subresource
    return path


class _Answer:
    """What ApiException.from_response reads of a response (the generated client passes a RESTResponse)."""

    def __init__(self, raw: Any, data: bytes) -> None:
        self.status, self.reason, self.headers, self.data = raw.status, raw.reason, raw.headers, data


class Rest:
    """Calls on one cluster's ApiClient with prepared paths and JSON bodies (thread-safe)."""

    def __init__(self, api: k8s.ApiClient, timeout: float) -> None:
        self.api = api
        self.timeout = request_timeout(timeout)
        self._timeout = urllib3.Timeout(connect=self.timeout[0], read=self.timeout[1])
        manager = api.rest_client.pool_manager
        # A proxy (or SOCKS) manager rewrites requests per URL: leave those to the client's own path.
        direct = type(manager) is urllib3.PoolManager
        self._pool: Any = manager.connection_from_url(api.configuration.host) if direct else None
        self._prefix = urllib3.util.parse_url(api.configuration.host).path or ""

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = JSON,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request; the parsed JSON answer. Raises ApiException for non-2xx answers (with the
        status and body, as the generated methods do), urllib3 errors, ValueError for a non-JSON answer."""
        api = self.api
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"Accept": JSON, "Content-Type": content_type, **api.default_headers}
        # Per call, not cached: a kubeconfig's token may be refreshed by the configuration's hook.
        api.update_params_for_auth(headers, [], AUTH_SETTINGS, path, method, body)
        if self._pool is None:
            response = api.call_api(
                method, api.configuration.host + path, header_params=headers, body=body,
                _request_timeout=self.timeout,
            )
            raw = response.response
        else:
            encoded = None if body is None else json.dumps(body).encode()
            raw = self._pool.urlopen(
                method, self._prefix + path, body=encoded, headers=headers, timeout=self._timeout,
                preload_content=False,
            )
        try:
            data = raw.data
        finally:
            # urllib3 gives an unpreloaded response's connection back to the pool only on request: a new
            # TLS handshake per call would triple the cost of a sync.
            raw.release_conn()
        if not 200 <= raw.status <= 299:
            raise ApiException.from_response(http_resp=_Answer(raw, data), body=None, data=None)
        return json.loads(data)

