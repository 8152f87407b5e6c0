"""Fixtures for the API server emulator tests: a running emulated cluster and official clients bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
