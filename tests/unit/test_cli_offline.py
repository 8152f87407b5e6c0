"""render / diff / validate as a user runs them: exit codes, idempotent output, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kuadns_sync.bundle import read_bundle, resolve_generation
from kuadns_sync.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "kuadns_sync" / "examples"
GOLDEN = Path(__file__).resolve().parents[2] / "golden"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01
    return CliRunner()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_render_twice_is_byte_identical_with_an_unchanged_serial(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = runner.invoke(app, ["render", "--records", str(EXAMPLES), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "bundle written" in first.output
    generation = resolve_generation(out)
    before = _tree(generation)
    serial = read_bundle(out).zones[0].serial
    second = runner.invoke(app, ["render", "--records", str(EXAMPLES), "--out", str(out)])
    assert second.exit_code == 0, second.output
    assert "bundle unchanged" in second.output
    assert resolve_generation(out) == generation
    assert _tree(generation) == before
    assert read_bundle(out).zones[0].serial == serial == 2026010100


def test_a_content_change_bumps_the_serial_and_diff_shows_it(runner: CliRunner, tmp_path: Path) -> None:
    records = tmp_path / "records"
    shutil.copytree(EXAMPLES, records)
    out = tmp_path / "out"
    assert runner.invoke(app, ["render", "--records", str(records), "--out", str(out)]).exit_code == 0
    assert runner.invoke(app, ["diff", "--records", str(records), "--out", str(out)]).exit_code == 0
    simple = records / "cluster1" / "simple.yaml"
    simple.write_text(simple.read_text().replace("172.18.200.1", "172.18.200.9"))
    diff = runner.invoke(app, ["diff", "--records", str(records), "--out", str(out)])
    assert diff.exit_code == 2, diff.output
    assert "~ simple.k.example.com A ttl=60 [172.18.200.1]" in diff.output
    zone_lines = diff.output.splitlines()
    assert any(line.startswith("+simple") and line.endswith("172.18.200.9") for line in zone_lines)
    assert any(line.startswith("-simple") and line.endswith("172.18.200.1") for line in zone_lines)
    assert "-        2026010100 ; serial" in diff.output
    assert "+        2026010101 ; serial" in diff.output
    as_json = runner.invoke(app, ["diff", "--records", str(records), "--out", str(out), "--output", "json"])
    assert as_json.exit_code == 2
    document = json.loads(as_json.stdout)
    assert document["summary"]["update"] == 1
    assert runner.invoke(app, ["render", "--records", str(records), "--out", str(out)]).exit_code == 0
    assert read_bundle(out).zones[0].serial == 2026010101


def test_validate_reports_every_problem_and_fails(runner: CliRunner) -> None:
    result = runner.invoke(
        app,
        [
            "validate",
            "--records",
            str(GOLDEN / "invalid" / "records"),
            "--config",
            str(GOLDEN / "invalid" / "kuadns.yaml"),
        ],
    )
    assert result.exit_code == 1
    assert 'local/dnstest/bad-weight spec.endpoints[0]: weight "abc" is not a base-10 integer >= 0' in result.output
    assert "21 DNSRecord(s) in 1 cluster(s): 20 error(s)" in result.output


def test_validate_passes_on_the_example(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", "--records", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_user_errors_are_one_line_without_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", "--records", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "records directory does not exist" in result.output
    assert "Traceback" not in result.output
    bad = runner.invoke(
        app, ["render", "--records", str(EXAMPLES), "--out", str(tmp_path / "o"), "--geo-fallback", "x"]
    )
    assert bad.exit_code == 1
    assert "geoFallback must be 'any' or 'nodata'" in bad.output


def test_mass_deletion_is_refused_without_force(runner: CliRunner, tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    eps = "\n".join(
        f"    - {{dnsName: h{i}.big.k.example.com, recordType: A, recordTTL: 60, targets: [192.0.2.{i}]}}"
        for i in range(30)
    )
    manifest = (
        "apiVersion: kuadrant.io/v1alpha1\nkind: DNSRecord\n"
        "metadata: {name: big, namespace: ns, uid: 1}\n"
        f"spec:\n  rootHost: big.k.example.com\n  endpoints:\n{eps}\n"
    )
    (records / "big.yaml").write_text(manifest)
    args = [
        "render",
        "--records",
        str(records),
        "--out",
        str(tmp_path / "out"),
        "--zone",
        "k.example.com",
        "--nameserver",
        "ns1.k.example.com=192.0.2.53",
    ]
    assert runner.invoke(app, args).exit_code == 0
    (records / "big.yaml").write_text(manifest.replace("targets: [192.0.2.", "targets: [198.51.100."))
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert "use --force" in refused.output
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
