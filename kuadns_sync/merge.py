"""The declarative merge: cluster snapshots -> authoritative DNSRecords, zone views, verdicts, issues.

Pure, no I/O, no clock, no randomness. Computed from scratch on every call (routing-semantics §2);
the result does not depend on the order of snapshots, records or endpoints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import groupby
from operator import attrgetter

from kuadns_sync.hashing import root_host_hash
from kuadns_sync.heap import paused_gc
from kuadns_sync.model import (
    AUTHORITATIVE_PREFIX,
    LABEL_AUTHORITATIVE,
    LABEL_AUTHORITATIVE_HASH,
    LABEL_PROVIDER_NAME,
    LABEL_ZONE_NAME,
    OWNER_DELIMITER,
    OWNER_LABEL,
    PROVIDER_SECRET_TYPE,
    UNION_TYPES,
    AuthoritativeRecord,
    ClusterSnapshot,
    Endpoint,
    Issue,
    MergeResult,
    Origin,
    ProviderSecret,
    RecordVerdict,
    Settings,
    Severity,
    SourceRecord,
    ZoneConfig,
    ZoneView,
    new_endpoint,
    sorted_items,
)
from kuadns_sync.names import (
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    is_same_or_under,
    is_under,
    most_specific_zone,
    name_problem,
    strip_wildcard,
)
from kuadns_sync.ownership import txt_endpoint
from kuadns_sync.parse import origin_sort_key, parse_dnsrecord, sorted_issues

MAX_CNAME_HOPS = 8  # routing-semantics §3
PROVIDER_NAME = "coredns"

READY_REASON = "ProviderSuccess"
READY_MESSAGE = "Provider ensured the dns record"
REMOVED_REASON = "ProviderEndpointsRemoved"
REMOVED_MESSAGE = "DNS records removed from provider"
VALIDATION_REASON = "ValidationError"
VALIDATION_PREFIX = "validation of DNSRecord failed: "
CONFLICT_REASON = "Conflict"
OUT_OF_ZONE_REASON = "OutOfZone"
NOT_SERVED_REASON = "NotServed"
PROVIDER_ERROR_REASON = "DNSProviderError"
NO_DEFAULT_PROVIDER = "No default provider secret labeled kuadrant.io/default-provider was found"
MANY_DEFAULT_PROVIDERS = "Multiple default providers secrets found. Only one expected"


# An endpoint key inside the merge: `EndpointKey`'s fields as a plain tuple (same hash, equality and order).
# Plain tuples are cheaper to build than the NamedTuple, and list.sort compares them on its fast path.
_Key = tuple[str, str, str]
# Endpoint order everywhere: by key.
_BY_KEY = attrgetter("dns_name", "record_type", "set_identifier")
_BY_NAME_TYPE = attrgetter("dns_name", "record_type")


@dataclass(slots=True, eq=False)
class _Contribution:
    """One source endpoint offered to the merge by one record (owner)."""

    owner: str
    record: Origin
    endpoint: Endpoint
    key: _Key  # the endpoint's, built once
    origin: Origin  # the endpoint's (its only origin)
    group: tuple[str, str]  # the (namespace, root) of its record: the authoritative record it goes to

    @property
    def order(self) -> tuple[str, tuple[str, str, str, int]]:
        # Lowest owner ID wins (routing-semantics §2); the origin only breaks ties of one owner.
        return (self.owner, origin_sort_key(self.origin))

    @property
    def signature(self) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        # Two versions of one key are the same when targets and providerSpecific (in any order) are.
        return (self.endpoint.targets, tuple(sorted(self.endpoint.provider_specific)))


@dataclass(slots=True, eq=False)
class _KeyMerge:
    """The merge of one endpoint key: a pure function of its contributions, so reused while they stay the same."""

    contributions: list[_Contribution]  # the input, in merge order
    endpoint: Endpoint
    served: list[_Contribution]
    losers: tuple[tuple[Origin, Issue], ...]
    issues: tuple[Issue, ...]
    # The registry TXT endpoints of the served data with their keys, one per owner (from its first
    # contribution), except those whose name is too long (reported in `issues`).
    txt: tuple[tuple[_Key, Endpoint], ...]

    def merges(self, contributions: Sequence[_Contribution]) -> bool:
        """True when this is the merge of exactly these contributions (the same objects, in order)."""
        return len(contributions) == len(self.contributions) and all(
            a is b for a, b in zip(contributions, self.contributions, strict=True)
        )


@dataclass(slots=True)
class _Merged:
    """Endpoints merged by key, plus who lost a conflict and what to report."""

    keys: dict[_Key, _KeyMerge] = field(default_factory=dict)
    data: list[Endpoint] = field(default_factory=list)  # in key order
    txt: list[Endpoint] = field(default_factory=list)  # registry TXT, in no particular order
    served: list[_Contribution] = field(default_factory=list)
    losers: dict[Origin, Issue] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def endpoints(self) -> tuple[Endpoint, ...]:
        """Data and registry TXT endpoints, sorted by key."""
        return tuple(sorted(self.data + self.txt, key=_BY_KEY))


@dataclass(slots=True)
class _ZoneMerge:
    """One zone merged: its view, the contributions kept, the records dropped (with why), the endpoints
    excluded (conflict losers, CNAMEs beside other data), the issues to report, and the final per-key
    merges (for the authoritative records to reuse)."""

    view: ZoneView
    kept: list[_Contribution]
    dropped: dict[Origin, list[Issue]]
    excluded: dict[Origin, Issue]
    issues: list[Issue]
    keys: dict[_Key, _KeyMerge]


@dataclass(slots=True)
class _Candidate:
    """A source record that passed every record-level check and was assigned a zone."""

    record: SourceRecord
    zone: str
    root: str

    @property
    def group(self) -> tuple[str, str]:
        return (self.record.origin.namespace, self.root)


def merge(snapshots: Sequence[ClusterSnapshot], settings: Settings) -> MergeResult:
    """Merge every snapshot into the authoritative view for `settings.role` (routing-semantics §2)."""
    with paused_gc():  # see kuadns_sync.heap: acyclic objects, the collector's rescans cost more than the merge
        return _merge(snapshots, settings)


def _merge(snapshots: Sequence[ClusterSnapshot], settings: Settings) -> MergeResult:
    issues: list[Issue] = []
    verdicts: dict[Origin, RecordVerdict] = {}
    for snapshot in snapshots:
        if snapshot.stale_since is not None and snapshot.records:
            when = datetime.fromtimestamp(snapshot.stale_since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            issues.append(
                Issue(
                    None,
                    "warning",
                    "Stale",
                    f"cluster {snapshot.name} is unreachable; serving its records as last listed at {when}",
                )
            )

    if settings.role == "secondary":
        _secondary(snapshots, settings, verdicts, issues)
        return MergeResult((), (), _sorted_verdicts(verdicts), sorted_issues(issues))

    zones = _zones(snapshots, settings, issues)
    zone_names = frozenset(zones)
    candidates: list[_Candidate] = []
    for snapshot in snapshots:
        local = _is_local(snapshot, settings)
        for record in _records(snapshot):
            if not (local or record.delegate):
                continue  # a remote cluster's own records are its business (§3.7)
            candidate = _admit(record, snapshot, local, zone_names, verdicts, issues)
            if candidate is not None:
                candidates.append(candidate)

    by_zone: dict[str, list[_Candidate]] = defaultdict(list)
    parents = _zones_with_sub_zones(zone_names)
    for candidate in candidates:
        by_zone[candidate.zone].append(candidate)
        if candidate.zone in parents:  # elsewhere no endpoint can be in another zone: they lie under rootHost
            _check_sub_zones(candidate, zone_names, issues)

    views: list[ZoneView] = []
    dropped: dict[Origin, list[Issue]] = {}
    excluded: dict[Origin, Issue] = {}
    zone_merges: dict[str, _ZoneMerge] = {}
    for name in sorted(zones):
        zone = zone_merges[name] = _build_zone(zones[name], by_zone.get(name, []))
        views.append(zone.view)
        dropped.update(zone.dropped)
        excluded.update(zone.excluded)
        issues += zone.issues

    authoritative = _authoritative_records(candidates, dropped, zone_merges)
    auth_names = {(a.namespace, a.name) for a in authoritative}
    for candidate in candidates:
        verdicts[candidate.record.origin] = _served_verdict(candidate, dropped, excluded, auth_names)
    return MergeResult(tuple(authoritative), tuple(views), _sorted_verdicts(verdicts), sorted_issues(issues))


# --- which records -------------------------------------------------------------------------------


def _is_local(snapshot: ClusterSnapshot, settings: Settings) -> bool:
    return snapshot.local or snapshot.name == settings.local_cluster


def _records(snapshot: ClusterSnapshot) -> Iterable[SourceRecord]:
    for raw in snapshot.records:
        record = parse_dnsrecord(raw, snapshot.name)
        if not record.authoritative:  # our own output, never an input
            yield record


def _secondary(
    snapshots: Sequence[ClusterSnapshot],
    settings: Settings,
    verdicts: dict[Origin, RecordVerdict],
    issues: list[Issue],
) -> None:
    """A secondary only validates its own records and marks delegating ones ready (§3.6 step 6)."""
    for snapshot in snapshots:
        if not _is_local(snapshot, settings):
            continue
        for record in _records(snapshot):
            origin = record.origin
            if record.deleting:
                verdicts[origin] = RecordVerdict(origin, False, REMOVED_REASON, REMOVED_MESSAGE)
                continue
            issues.extend(record.issues)
            if not record.ok:
                verdicts[origin] = _validation_verdict(origin, record.issues)
            elif record.delegate:
                verdicts[origin] = RecordVerdict(origin, True, READY_REASON, READY_MESSAGE)
            else:
                verdicts[origin] = RecordVerdict(
                    origin,
                    False,
                    NOT_SERVED_REASON,
                    "this kuadns-sync is a secondary: only delegating records (spec.delegate: true) are "
                    "handled, by the primaries",
                )


def _zones(snapshots: Sequence[ClusterSnapshot], settings: Settings, issues: list[Issue]) -> dict[str, ZoneConfig]:
    """Configured zones plus the ZONES of the local cluster's CoreDNS provider secrets."""
    zones = {zone.name: zone for zone in settings.zones}
    for snapshot in snapshots:
        if not _is_local(snapshot, settings):
            continue
        for secret in snapshot.secrets:
            if secret.type != PROVIDER_SECRET_TYPE:
                continue
            where = Origin(secret.cluster, secret.namespace, secret.name)
            if not secret.zones:
                issues.append(Issue(where, "warning", "ProviderError", "CoreDNS provider secret has no ZONES"))
            for zone in secret.zones:
                problem = name_problem(zone)
                if problem is not None:
                    message = f'ZONES item "{zone}" is not a valid DNS name: {problem}'
                    issues.append(Issue(where, "error", "ProviderError", message))
                elif zone not in zones:
                    zones[zone] = ZoneConfig(name=zone)
    return zones


