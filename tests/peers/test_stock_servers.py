"""Every rendered variant zone file is loadable by stock servers (Knot, NSD, PowerDNS bind backend)
and served with the bundle's serial. Real daemons on 127.0.0.1."""

from __future__ import annotations

import pytest
from peers.peer_helpers import Rendered, require

from bench.peers import Knot, Nsd, Peer, PowerDns

pytestmark = pytest.mark.peer

SERVERS: dict[str, tuple[type[Peer], str]] = {
    "knot": (Knot, "knotd"),
    "nsd": (Nsd, "nsd"),
    "pdns": (PowerDns, "pdns_server"),
}


@pytest.mark.parametrize("server", sorted(SERVERS))
@pytest.mark.parametrize("which", ["example_bundle", "generated_bundle"])
def test_each_variant_loads_and_answers_its_serial(
    server: str, which: str, request: pytest.FixtureRequest
) -> None:
    cls, binary = SERVERS[server]
    require(binary)
    rendered: Rendered = request.getfixturevalue(which)
    zone = rendered.zone
    assert zone.serial > 0
    for variant, path in rendered.variant_files().items():
        peer = cls(zone.name, path)  # type: ignore[call-arg]
        with peer:
            assert peer.serial() == zone.serial, f"{server} serves {variant} with another serial"
