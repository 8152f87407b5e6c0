"""DNS name helpers: canonical form, validity, label-boundary ancestry, zone choice."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuadns_sync.names import (
    _explain_name,
    ancestors,
    canonical_name,
    checked_name,
    is_same_or_under,
    is_under,
    most_specific_zone,
    name_problem,
    strip_wildcard,
)


def test_canonical_name_lowercases_and_drops_one_trailing_dot() -> None:
    assert canonical_name("API.K.Example.COM.") == "api.k.example.com"
    assert canonical_name(" a.com") == " a.com"  # bad characters stay visible for validation


@pytest.mark.parametrize(
    ("name", "kwargs", "problem"),
    [
        ("api.k.example.com", {}, None),
        ("xn--bcher-kva.example", {}, None),
        ("*.api.example.com", {"wildcard": True}, None),
        ("_acme-challenge.example.com", {"underscore": True}, None),
        ("", {}, "the name is empty"),
        ("a..b.com", {}, "it has an empty label"),
        (".a.com", {}, "it has an empty label"),
        ("a" * 64 + ".com", {}, f'label "{"a" * 64}" is 64 characters long (max 63)'),
        (("a" * 63 + ".") * 3 + "a" * 62, {}, "the name is 254 characters long (max 253)"),
        ("a b.com", {}, "label \"a b\" contains ' ' (allowed: letters, digits, hyphen)"),
        ("_acme.example.com", {}, "label \"_acme\" contains '_' (allowed: letters, digits, hyphen)"),
        ("*.api.example.com", {}, '"*" (wildcard) is not allowed here'),
        ("a.*.example.com", {"wildcard": True}, '"*" is only allowed as the whole leftmost label'),
        ("*a.example.com", {"wildcard": True}, '"*" is only allowed as the whole leftmost label'),
        ("-a.example.com", {}, 'label "-a" starts or ends with a hyphen'),
        ("a-.example.com", {}, 'label "a-" starts or ends with a hyphen'),
        ("bücher.example", {}, "label \"bücher\" contains 'ü' (allowed: letters, digits, hyphen)"),
    ],
)
def test_name_problem(name: str, kwargs: dict[str, bool], problem: str | None) -> None:
    assert name_problem(name, **kwargs) == problem


def test_label_of_63_and_name_of_253_are_fine() -> None:
    assert name_problem("a" * 63 + ".com") is None
    name = ("a" * 63 + ".") * 3 + "a" * 61
    assert len(name) == 253
    assert name_problem(name) is None


def test_ancestry_uses_label_boundaries_not_string_suffixes() -> None:
    assert is_same_or_under("api.example.com", "api.example.com")
    assert is_same_or_under("x.api.example.com", "api.example.com")
    assert not is_same_or_under("xapi.example.com", "api.example.com")
    assert is_under("x.api.example.com", "api.example.com")
    assert not is_under("api.example.com", "api.example.com")
    assert strip_wildcard("*.api.example.com") == "api.example.com"
    assert strip_wildcard("api.example.com") == "api.example.com"


def test_ancestors_and_most_specific_zone() -> None:
    assert list(ancestors("a.b.c")) == ["a.b.c", "b.c", "c"]
    zones = {"example.com", "k.example.com", "other.org"}
    assert most_specific_zone("api.k.example.com", zones) == "k.example.com"
    assert most_specific_zone("k.example.com", zones) == "k.example.com"
    assert most_specific_zone("api.example.com", zones) == "example.com"
    assert most_specific_zone("api.k.other.com", zones) is None
    assert most_specific_zone("xk.example.com", {"k.example.com"}) is None


# Labels and characters around every rule: length 63/64, hyphens at the ends, `*`, `_`, upper case, non-ASCII.
_LABELS = st.sampled_from(
    ["a", "0", "a-b", "-a", "a-", "-", "_", "_a", "a_", "*", "*a", "A", "ü", "", "a" * 63, "a" * 64]
)


@given(
    st.lists(_LABELS, min_size=1, max_size=6) | st.lists(st.text("ab-_*.\n ", max_size=8), min_size=1, max_size=3),
    st.booleans(),
    st.booleans(),
)
def test_whole_name_fast_path_agrees_with_the_label_by_label_checks(
    labels: list[str], wildcard: bool, underscore: bool
) -> None:
    name = ".".join(labels)
    assert name_problem(name, wildcard=wildcard, underscore=underscore) == _explain_name(
        name, wildcard=wildcard, underscore=underscore
    )


def test_fast_path_respects_the_length_limits() -> None:
    long_name = ("a" * 63 + ".") * 3 + "a" * 62
    assert name_problem(long_name) == "the name is 254 characters long (max 253)"
    assert name_problem("a" * 63 + "-b.com") == f'label "{"a" * 63}-b" is 65 characters long (max 63)'
    assert name_problem("*", wildcard=True) is None
    assert name_problem("*.*.a.com", wildcard=True) == '"*" is only allowed as the whole leftmost label'
    assert name_problem("_a_.b_.com", underscore=True) is None
    assert name_problem("a.com\n") == "label \"com\n\" contains '\\n' (allowed: letters, digits, hyphen)"


@given(
    st.lists(_LABELS, min_size=1, max_size=6) | st.lists(st.text("aB-_*.\n é", max_size=8), min_size=1, max_size=3),
    st.sampled_from(["", "."]),
    st.booleans(),
    st.booleans(),
)
def test_checked_name_is_canonical_name_then_name_problem(
    labels: list[str], end: str, wildcard: bool, underscore: bool
) -> None:
    name = ".".join(labels) + end
    expected = (canonical_name(name), name_problem(canonical_name(name), wildcard=wildcard, underscore=underscore))
    # Twice: the second answer may come from the memo of plain host names, and must not depend on the options.
    assert checked_name(name, wildcard=wildcard, underscore=underscore) == expected
    assert checked_name(name, wildcard=wildcard, underscore=underscore) == expected


def test_checked_name_memo_does_not_leak_between_options() -> None:
    assert checked_name("API.Example.com.") == ("api.example.com", None)
    assert checked_name("*.example.com", wildcard=True) == ("*.example.com", None)
    assert checked_name("*.example.com") == ("*.example.com", '"*" (wildcard) is not allowed here')
    assert checked_name("_a.example.com", underscore=True) == ("_a.example.com", None)
    assert checked_name("_a.example.com")[1] == "label \"_a\" contains '_' (allowed: letters, digits, hyphen)"
