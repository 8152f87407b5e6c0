"""Compiled yes/no checks of a structural schema node: "is anything below this value unknown?" and "is this
value valid?", built once per node as closures over its constants instead of walking `Node` fields per value.

Pure, no I/O. The checks answer exactly what the walks of `kuadns_sync.dev.schema` would find (no unknown
field, no cause), for the common case of values of the exact JSON type; any other value goes to the walk
itself, so messages, paths and rare cases stay in one place. Tests compare both on generated values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kuadns_sync.dev import cel

if TYPE_CHECKING:
    from kuadns_sync.dev.schema import Node

UnknownCheck = Callable[[Any, Any], bool]
"""(value, clean) -> True when pruning would drop a field below `value` (`clean`: the same place in an
object pruned before, whose very sub-objects are not looked at again)."""
ValidCheck = Callable[[Any, Any], bool]
"""(value, old) -> True when validation finds nothing (`old`: the old value on updates, else `MISSING`)."""
CreateCheck = Callable[[Any], bool]
"""value -> True when a new value has no unknown field and is valid (see `create_check`)."""
SlowValid = Callable[[Any, "Node", Any], bool]

_CONTAINERS = (dict, list)
# Exact Python types of the JSON scalar types a value needs to be checked on the create path.
_EXACT: dict[str, type] = {"string": str, "integer": int, "boolean": bool}
_NO_CLEAN: dict[str, Any] = {}


def unknown_check(node: Node) -> UnknownCheck:
    """The compiled form of `schema._has_unknown` for `node` (same answer for every value)."""
    props = {key: unknown_check(child) for key, child in node.props.items()}
    extra = unknown_check(node.extra) if node.extra is not None else None
    items = unknown_check(node.items) if node.items is not None else None
    open_ended = node.extra_allowed or node.preserve_unknown
    keeps_all = node.preserve_unknown and not node.props
    # Without additionalProperties every key outside the properties is unknown: one C-level subset test.
    known = frozenset(node.props) if node.extra is None and not open_ended else None
    get = props.get

    def check(value: Any, clean: Any) -> bool:
        if isinstance(value, dict):
            if keeps_all:
                return False
            if known is not None and not value.keys() <= known:
                return True
            before = clean if isinstance(clean, dict) else _NO_CLEAN
            for key, sub in value.items():
                if isinstance(sub, _CONTAINERS):
                    child = get(key, extra)
                    if child is None:
                        continue  # an open-ended node keeps what it does not describe
                    earlier = before.get(key)
                    if sub is not earlier and child(sub, earlier):
                        return True
            return False
        if items is not None and isinstance(value, list):
            for sub in value:
                if isinstance(sub, _CONTAINERS) and items(sub, None):
                    return True
        return False

    return check


def create_check(node: Node, slow: SlowValid, missing: Any) -> CreateCheck:
    """One walk for a new value (no old value, nothing pruned before): True when pruning would drop nothing
    and validation would find nothing. False may also mean "not sure" (values of other types, open nodes):
    the caller then asks `unknown_check` and `valid_check` separately."""
    if node.int_or_string or node.preserve_unknown:
        return _never
    wanted = node.json_type
    if wanted == "object":
        return _create_object(node, slow, missing)
    if wanted == "array":
        return _create_array(node, slow, missing)
    scalar = _EXACT.get(str(wanted))
    if scalar is None:
        return _never
    valid = valid_check(node, slow, missing)
    return lambda value: type(value) is scalar and valid(value, missing)


def _never(value: Any) -> bool:
    return False


def _create_object(node: Node, slow: SlowValid, missing: Any) -> CreateCheck:
    children = {key: (child.scalar, create_check(child, slow, missing)) for key, child in node.props.items()}
    extra = (node.extra.scalar, create_check(node.extra, slow, missing)) if node.extra is not None else None
    # Without additionalProperties every key outside the properties is unknown; with extra_allowed such
    # keys are kept and not validated (as the walks do).
    known = frozenset(node.props) if node.extra is None and not node.extra_allowed else None
    required = node.required
    finish = finish_check(node, missing)
    get = children.get

    def check(value: Any) -> bool:
        if type(value) is not dict or (known is not None and not value.keys() <= known):
            return False
        for key in required:
            if key not in value:
                return False
        for key, sub in value.items():
            child = get(key, extra)
            if child is not None and type(sub) is not child[0] and not child[1](sub):
                return False
        return finish is None or finish(value, missing)

    return check


def _create_array(node: Node, slow: SlowValid, missing: Any) -> CreateCheck:
    low, high = node.min_items, node.max_items
    items = node.items
    scalar = items.scalar if items is not None else None
    item_check = create_check(items, slow, missing) if items is not None else None
    finish = finish_check(node, missing)

    def check(value: Any) -> bool:
        if type(value) is not list:
            return False
        if (high is not None and len(value) > high) or (low is not None and len(value) < low):
            return False
        if item_check is not None:
            for item in value:
                if type(item) is not scalar and not item_check(item):
                    return False
        return finish is None or finish(value, missing)

    return check


def valid_check(node: Node, slow: SlowValid, missing: Any) -> ValidCheck:
    """The compiled validation of `node`: True exactly when `slow(value, node, old)` (the full walk) finds
    no cause. Values of the node's exact JSON type are checked here; the rest go to `slow`."""
    wanted = node.json_type
    if node.int_or_string or wanted not in _BUILDERS:
        return lambda value, old: slow(value, node, old)
    return _BUILDERS[wanted](node, slow, missing)


