"""DNS name helpers: canonical form, validity checks, label-boundary ancestry.

Pure, no I/O. Canonical names are lower-case ASCII without a trailing dot (as DNSRecord and
external-dns write them); every check here works on that form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

MAX_NAME_LENGTH = 253  # presentation form without the trailing dot (255 octets on the wire, RFC 1035 §3.1)
MAX_LABEL_LENGTH = 63  # RFC 1035 §2.3.4
WILDCARD_LABEL = "*"

_HOST_LABEL = re.compile(r"[a-z0-9-]+")
_SERVICE_LABEL = re.compile(r"[a-z0-9_-]+")


def _valid_name_pattern(chars: str, wildcard: bool) -> re.Pattern[str]:
    """Whole names that pass every label check of `name_problem` (the length limit is checked apart)."""
    label = f"[{chars}](?:[{chars}-]{{0,61}}[{chars}])?"  # 1-63 characters, no hyphen at either end
    first = rf"(?:\*|{label})" if wildcard else label
    return re.compile(rf"{first}(?:\.{label})*")


# One match per name answers the common case (a valid name); only invalid names are taken apart
# label by label to say what is wrong. Keyed by (wildcard, underscore).
_VALID_NAME = {
    (wildcard, underscore): _valid_name_pattern("a-z0-9_" if underscore else "a-z0-9", wildcard)
    for wildcard in (False, True)
    for underscore in (False, True)
}


def canonical_name(name: str) -> str:
    """Lower-case a name and remove one trailing dot (nothing else: bad characters stay visible)."""
    lowered = name.lower()
    return lowered[:-1] if lowered.endswith(".") else lowered


def checked_name(name: str, *, wildcard: bool = False, underscore: bool = False) -> tuple[str, str | None]:
    """(canonical form, `name_problem` of it) of a name as written: the canonical name and check in one step."""
    canonical = plain_host_name(name)
    if canonical is not None:
        return canonical, None
    canonical = canonical_name(name)
    return canonical, name_problem(canonical, wildcard=wildcard, underscore=underscore)


@lru_cache(maxsize=1 << 16)
def plain_host_name(name: str) -> str | None:
    """The canonical form of `name` when it is a valid host name (no wildcard, no underscore), else None.

    A plain host name is valid under every option of `name_problem`, so one memo serves every caller:
    the same names come back as dnsNames, CNAME targets and root hosts, from every cluster, every pass.
    """
    canonical = canonical_name(name)
    if len(canonical) <= MAX_NAME_LENGTH and _VALID_NAME[False, False].fullmatch(canonical):
        return canonical
    return None


def strip_wildcard(name: str) -> str:
    """Remove a leading `*.` (root hosts of wildcard listeners)."""
    return name.removeprefix("*.")


def name_problem(name: str, *, wildcard: bool = False, underscore: bool = False) -> str | None:
    """Why a canonical name is not a valid DNS name, or None.

    `wildcard` allows `*` as the whole leftmost label (RFC 4592); `underscore` allows `_` in labels,
    as used by service owner names such as `_acme-challenge` and `_sip._tcp` (RFC 8552).
    """
    if len(name) <= MAX_NAME_LENGTH and _VALID_NAME[wildcard, underscore].fullmatch(name):
        return None
    return _explain_name(name, wildcard=wildcard, underscore=underscore)


def _explain_name(name: str, *, wildcard: bool, underscore: bool) -> str | None:
    """`name_problem` label by label: the first problem found, or None."""
    if not name:
        return "the name is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name is {len(name)} characters long (max {MAX_NAME_LENGTH})"
    labels = name.split(".")
    pattern = _SERVICE_LABEL if underscore else _HOST_LABEL
    allowed = "letters, digits, hyphen" + (", underscore" if underscore else "")
    for position, label in enumerate(labels):
        if not label:
            return "it has an empty label"
        if len(label) > MAX_LABEL_LENGTH:
            return f'label "{label}" is {len(label)} characters long (max {MAX_LABEL_LENGTH})'
        if label == WILDCARD_LABEL:
            if not wildcard:
                return '"*" (wildcard) is not allowed here'
            if position != 0:
                return '"*" is only allowed as the whole leftmost label'
            continue
        if "*" in label:
            return '"*" is only allowed as the whole leftmost label'
        if not pattern.fullmatch(label):
            bad = ", ".join(repr(ch) for ch in dict.fromkeys(label) if not pattern.fullmatch(ch))
            return f'label "{label}" contains {bad} (allowed: {allowed})'
        # RFC 952 / RFC 1123 §2.1: a host label neither starts nor ends with a hyphen.
        if label.startswith("-") or label.endswith("-"):
            return f'label "{label}" starts or ends with a hyphen'
    return None


def is_same_or_under(name: str, ancestor: str) -> bool:
    """True when `name` equals `ancestor` or lies below it (label boundary, not a string suffix)."""
    return name == ancestor or name.endswith("." + ancestor)


def is_under(name: str, ancestor: str) -> bool:
    """True when `name` lies strictly below `ancestor`."""
    return name.endswith("." + ancestor)


def ancestors(name: str) -> Iterator[str]:
    """Yield `name` and then each parent name, nearest first, ending with the top-level label."""
    current = name
    while current:
        yield current
        _, _, current = current.partition(".")


def most_specific_zone(name: str, zones: frozenset[str] | set[str]) -> str | None:
    """The longest zone in `zones` that equals `name` or is an ancestor of it, or None."""
    for candidate in ancestors(name):
        if candidate in zones:
            return candidate
    return None
