"""Pipelined HTTP/1.1 calls to API servers: several requests in flight on each keep-alive connection.

I/O (sockets, threads). A sync pass writes thousands of small objects (statuses, authoritative records);
sent one at a time, each costs a round trip and most of a millisecond of client CPU in urllib3 and
http.client. Here each cluster gets a few connections, each sending a window of requests in one write and
reading the answers in order (RFC 9112 §9.3.2). Connections are opened by the official client's own
urllib3 pool, so TLS, CA, client certificates, hostname checks, proxy tunnels and socket options are the
client's configuration; credentials come from that configuration for every window (its refresh hooks
run). Calls that were in flight when a connection broke are sent again on a new one (every call kuadns
sends is safe to repeat: a repeated create answers 409, a repeated update or delete carries its
resourceVersion). A call that breaks its connection twice fails alone; two connections in a row that
fail without answering anything give the cluster up for the rest of the pipeline: every call still
queued for it fails at once with that cause instead of waiting out a timeout each.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kuadns_sync import jsoncodec
from kuadns_sync.bytestream import RECV_SIZE, Connection
from kuadns_sync.kube.rest import AUTH_SETTINGS, JSON, request_timeout

# Connections per cluster, and requests in flight on each. Against a real API server each connection is
# served one request at a time (Go's net/http), so a few connections give it parallelism while the
# window hides the round trip. Measured with bench/sync_bench.py (bench/README.md).
CONNECTIONS = 2
DEPTH = 32
# Bytes of requests in flight per connection: far below any socket send buffer, so a send never waits on
# a server that is itself waiting for us to read its answers.
WINDOW_BYTES = 64 * 1024
MAX_ATTEMPTS = 2
MAX_LINE = 65536
MAX_HEAD = 1024 * 1024  # bytes of one answer's status line and header fields


class Withheld(Exception):
    """The outcome of a call that was not sent because the pipeline's gate closed (the Lease was lost)."""


class ProtocolError(urllib3.exceptions.ProtocolError):
    """The server's answer is not HTTP/1.1 as expected (or the connection closed mid-answer)."""


@dataclass(slots=True)
class Answer:
    """One HTTP answer: status, reason, header fields (lower-case names) and the body."""

    status: int
    reason: str
    headers: dict[str, str]
    data: bytes

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status <= 299

    def json(self) -> Any:
        """The parsed JSON body, as json.loads parses it (ValueError when it is not JSON)."""
        return jsoncodec.decode(self.data)

    def error(self) -> ApiException:
        """The exception the client's generated methods raise for this (non-2xx) answer."""
        try:
            raise ApiException.from_response(http_resp=self, body=None, data=None)
        except ApiException as exc:
            return exc


Done = Callable[["Call", "Answer | BaseException"], None]


@dataclass(slots=True, eq=False)
class Call:
    """One request to send; `done` is called with its Answer, or the exception that ended it."""

    method: str
    path: str
    body: Any
    content_type: str
    done: Done
    attempts: int = 0
    payload: bytes = field(default=b"", repr=False)


def _answer_head(stream: Connection) -> bytes:
    """The next answer's status line and header fields (without the blank line that ends them)."""
    while (head := stream.take_head(MAX_HEAD)) is None:
        if stream.buffered() > MAX_HEAD:
            raise ProtocolError("answer head too long, or not ended by CRLF CRLF")
        if not stream.fill():
            raise ProtocolError("connection closed by the API server")
    return head


def _exactly(stream: Connection, count: int) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise ProtocolError("connection closed by the API server mid-answer")
    return data


def _line(stream: Connection) -> bytes:
    line = stream.readline(MAX_LINE)
    if not line.endswith(b"\n"):
        raise ProtocolError("connection closed by the API server mid-answer, or a line too long")
    return line.rstrip(b"\r\n")


