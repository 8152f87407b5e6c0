"""Fixtures of the server tests: the test GeoIP DB, the example bundle, its compiled tables, a responder."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve.serve_bundles import example_zone, write_bundle
from serve.serve_helpers import write_test_db

from kuadns_sync.answer import Responder
from kuadns_sync.compile import Tables
from kuadns_sync.geo import Locator
from kuadns_sync.serve import load_tables


@pytest.fixture(scope="session")
def geo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_db(tmp_path_factory.mktemp("geo") / "test-city.mmdb")


@pytest.fixture(scope="session")
def locator(geo_db: Path) -> Iterator[Locator]:
    loc = Locator(geo_db)
    yield loc
    loc.close()


@pytest.fixture(scope="session")
def example_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    write_bundle(root, [example_zone()])
    return root


@pytest.fixture(scope="session")
def tables(example_bundle: Path) -> Tables:
    return load_tables(example_bundle)


@pytest.fixture
def responder(tables: Tables, locator: Locator) -> Responder:
    return Responder(tables, locator.locate, random.Random(1234))
