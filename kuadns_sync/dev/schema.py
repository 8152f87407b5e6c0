"""Structural openAPIV3Schema handling for custom resources: defaulting, pruning of unknown fields and validation
(types, required, lengths, patterns, enums, bounds, item counts, CEL rules via `cel`), with kube-apiserver messages.

Pure, no I/O. Patterns are Go RE2 syntax translated once to Python `re` (ASCII classes, literal `[` in sets).
Updates ratchet as kube-apiserver's CRDValidationRatcheting does: a value equal to the old one is not validated again.
The usual case (nothing unknown, nothing invalid) is answered by compiled yes/no checks (`schemacheck`, and for
new values one generated function, `schemacode`); the walks here run when those say no, and give the messages.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kuadns_sync.dev import cel, schemacheck, schemacode
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


@dataclass(slots=True)
class Node:
    """One schema node compiled for fast repeated use (attribute access instead of dict lookups)."""

    json_type: str | None = None
    nullable: bool = False
    int_or_string: bool = False
    preserve_unknown: bool = False
    props: dict[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    extra: Node | None = None
    extra_allowed: bool = False
    items: Node | None = None
    defaults: tuple[tuple[str, Any], ...] = ()
    enum: tuple[Any, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    regex: re.Pattern[str] | None = None
    date_time: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    min_items: int | None = None
    max_items: int | None = None
    rules: tuple[tuple[str, str, bool], ...] = ()
    scalar: type | None = None
    """Set when the node checks nothing but a scalar type: values of exactly that type are valid without a call."""
    has_defaults: bool = False
    """True when this node or a node below it has a default: defaulting walks only such subtrees."""


# Exact Python types of JSON scalars that need no check beyond their type (bool is not an integer here).
_SCALARS: dict[str, type] = {"string": str, "boolean": bool, "integer": int}
# Formats this module does not check (only date-time is): they do not constrain a value.
_CHECKED_FORMATS = frozenset({"date-time"})


def _compile(schema: Schema) -> Node:
    props = {k: _compile(v) for k, v in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties")
    items = schema.get("items")
    constrained = {
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "x-kubernetes-validations",
        "x-kubernetes-int-or-string",
        "nullable",
    }
    wanted = schema.get("type")
    checked_format = schema.get("format") in _CHECKED_FORMATS
    plain = isinstance(wanted, str) and not constrained & set(schema) and not checked_format
    scalar = _SCALARS.get(str(wanted)) if plain else None
    compiled_extra = _compile(extra) if isinstance(extra, Mapping) else None
    compiled_items = _compile(items) if isinstance(items, Mapping) else None
    defaults = tuple((k, v["default"]) for k, v in schema.get("properties", {}).items() if "default" in v)
    below = [*props.values(), *(n for n in (compiled_extra, compiled_items) if n is not None)]
    return Node(
        has_defaults=bool(defaults) or any(n.has_defaults for n in below),
        scalar=scalar,
        json_type=schema.get("type"),
        nullable=bool(schema.get("nullable")),
        int_or_string=bool(schema.get("x-kubernetes-int-or-string")),
        preserve_unknown=bool(schema.get("x-kubernetes-preserve-unknown-fields")),
        props=props,
        required=tuple(schema.get("required", ())),
        extra=compiled_extra,
        extra_allowed=extra is True,
        items=compiled_items,
        defaults=defaults,
        enum=tuple(schema["enum"]) if "enum" in schema else None,
        min_length=schema.get("minLength"),
        max_length=schema.get("maxLength"),
        pattern=schema.get("pattern"),
        regex=compile_pattern(schema["pattern"]) if "pattern" in schema else None,
        date_time=schema.get("format") == "date-time",
        minimum=schema.get("minimum"),
        maximum=schema.get("maximum"),
        exclusive_minimum=bool(schema.get("exclusiveMinimum")),
        exclusive_maximum=bool(schema.get("exclusiveMaximum")),
        min_items=schema.get("minItems"),
        max_items=schema.get("maxItems"),
        rules=tuple(
            (r["rule"], r.get("message") or f"failed rule: {r['rule']}", cel.is_transition_rule(r["rule"]))
            for r in schema.get("x-kubernetes-validations", ())
        ),
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled schema: its root node and the compiled yes/no checks of `schemacheck` for it."""

    node: Node
    has_unknown: schemacheck.UnknownCheck
    valid: schemacheck.ValidCheck
    new_ok: schemacheck.CreateCheck
    """True when a new value (no old value) has no unknown field and is valid: one walk for both."""


_COMPILED: dict[int, tuple[Schema, Plan]] = {}


def plan(schema: Schema) -> Plan:
    """The compiled form of `schema` and its checks (cached per schema object)."""
    hit = _COMPILED.get(id(schema))
    if hit is None or hit[0] is not schema:
        node = _compile(schema)
        compiled_plan = Plan(
            node,
            schemacheck.unknown_check(node),
            schemacheck.valid_check(node, _no_causes, _MISSING),
            schemacode.create_code(node, _no_causes, _MISSING)[0],
        )
        hit = (schema, compiled_plan)
        _COMPILED[id(schema)] = hit
    return hit[1]


