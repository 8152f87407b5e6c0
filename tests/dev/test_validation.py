"""DNSRecord validation against kuadns_sync/crd/dnsrecords.kuadrant.io.yaml: schema rules, hand-written CEL rules,
unknown fields (Strict / Warn), defaults, metadata checks; every rejection is a 422 Status naming the fields."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from dev.helpers import GROUP, PLURAL, VERSION, dnsrecord, status_of
from kuadns_sync.dev import ApiServer, resources


def _reject(custom: client.CustomObjectsApi, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(client.ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body, **kwargs)
    return status_of(err.value)


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"rootHost": "nodots"}, "spec.rootHost", "spec.rootHost in body should match"),
        ({"rootHost": "x" * 254 + ".io"}, "spec.rootHost", "Too long: may not be more than 255 bytes"),
        ({"ownerID": "abc"}, "spec.ownerID", "should be at least 6 chars long"),
        ({"ownerID": "a" * 37}, "spec.ownerID", "Too long: may not be more than 36 bytes"),
        (
            {"endpoints": [{"dnsName": "api.k.example.com", "recordTTL": "60"}]},
            "spec.endpoints[0].recordTTL",
            "must be of type integer",
        ),
        ({"delegate": "yes"}, "spec.delegate", "must be of type boolean"),
        ({"providerRef": {}}, "spec.providerRef.name", "Required value"),
        ({"healthCheck": {"port": 8}}, "spec.healthCheck.port", "Only ports 80, 443, 1024-49151 are allowed"),
        ({"healthCheck": {"protocol": "FTP"}}, "spec.healthCheck.protocol", "Only HTTP or HTTPS protocols are allowed"),
        ({"healthCheck": {"failureThreshold": 0}}, "spec.healthCheck.failureThreshold", "greater than 0"),
        ({"healthCheck": {"path": "healthz"}}, "spec.healthCheck.path", "should match"),
        (
            {"delegate": True, "providerRef": {"name": "p"}},
            "spec",
            "delegate=true and providerRef are mutually exclusive",
        ),
    ],
)
def test_invalid_specs_are_rejected_with_the_field_and_reason(
    custom: client.CustomObjectsApi, spec: dict[str, Any], field: str, message: str
) -> None:
    status = _reject(custom, dnsrecord("bad", **spec))
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"].startswith('DNSRecord.kuadrant.io "bad" is invalid: ')
    causes = status["details"]["causes"]
    assert any(c["field"] == field and message in c["message"] for c in causes), causes


def test_missing_root_host_and_every_other_problem_are_reported_together(custom: client.CustomObjectsApi) -> None:
    body = dnsrecord("bad", ownerID="abc")
    del body["spec"]["rootHost"]
    status = _reject(custom, body)
    assert {c["field"] for c in status["details"]["causes"]} == {"spec.rootHost", "spec.ownerID"}
    assert "spec.rootHost: Required value" in status["message"] and status["message"].count(",") >= 1


def test_metadata_is_validated_too(custom: client.CustomObjectsApi) -> None:
    status = _reject(custom, dnsrecord("Bad_Name", labels={"bad key": "v"}))
    fields = {c["field"] for c in status["details"]["causes"]}
    assert fields == {"metadata.name", "metadata.labels"}


def test_immutability_rules_apply_on_update(custom: client.CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, dnsrecord("r", ownerID="owner01", delegate=True)
    )
    for patch, message in [
        ({"spec": {"rootHost": "other.k.example.com"}}, "RootHost is immutable"),
        ({"spec": {"ownerID": "owner02"}}, "OwnerID is immutable"),
        ({"spec": {"ownerID": None}}, "OwnerID can't be unset if it was previously set"),
        ({"spec": {"delegate": False}}, "delegate is immutable"),
        ({"spec": {"delegate": None}}, "delegate can't be unset if true"),
    ]:
        with pytest.raises(client.ApiException) as err:
            custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "r", patch)
        assert err.value.status == 422 and message in status_of(err.value)["message"], patch
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, dnsrecord("plain"))
    for patch, message in [
        ({"spec": {"ownerID": "owner03"}}, "OwnerID can't be set if it was previously unset"),
        ({"spec": {"delegate": True}}, "delegate can't be set to true if unset"),
    ]:
        with pytest.raises(client.ApiException) as err:
            custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "plain", patch)
        assert message in status_of(err.value)["message"], patch
    # Allowed: other spec fields change, and an unset delegate may be set to false.
    ok = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "plain", {"spec": {"delegate": False}}
    )
    assert ok["spec"]["delegate"] is False


def test_unknown_fields_fail_in_strict_mode_and_are_dropped_with_a_warning_otherwise(
    custom: client.CustomObjectsApi,
) -> None:
    body = dnsrecord("u")
    body["spec"]["bogus"] = 1
    body["spec"]["endpoints"][0]["weight"] = 5
    status = _reject(custom, body, field_validation="Strict")
    assert status["code"] == 400
    assert (
        'unknown field "spec.bogus"' in status["message"]
        and 'unknown field "spec.endpoints[0].weight"' in status["message"]
    )
    data, code, headers = custom.create_namespaced_custom_object_with_http_info(GROUP, VERSION, "default", PLURAL, body)
    assert code == 201 and "bogus" not in data["spec"] and "weight" not in data["spec"]["endpoints"][0]
    assert 'unknown field \\"spec.bogus\\"' in headers["Warning"]


def test_schema_defaults_fill_a_present_health_check(custom: client.CustomObjectsApi) -> None:
    got = custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, dnsrecord("h", healthCheck={"path": "/healthz"})
    )
    assert got["spec"]["healthCheck"] == {
        "path": "/healthz",
        "port": 443,
        "protocol": "HTTPS",
        "interval": "5m",
        "failureThreshold": 5,
    }
    assert (
        "healthCheck"
        not in custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, dnsrecord("n"))["spec"]
    )


def test_status_is_validated_against_the_status_schema(custom: client.CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, dnsrecord("s"))
    bad = {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "Maybe",
                    "reason": "X",
                    "message": "",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        }
    }
    with pytest.raises(client.ApiException) as err:
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "s", bad)
    assert 'Unsupported value: "Maybe"' in status_of(err.value)["message"]
    remote = {"status": {"remoteRecordStatuses": {"0a1b2c3d-0000-4000-8000-000000000001": {"anything": ["goes", 1]}}}}
    kept = custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "s", remote)
    assert kept["status"] == remote["status"]


def test_the_crd_is_served_read_only_with_the_packaged_schema(api_client: client.ApiClient, server: ApiServer) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    crd = ext.read_custom_resource_definition("dnsrecords.kuadrant.io")
    assert crd.spec.names.kind == "DNSRecord" and crd.spec.scope == "Namespaced"
    version = crd.spec.versions[0]
    assert version.subresources.status == {} and [c.name for c in version.additional_printer_columns][:3] == [
        "Ready",
        "Healthy",
        "Root Host",
    ]
    served = api_client.sanitize_for_serialization(version.schema)["openAPIV3Schema"]
    assert served == resources.load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert [c.type for c in crd.status.conditions] == ["NamesAccepted", "Established"]
    with pytest.raises(client.ApiException) as err:
        ext.delete_custom_resource_definition("dnsrecords.kuadrant.io")
    assert err.value.status == 405


def test_metadata_checks_skip_fields_equal_to_the_stored_ones_and_check_changed_ones() -> None:
    from kuadns_sync.dev.validation import validate_meta

    rt = resources.crd_types(resources.load_crd())[0]
    # As if stored before (metadata passed these checks once): equal fields are not checked again.
    old = {"name": "r", "labels": {"bad key!": "x"}, "finalizers": ["nofinalizer"]}
    assert validate_meta(dict(old), rt, old) == []
    assert {c.field for c in validate_meta(dict(old), rt)} == {"metadata.labels", "metadata.finalizers[0]"}
    changed = {**old, "labels": {"bad key!": "y"}}
    assert [c.field for c in validate_meta(changed, rt, old)] == ["metadata.labels"]
    renamed = {**old, "name": "Bad_Name"}
    assert [c.field for c in validate_meta(renamed, rt, old)] == ["metadata.name"]
    unnamed = {k: v for k, v in old.items() if k != "name"}
    assert [c.message for c in validate_meta(unnamed, rt, old)] == ["Required value: name or generateName is required"]
