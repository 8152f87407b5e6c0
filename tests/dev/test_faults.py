"""Authentication and injected faults as the official client sees them: 401 for a bad token, connection
resets while 'unreachable' (open watches end too), delays while 'slow', Status errors for 401/403/500."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client, config, watch

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord, status_of
from kuadns_sync.dev import ApiServer


def test_a_wrong_or_missing_token_is_401(server: ApiServer, tmp_path: Path) -> None:
    for token in ("wrong", None):
        kubeconfig = yaml.safe_load(server.kubeconfig_text)
        if token is None:
            del kubeconfig["users"][0]["user"]["token"]
        else:
            kubeconfig["users"][0]["user"]["token"] = token
        path = tmp_path / f"kubeconfig-{token}"
        path.write_text(yaml.safe_dump(kubeconfig))
        with config.new_client_from_config(str(path)) as api, pytest.raises(client.ApiException) as err:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": "x"}})
        assert status_of(err.value)["reason"] == "Unauthorized"
    assert server.objects("namespaces", None)[0]["metadata"]["name"] == "default"
    assert "x" not in {n["metadata"]["name"] for n in server.objects("namespaces")}
    assert server.write_count == 0 and [r.code for r in server.requests()] == [401, 401]


@pytest.mark.parametrize(("code", "reason"), [(401, "Unauthorized"), (403, "Forbidden"), (500, "InternalError")])
def test_status_faults_answer_every_request_with_a_status(
    server: ApiServer, custom: client.CustomObjectsApi, code: int, reason: str
) -> None:
    server.set_fault(code)
    with pytest.raises(client.ApiException) as err:
        custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert (err.value.status, status_of(err.value)["reason"]) == (code, reason)
    with pytest.raises(client.ApiException):
        client.VersionApi(custom.api_client).get_code()
    server.set_fault(None)
    assert custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"] == []


def test_unreachable_resets_connections_and_recovers(server: ApiServer, core: client.CoreV1Api) -> None:
    core.list_namespace()  # a pooled keep-alive connection now exists
    server.set_fault("unreachable")
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.list_namespace(_request_timeout=2)
    server.set_fault(None)
    assert core.list_namespace().items


def test_unreachable_ends_an_open_watch(server: ApiServer, custom: client.CustomObjectsApi) -> None:
    outcome: list[Any] = []

    def watch_forever() -> None:
        try:
            for _ in watch.Watch().stream(
                custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, timeout_seconds=30
            ):
                pass
            outcome.append("ended")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            outcome.append(type(exc).__name__)

    watcher = threading.Thread(target=watch_forever)
    watcher.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.set_fault("unreachable")
    watcher.join(timeout=5)
    assert not watcher.is_alive() and time.monotonic() - started < 5
    assert outcome  # ended or raised: either way the consumer noticed at once


def test_slow_delays_every_response(server: ApiServer, core: client.CoreV1Api) -> None:
    server.set_fault("slow", delay=0.6)
    started = time.monotonic()
    assert core.read_namespace("default").metadata.name == "default"
    assert time.monotonic() - started >= 0.6
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        client.CoreV1Api(core.api_client).read_namespace("default", _request_timeout=0.2)
    with pytest.raises(ValueError, match="positive delay"):
        server.set_fault("slow")
    with pytest.raises(ValueError, match="fault must be"):
        server.set_fault(200)


def test_write_counter_counts_mutating_requests_only(server: ApiServer, custom: client.CustomObjectsApi) -> None:
    custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert server.write_count == 0 and server.request_count == 1
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, dnsrecord("a"))
    with pytest.raises(client.ApiException):
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, dnsrecord("a"))
    assert server.write_count == 2
    assert [(r.method, r.code) for r in server.requests()] == [("GET", 200), ("POST", 201), ("POST", 409)]
    server.create_object(dnsrecord("direct"))  # the Python API bypasses HTTP and is not counted
    server.reset_counters()
    assert server.write_count == 0 and server.requests() == []