def finish_check(node: Node, missing: Any) -> ValidCheck | None:
    """Enum and CEL rules of `node` (None without): they run last, rules only on values that passed the
    schema checks."""
    enum, rules = node.enum, node.rules
    if enum is None and not rules:
        return None

    def finish(value: Any, old: Any) -> bool:
        if enum is not None and value not in enum:
            return False
        for text, _message, transition in rules:
            if transition and old is missing:
                continue
            if not cel.evaluate(text, value, None if old is missing else old):
                return False
        return True

    return finish


def _object(node: Node, slow: SlowValid, missing: Any) -> ValidCheck:
    # Per key: (the exact type that needs no check, the child's check); see schema.Node.scalar.
    children = {key: (child.scalar, valid_check(child, slow, missing)) for key, child in node.props.items()}
    extra = (node.extra.scalar, valid_check(node.extra, slow, missing)) if node.extra is not None else None
    required = node.required
    finish = finish_check(node, missing)
    get = children.get

    def check(value: Any, old: Any) -> bool:
        if type(value) is not dict:
            return slow(value, node, old)
        for key in required:
            if key not in value:
                return False
        if not isinstance(old, dict) or not old:  # nothing to ratchet against (a create, a new subtree)
            for key, sub in value.items():
                child = get(key, extra)
                if child is not None and type(sub) is not child[0] and not child[1](sub, missing):
                    return False
        else:
            for key, sub in value.items():
                child = get(key, extra)
                if child is None or type(sub) is child[0]:
                    continue
                # Ratcheting (as schema._validate_object): an unchanged value is not validated again.
                before = old.get(key, missing)
                if before is sub or (before is not missing and before == sub):
                    continue
                if not child[1](sub, before):
                    return False
        return finish is None or finish(value, old)

    if node.extra is None and not node.props and not required and finish is None:
        return lambda value, old: type(value) is dict or slow(value, node, old)  # any object (e.g. metadata)
    return check


def _array(node: Node, slow: SlowValid, missing: Any) -> ValidCheck:
    low, high = node.min_items, node.max_items
    items = node.items
    scalar = items.scalar if items is not None else None
    item_check = valid_check(items, slow, missing) if items is not None else None
    finish = finish_check(node, missing)

    def check(value: Any, old: Any) -> bool:
        if type(value) is not list:
            return slow(value, node, old)
        if (high is not None and len(value) > high) or (low is not None and len(value) < low):
            return False
        if item_check is not None:
            # Items of a plain (atomic) list do not correlate with old items (as schema._validate_array).
            for item in value:
                if type(item) is not scalar and not item_check(item, missing):
                    return False
        return finish is None or finish(value, old)

    return check


def _string(node: Node, slow: SlowValid, missing: Any) -> ValidCheck:
    low, high, regex, date_time = node.min_length, node.max_length, node.regex, node.date_time
    finish = finish_check(node, missing)

    def check(value: Any, old: Any) -> bool:
        if type(value) is not str:
            return slow(value, node, old)
        if (high is not None and len(value) > high) or (low is not None and len(value) < low):
            return False
        if regex is not None and not regex.search(value):
            return False
        if date_time:
            try:
                dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return False
        return finish is None or finish(value, old)

    return check


def _number(node: Node, slow: SlowValid, missing: Any) -> ValidCheck:
    low, high = node.minimum, node.maximum
    above, below = node.exclusive_minimum, node.exclusive_maximum
    exact = (int,) if node.json_type == "integer" else (int, float)  # an integral float goes to the walk
    finish = finish_check(node, missing)

    def check(value: Any, old: Any) -> bool:
        if type(value) not in exact:
            return slow(value, node, old)
        if low is not None and (value < low or (above and value == low)):
            return False
        if high is not None and (value > high or (below and value == high)):
            return False
        return finish is None or finish(value, old)

    return check


def _boolean(node: Node, slow: SlowValid, missing: Any) -> ValidCheck:
    finish = finish_check(node, missing)

    def check(value: Any, old: Any) -> bool:
        if type(value) is not bool:
            return slow(value, node, old)
        return finish is None or finish(value, old)

    return check


_BUILDERS: dict[str, Callable[[Node, SlowValid, Any], ValidCheck]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "integer": _number,
    "number": _number,
    "boolean": _boolean,
}
