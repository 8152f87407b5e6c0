"""Session fixtures of the peer tests: a test GeoIP database and rendered bundles (example, generated)."""

from __future__ import annotations

from pathlib import Path

import pytest
from peers.peer_helpers import EXAMPLES, NETWORKS, Rendered, generated_settings, render

from bench.gen_records import generate
from kuadns_sync.config import load_config
from kuadns_sync.geo import write_city_db


@pytest.fixture(scope="session")
def geoip_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny City database with the LOCATIONS networks."""
    return write_city_db(tmp_path_factory.mktemp("geo") / "test-city.mmdb", NETWORKS)


@pytest.fixture(scope="session")
def example_bundle(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The bundled example (kuadns_sync/examples, its kuadns.yaml), rendered."""
    settings = load_config(EXAMPLES / "kuadns.yaml")
    return render(EXAMPLES, tmp_path_factory.mktemp("example-bundle"), settings)


@pytest.fixture(scope="session")
def generated_bundle(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """bench.gen_records output (3 clusters, 8 geos over 8 hosts), rendered."""
    base = tmp_path_factory.mktemp("generated")
    generate(base / "records", records=24, clusters=3, zone="bench.example.com", seed=1)
    return render(base / "records", base / "bundle", generated_settings("bench.example.com"))
