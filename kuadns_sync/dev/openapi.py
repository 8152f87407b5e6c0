"""OpenAPI v3 discovery (`/openapi/v3` and one document per group-version) as kubectl reads it: PATCH operations
tagged with `x-kubernetes-group-version-kind` and a `fieldValidation` parameter (so kubectl uses server-side
field validation), request content types (strategic merge only where served), and the kinds' schemas.

Pure, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from kuadns_sync.dev.resources import ResourceType

Json = dict[str, Any]

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def gv_path(rt: ResourceType) -> str:
    """Key of the group-version in the root document: `api/v1` or `apis/<group>/<version>`."""
    return f"apis/{rt.group}/{rt.version}" if rt.group else f"api/{rt.version}"


def _schema_name(rt: ResourceType) -> str:
    # Reverse-DNS naming like kube-apiserver's definitions (io.k8s.api.core.v1.Secret, io.kuadrant.v1alpha1.X).
    group = rt.group or "core"
    prefix = ".".join(reversed(group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{prefix}.{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType) -> Json:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _param(name: str, where: str = "query") -> Json:
    return {"name": name, "in": where, "schema": {"type": "string", "uniqueItems": True}, "required": where == "path"}


def _ref(rt: ResourceType) -> Json:
    return {"$ref": f"#/components/schemas/{_schema_name(rt)}"}


def _item_ops(rt: ResourceType) -> Json:
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": _ref(rt)}}}}
    ext = {"x-kubernetes-group-version-kind": _gvk(rt)}
    ops: Json = {"get": {"operationId": f"read{rt.kind}", "responses": ok, "x-kubernetes-action": "get", **ext}}
    if rt.read_only:
        return ops
    patch_types = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
    ops["put"] = {
        "operationId": f"replace{rt.kind}",
        "parameters": [_param(q) for q in _QUERY if q != "force"],
        "requestBody": {"content": {"application/json": {"schema": _ref(rt)}}},
        "responses": ok,
        "x-kubernetes-action": "put",
        **ext,
    }
    ops["patch"] = {
        "operationId": f"patch{rt.kind}",
        "parameters": [_param(q) for q in _QUERY],
        "requestBody": {"content": {t: {"schema": {"type": "object"}} for t in patch_types}},
        "responses": ok,
        "x-kubernetes-action": "patch",
        **ext,
    }
    ops["delete"] = {"operationId": f"delete{rt.kind}", "responses": ok, "x-kubernetes-action": "delete", **ext}
    return ops


def _collection_ops(rt: ResourceType) -> Json:
    ext = {"x-kubernetes-group-version-kind": _gvk(rt)}
    ops: Json = {
        "get": {
            "operationId": f"list{rt.kind}",
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "list",
            **ext,
        },
    }
    if not rt.read_only:
        ops["post"] = {
            "operationId": f"create{rt.kind}",
            "parameters": [_param(q) for q in _QUERY if q != "force"],
            "requestBody": {"content": {"application/json": {"schema": _ref(rt)}}},
            "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": _ref(rt)}}}},
            "x-kubernetes-action": "post",
            **ext,
        }
    return ops


def _schema(rt: ResourceType) -> Json:
    base: Json = json.loads(json.dumps(rt.schema)) if rt.schema else {"type": "object"}
    base["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return base


def gv_document(types: Sequence[ResourceType], gv: str) -> Json:
    """The OpenAPI v3 document of one group-version (`api/v1`, `apis/kuadrant.io/v1alpha1`)."""
    paths: Json = {}
    schemas: Json = {}
    for rt in types:
        if gv_path(rt) != gv:
            continue
        root = "/" + gv
        if rt.namespaced:
            item = f"{root}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
            coll = f"{root}/namespaces/{{namespace}}/{rt.plural}"
            paths[f"{root}/{rt.plural}"] = {
                "get": {**_collection_ops(rt)["get"], "operationId": f"list{rt.kind}ForAllNamespaces"}
            }
        else:
            item = f"{root}/{rt.plural}/{{name}}"
            coll = f"{root}/{rt.plural}"
        paths[coll] = _collection_ops(rt)
        paths[item] = _item_ops(rt)
        if rt.status_subresource and not rt.read_only:
            status_ops = _item_ops(rt)
            for op in status_ops.values():
                op["operationId"] += "Status"
            status_ops.pop("delete", None)
            paths[item + "/status"] = status_ops
        schemas[_schema_name(rt)] = _schema(rt)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def root_document(types: Sequence[ResourceType], documents: dict[str, bytes]) -> Json:
    """`/openapi/v3`: one entry per group-version with a content hash in the URL, as kube-apiserver serves."""
    paths = {}
    for gv, raw in sorted(documents.items()):
        digest = hashlib.sha512(raw).hexdigest()[:64].upper()
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}


def all_documents(types: Sequence[ResourceType]) -> dict[str, bytes]:
    """Encoded documents of every served group-version, keyed by `gv_path`."""
    gvs = sorted({gv_path(rt) for rt in types})
    return {gv: json.dumps(gv_document(types, gv), separators=(",", ":")).encode() for gv in gvs}
