"""The emulator starts, writes a usable kubeconfig, serves the official client, and stops cleanly."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord
from kuadns_sync.dev import ApiServer, start_apiserver


def test_version_reports_every_field_the_strict_client_model_needs(api_client: client.ApiClient) -> None:
    info = client.VersionApi(api_client).get_code()
    assert info.major == "1" and info.git_version.startswith("v1.")
    assert info.platform and info.go_version and info.build_date and info.compiler


def test_kube_system_uid_is_the_namespace_uid(server: ApiServer, core: client.CoreV1Api) -> None:
    assert core.read_namespace("kube-system").metadata.uid == server.kube_system_uid
    assert {"default", "kube-system"} <= {n.metadata.name for n in core.list_namespace().items}


def test_create_then_get_round_trips_a_dnsrecord(custom: client.CustomObjectsApi) -> None:
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, dnsrecord("r1"))
    got = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "r1")
    assert got == created
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]


def test_kubeconfig_file_names_the_cluster_and_stop_releases_the_port(tmp_path: Path) -> None:
    srv = start_apiserver(cluster_name="east", kubeconfig_dir=tmp_path)
    assert srv.kubeconfig_path == tmp_path / "east.kubeconfig"
    text = srv.kubeconfig_path.read_text()
    assert text == srv.kubeconfig_text and "current-context: east" in text and srv.url in text
    port = srv.port
    srv.stop()
    srv.stop()  # idempotent
    again = start_apiserver(port=port, cluster_name="east", kubeconfig_dir=tmp_path)
    try:
        api = config.new_client_from_config(str(again.kubeconfig_path))
        assert client.CoreV1Api(api).read_namespace("default").metadata.name == "default"
        api.close()
    finally:
        again.stop()
