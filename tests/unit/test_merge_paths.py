"""The merge's fast paths against the general ones they stand for: chain lengths vs Tarjan and a naive
longest path, authoritative records from the zones' key merges vs regrouping every record, repeated records."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuadns_sync import merge as merge_module
from kuadns_sync.merge import MAX_CNAME_HOPS, _chain_lengths, _cycles, _long_chains, merge
from kuadns_sync.model import ClusterSnapshot, Nameserver, ProviderSecret, Settings, ZoneConfig
from kuadns_sync.ownership import txt_name

# --- chain lengths --------------------------------------------------------------------------------

_NODES = [f"n{i}" for i in range(8)]


def _longest(graph: Mapping[str, set[str]], node: str) -> int:
    return 1 + max((_longest(graph, s) for s in graph[node]), default=0)


@given(st.dictionaries(st.sampled_from(_NODES), st.sets(st.sampled_from(_NODES), max_size=3), max_size=8))
def test_chain_lengths_find_a_cycle_exactly_when_tarjan_does(raw: dict[str, set[str]]) -> None:
    graph = {node: {s for s in succs if s in raw} for node, succs in raw.items()}  # edges only between nodes
    lengths = _chain_lengths(graph)
    if _cycles(graph):
        assert lengths is None
    else:
        assert lengths == {node: _longest(graph, node) for node in graph}


def _reference_long_chains(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every chain start (no predecessor) with more than MAX_CNAME_HOPS CNAMEs, by the longest successors."""
    has_predecessor = {s for succs in graph.values() for s in succs}
    chains = []
    for start in sorted(graph):
        if start in has_predecessor or _longest(graph, start) <= MAX_CNAME_HOPS:
            continue
        path = [start]
        while graph[path[-1]]:
            path.append(min(graph[path[-1]], key=lambda s: (-_longest(graph, s), s)))
        chains.append(path)
    return chains


@given(st.sets(st.tuples(st.integers(0, 13), st.integers(1, 3)), max_size=30))
def test_long_chains_from_the_lengths_are_the_reference_ones(edges: set[tuple[int, int]]) -> None:
    # A DAG over 14 nodes (edges only forward), dense enough for chains longer than MAX_CNAME_HOPS.
    graph: dict[str, set[str]] = {f"n{i:02d}": set() for i in range(14)}
    for start, step in edges:
        if start + step < 14:
            graph[f"n{start:02d}"].add(f"n{start + step:02d}")
    lengths = _chain_lengths(graph)
    assert lengths is not None
    assert _long_chains(graph, lengths) == _reference_long_chains(graph)


def test_chain_lengths_of_a_long_chain_do_not_recurse() -> None:
    chain = {f"c{i}": {f"c{i + 1}"} for i in range(5000)} | {"c5000": set()}
    lengths = _chain_lengths(chain)
    assert lengths is not None and lengths["c0"] == 5001


# --- authoritative records: from the zones' key merges, or by regrouping every record ------------

ROOTS = ("z.test", "x.z.test", "*.w.z.test", "sub.z.test", "y.sub.z.test")
OWNERS = ("owner-aaa", "owner-bbb", "owner-ccc")


def _names(root: str) -> list[str]:
    base = root.removeprefix("*.")
    return [base, f"a.{base}", f"b.{base}", f"*.{base}", f"klb.{base}", f"_acme.{base}", f"{'l' * 58}.{base}",
            txt_name("owner-aaa", "A", f"a.{base}")]  # fmt: skip


def _endpoint(rng: random.Random, root: str, all_names: list[str]) -> dict[str, Any]:
    rtype = rng.choice(["A", "A", "CNAME", "CNAME", "TXT", "AAAA", "NS"])
    base = root.removeprefix("*.")
    names = [n for n in all_names if n == base or n.endswith("." + base)]  # shared with records of other roots
    name = rng.choice(names if rtype in ("TXT", "CNAME") else [n for n in names if not n.startswith("_")])
    targets = {
        "A": rng.sample(["192.0.2.1", "192.0.2.2", "192.0.2.3"], rng.choice([1, 2])),
        "AAAA": [rng.choice(["2001:db8::1", "2001:db8::2"])],
        "TXT": [rng.choice(["t1", "t2"])],
        "NS": [rng.choice(["ns1.z.test", "ns.example.org"])],
        "CNAME": [rng.choice([*all_names, "example.org"])],
    }[rtype]
    ep: dict[str, Any] = {"dnsName": name, "recordType": rtype, "targets": targets}
    if rng.random() < 0.8:
        ep["recordTTL"] = rng.choice([30, 60, 300])
    choice = rng.random()
    if choice < 0.25:
        ep["setIdentifier"] = rng.choice(["s1", "s2"])
        ep["providerSpecific"] = [{"name": "weight", "value": rng.choice(["0", "10"])}]
    elif choice < 0.45:
        ep["setIdentifier"] = rng.choice(["GEO-EU", "default"])
        ep["providerSpecific"] = [{"name": "geo-code", "value": rng.choice(["GEO-EU", "*"])}]
    if rng.random() < 0.1:
        ep["labels"] = {"team": rng.choice(["a", "b"])}
    return ep