def _provider_problem(record: SourceRecord, secrets: Sequence[ProviderSecret]) -> tuple[str, str] | None:
    """(reason, message) when a non-delegating record's provider is not a CoreDNS secret (§3.1, §3.3)."""
    if not secrets:
        return None  # offline manifests without secrets: zones come from settings, treat as CoreDNS
    namespace = record.origin.namespace
    in_namespace = [s for s in secrets if s.namespace == namespace]
    if record.provider_ref:
        found = [s for s in in_namespace if s.name == record.provider_ref]
        if not found:
            return (
                PROVIDER_ERROR_REASON,
                f"The dns provider could not be loaded: provider secret {namespace}/{record.provider_ref} not found",
            )
        secret = found[0]
    else:
        defaults = sorted((s for s in in_namespace if s.default), key=lambda s: s.name)
        if not defaults:
            return PROVIDER_ERROR_REASON, NO_DEFAULT_PROVIDER
        if len(defaults) > 1:
            return PROVIDER_ERROR_REASON, MANY_DEFAULT_PROVIDERS
        secret = defaults[0]
    if secret.type != PROVIDER_SECRET_TYPE:
        return (
            NOT_SERVED_REASON,
            f"provider secret {namespace}/{secret.name} has type {secret.type}, not {PROVIDER_SECRET_TYPE}: "
            "this record is another provider's",
        )
    return None


