"""Zone-file rendering: the text shared between variants is the text of each variant's RRsets, one by one."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from kuadns_sync import __version__
from kuadns_sync.model import Endpoint, GeoFallback, Nameserver, Settings, ZoneConfig, ZoneView
from kuadns_sync.render import SERIAL_PLACEHOLDER, make_env, relative_owner, render_variants, rrset_lines
from kuadns_sync.variants import ResolvedZone, resolve_zone

ZONE = ZoneConfig("k.example.com", (Nameserver("ns1.k.example.com", ("192.0.2.53",)),))
_LABEL = st.text(alphabet="abc0-", min_size=1, max_size=20)


@st.composite
def _endpoints(draw: st.DrawFn) -> tuple[Endpoint, ...]:
    """Plain RRsets, weighted sets and geo sets side by side; some members without a target (no line)."""
    eps: list[Endpoint] = []
    for i, label in enumerate(draw(st.lists(_LABEL, max_size=8, unique=True))):
        name = f"{label}.k.example.com"
        kind = draw(st.sampled_from(["plain", "empty", "weighted", "geo", "geo"]))
        if kind in ("plain", "empty"):
            targets = () if kind == "empty" else (f"192.0.2.{i}", "192.0.2.200")
            eps.append(Endpoint(name, "A", targets, 60))
            continue
        for j in range(draw(st.integers(min_value=1, max_value=3))):
            geo = draw(st.sampled_from(["IE", "US", "GEO-EU", "GEO-AS", "*"])) if kind == "geo" else None
            weight = draw(st.integers(min_value=0, max_value=5)) if kind == "weighted" else None
            target = draw(st.sampled_from([(f"m{j}.k.example.com",), (f"m{j}.k.example.com",), ()]))
            eps.append(Endpoint(name, "CNAME", target, 300, f"s{j}", weight=weight, geo=geo))
    return tuple(eps)


def _one_by_one(resolved: ResolvedZone, variant_name: str) -> str:
    """The zone file of a variant written RRset by RRset (owner column as wide as the longest owner, max 48)."""
    names = {r.name for v in resolved.variants for r in resolved.records_of(v.name)}
    width = min(max((len(relative_owner(n, resolved.name)) for n in names), default=1), 48)
    lines = [
        line
        for rrset in resolved.records_of(variant_name)
        for line in rrset_lines(rrset, relative_owner(rrset.name, resolved.name), width)
    ]
    variant = next(v for v in resolved.variants if v.name == variant_name)
    return make_env().get_template("zone.j2").render(
        generator=f"kuadns-sync {__version__}",
        zone=resolved.name,
        variant=variant,
        default_ttl=60,
        soa=resolved.soa,
        serial=SERIAL_PLACEHOLDER,
        body="\n".join(lines),
    )


@settings(max_examples=80, deadline=None)
@given(eps=_endpoints(), fallback=st.sampled_from(["any", "nodata"]))
def test_each_variant_is_its_rrsets_written_one_by_one(eps: tuple[Endpoint, ...], fallback: GeoFallback) -> None:
    resolved = resolve_zone(ZoneView(ZONE, eps), replace(Settings(zones=(ZONE,)), geo_fallback=fallback))
    texts = render_variants(resolved, 60)
    assert list(texts) == [v.name for v in resolved.variants]
    for name, text in texts.items():
        assert text == _one_by_one(resolved, name)


def test_a_weighted_set_shows_its_representative_and_the_others_as_comments() -> None:
    eps = (
        Endpoint("w.k.example.com", "CNAME", ("a.k.example.com",), 60, "a", weight=1),
        Endpoint("w.k.example.com", "CNAME", ("b.k.example.com",), 60, "b", weight=3),
    )
    text = render_variants(resolve_zone(ZoneView(ZONE, eps), Settings(zones=(ZONE,))), 60)["default"]
    body = text.split("        )\n", 1)[1].splitlines()  # after the SOA
    assert body[2:5] == [
        "; weighted set w CNAME: one member below is chosen per answer",
        "w       60 IN CNAME b.k.example.com.",
        ";w      60 IN CNAME a.k.example.com. ; weighted set member 'a' weight 1",
    ]
