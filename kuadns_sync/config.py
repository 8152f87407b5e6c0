"""Settings from command-line options and an optional YAML config file (`kuadns.yaml`).

Parsing is pure (`parse_config`, `settings_from_options`); `load_config` reads one file. Every problem
is collected and raised as one ConfigError naming the file or flag.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import yaml

from kuadns_sync.errors import ConfigError
from kuadns_sync.model import GeoFallback, Nameserver, Role, Settings, ZoneConfig

CONFIG_FILENAME = "kuadns.yaml"


def normalize_zone(name: str) -> str:
    """Canonical zone name: lower-case, no trailing dot, surrounding spaces removed."""
    return name.strip().rstrip(".").lower()


def parse_nameserver(text: str, where: str) -> Nameserver:
    """Parse `name[=addr[,addr...]]` (flag form). Raises ConfigError."""
    name, _, addrs = text.partition("=")
    name = normalize_zone(name)
    if not name:
        raise ConfigError(f"{where}: empty nameserver name in {text!r}")
    addresses = tuple(a.strip() for a in addrs.split(",") if a.strip())
    for addr in addresses:
        try:
            ipaddress.ip_address(addr)
        except ValueError as exc:
            raise ConfigError(f"{where}: nameserver {name}: {addr!r} is not an IP address") from exc
    return Nameserver(name=name, addresses=addresses)


def _zone_from_mapping(raw: Any, where: str, reasons: list[str]) -> ZoneConfig | None:
    if isinstance(raw, str):
        return ZoneConfig(name=normalize_zone(raw))
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        reasons.append(f"{where}: a zone is a name or a mapping with 'name'")
        return None
    nameservers = []
    for i, ns in enumerate(raw.get("nameservers") or []):
        if not isinstance(ns, Mapping) or not isinstance(ns.get("name"), str):
            reasons.append(f"{where}.nameservers[{i}]: needs 'name' (and optional 'addresses')")
            continue
        text = ns["name"] + "=" + ",".join(str(a) for a in ns.get("addresses") or [])
        try:
            nameservers.append(parse_nameserver(text, f"{where}.nameservers[{i}]"))
        except ConfigError as exc:
            reasons.append(str(exc))
    rname = raw.get("rname")
    if rname is not None and not isinstance(rname, str):
        reasons.append(f"{where}.rname: must be a string (an e-mail address)")
        rname = None
    return ZoneConfig(name=normalize_zone(raw["name"]), nameservers=tuple(nameservers), rname=rname)


def parse_config(text: str, path: str) -> Settings:
    """Parse a kuadns.yaml document into Settings. Raises ConfigError listing every reason."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: top level must be a mapping")
    reasons: list[str] = []
    known = {"zones", "role", "localCluster", "defaultTTL", "geoFallback"}
    for key in sorted(set(raw) - known):
        reasons.append(f"{path}: unknown key {key!r} (known: {', '.join(sorted(known))})")
    zones = []
    for i, item in enumerate(raw.get("zones") or []):
        zone = _zone_from_mapping(item, f"{path}: zones[{i}]", reasons)
        if zone is not None:
            zones.append(zone)
    settings = Settings(zones=tuple(zones))
    try:
        settings = _with_scalars(
            settings,
            role=raw.get("role"),
            local_cluster=raw.get("localCluster"),
            default_ttl=raw.get("defaultTTL"),
            geo_fallback=raw.get("geoFallback"),
            where=path,
        )
    except ConfigError as exc:
        reasons.append(str(exc))
    if reasons:
        raise ConfigError("\n".join(reasons))
    return settings


def _with_scalars(
    settings: Settings,
    *,
    role: Any = None,
    local_cluster: Any = None,
    default_ttl: Any = None,
    geo_fallback: Any = None,
    where: str,
) -> Settings:
    if role is not None:
        if role not in ("primary", "secondary"):
            raise ConfigError(f"{where}: role must be 'primary' or 'secondary', not {role!r}")
        settings = replace(settings, role=cast(Role, role))
    if local_cluster is not None:
        if not isinstance(local_cluster, str) or not local_cluster:
            raise ConfigError(f"{where}: localCluster must be a non-empty string")
        settings = replace(settings, local_cluster=local_cluster)
    if default_ttl is not None:
        if not isinstance(default_ttl, int) or not 0 < default_ttl <= 2**31 - 1:
            raise ConfigError(f"{where}: defaultTTL must be an integer between 1 and 2147483647")
        settings = replace(settings, default_ttl=default_ttl)
    if geo_fallback is not None:
        if geo_fallback not in ("any", "nodata"):
            raise ConfigError(f"{where}: geoFallback must be 'any' or 'nodata', not {geo_fallback!r}")
        settings = replace(settings, geo_fallback=cast(GeoFallback, geo_fallback))
    return settings


def load_config(path: Path) -> Settings:
    """Read and parse a config file. Raises ConfigError."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_config(text, str(path))


def settings_from_options(
    *,
    config: Path | None = None,
    records: Path | None = None,
    zones: Sequence[str] = (),
    nameservers: Sequence[str] = (),
    rname: str | None = None,
    role: str | None = None,
    local_cluster: str | None = None,
    default_ttl: int | None = None,
    geo_fallback: str | None = None,
) -> Settings:
    """Settings from flags, on top of `config` (or `<records>/kuadns.yaml` when present). Raises ConfigError.

    `--zone` adds zones; `--nameserver name=addr` and `--rname` apply to every zone given with `--zone`
    (or to all zones when no `--zone` is given).
    """
    if config is None and records is not None and (records / CONFIG_FILENAME).is_file():
        config = records / CONFIG_FILENAME
    settings = load_config(config) if config is not None else Settings()
    flag_zones = [normalize_zone(z) for z in zones if normalize_zone(z)]
    ns = tuple(parse_nameserver(n, "--nameserver") for n in nameservers)
    zone_list = list(settings.zones)
    existing = {z.name for z in zone_list}
    zone_list += [ZoneConfig(name=z) for z in dict.fromkeys(flag_zones) if z not in existing]
    targets = set(flag_zones) or {z.name for z in zone_list}
    if ns or rname:
        zone_list = [
            replace(z, nameservers=ns or z.nameservers, rname=rname or z.rname) if z.name in targets else z
            for z in zone_list
        ]
    settings = replace(settings, zones=tuple(sorted(zone_list, key=lambda z: z.name)))
    return _with_scalars(
        settings,
        role=role,
        local_cluster=local_cluster,
        default_ttl=default_ttl,
        geo_fallback=geo_fallback,
        where="options",
    )
