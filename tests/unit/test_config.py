"""Settings from kuadns.yaml and flags: every ConfigError names its origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuadns_sync.config import parse_config, settings_from_options
from kuadns_sync.errors import ConfigError
from kuadns_sync.model import Nameserver


def test_full_config_parses() -> None:
    settings = parse_config(
        "zones:\n- name: K.Example.com.\n  nameservers: [{name: ns1.k.example.com, addresses: [192.0.2.1]}]\n"
        "  rname: admin@example.com\nrole: secondary\nlocalCluster: c2\ndefaultTTL: 30\ngeoFallback: nodata\n",
        "kuadns.yaml",
    )
    assert settings.zones[0].name == "k.example.com"
    assert settings.zones[0].nameservers == (Nameserver("ns1.k.example.com", ("192.0.2.1",)),)
    assert (settings.role, settings.local_cluster, settings.default_ttl, settings.geo_fallback) == (
        "secondary", "c2", 30, "nodata",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("role: boss\n", "role must be 'primary' or 'secondary'"),
        ("defaultTTL: -1\n", "defaultTTL must be an integer"),
        ("geoFallback: random\n", "geoFallback must be 'any' or 'nodata'"),
        ("zones: [{nameservers: []}]\n", "a zone is a name or a mapping with 'name'"),
        ("zones: [{name: a.com, nameservers: [{name: ns1.a.com, addresses: [nope]}]}]\n", "'nope' is not an IP"),
        ("colour: blue\n", "unknown key 'colour'"),
        ("- a\n", "top level must be a mapping"),
        ("zones: [\n", "invalid YAML"),
    ],
)
def test_config_errors_name_the_file(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="kuadns.yaml") as info:
        parse_config(text, "kuadns.yaml")
    assert message in str(info.value)


def test_flags_add_zones_and_nameservers(tmp_path: Path) -> None:
    settings = settings_from_options(zones=["b.com", "a.com."], nameservers=["ns1.a.com=192.0.2.1,2001:db8::1"])
    assert [z.name for z in settings.zones] == ["a.com", "b.com"]
    assert settings.zones[0].nameservers[0].addresses == ("192.0.2.1", "2001:db8::1")


def test_records_dir_config_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "kuadns.yaml").write_text("zones: [x.test]\nlocalCluster: east\n")
    settings = settings_from_options(records=tmp_path, role="secondary")
    assert [z.name for z in settings.zones] == ["x.test"]
    assert (settings.local_cluster, settings.role) == ("east", "secondary")


def test_bad_flag_value_is_reported() -> None:
    with pytest.raises(ConfigError, match="options: geoFallback"):
        settings_from_options(geo_fallback="sometimes")
