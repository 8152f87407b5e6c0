"""The embedded GeoDNS server: UDP and TCP listeners, hot reload of bundle and GeoIP DB, health endpoints.

I/O module (sockets, files, signals, processes); the answers come from kuadns_sync.answer. Runs on
uvloop when available. Sockets open only after the first bundle has loaded; a bundle that fails to
load is rejected and the previous one keeps serving; `--workers N` forks N processes sharing the
port with SO_REUSEPORT under a supervisor that serves health and aggregated metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import random
import signal
import socket
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kuadns_sync.answer import Network, Responder
from kuadns_sync.bundle import MANIFEST, read_bundle, resolve_generation
from kuadns_sync.compile import Tables, compile_bundle
from kuadns_sync.errors import ConfigError, KuadnsError
from kuadns_sync.geo import Locator, file_signature
from kuadns_sync.health import Stats, merge_stats, start_health
from kuadns_sync.heap import paused_gc, settle
from kuadns_sync.notify import send_notify
from kuadns_sync.wire import RCODE_NAMES, servfail_for

log = logging.getLogger(__name__)

Address = tuple[str, int]
DEFAULT_LISTEN: Address = ("127.0.0.1", 5353)
MAX_TCP_CONNECTIONS = 1000  # open at once, per process
UDP_RECEIVE_BUFFER = 8 << 20  # bytes; ~40k queries of headroom during a pause


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What to serve and where (from the `serve` command's flags)."""

    bundle: Path
    listen: tuple[Address, ...] = (DEFAULT_LISTEN,)
    geoip: Path | None = None
    workers: int = 1
    allow_transfer: tuple[Network, ...] = ()
    notify: tuple[Address, ...] = ()  # secondaries to NOTIFY when a zone's serial changes (RFC 1996)
    health_listen: Address | None = None
    poll_interval: float = 0.5
    tcp_idle_timeout: float = 10.0
    records_watch: RecordsWatch | None = field(default=None, compare=False)


def parse_listen(text: str, flag: str = "--listen") -> Address:
    """Parse `HOST:PORT` or `[V6]:PORT`. Raises ConfigError."""
    host, sep, port_text = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    try:
        if not sep or not host:
            raise ValueError("missing host or port")
        if ":" in host and not bracketed:
            raise ValueError("write an IPv6 address in brackets")
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError("port out of range")
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise ConfigError(f"{flag} {text!r}: expected IP:PORT or [IPv6]:PORT ({exc})") from exc
    return host, port


def parse_networks(texts: Sequence[str], flag: str = "--allow-transfer") -> tuple[Network, ...]:
    """Parse CIDRs (or single addresses). Raises ConfigError."""
    out = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"{flag} {text!r}: not an address or CIDR ({exc})") from exc
    return tuple(out)


def load_tables(path: Path) -> Tables:
    """Read, verify and compile the bundle at `path` (root or generation). Raises BundleError.

    Runs in a worker thread: with the cyclic collector paused, the event loop keeps getting the GIL
    every switch interval instead of waiting out full collections over the old and new tables.
    """
    with paused_gc():
        return compile_bundle(read_bundle(path))


def bundle_signature(path: Path) -> tuple[str, int, int] | None:
    """Identity of the generation `path` designates now (None when there is none yet)."""
    try:
        generation = resolve_generation(path)
        st = (generation / MANIFEST).stat()
    except (KuadnsError, OSError):
        return None
    return (str(generation), st.st_ino, st.st_mtime_ns)


