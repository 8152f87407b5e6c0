"""HTTP/1.1 transport of the emulator: a threaded server (keep-alive, chunked watch streams), bearer-token auth,
fault injection (unreachable, slow, fixed status codes), request accounting, and a shutdown that closes every
open connection so tests can start and stop many servers.

I/O: sockets and threads. Routing lives in `kuadns_sync.dev.api`, the byte stream of a connection (buffered reads,
answers to pipelined requests sent together) in `kuadns_sync.bytestream`. The request head is parsed here, in
one split when it is buffered whole (not with the stdlib's email parser), and each response is one write.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import itertools
import logging
import os
import secrets
import select
import socket
import ssl
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from kuadns_sync.bytestream import Connection
from kuadns_sync.dev import status as errors
from kuadns_sync.dev.api import Api, Request, Response, Stream, error_response

log = logging.getLogger(__name__)

FaultMode = Literal["unreachable", "slow"] | int | None
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_LINE = 65536  # bytes of the request line and of each header line (as http.server)
MAX_HEADERS = 100
FAST_HEAD = 8192  # a head shorter than this that is buffered whole is split at once (no line can be too long)
SERVED_METHODS = frozenset({"GET", "HEAD", *WRITE_METHODS})
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the emulator saw it (after auth and faults)."""

    method: str
    path: str
    query: str
    code: int


def fault_error(code: int, method: str, path: str) -> errors.ApiError:
    """The Status an injected status-code fault answers with."""
    if code == 401:
        return errors.unauthorized()
    if code == 403:
        return errors.forbidden(f'forbidden: User "kuadns-dev" cannot {method.lower()} path "{path}" (injected fault)')
    if code == 500:
        return errors.internal("injected fault")
    reason = _REASONS.get(code, "InternalError" if code >= 500 else "BadRequest")
    return errors.ApiError(code, reason, f"injected fault: {reason}", {})


class Transport:
    """State shared by the handler threads of one server: token, fault, counters, open connections."""

    def __init__(self, api: Api, token: str) -> None:
        self.api = api
        self.token = token
        self.fault: FaultMode = None
        self.delay = 0.0
        self.stopping = api.stopping
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._records: deque[tuple[str, str, str, int]] = deque(maxlen=100_000)
        self.write_count = 0
        self.request_count = 0

    def track(self, sock: socket.socket) -> None:
        """Remember an accepted connection."""
        with self._lock:
            self._connections.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        """Forget a closed connection."""
        with self._lock:
            self._connections.discard(sock)

    def drop_connections(self) -> None:
        """Reset every open connection (watches end, pooled keep-alive connections die)."""
        with self._lock:
            conns = list(self._connections)
        for sock in conns:
            _reset(sock)

    def record(self, method: str, path: str, query: str, code: int, authorized: bool = True) -> None:
        """Count a request that got past faults; writes count only when authenticated."""
        with self._lock:
            self._records.append((method, path, query, code))
            self.request_count += 1
            if authorized and method in WRITE_METHODS:
                self.write_count += 1

    def records(self) -> list[RequestRecord]:
        """The recorded requests, oldest first (the last 100,000)."""
        with self._lock:
            return [RequestRecord(*r) for r in self._records]

    def reset_counters(self) -> None:
        """Zero the counters and forget recorded requests."""
        with self._lock:
            self._records.clear()
            self.write_count = 0
            self.request_count = 0


