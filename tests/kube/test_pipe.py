"""Pipelined calls (kuadns_sync.kube.pipe): every call gets exactly one outcome, in order per connection,
through the official client's configuration (TLS, token) against the emulator; and against a scripted
HTTP/1.1 server that closes connections, drops requests, answers chunked or with interim 100 answers, the
calls that were never answered are sent again, and a cluster that keeps failing is given up at once."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kuadns_sync.dev import start_apiserver
from kuadns_sync.jsoncodec import encode
from kuadns_sync.kube.clients import local_client
from kuadns_sync.kube.collect import describe_failure
from kuadns_sync.kube.pipe import Answer, Call, Pipeline, Withheld
from kuadns_sync.kube.rest import MERGE_PATCH, record_path
from tests.kube.kube_fleet import NS, dnsrecord, lb_endpoints

Outcomes = dict[int, list[Answer | BaseException]]


def collect(outcomes: Outcomes, lock: threading.Lock, index: int) -> Callable[[Call, Answer | BaseException], None]:
    def done(_call: Call, outcome: Answer | BaseException) -> None:
        with lock:
            outcomes.setdefault(index, []).append(outcome)

    return done


def run_calls(
    api: k8s.ApiClient, calls: list[tuple[str, str, Any]], connections: int = 2, depth: int = 8, timeout: float = 10.0
) -> Outcomes:
    """Send `calls` (method, path, body) through a Pipeline; every outcome by call index."""
    outcomes: Outcomes = {}
    lock = threading.Lock()
    pipeline = Pipeline(connections, depth)
    pipeline.open("c", api, timeout)
    for index, (method, path, body) in enumerate(calls):
        pipeline.submit("c", Call(method, path, body, MERGE_PATCH, collect(outcomes, lock, index)))
    pipeline.wait()
    return outcomes


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[Any, k8s.ApiClient]]:
    server = start_apiserver(cluster_name="pipe", kubeconfig_dir=tmp_path)
    try:
        for i in range(40):
            server.create_object(dnsrecord(f"r{i}", lb_endpoints("uid", f"10.0.0.{i}", "GEO-EU", 100, True)))
        api = local_client(server.kubeconfig_path, None)
        yield server, api
        api.close()  # type: ignore[no-untyped-call]
    finally:
        server.stop()


def status_body(i: int) -> dict[str, Any]:
    condition = {"type": "Ready", "status": "True", "reason": "ProviderSuccess", "message": f"call {i}",
                 "lastTransitionTime": "2026-11-26T00:00:00Z"}
    return {"status": {"observedGeneration": 1, "conditions": [condition]}}


def test_every_status_patch_is_answered_once_and_lands(emulator: tuple[Any, k8s.ApiClient]) -> None:
    server, api = emulator
    calls = [("PATCH", record_path(NS, f"r{i}", "status"), status_body(i)) for i in range(40)]
    calls.append(("PATCH", record_path(NS, "missing", "status"), status_body(0)))
    outcomes = run_calls(api, calls, connections=2, depth=8)
    assert sorted(outcomes) == list(range(41))
    assert all(len(v) == 1 for v in outcomes.values())
    for i in range(40):
        answer = outcomes[i][0]
        assert isinstance(answer, Answer) and answer.status == 200, answer
        assert answer.json()["status"]["conditions"][0]["message"] == f"call {i}"
        stored = server.get_object("dnsrecords", f"r{i}", NS)
        assert stored["status"]["conditions"][0]["message"] == f"call {i}"
    missing = outcomes[40][0]
    assert isinstance(missing, Answer) and missing.status == 404
    error = missing.error()
    assert isinstance(error, ApiException) and error.status == 404 and '"reason":"NotFound"' in (error.body or "")
    assert server.write_count == 41  # nothing was sent twice


def test_answers_keep_the_api_servers_errors(emulator: tuple[Any, k8s.ApiClient]) -> None:
    server, api = emulator
    server.set_fault(500)
    outcomes = run_calls(api, [("PATCH", record_path(NS, "r1", "status"), status_body(1))] * 3)
    for (answer,) in outcomes.values():
        assert isinstance(answer, Answer) and answer.status == 500
        assert describe_failure(answer.error(), 10.0).startswith("API error 500")


def test_credentials_come_from_the_configuration_and_its_refresh_hook(tmp_path: Path) -> None:
    with start_apiserver(cluster_name="pipe", kubeconfig_dir=tmp_path) as server:
        server.create_object(dnsrecord("r1", lb_endpoints("uid", "10.0.0.1", "GEO-EU", 100, True)))
        api = local_client(server.kubeconfig_path, None)
        good = api.configuration.api_key["BearerToken"]
        configuration = api.configuration
        configuration.refresh_api_key_hook = None
        configuration.api_key = {"BearerToken": "Bearer wrong"}
        calls = [("PATCH", record_path(NS, "r1", "status"), status_body(1))] * 5
        outcomes = run_calls(api, calls)
        assert [getattr(v[0], "status", None) for v in outcomes.values()] == [401] * 5
        refreshed: list[int] = []

        def refresh(config: k8s.Configuration) -> None:
            refreshed.append(1)
            config.api_key = {"BearerToken": good}

        configuration.refresh_api_key_hook = refresh
        outcomes = run_calls(api, calls)
        assert [getattr(v[0], "status", None) for v in outcomes.values()] == [200] * 5
        assert refreshed
        api.close()  # type: ignore[no-untyped-call]


def test_an_unreachable_cluster_fails_every_call_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    api = k8s.ApiClient(k8s.Configuration(host=f"http://127.0.0.1:{port}"))
    outcomes = run_calls(api, [("PATCH", "/x", {})] * 50, timeout=30.0)
    assert len(outcomes) == 50
    for (failure,) in outcomes.values():
        assert isinstance(failure, BaseException)
        assert describe_failure(failure, 30.0).startswith("unreachable")


class Scripted:
    """A raw HTTP/1.1 server on 127.0.0.1; `policy(connection, request_on_connection)` says per request:
    "ok", "close" (answer with Connection: close), "drop" (close without answering), "chunked",
    "continue" (a 100 interim answer first) or "eof" (a body delimited by the end of the connection)."""

    def __init__(self, policy: Callable[[int, int], str]) -> None:
        self.policy = policy
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[str] = []  # request bodies in arrival order
        self.lock = threading.Lock()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        reader = sock.makefile("rb")
        with sock, reader:
            for count in range(1, 10_000):
                line = reader.readline()
                if not line:
                    return
                length = 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = reader.read(length).decode()
                with self.lock:
                    self.seen.append(body)
                action = self.policy(number, count)
                if action == "drop":
                    return
                payload = ('{"echo":' + body + '}').encode()
                if action == "chunked":
                    half = len(payload) // 2
                    chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, payload[:half], len(payload) - half,
                                                                   payload[half:])
                    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
                    continue
                if action == "eof":
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + payload)
                    return
                interim = b"HTTP/1.1 100 Continue\r\n\r\n" if action == "continue" else b""
                close = b"Connection: close\r\n" if action == "close" else b""
                sock.sendall(interim + b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (close, len(payload),
                                                                                              payload))
                if action == "close":
                    return

    def api(self) -> k8s.ApiClient:
        return k8s.ApiClient(k8s.Configuration(host=f"http://127.0.0.1:{self.port}"))

    def stop(self) -> None:
        self.listener.close()


def echo_calls(count: int) -> list[tuple[str, str, Any]]:
    return [("PATCH", f"/c/{i}", {"n": i}) for i in range(count)]


def echoed(outcomes: Outcomes) -> dict[int, int]:
    result = {}
    for index, values in outcomes.items():
        assert len(values) == 1, values
        answer = values[0]
        assert isinstance(answer, Answer), answer
        result[index] = answer.json()["echo"]["n"]
    return result


@pytest.mark.parametrize("policy", [
    pytest.param(lambda _c, n: "close" if n % 3 == 0 else "ok", id="connection-close-every-third"),
    pytest.param(lambda c, n: "drop" if c <= 2 and n == 5 else "ok", id="dropped-mid-window"),
    pytest.param(lambda _c, n: "chunked" if n % 2 else "continue", id="chunked-and-100-continue"),
    pytest.param(lambda _c, n: "eof" if n == 4 else "ok", id="body-until-eof"),
])
def test_every_call_is_answered_once_whatever_the_connection_does(policy: Callable[[int, int], str]) -> None:
    server = Scripted(policy)
    try:
        outcomes = run_calls(server.api(), echo_calls(60), connections=2, depth=8)
        assert echoed(outcomes) == {i: i for i in range(60)}
        # Calls that were never answered went again, on a new connection.
        assert sorted(set(server.seen)) == sorted({f'{{"n":{i}}}' for i in range(60)})
    finally:
        server.stop()


def test_a_cluster_that_fails_a_call_twice_is_given_up() -> None:
    server = Scripted(lambda _c, _n: "drop")
    try:
        outcomes = run_calls(server.api(), echo_calls(200), connections=1, depth=4)
        assert len(outcomes) == 200
        for (failure,) in outcomes.values():
            assert isinstance(failure, BaseException)
            assert describe_failure(failure, 10.0).startswith("unreachable")
        # The first window went out twice; everything queued after it failed without being sent.
        assert len(server.seen) <= 8
    finally:
        server.stop()


def test_a_callback_bug_is_raised_by_wait_after_every_call_finished() -> None:
    server = Scripted(lambda _c, _n: "ok")
    finished: list[int] = []
    try:
        pipeline = Pipeline(2, 4)
        pipeline.open("c", server.api(), 10.0)

        def done(call: Call, _outcome: Answer | BaseException) -> None:
            finished.append(call.body["n"])
            if call.body["n"] == 3:
                raise RuntimeError("bug in a callback")

        for i in range(20):
            pipeline.submit("c", Call("PATCH", f"/c/{i}", {"n": i}, MERGE_PATCH, done))
        with pytest.raises(RuntimeError, match="bug in a callback"):
            pipeline.wait()
        assert sorted(finished) == list(range(20))
    finally:
        server.stop()


def test_follow_up_calls_and_side_work_are_waited_for() -> None:
    server = Scripted(lambda _c, _n: "ok")
    order: list[str] = []
    lock = threading.Lock()
    try:
        pipeline = Pipeline(1, 4)
        pipeline.open("c", server.api(), 10.0)

        def second(_call: Call, outcome: Answer | BaseException) -> None:
            assert isinstance(outcome, Answer)
            with lock:
                order.append(f"second {outcome.json()['echo']['n']}")

        def first(call: Call, _outcome: Answer | BaseException) -> None:
            with lock:
                order.append(f"first {call.body['n']}")
            n = call.body["n"]
            pipeline.submit("c", Call("PATCH", "/c", {"n": n + 100}, MERGE_PATCH, second))
            pipeline.aside(lambda: order.append(f"aside {n}"))

        for i in range(5):
            pipeline.submit("c", Call("PATCH", "/c", {"n": i}, MERGE_PATCH, first))
        pipeline.wait()
        assert sorted(order) == sorted([f"first {i}" for i in range(5)] + [f"second {i + 100}" for i in range(5)]
                                       + [f"aside {i}" for i in range(5)])
        for i in range(5):
            assert order.index(f"first {i}") < order.index(f"second {i + 100}")
    finally:
        server.stop()


def test_the_gate_is_asked_before_each_request_and_stays_closed() -> None:
    server = Scripted(lambda _c, _n: "ok")
    asked: list[int] = []

    def gate() -> bool:
        asked.append(1)
        return len(asked) <= 7

    outcomes: Outcomes = {}
    lock = threading.Lock()
    try:
        pipeline = Pipeline(2, 4, gate=gate)
        pipeline.open("c", server.api(), 10.0)
        for i in range(30):
            pipeline.submit("c", Call("PATCH", f"/c/{i}", {"n": i}, MERGE_PATCH, collect(outcomes, lock, i)))
        pipeline.wait()
        answered = [i for i, (o,) in outcomes.items() if isinstance(o, Answer)]
        withheld = [i for i, (o,) in outcomes.items() if isinstance(o, Withheld)]
        assert len(answered) == 7 and len(withheld) == 23
        assert len(server.seen) == 7
        assert len(asked) == 8  # closed once: never asked again
    finally:
        server.stop()


def test_bodies_read_and_written_as_the_json_module_does() -> None:
    big = 123456789012345678901234567890  # beyond 64 bits: orjson refuses it, json.loads decides
    text = b'{"n": %d, "s": "caf\\u00e9", "f": 1.5, "l": [true, null]}' % big
    assert Answer(200, "OK", {}, text).json() == json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        Answer(200, "OK", {}, b"{not json").json()
    for body in ({"a": [1, "x", None]}, {1: "non-string key"}, {"big": big}, {"s": "café"}):
        assert json.loads(encode(body)) == json.loads(json.dumps(body))
