"""Cross-check: our server answers exactly as BIND does when BIND serves the same bundle's variant
files through geoip views, for every deterministic (name, type) of the zone and every client location.

Real processes on loopback: `kuadns-sync serve`, `named` with views, and `kdig -b <source>` as client
(BIND 9.18 locates view clients by source address only, so both servers see the same source).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from peers.peer_helpers import (
    LOCATIONS,
    Rendered,
    deterministic,
    kdig,
    normalize,
    parse_variant,
    queries_for,
    require,
    variant_for,
)

from bench.peers import Bind, KuadnsServer

pytestmark = pytest.mark.peer

@pytest.mark.parametrize("which", ["example_bundle", "generated_bundle"])
def test_answers_equal_bind_with_geoip_views(which: str, request: pytest.FixtureRequest, geoip_db: Path) -> None:
    require("named", "kdig")
    rendered: Rendered = request.getfixturevalue(which)
    zone = rendered.zone
    assert len(zone.variants) > 1, "the input should exercise geo variants"
    parsed = {v: parse_variant(zone, v) for v in zone.variants}
    queries = queries_for(zone, parsed)
    with (
        Bind(zone.name, rendered.variant_files(), geoip_db=geoip_db) as bind,
        KuadnsServer(zone.name, rendered.root, geoip_db) as ours,
    ):
        compared = 0
        mismatches: list[str] = []
        seen_variants = set()
        for label, (source, location) in LOCATIONS.items():
            variant = variant_for(location, zone.variants)
            seen_variants.add(variant)
            todo = [q for q in queries if deterministic(zone, parsed[variant], variant, *q)]
            assert todo, f"nothing deterministic to compare for {label}"
            for (qname, qtype), expected, got in zip(
                todo, kdig(bind.port, source, todo), kdig(ours.port, source, todo), strict=True
            ):
                compared += 1
                if normalize(expected) != normalize(got):
                    mismatches.append(
                        f"{label} ({variant}) {qname} {qtype}:\n  bind: {normalize(expected)}\n"
                        f"  ours: {normalize(got)}"
                    )
        assert not mismatches, f"{len(mismatches)} of {compared} answers differ:\n" + "\n".join(mismatches[:20])
        assert len(seen_variants) >= 3, f"locations covered only {sorted(seen_variants)}"


def test_deterministic_filter_skips_weighted_chains(generated_bundle: Rendered) -> None:
    zone = generated_bundle.zone
    parsed = parse_variant(zone, "default")
    host = next(n for n in zone.routing["default"] if n.startswith("geo-") or ".klb." in n)
    entry = host.split(".klb.", 1)[1]
    assert not deterministic(zone, parsed, "default", f"{entry}.", "A")
    assert deterministic(zone, parsed, "default", f"klb.{entry}.", "CNAME")
    assert deterministic(zone, parsed, "default", f"{zone.name}.", "SOA")
