"""The resource types the emulator serves (built-in kinds plus custom resources defined by CRD manifests)
and the discovery documents (`/api`, `/apis`, group and resource lists) that describe them.

Pure except `load_crd`, which reads one packaged YAML file.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources as pkg_resources
from typing import Any

import yaml

from kuadns_sync.dev import cel

Json = dict[str, Any]

DNSRECORD_CRD = "dnsrecords.kuadrant.io.yaml"


@dataclass(frozen=True)
class ResourceType:
    """One REST resource: identity, scope, the behaviour switches that differ between kinds, and its schema."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    custom: bool = False
    """Custom resource: metadata.generation, no strategic merge (415), no unconditional update."""
    read_only: bool = False
    schema: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    printer_columns: tuple[Mapping[str, Any], ...] = field(default=(), compare=False, repr=False)
    field_selectors: tuple[str, ...] = ("metadata.name", "metadata.namespace")

    @property
    def api_version(self) -> str:
        """`group/version`, or just `version` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of list responses, e.g. DNSRecordList."""
        return f"{self.kind}List"

    @property
    def key(self) -> str:
        """Store key: `group/plural` (empty group for core)."""
        return f"{self.group}/{self.plural}"

    @property
    def verbs(self) -> list[str]:
        """Verbs advertised in discovery."""
        if self.read_only:
            return ["get", "list", "watch"]
        return ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    def base_path(self, namespace: str | None) -> str:
        """URL of the collection, namespaced when the type is."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"


def _obj(props: Mapping[str, Any], **extra: Any) -> Json:
    return {"type": "object", "properties": dict(props), **extra}


_STR: Json = {"type": "string"}
_INT: Json = {"type": "integer"}
_STR_MAP: Json = {"type": "object", "additionalProperties": {"type": "string"}}
_ENVELOPE: Json = {"apiVersion": _STR, "kind": _STR, "metadata": {"type": "object"}}

_SECRET_SCHEMA = _obj(
    {**_ENVELOPE, "type": _STR, "immutable": {"type": "boolean"}, "data": _STR_MAP, "stringData": _STR_MAP}
)
_CONFIGMAP_SCHEMA = _obj({**_ENVELOPE, "immutable": {"type": "boolean"}, "data": _STR_MAP, "binaryData": _STR_MAP})
_LEASE_SCHEMA = _obj(
    {
        **_ENVELOPE,
        "spec": _obj(
            {
                "holderIdentity": _STR,
                "leaseDurationSeconds": _INT,
                "acquireTime": {"type": "string", "format": "date-time"},
                "renewTime": {"type": "string", "format": "date-time"},
                "leaseTransitions": _INT,
                "strategy": _STR,
                "preferredHolder": _STR,
            }
        ),
    }
)
_NAMESPACE_SCHEMA = _obj(
    {
        **_ENVELOPE,
        "spec": _obj({"finalizers": {"type": "array", "items": _STR}}),
        "status": _obj({"phase": _STR, "conditions": {"type": "array", "items": {"type": "object"}}}),
    }
)

NAMESPACES = ResourceType(
    "",
    "v1",
    "Namespace",
    "namespaces",
    "namespace",
    False,
    ("ns",),
    schema=_NAMESPACE_SCHEMA,
    field_selectors=("metadata.name", "status.phase"),
)
SECRETS = ResourceType(
    "",
    "v1",
    "Secret",
    "secrets",
    "secret",
    True,
    schema=_SECRET_SCHEMA,
    field_selectors=("metadata.name", "metadata.namespace", "type"),
)
CONFIGMAPS = ResourceType("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",), schema=_CONFIGMAP_SCHEMA)
LEASES = ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, schema=_LEASE_SCHEMA)
CRDS = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    "customresourcedefinition",
    False,
    ("crd", "crds"),
    ("api-extensions",),
    read_only=True,
    field_selectors=("metadata.name",),
)
BUILTIN_TYPES: tuple[ResourceType, ...] = (NAMESPACES, SECRETS, CONFIGMAPS, LEASES, CRDS)


class CrdError(ValueError):
    """A CRD manifest the emulator cannot serve (names the file and the problem)."""


def _check_rules(schema: Any, where: str, origin: str) -> None:
    if isinstance(schema, Mapping):
        for rule in schema.get("x-kubernetes-validations", []):
            if not cel.known_rule(rule.get("rule", "")):
                raise CrdError(
                    f"{origin}: {where}: CEL rule {rule.get('rule')!r} is not implemented by kuadns_sync.dev.cel"
                )
        for key, value in schema.items():
            if key in ("properties",) and isinstance(value, Mapping):
                for name, sub in value.items():
                    _check_rules(sub, f"{where}.{name}", origin)
            elif key in ("items", "additionalProperties"):
                _check_rules(value, f"{where}[]", origin)


@functools.lru_cache(maxsize=8)
def _read_crd(filename: str) -> str:
    text = pkg_resources.files("kuadns_sync").joinpath("crd", filename).read_text(encoding="utf-8")
    manifest = yaml.safe_load(text)
    if not isinstance(manifest, dict) or manifest.get("kind") != "CustomResourceDefinition":
        raise CrdError(f"kuadns_sync/crd/{filename}: not a CustomResourceDefinition")
    # Cached as JSON text: parsing YAML costs ~50 ms per emulator start, and every caller gets its own tree
    # (YAML anchors would otherwise share sub-objects).
    return json.dumps(manifest)


def load_crd(filename: str = DNSRECORD_CRD) -> Json:
    """Read a packaged CRD manifest from kuadns_sync/crd/. Raises CrdError."""
    manifest: Json = json.loads(_read_crd(filename))
    return manifest


def crd_types(crd: Mapping[str, Any], origin: str = "CRD") -> list[ResourceType]:
    """The served versions of a CRD as resource types. Raises CrdError for unsupported CEL rules."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    result = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        schema = version.get("schema", {}).get("openAPIV3Schema", {})
        _check_rules(schema, f"{version['name']}.openAPIV3Schema", origin)
        result.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular", names["kind"].lower()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
                status_subresource="status" in (version.get("subresources") or {}),
                custom=True,
                schema=schema,
                printer_columns=tuple(version.get("additionalPrinterColumns", ())),
            )
        )
    return result


