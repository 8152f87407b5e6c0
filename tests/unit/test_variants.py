"""Per-region variant resolution (docs/bundle-format.md): geo precedence, fallback, weighted sets, apex."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kuadns_sync.model import Endpoint, Nameserver, Settings, ZoneConfig, ZoneView
from kuadns_sync.variants import (
    Variant,
    email_to_mailbox,
    geo_keep,
    rdata_text,
    resolve_zone,
    txt_rdata,
    variants_for,
)

ZONE = ZoneConfig("k.example.com", (Nameserver("ns1.k.example.com", ("192.0.2.53",)),))


def cname(name: str, target: str, set_id: str = "", *, geo: str | None = None, weight: int | None = None) -> Endpoint:
    return Endpoint(name, "CNAME", (target,), 300, set_id, weight=weight, geo=geo)


GEO_SET = [
    cname("klb.k.example.com", "ie.k.example.com", "IE", geo="IE"),
    cname("klb.k.example.com", "eu.k.example.com", "GEO-EU", geo="GEO-EU"),
    cname("klb.k.example.com", "def.k.example.com", "default", geo="*"),
    cname("klb.k.example.com", "na.k.example.com", "GEO-NA", geo="GEO-NA"),
]


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (Variant("IE", "IE", "EU"), ["ie.k.example.com"]),
        (Variant("GEO-EU", None, "EU"), ["eu.k.example.com"]),
        (Variant("FR", "FR", "EU"), ["eu.k.example.com"]),
        (Variant("GEO-NA", None, "NA"), ["na.k.example.com"]),
        (Variant("JP", "JP", "AS"), ["def.k.example.com"]),
        (Variant("default"), ["def.k.example.com"]),
    ],
)
def test_geo_keep_prefers_country_then_continent_then_default(variant: Variant, expected: list[str]) -> None:
    kept, equal = geo_keep(GEO_SET, variant, "any")
    assert [m.targets[0] for m in kept] == expected
    assert equal is False


def test_geo_fallback_any_keeps_every_member_with_equal_chance() -> None:
    members = [m for m in GEO_SET if m.geo != "*"]
    kept, equal = geo_keep(members, Variant("JP", "JP", "AS"), "any")
    assert len(kept) == 3 and equal is True


def test_geo_fallback_nodata_keeps_nothing() -> None:
    members = [m for m in GEO_SET if m.geo != "*"]
    assert geo_keep(members, Variant("default"), "nodata") == ([], False)


def test_variants_are_default_then_continents_then_countries() -> None:
    names = [v.name for v in variants_for(GEO_SET)]
    assert names == ["default", "GEO-EU", "GEO-NA", "IE"]
    ie = variants_for(GEO_SET)[-1]
    assert (ie.country, ie.continent) == ("IE", "EU")


def test_resolved_zone_writes_one_member_per_variant_and_weighted_sets_for_ties() -> None:
    weighted = [
        cname("w.k.example.com", "a.k.example.com", "a", weight=3),
        cname("w.k.example.com", "b.k.example.com", "b", weight=1),
    ]
    view = ZoneView(ZONE, tuple(GEO_SET + weighted))
    resolved = resolve_zone(view, Settings(zones=(ZONE,)))
    by_variant = {
        v: {(r.name, r.rtype): r.rdata for r in rrsets} for v, rrsets in resolved.records.items()
    }
    assert by_variant["IE"][("klb.k.example.com", "CNAME")] == ("ie.k.example.com.",)
    assert by_variant["default"][("klb.k.example.com", "CNAME")] == ("def.k.example.com.",)
    # The weighted set is the same everywhere: representative = highest weight, all members in routing.
    for variant in resolved.variants:
        assert by_variant[variant.name][("w.k.example.com", "CNAME")] == ("a.k.example.com.",)
        members = resolved.routing[variant.name]["w.k.example.com"]["CNAME"]
        assert [(m.set, m.weight) for m in members] == [("a", 3), ("b", 1)]
    assert "klb.k.example.com" not in resolved.routing["IE"]


def test_geo_set_without_default_in_default_variant_becomes_equal_weighted_set() -> None:
    members = [m for m in GEO_SET if m.geo != "*"]
    resolved = resolve_zone(ZoneView(ZONE, tuple(members)), Settings(zones=(ZONE,)))
    routed = resolved.routing["default"]["klb.k.example.com"]["CNAME"]
    assert sorted(m.weight for m in routed) == [1, 1, 1]


def test_geo_set_nodata_fallback_drops_the_name_type_from_the_variant() -> None:
    members = [m for m in GEO_SET if m.geo != "*"]
    settings = replace(Settings(zones=(ZONE,)), geo_fallback="nodata")
    resolved = resolve_zone(ZoneView(ZONE, tuple(members)), settings)
    assert all(r.name != "klb.k.example.com" for r in resolved.records["default"])
    assert any(r.name == "klb.k.example.com" for r in resolved.records["IE"])


def test_apex_uses_configured_nameservers_with_glue_and_never_duplicates() -> None:
    resolved = resolve_zone(ZoneView(ZONE, ()), Settings(zones=(ZONE,)))
    records = {(r.name, r.rtype): r.rdata for r in resolved.records["default"]}
    assert records[("k.example.com", "NS")] == ("ns1.k.example.com.",)
    assert records[("ns1.k.example.com", "A")] == ("192.0.2.53",)
    assert resolved.soa.mname == "ns1.k.example.com."
    assert resolved.soa.rname == "hostmaster.k.example.com."


def test_apex_ns_endpoints_replace_the_configured_ones() -> None:
    eps = (
        Endpoint("k.example.com", "NS", ("ns1.k.example.com", "ns2.k.example.com"), 60),
        Endpoint("ns2.k.example.com", "A", ("192.0.2.2",), 60),
    )
    resolved = resolve_zone(ZoneView(ZONE, eps), Settings(zones=(ZONE,)))
    ns = [r for r in resolved.records["default"] if r.rtype == "NS"]
    assert len(ns) == 1 and ns[0].rdata == ("ns1.k.example.com.", "ns2.k.example.com.")


@pytest.mark.parametrize(
    ("email", "mailbox"),
    [
        ("admin@example.com", "admin.example.com."),
        ("  admin@example.com  ", "admin.example.com."),
        ("hostmaster@sub.example.com", "hostmaster.sub.example.com."),
        ("dns.admin@example.com", "dns\\.admin.example.com."),
        ("my.dns.admin@example.com", "my\\.dns\\.admin.example.com."),
        ("", ""),
        ("adminexample.com", ""),
        ("@example.com", ""),
        ("admin@", ""),
        ("  @example.com", ""),
    ],
)
def test_email_to_mailbox_matches_upstream_table(email: str, mailbox: str) -> None:
    assert email_to_mailbox(email) == mailbox


def test_txt_targets_are_split_at_255_bytes_and_escaped() -> None:
    assert txt_rdata('"quoted" \\ ok') == '"\\"quoted\\" \\\\ ok"'
    long = txt_rdata("x" * 300)
    assert long == '"' + "x" * 255 + '" "' + "x" * 45 + '"'
    assert txt_rdata("é") == '"\\195\\169"'


@pytest.mark.parametrize(
    ("rtype", "target", "text"),
    [
        ("CNAME", "a.example.com", "a.example.com."),
        ("MX", "10 Mail.Example.com", "10 mail.example.com."),
        ("SRV", "0 5 5060 sip.example.com", "0 5 5060 sip.example.com."),
        ("CAA", "0 issue letsencrypt.org", '0 issue "letsencrypt.org"'),
        ("AAAA", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_rdata_presentation(rtype: str, target: str, text: str) -> None:
    assert rdata_text(rtype, target) == text
