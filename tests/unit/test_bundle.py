"""Bundle generations: atomic swap, verified reads, no-op on identical content, pruning."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuadns_sync.bundle import (
    FORMAT,
    JSONText,
    RoutingMember,
    dump_json,
    read_bundle,
    resolve_generation,
    routing_from_json,
    routing_json,
    routing_to_json,
    sha256_hex,
    write_generation,
)
from kuadns_sync.errors import BundleError


def _files(serial: int, text: str = "example") -> tuple[dict[str, bytes], str]:
    zone = f"$ORIGIN z.test.\n@ 60 IN SOA ns1 h {serial} 1 1 1 1\n; {text}\n".encode()
    routing = dump_json(routing_to_json("z.test", {"default": {}})).encode()
    content_hash = sha256_hex(zone + routing)
    manifest = {
        "format": FORMAT,
        "content_hash": content_hash,
        "geo_fallback": "any",
        "zones": {
            "z.test": {
                "serial": serial,
                "content_hash": content_hash,
                "variants": ["default"],
                "files": {"default.zone": sha256_hex(zone), "routing.json": sha256_hex(routing)},
            }
        },
    }
    return {
        "zones/z.test/default.zone": zone,
        "zones/z.test/routing.json": routing,
        "manifest.json": dump_json(manifest).encode(),
    }, content_hash


def test_write_then_read_roundtrip_through_current_link(tmp_path: Path) -> None:
    files, digest = _files(1)
    generation = write_generation(tmp_path, files, digest)
    assert (tmp_path / "current").is_symlink()
    assert resolve_generation(tmp_path) == generation
    bundle = read_bundle(tmp_path)
    assert bundle.zones[0].name == "z.test" and bundle.zones[0].serial == 1
    assert "SOA" in bundle.zones[0].zone_texts["default"]


def test_identical_content_is_not_rewritten(tmp_path: Path) -> None:
    files, digest = _files(1)
    first = write_generation(tmp_path, files, digest)
    mtime = first.stat().st_mtime_ns
    second = write_generation(tmp_path, files, digest)
    assert first == second and second.stat().st_mtime_ns == mtime


def test_tampered_file_is_rejected(tmp_path: Path) -> None:
    files, digest = _files(1)
    generation = write_generation(tmp_path, files, digest)
    zone_file = generation / "zones/z.test/default.zone"
    os.chmod(zone_file, 0o644)
    zone_file.write_text("garbage")
    with pytest.raises(BundleError, match="sha256 mismatch"):
        read_bundle(tmp_path)


def test_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a bundle"):
        read_bundle(tmp_path)


def test_old_generations_are_pruned(tmp_path: Path) -> None:
    for serial in range(1, 7):
        files, digest = _files(serial, f"v{serial}")
        write_generation(tmp_path, files, digest)
    generations = [p for p in (tmp_path / "generations").iterdir() if p.name.startswith("g-")]
    assert len(generations) <= 4
    assert read_bundle(tmp_path).zones[0].serial == 6


def test_routing_json_roundtrip() -> None:
    routing = {"default": {"a.z.test": {"CNAME": (RoutingMember("s1", 3, 60, ("b.z.test.",)),)}}}
    text = dump_json(routing_to_json("z.test", routing))
    assert routing_from_json(json.loads(text), "x") == routing
    with pytest.raises(BundleError, match="bad member"):
        routing_from_json({"variants": {"default": {"a": {"A": [{"set": "x"}]}}}}, "routing.json")


@pytest.mark.parametrize("case", ["multicluster", "worked-example", "wildcard-delegation"])
def test_a_parallel_build_gives_the_same_bytes(case: str) -> None:
    from kuadns_sync.config import settings_from_options
    from kuadns_sync.forked import FORK_AVAILABLE
    from kuadns_sync.pipeline import build_bundle, collect_offline, merge_snapshots

    if not FORK_AVAILABLE:
        pytest.skip("no fork here: the parallel build runs in-process")
    root = Path(__file__).resolve().parents[2] / "golden" / case
    settings = settings_from_options(config=root / "kuadns.yaml", records=root / "records")
    snapshots, issues = collect_offline(root / "records", settings)
    result = merge_snapshots(snapshots, settings, issues)
    serial = build_bundle(result, settings, None, 1_767_225_600.0)
    parallel = build_bundle(result, settings, None, 1_767_225_600.0, parallel=True)
    assert any(path.startswith("authoritative/") for path in serial.files)
    assert parallel.files == serial.files
    assert parallel.content_hash == serial.content_hash


# --- dump_json / routing_json: the same text as the json module, whichever way it is built ---

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)


def _reference_dump(value: Any, depth: int, indent: str = "") -> str:
    """The layout of dump_json spelled out with json.dumps: `depth` levels one item a line, the rest compact."""
    if depth <= 0 or not value or not isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_reference_dump(v, depth - 1, inner)}"
                 for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    items = [inner + _reference_dump(v, depth - 1, inner) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + indent + "]"


@settings(max_examples=100, deadline=None)
@given(document=_JSON, depth=st.integers(min_value=0, max_value=4))
def test_dump_json_is_the_json_modules_text_in_its_layout(document: Any, depth: int) -> None:
    text = dump_json(document, depth)
    assert text == _reference_dump(document, depth) + "\n"
    assert json.loads(text) == document


def test_dump_json_writes_json_text_values_as_they_are() -> None:
    document = {"items": [JSONText('{"b": 1, "a": [2]}'), {"c": "d"}], "x": JSONText("[1, 2]")}
    expected = '{\n  "items": [\n    {"b": 1, "a": [2]},\n    {"c": "d"}\n  ],\n  "x": [1, 2]\n}\n'
    assert dump_json(document, 2) == expected


_MEMBER = st.builds(
    RoutingMember,
    set=st.text(max_size=6),
    weight=st.integers(min_value=0, max_value=1000),
    ttl=st.integers(min_value=0, max_value=86400),
    rdata=st.lists(st.text(max_size=8), max_size=3).map(tuple),
)
_MEMBERS = st.lists(_MEMBER, max_size=3).map(tuple)


@st.composite
def _routing(draw: st.DrawFn) -> dict[str, dict[str, dict[str, tuple[RoutingMember, ...]]]]:
    """Variants holding weighted sets, some of them the very same tuples and maps (as resolve_zone shares them)."""
    shared = draw(st.lists(_MEMBERS, min_size=1, max_size=3))
    shared_types = {"CNAME": shared[0]}
    types = st.dictionaries(st.sampled_from(["A", "AAAA", "CNAME", "TXT"]), st.sampled_from(shared) | _MEMBERS)
    names = st.dictionaries(st.text(max_size=5), types | st.just(shared_types), max_size=4)
    return draw(st.dictionaries(st.sampled_from(["default", "GEO-EU", "IE", "US"]), names, min_size=1))


@settings(max_examples=40, deadline=None)
@given(routing=_routing())
def test_routing_json_is_dump_json_of_routing_to_json(
    routing: dict[str, dict[str, dict[str, tuple[RoutingMember, ...]]]],
) -> None:
    assert routing_json("z.test", routing) == dump_json(routing_to_json("z.test", routing))


def test_a_txt_value_that_reads_like_the_serial_placeholder_stays_as_written(tmp_path: Path) -> None:
    import shutil

    from kuadns_sync.config import settings_from_options
    from kuadns_sync.pipeline import build_bundle, collect_offline, merge_snapshots
    from kuadns_sync.render import SERIAL_PLACEHOLDER

    root = Path(__file__).resolve().parents[2] / "golden" / "simple"
    shutil.copytree(root / "records", tmp_path / "records")
    source = next((tmp_path / "records").glob("*.yaml"))
    source.write_text(source.read_text().rstrip("\n") + "\n    - {dnsName: note.simple.k.example.com, recordType: TXT, "
                      f'recordTTL: 60, targets: ["{SERIAL_PLACEHOLDER}"]}}\n')
    settings = settings_from_options(config=root / "kuadns.yaml", records=tmp_path / "records")
    snapshots, issues = collect_offline(tmp_path / "records", settings)
    built = build_bundle(merge_snapshots(snapshots, settings, issues), settings, None, 1_767_225_600.0)
    zone = built.files["zones/k.example.com/default.zone"].decode()
    assert f'note.simple 60 IN TXT "{SERIAL_PLACEHOLDER}"' in " ".join(zone.split())
    assert "2026010100 ; serial" in zone
