"""Untrusted Kubernetes JSON -> validated values: DNSRecords to SourceRecords, Secrets to ProviderSecrets.

Pure, no I/O. Never raises for bad data: every problem becomes an `Issue` naming its origin
(routing-semantics §3), and a record with any error contributes no endpoints.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from kuadns_sync.geocodes import CONTINENTS, COUNTRY_CONTINENT
from kuadns_sync.hashing import short_hash
from kuadns_sync.model import (
    LABEL_DEFAULT_PROVIDER,
    PS_GEO,
    PS_WEIGHT,
    SUPPORTED_TYPES,
    WILDCARD_GEO,
    Endpoint,
    Issue,
    Origin,
    ProviderSecret,
    RawObject,
    SourceRecord,
    new_endpoint,
)
from kuadns_sync.names import canonical_name, checked_name, is_same_or_under, plain_host_name, strip_wildcard

MAX_TTL = 2**31 - 1  # RFC 2181 §8
MAX_WEIGHT = 2**64 - 1  # upstream parses weights as unsigned 64-bit integers
MAX_TXT_TARGET_BYTES = 4000  # longer than 255 is split into strings by render; this bounds one record
OWNER_ID_MIN, OWNER_ID_MAX = 6, 36  # CRD limits on spec.ownerID
DELETING_REASONS = frozenset({"ProviderEndpointsDeletion", "ProviderEndpointsRemoved"})
VALIDATION_ERROR = "ValidationError"
MISSING = "<missing>"

# The CRD pattern of spec.rootHost (kuadrant-coredns.md §1.2): at least two dot-separated groups.
_ROOT_HOST_PATTERN = re.compile(r"^(?:[\w\-.~:/?#\[\]@!$&'()*+,;=]+)\.(?:[\w\-.~:/?#\[\]@!$&'()*+,;=]+)$")
_UNSIGNED = re.compile(r"[0-9]+")  # ASCII digits only: rejects "", "-1", "1.5", "0x10", " 7", "٣"
_CAA_TAG = re.compile(r"[A-Za-z0-9]+")  # RFC 8659 §4.1
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# A dotted quad already written as `ipaddress` would write it (no leading zeros): the common case, no parse needed.
_CANONICAL_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_OWNER_ID_FORBIDDEN = frozenset(' \t\r\n",=&')  # would break the TXT registry value or the && owner list
# Owner names that may carry underscores (RFC 8552 service labels, `_acme-challenge` delegation by CNAME).
_UNDERSCORE_OWNER_TYPES = frozenset({"TXT", "SRV", "CNAME"})
_HOSTNAME_TARGET_TYPES = frozenset({"NS", "MX", "SRV"})


_Report = Callable[[Origin, str], None]


def origin_sort_key(origin: Origin | None) -> tuple[str, str, str, int]:
    """Total order on optional origins (a whole record sorts before its endpoints)."""
    if origin is None:
        return ("", "", "", -2)
    return (origin.cluster, origin.namespace, origin.name, -1 if origin.index is None else origin.index)


# dict first: an exact type check, before the (slow) ABC check that other mappings need.
_MAPPINGS = (dict, Mapping)

def sorted_issues(issues: Iterable[Issue]) -> tuple[Issue, ...]:
    """De-duplicated issues in a stable order: origin, severity, reason, message."""
    return tuple(sorted(set(issues), key=lambda i: (origin_sort_key(i.origin), i.severity, i.reason, i.message)))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    if value is None:  # absent: the common case after dict, and the ABC check below is slow to say no
        return {}
    return value if isinstance(value, _MAPPINGS) else {}


def _quote(value: Any) -> str:
    """Show a user value in a message: strings in double quotes, anything else as JSON-ish repr."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def record_origin(raw: RawObject, cluster: str) -> Origin:
    """The best origin available for a raw object (placeholders for missing metadata)."""
    meta = _mapping(raw.get("metadata") if isinstance(raw, _MAPPINGS) else None)
    return Origin(cluster, _text(meta.get("namespace")) or MISSING, _text(meta.get("name")) or MISSING)


def owner_id_for(spec_owner: str | None, uid: str, cluster: str, namespace: str, name: str) -> str:
    """spec.ownerID, else short8(metadata.uid) as upstream; without a uid (offline manifests) short8 of
    `cluster/namespace/name`, which is stable across renders of the same manifests."""
    if spec_owner:
        return spec_owner
    if uid:
        return short_hash(uid, 8)
    return short_hash(f"{cluster}/{namespace}/{name}", 8)


