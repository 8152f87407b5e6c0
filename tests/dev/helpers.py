"""Manifest builders and small helpers shared by the emulator tests."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

GROUP, VERSION, PLURAL = "kuadrant.io", "v1alpha1", "dnsrecords"


def dnsrecord(
    name: str, namespace: str = "default", labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    """A valid DNSRecord manifest; keyword arguments override spec fields."""
    body: dict[str, Any] = {
        "rootHost": "api.k.example.com",
        "endpoints": [{"dnsName": "api.k.example.com", "recordType": "A", "targets": ["192.0.2.1"], "recordTTL": 60}],
    }
    body.update(spec)
    return {
        "apiVersion": "kuadrant.io/v1alpha1",
        "kind": "DNSRecord",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": body,
    }


def status_of(exc: client.ApiException) -> dict[str, Any]:
    """The Kubernetes Status object in an ApiException's body."""
    body: dict[str, Any] = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == exc.status
    return body
