"""Resolve a merged zone into per-region variants: the RRsets each kind of client gets, and weighted sets.

Pure, no I/O. Implements docs/bundle-format.md "How render resolves a routing set in a variant":
geo first (country over continent over `*`, then the configured fallback), then weights are left
for answer time. Record data is turned into presentation format here, once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

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


class RRset(NamedTuple):
    """One RRset as written in a zone file; `alternatives` are the other members of a weighted set.

    A NamedTuple, not a frozen dataclass: a zone has one per (name, type), built in half the time.
    """

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
    """A zone resolved into variants: the RRsets in zone-file order and the weighted sets, per variant.

    Most RRsets are the same in every variant, so they are held once: `layout` is the zone-file order,
    each entry an RRset of every variant or the index of a slot; `slots[variant][i]` is that variant's
    RRset for slot i (None: absent in that variant, geo fallback `nodata`).
    """

    name: str
    soa: Soa
    variants: tuple[Variant, ...]
    layout: tuple[RRset | int, ...]
    slots: Mapping[str, tuple[RRset | None, ...]]
    routing: Mapping[str, Mapping[str, Mapping[str, tuple[RoutingMember, ...]]]]
    issues: tuple[Issue, ...]

    def records_of(self, variant: str) -> tuple[RRset, ...]:
        """The RRsets of `variant` in zone-file order."""
        fills = self.slots[variant]
        out = []
        for entry in self.layout:
            rrset = fills[entry] if isinstance(entry, int) else entry
            if rrset is not None:
                out.append(rrset)
        return tuple(out)

    @property
    def records(self) -> dict[str, tuple[RRset, ...]]:
        """The RRsets of every variant in zone-file order (built on each access)."""
        return {variant.name: self.records_of(variant.name) for variant in self.variants}


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


def rdata_text(rtype: str, target: str) -> str:
    """Presentation format of one target of an endpoint of type `rtype`."""
    if rtype in ("CNAME", "NS"):
        return absolute(target)
    if rtype in ("TXT", "MX", "SRV", "CAA"):
        return _formatted_rdata(rtype, target)
    return target


@lru_cache(maxsize=1 << 16)
def _formatted_rdata(rtype: str, target: str) -> str:
    """rdata_text of the types that need more than a dot (memoised: registry TXT values recur)."""
    if rtype == "TXT":
        return txt_rdata(target)
    if rtype in ("MX", "SRV"):
        *fields, host = target.split()
        return " ".join([*fields, absolute(host.rstrip(".").lower())])
    flags, tag, value = target.split(None, 2)  # CAA
    value = value.strip()
    if not (value.startswith('"') and value.endswith('"')):
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{flags} {tag} {value}"


def name_sort_key(name: str) -> tuple[str, ...]:
    """Zone-file order: labels compared right to left (parents before children)."""
    return tuple(reversed(name.split(".")))


# zone_order_key joins with characters below every character of a name, so that comparing the strings
# compares the labels right to left as name_sort_key's tuples do (a list of strings sorts in C, much faster
# than tuples of tuples); names holding these characters (never valid ones) fall back to the tuples.
_LABEL_JOIN = "\x01"
_TYPE_JOIN = "\x00"


def zone_order_key(key: tuple[str, str]) -> str:
    """Zone-file order of the RRset (name, type) as one string: name_sort_key, then SOA, NS, other types."""
    name, rtype = key
    return _LABEL_JOIN.join(name.split(".")[::-1]) + _TYPE_JOIN + str(_TYPE_ORDER.get(rtype, 2)) + rtype


def _tuple_order_key(key: tuple[str, str]) -> tuple[tuple[str, ...], int, str]:
    return name_sort_key(key[0]), _TYPE_ORDER.get(key[1], 2), key[1]


def _ttl(ep: Endpoint, settings: Settings) -> int:
    return ep.ttl if ep.ttl > 0 else settings.default_ttl


def _is_routing(members: Sequence[Endpoint]) -> bool:
    return any(m.geo is not None or m.weight is not None for m in members)


def _member(ep: Endpoint, weight: int, settings: Settings, index: int) -> RoutingMember:
    if len(ep.targets) == 1:
        rdata: tuple[str, ...] = (rdata_text(ep.record_type, ep.targets[0]),)
    else:
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


def geo_precedence(variant: Variant) -> tuple[str, ...]:
    """The geo codes that match a client of `variant`, most specific first: country, continent, `*`."""
    codes = [variant.country] if variant.country else []
    if variant.continent:
        codes.append(f"GEO-{variant.continent}")
    return (*codes, WILDCARD_GEO)


def keep_positions(
    by_geo: Mapping[str, tuple[int, ...]] | None, count: int, variant: Variant, fallback: GeoFallback
) -> tuple[tuple[int, ...], bool]:
    """Positions of the members a client of `variant` may get: most specific geo match (country, then
    continent), else `*`, else the fallback. Returns (positions, equal); `equal` means fallback `any` applied
    (weights ignored, equal chance)."""
    return _keep(by_geo, count, geo_precedence(variant), fallback)


def _keep(
    by_geo: Mapping[str, tuple[int, ...]] | None, count: int, precedence: tuple[str, ...], fallback: GeoFallback
) -> tuple[tuple[int, ...], bool]:
    if by_geo is None:
        return tuple(range(count)), False
    for code in precedence:
        positions = by_geo.get(code)
        if positions is not None:
            return positions, False
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
    if len(members) == 1 and len(members[0].targets) == 1:  # most RRsets: one endpoint with one target
        return RRset(name, rtype, _ttl(members[0], settings), (rdata_text(rtype, members[0].targets[0]),))
    rdata = sorted(dict.fromkeys(rdata_text(rtype, t) for ep in members for t in ep.targets))
    if rtype == "CNAME":
        rdata = rdata[:1]  # RFC 1034 §3.6.2; merge reports conflicting CNAMEs before this point
    return RRset(name, rtype, min(_ttl(ep, settings) for ep in members), tuple(rdata))


def _apex(
    view: ZoneView, settings: Settings, present: AbstractSet[tuple[str, str]]
) -> tuple[Soa, list[RRset], list[Issue]]:
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
    """A routing set prepared once: its members, their positions by geo code, and their routing entries."""

    members: tuple[Endpoint, ...]
    by_geo: Mapping[str, tuple[int, ...]] | None
    weighted: tuple[RoutingMember, ...]


def _prepare_group(members: Sequence[Endpoint], settings: Settings) -> _RoutingGroup:
    weighted = tuple(_member(ep, 1 if ep.weight is None else ep.weight, settings, i) for i, ep in enumerate(members))
    return _RoutingGroup(tuple(members), geo_index(members), weighted)


def _set_of(member: RoutingMember) -> str:
    return member.set


def _set_identifier(ep: Endpoint) -> str:
    return ep.set_identifier


def _routed_rrset(name: str, rtype: str, routed: Sequence[RoutingMember]) -> RRset:
    if len(routed) == 1:
        return RRset(name, rtype, routed[0].ttl, routed[0].rdata)
    rep = min(routed, key=lambda m: (-m.weight, m.set))
    return RRset(name, rtype, rep.ttl, rep.rdata, alternatives=(tuple(m for m in routed if m is not rep),))


def _routed(group: _RoutingGroup, positions: tuple[int, ...], equal: bool) -> tuple[RoutingMember, ...]:
    """The kept members of a routing set sorted by set identifier; `equal`: weight 1 each (fallback `any`)."""
    kept = [group.weighted[i] for i in positions]
    if equal:
        kept = [RoutingMember(m.set, 1, m.ttl, m.rdata) for m in kept]
    return tuple(sorted(kept, key=_set_of))


def _group(endpoints: Iterable[Endpoint]) -> dict[tuple[str, str], list[Endpoint]]:
    """Endpoints by (name, type), in input order."""
    groups: dict[tuple[str, str], list[Endpoint]] = {}
    for ep in endpoints:
        key = (ep.dns_name, ep.record_type)
        members = groups.get(key)
        if members is None:
            groups[key] = [ep]
        else:
            members.append(ep)
    return groups


def _in_zone_order(keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(name, type) pairs sorted into zone-file order (each pair once)."""
    pairs = list(keys)
    names = "".join(name for name, _ in pairs)
    if _LABEL_JOIN in names or _TYPE_JOIN in names:
        pairs.sort(key=_tuple_order_key)
    else:
        pairs.sort(key=zone_order_key)
    return pairs


