"""Compiling bundles: the fast zone reader agrees with dnspython, variants built from the default's lines
equal variants read in full, and bad bundles are rejected with the file named."""

from __future__ import annotations

from pathlib import Path

import dns.name
import pytest
from serve.serve_bundles import ZONE, ZoneFiles, example_zone, simple_zone, zone_text

from kuadns_sync.bundle import Bundle, ZoneBundle, routing_from_json
from kuadns_sync.compile import compile_bundle
from kuadns_sync.errors import BundleError
from kuadns_sync.zoneread import VariantParser, ZoneReader

REPO = Path(__file__).resolve().parents[2]
ORIGIN = dns.name.from_text(f"{ZONE}.")


GOLDEN_ZONES = sorted((REPO / "golden").glob("*/expected/zones/*/*.zone"))


@pytest.mark.parametrize("path", GOLDEN_ZONES, ids=lambda p: f"{p.parts[-5]}/{p.name}")
def test_fast_reader_reads_rendered_zones_exactly_as_dnspython(path: Path) -> None:
    reader = ZoneReader(dns.name.from_text(f"{path.parent.name}."))
    text = path.read_text()
    fast = reader._fast(text, "x")
    assert fast is not None  # the rendered layout never needs the slow path
    assert fast == reader._slow(text, "x")


def test_reader_on_the_hand_written_zone_matches_dnspython() -> None:
    reader = ZoneReader(ORIGIN)
    for text in example_zone().texts.values():
        assert reader.read(text, "x", check_origin=True) == reader._slow(text, "x")


@pytest.mark.parametrize(
    "lines",
    [
        ["www 60 IN A 10.0.0.1", "    60 IN A 10.0.0.2"],  # owner inherited from the previous line
        ["$ORIGIN sub", "www 60 IN A 10.0.0.1"],  # origin changed mid-file
        ['txt 60 IN TXT "a (paren) inside"'],  # parentheses inside quotes
        ["www IN 60 A 10.0.0.1"],  # class before TTL
        ["www A 10.0.0.1"],  # no TTL, no class
        ['www 60 IN TXT ( "split"', ' "over lines" )'],
        [r"we\.ird 60 IN A 10.0.0.1"],
    ],
)
def test_unusual_syntax_falls_back_to_dnspython_with_the_same_result(lines: list[str]) -> None:
    text = zone_text(ZONE, 1, [f"@ NS ns1.{ZONE}.", *lines])
    reader = ZoneReader(ORIGIN)
    assert reader.read(text, "x", check_origin=True) == reader._slow(text, "x")


def _zone_bundle(files: ZoneFiles) -> ZoneBundle:
    routing = routing_from_json({"variants": {v: files.routing.get(v, {}) for v in files.texts}}, "routing.json")
    return ZoneBundle(files.name, files.serial, "h", tuple(files.texts), files.texts, routing)


def test_variants_built_from_the_default_equal_variants_read_in_full() -> None:
    zone = _zone_bundle(example_zone())
    parser = VariantParser(zone, ORIGIN)
    reader = ZoneReader(ORIGIN)
    for variant in zone.variants:
        data = parser.variant(variant)
        full = reader.read(zone.zone_texts[variant], "x", check_origin=True)
        plain = {(k, t): (s.members[0].ttl, list(s.members[0].rdatas)) for k, ts in data.items() for t, s in ts.items()}
        routed = {(k, t) for k, ts in data.items() for t, s in ts.items() if s.routed}
        assert {k: v for k, v in plain.items() if k not in routed} == {k: v for k, v in full.items() if k not in routed}


def _routed(rdata: str) -> dict[str, list[dict[str, object]]]:
    return {"A": [{"set": "a", "weight": 1, "ttl": 1, "rdata": [rdata]}]}


def _bundle(*zones: ZoneFiles) -> Bundle:
    return Bundle(Path("g-test"), "h", "any", tuple(_zone_bundle(z) for z in zones))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda z: z.texts.__setitem__("GEO-EU", z.texts["GEO-EU"] + "www 60 IN A not-an-ip\n"), "GEO-EU.zone"),
        (lambda z: z.texts.__setitem__("default", "www 60 IN A 10.0.0.1\n"), "no SOA"),
        (
            lambda z: z.routing["default"].__setitem__(
                f"x.{ZONE}", {"A": [{"set": "a", "weight": 1, "ttl": 1, "rdata": ["bad"]}]}
            ),
            "routing.json",
        ),
        (
            lambda z: z.routing["default"].__setitem__(
                "www.example.org", {"A": [{"set": "a", "weight": 1, "ttl": 1, "rdata": ["10.0.0.1"]}]}
            ),
            "outside the zone",
        ),
    ],
)
def test_bad_bundles_are_rejected_naming_the_file(mutate: object, message: str) -> None:
    zone = example_zone()
    zone.routing = {v: dict(r) for v, r in zone.routing.items()}
    mutate(zone)  # type: ignore[operator]
    with pytest.raises(BundleError, match=message):
        compile_bundle(_bundle(zone))


def test_two_zones_a_child_zone_wins_over_the_parents_delegation() -> None:
    parent = ZoneFiles(
        "example.com",
        1,
        {
            "default": zone_text(
                "example.com",
                1,
                [
                    "@ NS ns1.example.com.",
                    "ns1 A 10.0.0.53",
                    f"k NS ns1.{ZONE}.",
                    "ns1.k A 10.0.0.54",
                    "www A 10.0.0.80",
                ],
            )
        },
    )
    tables = compile_bundle(_bundle(parent, simple_zone(ZONE, 7, "10.9.9.9")))
    child = tables.names[b"\x03www\x01k\x07example\x03com\x00"]
    assert child.zone.name == ZONE
    assert tables.names[b"\x01k\x07example\x03com\x00"].zone.name == ZONE  # the child apex, not a referral
    assert tables.names[b"\x03www\x07example\x03com\x00"].zone.name == "example.com"
