"""`explain`: location, variant, draws with their odds and the ECS scope, from the tables the server uses."""

from __future__ import annotations

import re
import subprocess

import pytest
from serve.serve_bundles import GEO_ANSWER, ZONE
from serve.serve_helpers import cli, cli_env

from kuadns_sync.compile import Tables
from kuadns_sync.errors import ConfigError
from kuadns_sync.explain import Client, explain
from kuadns_sync.geo import Location, Locator


def probabilities(text: str) -> list[float]:
    return [float(p) for p in re.findall(r"^  p=([0-9.]+)", text, flags=re.M)]


def test_country_variant_and_scope(tables: Tables, locator: Locator) -> None:
    where = locator.locate("127.0.100.9")
    text = explain(tables, f"geo.{ZONE}", "A", Client("127.0.100.9", "packet source"), where)
    assert "-> IE / EU, database network /24" in text
    assert "variant:  IE (country IE has its own variant)" in text
    assert "ECS scope /24" in text
    assert f"answer: geo.{ZONE}. 60 A {GEO_ANSWER['IE']}" in text


def test_continent_and_default_variants(tables: Tables, locator: Locator) -> None:
    fr = explain(tables, f"geo.{ZONE}", "A", Client("127.0.50.1", "source"), locator.locate("127.0.50.1"))
    assert "variant:  GEO-EU (continent GEO-EU (no variant for country FR))" in fr
    jp = explain(tables, f"geo.{ZONE}", "A", Client("127.0.60.1", "source"), locator.locate("127.0.60.1"))
    assert "variant:  default (no variant for country JP or continent AS: default)" in jp


def test_ecs_prefix_caps_the_scope(tables: Tables, locator: Locator) -> None:
    text = explain(tables, f"geo.{ZONE}", "A", Client("127.0.100.0", "ECS", 16), locator.locate("127.0.100.0"))
    assert "ECS scope /16" in text


def test_weighted_odds_and_weight_zero_never_listed(tables: Tables) -> None:
    text = explain(tables, f"weighted.{ZONE}", "A", Client(None, "none"), None)
    assert probabilities(text) == [0.25, 0.75]
    assert "10.0.0.3" not in text
    assert "ECS scope /0" in text
    zero = explain(tables, f"zero.{ZONE}", "A", Client(None, "none"), None)
    assert probabilities(zero) == [0.5, 0.5]


def test_chain_lists_every_path_with_probabilities_summing_to_one(tables: Tables) -> None:
    location = Location("IE", "EU", 24)
    text = explain(tables, f"api.{ZONE}", "A", Client("127.0.100.1", "source"), location)
    assert probabilities(text) == [0.75, 0.25]
    assert sum(probabilities(text)) == pytest.approx(1.0)
    assert "draw: set 'c1' weight 120 (p=0.750)" in text


def test_out_of_zone_and_bad_input(tables: Tables) -> None:
    assert "REFUSED" in explain(tables, "www.example.org", "A", Client(None, "none"), None)
    with pytest.raises(ConfigError, match="bad query"):
        explain(tables, "a..b", "A", Client(None, "none"), None)
    with pytest.raises(ConfigError, match="bad query"):
        explain(tables, f"geo.{ZONE}", "NOPE", Client(None, "none"), None)


def test_explain_command_on_the_bundled_example() -> None:
    result = subprocess.run(
        cli("explain", f"api.{ZONE}", "--subnet", "127.0.200.0/24"), capture_output=True, text=True, env=cli_env()
    )
    assert result.returncode == 0, result.stderr
    assert "variant:  GEO-NA" in result.stdout and "172.18.200.2" in result.stdout
    bad = subprocess.run(cli("explain", "a..b"), capture_output=True, text=True, env=cli_env())
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
