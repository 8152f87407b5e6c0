"""Helpers of the peer tests: client locations, rendered bundles, kdig as the client, answer comparison.

Runs real processes (kdig) against servers on loopback only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from kuadns_sync.bundle import ZoneBundle, read_bundle
from kuadns_sync.model import Nameserver, Settings, ZoneConfig
from kuadns_sync.pipeline import render_records

EXAMPLES = Path(__file__).resolve().parents[2] / "kuadns_sync" / "examples"

# Client locations: source address (all of 127/8 is on lo) and its entry in the test database.
# IE/US are upstream's demo subnets; DE and CA match a continent only; 127.0.0.1 is not in the DB.
LOCATIONS: dict[str, tuple[str, tuple[str, str] | None]] = {
    "IE": ("127.0.100.1", ("IE", "EU")),
    "US": ("127.0.200.1", ("US", "NA")),
    "DE": ("127.0.150.1", ("DE", "EU")),
    "CA": ("127.0.201.1", ("CA", "NA")),
    "unknown": ("127.0.0.1", None),
}
NETWORKS = {
    "127.0.100.0/24": ("IE", "EU"),
    "127.0.200.0/24": ("US", "NA"),
    "127.0.150.0/24": ("DE", "EU"),
    "127.0.201.0/24": ("CA", "NA"),
}


@dataclass(frozen=True)
class Rendered:
    """A rendered bundle: its root (for `serve`), its one zone, and that zone's file directory."""

    root: Path
    zone: ZoneBundle
    zone_dir: Path

    def variant_files(self) -> dict[str, Path]:
        """variant -> zone file path."""
        return {v: self.zone_dir / f"{v}.zone" for v in self.zone.variants}