def _admit(
    record: SourceRecord,
    snapshot: ClusterSnapshot,
    local: bool,
    zones: frozenset[str],
    verdicts: dict[Origin, RecordVerdict],
    issues: list[Issue],
) -> _Candidate | None:
    """Record-level decisions; a verdict for every record that does not go on to the zone merge."""
    origin = record.origin
    if record.deleting:
        verdicts[origin] = RecordVerdict(origin, False, REMOVED_REASON, REMOVED_MESSAGE)
        return None
    issues.extend(record.issues)
    if not record.ok:
        verdicts[origin] = _validation_verdict(origin, record.issues)
        return None
    if local and not record.delegate:
        problem = _provider_problem(record, snapshot.secrets)
        if problem is not None:
            reason, message = problem
            severity: Severity = "warning" if reason == NOT_SERVED_REASON else "error"
            issues.append(Issue(origin, severity, reason, message))
            verdicts[origin] = RecordVerdict(origin, False, reason, message)
            return None
    root = strip_wildcard(record.root_host)
    zone = most_specific_zone(root, zones)
    if zone is None:
        listed = ", ".join(sorted(zones)) or "none configured"
        message = f'rootHost "{record.root_host}" is not in any served zone (zones: {listed})'
        issues.append(Issue(origin, "error", OUT_OF_ZONE_REASON, message))
        verdicts[origin] = RecordVerdict(origin, False, OUT_OF_ZONE_REASON, message)
        return None
    return _Candidate(record, zone, root)


def _zones_with_sub_zones(zones: frozenset[str]) -> set[str]:
    """The served zones with another served zone below them: the closest enclosing zone of each zone."""
    return {parent for zone in zones if (parent := most_specific_zone(zone.partition(".")[2], zones)) is not None}


def _check_sub_zones(candidate: _Candidate, zones: frozenset[str], issues: list[Issue]) -> None:
    """An endpoint inside a more specific served zone than its record's would be hidden by that zone."""
    for ep in candidate.record.endpoints:
        inner = most_specific_zone(ep.dns_name, zones)
        if inner != candidate.zone:
            issues.append(
                Issue(
                    ep.origins[0],
                    "warning",
                    OUT_OF_ZONE_REASON,
                    f'"{ep.dns_name}" is inside zone {inner}, but its record belongs to zone {candidate.zone} '
                    "(by rootHost); it is served in zone "
                    f"{candidate.zone} only",
                )
            )


# --- merging endpoints by key --------------------------------------------------------------------


def _describe(key: _Key) -> str:
    dns_name, record_type, set_identifier = key
    text = f'{record_type} "{dns_name}"'
    return text + (f' (setIdentifier "{set_identifier}")' if set_identifier else "")


def _merge_contributions(
    contributions: Iterable[_Contribution], reuse: Mapping[_Key, _KeyMerge] | None = None
) -> _Merged:
    """Merge endpoints by key: union for plain RRsets, lowest owner wins a conflict (routing-semantics §2).

    A key whose contributions are exactly those of its merge in `reuse` takes that merge as it is.
    """
    by_key: dict[_Key, list[_Contribution]] = defaultdict(list)
    for contribution in contributions:
        by_key[contribution.key].append(contribution)
    keys: dict[_Key, _KeyMerge] = {}
    for key in sorted(by_key):
        group = by_key[key]
        ordered = sorted(group, key=attrgetter("order")) if len(group) > 1 else group
        known = reuse.get(key) if reuse else None
        keys[key] = known if known is not None and known.merges(ordered) else _merge_key(key, ordered)
    return _collect(keys)