def parse_dnsrecord(raw: RawObject, cluster: str) -> SourceRecord:
    """Parse and validate one DNSRecord object from `cluster`; problems become Issues, never exceptions."""
    origin = record_origin(raw, cluster)
    issues: list[Issue] = []

    def error(where: Origin, message: str) -> None:
        issues.append(Issue(where, "error", VALIDATION_ERROR, message))

    if not isinstance(raw, _MAPPINGS):
        error(origin, "the object is not a mapping")
        raw = {}
    meta = _mapping(raw.get("metadata"))
    spec_raw = raw.get("spec")
    spec = _mapping(spec_raw)
    status = _mapping(raw.get("status"))
    if origin.name == MISSING:
        error(origin, "metadata.name is missing")
    if origin.namespace == MISSING:
        error(origin, "metadata.namespace is missing")
    if not isinstance(spec_raw, _MAPPINGS):
        error(origin, "spec is missing or not a mapping")

    uid = _text(meta.get("uid")) or ""
    generation = meta.get("generation")
    resource_version = _text(meta.get("resourceVersion")) or ""
    labels_raw = meta.get("labels")
    labels = tuple(sorted((k, v) for k, v in _mapping(labels_raw).items() if isinstance(k, str) and isinstance(v, str)))

    root_host = _parse_root_host(spec.get("rootHost"), origin, error)

    spec_owner = spec.get("ownerID")
    if spec_owner is not None and not _owner_id_ok(spec_owner):
        error(
            origin,
            f"spec.ownerID {_quote(spec_owner)} must be {OWNER_ID_MIN}-{OWNER_ID_MAX} characters without "
            'spaces, commas, "=", "&" or quotes',
        )
        spec_owner = None
    owner_id = owner_id_for(_text(spec_owner), uid, cluster, origin.namespace, origin.name)

    delegate_raw = spec.get("delegate", False)
    if not isinstance(delegate_raw, bool):
        error(origin, f"spec.delegate {_quote(delegate_raw)} is not a boolean")
        delegate_raw = False
    provider_ref = _text(_mapping(spec.get("providerRef")).get("name")) or None
    if "providerRef" in spec and not isinstance(spec.get("providerRef"), _MAPPINGS):
        error(origin, "spec.providerRef is not a mapping with a name")
    if delegate_raw and provider_ref:
        error(origin, "spec.delegate=true and spec.providerRef are mutually exclusive")

    deleting = bool(meta.get("deletionTimestamp")) or _ready_reason(status) in DELETING_REASONS

    endpoints: list[Endpoint] = []
    raw_endpoints = spec.get("endpoints")
    if raw_endpoints is None:
        raw_endpoints = []
    if not isinstance(raw_endpoints, list):
        error(origin, "spec.endpoints is not a list")
        raw_endpoints = []
    seen: dict[tuple[str, str, str], int] = {}  # by endpoint key (a plain tuple: same hash and equality)
    root = strip_wildcard(root_host)
    cluster_name, namespace, name = origin.cluster, origin.namespace, origin.name
    for index, raw_ep in enumerate(raw_endpoints):
        where = Origin(cluster_name, namespace, name, index)  # origin.at(index), without the method call
        before = len(issues)
        endpoint = _parse_endpoint(raw_ep, where, root, error)
        if endpoint is None or len(issues) > before:
            continue
        first = seen.setdefault((endpoint.dns_name, endpoint.record_type, endpoint.set_identifier), index)
        if first != index:
            error(
                where,
                f'duplicate endpoint (dnsName "{endpoint.dns_name}", recordType {endpoint.record_type}, '
                f'setIdentifier "{endpoint.set_identifier}"): also spec.endpoints[{first}]',
            )
            continue
        endpoints.append(endpoint)
    if len(endpoints) > 1:
        _check_cname_exclusive(endpoints, error)

    # Positional, in field order (keyword matching costs as much as the rest of this constructor call).
    return SourceRecord(
        origin,
        uid,
        generation if isinstance(generation, int) and not isinstance(generation, bool) else 0,  # generation
        resource_version,
        root_host,
        owner_id,
        delegate_raw,  # delegate
        provider_ref,
        labels,
        deleting,
        tuple(endpoints),
        sorted_issues(issues) if issues else (),  # issues
    )


def _owner_id_ok(value: Any) -> bool:
    return (
        isinstance(value, str)
        and OWNER_ID_MIN <= len(value) <= OWNER_ID_MAX
        and value.isprintable()
        and not (set(value) & _OWNER_ID_FORBIDDEN)
    )


