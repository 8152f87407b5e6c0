"""Fixtures for the API server emulator tests: a running emulated cluster and official clients bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from kuadns_sync.dev import ApiServer, start_apiserver


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    """A fresh emulated cluster with fast bookmarks."""
    with start_apiserver(cluster_name="test", kubeconfig_dir=tmp_path, bookmark_interval=0.2) as srv:
        yield srv


@pytest.fixture
def api_client(server: ApiServer) -> Iterator[client.ApiClient]:
    """An official ApiClient configured from the kubeconfig the server wrote."""
    api = config.new_client_from_config(str(server.kubeconfig_path))
    yield api
    api.close()


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    """CustomObjectsApi for DNSRecords."""
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    """CoreV1Api."""
    return client.CoreV1Api(api_client)


def dnsrecord(name: str, namespace: str = "default", labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A valid DNSRecord manifest; keyword arguments override spec fields."""
    body: dict[str, Any] = {
        "rootHost": "api.k.example.com",
        "endpoints": [{"dnsName": "api.k.example.com", "recordType": "A", "targets": ["192.0.2.1"], "recordTTL": 60}],
    }
    body.update(spec)
    return {
        "apiVersion": "kuadrant.io/v1alpha1",
        "kind": "DNSRecord",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": body,
    }