def _collect(keys: dict[_Key, _KeyMerge]) -> _Merged:
    """The merges of `keys` (in key order) together, with their registry TXT endpoints: the first for each
    TXT key; none whose name is data (reported)."""
    merged = _Merged(keys)
    data, served, issues = merged.data, merged.served, merged.issues
    for key_merge in keys.values():
        data.append(key_merge.endpoint)
        served += key_merge.served
        if key_merge.losers:
            merged.losers.update(key_merge.losers)
        issues += key_merge.issues
    txt_by_key: dict[_Key, Endpoint] = {}
    for key, key_merge in keys.items():  # ordered by key, then owner
        for txt_key, txt in key_merge.txt:
            if txt_key in keys:
                merged.issues.append(_txt_left_out(txt, key, "a data endpoint already has that name"))
                continue
            txt_by_key.setdefault(txt_key, txt)
    merged.txt = list(txt_by_key.values())  # sorted once, with the data, by `endpoints`
    return merged


def _endpoints(keys: Mapping[_Key, _KeyMerge]) -> tuple[Endpoint, ...]:
    """`_collect(keys).endpoints()` without the reports: the data and registry TXT endpoints, sorted by key."""
    found = [key_merge.endpoint for key_merge in keys.values()]
    txt_by_key: dict[_Key, Endpoint] = {}
    for key_merge in keys.values():
        for txt_key, txt in key_merge.txt:
            if txt_key not in keys:
                txt_by_key.setdefault(txt_key, txt)
    found += txt_by_key.values()
    return tuple(sorted(found, key=_BY_KEY))


def _txt_left_out(txt: Endpoint, key: _Key, why: str) -> Issue:
    return Issue(
        txt.origins[0],
        "warning",
        "Ownership",
        f'ownership TXT "{txt.dns_name}" for {_describe(key)} is left out: {why}',
    )


def _txt_name_problem(name: str) -> str | None:
    """Length limits of a registry TXT name; its characters are the (valid) data name's plus the prefix."""
    dot = name.find(".")
    if (dot if dot >= 0 else len(name)) > MAX_LABEL_LENGTH:
        first = name.partition(".")[0]
        return f'label "{first}" is {len(first)} characters long (max {MAX_LABEL_LENGTH})'
    if len(name) > MAX_NAME_LENGTH:
        return f"the name is {len(name)} characters long (max {MAX_NAME_LENGTH})"
    return None


def _owner_txts(
    key: _Key, served: Sequence[_Contribution], issues: list[Issue]
) -> tuple[tuple[_Key, Endpoint], ...]:
    """One registry TXT (with its key) per owner of the served data (an owner's first contribution counts);
    those with an unusable name are left out and reported in `issues`."""
    owners: set[str] = set()
    found: list[tuple[_Key, Endpoint]] = []
    for contribution in served:
        if contribution.owner in owners:
            continue
        owners.add(contribution.owner)
        txt = txt_endpoint(contribution.endpoint, contribution.owner)
        problem = _txt_name_problem(txt.dns_name)
        if problem is not None:
            issues.append(_txt_left_out(txt, key, problem))
        else:
            found.append(((txt.dns_name, txt.record_type, txt.set_identifier), txt))
    return tuple(found)


def _origins(served: Sequence[_Contribution]) -> tuple[Origin, ...]:
    """The distinct origins of the served contributions, in order; one contribution's own tuple is shared."""
    if len(served) == 1:
        return served[0].endpoint.origins
    return tuple(sorted({c.origin for c in served}, key=origin_sort_key))


@lru_cache(maxsize=65536)
def _owner_labels(owners: str) -> tuple[tuple[str, str]]:
    """The labels of a merged endpoint without other labels: just the owner list (one tuple per owner list)."""
    return ((OWNER_LABEL, owners),)


def _merge_key(key: _Key, contributions: list[_Contribution]) -> _KeyMerge:
    """Merge the contributions to one key, given in merge order (lowest owner first)."""
    if len(contributions) == 1:
        return _merge_one(key, contributions)
    dns_name, record_type, set_identifier = key
    issues: list[Issue] = []
    losers: list[tuple[Origin, Issue]] = []
    winner = contributions[0]
    served = contributions
    if record_type in UNION_TYPES and not set_identifier:
        targets = tuple(sorted({t for c in served for t in c.endpoint.targets}))
        winner_ps = winner.signature[1]
        for other in served[1:]:
            if other.signature[1] != winner_ps:
                issues.append(
                    Issue(
                        other.origin,
                        "warning",
                        CONFLICT_REASON,
                        f"{_describe(key)}: providerSpecific differs from {winner.origin} (owner {winner.owner}), "
                        "whose providerSpecific is served",
                    )
                )
    else:
        # One answer per key: a CNAME holds exactly one target (RFC 1034 §3.6.2), and a set member is one
        # routing choice, so differing versions cannot be unioned.
        targets = winner.endpoint.targets
        if len(contributions) > 1:
            signature = winner.signature
            served = [winner]
            for other in contributions[1:]:
                if other.signature == signature:
                    served.append(other)
                    continue
                issue = Issue(
                    other.origin,
                    "error",
                    CONFLICT_REASON,
                    f"{_describe(key)} conflicts with {winner.origin} (owner {winner.owner}), whose version is "
                    "served (the lowest owner ID wins)",
                )
                losers.append((other.origin, issue))
    configured = [c for c in served if c.endpoint.ttl > 0]
    ttl = 0
    if configured:
        lowest = configured[0] if len(configured) == 1 else min(configured, key=lambda c: (c.endpoint.ttl, c.order))
        ttl = lowest.endpoint.ttl
        for c in configured:
            if c.endpoint.ttl != ttl:
                issues.append(
                    Issue(
                        c.origin,
                        "warning",
                        "TTLMismatch",
                        f"{_describe(key)}: recordTTL {c.endpoint.ttl} differs from {ttl} of {lowest.origin}; "
                        f"the smallest, {ttl}, is served",
                    )
                )
    labels: dict[str, str] = {}
    for c in served:
        for name, value in c.endpoint.labels:
            if name != OWNER_LABEL:
                labels.setdefault(name, value)
    owners = winner.owner if len(served) == 1 else OWNER_DELIMITER.join(sorted({c.owner for c in served}))
    if labels:
        labels[OWNER_LABEL] = owners
        label_items = sorted_items(labels)
    else:
        label_items = _owner_labels(owners)
    endpoint = new_endpoint(  # once per key: the fast constructor
        dns_name,
        record_type,
        targets,
        ttl,
        set_identifier,
        winner.endpoint.weight,
        winner.endpoint.geo,
        label_items,
        winner.endpoint.provider_specific,
        _origins(served),
    )
    txt = _owner_txts(key, served, issues)
    return _KeyMerge(contributions, endpoint, served, tuple(losers), tuple(issues), txt)


