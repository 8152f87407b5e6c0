"""The benchmark input generator: counts, determinism and the upstream load-balanced name layout."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.gen_records import GEOS, build_records, generate
from kuadns_sync.hashing import short_hash


def test_total_record_count_is_exact_and_spread_over_clusters() -> None:
    by_cluster = build_records(records=10, clusters=3)
    assert sorted(by_cluster) == ["cluster-1", "cluster-2", "cluster-3"]
    assert [len(v) for v in by_cluster.values()] == [4, 3, 3]


def test_same_seed_same_output_other_seed_other_uids() -> None:
    assert build_records(30, seed=7) == build_records(30, seed=7)
    uids_a = {r["metadata"]["uid"] for rs in build_records(30, seed=7).values() for r in rs}
    uids_b = {r["metadata"]["uid"] for rs in build_records(30, seed=8).values() for r in rs}
    assert len(uids_a) == 30
    assert not uids_a & uids_b


def test_load_balanced_layout_per_host() -> None:
    by_cluster = build_records(records=9, clusters=3, zone="Bench.Example.com.")
    host = "app00001.bench.example.com"
    recs = [r for rs in by_cluster.values() for r in rs if r["spec"]["rootHost"] == host]
    assert len(recs) == 3
    geos_seen = []
    defaults = 0
    for rec in recs:
        assert rec["spec"]["delegate"] is True
        eps = rec["spec"]["endpoints"]
        a = [e for e in eps if e["recordType"] == "A"]
        assert len(a) == 1
        a_name = a[0]["dnsName"]
        cluster_part, gw_part = a_name.split(".", 1)[0].split("-")
        assert gw_part == short_hash("gw00001-gateways", 6)
        assert len(cluster_part) == 6
        assert a_name.endswith(".klb." + host)
        weighted = [e for e in eps if e.get("providerSpecific", [{}])[0].get("name") == "weight"]
        assert len(weighted) == 1
        assert weighted[0]["targets"] == [a_name]
        assert weighted[0]["setIdentifier"] == a_name
        geo_eps = [e for e in eps if e.get("providerSpecific", [{}])[0].get("name") == "geo-code"]
        geo = next(e for e in geo_eps if e["setIdentifier"] != "default")
        assert geo["dnsName"] == "klb." + host
        assert geo["providerSpecific"][0]["value"] == geo["setIdentifier"]
        assert geo["targets"] == [weighted[0]["dnsName"]]
        assert weighted[0]["dnsName"] == f"{geo['setIdentifier'].lower()}.klb.{host}"
        geos_seen.append(geo["setIdentifier"])
        if any(e["setIdentifier"] == "default" for e in geo_eps):
            defaults += 1
            star = next(e for e in geo_eps if e["setIdentifier"] == "default")
            assert star["providerSpecific"] == [{"name": "geo-code", "value": "*"}]
        top = [e for e in eps if e["dnsName"] == host]
        assert top == [{"dnsName": host, "recordType": "CNAME", "targets": ["klb." + host], "recordTTL": 300}]
    assert defaults == 1
    assert len(set(geos_seen)) == 3


def test_even_hosts_have_a_weighted_set_of_two_gateways() -> None:
    by_cluster = build_records(records=9, clusters=3)
    host = "app00002.bench.example.com"
    weighted: dict[str, list[str]] = {}
    for rs in by_cluster.values():
        for r in rs:
            if r["spec"]["rootHost"] != host:
                continue
            for e in r["spec"]["endpoints"]:
                if e.get("providerSpecific", [{}])[0].get("name") == "weight":
                    weighted.setdefault(e["dnsName"], []).append(e["setIdentifier"])
    assert sorted(len(v) for v in weighted.values()) == [1, 2]
    assert all(len(set(v)) == len(v) for v in weighted.values())


def test_all_eight_geos_are_used() -> None:
    by_cluster = build_records(records=30, clusters=3)
    used = {
        e["setIdentifier"]
        for rs in by_cluster.values()
        for r in rs
        for e in r["spec"]["endpoints"]
        if e["dnsName"].startswith("klb.") and e.get("setIdentifier") not in (None, "default")
    }
    assert used == set(GEOS)


def test_generate_writes_cluster_dirs_and_zone_file(tmp_path: Path) -> None:
    generate(tmp_path, records=600, clusters=2, zone="z.example.org")
    assert (tmp_path / "zones.txt").read_text() == "z.example.org\n"
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert files == [
        "cluster-1/records-0000.yaml",
        "cluster-1/records-0001.yaml",
        "cluster-2/records-0000.yaml",
        "cluster-2/records-0001.yaml",
    ]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = [d for p in tmp_path.rglob("*.yaml") for d in yaml.load_all(p.read_text(), Loader=loader)]
    assert len(docs) == 600
    assert {d["kind"] for d in docs} == {"DNSRecord"}
