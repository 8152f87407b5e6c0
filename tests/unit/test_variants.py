"""Per-region variant resolution (docs/bundle-format.md): geo precedence, fallback, weighted sets, apex."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuadns_sync.model import Endpoint, GeoFallback, Nameserver, Settings, ZoneConfig, ZoneView
from kuadns_sync.variants import (
    Variant,
    email_to_mailbox,
    geo_keep,
    name_sort_key,
    rdata_text,
    resolve_zone,
    txt_rdata,
    variants_for,
    zone_order_key,
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


# --- zone order and the shared layout: the fast paths agree with the plain definitions ---

_LABEL = st.text(alphabet="ab0-_*", min_size=1, max_size=3)
_NAME = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(_NAME, st.sampled_from(["SOA", "NS", "A", "AAAA", "CNAME", "TXT"])), unique=True))
def test_zone_order_key_sorts_as_the_label_tuples(pairs: list[tuple[str, str]]) -> None:
    by_tuples = sorted(pairs, key=lambda p: (name_sort_key(p[0]), {"SOA": 0, "NS": 1}.get(p[1], 2), p[1]))
    assert sorted(pairs, key=zone_order_key) == by_tuples


def test_names_with_the_join_characters_still_sort_by_labels() -> None:
    # As one string key these two names would tie; as labels, `a` (a prefix of `a\x01b`) comes first.
    eps = (
        Endpoint("a\x01b.k.example.com", "A", ("192.0.2.1",), 60),
        Endpoint("b.a.k.example.com", "A", ("192.0.2.2",), 60),
    )
    resolved = resolve_zone(ZoneView(ZONE, eps), Settings(zones=(ZONE,)))
    names = [r.name for r in resolved.records["default"] if r.name.endswith(".k.example.com") and r.rtype == "A"]
    assert names == ["b.a.k.example.com", "a\x01b.k.example.com", "ns1.k.example.com"]


def test_a_nameserver_configured_twice_is_written_twice() -> None:
    ns = Nameserver("ns1.k.example.com", ("192.0.2.53",))
    resolved = resolve_zone(ZoneView(ZoneConfig("k.example.com", (ns, ns)), ()), Settings(zones=(ZONE,)))
    assert [(r.name, r.rtype) for r in resolved.records["default"]].count(("ns1.k.example.com", "A")) == 2


_GEO = st.sampled_from(["IE", "US", "JP", "GEO-EU", "GEO-NA", "*"])


@st.composite
def _zone_endpoints(draw: st.DrawFn) -> tuple[Endpoint, ...]:
    """A small zone: plain RRsets, weighted sets and geo sets (some without `*`), TXT with quotes."""
    eps: list[Endpoint] = []
    labels_ = st.lists(_LABEL.filter(lambda s: s != "*"), min_size=1, max_size=2)
    names = draw(st.lists(labels_, max_size=6, unique_by=tuple))
    for labels in names:
        name = ".".join([*labels, "k.example.com"])
        kind = draw(st.sampled_from(["plain", "plain", "txt", "weighted", "geo"]))
        if kind == "plain":
            targets = tuple(draw(st.lists(st.sampled_from(["192.0.2.1", "192.0.2.2"]), min_size=1, max_size=2)))
            eps.append(Endpoint(name, "A", targets, draw(st.sampled_from([0, 60, 300]))))
        elif kind == "txt":
            eps.append(Endpoint(name, "TXT", (draw(st.sampled_from(['"owner=a"', "x" * 300, ""])),), 0))
        else:
            for i in range(draw(st.integers(min_value=1, max_value=4))):
                geo = draw(_GEO) if kind == "geo" else None
                weight = draw(st.integers(min_value=0, max_value=3)) if kind == "weighted" else None
                eps.append(Endpoint(name, "CNAME", (f"t{i}.k.example.com",), 60, f"s{i}", weight=weight, geo=geo))
    return tuple(eps)


@settings(max_examples=80, deadline=None)
@given(eps=_zone_endpoints(), fallback=st.sampled_from(["any", "nodata"]))
def test_every_variant_holds_its_geo_choice_in_zone_order(eps: tuple[Endpoint, ...], fallback: GeoFallback) -> None:
    settings_ = replace(Settings(zones=(ZONE,)), geo_fallback=fallback)
    resolved = resolve_zone(ZoneView(ZONE, eps), settings_)
    for variant in resolved.variants:
        records = resolved.records_of(variant.name)
        keys = [(name_sort_key(r.name), {"SOA": 0, "NS": 1}.get(r.rtype, 2), r.rtype) for r in records]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        by_key = {(r.name, r.rtype): r for r in records}
        for name in {ep.dns_name for ep in eps}:
            members = sorted((ep for ep in eps if ep.dns_name == name), key=lambda ep: ep.set_identifier)
            kept, _ = geo_keep(members, variant, fallback) if any(m.geo for m in members) else (members, False)
            rrset = by_key.get((name, members[0].record_type))
            if not kept:
                assert rrset is None
                continue
            assert rrset is not None
            written = {rd for r in (rrset, *(m for alt in rrset.alternatives for m in alt)) for rd in r.rdata}
            if members[0].record_type == "CNAME":
                assert written == {f"{t}." for m in kept for t in m.targets}
