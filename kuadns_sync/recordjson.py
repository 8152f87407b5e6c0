"""The bundle files of computed authoritative records (`authoritative/<namespace>/<name>.json`).

Pure, no I/O. The text is `dump_json(record.to_manifest())`; the endpoints, nearly all of it, are encoded
straight from their fields instead of through `Endpoint.to_raw` dicts and the JSON encoder.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from json.encoder import encode_basestring as _string

from kuadns_sync.bundle import JSONText, dump_json
from kuadns_sync.model import AuthoritativeRecord, Endpoint


def endpoint_json(ep: Endpoint) -> str:
    """Compact JSON of `ep.to_raw()` with sorted keys, as dump_json writes it (the same omitted keys)."""
    ttl = f', "recordTTL": {ep.ttl}' if ep.ttl else ""
    set_id = f', "setIdentifier": {_string(ep.set_identifier)}' if ep.set_identifier else ""
    if len(ep.targets) == 1:
        targets = f', "targets": [{_string(ep.targets[0])}]'
    else:
        targets = f', "targets": [{", ".join(map(_string, ep.targets))}]' if ep.targets else ""
    return (
        f'{{"dnsName": {_string(ep.dns_name)}{_labels(ep.labels)}{_provider_specific(ep.provider_specific)}'
        f'{ttl}, "recordType": {_string(ep.record_type)}{set_id}{targets}}}'
    )


# Labels (owner IDs) and providerSpecific (weights, geo codes) recur across the endpoints: encoded once.
@lru_cache(maxsize=1 << 14)
def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    if len(labels) == 1:  # most endpoints: the owner label
        return f', "labels": {{{_string(labels[0][0])}: {_string(labels[0][1])}}}'
    mapping = dict(labels)
    return ', "labels": {' + ", ".join([f"{_string(k)}: {_string(mapping[k])}" for k in sorted(mapping)]) + "}"


@lru_cache(maxsize=1 << 14)
def _provider_specific(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    items = [f'{{"name": {_string(name)}, "value": {_string(value)}}}' for name, value in pairs]
    return ', "providerSpecific": [' + ", ".join(items) + "]"


def authoritative_json(record: AuthoritativeRecord) -> str:
    """The bundle file of one computed authoritative record: `dump_json(record.to_manifest())`."""
    manifest = replace(record, endpoints=()).to_manifest()
    manifest["spec"]["endpoints"] = [JSONText(endpoint_json(ep)) for ep in record.endpoints]
    return dump_json(manifest)
