"""Label and field selectors as kube-apiserver parses and matches them (`?labelSelector=`, `?fieldSelector=`).

Pure, no I/O. Grammar: comma-separated requirements `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
`k notin (a,b)`, `k>N`, `k<N`; field selectors accept `=`, `==` and `!=` on a per-resource set of fields.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class SelectorError(ValueError):
    """A selector string that does not parse; the message is what the API server answers (400)."""


@functools.lru_cache(maxsize=4096)  # (objects carry the same few keys and values over and over)
def label_key_error(key: str) -> str | None:
    """Why `key` is not a valid label/annotation key (qualified name), or None."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return "prefix part must be non-empty"
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return (
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
        )
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


@functools.lru_cache(maxsize=4096)
def label_value_error(value: str) -> str | None:
    """Why `value` is not a valid label value, or None."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if value and not _NAME.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement: `op` is one of exists, !exists, =, !=, in, notin, gt, lt."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when `labels` satisfies this requirement."""
        present = self.key in labels
        value = labels.get(self.key, "")
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when every requirement holds for `labels`."""
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


_TOKEN = re.compile(r"\s*(==|!=|=|!|\(|\)|,|>|<|[^\s,()=!<>]+)")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the token class covers every character
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def _check_key(key: str) -> None:
    why = label_key_error(key)
    if why:
        raise SelectorError(f'unable to parse requirement: key: Invalid value: "{key}": {why}')


def _check_value(value: str) -> None:
    why = label_value_error(value)
    if why:
        raise SelectorError(f'unable to parse requirement: values[0]: Invalid value: "{value}": {why}')


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a `labelSelector` query value. Raises SelectorError."""
    if not text or not text.strip():
        return LabelSelector()
    tokens = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            raise SelectorError(f"unable to parse requirement: unexpected end of selector {text!r}")
        tok = tokens[i]
        i += 1
        return tok

    while i < len(tokens):
        tok = take()
        if tok == "!":
            key = take()
            _check_key(key)
            reqs.append(Requirement(key, "!exists"))
        elif tok in ("=", "==", "!=", "(", ")", ",", ">", "<"):
            raise SelectorError(f"unable to parse requirement: found '{tok}', expected: identifier")
        else:
            key = tok
            _check_key(key)
            if i >= len(tokens) or tokens[i] == ",":
                reqs.append(Requirement(key, "exists"))
            else:
                op = take()
                if op in ("=", "=="):
                    value = "" if i >= len(tokens) or tokens[i] == "," else take()
                    _check_value(value)
                    reqs.append(Requirement(key, "=", (value,)))
                elif op == "!=":
                    value = "" if i >= len(tokens) or tokens[i] == "," else take()
                    _check_value(value)
                    reqs.append(Requirement(key, "!=", (value,)))
                elif op in (">", "<"):
                    value = take()
                    if not re.fullmatch(r"-?\d+", value):
                        raise SelectorError(
                            "unable to parse requirement: for 'Gt', 'Lt' operators, "
                            f"the value must be an integer: {value!r}"
                        )
                    reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
                elif op in ("in", "notin"):
                    if take() != "(":
                        raise SelectorError(f"unable to parse requirement: found '{tokens[i - 1]}', expected: '('")
                    values: list[str] = []
                    while True:
                        item = take()
                        if item == ")":
                            break
                        if item == ",":
                            continue
                        _check_value(item)
                        values.append(item)
                    if not values:
                        raise SelectorError(
                            "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty"
                        )
                    reqs.append(Requirement(key, op, tuple(sorted(set(values)))))
                else:
                    raise SelectorError(
                        f"unable to parse requirement: found '{op}', expected: in, notin, =, ==, !=, gt, lt"
                    )
        if i < len(tokens):
            sep = take()
            if sep != ",":
                raise SelectorError(f"unable to parse requirement: found '{sep}', expected: ','")
            if i >= len(tokens):
                raise SelectorError("unable to parse requirement: found '', expected: identifier")
    return LabelSelector(tuple(reqs))


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One field requirement: `field` (op) `value`, op being `=` or `!=`."""

    field: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of field requirements evaluated through a per-resource field getter."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any], get: Callable[[Mapping[str, Any], str], str]) -> bool:
        """True when every requirement holds for `obj`."""
        for r in self.requirements:
            actual = get(obj, r.field)
            if (actual == r.value) != (r.op == "="):
                return False
        return True


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, escaped = [], [], False
    for ch in text:
        if escaped:
            cur.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str | None, allowed: Iterable[str]) -> FieldSelector:
    """Parse a `fieldSelector` query value against the fields the resource supports. Raises SelectorError."""
    if not text or not text.strip():
        return FieldSelector()
    allowed_set = set(allowed)
    reqs: list[FieldRequirement] = []
    for part in _split_unescaped(text, ","):
        part = part.strip()
        m = re.fullmatch(r"((?:[^=!\\]|\\.)+?)\s*(==|!=|=)\s*(.*)", part)
        if m is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        key, op, value = m.group(1).strip(), m.group(2), _unescape(m.group(3))
        if key not in allowed_set:
            raise SelectorError(f"field label not supported: {key}")
        reqs.append(FieldRequirement(key, "!=" if op == "!=" else "=", value))
    return FieldSelector(tuple(reqs))


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string value at dotted `path` of `obj` ('' when absent), as field selectors compare it."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)
