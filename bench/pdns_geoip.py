"""Express one zone of a bundle as a PowerDNS GeoIP-backend YAML zone (the geo+weighted peer).

Pure apart from reading nothing: input is a loaded `ZoneBundle`, output is YAML text. A name whose
records are the same in every variant is written as plain records (weighted sets with the `weight`
attribute); a name whose records depend on the variant becomes a service
`N: ['%cc._v.N', 'geo-%cn._v.N', 'default._v.N']` whose targets hold each variant's records.
PowerDNS answers a service with the records of the first target that exists, directly (no CNAME),
which is the bundle's most-specific-variant rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from kuadns_sync.bundle import RoutingMember, ZoneBundle
from kuadns_sync.geocodes import continent_of
from kuadns_sync.zoneread import strip_comment

SELECTOR = "_v"
DEFAULT_VARIANT = "default"

# One record: (ttl, rdata presentation, weight or None). A (name, type) holds a sorted tuple of them.
Record = tuple[int, str, int | None]
Content = dict[str, dict[str, tuple[Record, ...]]]  # name -> type -> records
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def parse_zone_text(text: str, zone: str) -> Iterator[tuple[str, str, int, str]]:
    """(owner, type, ttl, rdata as written) of every record of a rendered master file.

    Reads the subset of RFC 1035 §5 master-file syntax that render writes ($ORIGIN, $TTL,
    parentheses, comments, relative and absolute owners, optional class); record data stays as
    written, which is what routing.json uses too. Much faster than dns.zone for 9 variants of 10k
    names, since lines repeat across variants and are cached.
    """
    origin = zone.rstrip(".").lower()
    default_ttl = 0
    owner = origin
    pending: list[str] = []
    for raw in text.splitlines():
        line = strip_comment(raw)
        if line is None:  # quoting render never writes (parentheses inside a quoted string)
            raise ValueError(f"zone {zone}: cannot read line {raw!r}")
        if pending:
            pending.append(line)
            if ")" not in line:
                continue
            line = " ".join(pending).replace("(", " ").replace(")", " ")
            pending = []
        elif "(" in line and ")" not in line:
            pending = [line]
            continue
        if not line.strip():
            continue
        if line.startswith("$"):
            keyword, _, value = line.partition(" ")
            if keyword.upper() == "$ORIGIN":
                origin = value.strip().rstrip(".").lower()
            elif keyword.upper() == "$TTL":
                default_ttl = int(value.split()[0])
            continue
        parsed = _LINE_CACHE.get((origin, line))
        if parsed is None:
            parsed = _parse_record_line(line, origin, owner, default_ttl)
            if not line[0].isspace():
                _LINE_CACHE[(origin, line)] = parsed
        owner = parsed[0]
        yield parsed


_LINE_CACHE: dict[tuple[str, str], tuple[str, str, int, str]] = {}


def _parse_record_line(line: str, origin: str, previous_owner: str, default_ttl: int) -> tuple[str, str, int, str]:
    line = line.replace("(", " ").replace(")", " ") if "(" in line else line
    if line[0].isspace():
        owner, rest = previous_owner, line.strip()
    else:
        first, _, rest = line.strip().partition(" ")
        if first == "@":
            owner = origin
        elif first.endswith("."):
            owner = first.rstrip(".").lower()
        else:
            owner = f"{first}.{origin}".lower()
    ttl = default_ttl
    fields = rest.split(None, 3)
    pos = 0
    if fields[pos].isdigit():
        ttl = int(fields[pos])
        pos += 1
    if fields[pos].upper() == "IN":
        pos += 1
    rtype = fields[pos].upper()
    remainder = rest.split(None, pos + 1)[pos + 1] if len(rest.split(None, pos + 1)) > pos + 1 else ""
    return owner, rtype, ttl, " ".join(remainder.split()) if '"' not in remainder else remainder.strip()


def _weighted(members: tuple[RoutingMember, ...]) -> tuple[Record, ...]:
    # Answer-time rule (routing-semantics §4): weight 0 is never chosen unless all are 0, then uniform.
    if all(m.weight == 0 for m in members):
        chosen = [(m, 1) for m in members]
    else:
        chosen = [(m, m.weight) for m in members if m.weight > 0]
    # The GeoIP backend picks one *record* by weight; a member with several rdata becomes several
    # records sharing its weight (not exactly the same as returning the member's whole RRset).
    return tuple(sorted((m.ttl, rdata, weight) for m, weight in chosen for rdata in m.rdata))


def variant_content(bundle: ZoneBundle, variant: str) -> Content:
    """name -> type -> records a client of `variant` is answered from (zone file + weighted sets)."""
    out: dict[str, dict[str, list[Record]]] = {}
    for name, rtype, ttl, rdata in parse_zone_text(bundle.zone_texts[variant], bundle.name):
        out.setdefault(name, {}).setdefault(rtype, []).append((ttl, rdata, None))
    content: Content = {name: {t: tuple(sorted(r)) for t, r in types.items()} for name, types in out.items()}
    for name, types in bundle.routing.get(variant, {}).items():
        for rtype, members in types.items():
            content.setdefault(name, {})[rtype] = _weighted(members)
    return content


def _fallback(variant: str, variants: tuple[str, ...]) -> str | None:
    # Where a client of `variant` would land if that variant did not exist (bundle-format.md).
    if variant == DEFAULT_VARIANT:
        return None
    if not variant.startswith("GEO-"):
        continent = continent_of(variant)
        if continent is not None and f"GEO-{continent}" in variants:
            return f"GEO-{continent}"
    return DEFAULT_VARIANT


def _yaml_records(types: Mapping[str, tuple[Record, ...]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for rtype in sorted(types, key=lambda t: (t != "SOA", t != "NS", t)):
        for ttl, rdata, weight in types[rtype]:
            body: dict[str, Any] = {"content": rdata, "ttl": ttl}
            if weight is not None:
                body["weight"] = weight
            items.append({rtype.lower(): body})
    return items


def selector_label(variant: str) -> str:
    """The first label of a variant's service target: `ie`, `geo-eu`, `default`."""
    return variant.lower()