def _merge_one(key: _Key, contributions: list[_Contribution]) -> _KeyMerge:
    """`_merge_key` of a single contribution (most keys): nothing to union, resolve or compare."""
    (only,) = contributions
    ep = only.endpoint
    labels = {name: value for name, value in ep.labels if name != OWNER_LABEL}
    if labels:
        labels[OWNER_LABEL] = only.owner
        label_items = sorted_items(labels)
    else:
        label_items = _owner_labels(only.owner)
    endpoint = new_endpoint(
        key[0],
        key[1],
        ep.targets,  # parse sorts and de-duplicates targets: their union already
        ep.ttl if ep.ttl > 0 else 0,
        key[2],
        ep.weight,
        ep.geo,
        label_items,
        ep.provider_specific,
        ep.origins,
    )
    txt = txt_endpoint(ep, only.owner)
    problem = _txt_name_problem(txt.dns_name)
    if problem is not None:
        return _KeyMerge(contributions, endpoint, contributions, (), (_txt_left_out(txt, key, problem),), ())
    txt_key = (txt.dns_name, txt.record_type, txt.set_identifier)
    return _KeyMerge(contributions, endpoint, contributions, (), (), ((txt_key, txt),))


# --- zone-level checks ---------------------------------------------------------------------------


class _ZoneIndex:
    """Name lookups within one zone's served endpoints: existence, wildcards, delegations."""

    def __init__(self, zone: str, endpoints: Sequence[Endpoint]) -> None:
        self.zone = zone
        by_name: dict[str, list[Endpoint]] = defaultdict(list)
        by_type: dict[str, list[Endpoint]] = {"CNAME": [], "NS": []}  # the checks look at these only
        for ep in endpoints:
            by_name[ep.dns_name].append(ep)
            if ep.record_type in by_type:
                by_type[ep.record_type].append(ep)
        nodes = {zone}  # names with data plus their empty non-terminals (RFC 4592 §2.2.2)
        below = "." + zone  # is_under(name, zone), spelled out: once per name and ancestor
        for name in by_name:
            current = name
            while current.endswith(below) and current not in nodes:
                nodes.add(current)
                current = current.partition(".")[2]
        self.by_name, self.by_type, self.nodes = by_name, by_type, nodes
        self.cuts = {ep.dns_name for ep in self.by_type["NS"] if ep.dns_name != zone}
        self._types: dict[str, frozenset[str]] = {}

    def types(self, name: str) -> frozenset[str]:
        """The record types at `name` (worked out once per name)."""
        found = self._types.get(name)
        if found is None:
            found = self._types[name] = frozenset([ep.record_type for ep in self.by_name.get(name, ())])
        return found

    def delegated(self, name: str) -> bool:
        """True when `name` is below an in-zone delegation (the child zone answers for it)."""
        current = name.partition(".")[2]
        while is_under(current, self.zone):
            if current in self.cuts:
                return True
            current = current.partition(".")[2]
        return False

    def resolve(self, target: str) -> str | None:
        """The owner name holding the data a query for in-zone `target` is answered from (RFC 4592)."""
        if target in self.by_name:
            return target
        current = target.partition(".")[2]
        while is_same_or_under(current, self.zone):
            if current in self.nodes:  # the closest encloser: only its wildcard can synthesise
                wildcard = "*." + current
                return wildcard if wildcard in self.by_name else None
            current = current.partition(".")[2]
        return None  # pragma: no cover - the apex is always a node


