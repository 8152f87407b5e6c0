"""kubectl 1.32 against the emulator: get (tables, -o yaml, selectors), create -f, apply -f (client- and
server-side), label, delete, generator commands sending protobuf, and server-side field validation."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dev.helpers import dnsrecord
from kuadns_sync.dev import ApiServer

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

Kubectl = Callable[..., tuple[int, str, str]]


@pytest.fixture
def kubectl(server: ApiServer, tmp_path: Path) -> Kubectl:
    """Run kubectl against the server; returns (exit code, stdout, stderr)."""

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        cmd = ["kubectl", "--kubeconfig", str(server.kubeconfig_path), "--cache-dir", str(tmp_path / "cache"), *args]
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30, check=False)
        return done.returncode, done.stdout, done.stderr

    return run


def _manifest(tmp_path: Path, *objs: dict[str, object]) -> str:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump_all(objs))
    return str(path)


def test_create_get_label_and_delete_a_dnsrecord(kubectl: Kubectl, server: ApiServer, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, dnsrecord("api", labels={"app": "toystore"}))
    assert kubectl("create", "-f", manifest)[1].strip() == "dnsrecord.kuadrant.io/api created"
    code, out, _ = kubectl("get", "dnsrecords")
    assert code == 0 and out.split("\n")[0].split() == ["NAME", "READY"] and out.split("\n")[1].split() == ["api"]
    server.patch_object(
        "dnsrecords",
        "api",
        {
            "status": {
                "ownerID": "abcdef",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "ProviderSuccess",
                        "message": "Provider ensured the dns record",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        },
        subresource="status",
    )
    wide = kubectl("get", "dnsrecords", "-o", "wide")[1].split("\n")
    assert wide[0].split() == [
        "NAME",
        "READY",
        "HEALTHY",
        "ROOT",
        "HOST",
        "OWNER",
        "ID",
        "ZONE",
        "DOMAIN",
        "ZONE",
        "ID",
    ]
    assert wide[1].split() == ["api", "True", "api.k.example.com", "abcdef"]
    as_yaml = yaml.safe_load(kubectl("get", "dnsrecord", "api", "-o", "yaml")[1])
    assert as_yaml["spec"]["rootHost"] == "api.k.example.com" and as_yaml["status"]["ownerID"] == "abcdef"
    assert kubectl("label", "dnsrecord", "api", "kuadrant.io/coredns-zone-name=k.example.com")[0] == 0
    labels = server.get_object("dnsrecords", "api")["metadata"]["labels"]  # type: ignore[index]
    assert labels == {"app": "toystore", "kuadrant.io/coredns-zone-name": "k.example.com"}
    selected = kubectl("get", "dnsrecords", "-A", "-l", "kuadrant.io/coredns-zone-name=k.example.com", "-o", "name")
    assert selected[1].split() == ["dnsrecord.kuadrant.io/api"]
    assert kubectl("delete", "dnsrecord", "api")[1].strip() == 'dnsrecord.kuadrant.io "api" deleted'
    assert server.objects("dnsrecords") == []


def test_apply_creates_then_is_unchanged_then_configures(kubectl: Kubectl, server: ApiServer, tmp_path: Path) -> None:
    record = dnsrecord("api")
    assert kubectl("apply", "-f", _manifest(tmp_path, record))[1].strip() == "dnsrecord.kuadrant.io/api created"
    assert kubectl("apply", "-f", _manifest(tmp_path, record))[1].strip() == "dnsrecord.kuadrant.io/api unchanged"
    record["spec"]["endpoints"][0]["targets"] = ["192.0.2.7"]  # type: ignore[index]
    assert kubectl("apply", "-f", _manifest(tmp_path, record))[1].strip() == "dnsrecord.kuadrant.io/api configured"
    stored = server.get_object("dnsrecords", "api")
    assert stored is not None and stored["spec"]["endpoints"][0]["targets"] == ["192.0.2.7"]
    assert stored["metadata"]["generation"] == 2
    ssa = kubectl("apply", "--server-side", "-f", _manifest(tmp_path, dnsrecord("ssa")))
    assert ssa[1].strip() == "dnsrecord.kuadrant.io/ssa serverside-applied"


def test_generators_send_protobuf_and_apply_patches_secrets(
    kubectl: Kubectl, server: ApiServer, tmp_path: Path
) -> None:
    assert kubectl("create", "namespace", "dnstest")[0] == 0
    code, _, err = kubectl(
        "create",
        "secret",
        "generic",
        "dns-provider-coredns",
        "-n",
        "dnstest",
        "--type=kuadrant.io/coredns",
        "--from-literal=ZONES=k.example.com",
    )
    assert code == 0, err
    secret = server.get_object("secrets", "dns-provider-coredns", "dnstest")
    assert (
        secret is not None
        and secret["type"] == "kuadrant.io/coredns"
        and secret["data"] == {"ZONES": "ay5leGFtcGxlLmNvbQ=="}
    )
    kubeconfig_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "west", "namespace": "dnstest", "labels": {"kuadrant.io/multicluster-kubeconfig": "true"}},
        "stringData": {"kubeconfig": "apiVersion: v1"},
    }
    manifest = _manifest(tmp_path, kubeconfig_secret)
    assert kubectl("apply", "-f", manifest)[1].strip() == "secret/west created"
    kubeconfig_secret["metadata"]["labels"]["extra"] = "1"  # type: ignore[index]
    assert kubectl("apply", "-f", _manifest(tmp_path, kubeconfig_secret))[0] == 0  # strategic merge patch
    west = server.get_object("secrets", "west", "dnstest")
    assert (
        west is not None
        and west["metadata"]["labels"]["extra"] == "1"
        and west["data"] == {"kubeconfig": "YXBpVmVyc2lvbjogdjE="}
    )
    table = kubectl("get", "secrets", "-n", "dnstest")[1].split("\n")
    assert table[0].split() == ["NAME", "TYPE", "DATA", "AGE"] and table[1].split()[:3] == [
        "dns-provider-coredns",
        "kuadrant.io/coredns",
        "1",
    ]


def test_server_side_validation_errors_reach_the_user(kubectl: Kubectl, tmp_path: Path) -> None:
    unknown = dnsrecord("u")
    unknown["spec"]["bogus"] = True  # type: ignore[index]
    code, _, err = kubectl("create", "-f", _manifest(tmp_path, unknown))
    assert code == 1 and 'unknown field "spec.bogus"' in err
    invalid = dnsrecord("i", ownerID="abc")
    code, _, err = kubectl("create", "-f", _manifest(tmp_path, invalid))
    assert code == 1 and 'The DNSRecord "i" is invalid' in err and "spec.ownerID" in err


def test_discovery_lists_crds_and_namespaces(kubectl: Kubectl) -> None:
    assert kubectl("get", "crd", "-o", "name")[1].split() == [
        "customresourcedefinition.apiextensions.k8s.io/dnsrecords.kuadrant.io"
    ]
    namespaces = kubectl("get", "ns", "-o", "name")[1].split()
    assert {"namespace/default", "namespace/kube-system"} <= set(namespaces)
    assert "kuadrant.io/v1alpha1" in kubectl("api-versions")[1].split()


def test_a_wrong_token_is_refused(server: ApiServer, tmp_path: Path) -> None:
    config = yaml.safe_load(server.kubeconfig_text)
    config["users"][0]["user"]["token"] = "wrong"
    path = tmp_path / "bad.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(path), "--cache-dir", str(tmp_path / "c"), "get", "ns"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1 and "You must be logged in to the server" in done.stderr
