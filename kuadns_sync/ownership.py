"""The external-dns/Kuadrant TXT ownership registry (kuadrant-coredns.md §2.5), bit-exact both ways.

Pure, no I/O. Writing: one TXT endpoint per (data endpoint key, owner). Reading: owner IDs back from
TXT names and values, so foreign TXT data (no `heritage=external-dns`) is never taken as ownership.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from kuadns_sync.hashing import short_hash
from kuadns_sync.model import OWNER_LABEL, Endpoint, EndpointKey, new_endpoint

TXT_PREFIX = "kuadrant-"
WILDCARD_REPLACEMENT = "wildcard"
HERITAGE = "heritage=external-dns"
LABEL_PREFIX = "external-dns/"
REGISTRY_VERSION = "1"
OWNED_RECORD_LABEL = "ownedRecord"
VERSION_LABEL = "version"

_TXT_NAME = re.compile(r"kuadrant-([0-9a-z]{8})-([a-z]+)-(.+)")


def txt_name(owner_id: str, record_type: str, dns_name: str) -> str:
    """Registry TXT owner name: `kuadrant-<short8(owner)>-<type>-<name>`, a leading `*` spelled `wildcard`."""
    if dns_name.startswith("*"):
        dns_name = WILDCARD_REPLACEMENT + dns_name[1:]
    return _txt_name_prefix(owner_id, record_type) + dns_name


@lru_cache(maxsize=65536)
def _txt_name_prefix(owner_id: str, record_type: str) -> str:
    # An owner names a few types only: `kuadrant-<short8(owner)>-<type>-` is the same for many endpoints.
    return f"{TXT_PREFIX}{_owner_hash(owner_id)}-{record_type.lower()}-"


@lru_cache(maxsize=65536)
def _owner_hash(owner_id: str) -> str:
    # A few owners own many endpoints; the hash is pure, so memoise it (merge time is dominated by it).
    return short_hash(owner_id, 8)


def txt_value(owner_id: str, labels: Iterable[tuple[str, str]] = ()) -> str:
    """Registry TXT value with literal quotes: heritage first, then `external-dns/<key>=<value>` sorted by key.

    Every endpoint label except `owner` is carried; `owner` is always the writer's ID.
    """
    carried = {key: value for key, value in labels if key != OWNER_LABEL}
    carried[OWNER_LABEL] = owner_id
    carried[VERSION_LABEL] = REGISTRY_VERSION
    body = ",".join([HERITAGE, *(f"{LABEL_PREFIX}{key}={carried[key]}" for key in sorted(carried))])
    return f'"{body}"'


@lru_cache(maxsize=16384)
def _txt_targets(owner_id: str, labels: tuple[tuple[str, str], ...]) -> tuple[str]:
    # An owner's endpoints mostly carry the same labels, so one value (and one tuple) serves many TXT endpoints.
    return (txt_value(owner_id, labels),)


def txt_endpoint(data: Endpoint, owner_id: str) -> Endpoint:
    """The registry TXT endpoint recording that `owner_id` owns `data` (TTL 0, setIdentifier and
    providerSpecific copied, labels {ownedRecord: name}).

    weight/geo stay None: the copied providerSpecific is for upstream tooling, and the TXT RRset must
    not become a routing set in the served zone.
    """
    return new_endpoint(  # once per owner of every merged key: the fast constructor
        txt_name(owner_id, data.record_type, data.dns_name),
        "TXT",
        _txt_targets(owner_id, data.labels),
        0,
        data.set_identifier,
        None,
        None,
        ((OWNED_RECORD_LABEL, data.dns_name),),
        data.provider_specific,
        data.origins,
    )


def parse_txt_value(value: str) -> dict[str, str] | None:
    """Labels of a registry TXT value (quoted or not), or None when it is not ours (no heritage)."""
    text = value[1:-1] if len(value) >= 2 and value.startswith('"') and value.endswith('"') else value
    parts = text.split(",")
    if HERITAGE not in parts:
        return None
    labels: dict[str, str] = {}
    for part in parts:
        key, sep, label_value = part.partition("=")
        if sep and key.startswith(LABEL_PREFIX):
            labels[key[len(LABEL_PREFIX) :]] = label_value
    return labels


def parse_txt_name(name: str) -> tuple[str, str, str] | None:
    """(short8 of the owner, record type upper-cased, owned dnsName) of a registry TXT name, or None."""
    match = _TXT_NAME.fullmatch(name)
    if match is None:
        return None
    prefix, record_type, owned = match.groups()
    if owned.startswith(WILDCARD_REPLACEMENT + "."):
        owned = "*" + owned[len(WILDCARD_REPLACEMENT) :]
    return prefix, record_type.upper(), owned


def read_owners(endpoints: Iterable[Endpoint]) -> Mapping[EndpointKey, tuple[str, ...]]:
    """Owner IDs per data endpoint key, read from the registry TXT endpoints among `endpoints`.

    A TXT whose value lacks the heritage marker, whose name is not a registry name, or whose name
    hash does not match the owner in its value is foreign data and ignored.
    """
    owners: dict[EndpointKey, set[str]] = {}
    for ep in endpoints:
        if ep.record_type != "TXT" or len(ep.targets) != 1:
            continue
        parsed_name = parse_txt_name(ep.dns_name)
        labels = parse_txt_value(ep.targets[0])
        if parsed_name is None or labels is None or OWNER_LABEL not in labels:
            continue
        prefix, record_type, owned = parsed_name
        owner = labels[OWNER_LABEL]
        if _owner_hash(owner) != prefix:
            continue
        owners.setdefault(EndpointKey(owned, record_type, ep.set_identifier), set()).add(owner)
    return {key: tuple(sorted(ids)) for key, ids in sorted(owners.items())}