class RecordsWatch:
    """Re-renders a manifests directory into the bundle when any file under it changes (--records mode)."""

    def __init__(self, records: Path, render: Callable[[], Path]) -> None:
        self.records = records
        self.render = render
        self.signature = self._signature()

    def _signature(self) -> tuple[tuple[str, int, int], ...]:
        entries = []
        for path in sorted(self.records.rglob("*")):
            with contextlib.suppress(OSError):
                st = path.stat()
                entries.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(entries)

    def check(self) -> bool:
        """Render again if the directory changed; True if a render was attempted."""
        signature = self._signature()
        if signature == self.signature:
            return False
        self.signature = signature
        try:
            generation = self.render()
        except KuadnsError as exc:
            log.error("re-render of %s failed, still serving the previous bundle: %s", self.records, exc)
        else:
            log.info("records %s changed: rendered %s", self.records, generation.name)
        return True


# --- DNS transports ----------------------------------------------------------------------------


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: Server) -> None:
        self.handle = server.responder.handle
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            reply = self.handle(data, addr[0])
        except Exception:  # a per-packet failure answers SERVFAIL; it never stops the server
            self.server.packet_failed(data)
            reply = _servfail(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp socket error: %s", exc)


def _servfail(data: bytes) -> bytes | None:
    try:
        return servfail_for(data)
    except Exception:  # the packet defeats even the error path: drop it
        return None


class _TcpProtocol(asyncio.Protocol):
    """RFC 7766: length-prefixed messages, several queries per connection, idle timeout."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else ""
        if len(self.server.connections) >= MAX_TCP_CONNECTIONS:
            transport.close()  # RFC 7766 §6.2.2: servers may close connections to stay within their resources
            return
        self.server.connections.add(self)
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.server.options.tcp_idle_timeout, self.close)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        buffer = self.buffer
        while len(buffer) >= 2:
            length = (buffer[0] << 8) | buffer[1]
            if len(buffer) < 2 + length:
                break
            message = bytes(buffer[2 : 2 + length])
            del buffer[: 2 + length]
            try:
                replies = self.server.responder.handle_stream(message, self.peer)
            except Exception:  # same rule as UDP: SERVFAIL and log
                self.server.packet_failed(message)
                fallback = _servfail(message)
                replies = [fallback] if fallback is not None else []
            if self.transport is not None:
                for reply in replies:
                    self.transport.write(len(reply).to_bytes(2, "big") + reply)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.server.connections.discard(self)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _make_socket(host: str, port: int, kind: socket.SocketKind, reuse_port: bool) -> socket.socket:
    sock = socket.socket(_family(host), kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if _family(host) == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_DGRAM:
            _grow_receive_buffer(sock)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _grow_receive_buffer(sock: socket.socket) -> None:
    """Ask for a UDP receive buffer that absorbs short answer-path pauses (reload swap, GC) at high qps.

    SO_RCVBUFFORCE (root / CAP_NET_ADMIN) may exceed net.core.rmem_max; otherwise the kernel caps it.
    """
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    for option in (force, socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, UDP_RECEIVE_BUFFER)
            return
        except OSError:
            continue


def bind_pair(host: str, port: int, reuse_port: bool) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same address; port 0 picks one free for both. Raises ConfigError."""
    for _ in range(50):
        try:
            tcp = _make_socket(host, port, socket.SOCK_STREAM, reuse_port)
        except OSError as exc:
            raise ConfigError(f"--listen {host}:{port}: tcp: {exc.strerror}") from exc
        chosen = tcp.getsockname()[1]
        try:
            udp = _make_socket(host, chosen, socket.SOCK_DGRAM, reuse_port)
        except OSError as exc:
            tcp.close()
            if port == 0 and exc.errno == errno.EADDRINUSE:
                continue  # the UDP side of that port is taken: try another
            raise ConfigError(f"--listen {host}:{port}: udp: {exc.strerror}") from exc
        tcp.listen(512)
        return udp, tcp
    raise ConfigError(f"--listen {host}:0: no port free for both UDP and TCP")


# --- one server process ------------------------------------------------------------------------


class Server:
    """One serving process: waits for the first bundle, opens the sockets, reloads, stops on signal."""

    def __init__(
        self,
        options: ServeOptions,
        *,
        rng: random.Random | None = None,
        on_ready: Callable[[Server], None] | None = None,
        report: Callable[[Stats], None] | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.options = options
        self.responder = Responder(None, None, rng, options.allow_transfer)
        self.locator: Locator | None = None
        self.on_ready = on_ready
        self.report = report
        self.bound: list[Address] = []
        self.health_address: Address | None = None
        self.ready = threading.Event()
        self.connections: set[_TcpProtocol] = set()
        self.reuse_port = reuse_port
        self._loaded: tuple[str, int, int] | None = None
        self._rejected: tuple[str, int, int] | None = None
        self._geoip_rejected: tuple[int, int, int, int] | None = None
        self._reloads = {"ok": 0, "rejected": 0}
        self._geoip_reloads = {"ok": 0, "rejected": 0}
        self._failures = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._force = False
        self._notify_rng = random.Random()  # NOTIFY message IDs (RFC 5452: unpredictable)
        self._notifications: set[asyncio.Task[bool]] = set()

    # -- control (thread-safe)

    def stop(self) -> None:
        """Ask the server to stop (callable from any thread or a signal handler)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def reload(self) -> None:
        """Force a reload of bundle and GeoIP DB now (SIGHUP)."""
        if self._loop is not None and self._wake is not None:
            log.info("reload requested: reloading the bundle and the GeoIP database now")
            self._force = True
            self._loop.call_soon_threadsafe(self._wake.set)

    def packet_failed(self, data: bytes) -> None:
        """Log a per-packet failure (rate-limited)."""
        self._failures += 1
        if self._failures <= 20 or self._failures % 1000 == 0:
            log.exception("answering a %d-byte packet failed (%d so far); replied SERVFAIL", len(data), self._failures)

    def stats(self) -> Stats:
        """Current counters."""
        responder = self.responder
        tables = responder.tables
        return Stats(
            ready=self.ready.is_set(),
            rcodes={RCODE_NAMES.get(i, str(i)): n for i, n in enumerate(responder.rcodes) if n},
            variants={f"{zone}\t{variant}": n for (zone, variant), n in responder.variants.items()},
            reloads=dict(self._reloads),
            geoip_reloads=dict(self._geoip_reloads),
            serials={zone.name: zone.serial for zone in tables.zones} if tables is not None else {},
            dropped=responder.dropped,
        )

    # -- loading

    async def _load_bundle(self, force: bool) -> bool:
        signature = bundle_signature(self.options.bundle)
        if signature is None:
            return False
        if not force and (signature == self._loaded or signature == self._rejected):
            return False
        loop = asyncio.get_running_loop()
        try:
            tables = await loop.run_in_executor(None, load_tables, Path(signature[0]))
        except Exception as exc:  # the reload loop must stay up; the old bundle keeps serving
            self._rejected = signature
            self._reloads["rejected"] += 1
            kept = self.responder.tables.generation if self.responder.tables is not None else "nothing yet"
            reason = str(exc) if isinstance(exc, KuadnsError) else f"{type(exc).__name__}: {exc}"
            log.error("bundle %s rejected (still serving %s): %s", signature[0], kept, reason)
            return False
        previous = self.responder.tables
        self.responder.tables = tables  # one reference swap: a query sees the old or the new tables
        settle()  # the new tables are long-lived: keep them out of future collections
        self._notify_changed(previous, tables)
        self._loaded = signature
        self._rejected = None
        self._reloads["ok"] += 1
        zones = ", ".join(f"{z.name} serial {z.serial}" for z in tables.zones) or "no zones"
        log.info("loaded bundle %s (%s)", tables.generation, zones)
        return True

    def _notify_changed(self, previous: Tables | None, tables: Tables) -> None:
        """NOTIFY the configured secondaries of every zone whose serial is new (first load included)."""
        if not self.options.notify:
            return
        before = {zone.name: zone.serial for zone in previous.zones} if previous is not None else {}
        for zone in tables.zones:
            if before.get(zone.name) != zone.serial:
                for target in self.options.notify:
                    task = asyncio.create_task(send_notify(target, zone.name, zone.serial, self._notify_rng))
                    self._notifications.add(task)
                    task.add_done_callback(self._notifications.discard)

    async def _load_geoip(self, force: bool) -> None:
        path = self.options.geoip
        if path is None:
            return
        current = self.locator
        if current is not None and not force:
            if not current.changed():
                return
            signature = file_signature(path)
            if signature is None or signature == self._geoip_rejected:
                return  # missing for now, or the same broken file as last time
        loop = asyncio.get_running_loop()
        try:
            locator = await loop.run_in_executor(None, Locator, path)
        except KuadnsError as exc:
            if current is None:
                raise
            self._geoip_rejected = file_signature(path)
            self._geoip_reloads["rejected"] += 1
            log.error("GeoIP database %s rejected (keeping the previous one): %s", path, exc)
            return
        self.locator = locator
        self.responder.locate = locator.locate  # swap first: nothing uses the old one after this
        if current is not None:
            self._geoip_reloads["ok"] += 1
            log.info("reloaded GeoIP database %s (%s)", path, locator.database_type)
            current.close()

    # -- running

    async def run(self, install_signals: bool = True) -> None:
        """Serve until stop() or SIGTERM/SIGINT. Raises ConfigError when a socket cannot be opened."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._stop.set)
            self._loop.add_signal_handler(signal.SIGHUP, self.reload)
        health = None
        if self.options.health_listen is not None:
            health = await start_health(self.options.health_listen, self.stats)
            self.health_address = health.sockets[0].getsockname()[:2]
        transports: list[asyncio.BaseTransport] = []
        servers: list[asyncio.Server] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            await self._load_geoip(force=True)
            while not await self._load_bundle(force=False):
                if await self._sleep(self.options.poll_interval):
                    return  # stopped before any bundle arrived
            await self._open(transports, servers)
            self.ready.set()
            if self.on_ready is not None:
                self.on_ready(self)
            tasks.append(asyncio.create_task(self._reload_loop()))
            if self.report is not None:
                tasks.append(asyncio.create_task(self._report_loop()))
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for transport in transports:
                transport.close()
            for server in servers:
                server.close()
            for connection in list(self.connections):
                connection.close()
            if health is not None:
                health.close()
            self.ready.clear()
            if self.report is not None:
                self.report(self.stats())
            if self.locator is not None:
                self.locator.close()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on reload/stop; True if stopping."""
        assert self._stop is not None and self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()
        return self._stop.is_set()

    async def _reload_loop(self) -> None:
        while True:
            await self._sleep(self.options.poll_interval)
            force, self._force = self._force, False
            try:
                if self.options.records_watch is not None and self.options.workers <= 1:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(None, self.options.records_watch.check)
                await self._load_bundle(force)
                await self._load_geoip(force)
            except Exception:  # keep serving whatever happens while reloading
                log.exception("reload check failed")

    async def _report_loop(self) -> None:
        assert self.report is not None
        while True:
            self.report(self.stats())
            await asyncio.sleep(1.0)

    async def _open(self, transports: list[asyncio.BaseTransport], servers: list[asyncio.Server]) -> None:
        loop = asyncio.get_running_loop()
        pairs = [bind_pair(host, port, self.reuse_port) for host, port in self.options.listen]
        for udp, tcp in pairs:
            transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=udp)
            transports.append(transport)
            servers.append(await loop.create_server(lambda: _TcpProtocol(self), sock=tcp))
            self.bound.append(udp.getsockname()[:2])


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run `coro` on uvloop when installed, else on the stdlib loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


Announce = Callable[[Sequence[Address], Address | None], None]
"""Called once when serving: the DNS addresses bound and the health address (None without one)."""


def serve(options: ServeOptions, on_ready: Announce | None = None) -> int:
    """Run the server (one process, or a supervisor and N workers) until SIGTERM/SIGINT. Returns an exit code."""
    if options.workers > 1:
        return _supervise(options, on_ready)
    server = Server(options, on_ready=(lambda s: on_ready(s.bound, s.health_address)) if on_ready is not None else None)
    run_coroutine(server.run())
    return 0


# --- several worker processes ------------------------------------------------------------------


def _worker(options: ServeOptions, pipe: int) -> None:
    def report(stats: Stats) -> None:
        with contextlib.suppress(OSError):
            os.write(pipe, (stats.to_json() + "\n").encode())

    server = Server(options, rng=random.Random(), report=report, reuse_port=True)
    run_coroutine(server.run())


def _supervise(options: ServeOptions, on_ready: Announce | None) -> int:
    # Resolve port 0 once so every worker binds the same port (SO_REUSEPORT spreads the packets);
    # each worker opens its own sockets only after its first bundle has loaded.
    listen = []
    for host, port in options.listen:
        udp, tcp = bind_pair(host, port, reuse_port=True)
        listen.append((host, udp.getsockname()[1]))
        udp.close()
        tcp.close()
    worker_options = replace(options, listen=tuple(listen))
    children: dict[int, int] = {}  # pid -> read end of its stats pipe
    for index in range(options.workers):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # worker
            os.close(read_end)
            for fd in children.values():
                os.close(fd)
            code = 0
            try:
                # Only the first worker sends NOTIFYs: the secondaries need one per serial, not one per process.
                _worker(worker_options if index == 0 else replace(worker_options, notify=()), write_end)
            except KuadnsError as exc:
                log.error("%s", exc)
                code = 1
            except BaseException:
                log.exception("worker crashed")
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write_end)
        children[pid] = read_end
    return run_coroutine(_supervisor_main(options, listen, children, on_ready))  # type: ignore[no-any-return]


async def _supervisor_main(
    options: ServeOptions,
    listen: list[Address],
    children: dict[int, int],
    on_ready: Announce | None,
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    latest: dict[int, Stats] = {}
    buffers: dict[int, bytes] = dict.fromkeys(children, b"")
    announced = False
    exit_code = 0

    def aggregated() -> Stats:
        return merge_stats([latest[pid] for pid in children if pid in latest], len(children))

    def readable(pid: int, fd: int) -> None:
        nonlocal announced
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            loop.remove_reader(fd)
            return
        buffers[pid] += chunk
        *lines, buffers[pid] = buffers[pid].split(b"\n")
        if lines:
            with contextlib.suppress(ValueError, KeyError):
                latest[pid] = Stats.from_json(lines[-1].decode())
        if not announced and aggregated().ready:
            announced = True
            if on_ready is not None:
                on_ready(listen, health_address)

    for pid, fd in children.items():
        loop.add_reader(fd, readable, pid, fd)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def forward_hup() -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    loop.add_signal_handler(signal.SIGHUP, forward_hup)
    health = await start_health(options.health_listen, aggregated) if options.health_listen else None
    health_address = health.sockets[0].getsockname()[:2] if health is not None else None

    async def watch_records() -> None:
        watch = options.records_watch
        while watch is not None:
            await asyncio.sleep(max(options.poll_interval, 0.5))
            await loop.run_in_executor(None, watch.check)

    async def reap() -> None:
        nonlocal exit_code
        while not stop.is_set():
            await asyncio.sleep(0.2)
            for pid in list(children):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    code = os.waitstatus_to_exitcode(status)
                    log.error("worker %d exited (%d); stopping the server", pid, code)
                    exit_code = 1
                    stop.set()

    tasks = [asyncio.create_task(watch_records()), asyncio.create_task(reap())]
    await stop.wait()
    for task in tasks:
        task.cancel()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            await loop.run_in_executor(None, os.waitpid, pid, 0)
    if health is not None:
        health.close()
    return exit_code
