"""`kuadns-sync sync` and `kuadns-sync diff-live` against emulated clusters: exit codes, output, signals."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kuadns_sync.cli import app
from kuadns_sync.cli.sync import parse_duration
from tests.kube.kube_fleet import AUTH, SECRET_NS, UID, Fleet, dnsrecord, fleet, lb_endpoints

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Fleet]:
    with fleet(tmp_path) as f:
        f.apply("p1", dnsrecord("external-api", lb_endpoints(UID["p1"], "172.18.200.1", "GEO-EU", 100, True)))
        f.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.3", "GEO-EU", 100, True)))
        yield f


def common(f: Fleet, cluster: str) -> list[str]:
    return ["--kubeconfig", str(f.servers[cluster].kubeconfig_path), "--cluster-secret-namespace", SECRET_NS,
            "--cluster-name", cluster]


def test_sync_once_then_diff_live_reports_nothing_and_a_change_makes_it_exit_2(clusters: Fleet, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "bundle"
    secondary = runner.invoke(app, ["sync", "--once", "--role", "secondary", *common(clusters, "s1")])
    assert secondary.exit_code == 0, secondary.output
    assert "sync (secondary)" in secondary.output
    result = runner.invoke(app, ["sync", "--once", "--out", str(out), *common(clusters, "p1")])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output
    assert "bundle written" in result.output
    assert AUTH in clusters.authoritative("p1")
    # Statuses settle in the second pass (the first one wrote the authoritative record's own status).
    assert runner.invoke(app, ["sync", "--once", "--out", str(out), *common(clusters, "p1")]).exit_code == 0

    same = runner.invoke(app, ["diff-live", "--out", str(out), *common(clusters, "p1")])
    assert same.exit_code == 0, same.output
    assert "Summary: 0 create, 0 update, 0 delete" in same.output

    clusters.apply("s1", dnsrecord("external-api", lb_endpoints(UID["s1"], "172.18.200.33", "GEO-EU", 100, True)))
    changed = runner.invoke(app, ["diff-live", "--out", str(out), *common(clusters, "p1")])
    assert changed.exit_code == 2, changed.output
    assert "172.18.200.33" in changed.output
    assert any(line.startswith("+") and "172.18.200.33" in line for line in changed.output.splitlines())
    # A dry run writes nothing.
    assert "172.18.200.33" not in str(clusters.authoritative("p1"))


def test_bad_flags_and_unreadable_kubeconfig_are_clear_errors_without_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["sync", "--once", "--kubeconfig", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    assert "error:" in missing.output
    assert "nope.yaml" in missing.output
    assert "Traceback" not in missing.output
    bad = runner.invoke(app, ["sync", "--once", "--interval", "soon"])
    assert bad.exit_code == 2
    assert "not a duration" in bad.output
    role = runner.invoke(app, ["sync", "--once", "--role", "tertiary", "--kubeconfig", str(tmp_path / "x")])
    assert role.exit_code == 2


def test_durations() -> None:
    assert parse_duration("30s", "--x") == 30
    assert parse_duration("10m", "--x") == 600
    assert parse_duration("1h30m", "--x") == 5400
    assert parse_duration("2.5", "--x") == 2.5
    assert parse_duration("250ms", "--x") == 0.25


def test_interval_mode_runs_until_sigterm_and_releases_its_lease(clusters: Fleet) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kuadns_sync", "sync", "--interval", "1s", "--lease", "kuadns-sync",
         *common(clusters, "p1")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        assert "sync (primary)" in lines.get(timeout=30)
        assert "sync (primary)" in lines.get(timeout=30)  # the interval loop keeps going
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lease = clusters.servers["p1"].get_object("leases", "kuadns-sync", SECRET_NS)
    assert lease is not None
    assert not lease["spec"].get("holderIdentity")
    assert AUTH in clusters.authoritative("p1")