def _scenario(rng: random.Random) -> tuple[list[ClusterSnapshot], Settings]:
    """Clusters of records over nested zones: unions, conflicts, CNAME clashes, loops, shared owners."""
    all_names = sorted({n for root in ROOTS for n in _names(root)})
    snapshots = []
    for c in range(rng.choice([1, 2, 3])):
        records = []
        for i in range(rng.choice([2, 4, 8])):
            root = rng.choice(ROOTS)
            spec: dict[str, Any] = {
                "rootHost": root,
                "endpoints": [_endpoint(rng, root, all_names) for _ in range(rng.choice([1, 2, 4]))],
                "delegate": rng.random() < 0.9,
            }
            if rng.random() < 0.6:
                spec["ownerID"] = rng.choice(OWNERS)
            meta = {"name": f"r{i}", "namespace": rng.choice(["a", "a", "b"]), "uid": f"u{c}-{i}"}
            records.append({"apiVersion": "kuadrant.io/v1alpha1", "kind": "DNSRecord", "metadata": meta, "spec": spec})
        secrets = (ProviderSecret("c0", "a", "coredns", "kuadrant.io/coredns", ("z.test",), True),) if c == 0 else ()
        snapshots.append(ClusterSnapshot(f"c{c}", tuple(records), secrets, local=c == 0))
    zones = rng.choice([("z.test",), ("z.test", "sub.z.test"), ("z.test", "x.z.test", "y.sub.z.test")])
    apex = (Nameserver("ns1.z.test", ("192.0.2.53",)),)
    configs = tuple(ZoneConfig(z, apex if z == "z.test" else ()) for z in zones)
    return snapshots, Settings(zones=configs, local_cluster="c0")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_authoritative_records_from_key_merges_equal_regrouping_every_record(rng: random.Random) -> None:
    snapshots, config = _scenario(rng)
    fast = merge(snapshots, config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(merge_module, "_group_endpoints", _general)
        general = merge(snapshots, config)
    assert fast == general
    assert [[ep.origins for ep in a.endpoints] for a in fast.authoritative] == [
        [ep.origins for ep in a.endpoints] for a in general.authoritative
    ]


def _general(zones: Any) -> Any:
    """`_group_endpoints` the general way: every group merged again from its records' kept contributions."""
    group_of: dict[Any, tuple[str, str]] = {}
    groups: dict[tuple[str, str], list[Any]] = {}
    for name, zone in zones.items():
        for key_merge in zone.keys.values():
            for c in key_merge.contributions:
                group_of[c.record] = c.group
                groups.setdefault(c.group, [_Member(name)])
    return merge_module._group_endpoints_by_record(zones, groups, group_of)


class _Member:
    """Stands for a group's first candidate: only its zone is read."""

    def __init__(self, zone: str) -> None:
        self.zone = zone


def test_the_scenarios_exercise_conflicts_and_split_keys() -> None:
    reasons: set[str] = set()
    split = 0
    for seed in range(40):
        snapshots, config = _scenario(random.Random(seed))
        result = merge(snapshots, config)
        reasons |= {i.reason for i in result.issues}
        owners = [ep.label("owner") or "" for zone in result.zones for ep in zone.endpoints]
        split += sum("&&" in o for o in owners)
    assert {"Conflict", "ValidationError", "Ownership", "TTLMismatch"} <= reasons
    assert split > 0  # keys owned by several owners (and so, across groups, split keys)


# --- the same record twice ------------------------------------------------------------------------


def test_a_record_listed_twice_is_merged_as_once() -> None:
    raw = {
        "apiVersion": "kuadrant.io/v1alpha1",
        "kind": "DNSRecord",
        "metadata": {"name": "web", "namespace": "a", "uid": "u1"},
        "spec": {
            "rootHost": "web.z.test",
            "endpoints": [{"dnsName": "web.z.test", "recordType": "A", "targets": ["192.0.2.1"], "recordTTL": 60}],
        },
    }
    config = Settings(zones=(ZoneConfig("z.test"),), local_cluster="c0")
    once = merge([ClusterSnapshot("c0", (raw,), local=True)], config)
    twice = merge([ClusterSnapshot("c0", (raw, raw), local=True)], config)
    assert twice == once
    assert [a.endpoints for a in twice.authoritative] == [a.endpoints for a in once.authoritative]
