"""Bundle generations: atomic swap, verified reads, no-op on identical content, pruning."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kuadns_sync.bundle import (
    FORMAT,
    RoutingMember,
    dump_json,
    read_bundle,
    resolve_generation,
    routing_from_json,
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
