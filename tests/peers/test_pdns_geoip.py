"""The PowerDNS GeoIP-backend translation of a bundle (bench.pdns_geoip) routes like the bundle:
its answers equal BIND-with-geoip-views on the same variant files, except the weighted hop, where
PowerDNS must pick one of the weighted set's members. Real daemons on 127.0.0.1; kdig as client."""

from __future__ import annotations

from pathlib import Path

import dns.rdatatype
import pytest
from peers.peer_helpers import (
    LOCATIONS,
    Rendered,
    deterministic,
    kdig,
    normalize,
    parse_variant,
    require,
    variant_for,
)

from bench.pdns_geoip import geoip_zone_yaml, parse_zone_text
from bench.peers import Bind, PowerDnsGeoip

pytestmark = pytest.mark.peer


def test_geoip_backend_answers_like_bind_views(generated_bundle: Rendered, geoip_db: Path, tmp_path: Path) -> None:
    require("named", "pdns_server", "kdig")
    zone = generated_bundle.zone
    zone_yaml = tmp_path / "zones.yaml"
    zone_yaml.write_text(geoip_zone_yaml(zone))
    parsed = {v: parse_variant(zone, v) for v in zone.variants}
    names = [n.to_text(omit_final_dot=True) for n in parsed["default"].nodes]
    hosts = sorted({n.split(".klb.", 1)[1] for n in names if ".klb." in n})
    queries = [(f"{h}.", "A") for h in hosts] + [(f"klb.{h}.", "CNAME") for h in hosts]
    weighted_hops = 0
    with (
        Bind(zone.name, generated_bundle.variant_files(), geoip_db=geoip_db) as bind,
        PowerDnsGeoip(zone.name, zone_yaml, geoip_db) as pdns,
    ):
        for label, (source, location) in LOCATIONS.items():
            variant = variant_for(location, zone.variants)
            routing = zone.routing.get(variant, {})
            expected = kdig(bind.port, source, queries)
            got = kdig(pdns.port, source, queries)  # PowerDNS locates the source too (no ECS sent)
            for (qname, qtype), want, have in zip(queries, expected, got, strict=True):
                where = f"{label} ({variant}) {qname} {qtype}"
                if deterministic(zone, parsed[variant], variant, qname, qtype):
                    assert normalize(have) == normalize(want), where
                    continue
                weighted_hops += 1
                chain = {rr["NAME"].rstrip(".").lower(): rr for rr in have["answerRRs"]}
                owners = [o for o in chain if o in routing]
                assert len(owners) == 1, f"{where}: one weighted hop expected in {list(chain)}"
                members = {r.lower() for m in routing[owners[0]]["CNAME"] for r in m.rdata}
                assert chain[owners[0]]["rdataCNAME"].lower() in members, where
                assert [rr["TYPEname"] for rr in have["answerRRs"]] == [
                    rr["TYPEname"] for rr in want["answerRRs"]
                ], where
    assert weighted_hops > 0, "the generated input should contain weighted sets"


@pytest.mark.parametrize("which", ["example_bundle", "generated_bundle"])
def test_fast_zone_reader_agrees_with_dnspython(which: str, request: pytest.FixtureRequest) -> None:
    zone = request.getfixturevalue(which).zone
    for variant in zone.variants:
        mine = set(parse_zone_text(zone.zone_texts[variant], zone.name))
        reference = {
            (name.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(rds.rdtype), rds.ttl, rd.to_text())
            for name, node in parse_variant(zone, variant).nodes.items()
            for rds in node.rdatasets
            for rd in rds
        }
        assert mine == reference, variant
