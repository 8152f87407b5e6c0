"""Decoding of the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`) for the built-in kinds
kubectl's generators send that way (`kubectl create namespace|secret|configmap`), and Leases.

Pure, no I/O. Envelope: magic `k8s\\0`, then runtime.Unknown{typeMeta{apiVersion, kind}, raw}; `raw` is the
object's message (field numbers from k8s.io/api generated.proto). Unknown fields are skipped.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

Json = dict[str, Any]
MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# A message spec maps field number -> (json name, kind); kinds: "str", "bytes", "int", "bool", "time",
# ("msg", spec), ("map", value kind), ("list", kind).
Spec = dict[int, tuple[str, Any]]

_TIME = "time"
_OWNER_REF: Spec = {
    1: ("kind", "str"),
    3: ("name", "str"),
    4: ("uid", "str"),
    5: ("apiVersion", "str"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
_OBJECT_META: Spec = {
    1: ("name", "str"),
    2: ("generateName", "str"),
    3: ("namespace", "str"),
    4: ("selfLink", "str"),
    5: ("uid", "str"),
    6: ("resourceVersion", "str"),
    7: ("generation", "int"),
    8: ("creationTimestamp", _TIME),
    9: ("deletionTimestamp", _TIME),
    10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", ("map", "str")),
    12: ("annotations", ("map", "str")),
    13: ("ownerReferences", ("list", ("msg", _OWNER_REF))),
    14: ("finalizers", ("list", "str")),
}
_KINDS: dict[tuple[str, str], Spec] = {
    ("v1", "Namespace"): {
        1: ("metadata", ("msg", _OBJECT_META)),
        2: ("spec", ("msg", {1: ("finalizers", ("list", "str"))})),
        3: ("status", ("msg", {1: ("phase", "str")})),
    },
    ("v1", "Secret"): {
        1: ("metadata", ("msg", _OBJECT_META)),
        2: ("data", ("map", "bytes")),
        3: ("type", "str"),
        4: ("stringData", ("map", "str")),
        5: ("immutable", "bool"),
    },
    ("v1", "ConfigMap"): {
        1: ("metadata", ("msg", _OBJECT_META)),
        2: ("data", ("map", "str")),
        3: ("binaryData", ("map", "bytes")),
        4: ("immutable", "bool"),
    },
    ("coordination.k8s.io/v1", "Lease"): {
        1: ("metadata", ("msg", _OBJECT_META)),
        2: (
            "spec",
            (
                "msg",
                {
                    1: ("holderIdentity", "str"),
                    2: ("leaseDurationSeconds", "int"),
                    3: ("acquireTime", _TIME),
                    4: ("renewTime", _TIME),
                    5: ("leaseTransitions", "int"),
                    6: ("strategy", "str"),
                    7: ("preferredHolder", "str"),
                },
            ),
        ),
    },
}


class ProtobufError(ValueError):
    """A body that is not a decodable Kubernetes protobuf object of a supported kind."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) triples; length-delimited values are bytes."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: Any, value: Any) -> Any:
    if kind == "str":
        return bytes(value).decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "int":
        return _signed(int(value))
    if kind == "bool":
        return bool(value)
    if kind == _TIME:
        seconds = 0
        for number, _, v in _fields(bytes(value)):
            if number == 1:
                seconds = _signed(int(v))
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(kind, tuple) and kind[0] == "msg":
        return _message(bytes(value), kind[1])
    raise ProtobufError(f"unsupported field kind {kind!r}")


def _message(data: bytes, spec: Spec) -> Json:
    obj: Json = {}
    for number, _, value in _fields(data):
        if number not in spec:
            continue
        name, kind = spec[number]
        if isinstance(kind, tuple) and kind[0] == "map":
            key, item = "", None
            for n, _, v in _fields(bytes(value)):
                if n == 1:
                    key = bytes(v).decode("utf-8")
                elif n == 2:
                    item = v
            obj.setdefault(name, {})[key] = _scalar(kind[1], item if item is not None else b"")
        elif isinstance(kind, tuple) and kind[0] == "list":
            obj.setdefault(name, []).append(_scalar(kind[1], value))
        else:
            obj[name] = _scalar(kind, value)
    return obj


def decode(body: bytes) -> Json:
    """The JSON form of a protobuf-encoded object. Raises ProtobufError."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    api_version = kind = ""
    raw = b""
    for number, _, value in _fields(body[len(MAGIC) :]):
        if number == 1:
            for n, _, v in _fields(bytes(value)):
                if n == 1:
                    api_version = bytes(v).decode()
                elif n == 2:
                    kind = bytes(v).decode()
        elif number == 2:
            raw = bytes(value)
    spec = _KINDS.get((api_version, kind))
    if spec is None:
        raise ProtobufError(f"protobuf bodies of {api_version}/{kind} are not supported; send JSON")
    return {"apiVersion": api_version, "kind": kind, **_message(raw, spec)}