def _ready_reason(status: Mapping[str, Any]) -> str | None:
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return None
    for condition in conditions:
        if isinstance(condition, _MAPPINGS) and condition.get("type") == "Ready":
            return _text(condition.get("reason"))
    return None


def _parse_root_host(value: Any, origin: Origin, error: _Report) -> str:
    if not isinstance(value, str) or not value:
        error(origin, "spec.rootHost is missing or empty")
        return ""
    if not _ROOT_HOST_PATTERN.match(value):
        error(origin, f"spec.rootHost {_quote(value)} must have at least two dot-separated labels")
        return ""
    root, problem = checked_name(value, wildcard=True)
    if problem is not None:
        error(origin, f"spec.rootHost {_quote(value)} is not a valid DNS name: {problem}")
        return ""
    if "." not in strip_wildcard(root):
        error(origin, f"spec.rootHost {_quote(value)} must have at least two labels besides a wildcard")
        return ""
    return root


def _parse_endpoint(raw: Any, where: Origin, root: str, error: _Report) -> Endpoint | None:
    """Parse one endpoint of a record whose rootHost is `root` without `*.` ("" when invalid); report every
    problem found through `error`."""
    if not isinstance(raw, _MAPPINGS):
        error(where, "the endpoint is not a mapping")
        return None
    ok = True

    record_type_raw = raw.get("recordType")
    record_type = record_type_raw.upper() if isinstance(record_type_raw, str) else ""
    if not record_type:
        error(where, "recordType is missing")
        ok = False
    elif record_type not in SUPPORTED_TYPES:
        supported = ", ".join(sorted(SUPPORTED_TYPES))
        error(where, f"recordType {_quote(record_type_raw)} is not supported (supported: {supported})")
        ok = False

    dns_name_raw = raw.get("dnsName")
    dns_name = ""
    if not isinstance(dns_name_raw, str) or not dns_name_raw:
        error(where, "dnsName is missing or empty")
        ok = False
    else:
        plain = plain_host_name(dns_name_raw)  # the common case: a valid plain host name
        if plain is not None:
            dns_name, problem = plain, None
        else:
            dns_name, problem = checked_name(
                dns_name_raw, wildcard=True, underscore=record_type in _UNDERSCORE_OWNER_TYPES
            )
        if problem is not None:
            error(where, f"dnsName {_quote(dns_name_raw)} is not a valid DNS name: {problem}")
            ok = False
        elif root and not is_same_or_under(dns_name, root):
            error(where, f'dnsName "{dns_name}" is not "{root}" or a name under it (spec.rootHost)')
            ok = False

    ttl = raw.get("recordTTL", 0)
    if ttl is None:
        ttl = 0
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        error(where, f"recordTTL {_quote(ttl)} is not an integer")
        ttl, ok = 0, False
    elif not 0 <= ttl <= MAX_TTL:
        error(where, f"recordTTL {ttl} is out of range 0..{MAX_TTL}")
        ttl, ok = 0, False

    set_identifier = raw.get("setIdentifier", "")
    if set_identifier is None:
        set_identifier = ""
    if not isinstance(set_identifier, str):
        error(where, f"setIdentifier {_quote(set_identifier)} is not a string")
        set_identifier, ok = "", False

    labels: tuple[tuple[str, str], ...] = ()
    labels_raw = raw.get("labels")
    if labels_raw:  # None, {} and other empty values mean no labels
        if isinstance(labels_raw, _MAPPINGS) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels_raw.items()
        ):
            labels = tuple(sorted(labels_raw.items()))
        else:
            error(where, "labels must map strings to strings")
            ok = False

    provider_specific, weight, geo, ps_ok = _parse_provider_specific(raw.get("providerSpecific"), where, error)
    ok = ok and ps_ok

    targets, targets_ok = _parse_targets(raw.get("targets"), record_type, where, error)
    ok = ok and targets_ok

    if not ok:
        return None
    return new_endpoint(  # once per source endpoint: the fast constructor
        dns_name, record_type, targets, ttl, set_identifier, weight, geo, labels, provider_specific, (where,)
    )


