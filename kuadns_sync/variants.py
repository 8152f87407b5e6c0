"""Resolve a merged zone into per-region variants: the RRsets each kind of client gets, and weighted sets.

Pure, no I/O. Implements docs/bundle-format.md "How render resolves a routing set in a variant":
geo first (country over continent over `*`, then the configured fallback), then weights are left
for answer time. Record data is turned into presentation format here, once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import cast

from kuadns_sync.bundle import RoutingMember
from kuadns_sync.geocodes import continent_of
from kuadns_sync.model import WILDCARD_GEO, Endpoint, GeoFallback, Issue, Settings, ZoneView

DEFAULT_VARIANT = "default"
MAX_TXT_STRING = 255
_TYPE_ORDER = {"SOA": 0, "NS": 1}


@dataclass(frozen=True, slots=True)
class Variant:
    """A client location class: `default` (unknown), a continent (`GEO-EU`) or a country (`IE`)."""

    name: str
    country: str | None = None
    continent: str | None = None


@dataclass(frozen=True, slots=True)
class RRset:
    """One RRset as written in a zone file; `alternatives` are the other members of a weighted set."""

    name: str
    rtype: str
    ttl: int
    rdata: tuple[str, ...]
    alternatives: tuple[tuple[RoutingMember, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Soa:
    """The SOA fields; the serial is filled in by the bundle stage."""

    mname: str
    rname: str
    refresh: int
    retry: int
    expire: int
    minimum: int
    ttl: int


@dataclass(frozen=True, slots=True)
class ResolvedZone:
    """A zone resolved into variants: records per variant (sorted) and weighted sets per variant."""

    name: str
    soa: Soa
    variants: tuple[Variant, ...]
    records: Mapping[str, tuple[RRset, ...]]
    routing: Mapping[str, Mapping[str, Mapping[str, tuple[RoutingMember, ...]]]]
    issues: tuple[Issue, ...]


def absolute(name: str) -> str:
    """Absolute presentation form of a canonical (dotless) name."""
    return name + "."


def email_to_mailbox(email: str) -> str:
    """SOA RNAME from an e-mail address (upstream convertEmailToMailbox): '' when invalid.

    Dots in the local part are escaped (`dns.admin@example.com` -> `dns\\.admin.example.com.`).
    """
    email = email.strip()
    local, at, domain = email.partition("@")
    local, domain = local.strip(), domain.strip().rstrip(".")
    if not at or not local or not domain or local != email.partition("@")[0]:
        return ""
    return local.replace(".", "\\.") + "." + domain + "."


_NON_PRINTABLE = re.compile(rb"[^\x20-\x7e]")


def _escape_txt_chunk(chunk: bytes) -> str:
    if _NON_PRINTABLE.search(chunk) is None:  # fast path: printable ASCII, only quotes/backslashes to escape
        return '"' + chunk.decode("ascii").replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = []
    for byte in chunk:
        if byte in (0x22, 0x5C):  # " and \ (RFC 1035 §5.1)
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def txt_rdata(value: str) -> str:
    """One TXT record for one target: split into character-strings of at most 255 bytes."""
    data = value.encode("utf-8")
    if not data:
        return '""'
    chunks = [data[i : i + MAX_TXT_STRING] for i in range(0, len(data), MAX_TXT_STRING)]
    return " ".join(_escape_txt_chunk(c) for c in chunks)


@lru_cache(maxsize=1 << 16)
def rdata_text(rtype: str, target: str) -> str:
    """Presentation format of one target of an endpoint of type `rtype`."""
    if rtype in ("CNAME", "NS"):
        return absolute(target)
    if rtype == "TXT":
        return txt_rdata(target)
    if rtype in ("MX", "SRV"):
        *fields, host = target.split()
        return " ".join([*fields, absolute(host.rstrip(".").lower())])
    if rtype == "CAA":
        flags, tag, value = target.split(None, 2)
        value = value.strip()
        if not (value.startswith('"') and value.endswith('"')):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{flags} {tag} {value}"
    return target


def name_sort_key(name: str) -> tuple[str, ...]:
    """Zone-file order: labels compared right to left (parents before children)."""
    return tuple(reversed(name.split(".")))


def _rrset_sort_key(rrset: RRset) -> tuple[tuple[str, ...], int, str]:
    return name_sort_key(rrset.name), _TYPE_ORDER.get(rrset.rtype, 2), rrset.rtype


def _ttl(ep: Endpoint, settings: Settings) -> int:
    return ep.ttl if ep.ttl > 0 else settings.default_ttl


def _is_routing(members: Sequence[Endpoint]) -> bool:
    return any(m.geo is not None or m.weight is not None for m in members)


def _member(ep: Endpoint, weight: int, settings: Settings, index: int) -> RoutingMember:
    rdata = tuple(sorted(dict.fromkeys(rdata_text(ep.record_type, t) for t in ep.targets)))
    return RoutingMember(set=ep.set_identifier or f"#{index}", weight=weight, ttl=_ttl(ep, settings), rdata=rdata)


def geo_index(members: Sequence[Endpoint]) -> dict[str, tuple[int, ...]] | None:
    """Member positions by geo code (members without one count as `*`); None when no member has a geo code."""
    if not any(m.geo is not None for m in members):
        return None
    index: dict[str, list[int]] = defaultdict(list)
    for i, member in enumerate(members):
        index[member.geo or WILDCARD_GEO].append(i)
    return {code: tuple(positions) for code, positions in index.items()}


def keep_positions(
    by_geo: Mapping[str, tuple[int, ...]] | None, count: int, variant: Variant, fallback: GeoFallback
) -> tuple[tuple[int, ...], bool]:
    """Positions of the members a client of `variant` may get: most specific geo match (country, then
    continent), else `*`, else the fallback. Returns (positions, equal); `equal` means fallback `any` applied
    (weights ignored, equal chance)."""
    if by_geo is None:
        return tuple(range(count)), False
    if variant.country and variant.country in by_geo:
        return by_geo[variant.country], False
    if variant.continent and (continent := f"GEO-{variant.continent}") in by_geo:
        return by_geo[continent], False
    if WILDCARD_GEO in by_geo:
        return by_geo[WILDCARD_GEO], False
    if fallback == "any":
        return tuple(range(count)), True
    return (), False


def geo_keep(members: Sequence[Endpoint], variant: Variant, fallback: GeoFallback) -> tuple[list[Endpoint], bool]:
    """Members a client of `variant` may get (see keep_positions), and whether they have an equal chance."""
    positions, equal = keep_positions(geo_index(members), len(members), variant, fallback)
    return [members[i] for i in positions], equal


def variants_for(endpoints: Iterable[Endpoint]) -> tuple[Variant, ...]:
    """Variants of a zone: `default`, then every continent, then every country used by a geo code."""
    continents, countries = set(), set()
    for ep in endpoints:
        if ep.geo is None or ep.geo == WILDCARD_GEO:
            continue
        if ep.geo.startswith("GEO-"):
            continents.add(ep.geo[4:])
        else:
            countries.add(ep.geo)
    return (
        Variant(DEFAULT_VARIANT),
        *(Variant(f"GEO-{c}", continent=c) for c in sorted(continents)),
        *(Variant(c, country=c, continent=continent_of(c)) for c in sorted(countries)),
    )


def _plain_rrset(name: str, rtype: str, members: Sequence[Endpoint], settings: Settings) -> RRset:
    rdata = sorted(dict.fromkeys(rdata_text(rtype, t) for ep in members for t in ep.targets))
    if rtype == "CNAME":
        rdata = rdata[:1]  # RFC 1034 §3.6.2; merge reports conflicting CNAMEs before this point
    return RRset(name, rtype, min(_ttl(ep, settings) for ep in members), tuple(rdata))


def _apex(view: ZoneView, settings: Settings, present: set[tuple[str, str]]) -> tuple[Soa, list[RRset], list[Issue]]:
    zone = view.config.name
    issues: list[Issue] = []
    configured = view.config.nameservers
    extra: list[RRset] = []
    if (zone, "NS") not in present:
        names = [ns.name for ns in configured] or [f"ns1.{zone}"]
        extra.append(RRset(zone, "NS", settings.soa_ttl, tuple(sorted(dict.fromkeys(absolute(n) for n in names)))))
    for ns in configured:
        in_zone = ns.name == zone or ns.name.endswith("." + zone)
        if not in_zone:
            continue
        v4 = tuple(sorted(a for a in ns.addresses if ":" not in a))
        v6 = tuple(sorted(a for a in ns.addresses if ":" in a))
        if v4 and (ns.name, "A") not in present:
            extra.append(RRset(ns.name, "A", settings.default_ttl, v4))
        if v6 and (ns.name, "AAAA") not in present:
            extra.append(RRset(ns.name, "AAAA", settings.default_ttl, v6))
    mname = configured[0].name if configured else f"ns1.{zone}"
    rname = f"hostmaster.{zone}."
    if view.config.rname:
        mailbox = email_to_mailbox(view.config.rname)
        if mailbox:
            rname = mailbox
        else:
            issues.append(
                Issue(
                    None,
                    "warning",
                    "ConfigError",
                    f"zone {zone}: rname {view.config.rname!r} is not an e-mail address; using {rname}",
                )
            )
    soa = Soa(
        mname=absolute(mname),
        rname=rname,
        refresh=settings.soa_refresh,
        retry=settings.soa_retry,
        expire=settings.soa_expire,
        minimum=settings.soa_minimum,
        ttl=settings.soa_ttl,
    )
    return soa, extra, issues


@dataclass(frozen=True, slots=True)
class _RoutingGroup:
    """A routing set prepared once: its members, their positions by geo code, and routing entries."""

    members: tuple[Endpoint, ...]
    by_geo: Mapping[str, tuple[int, ...]] | None
    weighted: tuple[RoutingMember, ...]
    equal: tuple[RoutingMember, ...]


def _prepare_group(members: Sequence[Endpoint], settings: Settings) -> _RoutingGroup:
    weighted = tuple(_member(ep, 1 if ep.weight is None else ep.weight, settings, i) for i, ep in enumerate(members))
    equal = tuple(replace(m, weight=1) for m in weighted)
    return _RoutingGroup(tuple(members), geo_index(members), weighted, equal)


def _routed_rrset(name: str, rtype: str, routed: Sequence[RoutingMember]) -> RRset:
    if len(routed) == 1:
        return RRset(name, rtype, routed[0].ttl, routed[0].rdata)
    rep = min(routed, key=lambda m: (-m.weight, m.set))
    return RRset(name, rtype, rep.ttl, rep.rdata, alternatives=(tuple(m for m in routed if m is not rep),))


def resolve_zone(view: ZoneView, settings: Settings) -> ResolvedZone:
    """Resolve a merged zone into its variants (docs/bundle-format.md).

    Everything that does not depend on the variant (grouping, sorting, rdata text, routing members) is
    computed once; each variant then only picks members, so the cost grows with groups x variants only.
    """
    zone = view.config.name
    groups: dict[tuple[str, str], list[Endpoint]] = defaultdict(list)
    for ep in view.endpoints:  # merge keeps only names in the zone (ZoneView's contract)
        groups[(ep.dns_name, ep.record_type)].append(ep)
    variants = variants_for(view.endpoints)
    soa, apex_extra, issues = _apex(view, settings, set(groups))

    # One ordered list of entries for every variant: a plain RRset, or a routing group to resolve per variant.
    entries: list[tuple[tuple[tuple[str, ...], int, str], str, str, RRset | _RoutingGroup]] = []
    for rrset in apex_extra:
        entries.append((_rrset_sort_key(rrset), rrset.name, rrset.rtype, rrset))
    for (name, rtype), members in groups.items():
        members.sort(key=lambda e: e.set_identifier)
        key = (name_sort_key(name), _TYPE_ORDER.get(rtype, 2), rtype)
        if _is_routing(members):
            entries.append((key, name, rtype, _prepare_group(members, settings)))
        else:
            entries.append((key, name, rtype, _plain_rrset(name, rtype, members, settings)))
    entries.sort(key=lambda entry: entry[0])

    # Plain RRsets and routing sets without geo codes are the same in every variant: lay them out once,
    # then fill in the geo routing sets per variant.
    layout: list[RRset | None] = []
    shared_routing: dict[str, dict[str, tuple[RoutingMember, ...]]] = {}
    groups_at: list[tuple[int, str, str, _RoutingGroup]] = []
    for i, (_, name, rtype, entry) in enumerate(entries):
        if isinstance(entry, RRset):
            layout.append(entry)
        elif entry.by_geo is None:
            routed = tuple(sorted(entry.weighted, key=lambda m: m.set))
            layout.append(_routed_rrset(name, rtype, routed))
            if len(routed) > 1:
                shared_routing.setdefault(name, {})[rtype] = routed
        else:
            layout.append(None)
            groups_at.append((i, name, rtype, entry))
    records: dict[str, tuple[RRset, ...]] = {}
    routing: dict[str, dict[str, dict[str, tuple[RoutingMember, ...]]]] = {}
    # Variants mostly resolve a group the same way: share the RRset object (render formats it once).
    resolved: dict[tuple[int, bool, tuple[int, ...]], tuple[RRset, tuple[RoutingMember, ...]]] = {}
    for variant in variants:
        rrsets = layout.copy()
        weighted = dict(shared_routing)  # inner maps are shared until a geo set of the same name is added
        absent = False
        for i, name, rtype, group in groups_at:
            indices, equal = keep_positions(group.by_geo, len(group.members), variant, settings.geo_fallback)
            if not indices:
                absent = True  # fallback `nodata`: the name/type is absent in this variant
                continue
            memo_key = (i, equal, indices)
            if memo_key not in resolved:
                source = group.equal if equal else group.weighted
                routed = tuple(sorted((source[j] for j in indices), key=lambda m: m.set))
                resolved[memo_key] = (_routed_rrset(name, rtype, routed), routed)
            rrset, routed = resolved[memo_key]
            rrsets[i] = rrset
            if len(routed) > 1:
                types = weighted.get(name)
                if types is None:
                    weighted[name] = {rtype: routed}
                else:
                    if types is shared_routing.get(name):
                        types = weighted[name] = dict(types)
                    types[rtype] = routed
        filled = [r for r in rrsets if r is not None] if absent else cast(list[RRset], rrsets)
        records[variant.name] = tuple(filled)
        routing[variant.name] = weighted
    return ResolvedZone(
        name=zone,
        soa=soa,
        variants=variants,
        records=records,
        routing=routing,
        issues=tuple(issues),
    )
