"""Client location from a MaxMind-format database (City or Country), and writers for small test/demo DBs.

I/O: opens and memory-maps .mmdb files, writes them (mmdb-writer). A `Locator` caches results per
database network (bounded), so repeated clients of one network never hit the database twice; the
server swaps in a new Locator when the file changes (`Locator.changed`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb

from kuadns_sync.errors import ConfigError
from kuadns_sync.geocodes import continent_of

# Upstream's demo database (kuadrant-coredns.md §6.2, environment.md): IE/EU and US/NA test subnets.
DEMO_NETWORKS: Mapping[str, tuple[str, str]] = {
    "127.0.100.0/24": ("IE", "EU"),
    "10.89.100.0/24": ("IE", "EU"),
    "127.0.200.0/24": ("US", "NA"),
    "10.89.200.0/24": ("US", "NA"),
}

CONTINENT_NAMES: Mapping[str, str] = {
    "AF": "Africa",
    "AN": "Antarctica",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}

DEFAULT_CACHE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Location:
    """Where a client is: ISO country and continent codes (None if unknown) and the DB network's prefix length."""

    country: str | None
    continent: str | None
    prefix_len: int


UNKNOWN = Location(None, None, 0)


def file_signature(path: Path) -> tuple[int, int, int, int] | None:
    """(device, inode, size, mtime) of a file, None if it cannot be stat'ed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def location_from_record(record: Any, prefix_len: int) -> Location:
    """Build a Location from a GeoIP2/GeoLite2 City or Country record (any other shape: unknown)."""
    if not isinstance(record, dict):
        return Location(None, None, prefix_len)
    country = None
    for key in ("country", "registered_country"):
        part = record.get(key)
        if isinstance(part, dict) and isinstance(part.get("iso_code"), str):
            country = part["iso_code"].upper()
            break
    continent = None
    part = record.get("continent")
    if isinstance(part, dict) and isinstance(part.get("code"), str):
        continent = part["code"].upper()
    if continent is None and country is not None:
        continent = continent_of(country)
    return Location(country, continent, prefix_len)


class Locator:
    """Looks client addresses up in one .mmdb file (memory-mapped), caching per database network."""

    def __init__(self, path: Path, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        """Open `path`. Raises ConfigError naming the file if it is missing or not a MaxMind database."""
        self.path = path
        self.signature = file_signature(path)
        try:
            self._reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ConfigError(f"{path}: cannot open GeoIP database: {exc}") from exc
        meta = self._reader.metadata()
        self.database_type: str = str(meta.database_type)
        self._cache_size = cache_size
        # Exact-address cache (the common case: one resolver asks many times) and per-network cache.
        self._by_address: dict[str | bytes, Location] = {}
        self._by_network: dict[tuple[int, int, int], Location] = {}
        self._prefixes: dict[int, list[int]] = {32: [], 128: []}

    def changed(self) -> bool:
        """True when the file on disk is no longer the one this Locator opened."""
        return file_signature(self.path) != self.signature

    def close(self) -> None:
        """Release the memory map."""
        self._reader.close()

    def locate(self, address: str | bytes) -> Location:
        """Locate an address given as text or packed bytes (4 or 16). Unparsable addresses are unknown."""
        hit = self._by_address.get(address)
        if hit is not None:
            return hit
        try:
            if isinstance(address, bytes):
                packed = address
                text = socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
            else:
                text = address.partition("%")[0]  # drop an IPv6 zone index
                family = socket.AF_INET6 if ":" in text else socket.AF_INET
                packed = socket.inet_pton(family, text)
        except (OSError, ValueError):
            return UNKNOWN
        location = self._locate_packed(packed, text)
        if len(self._by_address) >= self._cache_size:
            self._by_address.clear()
        self._by_address[address] = location
        return location

    def _locate_packed(self, packed: bytes, text: str) -> Location:
        bits = len(packed) * 8
        value = int.from_bytes(packed, "big")
        prefixes = self._prefixes[bits]
        # Database networks are the leaves of a trie, so a cached network containing the address is
        # the very network a database lookup would return.
        for prefix in prefixes:
            hit = self._by_network.get((bits, prefix, value >> (bits - prefix)))
            if hit is not None:
                return hit
        try:
            record, prefix_len = self._reader.get_with_prefix_len(text)
        except ValueError:
            return UNKNOWN
        location = location_from_record(record, prefix_len)
        if len(self._by_network) >= self._cache_size:
            self._by_network.clear()
        self._by_network[(bits, prefix_len, value >> (bits - prefix_len))] = location
        if prefix_len not in prefixes:
            prefixes.append(prefix_len)
            prefixes.sort(reverse=True)
        return location


def write_city_db(
    path: Path, networks: Mapping[str, tuple[str, str]], *, database_type: str = "GeoLite2-City"
) -> Path:
    """Write a City database mapping each CIDR to (country, continent); readable by mmdblookup and geoip2."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description={"en": "kuadns-sync test/demo GeoIP database"},
    )
    for cidr, (country, continent) in sorted(networks.items()):
        record = {
            "continent": {"code": continent, "names": {"en": CONTINENT_NAMES.get(continent, continent)}},
            "country": {"iso_code": country, "names": {"en": country}},
        }
        try:
            writer.insert_network(IPSet([cidr]), record)
        except Exception as exc:  # netaddr raises several types for bad CIDRs
            raise ConfigError(f"{path}: bad network {cidr!r}: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    writer.to_db_file(str(tmp))
    os.replace(tmp, path)  # readers polling the file never see a half-written database
    return path


def write_demo_db(path: Path) -> Path:
    """Write upstream's demo database (IE/EU and US/NA test subnets) to `path`."""
    return write_city_db(path, DEMO_NETWORKS)
