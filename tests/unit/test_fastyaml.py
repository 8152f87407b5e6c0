"""fastyaml: the rapidyaml fast path returns exactly PyYAML's documents (types included) or PyYAML's error."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.gen_records import build_records
from kuadns_sync import fastyaml
from kuadns_sync.fastyaml import SafeLoader, load_documents, load_stream
from kuadns_sync.manifests import read_cluster_dir
from kuadns_sync.model import Origin

needs_ryml = pytest.mark.skipif(fastyaml.ryml is None, reason="rapidyaml is not installed")
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FASTYAML_EXAMPLES", "300"))


def pyyaml(data: bytes) -> list[Any]:
    """The reference: PyYAML's SafeLoader on the UTF-8 text."""
    return list(yaml.load_all(data.decode("utf-8"), Loader=SafeLoader))


def same(a: Any, b: Any) -> bool:
    """Equality that tells 1 / 1.0 / True apart, NaN equal to NaN, 0.0 from -0.0, and checks key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return bool(a == b)


def outcome(load: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "ok", load(data)
    except yaml.YAMLError as exc:
        return "error", f"{type(exc).__name__}: {exc}"


def assert_like_pyyaml(data: bytes) -> fastyaml.Loaded | None:
    """load_stream(data) gives PyYAML's documents or PyYAML's exact error; returns the Loaded, if any."""
    expected = outcome(pyyaml, data)
    got = outcome(lambda d: load_stream(d, "test.yaml"), data)
    loaded = got[1] if got[0] == "ok" else None
    actual = (got[0], loaded.documents) if loaded is not None else got
    assert expected[0] == actual[0], f"{data!r}: PyYAML {expected}, fastyaml {actual}"
    if expected[0] == "ok":
        assert same(expected[1], actual[1]), f"{data!r}: PyYAML {expected[1]!r}, fastyaml {actual[1]!r}"
    else:
        assert expected[1] == actual[1]
    return loaded


# --- generated YAML ---------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


# Scalars that are valid plain (PyYAML types many of them as bool, null, int, float, timestamp, merge).
PLAIN_WORDS = [
    *words("yes no on off y n Y N True TRUE true False FALSE false Yes NO On OFF"),
    *words("null Null NULL ~ nan NaN .nan .NaN .NAN inf .inf -.inf +.inf .Inf -.INF infinity -infinity Infinity"),
    *words("0 -0 +0 1 -1 +1 7 010 08 0o17 0x1F 0b101 1_000 1:30 190:20:30 -1:30 123456789012345678901234567890"),
    *words("1.5 -1.5 +1.5 .5 -.5 5. -5. 0.5 -0.5 1e3 1E3 1.0e3 1.0e+3 1.5e-3 -1.0E+3 .5e+3 1_0.5 00.5 0."),
    *words("2001-12-14 2001-12-14t21:59:43.10-05:00 2002-1-1 = << <<< -- ... :a ?a -a a:b a#b"),
    *words("a b x name value weight geo-code GEO-EU *.example.com 10.0.0.1 2001:db8::1 198.18.0.1 é 日本"),
    "2001-12-14 21:59:43.10",
    "1.0e+400",
    "-1.0e+400",
    "x\ny",  # multi-line: block() indents the continuation lines
    "a b\n\nc d",
    "x\n-y\n#z",
    "a b",
    "it's",
    'say "hi"',
    "x y z",
]
# Scalars that need quoting (or break the YAML when left plain).
OTHER_WORDS = [
    *words("- --- ? : # * ** & ! | > ' \" @x `x %x !x &x *x [a] {a} a,b a: #c"),
    "",
    " ",
    "a #b",
    "- a",
    "a: b",
    "x\ny",
    "x\n\ny",
    "trailing ",
    "\\",
    "\t",
    "a\tb",
]
# Plain scalars mostly from PLAIN_WORDS or a tame alphabet (so most streams are valid YAML), quoted ones
# from everything.
PLAIN_TEXT = st.one_of(
    st.sampled_from(PLAIN_WORDS),
    st.sampled_from(PLAIN_WORDS),
    st.text(alphabet="ab01.-+:_eé/*'\xa0😀", min_size=1, max_size=8).filter(lambda t: t[0] not in "*'"),
    st.sampled_from(OTHER_WORDS),
)
QUOTED_TEXT = st.one_of(
    st.sampled_from(PLAIN_WORDS + OTHER_WORDS), st.text(alphabet="ab01.-+:#*' \"\n_eé,[]{}&!|\xa0😀", max_size=8)
)


def single(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def double(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scalars(plain: st.SearchStrategy[str], quoted: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(plain, plain, plain, quoted.map(single), quoted.map(single), quoted.map(double))


leaves = scalars(PLAIN_TEXT, QUOTED_TEXT).map(lambda text: ("s", text))
KEY_WORDS = st.sampled_from(["a", "b", "c", "name", "value", "1", "true", "~", "<<", "x y", "é", "n", "No", "1.5"])
keys = scalars(st.one_of(KEY_WORDS, KEY_WORDS, PLAIN_TEXT), st.one_of(KEY_WORDS, QUOTED_TEXT, st.just("")))


def containers(children: Any) -> Any:
    return st.one_of(
        st.tuples(st.just("seq"), st.booleans(), st.lists(children, max_size=4)),
        st.tuples(st.just("map"), st.booleans(), st.lists(st.tuples(keys, children), max_size=4)),
    )


nodes = st.recursive(leaves, containers, max_leaves=12)
# Kubernetes-manifest-like documents: block style, valid plain words; the fast path's everyday input.
NAMES = st.builds(
    lambda first, rest: first + rest, st.sampled_from("abcxyz019"), st.text(alphabet="abkz09.-/", max_size=10)
)
MANIFEST_WORDS = [word for word in PLAIN_WORDS if word not in ("<<", "=", "*.example.com")]
# Mostly names and numbers (so a good share of streams takes the fast path), sometimes tricky words.
INTEGERS = st.integers(-(10**20), 10**20).map(str)
MANIFEST_TEXT = st.one_of(NAMES, NAMES, NAMES, NAMES, INTEGERS, st.sampled_from(MANIFEST_WORDS))
manifest_leaves = scalars(MANIFEST_TEXT, st.one_of(MANIFEST_TEXT, MANIFEST_TEXT, QUOTED_TEXT)).map(
    lambda text: ("s", text)
)
manifest_keys = scalars(
    st.one_of(KEY_WORDS, NAMES, NAMES), st.one_of(KEY_WORDS, NAMES, QUOTED_TEXT.filter(lambda t: "\n" not in t))
)
manifest_nodes = st.recursive(
    manifest_leaves,
    lambda children: st.one_of(
        st.tuples(st.just("seq"), st.just(False), st.lists(children, min_size=1, max_size=4)),
        st.tuples(st.just("map"), st.just(False), st.lists(st.tuples(manifest_keys, children), min_size=1, max_size=5)),
    ),
    max_leaves=16,
)


def flow(node: Any) -> str:
    if node[0] == "s":
        return str(node[1])
    if node[0] == "seq":
        return "[" + ", ".join(flow(item) for item in node[2]) + "]"
    return "{" + ", ".join(f"{key}: {flow(value)}" for key, value in node[2]) + "}"


def is_block(node: Any) -> bool:
    return node[0] != "s" and not node[1] and bool(node[2])


def block(node: Any, indent: int, step: int, comment: str) -> str:
    """`node` at column `indent` in block context (text ends with a newline)."""
    pad = " " * indent

    def inline(node: Any) -> str:  # a scalar's continuation lines indented under its key or item
        return flow(node).replace("\n", "\n" + pad + "  ") if node[0] == "s" else flow(node)

    if not is_block(node):
        return pad + inline(node) + comment + "\n"
    out = []
    if node[0] == "map":
        for key, value in node[2]:
            if is_block(value):
                inner = indent if value[0] == "seq" and step % 2 else indent + step  # indentless sequence
                out.append(f"{pad}{key}:{comment}\n" + block(value, inner, step, comment))
            else:
                out.append(f"{pad}{key}: {inline(value)}{comment}\n")
    else:
        for item in node[2]:
            if is_block(item):
                text = block(item, indent + 2, step, comment)
                out.append(pad + "- " + text[indent + 2 :])
            else:
                out.append(f"{pad}- {inline(item)}{comment}\n")
    return "".join(out)


@st.composite
def streams(draw: st.DrawFn, documents: st.SearchStrategy[Any] = nodes, wild: bool = True) -> bytes:
    """A YAML stream of 0-3 documents; if `wild`, with stray markers and sometimes a small random edit."""
    parts = []
    documents = draw(st.lists(documents, max_size=3))
    for n, node in enumerate(documents):
        # rarely a stray '...' first, or a second document without '---' (both invalid)
        starts = ["", "", "---\n", "---\n", "--- # c\n", "--- "] if n == 0 else ["---\n", "---\n", "--- # c\n", "--- "]
        start = draw(st.sampled_from([*starts * 3, "...\n" if n == 0 else ""] if wild else starts))
        if start == "--- " and is_block(node):
            start = "---\n"
        comment = draw(st.sampled_from(["", "", " # c", "  #c"]))
        parts.append(start + draw(st.sampled_from(["", "# head\n", "\n"])))
        parts.append(block(node, 0, draw(st.integers(1, 4)), comment))
        parts.append(draw(st.sampled_from(["", "", "", "", "\n", "...\n"] if wild else ["", "\n"])))
    text = "".join(parts)
    if wild and text and draw(st.integers(0, 5)) == 0:  # a small edit: the input may no longer be valid YAML
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(list(" :-#'\"[]{},\n?*&!|>%"))) + text[at:]
        else:
            text = text[:at] + text[at + 1 :]
    return text.encode("utf-8")


@needs_ryml
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_generated_streams_load_exactly_like_pyyaml(data: bytes) -> None:
    assert_like_pyyaml(data)


@needs_ryml
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(manifest_nodes, wild=False))
def test_generated_manifests_load_exactly_like_pyyaml(data: bytes) -> None:
    assert_like_pyyaml(data)


# --- specific cases ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        ("", True),
        ("# only a comment\n", True),
        ("a: 1\n---\nb: 2\n", True),
        ("---\n---\n", True),
        ("- a\n- b\n", True),
        ("{}", True),
        ("a: '120'\nb: 120\nc: '-7'\nd: 'true'\ne: null\nf:\n", True),
        ("value: '*'\nname: '*.example.com'\n", True),
        ("a: 1.5\nb: .5\nc: 5.\n", True),
        ("n: 123456789012345678901234567890\n", True),
        # The fast path cannot tell these from quoted ones (or rapidyaml reads them differently).
        ("a: yes\n", False),
        ("a: 'yes'\n", False),
        ("a: ~\n", False),
        ("a: ''\n", False),
        ("a: 010\n", False),
        ("a: 0x1F\n", False),
        ("a: 1_000\n", False),
        ("a: 1e3\n", False),
        ("a: -.5\n", False),
        ("a: -0.5\n", False),
        ("a: +1\n", False),
        ("a: .inf\n", False),
        ("a: nan\n", False),
        ("a: 2001-12-14\n", False),
        ("1: x\n", False),
        ("'true': x\n", False),
        ("a: &x 1\nb: *x\n", False),
        ("a: !!str 5\n", False),
        ("<<: {a: 1}\nb: 2\n", False),
        ('a: "\\x01"\n', False),
        ("%YAML 1.1\n---\na: 1\n", False),
        ("a: |\n  x\n", False),
        ("a:\tb\n", False),
        ("a: b\r\nc: d\r\n", False),
        ("\ufeffa: 1\n", False),
        ("a: 'b\u2028c'\n", False),
        ("a: 'b\x85c'\n", False),
        ("v: " + "x" * 1100 + "\n", False),
        ("a: 1\n...\n", False),
        ("a: [b,\n  c]\n", False),
        ("a: [b] # c\n", False),
        ("a : b\n", False),
        # PyYAML errors: the fast path must not accept them (rapidyaml does).
        ("...\na: 1\n", False),
        ("a: 1\n...\nb: 2\n", False),
        (": x\n", False),
        ("a: ]x\n", False),
        ("{a\nb: c}\n", False),
        ("[a:, b]\n", False),
        ("k" * 1100 + ": v\n", False),
    ],
)
def test_cases_match_pyyaml_and_take_the_expected_path(text: str, fast: bool) -> None:
    loaded = assert_like_pyyaml(text.encode("utf-8"))
    if loaded is None:  # PyYAML's error, so it came from PyYAML
        assert not fast
    elif fastyaml.ryml is not None:
        assert loaded.fast is fast, loaded.fallback_reason
        assert bool(loaded.fallback_reason) is not fast


@needs_ryml
def test_bench_manifests_take_the_fast_path() -> None:
    for objects in build_records(records=60, clusters=3, geos=8).values():
        data = yaml.dump_all(objects, Dumper=yaml.SafeDumper, sort_keys=False, default_flow_style=False).encode()
        loaded = assert_like_pyyaml(data)
        assert loaded is not None
        assert loaded.fast, loaded.fallback_reason
        assert len(loaded.documents) == 20


def test_repository_manifests_match_pyyaml() -> None:
    files = [*(REPO / "golden").rglob("*.yaml"), *(REPO / "kuadns_sync" / "examples").rglob("*.yaml")]
    assert files
    for path in files:
        assert_like_pyyaml(path.read_bytes())


def test_broken_yaml_raises_pyyaml_error_and_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    data = b"apiVersion: v1\nkind: DNSRecord\nmetadata:\n  name: x\n   namespace: y\n"
    with pytest.raises(yaml.YAMLError) as caught:
        load_documents(data, "broken.yaml")
    with pytest.raises(yaml.YAMLError) as reference:
        pyyaml(data)
    assert str(caught.value) == str(reference.value)
    assert 'in "<unicode string>", line 5, column' in str(caught.value)
    assert capfd.readouterr() == ("", "")


@needs_ryml
def test_rapidyaml_parse_error_is_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    # rapidyaml rejects this (its C++ handler prints a report on stderr); PyYAML then gives its own error.
    with pytest.raises(yaml.YAMLError, match="block sequence entries are not allowed"):
        load_documents(b"a: -\n", "broken.yaml")
    assert capfd.readouterr() == ("", "")


@needs_ryml
def test_other_stderr_output_during_a_fast_parse_is_kept(capfd: pytest.CaptureFixture[str]) -> None:
    with fastyaml._stderr_to_scratch():
        os.write(2, b"from another thread\n")
    assert capfd.readouterr().err == "from another thread\n"


def test_non_utf8_input_goes_to_pyyaml() -> None:
    with pytest.raises(yaml.reader.ReaderError, match="position 3"):
        load_documents(b"a: \xff\n", "latin1.yaml")
    utf16 = "a: é\n".encode("utf-16")
    assert load_documents(utf16, "utf16.yaml") == [{"a": "é"}]


def test_without_rapidyaml_everything_goes_to_pyyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastyaml, "ryml", None)
    loaded = load_stream(b"a: 1\n", "x.yaml")
    assert loaded == fastyaml.Loaded([{"a": 1}], fast=False, fallback_reason="rapidyaml is not installed")


def test_manifest_directory_reports_unreadable_files_and_reads_the_rest(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    objects = build_records(records=4, clusters=1)["cluster-1"]
    (tmp_path / "good.yaml").write_text(yaml.dump_all(objects, Dumper=yaml.SafeDumper, sort_keys=False))
    (tmp_path / "broken.yaml").write_bytes(b"kind: DNSRecord\nspec: [a\n")
    (tmp_path / "latin1.yaml").write_bytes(b"kind: DNSRecord\nmetadata: {name: caf\xe9}\n")
    snapshot, issues = read_cluster_dir(tmp_path, "east", local=True)
    assert [record["metadata"]["name"] for record in snapshot.records] == [o["metadata"]["name"] for o in objects]
    assert [(issue.origin, issue.reason) for issue in issues] == [
        (Origin("east", "-", "broken.yaml"), "SourceError"),
        (Origin("east", "-", "latin1.yaml"), "SourceError"),
    ]
    assert all(issue.message.startswith("cannot read manifest: ") for issue in issues)
    assert "line 3, column 1" in issues[0].message
    assert 'in "<byte string>", position' in issues[1].message  # PyYAML names the offending byte offset
    assert capfd.readouterr() == ("", "")
