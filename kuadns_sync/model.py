"""Value types shared by every stage: origins, issues, endpoints, source records, settings, merge results.

Pure, no I/O. Every type is an immutable dataclass or NamedTuple. This module must not import
kubernetes, dnspython, jinja2, maxminddb, typer, asyncio or socket. Names are stored in one canonical
form everywhere: lower-case, no trailing dot (as DNSRecord and external-dns write them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, NamedTuple, TypedDict

# Label and key facts (kuadrant-coredns.md §1.7, §2.4).
LABEL_AUTHORITATIVE = "kuadrant.io/authoritative-record"
LABEL_AUTHORITATIVE_HASH = "kuadrant.io/authoritative-record-hash"
LABEL_ZONE_NAME = "kuadrant.io/coredns-zone-name"
LABEL_PROVIDER_NAME = "kuadrant.io/dns-provider-name"
LABEL_DEFAULT_PROVIDER = "kuadrant.io/default-provider"
LABEL_MULTICLUSTER_KUBECONFIG = "kuadrant.io/multicluster-kubeconfig"
FINALIZER = "kuadrant.io/dns-record"
PROVIDER_SECRET_TYPE = "kuadrant.io/coredns"
AUTHORITATIVE_PREFIX = "authoritative-record-"
PS_WEIGHT = "weight"
PS_GEO = "geo-code"
WILDCARD_GEO = "*"
OWNER_LABEL = "owner"
OWNER_DELIMITER = "&&"
GROUP = "kuadrant.io"
VERSION = "v1alpha1"
PLURAL = "dnsrecords"
KIND = "DNSRecord"

# Record types: the upstream set plus the welcome extras of routing-semantics §3.
SUPPORTED_TYPES: frozenset[str] = frozenset({"A", "AAAA", "CNAME", "TXT", "NS", "MX", "SRV", "CAA"})
# Types whose targets are unioned across owners when there is no setIdentifier (routing-semantics §2).
UNION_TYPES: frozenset[str] = frozenset({"A", "AAAA", "NS", "TXT", "MX", "SRV", "CAA"})

Role = Literal["primary", "secondary"]
GeoFallback = Literal["any", "nodata"]
Severity = Literal["error", "warning"]


class RawEndpoint(TypedDict, total=False):
    """An external-dns Endpoint as it appears in DNSRecord JSON (untrusted)."""

    dnsName: str
    targets: list[str]
    recordType: str
    setIdentifier: str
    recordTTL: int
    labels: dict[str, str]
    providerSpecific: list[dict[str, str]]


RawObject = dict[str, Any]
"""A Kubernetes object as JSON (untrusted): DNSRecord, Secret, Namespace."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a piece of data came from: `cluster/namespace/name spec.endpoints[i]`."""

    cluster: str
    namespace: str
    name: str
    index: int | None = None

    def record(self) -> Origin:
        """The origin of the whole DNSRecord (without the endpoint index)."""
        return Origin(self.cluster, self.namespace, self.name)

    def at(self, index: int) -> Origin:
        """The origin of endpoint `index` of this record."""
        return Origin(self.cluster, self.namespace, self.name, index)

    def sort_key(self) -> tuple[str, str, str, int]:
        """Total order: cluster, namespace, name, then the record before its endpoints."""
        return (self.cluster, self.namespace, self.name, -1 if self.index is None else self.index)

    def __lt__(self, other: Origin) -> bool:
        return self.sort_key() < other.sort_key()

    def __str__(self) -> str:
        base = f"{self.cluster}/{self.namespace}/{self.name}"
        return base if self.index is None else f"{base} spec.endpoints[{self.index}]"