def compiled(schema: Schema) -> Node:
    """The compiled form of `schema` (cached per schema object)."""
    return plan(schema).node


def apply_defaults(value: Any, schema: Schema) -> Any:
    """Return `value` with schema defaults filled into present objects (k8s structural defaulting).

    Subtrees without any default below them are returned as they are (not copied).
    """
    return _defaults(value, compiled(schema))


def _defaults(value: Any, node: Node) -> Any:
    # Copy on write: a container is copied only when a default lands in it or below it.
    if not node.has_defaults:
        return value
    if isinstance(value, dict):
        result: dict[str, Any] | None = None
        for key, default in node.defaults:
            if key not in value:
                result = dict(value) if result is None else result
                result[key] = copy.deepcopy(default)
        for key, sub in list((value if result is None else result).items()):
            child = node.props.get(key, node.extra)
            if child is not None and child.has_defaults and isinstance(sub, dict | list):
                filled = _defaults(sub, child)
                if filled is not sub:
                    result = dict(value) if result is None else result
                    result[key] = filled
        return value if result is None else result
    if isinstance(value, list) and node.items is not None:
        items = node.items
        filled_items = [_defaults(v, items) if isinstance(v, dict | list) else v for v in value]
        return value if all(a is b for a, b in zip(filled_items, value, strict=True)) else filled_items
    return value


def prune(
    value: Any, schema: Schema, path: str, unknown: list[str], clean: Any = None, *, walk: bool = False
) -> Any:
    """Return `value` without fields the schema does not know; their paths are appended to `unknown`.

    A part of `value` that is the very object found at the same place in `clean` (a value pruned
    before) is kept as it is: a patch result shares the unchanged parts of the stored object. A value
    with nothing to prune (the usual case) is returned as it is, not copied; `walk` skips that check
    (the walk always copies).
    """
    compiled_plan = plan(schema)
    if not walk and not compiled_plan.has_unknown(value, clean):
        return value
    return _prune(value, compiled_plan.node, path, unknown, clean)


def _prune(value: Any, node: Node, path: str, unknown: list[str], clean: Any = None) -> Any:
    if isinstance(value, dict):
        if node.preserve_unknown and not node.props:
            return value
        before = clean if isinstance(clean, dict) else {}
        result: dict[str, Any] = {}
        for key, sub in value.items():
            child = node.props.get(key, node.extra)
            if child is not None:
                earlier = before.get(key)
                if not isinstance(sub, dict | list) or sub is earlier:
                    result[key] = sub
                else:
                    result[key] = _prune(sub, child, _field(path, key), unknown, earlier)
            elif node.extra_allowed or node.preserve_unknown:
                result[key] = sub
            else:
                unknown.append(_field(path, key))
        return result
    if isinstance(value, list) and node.items is not None:
        items = node.items
        return [
            _prune(v, items, f"{path}[{i}]", unknown) if isinstance(v, dict | list) else v for i, v in enumerate(value)
        ]
    return value


_MISSING = object()


def validate(value: Any, schema: Schema, path: str, old: Any = _MISSING, *, walk: bool = False) -> list[Cause]:
    """Every violation of `schema` by `value` at `path` (old value given on updates for CEL transition rules).

    A compiled yes/no check answers the usual case (no violation) without the walk; `walk` skips it.
    """
    compiled_plan = plan(schema)
    if not walk and compiled_plan.valid(value, old):
        return []
    causes: list[Cause] = []
    _validate(value, compiled_plan.node, path, old, causes)
    return causes


def _no_causes(value: Any, node: Node, old: Any) -> bool:
    """The full walk as a yes/no answer (what the compiled checks fall back to)."""
    causes: list[Cause] = []
    _validate(value, node, "", old, causes)
    return not causes


_JSON_TYPES: dict[type, str] = {
    str: "string", dict: "object", list: "array", int: "integer", bool: "boolean", float: "number", type(None): "null"
}


def _validate(value: Any, node: Node, path: str, old: Any, causes: list[Cause]) -> None:
    actual = _JSON_TYPES.get(type(value)) or _type_of(value)
    wanted = node.json_type
    if actual == wanted and actual != "null" and not node.int_or_string:
        # The common case first: the right type; only the checks of that type remain.
        before = len(causes)
        if actual == "object":
            _validate_object(value, node, path, old, causes)
        elif actual == "string":
            _validate_string(value, node, path, causes)
        elif actual == "array":
            _validate_array(value, node, path, causes)
        elif actual in ("integer", "number"):
            _validate_number(value, node, path, causes)
        if node.enum is not None or node.rules:
            _check_enum_and_rules(value, node, path, old, causes, before)
        return
    _validate_any(value, node, path, old, causes)


