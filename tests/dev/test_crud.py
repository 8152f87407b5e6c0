"""REST semantics through the official client: create/get/update/patch/delete, resourceVersion conflicts,
generation rules, the status subresource, finalizers and deletionTimestamp, namespaces, secrets and leases."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord, status_of
from kuadns_sync.dev import ApiServer


def _create(custom: client.CustomObjectsApi, body: dict[str, Any], ns: str = "default") -> dict[str, Any]:
    created: dict[str, Any] = custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    return created


def _get(custom: client.CustomObjectsApi, name: str, ns: str = "default") -> dict[str, Any]:
    got: dict[str, Any] = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    return got


def test_create_answers_201_with_server_metadata_and_409_on_a_second_create(custom: client.CustomObjectsApi) -> None:
    data, code, _ = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, "default", PLURAL, dnsrecord("a")
    )
    assert code == 201
    meta = data["metadata"]
    assert meta["generation"] == 1 and int(meta["resourceVersion"]) > 0
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["namespace"] == "default"
    with pytest.raises(client.ApiException) as err:
        _create(custom, dnsrecord("a"))
    status = status_of(err.value)
    assert (err.value.status, status["reason"]) == (409, "AlreadyExists")
    assert status["message"] == 'dnsrecords.kuadrant.io "a" already exists'


def test_status_in_a_create_is_dropped_because_status_is_a_subresource(custom: client.CustomObjectsApi) -> None:
    body = dnsrecord("a")
    body["status"] = {"ownerID": "sneaky"}
    assert "status" not in _create(custom, body)


def test_generate_name_picks_a_unique_name_with_the_prefix(custom: client.CustomObjectsApi) -> None:
    body = dnsrecord("")
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "gen-"
    names = {_create(custom, body)["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3 and all(n.startswith("gen-") and len(n) == 9 for n in names)


def test_get_of_a_missing_object_is_a_404_status(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(client.ApiException) as err:
        _get(custom, "nope")
    assert status_of(err.value)["reason"] == "NotFound"
    assert status_of(err.value)["message"] == 'dnsrecords.kuadrant.io "nope" not found'


def test_create_in_a_missing_namespace_is_404(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(client.ApiException) as err:
        _create(custom, dnsrecord("a", "ghost"), "ghost")
    assert err.value.status == 404 and 'namespaces "ghost" not found' in status_of(err.value)["message"]


def test_update_with_a_stale_resource_version_is_a_409_conflict(custom: client.CustomObjectsApi) -> None:
    first = _create(custom, dnsrecord("a"))
    stale = dict(first)
    changed = _get(custom, "a")
    changed["metadata"]["labels"] = {"x": "1"}
    custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a", changed)
    stale["metadata"] = {**first["metadata"], "labels": {"y": "2"}}
    with pytest.raises(client.ApiException) as err:
        custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a", stale)
    status = status_of(err.value)
    assert status["reason"] == "Conflict" and "the object has been modified" in status["message"]
    assert _get(custom, "a")["metadata"]["labels"] == {"x": "1"}


def test_update_of_a_custom_resource_without_resource_version_is_invalid(custom: client.CustomObjectsApi) -> None:
    body = _create(custom, dnsrecord("a"))
    del body["metadata"]["resourceVersion"]
    with pytest.raises(client.ApiException) as err:
        custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a", body)
    assert err.value.status == 422 and "metadata.resourceVersion" in status_of(err.value)["message"]


def test_a_no_op_update_keeps_the_resource_version(custom: client.CustomObjectsApi) -> None:
    body = _create(custom, dnsrecord("a"))
    again = custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a", body)
    assert again["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]


def test_generation_bumps_on_spec_changes_only(custom: client.CustomObjectsApi) -> None:
    _create(custom, dnsrecord("a"))
    labelled = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "a", {"metadata": {"labels": {"l": "1"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    status = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "a", {"status": {"ownerID": "x"}}
    )
    assert status["metadata"]["generation"] == 1
    spec = custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a", {"spec": {"endpoints": []}})
    assert spec["metadata"]["generation"] == 2 and spec["spec"]["endpoints"] == []
    assert int(spec["metadata"]["resourceVersion"]) > int(status["metadata"]["resourceVersion"])


def test_merge_patch_merges_maps_and_null_deletes(custom: client.CustomObjectsApi) -> None:
    _create(custom, dnsrecord("a", labels={"keep": "1", "drop": "2"}))
    got = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "a", {"metadata": {"labels": {"drop": None, "new": "3"}}}
    )
    assert got["metadata"]["labels"] == {"keep": "1", "new": "3"}


def test_json_patch_applies_operations_and_a_failed_test_rejects_all(custom: client.CustomObjectsApi) -> None:
    _create(custom, dnsrecord("a"))
    ops = [
        {
            "op": "add",
            "path": "/spec/endpoints/-",
            "value": {"dnsName": "b.api.k.example.com", "recordType": "A", "targets": ["192.0.2.2"]},
        },
        {"op": "replace", "path": "/spec/endpoints/0/targets/0", "value": "192.0.2.9"},
        {"op": "add", "path": "/metadata/labels/app", "value": "x"},
    ]
    got = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "a", ops, _content_type="application/json-patch+json"
    )
    assert [e["targets"] for e in got["spec"]["endpoints"]] == [["192.0.2.9"], ["192.0.2.2"]]
    assert got["metadata"]["labels"]["app"] == "x"
    failing = [
        {"op": "test", "path": "/spec/rootHost", "value": "other.example.com"},
        {"op": "remove", "path": "/spec/endpoints"},
    ]
    with pytest.raises(client.ApiException) as err:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "a", failing, _content_type="application/json-patch+json"
        )
    assert err.value.status == 422 and "test failed" in status_of(err.value)["message"]
    assert len(_get(custom, "a")["spec"]["endpoints"]) == 2


def test_strategic_merge_patch_on_a_custom_resource_is_415(custom: client.CustomObjectsApi) -> None:
    _create(custom, dnsrecord("a"))
    with pytest.raises(client.ApiException) as err:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "a",
            {"metadata": {"labels": {"a": "b"}}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415 and status_of(err.value)["reason"] == "UnsupportedMediaType"


def test_status_subresource_writes_only_status_and_main_writes_ignore_status(custom: client.CustomObjectsApi) -> None:
    body = _create(custom, dnsrecord("a"))
    body["status"] = {"ownerID": "owner-1", "observedGeneration": 1}
    body["spec"]["rootHost"] = "api.k.example.com"
    body["metadata"]["labels"] = {"via": "status"}
    got = custom.replace_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "a", body)
    assert got["status"] == {"ownerID": "owner-1", "observedGeneration": 1}
    assert got["metadata"].get("labels", {}) == {}  # metadata changes through /status are ignored
    got["status"] = {"ownerID": "overwritten-by-main"}
    got["spec"]["endpoints"] = []
    main = custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a", got)
    assert main["status"] == {"ownerID": "owner-1", "observedGeneration": 1}
    assert main["spec"]["endpoints"] == [] and main["metadata"]["generation"] == 2


def test_status_update_with_a_stale_resource_version_conflicts(custom: client.CustomObjectsApi) -> None:
    body = _create(custom, dnsrecord("a"))
    custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a", {"metadata": {"labels": {"x": "1"}}})
    body["status"] = {"ownerID": "late"}
    with pytest.raises(client.ApiException) as err:
        custom.replace_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "a", body)
    assert err.value.status == 409


def test_delete_with_a_finalizer_marks_the_object_until_the_finalizer_is_removed(
    custom: client.CustomObjectsApi, server: ApiServer
) -> None:
    body = dnsrecord("a")
    body["metadata"]["finalizers"] = ["kuadrant.io/dns-record"]
    _create(custom, body)
    deleted = custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a")
    assert deleted["metadata"]["deletionTimestamp"] and deleted["metadata"]["generation"] == 2
    marked = _get(custom, "a")
    assert marked["metadata"]["deletionTimestamp"] == deleted["metadata"]["deletionTimestamp"]
    # A second delete changes nothing; new finalizers cannot be added while deleting.
    again = custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a")
    assert again["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]
    with pytest.raises(client.ApiException) as err:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "a", {"metadata": {"finalizers": ["kuadrant.io/dns-record", "x.io/y"]}}
        )
    assert err.value.status == 422 and "no new finalizers" in status_of(err.value)["message"]
    # Status writes still work while deleting (controllers report progress).
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "a", {"status": {"ownerID": "bye"}})
    custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "a", {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as gone:
        _get(custom, "a")
    assert gone.value.status == 404
    assert server.objects("dnsrecords") == []


def test_delete_without_finalizers_removes_at_once_and_preconditions_are_checked(
    custom: client.CustomObjectsApi,
) -> None:
    created = _create(custom, dnsrecord("a"))
    with pytest.raises(client.ApiException) as err:
        custom.delete_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "a", body={"preconditions": {"uid": "not-the-uid"}}
        )
    assert err.value.status == 409 and "Precondition failed" in status_of(err.value)["message"]
    result = custom.delete_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "a", body={"preconditions": {"uid": created["metadata"]["uid"]}}
    )
    assert result["status"] == "Success" and result["details"]["name"] == "a"
    with pytest.raises(client.ApiException):
        _get(custom, "a")


def test_dry_run_validates_without_storing(custom: client.CustomObjectsApi, server: ApiServer) -> None:
    rv = server.resource_version
    got = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, dnsrecord("a"), dry_run="All")
    assert got["metadata"]["name"] == "a"
    assert server.objects("dnsrecords") == [] and server.resource_version == rv


def test_list_across_namespaces_and_delete_collection_by_label(
    custom: client.CustomObjectsApi, core: client.CoreV1Api
) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="dnstest")))
    _create(custom, dnsrecord("a", labels={"t": "x"}))
    _create(custom, dnsrecord("b", "dnstest", labels={"t": "x"}), "dnstest")
    _create(custom, dnsrecord("c", "dnstest"), "dnstest")
    everything = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everything["items"]] == [
        ("default", "a"),
        ("dnstest", "b"),
        ("dnstest", "c"),
    ]
    assert everything["kind"] == "DNSRecordList" and everything["metadata"]["resourceVersion"]
    custom.delete_collection_namespaced_custom_object(GROUP, VERSION, "dnstest", PLURAL, label_selector="t=x")
    left = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert [i["metadata"]["name"] for i in left["items"]] == ["a", "c"]


def test_secrets_convert_string_data_and_accept_strategic_merge(core: client.CoreV1Api) -> None:
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name="kc", labels={"kuadrant.io/multicluster-kubeconfig": "true"}),
        string_data={"kubeconfig": "apiVersion: v1"},
    )
    created = core.create_namespaced_secret("default", secret)
    assert created.data == {"kubeconfig": "YXBpVmVyc2lvbjogdjE="} and created.type == "Opaque"
    assert created.string_data is None
    patched = core.patch_namespaced_secret("kc", "default", {"metadata": {"labels": {"extra": "1"}}})
    assert patched.metadata.labels == {"kuadrant.io/multicluster-kubeconfig": "true", "extra": "1"}
    listed = core.list_namespaced_secret("default", label_selector="kuadrant.io/multicluster-kubeconfig=true")
    assert [s.metadata.name for s in listed.items] == ["kc"]
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_secret("default", {"metadata": {"name": "bad"}, "data": {"k": "not base64!"}})
    assert err.value.status == 422 and "illegal base64" in status_of(err.value)["message"]


def test_leases_support_create_and_optimistic_update(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    spec = client.V1LeaseSpec(holder_identity="replica-a", lease_duration_seconds=15, lease_transitions=0)
    created = leases.create_namespaced_lease(
        "default", client.V1Lease(metadata=client.V1ObjectMeta(name="kuadns"), spec=spec)
    )
    created.spec.holder_identity = "replica-b"
    updated = leases.replace_namespaced_lease("kuadns", "default", created)
    assert updated.spec.holder_identity == "replica-b"
    created.spec.holder_identity = "replica-c"  # stale resourceVersion: the other replica lost the race
    with pytest.raises(client.ApiException) as err:
        leases.replace_namespaced_lease("kuadns", "default", created)
    assert err.value.status == 409


def test_namespace_delete_removes_its_contents_and_protected_namespaces_stay(
    custom: client.CustomObjectsApi, core: client.CoreV1Api, server: ApiServer
) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="gone")))
    _create(custom, dnsrecord("a", "gone"), "gone")
    core.create_namespaced_secret("gone", client.V1Secret(metadata=client.V1ObjectMeta(name="s")))
    core.delete_namespace("gone")
    assert server.objects("dnsrecords") == [] and server.objects("secrets", "gone") == []
    assert "gone" not in {n.metadata.name for n in core.list_namespace().items}
    with pytest.raises(client.ApiException) as err:
        core.delete_namespace("kube-system")
    assert err.value.status == 403