def _read_answer(stream: Connection) -> tuple[Answer, bool]:
    """Read one answer; (answer, whether the server closes the connection after it)."""
    while True:
        lines = _answer_head(stream).decode("iso-8859-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                key = name.strip().lower()
                value = value.strip()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        status = int(code)
        if 100 <= status <= 199:
            continue  # interim answer (RFC 9110 §15.2); the final one follows
        closes = "close" in headers.get("connection", "").lower() or version == "HTTP/1.0"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            data = _read_chunked(stream)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            data = _exactly(stream, length) if length else b""
        elif status in (204, 304):
            data = b""
        else:  # delimited by the end of the connection (RFC 9112 §6.3)
            parts = []
            while chunk := stream.read(RECV_SIZE):
                parts.append(chunk)
            data, closes = b"".join(parts), True
        return Answer(status, reason, headers, data), closes


def _read_chunked(stream: Connection) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int(_line(stream).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while _line(stream):
                pass  # trailer fields, up to the empty line
            return b"".join(parts)
        parts.append(_exactly(stream, size))
        _line(stream)


@dataclass(slots=True)
class _Lane:
    """What one connection thread holds: calls awaiting answers, calls to send again, its stop mark."""

    inflight: deque[Call] = field(default_factory=deque)
    backlog: deque[Call] = field(default_factory=deque)
    stopping: bool = False


class _Link:
    """One socket opened by the client's pool, and the stream its answers are read from."""

    def __init__(self, pool: Any, read_timeout: float) -> None:
        conn = pool._new_conn()  # the pool's own factory: its TLS and socket settings
        if pool.proxy is not None and pool.scheme == "https":
            pool._prepare_proxy(conn)  # CONNECT tunnel through the proxy, then TLS inside it
        else:
            conn.connect()
        self.sock: socket.socket = conn.sock
        self.sock.settimeout(read_timeout)
        # Room for a whole window of requests: a send never waits for the server to read.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2 * WINDOW_BYTES)
        self.stream = Connection(self.sock)

    def close(self) -> None:
        """Close the socket (no half-read answer is ever reused)."""
        with contextlib.suppress(OSError):
            self.sock.close()


class _Cluster:
    """The queue of one cluster's calls and the threads that send them."""

    def __init__(self, name: str, api: k8s.ApiClient, timeout: float, group: Pipeline) -> None:
        self.name = name
        self.api = api
        self.group = group
        self.read_timeout = request_timeout(timeout)[1]
        manager = api.rest_client.pool_manager
        self.pool: Any = manager.connection_from_url(api.configuration.host)
        url = urllib3.util.parse_url(api.configuration.host)
        prefix = url.path.rstrip("/") if url.path else ""
        # Through a plain HTTP proxy, requests name the whole URL (RFC 9112 §3.2.2).
        if self.pool.proxy is not None and self.pool.scheme == "http":
            prefix = f"{url.scheme}://{url.netloc}{prefix}"
        self.prefix = prefix
        default_port = 443 if url.scheme == "https" else 80
        host = url.host or ""
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 literal (RFC 9110 §7.2 via RFC 3986 §3.2.2)
        self.host = host if (url.port or default_port) == default_port else f"{host}:{url.port}"
        self.queue: SimpleQueue[Call | None] = SimpleQueue()
        self.broken: BaseException | None = None
        self.fruitless = 0  # connections in a row that failed without answering
        self.threads = [
            threading.Thread(target=self._serve, name=f"kuadns-pipe-{name}-{n}", daemon=True)
            for n in range(group.connections)
        ]
        for thread in self.threads:
            thread.start()

    def _head(self) -> str:
        """Header lines shared by every request of one window (credentials fetched now)."""
        headers: dict[str, str] = {"Host": self.host, "Accept": JSON, **self.api.default_headers}
        self.api.update_params_for_auth(headers, [], AUTH_SETTINGS, self.prefix, "PATCH", None)
        return "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-type")

    def _encode(self, call: Call, head: str) -> bytes:
        body = b"" if call.body is None else jsoncodec.encode(call.body)
        lines = f"{call.method} {self.prefix}{call.path} HTTP/1.1\r\n{head}"
        if call.body is not None:
            lines += f"Content-Type: {call.content_type}\r\nContent-Length: {len(body)}\r\n"
        return (lines + "\r\n").encode("latin-1") + body

    def _take(self, backlog: deque[Call], inflight: int, room: int, queued: bool) -> tuple[list[Call], bool]:
        """The next window of calls (resent ones first), encoded; blocks only when nothing is in flight.

        `inflight`: calls awaiting an answer; `room`: bytes that may still be sent before they are;
        `queued`: whether to take from the queue (not once this thread has taken its stop mark, which
        would take another thread's)."""
        batch: list[Call] = []
        stopping = False
        head = ""
        while len(batch) + inflight < self.group.depth and (room > 0 or not (batch or inflight)):
            if backlog:
                call = backlog.popleft()
            elif not queued:
                break
            else:
                try:
                    item = self.queue.get(block=not batch and not inflight)
                except Empty:
                    break
                if item is None:
                    stopping = True
                    break
                call = item
            if self.broken is None and not self.group.allowed():
                self.group.finish(call, Withheld("not sent: the gate closed"))
                continue
            if self.broken is None:
                try:
                    head = head or self._head()
                except Exception as exc:  # noqa: BLE001 (a credential plugin failed: nothing can be sent)
                    self.broken = exc
                else:
                    try:
                        call.payload = self._encode(call, head)
                    except (TypeError, ValueError) as exc:  # a body that is not JSON: that call fails alone
                        self.group.finish(call, exc)
                        continue
                    room -= len(call.payload)
            batch.append(call)
        return batch, stopping

    def _serve(self) -> None:
        lane = _Lane()
        try:
            self._loop(lane)
        except BaseException as exc:  # a bug: every call this thread holds or would take fails with it
            self.group.failed(exc)
            self.broken = self.broken or exc
            for call in (*lane.inflight, *lane.backlog):
                self.group.finish(call, exc)
            while not lane.stopping and (item := self.queue.get()) is not None:
                self.group.finish(item, exc)

    def _loop(self, lane: _Lane) -> None:
        conn: _Link | None = None
        inflight, backlog = lane.inflight, lane.backlog
        sent = 0  # bytes of the calls in flight
        answered = 0  # answers read on this connection
        unsendable: BaseException | None = None  # why the connection took no more requests
        try:
            while True:
                batch: list[Call] = []
                # Refill once half the window is answered: requests leave (and answers come back) in
                # groups, a few system calls and TLS records for many calls on each side.
                refill = len(inflight) <= self.group.depth // 2
                if refill and (not lane.stopping or backlog) and unsendable is None:
                    batch, stops = self._take(backlog, len(inflight), WINDOW_BYTES - sent, not lane.stopping)
                    lane.stopping = lane.stopping or stops
                if self.broken is not None:
                    # Given up: what was never sent fails at once; answers already owed are still read.
                    for call in (*backlog, *batch):
                        self.group.finish(call, self.broken)
                    backlog.clear()
                    batch = []
                    if conn is None:
                        for call in inflight:
                            self.group.finish(call, self.broken)
                        inflight.clear()
                if batch:
                    sent += sum(len(call.payload) for call in batch)
                    inflight.extend(batch)
                    try:
                        if conn is None:
                            conn, answered = _Link(self.pool, self.read_timeout), 0
                        conn.sock.sendall(b"".join([call.payload for call in batch]))
                    except Exception as exc:  # noqa: BLE001 (every transport failure is handled alike)
                        if conn is None:
                            self._failed(None, exc, inflight, backlog, 0)
                            sent = 0
                            continue
                        # The server may have answered and closed (RFC 9112 §9.6): read what it sent first.
                        unsendable = exc
                if not inflight:
                    if unsendable is not None and conn is not None:
                        conn.close()
                        conn, unsendable = None, None
                    if lane.stopping and not backlog:
                        return
                    continue
                assert conn is not None
                try:
                    answer, closes = _read_answer(conn.stream)
                except Exception as exc:  # noqa: BLE001
                    self._failed(conn, unsendable or exc, inflight, backlog, answered)
                    conn, sent, unsendable = None, 0, None
                    continue
                answered += 1
                call = inflight.popleft()
                sent -= len(call.payload)
                self.group.finish(call, answer)
                if closes:
                    # The server ends the connection here: what was sent after this call is unanswered.
                    conn.close()
                    conn, sent, unsendable = None, 0, None
                    backlog.extendleft(reversed(inflight))
                    inflight.clear()
        finally:
            if conn is not None:
                conn.close()

    def _failed(
        self,
        conn: _Link | None,
        exc: BaseException,
        inflight: deque[Call],
        backlog: deque[Call],
        answered: int,
    ) -> None:
        """A connection failed (or could not be opened) after `answered` answers: what was in flight goes
        back to the backlog, to be sent again on a new connection. The call the server owed an answer
        first is the one a failure is counted against: after MAX_ATTEMPTS it fails alone (a request that
        breaks the server's connection every time). MAX_ATTEMPTS connections in a row that fail without
        answering anything give the cluster up."""
        if conn is not None:
            conn.close()
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        self.fruitless = 0 if answered else self.fruitless + 1
        if self.fruitless >= MAX_ATTEMPTS:
            self.broken = self.broken or exc
        if inflight:
            head = inflight[0]
            head.attempts += 1
            if head.attempts >= MAX_ATTEMPTS:
                inflight.popleft()
                self.group.finish(head, exc)
        backlog.extendleft(reversed(inflight))
        inflight.clear()

    def stop(self) -> None:
        """Let every thread finish what it holds, then end."""
        for _ in self.threads:
            self.queue.put(None)

    def join(self) -> None:
        """Wait for the threads to end."""
        for thread in self.threads:
            thread.join()


class Pipeline:
    """Pipelined calls to several clusters; `wait` returns once every call and its follow-ups are done.

    `gate` is asked before each request goes out; once it says no, that call and every later one end
    as `Withheld` without being sent.

    A call's `done` may submit further calls (to any cluster) or run work `aside` (synchronous calls on
    one side thread); `wait` counts those too. An exception raised by a `done` or `aside` callable is
    a bug: the pipeline finishes the other calls and `wait` re-raises the first one.
    """

    def __init__(
        self, connections: int = CONNECTIONS, depth: int = DEPTH, gate: Callable[[], bool] | None = None
    ) -> None:
        self.connections = max(1, connections)
        self.depth = max(1, depth)
        self._gate = gate
        self._gate_closed = False
        self._clusters: dict[str, _Cluster] = {}
        self._pending = 0
        self._idle = threading.Condition()
        self._failures: list[BaseException] = []
        self._aside: SimpleQueue[Callable[[], None] | None] = SimpleQueue()
        self._aside_thread: threading.Thread | None = None

    def open(self, name: str, api: k8s.ApiClient, timeout: float) -> None:
        """Make `name` a destination (its connections open with the first call)."""
        if name not in self._clusters:
            self._clusters[name] = _Cluster(name, api, timeout, self)

    def submit(self, cluster: str, call: Call) -> None:
        """Queue `call` for `cluster` (opened before)."""
        with self._idle:
            self._pending += 1
        self._clusters[cluster].queue.put(call)

    def aside(self, work: Callable[[], None]) -> None:
        """Run `work` on the side thread (after the side work queued before it)."""
        with self._idle:
            self._pending += 1
            if self._aside_thread is None:
                self._aside_thread = threading.Thread(target=self._run_aside, name="kuadns-pipe-aside", daemon=True)
                self._aside_thread.start()
        self._aside.put(work)

    def _run_aside(self) -> None:
        while (work := self._aside.get()) is not None:
            try:
                work()
            except BaseException as exc:  # re-raised by wait()
                self._failures.append(exc)
            finally:
                self._settle()

    def allowed(self) -> bool:
        """Asked before every request is sent: the gate (only the Lease holder writes). Once it has said
        no, it stays closed: every later call ends as Withheld without being sent."""
        if self._gate_closed:
            return False
        if self._gate is not None and not self._gate():
            self._gate_closed = True
            return False
        return True

    def failed(self, exc: BaseException) -> None:
        """Record a bug found by a connection thread (re-raised by wait)."""
        self._failures.append(exc)

    def finish(self, call: Call, outcome: Answer | BaseException) -> None:
        """Hand `call` its outcome (from a connection thread)."""
        try:
            call.done(call, outcome)
        except BaseException as exc:  # re-raised by wait()
            self._failures.append(exc)
        finally:
            self._settle()

    def _settle(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def wait(self) -> None:
        """Block until nothing is pending, stop every thread, and re-raise a callback's exception."""
        try:
            with self._idle:
                while self._pending > 0:
                    self._idle.wait()
        finally:
            self.close()
        if self._failures:
            raise self._failures[0]

    def close(self) -> None:
        """Stop every thread (calls still queued are sent and answered first)."""
        for cluster in self._clusters.values():
            cluster.stop()
        if self._aside_thread is not None:
            self._aside.put(None)
        for cluster in self._clusters.values():
            cluster.join()
        if self._aside_thread is not None:
            self._aside_thread.join()
        self._clusters.clear()
        self._aside_thread = None

