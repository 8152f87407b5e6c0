"""End to end: clusters -> sync -> bundle -> our GeoDNS server, queried with dig from a US and an EU subnet."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kuadns_sync.geo import DEMO_NETWORKS, write_city_db
from kuadns_sync.serve import ServeOptions
from tests.kube.kube_fleet import HOST, UID, Fleet, dnsrecord, fleet, lb_endpoints
from tests.serve.serve_helpers import ThreadServer, dig

US = "127.0.200.0/24"  # demo GeoIP DB: US / NA
EU = "127.0.100.0/24"  # demo GeoIP DB: IE / EU


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Fleet, Path, int]]:
    out = tmp_path / "bundle-p1"
    with fleet(tmp_path) as f:
        f.apply("p1", dnsrecord("external-api", lb_endpoints(UID["p1"], "172.18.200.1", "GEO-EU", 100, True)))
        f.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.2", "GEO-NA", 125, False)))
        f.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.3", "GEO-EU", 100, True)))
        f.converge({"p1": out})
        db = write_city_db(tmp_path / "demo.mmdb", DEMO_NETWORKS)
        server = ThreadServer(ServeOptions(bundle=out, listen=(("127.0.0.1", 0),), geoip=db, poll_interval=0.05))
        server.start()
        try:
            yield f, out, server.port
        finally:
            server.stop()


def short(port: int, subnet: str) -> list[str]:
    return dig(port, HOST, "A", f"+subnet={subnet}", "+short").split()


def status(port: int) -> str:
    text = dig(port, HOST, "A", f"+subnet={US}")
    return text.split("status: ", 1)[1].split(",", 1)[0]


def wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached (the server did not pick up the new bundle)")


def test_us_and_eu_clients_get_their_regions_gateway_and_a_deleted_name_answers_nxdomain(
    served: tuple[Fleet, Path, int],
) -> None:
    f, out, port = served
    us = short(port, US)
    assert us[-1] == "172.18.200.2"  # GEO-NA: the only NA gateway
    assert us[0] == "klb.api.k.example.com."  # the CNAME chain of the load-balanced layout
    for _ in range(5):
        assert short(port, EU)[-1] in {"172.18.200.1", "172.18.200.3"}  # GEO-EU: weighted between two

    # The NA gateway moves: the US answer follows after a sync.
    f.apply("p2", dnsrecord("external-api", lb_endpoints(UID["p2"], "172.18.200.22", "GEO-NA", 125, False)))
    f.converge({"p1": out})
    wait_for(lambda: short(port, US)[-1:] == ["172.18.200.22"])

    # Remove every source: the authoritative record goes and the name answers NXDOMAIN.
    for name in ("s1", "p2", "p1"):
        f.delete(name, "external-api")
        f.converge({"p1": out})
    assert f.authoritative("p1") == {}
    wait_for(lambda: status(port) == "NXDOMAIN")
