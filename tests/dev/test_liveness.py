"""Concurrency and shutdown: a watcher that stops reading never blocks writers; stop() ends open watches and
pending slow requests and frees the port; an injected clock stamps the objects."""

from __future__ import annotations

import http.client
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, watch

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord
from kuadns_sync.dev import ApiServer, start_apiserver


def _raw_watch(server: ApiServer) -> http.client.HTTPSConnection:
    """Open a watch over TLS and never read from it."""
    assert server.ca_pem is not None
    with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as ca:
        ca.write(server.ca_pem)
    context = ssl.create_default_context(cafile=ca.name)
    conn = http.client.HTTPSConnection(server.host, server.port, context=context)
    conn.request(
        "GET",
        f"/apis/{GROUP}/{VERSION}/{PLURAL}?watch=true&resourceVersion=0",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return conn


def test_a_watcher_that_stops_reading_does_not_block_writers(server: ApiServer) -> None:
    stalled = _raw_watch(server)
    big = dnsrecord("x")
    big["metadata"]["annotations"] = {"padding": "p" * 20_000}  # fills the socket buffers within a few events
    done = threading.Event()

    def write_many() -> None:
        for i in range(300):
            server.create_object({**big, "metadata": {**big["metadata"], "name": f"r{i}"}})
        done.set()

    writer = threading.Thread(target=write_many, daemon=True)
    writer.start()
    assert done.wait(30), "writes stalled behind a watcher that does not read"
    assert len(server.objects("dnsrecords")) == 300
    stalled.close()


def test_stop_ends_open_watches_and_pending_slow_requests(tmp_path: Path) -> None:
    srv = start_apiserver(kubeconfig_dir=tmp_path)
    from kubernetes import config

    api = config.new_client_from_config(str(srv.kubeconfig_path))
    custom = client.CustomObjectsApi(api)
    outcomes: list[Any] = []

    def watch_long() -> None:
        try:
            outcomes.extend(
                e["type"]
                for e in watch.Watch().stream(
                    custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, timeout_seconds=60
                )
            )
            outcomes.append("closed")
        except Exception as exc:  # the stream may end cleanly or with a connection error
            outcomes.append(type(exc).__name__)

    watcher = threading.Thread(target=watch_long, daemon=True)
    watcher.start()
    time.sleep(0.3)
    srv.set_fault("slow", delay=30)
    slow = threading.Thread(target=lambda: outcomes.append(_try(custom)), daemon=True)
    slow.start()
    time.sleep(0.2)
    started = time.monotonic()
    srv.stop()
    watcher.join(10)
    slow.join(10)
    assert not watcher.is_alive() and not slow.is_alive() and time.monotonic() - started < 10
    with socket.socket() as probe:  # the port is free again
        probe.bind((srv.host, srv.port))
    api.close()


def _try(custom: client.CustomObjectsApi) -> str:
    try:
        custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, _request_timeout=20)
        return "answered"
    except Exception as exc:  # connection closed by the stopping server
        return type(exc).__name__


def test_an_injected_clock_stamps_creation_and_deletion(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    with start_apiserver(kubeconfig_dir=tmp_path, clock=lambda: now[0]) as srv:
        body = dnsrecord("a")
        body["metadata"]["finalizers"] = ["kuadrant.io/dns-record"]
        created = srv.create_object(body)
        assert created["metadata"]["creationTimestamp"] == "2027-01-15T08:00:00Z"
        now[0] += 90
        srv.delete_object("dnsrecords", "a")
        marked = srv.get_object("dnsrecords", "a")
        assert marked is not None and marked["metadata"]["deletionTimestamp"] == "2027-01-15T08:01:30Z"
