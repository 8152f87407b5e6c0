"""Weighted choice: probability weight/sum, weight 0 never (unless all are 0: uniform), a draw at every routing set.

Statistical checks with a seeded rng: Pearson's chi-square against the expected shares must stay under
the 0.1% critical value, and the same counts must be far above it for a wrong weight (so a broken
weighting cannot pass).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping

import dns.message
import pytest
from serve.serve_bundles import GEO_EU_WEIGHTS, WEIGHTED, ZONE
from serve.serve_helpers import IE_CLIENT, addresses, ask, make_query

from kuadns_sync.answer import Responder
from kuadns_sync.compile import Tables
from kuadns_sync.geo import Locator

DRAWS = 2000
# Chi-square critical values at p = 0.001 for 1..3 degrees of freedom.
CRITICAL = {1: 10.83, 2: 13.82, 3: 16.27}


def chi_square(counts: Mapping[str, int], shares: Mapping[str, float]) -> float:
    """Pearson's statistic of `counts` against expected `shares` (categories with share 0 excluded)."""
    total = sum(counts.values())
    return sum((counts.get(k, 0) - total * p) ** 2 / (total * p) for k, p in shares.items() if p > 0)


def shares(weights: Mapping[str, int]) -> dict[str, float]:
    total = sum(weights.values())
    if total == 0:
        return {k: 1 / len(weights) for k in weights}
    return {k: w / total for k, w in weights.items()}


def draw(responder: Responder, name: str, source: str = "127.0.0.1") -> Counter[str]:
    """Ask DRAWS times; count the final address (each distinct reply is parsed by dnspython once)."""
    wire = make_query(name).to_wire()
    parsed: dict[bytes, str] = {}
    counts: Counter[str] = Counter()
    for _ in range(DRAWS):
        reply = responder.handle(wire, source)
        assert reply is not None
        if reply not in parsed:
            (parsed[reply],) = addresses(dns.message.from_wire(reply))
        counts[parsed[reply]] += 1
    return counts


def test_weighted_set_follows_weights_and_never_picks_weight_zero(tables: Tables) -> None:
    counts = draw(Responder(tables, None, random.Random(11)), f"weighted.{ZONE}")
    assert counts["10.0.0.3"] == 0  # weight 0 next to positive weights
    expected = shares(WEIGHTED)
    assert chi_square(counts, expected) < CRITICAL[1]
    wrong = shares({"10.0.0.1": 1, "10.0.0.2": 1, "10.0.0.3": 0})
    assert chi_square(counts, wrong) > 20 * CRITICAL[1]


def test_all_zero_weights_are_uniform(tables: Tables) -> None:
    counts = draw(Responder(tables, None, random.Random(12)), f"zero.{ZONE}")
    assert set(counts) == {"10.0.1.1", "10.0.1.2"}
    assert chi_square(counts, {"10.0.1.1": 0.5, "10.0.1.2": 0.5}) < CRITICAL[1]
    assert chi_square(counts, {"10.0.1.1": 0.75, "10.0.1.2": 0.25}) > 20 * CRITICAL[1]


def test_weighted_hop_inside_a_geo_cname_chain(tables: Tables, locator: Locator) -> None:
    counts = draw(Responder(tables, locator.locate, random.Random(13)), f"api.{ZONE}", IE_CLIENT)
    by_cluster = {"c1": counts["172.18.200.1"], "c3": counts["172.18.200.3"]}
    assert sum(by_cluster.values()) == DRAWS
    assert chi_square(by_cluster, shares(GEO_EU_WEIGHTS)) < CRITICAL[1]
    assert chi_square(by_cluster, shares({"c1": 1, "c3": 1})) > 20 * CRITICAL[1]


def test_seeded_rng_makes_draws_reproducible(tables: Tables) -> None:
    first = [addresses(ask(Responder(tables, None, random.Random(5)), make_query(f"weighted.{ZONE}")))]
    again = [addresses(ask(Responder(tables, None, random.Random(5)), make_query(f"weighted.{ZONE}")))]
    assert first == again


class EdgeRandom(random.Random):
    """A real Random whose random() returns fixed values, to probe the interval boundaries."""

    def __init__(self, values: list[float]) -> None:
        super().__init__(0)
        self.values = values

    def random(self) -> float:
        return self.values.pop(0)


@pytest.mark.parametrize("value", [0.0, 0.2499999, 0.25, 0.9999999999999999])
def test_boundaries_of_the_cumulative_weights(tables: Tables, value: float) -> None:
    responder = Responder(tables, None, EdgeRandom([value]))
    (address,) = addresses(ask(responder, make_query(f"weighted.{ZONE}")))
    # members sorted by set: w-10.0.0.1 (1), w-10.0.0.2 (3), w-10.0.0.3 (0): [0, .25) -> .1, [.25, 1) -> .2
    assert address == ("10.0.0.1" if value < 0.25 else "10.0.0.2")
