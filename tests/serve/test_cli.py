"""`kuadns-sync serve` end to end, in a subprocess: --bundle, --records (re-render on change), the default
(bundled example + demo GeoIP DB), --workers, signals, and clear errors for bad flags."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from serve.serve_bundles import GEO_ANSWER, ZONE, example_zone, simple_zone, write_bundle
from serve.serve_helpers import cli, cli_env, dig, http_get, wait_for_line
from typer.testing import CliRunner

from kuadns_sync.cli import app
from kuadns_sync.errors import ConfigError
from kuadns_sync.health import Stats, merge_stats, render_metrics
from kuadns_sync.serve import parse_listen

EXAMPLES = Path(__file__).resolve().parents[2] / "kuadns_sync" / "examples"
START = re.compile(r"on 127\.0\.0\.1:(\d+) \(udp\+tcp\)")
HEALTH = re.compile(r"health on http://127\.0\.0\.1:(\d+)/")


class Served:
    def __init__(self, process: subprocess.Popen[str], line: str) -> None:
        self.process = process
        self.line = line
        match = START.search(line)
        assert match, line
        self.port = int(match.group(1))
        health = HEALTH.search(line)
        self.health = int(health.group(1)) if health else None


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    process = subprocess.Popen(
        cli("serve", "--listen", "127.0.0.1:0", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(env),
    )
    try:
        try:
            line = wait_for_line(process.stdout, "serving ", timeout=30)
        except TimeoutError:
            process.kill()
            raise AssertionError(f"no start line; stderr:\n{process.communicate()[1]}") from None
        yield Served(process, line)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _short(port: int, *args: str) -> list[str]:
    return dig(port, *args, "+short").split()


def test_serve_bundle_with_geoip_health_and_clean_stop(tmp_path: Path, geo_db: Path) -> None:
    root = tmp_path / "out"
    write_bundle(root, [example_zone()])
    with serving("--bundle", str(root), "--geoip", str(geo_db), "--health-listen", "127.0.0.1:0") as served:
        assert f"bundle {root}" in served.line and f"GeoIP {geo_db}" in served.line
        assert _short(served.port, f"geo.{ZONE}", "+subnet=127.0.100.0/24") == [GEO_ANSWER["IE"]]
        assert _short(served.port, "-b", "127.0.200.1", f"geo.{ZONE}") == [GEO_ANSWER["GEO-NA"]]
        assert served.health is not None and http_get(served.health, "/readyz")[0] == 200
        write_bundle(root, [simple_zone(ZONE, 9, "10.9.9.9")])
        deadline = time.monotonic() + 10
        while _short(served.port, f"www.{ZONE}") != ["10.9.9.9"]:
            assert time.monotonic() < deadline, "new bundle not served"
            time.sleep(0.1)
        served.process.send_signal(signal.SIGHUP)  # forces a reload of the same generation
        wait_for_line(served.process.stderr, "reload requested")
        assert "(k.example.com serial 9)" in wait_for_line(served.process.stderr, "loaded bundle g-")
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(10) == 0
        assert "Traceback" not in (served.process.stderr.read() if served.process.stderr else "")


def test_serve_records_renders_and_rerenders_on_change(tmp_path: Path, geo_db: Path) -> None:
    records = tmp_path / "records"
    shutil.copytree(EXAMPLES, records)
    out = tmp_path / "bundle"
    with serving("--records", str(records), "--out", str(out), "--geoip", str(geo_db)) as served:
        assert f"records {records}" in served.line
        chain = _short(served.port, f"api.{ZONE}", "+subnet=127.0.100.0/24")
        assert chain[-1] == "172.18.200.1"
        assert _short(served.port, "-b", "127.0.200.1", f"api.{ZONE}")[-1] == "172.18.200.2"
        simple = records / "cluster1" / "simple.yaml"
        simple.write_text(simple.read_text().replace("targets: [172.18.200.1]", "targets: [172.18.200.77]"))
        deadline = time.monotonic() + 15
        while _short(served.port, f"simple.{ZONE}") != ["172.18.200.77"]:
            assert time.monotonic() < deadline, "changed records not re-rendered"
            time.sleep(0.2)
    assert (out / "current" / "manifest.json").is_file()


def test_default_serves_the_bundled_example_with_the_demo_geoip_db(tmp_path: Path) -> None:
    with serving(env={"XDG_CACHE_HOME": str(tmp_path / "cache")}) as served:
        assert "GeoLite2-City-demo.mmdb" in served.line
        eu = _short(served.port, f"api.{ZONE}", "+subnet=127.0.100.0/24")
        na = _short(served.port, f"api.{ZONE}", "+subnet=127.0.200.0/24")
        assert eu[-1] == "172.18.200.1" and na[-1] == "172.18.200.2"
    assert (tmp_path / "cache" / "kuadns-sync" / "GeoLite2-City-demo.mmdb").is_file()


def test_workers_share_the_port(tmp_path: Path, geo_db: Path) -> None:
    root = tmp_path / "out"
    write_bundle(root, [example_zone()])
    args = ("--bundle", str(root), "--geoip", str(geo_db), "--workers", "2", "--health-listen", "127.0.0.1:0")
    with serving(*args) as served:
        assert "2 workers" in served.line
        for _ in range(20):
            assert _short(served.port, "-b", "127.0.100.1", f"geo.{ZONE}") == [GEO_ANSWER["IE"]]
        assert _short(served.port, "+tcp", f"multi.{ZONE}") in (["10.2.0.1", "10.2.0.2"], ["10.2.0.2", "10.2.0.1"])
        assert served.health is not None
        time.sleep(1.2)  # workers report their counters every second
        metrics = http_get(served.health, "/metrics")[1]
        assert "kuadns_workers 2" in metrics and "kuadns_ready 1" in metrics
        total = int(re.search(r'kuadns_queries_total\{rcode="NOERROR"\} (\d+)', metrics).group(1))  # type: ignore[union-attr]
        assert total >= 21
        children = subprocess.run(
            ["pgrep", "-P", str(served.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) == 2
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(10) == 0
        for pid in children:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nonsense"], "error: --listen 'nonsense'"),
        (["--bundle", "x", "--records", "y"], "error: --bundle and --records are mutually exclusive"),
        (["--bundle", "x", "--geoip", "/nonexistent/db.mmdb"], "error: /nonexistent/db.mmdb: cannot open GeoIP"),
        (["--records", "/nonexistent/records"], "error: --records /nonexistent/records: not a directory"),
        (["--bundle", "x", "--allow-transfer", "10.0.0.0/33"], "error: --allow-transfer '10.0.0.0/33'"),
    ],
)
def test_bad_flags_are_clear_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(message) and "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "out"
    write_bundle(root, [simple_zone(ZONE, 1, "10.9.9.1")])
    with serving("--bundle", str(root)) as served:
        result = subprocess.run(
            cli("serve", "--bundle", str(root), "--listen", f"127.0.0.1:{served.port}"),
            capture_output=True, text=True, env=cli_env(), timeout=60,
        )
    assert result.returncode == 1
    assert f"error: --listen 127.0.0.1:{served.port}" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:53", ("127.0.0.1", 53)), ("[::1]:5353", ("::1", 5353)), ("0.0.0.0:0", ("0.0.0.0", 0))],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["localhost:53", "127.0.0.1", "127.0.0.1:99999", "::1:53", "[::1]", ":53"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--listen"):
        parse_listen(text)


def test_metrics_of_several_workers_are_summed() -> None:
    one = Stats(ready=True, rcodes={"NOERROR": 3}, variants={"z\tIE": 2}, serials={"z": 5})
    two = Stats(ready=True, rcodes={"NOERROR": 4, "NXDOMAIN": 1}, variants={"z\tIE": 1}, serials={"z": 6})
    total = merge_stats([Stats.from_json(one.to_json()), two], expected=2)
    text = render_metrics(total)
    assert 'kuadns_queries_total{rcode="NOERROR"} 7' in text and 'kuadns_queries_total{rcode="NXDOMAIN"} 1' in text
    assert 'kuadns_variant_answers_total{zone="z",variant="IE"} 3' in text
    assert 'kuadns_bundle_serial{zone="z"} 6' in text and "kuadns_ready 1" in text
    assert not merge_stats([one], expected=2).ready  # one worker has not reported yet