def geoip_zone(bundle: ZoneBundle) -> dict[str, Any]:
    """The GeoIP-backend YAML document (as data) for one bundle zone. Raises ValueError if the apex
    depends on the variant (a service cannot live beside SOA/NS, RFC 2181 §10.1)."""
    variants = tuple(bundle.variants)
    contents = {v: variant_content(bundle, v) for v in variants}
    default = contents[DEFAULT_VARIANT]
    names = sorted({n for c in contents.values() for n in c}, key=lambda n: tuple(reversed(n.split("."))))
    records: dict[str, list[dict[str, Any]]] = {}
    services: dict[str, list[str]] = {}
    for name in names:
        per_variant = {v: contents[v].get(name, {}) for v in variants}
        if all(per_variant[v] == per_variant[DEFAULT_VARIANT] for v in variants):
            records[name] = _yaml_records(default[name])
            continue
        if name == bundle.name:
            raise ValueError(f"{bundle.name}: apex records differ between variants; not expressible")
        for v in variants:
            fallback = _fallback(v, variants)
            if not per_variant[v] or (fallback is not None and per_variant[v] == per_variant[fallback]):
                continue
            records[f"{selector_label(v)}.{SELECTOR}.{name}"] = _yaml_records(per_variant[v])
        services[name] = [
            f"%cc.{SELECTOR}.{name}",
            f"geo-%cn.{SELECTOR}.{name}",
            f"{DEFAULT_VARIANT}.{SELECTOR}.{name}",
        ]
    soa = default[bundle.name]["SOA"][0]
    domain: dict[str, Any] = {"domain": bundle.name, "ttl": soa[0], "records": records}
    if services:
        domain["services"] = services
    return {"domains": [domain]}


def geoip_zone_yaml(bundle: ZoneBundle) -> str:
    """`geoip_zone` as YAML text for `geoip-zones-file`."""
    return str(yaml.dump(geoip_zone(bundle), Dumper=_DUMPER, sort_keys=False, default_flow_style=False))
