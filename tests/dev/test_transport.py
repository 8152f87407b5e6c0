"""The emulator's own HTTP/1.1 request parsing and response heads, spoken to with raw sockets over TLS:
malformed request lines and header blocks get the stdlib server's status codes, header fields are
case-insensitive (repeats joined), keep-alive follows the protocol version, Expect: 100-continue works,
and every answer carries a fresh UUID-shaped Audit-Id and a Date."""

from __future__ import annotations

import json
import re
import socket
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord
from kuadns_sync.dev import ApiServer

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@contextmanager
def _tls(server: ApiServer) -> Iterator[ssl.SSLSocket]:
    assert server.ca_pem is not None
    with tempfile.NamedTemporaryFile("wb", suffix=".crt") as ca:
        ca.write(server.ca_pem)
        ca.flush()
        context = ssl.create_default_context(cafile=ca.name)
    raw = socket.create_connection((server.host, server.port), timeout=5)
    with context.wrap_socket(raw, server_hostname=server.host) as sock:
        yield sock


def _read_response(sock: ssl.SSLSocket) -> tuple[str, dict[str, str], bytes]:
    """One response: status line, header fields (lower-case names), body (Content-Length framed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    length = int(fields.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, fields, body


def _closed(sock: ssl.SSLSocket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ssl.SSLError, OSError):
        return True


def test_malformed_request_lines_and_header_blocks_get_4xx_5xx_statuses(server: ApiServer) -> None:
    cases = [
        (b"GET /version\r\n\r\n", "400"),  # no version: HTTP/0.9 is not served
        (b"GET /version HTTP/x.y\r\n\r\n", "400"),
        (b"GET /version HTTP/2.0\r\n\r\n", "505"),
        (b"GET /version HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", "431"),
        (b"GET /version HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", "431"),
    ]
    for request, code in cases:
        with _tls(server) as sock:
            sock.sendall(request)
            status, _, _ = _read_response(sock)
            assert status.split()[1] == code, (request[:40], status)


def test_header_names_are_case_insensitive_and_repeated_fields_are_joined(server: ApiServer) -> None:
    with _tls(server) as sock:
        # Accept is repeated: joined, the Table request is still recognised.
        sock.sendall(
            f"GET /apis/{GROUP}/{VERSION}/{PLURAL} HTTP/1.1\r\nHost: x\r\nauthorization: Bearer {server.token}\r\n"
            "ACCEPT: application/json\r\naccept: application/json;as=Table;v=v1;g=meta.k8s.io\r\n\r\n".encode()
        )
        status, fields, body = _read_response(sock)
    assert status.startswith("HTTP/1.1 200")
    assert b'"kind":"Table"' in body
    assert fields["content-type"] == "application/json"


def test_http_1_1_keeps_the_connection_and_1_0_or_close_ends_it(server: ApiServer) -> None:
    auth = f"Authorization: Bearer {server.token}\r\n"
    with _tls(server) as sock:
        for _ in range(3):
            sock.sendall(f"GET /version HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
            status, fields, _ = _read_response(sock)
            assert status.startswith("HTTP/1.1 200")
        sock.sendall(f"GET /version HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n".encode())
        _read_response(sock)
        assert _closed(sock)
    with _tls(server) as sock:
        sock.sendall(f"GET /version HTTP/1.0\r\n{auth}\r\n".encode())
        status, _, _ = _read_response(sock)
        assert status.split()[1] == "200"
        assert _closed(sock)


def test_expect_100_continue_gets_an_interim_answer_before_the_body(server: ApiServer) -> None:
    body = (
        b'{"apiVersion":"kuadrant.io/v1alpha1","kind":"DNSRecord","metadata":{"name":"e100"},"spec":'
        b'{"rootHost":"api.k.example.com","endpoints":[]}}'
    )
    with _tls(server) as sock:
        sock.sendall(
            f"POST /apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        status, _, created = _read_response(sock)
    assert status.split()[1] == "201", created
    assert server.get_object("dnsrecords", "e100") is not None


def test_every_answer_has_a_fresh_uuid_audit_id_and_a_date(server: ApiServer) -> None:
    server.create_object(dnsrecord("a"))
    seen = set()
    with _tls(server) as sock:
        for path in ("/version", f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/a", "/nope"):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n\r\n".encode())
            _, fields, _ = _read_response(sock)
            assert UUID.match(fields["audit-id"]), fields["audit-id"]
            assert re.match(r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", fields["date"])
            seen.add(fields["audit-id"])
    assert len(seen) == 3


def _request(server: ApiServer, method: str, path: str, body: bytes = b"", ctype: str = "application/json") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
    if body:
        head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _read_responses(sock: ssl.SSLSocket, count: int) -> list[tuple[str, bytes]]:
    """`count` Content-Length framed responses read off one stream, in order (whatever the reads return)."""
    data = b""
    out = []
    while len(out) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            status, *lines = data[:end].decode("latin-1").split("\r\n")
            length = next(int(v) for n, _, v in (ln.partition(":") for ln in lines) if n.lower() == "content-length")
            if len(data) >= end + 4 + length:
                out.append((status, data[end + 4 : end + 4 + length]))
                data = data[end + 4 + length :]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(out)} responses"
        data += chunk
    assert data == b"", "more bytes than the responses"
    return out


_COLLECTION = f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}"
_STATUS = json.dumps({"status": {"observedGeneration": 1, "ownerID": "abcdef"}}).encode()


def test_pipelined_requests_in_one_write_get_their_answers_in_order(server: ApiServer) -> None:
    server.create_object(dnsrecord("first"))
    created = json.dumps(dnsrecord("second")).encode()
    with _tls(server) as sock:
        sock.sendall(
            _request(server, "GET", f"{_COLLECTION}/first")
            + _request(server, "POST", _COLLECTION, created)
            + _request(server, "PATCH", f"{_COLLECTION}/second/status", _STATUS, "application/merge-patch+json")
        )
        answers = _read_responses(sock, 3)
    assert [status.split()[1] for status, _ in answers] == ["200", "201", "200"]
    bodies = [json.loads(body) for _, body in answers]
    assert bodies[0]["metadata"]["name"] == "first"
    assert bodies[1]["metadata"]["name"] == "second" and "status" not in bodies[1]
    assert bodies[2]["status"]["ownerID"] == "abcdef"
    assert int(bodies[2]["metadata"]["resourceVersion"]) > int(bodies[1]["metadata"]["resourceVersion"])
    assert [r.code for r in server.requests()[-3:]] == [200, 201, 200]


def test_pipelined_requests_arriving_byte_by_byte_and_in_odd_pieces_are_served_the_same(server: ApiServer) -> None:
    stream = b"".join(
        _request(server, "POST", _COLLECTION, json.dumps(dnsrecord(f"r{i}")).encode()) for i in range(3)
    ) + _request(server, "GET", "/nope") + _request(server, "GET", _COLLECTION, b"", "")
    for pieces in ([stream[i : i + 1] for i in range(400)] + [stream[400:]], [stream[:7], stream[7:-5], stream[-5:]]):
        with _tls(server) as sock:
            for piece in pieces:
                sock.sendall(piece)
            answers = _read_responses(sock, 5)
        codes = [status.split()[1] for status, _ in answers]
        assert codes[3:] == ["404", "200"]
        assert len(json.loads(answers[4][1])["items"]) == 3
        for name in ("r0", "r1", "r2"):
            server.delete_object("dnsrecords", name)
    assert codes[:3] == ["201", "201", "201"]


def test_an_answer_is_sent_before_the_server_waits_for_the_rest_of_the_next_request(server: ApiServer) -> None:
    # The next request's head and half its body are already there: the server must not hold the first
    # answer back while it waits for the rest (the client reads that answer before sending more).
    body = json.dumps(dnsrecord("late")).encode()
    second = _request(server, "POST", _COLLECTION, body)
    with _tls(server) as sock:
        sock.sendall(_request(server, "GET", "/version") + second[: len(second) - 20])
        sock.settimeout(5)
        [(status, version)] = _read_responses(sock, 1)
        assert status.split()[1] == "200" and b"gitVersion" in version
        sock.sendall(second[-20:])
        [(status, _)] = _read_responses(sock, 1)
    assert status.split()[1] == "201"


def test_a_large_pipelined_body_spanning_many_reads_is_read_exactly(server: ApiServer) -> None:
    endpoints = [
        {"dnsName": f"h{i}.k.example.com", "recordType": "A", "targets": [f"192.0.2.{i % 250}"], "recordTTL": 60}
        for i in range(3000)
    ]
    big = json.dumps(dnsrecord("big", endpoints=endpoints)).encode()
    assert len(big) > 200_000
    with _tls(server) as sock:
        sock.sendall(_request(server, "POST", _COLLECTION, big) + _request(server, "GET", f"{_COLLECTION}/big"))
        answers = _read_responses(sock, 2)
    assert [status.split()[1] for status, _ in answers] == ["201", "200"]
    assert len(json.loads(answers[1][1])["spec"]["endpoints"]) == 3000


def test_a_chunked_request_body_is_read_and_the_next_pipelined_request_follows(server: ApiServer) -> None:
    body = json.dumps(dnsrecord("chunky")).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    head = (
        f"POST {_COLLECTION} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with _tls(server) as sock:
        sock.sendall(head + chunked + _request(server, "GET", f"{_COLLECTION}/chunky"))
        answers = _read_responses(sock, 2)
    assert [status.split()[1] for status, _ in answers] == ["201", "200"]
    assert json.loads(answers[1][1])["metadata"]["name"] == "chunky"