def _cname_conflicts(index: _ZoneIndex, served: Sequence[_Contribution]) -> dict[Origin, Issue]:
    """RFC 1034 §3.6.2: CNAME and other data at one name -> the other data wins."""
    found: dict[Origin, Issue] = {}
    for c in served:
        ep = c.endpoint
        if ep.record_type != "CNAME" or len(index.by_name[ep.dns_name]) == 1 or len(index.types(ep.dns_name)) == 1:
            continue  # not a CNAME, or a CNAME alone at its name (the only endpoint there, or the only type)
        others = sorted(index.types(ep.dns_name) - {"CNAME"})
        sources = sorted(
            {o for e in index.by_name[ep.dns_name] if e.record_type != "CNAME" for o in e.origins},
            key=origin_sort_key,
        )
        found[c.origin] = Issue(
            c.origin,
            "error",
            CONFLICT_REASON,
            f'CNAME "{ep.dns_name}" cannot coexist with {", ".join(others)} data at the same name (from '
            f"{', '.join(str(o) for o in sources)}); the {', '.join(others)} data is served (RFC 1034 §3.6.2)",
        )
    return found


def _cname_graph(index: _ZoneIndex) -> dict[str, AbstractSet[str]]:
    """Every CNAME owner name -> the in-zone CNAME owners its targets lead to (most have none: one shared
    empty set for them)."""
    names: list[str] = []
    edges: dict[str, set[str]] = {}
    zone, below, by_name = index.zone, "." + index.zone, index.by_name
    for ep in index.by_type["CNAME"]:
        names.append(ep.dns_name)
        for target in ep.targets:
            if target != zone and not target.endswith(below):
                continue  # out of zone: is_same_or_under(target, zone), spelled out for the common case
            node = target if target in by_name else index.resolve(target)
            if node is not None and "CNAME" in index.types(node):
                edges.setdefault(ep.dns_name, set()).add(node)
    return {name: edges.get(name, _NO_EDGES) for name in names}


_NO_EDGES: frozenset[str] = frozenset()