def _reset(sock: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send RST: the client sees "connection reset" at once.
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _AuditIds:
    """Audit-Id values: UUID-shaped, unique per server, without a getrandom() system call per request."""

    def __init__(self) -> None:
        prefix = secrets.token_hex(10)
        self._prefix = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-{'89ab'[int(prefix[16], 16) % 4]}{prefix[17:20]}-"
        self._counter = itertools.count(int.from_bytes(secrets.token_bytes(4), "big"))

    def next(self) -> str:
        """The next id (itertools.count is atomic under the GIL)."""
        return f"{self._prefix}{next(self._counter) % 16**12:012x}"


class _HttpDate:
    """The Date header value (RFC 9110 §5.6.7 IMF-fixdate), formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        """The current date in IMF-fixdate."""
        second = int(time.time())
        if second != self._second:
            self._text, self._second = formatdate(second, usegmt=True), second
        return self._text


def _peer_closed(sock: socket.socket) -> bool:
    """True when the client closed its end (readable with nothing to read) or the socket broke."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        # Peek at the TCP stream under any TLS layer: an orderly close reads as b"".
        with socket.socket(fileno=os.dup(sock.fileno())) as raw:
            return raw.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class Server(ThreadingHTTPServer):
    """Threaded HTTP server that tracks connections and refuses them while the cluster is 'unreachable'."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], transport: Transport, tls: ssl.SSLContext | None = None) -> None:
        self.transport = transport
        self.tls = tls
        super().__init__(address, Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            # The TLS handshake runs in the connection's own thread, never in the accept loop.
            self.transport.untrack(request)
            try:
                request.settimeout(Handler.timeout)
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                log.debug("TLS handshake with %s failed", client_address, exc_info=True)
                return
            self.transport.track(request)
            try:
                super().finish_request(request, client_address)
            finally:
                self.transport.untrack(request)
                with contextlib.suppress(OSError):
                    request.close()
            return
        super().finish_request(request, client_address)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.transport.fault == "unreachable":
            _reset(request)
            return False
        return True

    def process_request(self, request: Any, client_address: Any) -> None:
        self.transport.track(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.transport.untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client disconnects mid-response are normal (watch consumers stop); anything else is logged.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


_STATUS_LINES: dict[int, str] = {}
_DEBUG_ENABLED = functools.partial(log.isEnabledFor, logging.DEBUG)


def _status_line(code: int) -> str:
    reason = BaseHTTPRequestHandler.responses[code][0] if code in BaseHTTPRequestHandler.responses else ""
    line = _STATUS_LINES[code] = f"HTTP/1.1 {code} {reason}\r\n"
    return line


class Handler(BaseHTTPRequestHandler):
    """One connection; serves requests until the client or the server closes it (pipelined requests too)."""

    protocol_version = "HTTP/1.1"
    server_version = "kuadns-dev-apiserver"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server: Server
    audit_ids = _AuditIds()
    http_date = _HttpDate()
    # Request header fields by lower-case name (repeated fields joined with ", ", RFC 9110 §5.3).
    fields: dict[str, str]
    conn: Connection

    def setup(self) -> None:
        self.connection = self.request
        self.connection.settimeout(self.timeout)
        # Watch streams send their head and chunks in separate writes; without TCP_NODELAY, Nagle plus the
        # client's delayed ACK stall those by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.conn = Connection(self.connection)
        # The stdlib's error and interim answers (send_error, 100 Continue) write to wfile.
        self.wfile = self.conn  # type: ignore[assignment]

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.flush()
        self.conn.close()

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s " + format, self.address_string(), *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if log.isEnabledFor(logging.DEBUG):
            super().log_request(code, size)

    def handle_one_request(self) -> None:
        """Read one request head, parse it and serve the request (the stdlib's loop calls this per request).

        A head that is already buffered whole is split at once; anything else (a head arriving in pieces,
        bare LF line ends, oversized lines) is read line by line with the stdlib's limits and answers.
        """
        conn = self.conn
        try:
            if not conn.buffered() and not conn.fill():
                self.close_connection = True
                return
            head = conn.take_head(FAST_HEAD)
            if head is not None:
                line, *lines = head.decode("iso-8859-1").split("\r\n")
                if not self.parse_request_line(line.rstrip("\r\n")) or not self._parse_fields(lines):
                    return
            else:
                raw = conn.readline(MAX_LINE + 1)
                if len(raw) > MAX_LINE:
                    self.requestline = self.request_version = self.command = ""
                    self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                    return
                if not raw:
                    self.close_connection = True
                    return
                if not self.parse_request_line(raw.decode("iso-8859-1").rstrip("\r\n")) or not self._read_fields():
                    return
            if not self._after_fields():
                return
            if self.command not in SERVED_METHODS:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
                return
            self._serve()
        except TimeoutError as exc:  # a read or a write timed out: discard the connection
            self.log_error("Request timed out: %r", exc)
            self.close_connection = True

    def parse_request_line(self, line: str) -> bool:
        """Parse a request line (HTTP/1.0 and 1.1 only). On failure an error response has been sent.

        Replaces the stdlib parser, which builds an email.message.Message per request (a third of the
        emulator's CPU for a status patch).
        """
        self.command = None  # type: ignore[assignment]  # as the stdlib: no command until the line parses
        # Errors before the version is known are answered with a status line (HTTP/0.9 has none).
        self.request_version = "HTTP/1.0"
        self.close_connection = True
        self.fields = {}
        self.requestline = line
        words = line.split()
        if not words:
            return False
        if len(words) != 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({line!r})")
            return False
        method, target, version = words
        major, dot, minor = version.removeprefix("HTTP/").partition(".")
        if not (version.startswith("HTTP/") and dot and major.isdigit() and minor.isdigit()
                and len(major) <= 10 and len(minor) <= 10):
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
            return False
        if int(major) >= 2:
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({major}.{minor})")
            return False
        self.request_version = version
        self.close_connection = (int(major), int(minor)) < (1, 1)  # HTTP/1.1 connections persist by default
        self.command = method
        # A target starting with "//" would read as scheme-relative (host "//evil"): one slash.
        self.path = "/" + target.lstrip("/") if target.startswith("//") else target
        return True

    def _after_fields(self) -> bool:
        connection = self.fields.get("connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        expect = self.fields.get("expect", "").lower()
        if expect == "100-continue" and self.request_version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def _parse_fields(self, lines: list[str]) -> bool:
        """Header fields from the lines of a whole head (no line ends)."""
        if len(lines) > MAX_HEADERS:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
            return False
        fields = self.fields
        last = ""
        for text in lines:
            if text[:1] in (" ", "\t") and last:
                # Obsolete line folding (RFC 9112 §5.2): continues the last field.
                fields[last] += " " + text.strip()
                continue
            name, colon, value = text.partition(":")
            if not colon:
                continue  # not a field line; ignored
            last = name.strip().lower()
            value = value.strip()
            fields[last] = f"{fields[last]}, {value}" if last in fields else value
        return True

    def _read_fields(self) -> bool:
        """Header fields read line by line (a head that is not buffered whole)."""
        lines: list[str] = []
        for _ in range(MAX_HEADERS + 1):
            raw = self.conn.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
                return False
            if raw in (b"\r\n", b"\n", b""):
                return self._parse_fields(lines)
            lines.append(raw.decode("iso-8859-1"))
        self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
        return False

    def _read_body(self) -> bytes:
        if self.fields.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.conn.readline(MAX_LINE + 1).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.conn.readline(MAX_LINE + 1)
                    break
                chunks.append(self.conn.read(size))
                self.conn.readline(MAX_LINE + 1)
            return b"".join(chunks)
        length = int(self.fields.get("content-length") or 0)
        return self.conn.read(length) if length else b""

    def _serve(self) -> None:
        transport = self.server.transport
        if transport.fault == "unreachable" or transport.stopping.is_set():
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.conn.flush()  # answers to earlier pipelined requests were complete: they leave first
            _reset(self.connection)
            return
        body = self._read_body()
        if transport.fault == "slow" and transport.delay > 0:
            self.conn.flush()  # only this answer is delayed, not those queued before it
            if transport.stopping.wait(transport.delay):
                self.close_connection = True  # the server is stopping
                return
        path, _, query = self.path.partition("?")
        if isinstance(transport.fault, int):
            self._send(error_response(fault_error(transport.fault, self.command, path)))
            return
        auth = self.fields.get("authorization", "")
        if not (auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip(), transport.token)):
            # Record before answering: a client that has its 401 must find it in the counters.
            transport.record(self.command, path, query, 401, authorized=False)
            self._send(error_response(errors.unauthorized()))
            return
        request = Request(self.command, path, Request.parse_query(query) if query else {}, self.fields, body)
        try:
            result = transport.api.handle(request)
        except Exception as exc:  # the one place that must stay up: a bug answers 500, the server lives on
            log.exception("internal error serving %s %s", self.command, self.path)
            result = error_response(errors.internal(f"{type(exc).__name__}: {exc}"))
        transport.record(self.command, path, query, result.code)
        if isinstance(result, Stream):
            self._stream(result)
        else:
            self._send(result)

    def _head(self, code: int, content_type: str, extra: str) -> bytes:
        # Status line and fields as kube-apiserver sends them; `extra` holds complete field lines.
        if _DEBUG_ENABLED():
            self.log_request(code)
        status = _STATUS_LINES.get(code) or _status_line(code)
        return (
            f"{status}Content-Type: {content_type}\r\n"
            f"Cache-Control: no-cache, private\r\nAudit-Id: {self.audit_ids.next()}\r\n"
            f"Date: {self.http_date.now()}\r\n{extra}\r\n"
        ).encode("latin-1", "replace")

    def send_response(self, code: int, message: str | None = None) -> None:
        # BaseHTTPRequestHandler adds Server/Date itself; keep only the status line (send_error's path).
        self.log_request(code)
        self.send_response_only(code, message)

    def _send(self, response: Response) -> None:
        length = f"Content-Length: {len(response.body)}\r\n"
        if response.warnings:
            length = "".join('Warning: 299 - "' + w.replace('"', '\\"') + '"\r\n' for w in response.warnings) + length
        head = self._head(response.code, response.content_type, length)
        # One write per response: a separate write for the body costs a system call and a TLS record.
        self.conn.write(head if self.command == "HEAD" else head + response.body)

    def _stream(self, stream: Stream) -> None:
        self.conn.write(self._head(stream.code, stream.content_type, "Transfer-Encoding: chunked\r\n"))
        try:
            for chunk in stream.chunks:
                if not chunk:
                    if _peer_closed(self.connection):
                        break
                    continue
                self.conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.conn.flush()
            self.conn.write(b"0\r\n\r\n")
            self.conn.flush()
        except OSError:
            self.close_connection = True