def _parse_provider_specific(
    raw: Any, where: Origin, error: _Report
) -> tuple[tuple[tuple[str, str], ...], int | None, str | None, bool]:
    if raw is None:
        return (), None, None, True
    if not isinstance(raw, list):
        error(where, "providerSpecific is not a list of {name, value}")
        return (), None, None, False
    pairs: list[tuple[str, str]] = []
    ok = True
    for item in raw:
        entry = _mapping(item)
        name = entry.get("name")
        value = entry.get("value", "")
        if not isinstance(name, str) or not isinstance(value, str):
            error(where, f"providerSpecific entry {item!r} is not a {{name, value}} pair of strings")
            ok = False
            continue
        pairs.append((name, value))
    weight: int | None = None
    geo: str | None = None
    if len(pairs) > 1:
        names = [name for name, _ in pairs]
        for key in (PS_WEIGHT, PS_GEO):
            if names.count(key) > 1:
                error(where, f"providerSpecific sets {key} more than once")
                ok = False
    for name, value in pairs:
        if name == PS_WEIGHT and weight is None:
            number = int(value) if _UNSIGNED.fullmatch(value) else -1
            if 0 <= number <= MAX_WEIGHT:
                weight = number
            else:
                error(where, f"weight {_quote(value)} is not a base-10 integer >= 0")
                ok = False
        elif name == PS_GEO and geo is None:
            if geo_code_ok(value):
                geo = value
            else:
                error(
                    where,
                    f"geo-code {_quote(value)} is not GEO-<AF|AN|AS|EU|NA|OC|SA>, an ISO 3166-1 alpha-2 "
                    'country code or "*" (upper case)',
                )
                ok = False
    if weight is not None and geo is not None:
        error(where, "both weight and geo-code are set; an endpoint is either weighted or geo-routed")
        ok = False
    return _shared_pairs(tuple(pairs)), weight, geo, ok