def _cycles(graph: Mapping[str, AbstractSet[str]]) -> list[list[str]]:
    """Strongly connected components that contain a cycle (Tarjan, iterative)."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index_of:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index_of:
                    index_of[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index_of[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    result.append(sorted(component))
    return result


def _chain_lengths(graph: Mapping[str, AbstractSet[str]]) -> dict[str, int] | None:
    """The CNAMEs on the longest chain from each node (1: its target is no CNAME), or None when the graph has
    a cycle. One depth-first walk, iterative so that long chains do not hit the recursion limit."""
    length: dict[str, int] = {}
    on_path: set[str] = set()
    for root, successors in graph.items():
        if root in length:
            continue
        if not successors:  # the common case: a CNAME to other data
            length[root] = 1
            continue
        on_path.add(root)
        work = [(root, iter(successors))]
        while work:
            node, pending = work[-1]
            for succ in pending:
                if succ in length:
                    continue
                if succ in on_path:
                    return None
                on_path.add(succ)
                work.append((succ, iter(graph[succ])))
                break
            else:
                work.pop()
                on_path.discard(node)
                length[node] = 1 + max((length[s] for s in graph[node]), default=0)
    return length


def _long_chains(graph: Mapping[str, AbstractSet[str]], length: Mapping[str, int]) -> list[list[str]]:
    """Paths of more than MAX_CNAME_HOPS CNAMEs (the graph has no cycles here), one per chain start."""
    too_long = [node for node, hops in length.items() if hops > MAX_CNAME_HOPS]
    if not too_long:
        return []
    has_predecessor = {s for succs in graph.values() for s in succs}
    chains: list[list[str]] = []
    for start in sorted(too_long):
        if start in has_predecessor:
            continue
        path = [start]
        while graph[path[-1]]:
            path.append(min(graph[path[-1]], key=lambda s: (-length[s], s)))
        chains.append(path)
    return chains


def _chain_problems(index: _ZoneIndex, served: Sequence[_Contribution]) -> dict[Origin, list[Issue]]:
    """CNAME loops and over-long chains: errors on every record that forms them (routing-semantics §3)."""
    graph = _cname_graph(index)
    problems: list[tuple[list[str], str]] = []
    length = _chain_lengths(graph)
    if length is None:
        for component in _cycles(graph):
            problems.append((component, f"CNAME loop through {', '.join(component)}"))
    else:
        for path in _long_chains(graph, length):
            problems.append(
                (
                    path,
                    f'CNAME chain from "{path[0]}" is {len(path)} hops long (max {MAX_CNAME_HOPS}): '
                    + " -> ".join(path),
                )
            )
    found: dict[Origin, list[Issue]] = defaultdict(list)
    for names, message in problems:
        members = set(names)
        # One issue per record, at its first endpoint on the loop or chain.
        first: dict[Origin, Origin] = {}
        for c in served:
            if c.endpoint.record_type == "CNAME" and c.endpoint.dns_name in members:
                seen = first.get(c.record)
                if seen is None or origin_sort_key(c.origin) < origin_sort_key(seen):
                    first[c.record] = c.origin
        for record, origin in first.items():
            found[record].append(Issue(origin, "error", VALIDATION_REASON, message))
    return found


def _warnings(index: _ZoneIndex, config: ZoneConfig, data: Sequence[Endpoint]) -> list[Issue]:
    """Zone checks that only warn: dangling CNAMEs, mixed routing sets, nameservers without addresses.

    `data` is the zone's merged data, sorted by key.
    """
    issues: list[Issue] = []
    zone = config.name
    for ep in index.by_type["CNAME"]:
        for target in ep.targets:
            if target in index.by_name or not is_same_or_under(target, zone):
                continue  # exists, or is not ours to judge
            if index.resolve(target) is None and not index.delegated(target):
                for origin in ep.origins:
                    issues.append(
                        Issue(
                            origin,
                            "warning",
                            "DanglingCNAME",
                            f'CNAME target "{target}" of "{ep.dns_name}" does not exist in zone {zone}',
                        )
                    )
    # `data` is sorted by key, so the members of a set (same name and type) are neighbours.
    for (name, rtype), group in groupby(data, key=_BY_NAME_TYPE):
        members = list(group)
        if len(members) == 1:
            continue  # a lone member mixes nothing
        with_geo = any(m.geo is not None for m in members)
        with_weight = any(m.weight is not None for m in members)
        for m in members:
            if with_geo and m.geo is None:
                message = (
                    f'{_describe(m.key)} has no geo-code while other members of the {rtype} set at "{name}" '
                    'have one; it is served as the default ("*")'
                )
            elif not with_geo and with_weight and m.weight is None:
                message = (
                    f'{_describe(m.key)} has no weight while other members of the {rtype} set at "{name}" '
                    "have one; it is served with weight 1"
                )
            else:
                continue
            issues.extend(Issue(o, "warning", "RoutingSet", message) for o in m.origins)
    issues += _nameserver_warnings(index, config)
    return issues


def _nameserver_warnings(index: _ZoneIndex, config: ZoneConfig) -> list[Issue]:
    zone = config.name
    configured = {ns.name: ns.addresses for ns in config.nameservers}
    # (owner name, nameserver, origins): apex NS endpoints first, else configuration, else ns1.<zone> (§4 apex).
    entries: list[tuple[str, str, tuple[Origin, ...]]] = []
    for ep in index.by_type["NS"]:
        entries += [(ep.dns_name, target, ep.origins) for target in ep.targets]
    if not any(owner == zone for owner, _, _ in entries):
        defaults = list(configured) or [f"ns1.{zone}"]
        entries += [(zone, ns, ()) for ns in defaults]
    issues: list[Issue] = []
    for owner, ns, origins in sorted(entries, key=lambda e: (e[0], e[1])):
        if not is_same_or_under(ns, zone) or configured.get(ns) or index.types(ns) & {"A", "AAAA"}:
            continue
        where = "apex nameserver" if owner == zone else f'nameserver of the delegation "{owner}"'
        message = (
            f'{where} "{ns}" is inside zone {zone} but has no address (no configured address, no A/AAAA '
            "endpoint): stock servers refuse to load such a zone"
        )
        issues += [Issue(o, "warning", "Nameserver", message) for o in origins] or [
            Issue(None, "warning", "Nameserver", message)
        ]
    return issues


def _build_zone(config: ZoneConfig, candidates: Sequence[_Candidate]) -> _ZoneMerge:
    """Merge one zone, dropping offenders and redoing the merge until the zone checks pass.

    A redo only merges again the keys whose contributions changed.
    """
    contributions: list[_Contribution] = []
    for candidate in candidates:
        owner, record, group = candidate.record.owner_id, candidate.record.origin, candidate.group
        contributions += [
            _Contribution(owner, record, ep, (ep.dns_name, ep.record_type, ep.set_identifier), ep.origins[0], group)
            for ep in candidate.record.endpoints
        ]
    dropped: dict[Origin, list[Issue]] = {}
    cname_out: dict[Origin, Issue] = {}
    previous: dict[_Key, _KeyMerge] = {}
    # Each round drops at least one contribution, so this terminates; the bound is a safety net.
    for _ in range(len(contributions) + 1):
        active = (
            [c for c in contributions if c.record not in dropped and c.origin not in cname_out]
            if dropped or cname_out
            else contributions
        )
        merged = _merge_contributions(active, previous)
        previous = merged.keys
        index = _ZoneIndex(config.name, merged.data + merged.txt)
        conflicts = _cname_conflicts(index, merged.served)
        if conflicts:
            cname_out.update(conflicts)
            continue
        chains = _chain_problems(index, merged.served)
        if not chains:
            break
        dropped.update(chains)
    excluded = {**merged.losers, **cname_out}
    kept = [c for c in active if c.origin not in excluded] if excluded else active
    issues = [*merged.issues, *excluded.values(), *(i for found in dropped.values() for i in found)]
    issues += _warnings(index, config, merged.data)
    served: list[Endpoint] = []
    outside: list[Endpoint] = []
    below = "." + config.name
    for ep in merged.endpoints():  # is_same_or_under(ep.dns_name, config.name), spelled out: once per endpoint
        (served if ep.dns_name.endswith(below) or ep.dns_name == config.name else outside).append(ep)
    # Upstream's registry names the TXT of an apex record `kuadrant-<id>-<type>-<zone>`: a sibling of the
    # zone, not inside it. It stays in the authoritative record; the zone cannot serve it.
    issues += [
        Issue(
            None,
            "warning",
            "OutOfZone",
            f"{ep.record_type} {ep.dns_name} is outside zone {config.name}; "
            "kept in the authoritative record, not served",
        )
        for ep in outside
    ]
    view = ZoneView(config=config, endpoints=tuple(served))
    return _ZoneMerge(view, kept, dropped, excluded, issues, merged.keys)


# --- outputs -------------------------------------------------------------------------------------


def _authoritative_records(
    candidates: Sequence[_Candidate],
    dropped: Mapping[Origin, list[Issue]],
    zones: Mapping[str, _ZoneMerge],
) -> list[AuthoritativeRecord]:
    """One authoritative DNSRecord per (namespace, rootHost without `*.`) with a contributing record:
    the merge of the contributions the zones kept from its group's records.
    """
    groups: dict[tuple[str, str], list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        if candidate.record.origin not in dropped:
            groups[candidate.group].append(candidate)
    group_of = {c.record.origin: c.group for c in candidates}
    if len(group_of) == len(candidates):
        by_group = _group_endpoints(zones)
    else:  # one record (cluster/namespace/name) read twice, e.g. a manifest repeated in two files
        by_group = _group_endpoints_by_record(zones, groups, group_of)
    records: list[AuthoritativeRecord] = []
    for (namespace, root), members in sorted(groups.items()):
        zone = members[0].zone
        digest = root_host_hash(root)
        endpoints = by_group.get((namespace, root), ())
        labels = {
            LABEL_AUTHORITATIVE: "true",
            LABEL_AUTHORITATIVE_HASH: digest,
            LABEL_ZONE_NAME: zone,
            LABEL_PROVIDER_NAME: PROVIDER_NAME,
        }
        records.append(
            AuthoritativeRecord(
                namespace=namespace,
                name=AUTHORITATIVE_PREFIX + digest,
                root_host=root,
                zone=zone,
                labels=sorted_items(labels),
                endpoints=endpoints,
            )
        )
    return records


def _group_endpoints(zones: Mapping[str, _ZoneMerge]) -> dict[tuple[str, str], tuple[Endpoint, ...]]:
    """The endpoints of each group (namespace, root): its kept contributions merged by key, from the zones'
    per-key merges.

    A key's kept contributions are a subsequence of its zone merge's (same merge order), so a key whose
    contributions all come from one group and were all kept has that group's merge already: the zone's.
    Only split or trimmed keys are merged again. Needs one candidate per record origin.
    """
    by_group: dict[tuple[str, str], dict[_Key, _KeyMerge]] = defaultdict(dict)
    for zone in zones.values():
        excluded = zone.excluded
        for key, key_merge in zone.keys.items():  # in key order, so each group's keys are too
            kept = key_merge.contributions
            if excluded:
                kept = [c for c in kept if c.origin not in excluded]
                if not kept:
                    continue
            first = kept[0].group
            if len(kept) == 1 or all(c.group == first for c in kept):
                whole = kept is key_merge.contributions or key_merge.merges(kept)
                by_group[first][key] = key_merge if whole else _merge_key(key, kept)
                continue
            split: dict[tuple[str, str], list[_Contribution]] = defaultdict(list)
            for c in kept:
                split[c.group].append(c)
            for group, members in split.items():
                by_group[group][key] = _merge_key(key, members)
    return {group: _endpoints(keys) for group, keys in by_group.items()}


def _group_endpoints_by_record(
    zones: Mapping[str, _ZoneMerge],
    groups: Mapping[tuple[str, str], list[_Candidate]],
    group_of: Mapping[Origin, tuple[str, str]],
) -> dict[tuple[str, str], tuple[Endpoint, ...]]:
    """`_group_endpoints` when record origins repeat: each kept contribution goes to the group of the last
    candidate with its record origin, and each group is merged from its contributions again."""
    kept_by_group: dict[tuple[str, str], list[_Contribution]] = defaultdict(list)
    for zone in zones.values():
        for contribution in zone.kept:
            kept_by_group[group_of[contribution.record]].append(contribution)
    return {
        group: _merge_contributions(kept_by_group[group], zones[members[0].zone].keys).endpoints()
        for group, members in groups.items()
    }


def _issue_text(issue: Issue) -> str:
    if issue.origin is not None and issue.origin.index is not None:
        return f"spec.endpoints[{issue.origin.index}]: {issue.message}"
    return issue.message


def _validation_verdict(origin: Origin, issues: Iterable[Issue]) -> RecordVerdict:
    errors = "; ".join(_issue_text(i) for i in sorted_issues(issues) if i.severity == "error")
    return RecordVerdict(origin, False, VALIDATION_REASON, VALIDATION_PREFIX + errors)


def _served_verdict(
    candidate: _Candidate,
    dropped: Mapping[Origin, list[Issue]],
    excluded: Mapping[Origin, Issue],
    auth_names: set[tuple[str, str]],
) -> RecordVerdict:
    origin = candidate.record.origin
    namespace = origin.namespace
    name = AUTHORITATIVE_PREFIX + root_host_hash(candidate.root)
    auth = name if (namespace, name) in auth_names else None
    if origin in dropped:
        verdict = _validation_verdict(origin, dropped[origin])
        return RecordVerdict(origin, False, verdict.reason, verdict.message, auth, candidate.zone)
    lost = (
        sorted_issues(excluded[o] for ep in candidate.record.endpoints for o in ep.origins[:1] if o in excluded)
        if excluded
        else ()
    )
    if lost:
        message = "not served: " + "; ".join(_issue_text(i) for i in lost) + "; the other endpoints are served"
        return RecordVerdict(origin, False, CONFLICT_REASON, message, auth, candidate.zone)
    return RecordVerdict(origin, True, READY_REASON, READY_MESSAGE, auth, candidate.zone)


def _sorted_verdicts(verdicts: Mapping[Origin, RecordVerdict]) -> tuple[RecordVerdict, ...]:
    return tuple(verdicts[o] for o in sorted(verdicts, key=origin_sort_key))
