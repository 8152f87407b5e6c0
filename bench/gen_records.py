"""Synthetic DNSRecord manifests in Kuadrant's load-balanced, delegating layout (benchmark and test input).

Writes files only (`generate`); the record content comes from the pure `build_records`. Names follow
kuadrant-coredns.md §2.3/§2.7 with the real short hashes, so the input looks exactly like what
kuadrant-operator produces for one Gateway listener per host on several clusters.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kuadns_sync.hashing import short_hash

# Eight distinct geo codes: two continents and six countries (some inside those continents, so the
# most-specific-match rule is exercised: IE/DE under GEO-EU, US under GEO-NA).
GEOS: tuple[str, ...] = ("GEO-EU", "GEO-NA", "IE", "US", "DE", "JP", "BR", "AU")
WEIGHTS: tuple[int, ...] = (50, 100, 120, 150, 200)
NAMESPACE = "bench"
GATEWAY_NAMESPACE = "gateways"
LISTENER = "api"
RECORDS_PER_FILE = 250
# RFC 2544 benchmarking range: gateway addresses are record data only, never contacted.
ADDRESS_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
ADDRESS_SPAN = 2**17
A_TTL = 60
LB_TTL = 300
# libyaml's emitter when present: 10k records take ~1 s instead of ~50 s.
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True, slots=True)
class Cluster:
    """One simulated cluster: its name and the UID of its kube-system namespace (the KO cluster id)."""

    name: str
    uid: str

    @property
    def short(self) -> str:
        """short6(cluster UID), the first half of the gateway A name."""
        return short_hash(self.uid, 6)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def host_name(index: int, zone: str) -> str:
    """The listener host of host number `index` in `zone`."""
    return f"app{index:05d}.{zone}"


def geo_of(host_index: int, cluster_index: int, geos: int) -> str:
    """The geo code that cluster `cluster_index` declares for host `host_index`.

    On even hosts the first two clusters share a geo, so `<geo>.klb.H` is a weighted set of two
    gateways there (Kuadrant's geo-then-weight layout); on odd hosts every cluster has its own geo.
    """
    slot = cluster_index if host_index % 2 else max(0, cluster_index - 1)
    return GEOS[(host_index + slot) % geos]


def _endpoint(
    name: str, rtype: str, target: str, ttl: int, set_id: str = "", **provider: str
) -> dict[str, Any]:
    ep: dict[str, Any] = {"dnsName": name, "recordType": rtype, "targets": [target], "recordTTL": ttl}
    if set_id:
        ep["setIdentifier"] = set_id
    if provider:
        ep["providerSpecific"] = [{"name": k.replace("_", "-"), "value": v} for k, v in provider.items()]
    return ep


def build_record(
    host_index: int,
    cluster_index: int,
    cluster: Cluster,
    zone: str,
    geos: int,
    default_cluster: int,
    weight: int,
    record_uid: str,
) -> dict[str, Any]:
    """The delegating DNSRecord cluster `cluster` publishes for host number `host_index` (§2.3 layout)."""
    host = host_name(host_index, zone)
    gateway = f"gw{host_index:05d}"
    lb = f"klb.{host}"
    geo = geo_of(host_index, cluster_index, geos)
    geo_lb = f"{geo}.{lb}".lower()
    a_name = f"{cluster.short}-{short_hash(f'{gateway}-{GATEWAY_NAMESPACE}', 6)}.{lb}".lower()
    address = ipaddress.IPv4Address(ADDRESS_BASE + (host_index * 16 + cluster_index) % ADDRESS_SPAN)
    endpoints = [
        _endpoint(a_name, "A", str(address), A_TTL),
        _endpoint(host, "CNAME", lb, LB_TTL),
        _endpoint(geo_lb, "CNAME", a_name, A_TTL, a_name, weight=str(weight)),
        _endpoint(lb, "CNAME", geo_lb, LB_TTL, geo, geo_code=geo),
    ]
    if cluster_index == default_cluster:
        endpoints.append(_endpoint(lb, "CNAME", geo_lb, LB_TTL, "default", geo_code="*"))
    # kuadrant-operator sorts the endpoints by dnsName + setIdentifier (§2.3).
    endpoints.sort(key=lambda ep: (ep["dnsName"], ep.get("setIdentifier", "")))
    return {
        "apiVersion": "kuadrant.io/v1alpha1",
        "kind": "DNSRecord",
        "metadata": {
            "name": f"{gateway}-{LISTENER}",
            "namespace": NAMESPACE,
            "uid": record_uid,
            "generation": 1,
            "labels": {"kuadrant.io/listener-name": LISTENER},
        },
        "spec": {"rootHost": host, "delegate": True, "endpoints": endpoints},
    }


def build_records(
    records: int = 10000, clusters: int = 3, geos: int = 8, zone: str = "bench.example.com", seed: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """All DNSRecord objects by cluster name: `records` objects in total, one per (host, cluster).

    Hosts are filled cluster by cluster, so the last host may have fewer contributing clusters.
    Deterministic in `seed`. Raises ValueError on out-of-range arguments.
    """
    if records < 0 or clusters < 1 or not 1 <= geos <= len(GEOS):
        raise ValueError(
            f"need records >= 0, clusters >= 1 and 1 <= geos <= {len(GEOS)} "
            f"(got records={records}, clusters={clusters}, geos={geos})"
        )
    zone = zone.strip().rstrip(".").lower()
    rng = random.Random(seed)
    cluster_list = [Cluster(f"cluster-{c + 1}", _uuid(rng)) for c in range(clusters)]
    out: dict[str, list[dict[str, Any]]] = {c.name: [] for c in cluster_list}
    hosts = -(-records // clusters)
    made = 0
    for h in range(hosts):
        default_cluster = h % clusters
        for c, cluster in enumerate(cluster_list):
            if made == records:
                break
            weight = rng.choice(WEIGHTS)
            out[cluster.name].append(
                build_record(h, c, cluster, zone, geos, default_cluster, weight, _uuid(rng))
            )
            made += 1
    return out


def _chunks(items: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def generate(
    out: Path,
    records: int = 10000,
    clusters: int = 3,
    geos: int = 8,
    zone: str = "bench.example.com",
    seed: int = 0,
) -> None:
    """Write the manifests under `out/<cluster>/records-NNNN.yaml` and the zone name to `out/zones.txt`."""
    by_cluster = build_records(records, clusters, geos, zone, seed)
    out.mkdir(parents=True, exist_ok=True)
    for cluster, objects in by_cluster.items():
        directory = out / cluster
        directory.mkdir(exist_ok=True)
        for stale in directory.glob("records-*.yaml"):
            stale.unlink()
        for n, chunk in enumerate(_chunks(objects, RECORDS_PER_FILE)):
            text = yaml.dump_all(chunk, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)
            (directory / f"records-{n:04d}.yaml").write_text(text, encoding="utf-8")
    (out / "zones.txt").write_text(zone.strip().rstrip(".").lower() + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `python3 -m bench.gen_records OUT [--records N] [--clusters N] [--geos N] ...`."""
    parser = argparse.ArgumentParser(prog="python3 -m bench.gen_records", description=__doc__)
    parser.add_argument("out", type=Path, help="output directory (one sub-directory per cluster)")
    parser.add_argument("--records", type=int, default=10000, help="DNSRecord objects in total")
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--geos", type=int, default=8, help=f"distinct geo codes used (1-{len(GEOS)})")
    parser.add_argument("--zone", default="bench.example.com")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        generate(args.out, args.records, args.clusters, args.geos, args.zone, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    except OSError as exc:
        print(f"error: {args.out}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.records} DNSRecords for {args.clusters} clusters under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