@lru_cache(maxsize=4096)
def _shared_pairs(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """One tuple per distinct providerSpecific list: a few weights and geo codes recur on thousands of endpoints
    (and live on in the merged endpoints and registry TXT)."""
    return pairs


def geo_code_ok(value: str) -> bool:
    """True for `GEO-<continent>`, a known ISO 3166-1 alpha-2 code, or `*` (exact case, as upstream)."""
    if value == WILDCARD_GEO or value in COUNTRY_CONTINENT:
        return True
    return value.startswith("GEO-") and value[4:] in CONTINENTS


def _parse_targets(raw: Any, record_type: str, where: Origin, error: _Report) -> tuple[tuple[str, ...], bool]:
    if raw is None or raw == []:
        error(where, "targets is empty")
        return (), False
    if not isinstance(raw, list):
        error(where, "targets is not a list of strings")
        return (), False
    ok = True
    out: list[str] = []
    check = _TARGET_CHECKS.get(record_type)  # None: the type is already reported; its targets cannot be judged
    for i, target in enumerate(raw):
        if not isinstance(target, str):
            error(where, f"targets[{i}] {_quote(target)} is not a string")
            ok = False
            continue
        if not target:
            error(where, f"targets[{i}] is empty")
            ok = False
            continue
        if check is None:
            continue
        problem, canonical = check(target)
        if problem is not None:
            error(where, problem)
            ok = False
        else:
            out.append(canonical)
    if record_type == "CNAME" and len(raw) != 1:
        # RFC 1034 §3.6.2: a CNAME RRset has exactly one record.
        error(where, f"CNAME must have exactly 1 target, has {len(raw)}")
        ok = False
    # RFC 2181 §5: duplicate records in an RRset carry no meaning, so sort and de-duplicate.
    return (tuple(sorted(set(out))) if len(out) > 1 else tuple(out)), ok


def check_target(record_type: str, target: str) -> tuple[str | None, str]:
    """Validate one target of a supported type: (problem or None, canonical form)."""
    return _TARGET_CHECKS.get(record_type, _caa_target)(target)


def _a_target(target: str) -> tuple[str | None, str]:
    if _CANONICAL_IPV4.fullmatch(target):
        return None, target
    try:
        return None, str(ipaddress.IPv4Address(target))
    except ValueError:
        return f"A target {_quote(target)} is not an IPv4 address", target


def _aaaa_target(target: str) -> tuple[str | None, str]:
    try:
        return None, str(ipaddress.IPv6Address(target))
    except ValueError:
        return f"AAAA target {_quote(target)} is not an IPv6 address", target


def _txt_target(target: str) -> tuple[str | None, str]:
    size = len(target.encode("utf-8"))
    if size > MAX_TXT_TARGET_BYTES:
        return f"TXT target is {size} bytes long (max {MAX_TXT_TARGET_BYTES})", target
    return None, target


def _cname_target(target: str) -> tuple[str | None, str]:
    name = plain_host_name(target)  # the common case: a valid plain host name
    return (None, name) if name is not None else _host_target("CNAME", target, underscore=True)


def _ns_target(target: str) -> tuple[str | None, str]:
    name = plain_host_name(target)
    return (None, name) if name is not None else _host_target("NS", target)


def _mx_target(target: str) -> tuple[str | None, str]:
    return _fields_target("MX", target, ("preference",), "<preference> <host>")


def _srv_target(target: str) -> tuple[str | None, str]:
    return _fields_target("SRV", target, ("priority", "weight", "port"), "<priority> <weight> <port> <target>")


def _host_target(record_type: str, target: str, *, underscore: bool = False) -> tuple[str | None, str]:
    name, problem = checked_name(target, underscore=underscore)
    if problem is not None:
        return f"{record_type} target {_quote(target)} is not a valid host name: {problem}", target
    return None, name


def _fields_target(record_type: str, target: str, numbers: tuple[str, ...], shape: str) -> tuple[str | None, str]:
    parts = target.split()
    if len(parts) != len(numbers) + 1:
        return f'{record_type} target {_quote(target)} is not "{shape}"', target
    for field_name, value in zip(numbers, parts, strict=False):
        if not _UNSIGNED.fullmatch(value) or int(value) > 65535:
            return f"{record_type} target {_quote(target)}: {field_name} {_quote(value)} is not 0..65535", target
    problem, host = _host_target(record_type, parts[-1])
    if problem is not None:
        return problem, target
    return None, " ".join([*(str(int(v)) for v in parts[:-1]), host])


def _caa_target(target: str) -> tuple[str | None, str]:
    parts = target.split(maxsplit=2)
    if len(parts) != 3:
        return f'CAA target {_quote(target)} is not "<flags> <tag> <value>"', target
    flags, tag, value = parts
    if not _UNSIGNED.fullmatch(flags) or int(flags) > 255:
        return f"CAA target {_quote(target)}: flags {_quote(flags)} is not 0..255", target
    if not _CAA_TAG.fullmatch(tag):
        return f"CAA target {_quote(target)}: tag {_quote(tag)} is not letters and digits", target
    return None, f"{int(flags)} {tag} {value}"


# The target check of each supported type (the keys are SUPPORTED_TYPES).
_TARGET_CHECKS: dict[str, Callable[[str], tuple[str | None, str]]] = {
    "A": _a_target,
    "AAAA": _aaaa_target,
    "TXT": _txt_target,
    "CNAME": _cname_target,
    "NS": _ns_target,
    "MX": _mx_target,
    "SRV": _srv_target,
    "CAA": _caa_target,
}


def _check_cname_exclusive(endpoints: list[Endpoint], error: _Report) -> None:
    """RFC 1034 §3.6.2: within one record, a name with a CNAME holds no other data."""
    cnames = {ep.dns_name for ep in endpoints if ep.record_type == "CNAME"}
    others: dict[str, set[str]] = {}  # the other types at names with a CNAME
    for ep in endpoints:
        if ep.record_type != "CNAME" and ep.dns_name in cnames:
            others.setdefault(ep.dns_name, set()).add(ep.record_type)
    if not others:
        return
    for ep in endpoints:
        if ep.record_type == "CNAME" and ep.dns_name in others:
            error(
                ep.origins[0],
                f'CNAME at "{ep.dns_name}" cannot coexist with {", ".join(sorted(others[ep.dns_name]))} at the '
                "same name (RFC 1034 §3.6.2)",
            )


def parse_provider_secret(raw: RawObject, cluster: str) -> ProviderSecret | None:
    """A `kuadrant.io/*` provider Secret as a ProviderSecret (None for other Secrets or without metadata).

    ZONES comes from `data` (base64) or `stringData` (plain); each comma-separated item is trimmed
    (upstream does not trim items, a bug), lower-cased, stripped of a trailing dot; empty items dropped.
    """
    if not isinstance(raw, _MAPPINGS):
        return None
    secret_type = _text(raw.get("type")) or ""
    if not secret_type.startswith("kuadrant.io/"):
        return None
    meta = _mapping(raw.get("metadata"))
    name, namespace = _text(meta.get("name")), _text(meta.get("namespace"))
    if not name or not namespace:
        return None
    zones_text = _text(_mapping(raw.get("stringData")).get("ZONES"))
    encoded = _text(_mapping(raw.get("data")).get("ZONES"))
    if zones_text is None and encoded is not None:
        try:
            zones_text = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            zones_text = None
    zones: list[str] = []
    for item in (zones_text or "").split(","):
        zone = canonical_name(item.strip())
        if zone and zone not in zones:
            zones.append(zone)
    labels = _mapping(meta.get("labels"))
    return ProviderSecret(
        cluster=cluster,
        namespace=namespace,
        name=name,
        type=secret_type,
        zones=tuple(zones),
        default=labels.get(LABEL_DEFAULT_PROVIDER) == "true",
    )
