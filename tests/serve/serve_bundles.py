"""Hand-written bundles for the server tests, laid out exactly as docs/bundle-format.md says.

`example_zone()` is the test zone every serve test uses: geo routing sets (country, continent, `*`),
weighted sets (with weight 0, all-zero), a geo->weighted CNAME chain, wildcards, an empty non-terminal,
a delegation with glue, a name only some variants have (geo fallback `nodata`), and a big TXT.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuadns_sync.bundle import FORMAT, write_generation

ZONE = "k.example.com"
SERIAL = 2026010100
SOA_TTL = 120
SOA_MINIMUM = 30  # negative TTL = min(SOA TTL, MINIMUM) = 30 (RFC 2308)
VARIANTS = ("default", "GEO-EU", "GEO-NA", "IE")

# Direct geo routing set `geo.k.example.com A`: IE -> .1, GEO-EU -> .2, * -> .3.
GEO_ANSWER = {"default": "10.1.0.3", "GEO-EU": "10.1.0.2", "GEO-NA": "10.1.0.3", "IE": "10.1.0.1"}
# `klb.api` geo CNAME: EU (and IE) -> geo-eu, NA -> geo-na, default (*) -> geo-eu.
KLB_TARGET = {"default": "geo-eu", "GEO-EU": "geo-eu", "GEO-NA": "geo-na", "IE": "geo-eu"}
WEIGHTED = {"10.0.0.1": 1, "10.0.0.2": 3, "10.0.0.3": 0}
GEO_EU_WEIGHTS = {"c1": 120, "c3": 40}
BIG_TXT_COUNT = 8


def zone_text(
    zone: str, serial: int, lines: Sequence[str], *, soa_ttl: int = SOA_TTL, minimum: int = SOA_MINIMUM
) -> str:
    """A zone file: $ORIGIN, $TTL, SOA and the given record lines (relative owners)."""
    head = [
        f"$ORIGIN {zone}.",
        "$TTL 60",
        f"@ {soa_ttl} IN SOA ns1.{zone}. hostmaster.{zone}. {serial} 7200 1800 86400 {minimum}",
    ]
    return "\n".join(head + list(lines)) + "\n"


def member(name: str, weight: int, *rdata: str, ttl: int = 60) -> dict[str, Any]:
    """One routing.json member."""
    return {"set": name, "weight": weight, "ttl": ttl, "rdata": list(rdata)}


@dataclass
class ZoneFiles:
    """One zone of a hand-written bundle: its texts per variant (default first) and routing.json."""

    name: str
    serial: int
    texts: dict[str, str]
    routing: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = field(default_factory=dict)


def bundle_files(zones: Sequence[ZoneFiles], geo_fallback: str = "any") -> tuple[dict[str, bytes], str]:
    """All files of a bundle generation (manifest included) and its content hash."""
    files: dict[str, bytes] = {}
    manifest_zones: dict[str, Any] = {}
    whole = hashlib.sha256()
    for zone in zones:
        routing = {
            "zone": zone.name,
            "variants": {v: zone.routing.get(v, {}) for v in zone.texts},
        }
        zone_files = {f"{v}.zone": text.encode() for v, text in zone.texts.items()}
        zone_files["routing.json"] = (json.dumps(routing, indent=2, sort_keys=True) + "\n").encode()
        digest = hashlib.sha256()
        for name, data in sorted(zone_files.items()):
            files[f"zones/{zone.name}/{name}"] = data
            digest.update(name.encode() + b"\0" + data)
        whole.update(digest.digest())
        manifest_zones[zone.name] = {
            "serial": zone.serial,
            "content_hash": digest.hexdigest(),
            "variants": list(zone.texts),
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in zone_files.items()},
        }
    content_hash = whole.hexdigest()
    manifest = {
        "format": FORMAT,
        "generator": "tests/serve",
        "content_hash": content_hash,
        "geo_fallback": geo_fallback,
        "zones": manifest_zones,
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return files, content_hash


def write_bundle(root: Path, zones: Sequence[ZoneFiles], geo_fallback: str = "any") -> Path:
    """Write a generation under `root` and point `current` at it; returns the generation directory."""
    files, content_hash = bundle_files(zones, geo_fallback)
    return write_generation(root, files, content_hash)


def _common_lines(zone: str) -> list[str]:
    big = [f'big TXT "{chr(ord("a") + i) * 200}"' for i in range(BIG_TXT_COUNT)]
    big += [f'mid TXT "{chr(ord("a") + i) * 200}"' for i in range(3)]  # ~700 bytes: over 512, under 1232
    return [
        f"@ NS ns1.{zone}.",
        "ns1 A 127.0.0.53",
        "multi A 10.2.0.1",
        "multi A 10.2.0.2",
        "v6 AAAA 2001:db8::1",
        "weighted A 10.0.0.2",
        "zero A 10.0.1.1",
        "*.wild A 10.3.0.1",
        '*.wild TXT "wild"',
        "*.wild MX 10 mail.k.example.com.",
        'exists.wild TXT "exists"',
        "a.ent.wild A 10.3.0.9",
        f"sub NS ns.sub.{zone}.",
        "ns.sub A 10.4.0.1",
        f"towild CNAME foo.wild.{zone}.",
        "ext CNAME www.example.org.",
        f"gone CNAME missing.{zone}.",
        f"loop1 CNAME loop2.{zone}.",
        f"loop2 CNAME loop1.{zone}.",
        f"api 300 CNAME klb.api.{zone}.",
        f"geo-eu.klb.api CNAME c1.klb.api.{zone}.",
        f"geo-na.klb.api CNAME c2.klb.api.{zone}.",
        "c1.klb.api A 172.18.200.1",
        "c2.klb.api A 172.18.200.2",
        "c2.klb.api AAAA 2001:db8::2",  # only the NA cluster has IPv6: AAAA differs by location
        "c3.klb.api A 172.18.200.3",
        "mail A 10.6.0.1",
        f"tomulti CNAME multi.{zone}.",
        f"toweighted CNAME weighted.{zone}.",
        *big,
    ]


def example_zone(serial: int = SERIAL, zone: str = ZONE, extra: Mapping[str, Sequence[str]] | None = None) -> ZoneFiles:
    """The test zone (see the module docstring); `extra` adds lines per variant."""
    texts = {}
    for variant in VARIANTS:
        lines = _common_lines(zone)
        lines.append(f"geo A {GEO_ANSWER[variant]}")
        lines.append(f"klb.api 300 CNAME {KLB_TARGET[variant]}.klb.api.{zone}.")
        if variant in ("GEO-EU", "IE"):  # a GEO-EU-only member with geo fallback `nodata`
            lines.append("eu-only A 10.5.0.1")
        lines.extend((extra or {}).get(variant, ()))
        texts[variant] = zone_text(zone, serial, lines)
    weighted_sets = {
        f"weighted.{zone}": {"A": [member(f"w-{ip}", w, ip) for ip, w in WEIGHTED.items()]},
        f"zero.{zone}": {"A": [member("z1", 0, "10.0.1.1"), member("z2", 0, "10.0.1.2")]},
        f"geo-eu.klb.api.{zone}": {"CNAME": [member(c, w, f"{c}.klb.api.{zone}.") for c, w in GEO_EU_WEIGHTS.items()]},
    }
    return ZoneFiles(zone, serial, texts, dict.fromkeys(VARIANTS, weighted_sets))


def simple_zone(zone: str, serial: int, address: str) -> ZoneFiles:
    """A one-variant zone with `www A address` (for reload tests)."""
    return ZoneFiles(
        zone,
        serial,
        {"default": zone_text(zone, serial, [f"@ NS ns1.{zone}.", "ns1 A 127.0.0.53", f"www A {address}"])},
    )
