"""The create check of `kuadns_sync.dev.schemacheck` as one generated Python function per schema: property
lookups, type tests and loops written out in straight-line code instead of a closure call per value.

Pure, no I/O (the source is compiled in memory). It answers exactly what `schemacheck.create_check` answers:
objects, arrays and plain scalars are written out; a node with constraints (lengths, patterns, bounds) or that
create_check does not walk (int-or-string, preserved fields) is handed to create_check's closure, and CEL
rules and enums to its `finish` check. A DNSRecord's create check costs about a third of the closures'.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kuadns_sync.dev import schemacheck

if TYPE_CHECKING:
    from kuadns_sync.dev.schema import Node

MAX_DEPTH = 12  # deeper nodes are checked by their closure
MAX_LINES = 4000  # a bigger schema keeps the rest in closures
_DEFAULTS: dict[type, Any] = {str: "", int: 0, bool: False}  # a value of each plain scalar type


class _Writer:
    """Source lines and the constants they name (types, key sets, closures)."""

    def __init__(self, slow: schemacheck.SlowValid, missing: Any) -> None:
        self.slow, self.missing = slow, missing
        self.lines: list[str] = []
        self.names: dict[str, Any] = {"M": missing}
        self._ids = itertools.count()

    def name(self, prefix: str, value: Any) -> str:
        key = f"{prefix}{next(self._ids)}"
        self.names[key] = value
        return key

    def add(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def node(self, node: Node, var: str, indent: int, depth: int) -> None:
        """Lines that `return False` unless `var` passes `node`'s create check (and fall through if it does)."""
        wanted = node.json_type
        inline = not (node.int_or_string or node.preserve_unknown) and depth <= MAX_DEPTH
        if inline and len(self.lines) < MAX_LINES and node.scalar is not None:
            self.add(indent, f"if type({var}) is not {self.name('t', node.scalar)}: return False")
        elif inline and len(self.lines) < MAX_LINES and wanted == "object":
            self._object(node, var, indent, depth)
        elif inline and len(self.lines) < MAX_LINES and wanted == "array":
            self._array(node, var, indent, depth)
        else:
            check = schemacheck.create_check(node, self.slow, self.missing)
            self.add(indent, f"if not {self.name('c', check)}({var}): return False")

    def _finish(self, node: Node, var: str, indent: int) -> None:
        finish = schemacheck.finish_check(node, self.missing)
        if finish is not None:
            self.add(indent, f"if not {self.name('f', finish)}({var}, M): return False")

    def _object(self, node: Node, var: str, indent: int, depth: int) -> None:
        self.add(indent, f"if type({var}) is not dict: return False")
        if node.extra is None and not node.extra_allowed:  # every other key is unknown (as create_check)
            self.add(indent, f"if not {var}.keys() <= {self.name('k', frozenset(node.props))}: return False")
        for key in node.required:
            self.add(indent, f"if {key!r} not in {var}: return False")
        sub = f"x{depth + 1}"
        for key, child in node.props.items():
            if child.scalar is not None and not (child.int_or_string or child.preserve_unknown):
                # A plain scalar: an absent key reads as a value of the right type (one test, no branch).
                default = _DEFAULTS[child.scalar]
                self.add(indent, f"if type({var}.get({key!r}, {default!r})) is not {self.name('t', child.scalar)}:")
                self.add(indent + 1, "return False")
                continue
            self.add(indent, f"{sub} = {var}.get({key!r}, M)")
            self.add(indent, f"if {sub} is not M:")
            self.node(child, sub, indent + 1, depth + 1)
        if node.extra is not None:
            if node.props:
                label = f"k{depth + 1}"
                self.add(indent, f"for {label}, {sub} in {var}.items():")
                self.add(indent + 1, f"if {label} in {self.name('p', frozenset(node.props))}: continue")
            else:
                self.add(indent, f"for {sub} in {var}.values():")
            self.node(node.extra, sub, indent + 1, depth + 1)
        self._finish(node, var, indent)

    def _array(self, node: Node, var: str, indent: int, depth: int) -> None:
        self.add(indent, f"if type({var}) is not list: return False")
        if node.max_items is not None:
            self.add(indent, f"if len({var}) > {node.max_items!r}: return False")
        if node.min_items:
            self.add(indent, f"if len({var}) < {node.min_items!r}: return False")
        if node.items is not None:
            sub = f"x{depth + 1}"
            self.add(indent, f"for {sub} in {var}:")
            self.node(node.items, sub, indent + 1, depth + 1)
        self._finish(node, var, indent)


def create_code(node: Node, slow: schemacheck.SlowValid, missing: Any) -> tuple[Callable[[Any], bool], str]:
    """The generated create check of `node` and its source (what `schemacheck.create_check` answers)."""
    writer = _Writer(slow, missing)
    writer.add(0, "def check(x0):")
    writer.node(node, "x0", 1, 0)
    writer.add(1, "return True")
    source = "\n".join(writer.lines) + "\n"
    namespace = dict(writer.names)
    exec(compile(source, "<kuadns_sync.dev.schemacode>", "exec"), namespace)  # noqa: S102 (our own source)
    check: Callable[[Any], bool] = namespace["check"]
    return check, source
