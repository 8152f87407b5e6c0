"""Golden cases (golden/<case>/): manifests in, bundle files out, compared byte for byte.

Each case holds `records/` (one sub-directory per cluster, or flat), `kuadns.yaml`, an optional `case.yaml`
(`primaries: [...]`: every listed cluster, rendering as the local one, must produce the same bundle) and
`expected/`: every bundle file but the manifest, plus `plan.txt` (the diff from an empty bundle).
Regenerate with `python3 -m pytest tests/test_golden.py --update-golden` and review the diff like code.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import GOLDEN, compare_golden, named_checkzone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuadns_sync.config import settings_from_options
from kuadns_sync.model import ClusterSnapshot, Issue
from kuadns_sync.pipeline import BuiltBundle, build_bundle, collect_offline, merge_snapshots
from kuadns_sync.plan import diff_files, format_text

FIXED_NOW = 1767225600.0  # 2026-01-01T00:00:00Z -> serial 2026010100
CASES = sorted(p for p in GOLDEN.iterdir() if (p / "records").is_dir())


def _case_config(case: Path) -> dict[str, object]:
    path = case / "case.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _build(case: Path, local: str | None = None) -> tuple[BuiltBundle, list[ClusterSnapshot], list[Issue]]:
    settings = settings_from_options(config=case / "kuadns.yaml", records=case / "records", local_cluster=local)
    snapshots, issues = collect_offline(case / "records", settings)
    result = merge_snapshots(snapshots, settings, issues)
    return build_bundle(result, settings, None, FIXED_NOW), snapshots, issues


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_bundle(case: Path, update_golden: bool, tmp_path: Path) -> None:
    built, _, _ = _build(case)
    expected_dir = case / "expected"
    produced = {path: data for path, data in built.files.items() if path != "manifest.json"}
    produced["plan.txt"] = format_text(diff_files({}, built.files), with_files=False).encode()
    if not update_golden:
        existing = {str(p.relative_to(expected_dir)) for p in expected_dir.rglob("*") if p.is_file()}
        assert existing == set(produced), "bundle files differ from the golden file list"
    for path, data in sorted(produced.items()):
        compare_golden(expected_dir / path, data.decode("utf-8"), update_golden)
    for path, data in built.files.items():
        if path.endswith(".zone"):
            zone = path.split("/")[1]
            target = tmp_path / path.replace("/", "_")
            target.write_bytes(data)
            check = named_checkzone(zone, target)
            assert check.returncode == 0, f"{path}: named-checkzone failed:\n{check.stdout}{check.stderr}"


@pytest.mark.parametrize("case", [c for c in CASES if _case_config(c).get("primaries")], ids=lambda c: c.name)
def test_every_primary_renders_the_same_bundle(case: Path) -> None:
    primaries = _case_config(case)["primaries"]
    assert isinstance(primaries, list)
    bundles = [_build(case, local)[0].files for local in primaries]
    for other in bundles[1:]:
        assert other == bundles[0]


_REFERENCE: dict[Path, tuple[BuiltBundle, list[ClusterSnapshot], list[Issue]]] = {}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_input_order_changes_nothing(seed: int) -> None:
    rng = random.Random(seed)
    for case in CASES:
        if case not in _REFERENCE:
            _REFERENCE[case] = _build(case)
        reference, snapshots, source_issues = _REFERENCE[case]
        settings_ = settings_from_options(config=case / "kuadns.yaml", records=case / "records")
        # Clusters and records in any order: the whole bundle is identical.
        shuffled = [
            replace(snap, records=tuple(rng.sample(snap.records, len(snap.records))))
            for snap in rng.sample(snapshots, len(snapshots))
        ]
        again = build_bundle(merge_snapshots(shuffled, settings_, source_issues), settings_, None, FIXED_NOW)
        assert again.files == reference.files, case.name
        # Endpoints in any order within their records: the same zones and authoritative records (issue texts
        # name endpoints by index, so they legitimately follow the order).
        reordered = [
            replace(snap, records=tuple(_shuffle_endpoints(r, rng) for r in snap.records)) for snap in shuffled
        ]
        again = build_bundle(merge_snapshots(reordered, settings_, source_issues), settings_, None, FIXED_NOW)
        assert _served(again) == _served(reference), case.name


def _shuffle_endpoints(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    spec = record.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("endpoints"), list):
        return record
    return {**record, "spec": {**spec, "endpoints": rng.sample(spec["endpoints"], len(spec["endpoints"]))}}


def _served(built: BuiltBundle) -> dict[str, bytes]:
    return {k: v for k, v in built.files.items() if k not in ("issues.txt", "manifest.json")}