def require(*tools: str) -> None:
    """Skip unless every tool is installed (scripts/setup installs them all)."""
    missing = [t for t in tools if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (run scripts/setup)")


def render(records: Path, out: Path, settings: Settings) -> Rendered:
    generation = render_records(records, out, settings)
    bundle = read_bundle(out)
    assert len(bundle.zones) == 1, f"expected one zone, got {[z.name for z in bundle.zones]}"
    zone = bundle.zones[0]
    return Rendered(root=out, zone=zone, zone_dir=generation / "zones" / zone.name)


def generated_settings(zone: str) -> Settings:
    """Settings for generated input: the zone, with an in-zone nameserver that has an address."""
    return Settings(
        zones=(ZoneConfig(name=zone, nameservers=(Nameserver(f"ns1.{zone}", ("127.0.0.1",)),)),),
        local_cluster="cluster-1",  # gen_records names its clusters cluster-1, cluster-2, ...
    )


# -- kdig as the client -------------------------------------------------------------------------


def kdig(port: int, source: str, queries: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Ask 127.0.0.1:`port` from `source` every (name, type), UDP without EDNS; kdig's JSON replies."""
    replies: list[dict[str, Any]] = []
    for start in range(0, len(queries), 150):
        chunk = queries[start : start + 150]
        cmd = ["kdig", "-b", source, "@127.0.0.1", "-p", str(port), "+json", "+timeout=2", "+retry=1"]
        for name, rtype in chunk:
            cmd += ["-q", name, "-t", rtype]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False).stdout
        parsed = list(_json_objects(out))
        assert len(parsed) == len(chunk), f"kdig answered {len(parsed)} of {len(chunk)} queries:\n{out[-2000:]}"
        replies += parsed
    return replies


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        obj, pos = decoder.raw_decode(text, pos)
        yield obj


def _rr_key(rr: Mapping[str, Any]) -> tuple[str, str, int, str]:
    rtype = str(rr["TYPEname"])
    text = rr.get(f"rdata{rtype}")
    data = str(text) if text is not None else str(rr["RDATAHEX"])
    if rtype != "TXT":
        data = data.lower()  # names in rdata compare case-insensitively (RFC 4343)
    return (str(rr["NAME"]).lower(), rtype, int(rr["TTL"]), data)


def normalize(reply: Mapping[str, Any]) -> dict[str, Any]:
    """What must be equal between two servers: rcode, AA, the answer RRs, and the authority section
    when the answer is empty (NXDOMAIN, NODATA, referral)."""
    answer = sorted(_rr_key(rr) for rr in reply.get("answerRRs", []))
    out: dict[str, Any] = {"rcode": reply["RCODE"], "aa": reply["AA"], "answer": answer}
    if not answer:
        out["authority"] = sorted(_rr_key(rr) for rr in reply.get("authorityRRs", []))
    return out


# -- what to compare -------------------------------------------------------------------------

MAX_CHAIN = 8


def variant_for(location: tuple[str, str] | None, variants: tuple[str, ...]) -> str:
    """The variant a client of `location` is answered from (docs/bundle-format.md)."""
    if location is None:
        return "default"
    country, continent = location
    if country in variants:
        return country
    if f"GEO-{continent}" in variants:
        return f"GEO-{continent}"
    return "default"


def parse_variant(zone: ZoneBundle, variant: str) -> dns.zone.Zone:
    """One variant's zone file, parsed."""
    return dns.zone.from_text(zone.zone_texts[variant], origin=zone.name + ".", relativize=False)


def _lookup_node(parsed: dns.zone.Zone, name: dns.name.Name) -> tuple[dns.name.Name, dns.zone.Node | None]:
    """The node answering `name`: itself, or the wildcard of its closest encloser (RFC 4592)."""
    node = parsed.get_node(name)
    if node is not None:
        return name, node
    parent = name.parent()
    while parent.is_subdomain(parsed.origin):
        if parsed.get_node(parent) is not None:
            wildcard = dns.name.Name((b"*",) + parent.labels)
            return wildcard, parsed.get_node(wildcard)
        if parent == parsed.origin:
            break
        parent = parent.parent()
    return name, None


def deterministic(zone: ZoneBundle, parsed: dns.zone.Zone, variant: str, qname: str, qtype: str) -> bool:
    """True when the answer to (qname, qtype) in `variant` involves no weighted set, also along the
    CNAME chain; those answers are drawn at random per query and cannot be compared one to one."""
    routing = zone.routing.get(variant, {})
    name = dns.name.from_text(qname)
    for _ in range(MAX_CHAIN):
        owner, node = _lookup_node(parsed, name)
        key = owner.to_text(omit_final_dot=True).lower()
        if qtype in routing.get(key, {}) or "CNAME" in routing.get(key, {}):
            return False
        if node is None or qtype == "CNAME":
            return True
        cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is None:
            return True
        name = cname[0].target
        if not name.is_subdomain(parsed.origin):
            return True
    return False


def queries_for(zone: ZoneBundle, parsed: Mapping[str, dns.zone.Zone]) -> list[tuple[str, str]]:
    """Every (name, type) present in any variant, one absent type per name (NODATA), the empty
    non-terminals, names below wildcards and leaves, and names that do not exist (NXDOMAIN)."""
    origin = dns.name.from_text(zone.name)
    queries: set[tuple[str, str]] = set()
    owners: set[dns.name.Name] = set()
    for variant_zone in parsed.values():
        for name, node in variant_zone.nodes.items():
            owners.add(name)
            types = {dns.rdatatype.to_text(r.rdtype) for r in node.rdatasets}
            text = name.to_text()
            if name.labels[0] == b"*":
                text = "synthesised." + name.parent().to_text()  # a name the wildcard answers
            queries.update((text, t) for t in types)
            queries.add((text, "AAAA" if "AAAA" not in types else "TXT"))
    for name in list(owners):
        parent = name.parent()
        while parent != origin and parent.is_subdomain(origin):
            if parent not in owners:
                queries.add((parent.to_text(), "A"))  # empty non-terminal: NODATA
            parent = parent.parent()
        if name.labels[0] != b"*":
            queries.add(("below." + name.to_text(), "A"))
    queries.update({(f"nx-1.{zone.name}.", "A"), (f"a.b.nx-2.{zone.name}.", "TXT"), (f"nx-3.{zone.name}.", "SOA")})
    return sorted(queries)
