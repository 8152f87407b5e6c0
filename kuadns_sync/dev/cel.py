"""The CEL `x-kubernetes-validations` rules of the DNSRecord CRD, implemented by hand (no CEL engine here).

Pure, no I/O. A rule is looked up by its exact text; `known_rule` lets the CRD loader refuse a manifest
whose rules this module does not implement, so the CRD file and the emulator cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Rule = Callable[[Any, Any], bool]
"""(self, oldSelf) -> holds. oldSelf is None on create; transition rules are skipped then (k8s semantics)."""


def _has(value: Any, key: str) -> bool:
    return isinstance(value, dict) and key in value


def _delegate_true(value: Any) -> bool:
    return _has(value, "delegate") and value["delegate"] is True


_RULES: dict[str, Rule] = {
    "self == oldSelf": lambda new, old: bool(new == old),
    "!has(oldSelf.ownerID) || has(self.ownerID)": lambda new, old: not _has(old, "ownerID") or _has(new, "ownerID"),
    "has(oldSelf.ownerID) || !has(self.ownerID)": lambda new, old: _has(old, "ownerID") or not _has(new, "ownerID"),
    "has(oldSelf.delegate) || !has(self.delegate) || self.delegate == false": (
        lambda new, old: _has(old, "delegate") or not _has(new, "delegate") or new["delegate"] is False
    ),
    "!has(oldSelf.delegate) || oldSelf.delegate == false || has(self.delegate)": (
        lambda new, old: not _has(old, "delegate") or old["delegate"] is False or _has(new, "delegate")
    ),
    "!(has(self.providerRef) && has(self.delegate) && self.delegate == true)": (
        lambda new, _old: not (_has(new, "providerRef") and _delegate_true(new))
    ),
    "self in [80, 443] || (self >= 1024 && self <= 49151)": (
        lambda new, _old: isinstance(new, int) and (new in (80, 443) or 1024 <= new <= 49151)
    ),
    "self in ['HTTP','HTTPS']": lambda new, _old: new in ("HTTP", "HTTPS"),
    "self > 0": lambda new, _old: isinstance(new, int | float) and not isinstance(new, bool) and new > 0,
}


def known_rule(rule: str) -> bool:
    """True when `rule` (exact text) is implemented here."""
    return rule in _RULES


def is_transition_rule(rule: str) -> bool:
    """Rules that mention oldSelf run only on updates where the old value exists."""
    return "oldSelf" in rule


def evaluate(rule: str, new: Any, old: Any) -> bool:
    """Evaluate `rule` for value `new` (and `old` on updates). Raises KeyError for an unknown rule."""
    return _RULES[rule](new, old)
