"""GeoIP: databases we write are read by mmdblookup and geoip2; the Locator caches per network and notices changes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import geoip2.database
import pytest
from serve.serve_helpers import TEST_NETWORKS, cli, cli_env, tool
from typer.testing import CliRunner

from kuadns_sync.cli import app
from kuadns_sync.errors import ConfigError
from kuadns_sync.geo import DEMO_NETWORKS, Location, Locator, write_city_db, write_demo_db


def test_demo_db_is_read_by_geoip2_city_and_mmdblookup(tmp_path: Path) -> None:
    path = write_demo_db(tmp_path / "demo.mmdb")
    with geoip2.database.Reader(str(path)) as reader:
        assert reader.metadata().database_type == "GeoLite2-City"
        for cidr, (country, continent) in DEMO_NETWORKS.items():
            city = reader.city(cidr.split("/")[0].rsplit(".", 1)[0] + ".77")
            assert (city.country.iso_code, city.continent.code) == (country, continent)
    out = subprocess.run(
        [tool("mmdblookup"), "--file", str(path), "--ip", "10.89.200.9", "country", "iso_code"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert '"US"' in out


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.100.1", Location("IE", "EU", 24)),
        ("127.0.200.254", Location("US", "NA", 24)),
        ("127.0.50.9", Location("FR", "EU", 24)),
        ("fd00:100:1::5", Location("IE", "EU", 32)),
        (bytes([127, 0, 200, 0]), Location("US", "NA", 24)),
    ],
)
def test_locate_known_addresses(geo_db: Path, address: str | bytes, expected: Location) -> None:
    locator = Locator(geo_db)
    assert locator.locate(address) == expected
    locator.close()


def test_unknown_and_unparsable_addresses_have_no_country(geo_db: Path) -> None:
    locator = Locator(geo_db)
    unknown = locator.locate("192.0.2.1")
    assert (unknown.country, unknown.continent) == (None, None) and unknown.prefix_len > 0
    assert locator.locate("not-an-address") == Location(None, None, 0)
    locator.close()


class CountingReader:
    """Wraps the real maxminddb reader to count database lookups."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.lookups = 0

    def get_with_prefix_len(self, address: str) -> Any:
        self.lookups += 1
        return self.real.get_with_prefix_len(address)

    def close(self) -> None:
        self.real.close()


def test_results_are_cached_per_database_network(geo_db: Path) -> None:
    locator = Locator(geo_db)
    counting = CountingReader(locator._reader)
    locator._reader = counting
    for host in range(1, 120):
        assert locator.locate(f"127.0.100.{host}").country == "IE"
    assert counting.lookups == 1  # one /24 network: one database lookup
    assert locator.locate("127.0.200.3").country == "US"
    assert locator.locate(bytes([127, 0, 200, 99])).country == "US"
    assert counting.lookups == 2
    locator.close()


def test_cache_stays_bounded(geo_db: Path) -> None:
    locator = Locator(geo_db, cache_size=16)
    for host in range(200):
        locator.locate(f"192.0.2.{host}")
        locator.locate(f"127.0.{host}.1")
    assert len(locator._by_address) <= 16 and len(locator._by_network) <= 16
    assert locator.locate("127.0.100.1").country == "IE"
    locator.close()


def test_changed_notices_a_replaced_file(tmp_path: Path) -> None:
    path = write_city_db(tmp_path / "g.mmdb", {"127.0.100.0/24": ("IE", "EU")})
    locator = Locator(path)
    assert not locator.changed()
    write_city_db(path, {"127.0.100.0/24": ("DE", "EU")})
    assert locator.changed()
    assert Locator(path).locate("127.0.100.1").country == "DE"
    locator.close()


def test_country_databases_are_accepted(tmp_path: Path) -> None:
    path = write_city_db(tmp_path / "c.mmdb", TEST_NETWORKS, database_type="GeoLite2-Country")
    with geoip2.database.Reader(str(path)) as reader:
        assert reader.country("127.0.50.1").country.iso_code == "FR"
    locator = Locator(path)
    assert locator.database_type == "GeoLite2-Country"
    assert locator.locate("127.0.50.1") == Location("FR", "EU", 24)
    locator.close()


def test_missing_or_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.mmdb"):
        Locator(tmp_path / "missing.mmdb")
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(ConfigError, match="junk.mmdb: cannot open GeoIP database"):
        Locator(junk)


def test_geoip_demo_command_writes_the_demo_db(tmp_path: Path) -> None:
    out = tmp_path / "demo.mmdb"
    result = subprocess.run(cli("geoip-demo", str(out)), capture_output=True, text=True, env=cli_env(), check=False)
    assert result.returncode == 0, result.stderr
    assert Locator(out).locate("10.89.100.1") == Location("IE", "EU", 24)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    bad = CliRunner().invoke(app, ["geoip-demo", str(blocker / "demo.mmdb")])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: ")