def crd_status(crd: Mapping[str, Any], timestamp: str) -> Json:
    """The status an established CRD shows (accepted names, Established/NamesAccepted conditions)."""
    spec = crd["spec"]
    accepted = dict(spec["names"])
    conditions = [
        {"type": t, "status": "True", "lastTransitionTime": timestamp, "reason": r, "message": m}
        for t, r, m in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    stored = [v["name"] for v in spec["versions"] if v.get("storage")]
    return {"acceptedNames": accepted, "conditions": conditions, "storedVersions": stored}


def _hash(text: str) -> str:
    # kube-apiserver advertises an opaque storageVersionHash; any stable short string works for clients.
    return hashlib.sha256(text.encode()).hexdigest()[:11]


def api_resource(rt: ResourceType) -> list[Json]:
    """The APIResource entries of one type (plus its status subresource)."""
    entry: Json = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": rt.verbs,
        "storageVersionHash": _hash(rt.key),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    entries = [entry]
    if rt.status_subresource:
        entries.append(
            {
                "name": f"{rt.plural}/status",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    return entries


def resource_list(group_version: str, types: Sequence[ResourceType]) -> Json:
    """`APIResourceList` for `/api/v1` or `/apis/<group>/<version>`."""
    resources = [e for rt in types if rt.api_version == group_version for e in api_resource(rt)]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _group_versions(types: Sequence[ResourceType]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rt in types:
        if rt.group and rt.version not in groups.setdefault(rt.group, []):
            groups[rt.group].append(rt.version)
    return groups


def api_group(name: str, versions: Sequence[str]) -> Json:
    """`APIGroup` for `/apis/<group>`."""
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list(types: Sequence[ResourceType]) -> Json:
    """`APIGroupList` for `/apis`."""
    groups = []
    for name, versions in sorted(_group_versions(types).items()):
        group = api_group(name, versions)
        del group["kind"], group["apiVersion"]
        groups.append(group)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group_names(types: Sequence[ResourceType]) -> dict[str, list[str]]:
    """Served API groups and their versions."""
    return _group_versions(types)


def core_versions(address: str) -> Json:
    """`APIVersions` for `/api`."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def version_info() -> Json:
    """`/version`, with every field the official client's strict model requires."""
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-kuadns-dev",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
