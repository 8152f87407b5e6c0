"""Structural openAPIV3Schema handling for custom resources: defaulting, pruning of unknown fields and validation
(types, required, lengths, patterns, enums, bounds, item counts, CEL rules via `cel`), with kube-apiserver messages.

Pure, no I/O. Patterns are Go RE2 syntax translated once to Python `re` (ASCII classes, literal `[` in sets).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from kuadns_sync.dev import cel
from kuadns_sync.dev.status import Cause

Schema = Mapping[str, Any]


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern as Python `re`: an unescaped `[` inside a set is a literal there."""
    out: list[str] = []
    in_set = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_set:
            if ch == "[":
                out.append("\\[")
            else:
                if ch == "]" and out and out[-1] not in ("[", "[^"):
                    in_set = False
                out.append(ch)
        else:
            if ch == "[":
                in_set = True
                if pattern[i + 1 : i + 2] == "^":
                    out.append("[^")
                    i += 2
                    continue
            out.append(ch)
        i += 1
    # RE2 \w, \d, \s are ASCII-only.
    return re.compile("".join(out), re.ASCII)


def _field(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    """How kube-apiserver prints an invalid value: strings quoted, objects as the word 'object'."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    if value is None:
        return "null"
    return str(value)


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, wanted: str) -> bool:
    actual = _type_of(value)
    if wanted == "number":
        return actual in ("integer", "number")
    if wanted == "integer" and isinstance(value, float):
        return value.is_integer()
    return actual == wanted


def apply_defaults(value: Any, schema: Schema) -> Any:
    """Return `value` with schema defaults filled into present objects (k8s structural defaulting)."""
    if isinstance(value, dict):
        props: Mapping[str, Schema] = schema.get("properties", {})
        result = dict(value)
        for key, sub in props.items():
            if key not in result and "default" in sub:
                result[key] = copy.deepcopy(sub["default"])
            if key in result:
                result[key] = apply_defaults(result[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key in result:
                if key not in props:
                    result[key] = apply_defaults(result[key], extra)
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [apply_defaults(v, schema["items"]) for v in value]
    return value


def prune(value: Any, schema: Schema, path: str, unknown: list[str]) -> Any:
    """Return `value` without fields the schema does not know; their paths are appended to `unknown`."""
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return value
    if isinstance(value, dict):
        props: Mapping[str, Schema] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        result: dict[str, Any] = {}
        for key, sub in value.items():
            child = _field(path, key)
            if key in props:
                result[key] = prune(sub, props[key], child, unknown)
            elif isinstance(extra, Mapping):
                result[key] = prune(sub, extra, child, unknown)
            elif extra is True or schema.get("x-kubernetes-preserve-unknown-fields"):
                result[key] = sub
            else:
                unknown.append(child)
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [prune(v, schema["items"], f"{path}[{i}]", unknown) for i, v in enumerate(value)]
    return value


_MISSING = object()


def validate(value: Any, schema: Schema, path: str, old: Any = _MISSING) -> list[Cause]:
    """Every violation of `schema` by `value` at `path` (old value given on updates for CEL transition rules)."""
    causes: list[Cause] = []
    _validate(value, schema, path, old, causes)
    return causes


def _validate(value: Any, schema: Schema, path: str, old: Any, causes: list[Cause]) -> None:
    if value is None:
        if not schema.get("nullable"):
            wanted = schema.get("type")
            if wanted:
                causes.append(
                    Cause(
                        "FieldValueTypeInvalid",
                        f'Invalid value: "null": {path} in body must be of type {wanted}: "null"',
                        path,
                    )
                )
        return
    wanted = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            causes.append(
                Cause("FieldValueTypeInvalid", f"Invalid value: {_show(value)}: must be integer or string", path)
            )
            return
    elif wanted and not _type_ok(value, wanted):
        causes.append(
            Cause(
                "FieldValueTypeInvalid",
                f'Invalid value: "{_type_of(value)}": {path} in body must be of type {wanted}: "{_type_of(value)}"',
                path,
            )
        )
        return
    before = len(causes)
    if isinstance(value, str):
        _validate_string(value, schema, path, causes)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path, causes)
    elif isinstance(value, list):
        _validate_array(value, schema, path, old, causes)
    elif isinstance(value, dict):
        _validate_object(value, schema, path, old, causes)
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_show(v) for v in schema["enum"])
        causes.append(
            Cause("FieldValueNotSupported", f"Unsupported value: {_show(value)}: supported values: {allowed}", path)
        )
    # k8s runs CEL rules only on values that passed the schema checks.
    if len(causes) == before:
        for rule in schema.get("x-kubernetes-validations", []):
            text = rule["rule"]
            if cel.is_transition_rule(text) and old is _MISSING:
                continue
            if not cel.evaluate(text, value, None if old is _MISSING else old):
                message = rule.get("message") or f"failed rule: {text}"
                causes.append(Cause("FieldValueInvalid", f"Invalid value: {_show(value)}: {message}", path))


def _validate_string(value: str, schema: Schema, path: str, causes: list[Cause]) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        causes.append(Cause("FieldValueTooLong", f"Too long: may not be more than {schema['maxLength']} bytes", path))
    if "minLength" in schema and len(value) < schema["minLength"]:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_show(value)}: {path} in body should be at least {schema['minLength']} chars long",
                path,
            )
        )
    if "pattern" in schema and not compile_pattern(schema["pattern"]).search(value):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_show(value)}: {path} in body should match '{schema['pattern']}'",
                path,
            )
        )
    if schema.get("format") == "date-time":
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {_show(value)}: {path} in body must be of type date-time",
                    path,
                )
            )


def _validate_number(value: float, schema: Schema, path: str, causes: list[Cause]) -> None:
    if "minimum" in schema:
        low = schema["minimum"]
        if value < low or (schema.get("exclusiveMinimum") and value == low):
            op = "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
            causes.append(
                Cause("FieldValueInvalid", f"Invalid value: {value}: {path} in body should be {op} {low}", path)
            )
    if "maximum" in schema:
        high = schema["maximum"]
        if value > high or (schema.get("exclusiveMaximum") and value == high):
            op = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
            causes.append(
                Cause("FieldValueInvalid", f"Invalid value: {value}: {path} in body should be {op} {high}", path)
            )


def _validate_array(value: list[Any], schema: Schema, path: str, old: Any, causes: list[Cause]) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        causes.append(
            Cause("FieldValueTooMany", f"Too many: {len(value)}: must have at most {schema['maxItems']} items", path)
        )
    if "minItems" in schema and len(value) < schema["minItems"]:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {path} in body should have at least {schema['minItems']} items",
                path,
            )
        )
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            # Items of a plain (atomic) list do not correlate with old items, so no transition rules there.
            _validate(item, items, f"{path}[{i}]", _MISSING, causes)


def _validate_object(value: dict[str, Any], schema: Schema, path: str, old: Any, causes: list[Cause]) -> None:
    for key in schema.get("required", []):
        if key not in value:
            causes.append(Cause("FieldValueRequired", "Required value", _field(path, key)))
    props: Mapping[str, Schema] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    old_map = old if isinstance(old, dict) else {}
    for key, sub in value.items():
        child_schema = props.get(key, extra if isinstance(extra, Mapping) else None)
        if child_schema is None:
            continue
        _validate(sub, child_schema, _field(path, key), old_map.get(key, _MISSING), causes)