@dataclass(frozen=True, slots=True)
class Issue:
    """A reported, non-fatal data problem. Errors drop the offending record; warnings keep it.

    `reason` is a short machine word (upstream condition reasons where one fits: `ValidationError`,
    `ProviderError`; else `Conflict`, `OutOfZone`, `Stale`, `NotServed`, ...).
    """

    origin: Origin | None
    severity: Severity
    reason: str
    message: str

    def sort_key(self) -> tuple[tuple[str, str, str, int], str, str, str]:
        """Total order: origin (issues without one first), severity, reason, message."""
        origin = self.origin.sort_key() if self.origin is not None else ("", "", "", -2)
        return (origin, self.severity, self.reason, self.message)

    def __lt__(self, other: Issue) -> bool:
        return self.sort_key() < other.sort_key()

    def __str__(self) -> str:
        if self.origin is None:
            return f"{self.severity}: {self.message}"
        return f"{self.severity}: {self.origin}: {self.message}"


class EndpointKey(NamedTuple):
    """Endpoint identity everywhere: (dnsName lower-cased, recordType, setIdentifier)."""

    dns_name: str
    record_type: str
    set_identifier: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One validated endpoint. `weight`/`geo` are parsed once from providerSpecific.

    `provider_specific` keeps the raw (name, value) pairs in their original order so that the
    authoritative record can be written back exactly; `labels` are sorted (key, value) pairs.
    `origins` says which source endpoints contributed (not part of equality).
    """

    dns_name: str
    record_type: str
    targets: tuple[str, ...]
    ttl: int = 0
    set_identifier: str = ""
    weight: int | None = None
    geo: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    provider_specific: tuple[tuple[str, str], ...] = ()
    origins: tuple[Origin, ...] = field(default=(), compare=False)

    @property
    def key(self) -> EndpointKey:
        return EndpointKey(self.dns_name, self.record_type, self.set_identifier)

    def label(self, name: str) -> str | None:
        """Return the value of endpoint label `name`, if set."""
        for key, value in self.labels:
            if key == name:
                return value
        return None

    def to_raw(self) -> RawEndpoint:
        """Convert to external-dns Endpoint JSON (keys omitted when empty, as Go's omitempty does)."""
        raw: RawEndpoint = {"dnsName": self.dns_name, "recordType": self.record_type}
        if self.targets:
            raw["targets"] = list(self.targets)
        if self.set_identifier:
            raw["setIdentifier"] = self.set_identifier
        if self.ttl:
            raw["recordTTL"] = self.ttl
        if self.labels:
            raw["labels"] = dict(self.labels)
        if self.provider_specific:
            raw["providerSpecific"] = [{"name": n, "value": v} for n, v in self.provider_specific]
        return raw


def new_endpoint(
    dns_name: str,
    record_type: str,
    targets: tuple[str, ...],
    ttl: int,
    set_identifier: str,
    weight: int | None,
    geo: str | None,
    labels: tuple[tuple[str, str], ...],
    provider_specific: tuple[tuple[str, str], ...],
    origins: tuple[Origin, ...],
) -> Endpoint:
    """`Endpoint(...)` with every field given: the same object, built in about half the time.

    For the hot paths only (parse and merge build three endpoints per source endpoint). A frozen dataclass's
    `__init__` stores each field through `object.__setattr__`; this stores each slot through its own
    descriptor. tests/unit/test_model.py checks that both agree on every field.
    """
    endpoint: Endpoint = _new_object(Endpoint)
    (
        set_dns_name,
        set_record_type,
        set_targets,
        set_ttl,
        set_set_identifier,
        set_weight,
        set_geo,
        set_labels,
        set_provider_specific,
        set_origins,
    ) = _ENDPOINT_SLOTS
    set_dns_name(endpoint, dns_name)
    set_record_type(endpoint, record_type)
    set_targets(endpoint, targets)
    set_ttl(endpoint, ttl)
    set_set_identifier(endpoint, set_identifier)
    set_weight(endpoint, weight)
    set_geo(endpoint, geo)
    set_labels(endpoint, labels)
    set_provider_specific(endpoint, provider_specific)
    set_origins(endpoint, origins)
    return endpoint


_new_object = object.__new__
# The slot descriptors' setters, in field order (the order `new_endpoint` unpacks them in).
_ENDPOINT_SLOTS: tuple[Any, ...] = tuple(vars(Endpoint)[f.name].__set__ for f in fields(Endpoint))


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A parsed DNSRecord from one cluster (or a manifest directory standing for one).

    `endpoints` holds only the endpoints that passed validation; `issues` everything found. A record
    with any error issue contributes nothing to the merge (routing-semantics §3).
    """

    origin: Origin
    uid: str
    generation: int
    resource_version: str
    root_host: str
    owner_id: str
    delegate: bool
    provider_ref: str | None
    labels: tuple[tuple[str, str], ...]
    deleting: bool
    endpoints: tuple[Endpoint, ...]
    issues: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.issues or not any(issue.severity == "error" for issue in self.issues)

    @property
    def authoritative(self) -> bool:
        return (LABEL_AUTHORITATIVE, "true") in self.labels


@dataclass(frozen=True, slots=True)
class ProviderSecret:
    """A DNS provider Secret: its type, and for CoreDNS the zones it serves (ZONES, items trimmed)."""

    cluster: str
    namespace: str
    name: str
    type: str
    zones: tuple[str, ...]
    default: bool


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything read from one cluster (or one manifest sub-directory) in one collection pass.

    `stale_since` is set when this is a last-known contribution kept for an unreachable cluster
    (seconds since the epoch of the last successful list).
    """

    name: str
    records: tuple[RawObject, ...]
    secrets: tuple[ProviderSecret, ...] = ()
    local: bool = False
    stale_since: float | None = None


@dataclass(frozen=True, slots=True)
class Nameserver:
    """An apex nameserver: its name and (for in-zone names) the addresses of its glue."""

    name: str
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """A zone we serve, with optional SOA/NS settings."""

    name: str
    nameservers: tuple[Nameserver, ...] = ()
    rname: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """What the user configured (flags or config file); passed explicitly to the pure stages."""

    zones: tuple[ZoneConfig, ...] = ()
    role: Role = "primary"
    local_cluster: str = "local"
    default_ttl: int = 60
    geo_fallback: GeoFallback = "any"
    soa_refresh: int = 7200
    soa_retry: int = 1800
    soa_expire: int = 86400
    soa_minimum: int = 60
    soa_ttl: int = 60

    def zone(self, name: str) -> ZoneConfig | None:
        for zone in self.zones:
            if zone.name == name:
                return zone
        return None


@dataclass(frozen=True, slots=True)
class AuthoritativeRecord:
    """A computed authoritative DNSRecord `authoritative-record-<short8(rootHost)>` (source namespace)."""

    namespace: str
    name: str
    root_host: str
    zone: str | None
    labels: tuple[tuple[str, str], ...]
    endpoints: tuple[Endpoint, ...]

    def to_manifest(self) -> RawObject:
        """The DNSRecord object to write (metadata, spec); status is the sync loop's business."""
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(self.labels)},
            "spec": {
                "rootHost": self.root_host,
                "endpoints": [ep.to_raw() for ep in self.endpoints],
            },
        }


@dataclass(frozen=True, slots=True)
class RecordVerdict:
    """What the merge decided about one source record, for its status (routing-semantics §2 'status')."""

    origin: Origin
    ready: bool
    reason: str
    message: str
    authoritative_record: str | None = None
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneView:
    """The merged content of one zone: every endpoint served in it, sorted by key."""

    config: ZoneConfig
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True, slots=True)
class MergeResult:
    """Output of the merge: what to write to the cluster, what to serve, and what to report."""

    authoritative: tuple[AuthoritativeRecord, ...]
    zones: tuple[ZoneView, ...]
    verdicts: tuple[RecordVerdict, ...]
    issues: tuple[Issue, ...]

    def zone(self, name: str) -> ZoneView | None:
        for zone in self.zones:
            if zone.config.name == name:
                return zone
        return None


def sorted_items(mapping: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Canonical form of a string map: sorted (key, value) pairs."""
    return tuple(sorted((mapping or {}).items()))
