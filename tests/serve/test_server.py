"""The real server on 127.0.0.1 (in a thread): dig, kdig and dnspython over UDP and TCP; reload; readiness."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import pytest
from serve.serve_bundles import GEO_ANSWER, ZONE, example_zone, simple_zone, write_bundle
from serve.serve_helpers import (
    US_CLIENT,
    ThreadServer,
    addresses,
    dig,
    http_get,
    kdig,
    make_query,
    parse_sections,
    tcp,
    udp,
    write_test_db,
)

from kuadns_sync.geo import write_city_db
from kuadns_sync.serve import ServeOptions, parse_networks


def _v6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


HAS_V6 = _v6_loopback()


@pytest.fixture(scope="module")
def running(example_bundle: Path, geo_db: Path) -> Iterator[ThreadServer]:
    listen = (("127.0.0.1", 0),) + ((("::1", 0),) if HAS_V6 else ())
    options = ServeOptions(
        bundle=example_bundle,
        listen=listen,
        geoip=geo_db,
        allow_transfer=parse_networks(["127.0.0.1/32"]),
        health_listen=("127.0.0.1", 0),
        tcp_idle_timeout=1.0,
    )
    server = ThreadServer(options).start()
    yield server
    server.stop()


# --- geo via ECS and via the packet source, with dig and kdig ---------------------------------


def test_dig_ecs_steers_geo_and_reports_scope(running: ThreadServer) -> None:
    out = dig(running.port, f"geo.{ZONE}", "+subnet=127.0.100.0/24")
    assert parse_sections(out) == [f"geo.{ZONE}. 60 IN A {GEO_ANSWER['IE']}"]
    assert "CLIENT-SUBNET: 127.0.100.0/24/24" in out
    assert "flags: qr aa rd;" in out  # AA, RD copied, no RA


@pytest.mark.parametrize(
    ("source", "variant"), [("127.0.100.1", "IE"), ("127.0.200.1", "GEO-NA"), ("127.0.0.9", "default")]
)
def test_dig_source_address_steers_geo(running: ThreadServer, source: str, variant: str) -> None:
    assert dig(running.port, "-b", source, f"geo.{ZONE}", "+short").split() == [GEO_ANSWER[variant]]


def test_kdig_ecs_and_source(running: ThreadServer) -> None:
    assert kdig(running.port, f"geo.{ZONE}", "+subnet=127.0.50.0/24", "+short").split() == [GEO_ANSWER["GEO-EU"]]
    out = kdig(running.port, "-b", "127.0.200.7", f"api.{ZONE}", "+short").split()
    assert out == [f"klb.api.{ZONE}.", f"geo-na.klb.api.{ZONE}.", f"c2.klb.api.{ZONE}.", "172.18.200.2"]


def test_dnspython_from_a_chosen_source(running: ThreadServer) -> None:
    reply = udp(make_query(f"geo.{ZONE}"), running.port, source=US_CLIENT)
    assert addresses(reply) == [GEO_ANSWER["GEO-NA"]]


# --- protocol over real sockets -------------------------------------------------------------------


def test_nxdomain_and_nodata_with_dig(running: ThreadServer) -> None:
    nx = dig(running.port, f"nope.{ZONE}")
    assert "status: NXDOMAIN" in nx and f"{ZONE}. 30 IN SOA" in " ".join(nx.split())
    nodata = dig(running.port, f"multi.{ZONE}", "AAAA")
    assert "status: NOERROR" in nodata and "ANSWER: 0" in nodata and "AUTHORITY: 1" in nodata


def test_refused_out_of_zone(running: ThreadServer) -> None:
    assert "status: REFUSED" in dig(running.port, "www.example.org")


def test_truncated_over_udp_then_full_over_tcp(running: ThreadServer) -> None:
    out = dig(running.port, f"big.{ZONE}", "TXT", "+bufsize=512", "+ignore")
    assert " tc" in out.split("flags:")[1].split(";")[0] and "ANSWER: 0" in out
    full = dig(running.port, f"big.{ZONE}", "TXT", "+tcp")
    assert "ANSWER: 8" in full and "(TCP)" in full
    assert len(tcp(make_query(f"big.{ZONE}", "TXT"), running.port).answer[0]) == 8


def test_query_name_case_preserved_0x20(running: ThreadServer) -> None:
    out = dig(running.port, "MuLtI.k.ExAmPlE.cOm")
    assert ";MuLtI.k.ExAmPlE.cOm.\t\tIN\tA" in out


def test_badvers(running: ThreadServer) -> None:
    assert "status: BADVERS" in dig(running.port, f"multi.{ZONE}", "+edns=1", "+noednsnegotiation")


def test_notimp_for_notify(running: ThreadServer) -> None:
    query = make_query(ZONE, "SOA")
    query.set_opcode(dns.opcode.NOTIFY)
    assert udp(query, running.port).rcode() == dns.rcode.NOTIMP


def test_formerr_on_junk_and_no_reply_to_garbage(running: ThreadServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"\xab\xcd\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x09oops", ("127.0.0.1", running.port))
        reply, _ = sock.recvfrom(512)
        assert reply[:2] == b"\xab\xcd" and reply[3] & 0xF == dns.rcode.FORMERR
        sock.sendto(b"\x01\x02", ("127.0.0.1", running.port))
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recvfrom(512)
    assert udp(make_query(f"multi.{ZONE}"), running.port).rcode() == dns.rcode.NOERROR  # still serving


def test_axfr_allowed_and_refused(running: ThreadServer) -> None:
    out = dig(running.port, "AXFR", ZONE)
    assert out.count("\tSOA\t") == 2 and "XFR size" in out
    assert f"geo.{ZONE}. 60 IN A {GEO_ANSWER['default']}" in " ".join(out.split())
    knot = kdig(running.port, "AXFR", ZONE)
    assert knot.count(" SOA ") == 2 or knot.count("\tSOA\t") == 2
    refused = dig(running.port, "-b", "127.0.0.2", "AXFR", ZONE)
    assert "Transfer failed" in refused or "REFUSED" in refused


def test_several_queries_on_one_tcp_connection(running: ThreadServer) -> None:
    queries = [make_query(name) for name in (f"multi.{ZONE}", f"geo.{ZONE}", f"nope.{ZONE}")]
    payload = b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries))
    with socket.create_connection(("127.0.0.1", running.port), timeout=3) as sock:
        sock.sendall(payload)
        replies = []
        buffer = b""
        while len(replies) < 3:
            buffer += sock.recv(4096)
            while len(buffer) >= 2 and len(buffer) >= 2 + struct.unpack("!H", buffer[:2])[0]:
                size = struct.unpack("!H", buffer[:2])[0]
                replies.append(dns.message.from_wire(buffer[2 : 2 + size]))
                buffer = buffer[2 + size :]
    assert [r.id for r in replies] == [q.id for q in queries]
    assert [dns.rcode.to_text(r.rcode()) for r in replies] == ["NOERROR", "NOERROR", "NXDOMAIN"]


def test_idle_tcp_connections_are_closed(running: ThreadServer) -> None:
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(10) == b""  # closed by the server after its idle timeout (1 s here)
        assert 0.5 < time.monotonic() - started < 4


@pytest.mark.skipif(not HAS_V6, reason="no IPv6 loopback")
def test_ipv6_listener(running: ThreadServer) -> None:
    port = running.server.bound[1][1]
    reply = dns.query.udp(make_query(f"multi.{ZONE}"), "::1", port=port, timeout=3)
    assert sorted(addresses(reply)) == ["10.2.0.1", "10.2.0.2"]


def test_health_endpoints_and_metrics(running: ThreadServer) -> None:
    assert running.server.health_address is not None
    port = running.server.health_address[1]
    udp(make_query(f"geo.{ZONE}"), running.port, source=US_CLIENT)
    assert http_get(port, "/healthz") == (200, "ok\n")
    assert http_get(port, "/readyz") == (200, "ready\n")
    status, metrics = http_get(port, "/metrics")
    assert status == 200
    assert 'kuadns_queries_total{rcode="NOERROR"}' in metrics
    assert f'kuadns_bundle_serial{{zone="{ZONE}"}} 2026010100' in metrics
    assert f'kuadns_variant_answers_total{{zone="{ZONE}",variant="GEO-NA"}}' in metrics
    assert 'kuadns_reloads_total{result="ok"} 1' in metrics
    assert http_get(port, "/nope")[0] == 404


def test_a_failing_packet_answers_servfail_and_the_server_keeps_going(running: ThreadServer) -> None:
    responder = running.server.responder
    good = responder.locate

    def broken(address: object) -> object:
        raise RuntimeError("GeoIP exploded")

    responder.locate = broken  # type: ignore[assignment]
    try:
        assert udp(make_query(f"geo.{ZONE}"), running.port).rcode() == dns.rcode.SERVFAIL
        assert tcp(make_query(f"geo.{ZONE}"), running.port).rcode() == dns.rcode.SERVFAIL
        assert udp(make_query(f"multi.{ZONE}"), running.port).rcode() == dns.rcode.NOERROR
    finally:
        responder.locate = good


# --- reload and readiness -------------------------------------------------------------------------


class QueryLoop:
    """Queries `name` over UDP in a thread until stopped; records every answer and every failure."""

    def __init__(self, port: int, name: str) -> None:
        self.port, self.name = port, name
        self.answers: list[tuple[str, ...]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                reply = udp(make_query(self.name), self.port, timeout=2)
                if reply.rcode() != dns.rcode.NOERROR:
                    self.failures.append(dns.rcode.to_text(reply.rcode()))
                self.answers.append(tuple(addresses(reply)))
            except Exception as exc:  # a timeout is a failed query
                self.failures.append(repr(exc))

    def __enter__(self) -> QueryLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(5)

    def wait_for(self, address: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.answers and self.answers[-1] == (address,):
                return
            time.sleep(0.05)
        raise AssertionError(f"{address} not served; last answers {self.answers[-3:]}")


def test_hot_reload_under_load_and_broken_bundles_are_rejected(tmp_path: Path) -> None:
    root = tmp_path / "out"
    write_bundle(root, [simple_zone(ZONE, 1, "10.9.9.1")])
    server = ThreadServer(
        ServeOptions(bundle=root, listen=(("127.0.0.1", 0),), poll_interval=0.1, health_listen=("127.0.0.1", 0))
    ).start()
    try:
        with QueryLoop(server.port, f"www.{ZONE}") as loop:
            loop.wait_for("10.9.9.1")
            write_bundle(root, [simple_zone(ZONE, 2, "10.9.9.2")])
            loop.wait_for("10.9.9.2")
            # A tampered generation (hash mismatch) and an unparsable zone: both rejected, 10.9.9.2 stays.
            tampered = write_bundle(root, [simple_zone(ZONE, 3, "10.9.9.3")])
            (tampered / "zones" / ZONE / "default.zone").write_text("www A 10.6.6.6\n")
            bad = example_zone(serial=4)
            bad.texts["default"] += "this is not a record\n"
            time.sleep(0.5)
            write_bundle(root, [bad])
            time.sleep(0.8)
            assert loop.answers[-1] == ("10.9.9.2",)
            write_bundle(root, [simple_zone(ZONE, 5, "10.9.9.5")])
            loop.wait_for("10.9.9.5")
        assert loop.failures == []
        assert set(loop.answers) <= {("10.9.9.1",), ("10.9.9.2",), ("10.9.9.5",)}
        assert len(loop.answers) > 50
        assert server.server.health_address is not None
        metrics = http_get(server.server.health_address[1], "/metrics")[1]
        assert 'kuadns_reloads_total{result="ok"} 3' in metrics
        assert 'kuadns_reloads_total{result="rejected"} 2' in metrics
        assert f'kuadns_bundle_serial{{zone="{ZONE}"}} 5' in metrics
    finally:
        server.stop()


def test_not_ready_and_no_dns_socket_until_the_first_bundle(tmp_path: Path) -> None:
    root = tmp_path / "out"
    server = ThreadServer(
        ServeOptions(bundle=root, listen=(("127.0.0.1", 0),), poll_interval=0.1, health_listen=("127.0.0.1", 0))
    ).start(wait=False)
    try:
        deadline = time.monotonic() + 5
        while server.server.health_address is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.server.health_address is not None
        health = server.server.health_address[1]
        assert http_get(health, "/readyz")[0] == 503
        assert http_get(health, "/healthz")[0] == 200
        time.sleep(0.3)
        assert server.server.bound == [] and not server.server.ready.is_set()
        write_bundle(root, [simple_zone(ZONE, 1, "10.9.9.1")])
        server.wait_ready(5)
        assert http_get(health, "/readyz")[0] == 200
        assert addresses(udp(make_query(f"www.{ZONE}"), server.port)) == ["10.9.9.1"]
    finally:
        server.stop()


def test_geoip_database_is_reloaded_when_the_file_changes(tmp_path: Path) -> None:
    root = tmp_path / "out"
    write_bundle(root, [example_zone()])
    db = write_test_db(tmp_path / "geo.mmdb")
    server = ThreadServer(ServeOptions(bundle=root, listen=(("127.0.0.1", 0),), geoip=db, poll_interval=0.1)).start()
    try:
        query = make_query(f"geo.{ZONE}", ecs="127.0.100.0/24")
        assert addresses(udp(query, server.port)) == [GEO_ANSWER["IE"]]
        write_city_db(db, {"127.0.100.0/24": ("US", "NA")})
        deadline = time.monotonic() + 5
        while addresses(udp(query, server.port)) != [GEO_ANSWER["GEO-NA"]]:
            assert time.monotonic() < deadline, "new GeoIP database not picked up"
            time.sleep(0.1)
        db.write_bytes(b"broken")  # rejected: the previous database keeps answering
        time.sleep(0.5)
        assert addresses(udp(query, server.port)) == [GEO_ANSWER["GEO-NA"]]
    finally:
        server.stop()
