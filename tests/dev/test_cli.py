"""`kuadns-sync dev apiserver` as a process: writes the kubeconfig, preloads manifests, serves until SIGTERM;
bad input is a one-line error and exit code 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from kubernetes import client, config

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord

ROOT = Path(__file__).resolve().parents[2]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kuadns_sync", "dev", "apiserver", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_apiserver_command_serves_preloaded_objects_until_sigterm(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "records.yaml").write_text(yaml.safe_dump_all([dnsrecord("a", "dnstest"), dnsrecord("b", "dnstest")]))
    kubeconfig = tmp_path / "out" / "east.kubeconfig"
    proc = subprocess.Popen(
        _command(
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--cluster-name",
            "east",
            "--kube-system-uid",
            "0a1b2c3d-0000-4000-8000-000000000001",
            "--load",
            str(manifests),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("cluster east: serving https://127.0.0.1:"), first + (
            proc.stderr.read() if proc.stderr else ""
        )
        assert "loaded 2 objects" in proc.stdout.readline()
        kc = yaml.safe_load(kubeconfig.read_text())
        assert kc["current-context"] == "east" and kc["clusters"][0]["cluster"]["server"] in first
        with config.new_client_from_config(str(kubeconfig)) as api:
            items = client.CustomObjectsApi(api).list_namespaced_custom_object(GROUP, VERSION, "dnstest", PLURAL)[
                "items"
            ]
            assert [i["metadata"]["name"] for i in items] == ["a", "b"]
            ns = client.CoreV1Api(api).read_namespace("kube-system")
            assert ns.metadata.uid == "0a1b2c3d-0000-4000-8000-000000000001"
    finally:
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5


def test_a_bad_manifest_is_a_one_line_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(dnsrecord("x", ownerID="abc")))
    done = subprocess.run(
        _command("--kubeconfig", str(tmp_path / "kc"), "--load", str(bad)),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f'error: {bad} (document 1): DNSRecord.kuadrant.io "x" is invalid: spec.ownerID')
    assert "Traceback" not in done.stderr
