"""Helpers for the server tests: a real server in a thread, dig/kdig runners, dnspython queries, a test GeoIP DB."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import dns.edns
import dns.message
import dns.query
import dns.rcode

from kuadns_sync.answer import Responder
from kuadns_sync.geo import DEMO_NETWORKS, write_city_db
from kuadns_sync.serve import ServeOptions, Server, run_coroutine

REPO = Path(__file__).resolve().parents[2]

# The demo networks plus: FR (EU, no country variant), JP (no variant at all), an IPv6 IE network.
TEST_NETWORKS = {
    **DEMO_NETWORKS,
    "127.0.50.0/24": ("FR", "EU"),
    "127.0.60.0/24": ("JP", "AS"),
    "fd00:100::/32": ("IE", "EU"),
}
IE_CLIENT = "127.0.100.1"
US_CLIENT = "127.0.200.1"
FR_CLIENT = "127.0.50.1"
JP_CLIENT = "127.0.60.1"
NOWHERE_CLIENT = "127.0.0.1"


def write_test_db(path: Path) -> Path:
    """The GeoIP DB of the serve tests (TEST_NETWORKS)."""
    return write_city_db(path, TEST_NETWORKS)


def make_query(
    name: str,
    rdtype: str = "A",
    *,
    edns: bool = False,
    ecs: str | None = None,
    payload: int | None = None,
    want_dnssec: bool = False,
) -> dns.message.QueryMessage:
    """A dnspython query; `ecs` is "ADDR/PREFIX". EDNS is on with `edns`, ECS, DO or a payload size."""
    options: list[dns.edns.Option] = []
    if ecs is not None:
        address, _, prefix = ecs.partition("/")
        options.append(dns.edns.ECSOption(address, int(prefix)))
    use_edns = 0 if (edns or ecs is not None or want_dnssec or payload is not None) else False
    return dns.message.make_query(
        name, rdtype, use_edns=use_edns, options=options, payload=payload or 1232, want_dnssec=want_dnssec
    )


def ask(
    responder: Responder, query: dns.message.Message, source: str = NOWHERE_CLIENT, tcp: bool = False
) -> dns.message.Message:
    """Send one query through the responder (no sockets) and parse the reply with dnspython."""
    reply = responder.handle(query.to_wire(), source, tcp)
    assert reply is not None, "query was dropped"
    return dns.message.from_wire(reply)


def rcode(message: dns.message.Message) -> str:
    """Text RCODE of a message (extended RCODE included)."""
    return dns.rcode.to_text(message.rcode())


def answer_texts(message: dns.message.Message) -> list[str]:
    """Answer records as 'owner ttl type rdata' texts, in order."""
    out = []
    for rrset in message.answer:
        for rdata in rrset:
            out.append(f"{rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rdata}")
    return out


def addresses(message: dns.message.Message) -> list[str]:
    """The A/AAAA addresses in the answer section."""
    return [r.split()[-1] for r in answer_texts(message) if r.split()[2] in ("A", "AAAA")]


def free_port() -> int:
    """A TCP port that is free right now on 127.0.0.1 (UDP checked too)."""
    for _ in range(50):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class ThreadServer:
    """A real Server on 127.0.0.1:0 running in a thread with its own event loop."""

    def __init__(self, options: ServeOptions, rng: random.Random | None = None) -> None:
        self.server = Server(options, rng=rng or random.Random(7))
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            run_coroutine(self.server.run(install_signals=False))
        except BaseException as exc:  # surfaced by wait_ready / stop
            self.error = exc

    def start(self, wait: bool = True) -> ThreadServer:
        self.thread.start()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not self.server.ready.wait(0.05):
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise TimeoutError("server did not become ready")

    @property
    def port(self) -> int:
        return self.server.bound[0][1]

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "server thread did not stop"
        if self.error is not None:
            raise self.error


def udp(query: dns.message.Message, port: int, source: str | None = None, timeout: float = 3) -> dns.message.Message:
    """One query over UDP to 127.0.0.1:port (optionally from a chosen loopback source address)."""
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=timeout, source=source, ignore_trailing=False)


def tcp(query: dns.message.Message, port: int, timeout: float = 3) -> dns.message.Message:
    """One query over TCP to 127.0.0.1:port."""
    return dns.query.tcp(query, "127.0.0.1", port=port, timeout=timeout)


def tool(name: str) -> str:
    """Path of an installed command-line tool (dig, kdig, mmdblookup)."""
    found = shutil.which(name)
    assert found is not None, f"{name} is not installed (scripts/setup installs it)"
    return found


def dig(port: int, *args: str) -> str:
    """Run BIND's dig against 127.0.0.1:port; returns stdout."""
    cmd = [tool("dig"), "@127.0.0.1", "-p", str(port), "+tries=1", "+time=3", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=20).stdout


def kdig(port: int, *args: str) -> str:
    """Run Knot's kdig against 127.0.0.1:port; returns stdout."""
    cmd = [tool("kdig"), "@127.0.0.1", "-p", str(port), "+retry=0", "+time=3", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=20).stdout


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:port/path -> (status, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def cli(*args: str) -> list[str]:
    """argv for `python -m kuadns_sync ARGS` (this checkout first on the path)."""
    return [sys.executable, "-m", "kuadns_sync", *args]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for CLI subprocesses: this checkout importable, plus `extra`."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


def wait_for_line(stream: object, needle: str, timeout: float = 20) -> str:
    """Read lines from a text stream until one contains `needle` (raises TimeoutError)."""
    import select

    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if ready:
            line = stream.readline()  # type: ignore[attr-defined]
            if not line:
                break
            seen.append(line)
            if needle in line:
                return str(line)
    raise TimeoutError(f"{needle!r} not seen; got: {''.join(seen)}")


def parse_sections(output: str) -> Sequence[str]:
    """The ANSWER SECTION lines of dig output, whitespace-normalised."""
    lines = output.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if line.startswith(";; ANSWER SECTION"):
            inside = True
            continue
        if inside:
            if not line.strip():
                break
            out.append(" ".join(line.split()))
    return out