def _check_enum_and_rules(value: Any, node: Node, path: str, old: Any, causes: list[Cause], before: int) -> None:
    if node.enum is not None and value not in node.enum:
        allowed = ", ".join(_show(v) for v in node.enum)
        causes.append(
            Cause("FieldValueNotSupported", f"Unsupported value: {_show(value)}: supported values: {allowed}", path)
        )
    # k8s runs CEL rules only on values that passed the schema checks.
    if node.rules and len(causes) == before:
        for text, message, transition in node.rules:
            if transition and old is _MISSING:
                continue
            if not cel.evaluate(text, value, None if old is _MISSING else old):
                causes.append(Cause("FieldValueInvalid", f"Invalid value: {_show(value)}: {message}", path))


def _validate_any(value: Any, node: Node, path: str, old: Any, causes: list[Cause]) -> None:
    if value is None:
        if not node.nullable and node.json_type:
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    f'Invalid value: "null": {path} in body must be of type {node.json_type}: "null"',
                    path,
                )
            )
        return
    if node.int_or_string:
        if not isinstance(value, int | str) or isinstance(value, bool):
            causes.append(
                Cause("FieldValueTypeInvalid", f"Invalid value: {_show(value)}: must be integer or string", path)
            )
            return
    elif node.json_type and not _type_ok(value, node.json_type):
        actual = _type_of(value)
        causes.append(
            Cause(
                "FieldValueTypeInvalid",
                f'Invalid value: "{actual}": {path} in body must be of type {node.json_type}: "{actual}"',
                path,
            )
        )
        return
    before = len(causes)
    if isinstance(value, str):
        _validate_string(value, node, path, causes)
    elif isinstance(value, dict):
        _validate_object(value, node, path, old, causes)
    elif isinstance(value, list):
        _validate_array(value, node, path, causes)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, node, path, causes)
    _check_enum_and_rules(value, node, path, old, causes, before)


def _validate_string(value: str, node: Node, path: str, causes: list[Cause]) -> None:
    if node.max_length is not None and len(value) > node.max_length:
        causes.append(Cause("FieldValueTooLong", f"Too long: may not be more than {node.max_length} bytes", path))
    if node.min_length is not None and len(value) < node.min_length:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_show(value)}: {path} in body should be at least {node.min_length} chars long",
                path,
            )
        )
    if node.regex is not None and not node.regex.search(value):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_show(value)}: {path} in body should match '{node.pattern}'",
                path,
            )
        )
    if node.date_time:
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


def _validate_number(value: float, node: Node, path: str, causes: list[Cause]) -> None:
    if node.minimum is not None:
        low = node.minimum
        if value < low or (node.exclusive_minimum and value == low):
            op = "greater than" if node.exclusive_minimum else "greater than or equal to"
            causes.append(
                Cause("FieldValueInvalid", f"Invalid value: {value}: {path} in body should be {op} {low}", path)
            )
    if node.maximum is not None:
        high = node.maximum
        if value > high or (node.exclusive_maximum and value == high):
            op = "less than" if node.exclusive_maximum else "less than or equal to"
            causes.append(
                Cause("FieldValueInvalid", f"Invalid value: {value}: {path} in body should be {op} {high}", path)
            )


def _validate_array(value: list[Any], node: Node, path: str, causes: list[Cause]) -> None:
    if node.max_items is not None and len(value) > node.max_items:
        causes.append(
            Cause("FieldValueTooMany", f"Too many: {len(value)}: must have at most {node.max_items} items", path)
        )
    if node.min_items is not None and len(value) < node.min_items:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {path} in body should have at least {node.min_items} items",
                path,
            )
        )
    items = node.items
    if items is not None:
        scalar = items.scalar
        for i, item in enumerate(value):
            if type(item) is scalar:
                continue
            # Items of a plain (atomic) list do not correlate with old items, so no transition rules there.
            _validate(item, items, f"{path}[{i}]", _MISSING, causes)


def _validate_object(value: dict[str, Any], node: Node, path: str, old: Any, causes: list[Cause]) -> None:
    for key in node.required:
        if key not in value:
            causes.append(Cause("FieldValueRequired", "Required value", _field(path, key)))
    props, extra = node.props, node.extra
    if not isinstance(old, dict) or not old:  # nothing to ratchet against (a create, a new subtree)
        for key, sub in value.items():
            child = props.get(key, extra)
            if child is not None and type(sub) is not child.scalar:
                _validate(sub, child, f"{path}.{key}" if path else key, _MISSING, causes)
        return
    for key, sub in value.items():
        child = props.get(key, extra)
        if child is None or type(sub) is child.scalar:
            continue
        before = old.get(key, _MISSING)
        # Ratcheting: an unchanged value was valid when it was stored (the schemas never change here),
        # and every transition rule of the CRD holds when self == oldSelf.
        if before is sub or (before is not _MISSING and before == sub):
            continue
        _validate(sub, child, f"{path}.{key}" if path else key, before, causes)
