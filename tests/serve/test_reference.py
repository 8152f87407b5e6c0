"""Differential test: the compiled tables answer random zones exactly like a naive resolver over dnspython zones.

The naive resolver (below) follows the rules literally per variant: exact name, else wildcard from the closest
encloser (names existing in any variant count), else NXDOMAIN; CNAME chains in the zone up to 8 hops; NODATA
with the SOA. The server's optimisations (prebuilt bytes, answers shared between variants, types folded into
"any other type") must not change a single answer.
"""

from __future__ import annotations

import random
from pathlib import Path

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone
from hypothesis import given, settings
from hypothesis import strategies as st
from serve.serve_bundles import ZoneFiles, zone_text

from kuadns_sync.answer import Responder
from kuadns_sync.bundle import Bundle, ZoneBundle, routing_from_json
from kuadns_sync.compile import compile_bundle
from kuadns_sync.geo import Location

ORIGIN = "z.test"
POOL = ["a", "b", "c.a", "d.c.a", "*.w", "x.w", "e.f", "*.f", "g"]
QUERIES = [*[n for n in POOL if not n.startswith("*")], "q.a", "zz", "y.w", "deep.y.w", "h.e.f", "f", "c", "*.w"]
TYPES = ["A", "AAAA", "TXT", "CNAME", "MX"]
VARIANTS = ["default", "GEO-EU"]
EU = "192.0.2.1"


def _record(rng: random.Random, name: str) -> list[str]:
    kind = rng.choice(["A", "A", "AAAA", "TXT", "CNAME", "CNAME", "A+TXT"])
    if kind == "CNAME":
        targets = [*[n for n in POOL if not n.startswith("*")], "out.example.org.", "nowhere", "m.w"]
        target = rng.choice(targets)
        target = target if target.endswith(".") else f"{target}.{ORIGIN}."
        return [f"{name} 60 IN CNAME {target}"]
    if kind == "A+TXT":
        return [f"{name} 60 IN A 10.0.{rng.randrange(3)}.1", f'{name} 60 IN TXT "t{rng.randrange(3)}"']
    value = {
        "A": f"10.0.{rng.randrange(3)}.1",
        "AAAA": f"2001:db8::{rng.randrange(3)}",
        "TXT": f'"t{rng.randrange(3)}"',
    }
    return [f"{name} 60 IN {kind} {value[kind]}"]


def random_zone(seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    base = {name: _record(rng, name) for name in POOL if rng.random() < 0.7}
    texts = {}
    for variant in VARIANTS:
        lines = [f"@ 60 IN NS ns.{ORIGIN}.", "ns 60 IN A 10.9.9.9"]
        for name, records in base.items():
            if variant != "default" and rng.random() < 0.3:
                if rng.random() < 0.5:
                    continue  # absent in this variant (geo fallback `nodata`)
                records = _record(rng, name)  # a different answer for this region
            lines += records
        texts[variant] = zone_text(ORIGIN, 1, lines, soa_ttl=60, minimum=30)
    return texts


def naive(zones: dict[str, dns.zone.Zone], union: set[dns.name.Name], qname: str, qtype: str, variant: str) -> tuple:
    zone = zones[variant]
    origin = zone.origin
    name = dns.name.from_text(qname, origin)
    rdtype = dns.rdatatype.from_text(qtype)
    answer: list[tuple[str, str, str]] = []
    seen: set[dns.name.Name] = set()
    for _ in range(8):
        if name in seen:
            return ("LOOP", answer, False)  # render rejects CNAME loops; the server answers each record once
        seen.add(name)
        node = zone.get_node(name)
        if node is None:
            if name in union:
                return ("NOERROR", answer, True)
            encloser = name.parent()
            while encloser not in union and encloser != origin:
                encloser = encloser.parent()
            wildcard = dns.name.Name((b"*", *encloser.labels))
            if wildcard not in union:
                return ("NXDOMAIN", answer, True)
            node = zone.get_node(wildcard)
            if node is None:
                return ("NOERROR", answer, True)
        rdataset = node.get_rdataset(dns.rdataclass.IN, rdtype)
        if rdataset is not None:
            answer += [(name.to_text(), qtype, r.to_text()) for r in rdataset]
            return ("NOERROR", answer, False)
        cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is None or rdtype == dns.rdatatype.CNAME:
            return ("NOERROR", answer, True)
        answer += [(name.to_text(), "CNAME", cname[0].to_text())]
        name = cname[0].target
        if not name.is_subdomain(origin):
            return ("NOERROR", answer, False)
    return ("NOERROR", answer, False)


def served(responder: Responder, qname: str, qtype: str, source: str) -> tuple:
    query = dns.message.make_query(f"{qname}.{ORIGIN}.", qtype)
    wire = responder.handle(query.to_wire(), source, tcp=True)
    assert wire is not None
    reply = dns.message.from_wire(wire, one_rr_per_rrset=True)  # duplicates stay visible
    answer = [(rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype), rr[0].to_text()) for rr in reply.answer]
    has_soa = any(rrset.rdtype == dns.rdatatype.SOA for rrset in reply.authority)
    return (dns.rcode.to_text(reply.rcode()), answer, has_soa)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_compiled_answers_equal_the_naive_resolver(seed: int) -> None:
    texts = random_zone(seed)
    files = ZoneFiles(ORIGIN, 1, texts)
    routing = routing_from_json({"variants": {v: {} for v in texts}}, "routing.json")
    bundle = Bundle(Path("g-ref"), "h", "any", (ZoneBundle(ORIGIN, 1, "h", tuple(texts), texts, routing),))
    tables = compile_bundle(bundle)
    locations = {EU: Location(None, "EU", 24)}
    responder = Responder(tables, lambda a: locations.get(str(a), Location(None, None, 0)), random.Random(1))
    zones = {v: dns.zone.from_text(t, origin=f"{ORIGIN}.", relativize=False) for v, t in files.texts.items()}
    union: set[dns.name.Name] = set()
    for zone in zones.values():
        for name in zone.nodes:
            while name != zone.origin and name not in union:
                union.add(name)
                name = name.parent()
    for variant, source in (("default", "198.51.100.1"), ("GEO-EU", EU)):
        for qname in QUERIES:
            for qtype in TYPES:
                want = naive(zones, union, qname, qtype, variant)
                got = served(responder, qname, qtype, source)
                if want[0] == "LOOP":
                    # A loop through a wildcard may repeat the query name's own synthesized record once
                    # (the tables are built before the query name is known); nothing else may differ.
                    assert got[0] == "NOERROR" and set(got[1]) == set(want[1]), (seed, variant, qname, qtype)
                    continue
                assert (got[0], sorted(got[1]), got[2]) == (want[0], sorted(want[1]), want[2]), (
                    seed,
                    variant,
                    qname,
                    qtype,
                    texts[variant],
                )
