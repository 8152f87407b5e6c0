"""Serving bundles rendered by the real pipeline: the bundled example and every golden case.

The hand-written bundle of the other tests pins the rules; this checks that what `render` writes
compiles and is answered the same way (routing-semantics §4).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import dns.message
import dns.rdatatype
import dns.zone
import pytest
from serve.serve_helpers import (
    IE_CLIENT,
    JP_CLIENT,
    US_CLIENT,
    addresses,
    answer_texts,
    ask,
    make_query,
    rcode,
)
from serve.test_weights import CRITICAL, chi_square

from kuadns_sync.answer import Responder
from kuadns_sync.bundle import read_bundle
from kuadns_sync.compile import Tables, compile_bundle
from kuadns_sync.config import settings_from_options
from kuadns_sync.geo import Locator
from kuadns_sync.pipeline import render_records

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "kuadns_sync" / "examples"
GOLDEN_CASES = sorted(p for p in (REPO / "golden").iterdir() if (p / "records").is_dir())
ZONE = "k.example.com"


def render(records: Path, out: Path, config: Path | None = None) -> Path:
    settings = settings_from_options(config=config, records=records)
    return render_records(records, out, settings, now=1767225600.0)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Tables:
    out = tmp_path_factory.mktemp("example")
    render(EXAMPLES, out)
    return compile_bundle(read_bundle(out))


@pytest.fixture
def served(example: Tables, locator: Locator) -> Responder:
    return Responder(example, locator.locate, random.Random(99))


def test_example_geo_chain_by_client_location(served: Responder) -> None:
    eu = ask(served, make_query(f"api.{ZONE}"), source=IE_CLIENT)
    assert answer_texts(eu)[:2] == [
        f"api.{ZONE}. 300 CNAME klb.api.{ZONE}.",
        f"klb.api.{ZONE}. 300 CNAME geo-eu.klb.api.{ZONE}.",
    ]
    assert addresses(eu) == ["172.18.200.1"]
    assert addresses(ask(served, make_query(f"api.{ZONE}"), source=US_CLIENT)) == ["172.18.200.2"]
    # No geo matches (JP): the `*` default (the GEO-EU cluster, defaultGeo: true).
    assert addresses(ask(served, make_query(f"api.{ZONE}"), source=JP_CLIENT)) == ["172.18.200.1"]


def test_example_ecs_scope(served: Responder) -> None:
    geo = ask(served, make_query(f"api.{ZONE}", ecs="127.0.200.0/24"))
    plain = ask(served, make_query(f"simple.{ZONE}", ecs="127.0.200.0/24"))
    assert [o.scopelen for o in geo.options] == [24] and [o.scopelen for o in plain.options] == [0]


def test_example_weighted_shop_three_to_one_and_gateway_ips_whole(served: Responder) -> None:
    wire = make_query(f"shop.{ZONE}").to_wire()
    counts: Counter[str] = Counter()
    parsed: dict[bytes, tuple[str, ...]] = {}
    for _ in range(2000):
        reply = served.handle(wire, IE_CLIENT)
        assert reply is not None
        if reply not in parsed:
            parsed[reply] = tuple(sorted(addresses(dns.message.from_wire(reply))))
        counts[",".join(parsed[reply])] += 1
    assert set(counts) == {"172.18.201.1,172.18.201.2", "172.18.202.1"}  # gw-a's two IPs stay together
    observed = {"gw-a": counts["172.18.201.1,172.18.201.2"], "gw-b": counts["172.18.202.1"]}
    assert chi_square(observed, {"gw-a": 0.75, "gw-b": 0.25}) < CRITICAL[1]
    assert chi_square(observed, {"gw-a": 0.5, "gw-b": 0.5}) > 20 * CRITICAL[1]


def test_example_simple_and_ownership_records(served: Responder) -> None:
    assert addresses(ask(served, make_query(f"simple.{ZONE}"))) == ["172.18.200.1"]
    assert answer_texts(ask(served, make_query(f"simple.{ZONE}", "TXT"))) == [f'simple.{ZONE}. 60 TXT "v=spf1 -all"']
    owner = ask(served, make_query(f"kuadrant-15dlpds8-cname-api.{ZONE}", "TXT"))
    assert "heritage=external-dns" in answer_texts(owner)[0]


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda p: p.name)
def test_every_golden_case_compiles_and_serves_its_default_zone(case: Path, tmp_path: Path) -> None:
    render(case / "records", tmp_path, case / "kuadns.yaml")
    bundle = read_bundle(tmp_path)
    tables = compile_bundle(bundle)
    responder = Responder(tables, None, random.Random(1))
    for zone in bundle.zones:
        parsed = dns.zone.from_text(zone.zone_texts["default"], origin=f"{zone.name}.", relativize=False)
        routed = {(name, rtype) for name, types in zone.routing.get("default", {}).items() for rtype in types}
        cuts = [n for n, rds in parsed.iterate_rdatasets() if rds.rdtype == dns.rdatatype.NS and n != parsed.origin]
        for name, rdataset in parsed.iterate_rdatasets():
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            owner = name.to_text().rstrip(".")
            if (owner, rtype) in routed or any(name.is_subdomain(cut) for cut in cuts):
                continue  # weighted sets draw one member; at and below delegations we refer
            reply = ask(responder, make_query(name.to_text(), rtype), tcp=True)
            assert rcode(reply) == "NOERROR", (case.name, owner, rtype)
            got = {str(rd) for rrset in reply.answer if rrset.name == name for rd in rrset}
            assert got == {str(rd) for rd in rdataset}, (case.name, owner, rtype)


def test_wildcard_and_delegation_case(tmp_path: Path) -> None:
    case = REPO / "golden" / "wildcard-delegation"
    render(case / "records", tmp_path, case / "kuadns.yaml")
    responder = Responder(compile_bundle(read_bundle(tmp_path)), None, random.Random(1))
    assert answer_texts(ask(responder, make_query(f"x.apps.{ZONE}"))) == [f"x.apps.{ZONE}. 60 A 127.0.0.1"]
    assert addresses(ask(responder, make_query(f"foo.apps.{ZONE}"))) == ["127.0.0.2"]
    chained = answer_texts(ask(responder, make_query(f"q.w.{ZONE}")))
    assert chained == [f"q.w.{ZONE}. 60 CNAME a.b.{ZONE}.", f"a.b.{ZONE}. 60 A 192.0.2.1"]
    assert rcode(ask(responder, make_query(f"b.{ZONE}"))) == "NOERROR"  # empty non-terminal
    referral = ask(responder, make_query(f"host.sub.{ZONE}"))
    assert referral.answer == [] and [str(r.name) for r in referral.authority] == [f"sub.{ZONE}."]
    assert [str(r[0]) for r in referral.additional] == ["192.0.2.53"]