def resolve_zone(view: ZoneView, settings: Settings) -> ResolvedZone:
    """Resolve a merged zone into its variants (docs/bundle-format.md).

    Everything that does not depend on the variant (grouping, sorting, rdata text, routing members, the
    RRsets of plain and weight-only sets) is computed once; each variant then only picks the members of
    its geo routing sets, so the per-variant cost grows with the number of geo routing sets only.
    """
    zone = view.config.name
    groups = _group(view.endpoints)  # merge keeps only names in the zone (ZoneView's contract)
    soa, apex_extra, issues = _apex(view, settings, groups.keys())
    extra: dict[tuple[str, str], list[RRset]] = {}  # a list: a nameserver configured twice is written twice
    for rrset in apex_extra:
        extra.setdefault((rrset.name, rrset.rtype), []).append(rrset)

    # Plain RRsets and routing sets without geo codes are the same in every variant: laid out once.
    # Geo routing sets get a slot each, filled per variant.
    layout: list[RRset | int] = []
    shared_routing: dict[str, dict[str, tuple[RoutingMember, ...]]] = {}
    geo_sets: list[tuple[str, str, _RoutingGroup]] = []
    for key in _in_zone_order([*groups, *extra]):
        members = groups.get(key)
        if members is None:
            layout += extra[key]
            continue
        name, rtype = key
        if len(members) > 1:
            members.sort(key=_set_identifier)
        elif members[0].geo is None and members[0].weight is None:  # most names: one plain endpoint
            layout.append(_plain_rrset(name, rtype, members, settings))
            continue
        if not _is_routing(members):
            layout.append(_plain_rrset(name, rtype, members, settings))
            continue
        group = _prepare_group(members, settings)
        if group.by_geo is None:
            routed = _routed(group, tuple(range(len(members))), False)
            layout.append(_routed_rrset(name, rtype, routed))
            if len(routed) > 1:
                shared_routing.setdefault(name, {})[rtype] = routed
        else:
            layout.append(len(geo_sets))
            geo_sets.append((name, rtype, group))
    variants = variants_for(ep for _, _, group in geo_sets for ep in group.members)

    slots: dict[str, tuple[RRset | None, ...]] = {}
    routing: dict[str, dict[str, dict[str, tuple[RoutingMember, ...]]]] = {}
    # Variants mostly resolve a set the same way: share the RRset object (render formats it once).
    resolved: dict[tuple[int, bool, tuple[int, ...]], tuple[RRset, tuple[RoutingMember, ...]]] = {}
    for variant in variants:
        precedence = geo_precedence(variant)
        fills: list[RRset | None] = []
        weighted = dict(shared_routing)  # inner maps are shared until a geo set of the same name is added
        for slot, (name, rtype, group) in enumerate(geo_sets):
            positions, equal = _keep(group.by_geo, len(group.members), precedence, settings.geo_fallback)
            if not positions:
                fills.append(None)  # fallback `nodata`: the name/type is absent in this variant
                continue
            memo_key = (slot, equal, positions)
            found = resolved.get(memo_key)
            if found is None:
                routed = _routed(group, positions, equal)
                found = resolved[memo_key] = (_routed_rrset(name, rtype, routed), routed)
            rrset, routed = found
            fills.append(rrset)
            if len(routed) > 1:
                types = weighted.get(name)
                if types is None:
                    weighted[name] = {rtype: routed}
                else:
                    if types is shared_routing.get(name):
                        types = weighted[name] = dict(types)
                    types[rtype] = routed
        slots[variant.name] = tuple(fills)
        routing[variant.name] = weighted
    return ResolvedZone(
        name=zone,
        soa=soa,
        variants=variants,
        layout=tuple(layout),
        slots=slots,
        routing=routing,
        issues=tuple(issues),
    )
