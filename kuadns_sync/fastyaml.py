"""Fast, exact YAML stream loading: what PyYAML's SafeLoader returns, through rapidyaml where provably the same.

Pure except for one edge: while rapidyaml (optional `ryml` wheel) parses, file descriptor 2 points at a
scratch file, because its C++ error handler writes to stderr. Anything the fast path cannot vouch for
(anchors, tags, escapes, ambiguous scalars, ...) is loaded by PyYAML instead, so results never differ.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml

try:
    import ryml  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # the wheel is optional: without it every input takes the PyYAML path
    ryml = None

log = logging.getLogger(__name__)

# libyaml's C parser when present (about 10x faster than the pure-Python one), else the pure-Python one.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# One loader instance answers "what would PyYAML make of this plain scalar?" with PyYAML's own
# resolver table and constructors, so the fast path is exact by construction.
_PYYAML = SafeLoader("")
_resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = _PYYAML.resolve  # untyped in the stubs
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True, slots=True)
class Loaded:
    """The documents of one YAML stream, and which parser produced them."""

    documents: list[Any]
    fast: bool
    """True when rapidyaml's result was used, False when PyYAML loaded the stream."""
    fallback_reason: str = ""
    """Why PyYAML was used ('' on the fast path)."""


class _Fallback(Exception):
    """The fast path cannot prove its result equal to PyYAML's; load with PyYAML."""


def load_documents(data: bytes, origin: str) -> list[Any]:
    """Every document of the YAML stream `data`, exactly as `yaml.load_all(text, SafeLoader)` returns them."""
    return load_stream(data, origin).documents


def load_stream(data: bytes, origin: str) -> Loaded:
    """Load `data` like PyYAML's SafeLoader (raising its yaml.YAMLError on bad input), fast when provable.

    UTF-8 input means `yaml.load_all(data.decode("utf-8"))`; other bytes go to PyYAML as bytes, which
    reads UTF-16 with a BOM and reports anything else as a yaml.reader.ReaderError naming the offset.
    `origin` only names the input in debug logs.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _pyyaml(data, origin, "not UTF-8")
    if ryml is None:
        return _pyyaml(text, origin, "rapidyaml is not installed")
    reason = _unsupported_syntax(data, text)
    if not reason:
        try:
            return Loaded(_fast_load(data), fast=True)
        except _Fallback as exc:
            reason = str(exc)
    return _pyyaml(text, origin, reason)


def _pyyaml(source: str | bytes, origin: str, reason: str) -> Loaded:
    log.debug("%s: loading with PyYAML: %s", origin, reason)
    return Loaded(list(yaml.load_all(source, Loader=SafeLoader)), fast=False, fallback_reason=reason)


# --- pre-filter on the raw bytes -------------------------------------------------------------------------

# Characters that start a token with a meaning the fast path does not take: anchor, alias, tag,
# directive, block scalar, explicit key, reserved indicators.
_INDICATORS = b"&*!%@`|>?"
# Flow closers: rapidyaml accepts them at the start of a plain scalar (`a: ]x`), PyYAML rightly raises.
_CLOSERS = b"]}"
# Bytes that need no look: printable ASCII except those above, '#', '\\', '[', '{', and every byte
# >= 0x80 (non-ASCII text is checked on the decoded string instead).
_PLAIN_BYTES = bytes(
    b for b in [0x0A, *range(0x20, 0x7F), *range(0x80, 0x100)] if b not in _INDICATORS + _CLOSERS + b"#\\[{"
)
# Byte classes for the token-start checks.
_BLANK, _FLOW, _COLON, _INDICATOR, _CLOSER, _HASH = 1, 2, 3, 4, 5, 6
_CLASSES = bytes.maketrans(
    b"\n [{,:#" + _INDICATORS + _CLOSERS,
    bytes([_BLANK, _BLANK, _FLOW, _FLOW, _FLOW, _COLON, _HASH])
    + bytes([_INDICATOR]) * len(_INDICATORS)
    + bytes([_CLOSER]) * len(_CLOSERS),
)
# Non-ASCII characters PyYAML rejects as non-printable (its Reader.NON_PRINTABLE), or reads as line
# breaks (YAML 1.1: NEL, LS, PS) or a byte-order mark, where rapidyaml follows YAML 1.2.
_NON_ASCII_HAZARDS = re.compile("[\x80-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
# PyYAML drops a "simple key" that runs for more than 1024 characters; rapidyaml has no such limit.
_LONGEST_LINE = 1000


def _unsupported_syntax(data: bytes, text: str) -> str:
    """Why the fast path must not take this input ('' when it may): a lexical, conservative check."""
    special = set(data.translate(None, _PLAIN_BYTES))
    if any(b < 0x20 or b == 0x7F for b in special):
        return "tab, carriage return or control character"
    if ord("\\") in special:
        return "backslash (escape sequences)"
    classes = data.translate(_CLASSES)
    flow = ord("[") in special or ord("{") in special
    if (
        # ':' starting a token: an empty key (`: x`) is a mapping for rapidyaml, an error for PyYAML
        _follows(classes, _COLON, (_BLANK, _FLOW) if flow else (_BLANK,))
        # an anchor, alias, tag, directive, block scalar, explicit key, reserved indicator
        or (not special.isdisjoint(_INDICATORS) and _follows(classes, _INDICATOR, (_BLANK, _FLOW, _COLON)))
        # a closer starting a plain scalar (`- ]`); also `[a, ]` (conservative)
        or (not special.isdisjoint(_CLOSERS) and _follows(classes, _CLOSER, (_BLANK, _COLON)))
        # ':' right before flow punctuation: libyaml raises "found unexpected ':'" (`[a:, b]`), PyYAML reads a key
        or (flow and _precedes(classes, _COLON, (_FLOW, _CLOSER)))
        # '#' right after flow punctuation or ':' (a comment needs a blank before it)
        or (ord("#") in special and _follows(classes, _HASH, (_FLOW, _COLON), at_start=False))
    ):
        return "a token starting with an indicator (anchor, alias, tag, block scalar, ...) or ':'"
    if data.startswith(b"...") or b"\n..." in data:
        # rapidyaml ignores a stray document end marker (`...` first, or content after one without
        # `---`); libyaml raises. Rare in manifests.
        return "a document end marker '...'"
    if not data.isascii() and _NON_ASCII_HAZARDS.search(text):
        return "non-printable character, byte-order mark or Unicode line break"
    if len(data) > _LONGEST_LINE and max(map(len, data.split(b"\n"))) > _LONGEST_LINE:
        return f"a line longer than {_LONGEST_LINE} bytes"
    return ""


def _follows(classes: bytes, target: int, before: tuple[int, ...], *, at_start: bool = True) -> bool:
    """Whether a byte of class `target` comes right after one of a class in `before` (or first)."""
    if at_start and classes[:1] == bytes([target]):
        return True
    mark = bytes([target])
    if classes.count(mark) > 1000:  # many: a substring search per pair beats a Python loop
        return any(bytes([b, target]) in classes for b in before)
    at = classes.find(mark, 1)
    while at != -1:
        if classes[at - 1] in before:
            return True
        at = classes.find(mark, at + 1)
    return False


def _precedes(classes: bytes, target: int, after: tuple[int, ...]) -> bool:
    """Whether a byte of class `target` comes right before one of a class in `after`."""
    return any(bytes([target, b]) in classes for b in after)


# --- rapidyaml -> JSON -> Python ----------------------------------------------------------------------------


def _fast_load(data: bytes) -> list[Any]:
    assert ryml is not None
    try:
        with _stderr_to_scratch():
            tree = ryml.parse_in_arena(data)
            root = tree.root_id()
            # An empty or comment-only stream has a root of no type, which PyYAML loads as no documents.
            emitted = None if tree.type(root) == ryml.NOTYPE else _emit_json(tree, root, len(data))
    except Exception as exc:  # ryml.ExceptionParse and friends: PyYAML gives the error (or a result)
        raise _Fallback(f"rapidyaml: {type(exc).__name__}") from None
    if emitted is None:
        return []
    if b"[" in data or b"{" in data:
        if _has_multiline_flow(tree):
            raise _Fallback("a flow collection over several lines")
        if b" #" in data:  # rapidyaml reads `{a #b: c}` as key 'a #b'; for PyYAML ' #' starts a comment
            raise _Fallback("a comment in a file with flow collections")
    _check_strings(emitted)
    try:
        value = json.loads(emitted, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except ValueError as exc:  # JSONDecodeError: rapidyaml wrote a token that is not JSON (e.g. `+1`)
        raise _Fallback(f"rapidyaml's JSON: {exc}") from None
    # A stream of several documents (or one after '---') is emitted as a JSON array of documents.
    return list(value) if tree.is_stream(root) else [value]


def _has_multiline_flow(tree: Any) -> bool:
    """Whether rapidyaml saw a [...] or {...} spanning lines: it then accepts keys that span lines too
    (`{a\nb: c}`), which PyYAML rejects (YAML: an implicit key is restricted to a single line)."""
    return any(tree.is_flow_ml(node) for node in range(tree.size()))


def _emit_json(tree: Any, node: int, size_hint: int) -> bytes:
    # One pass into a buffer that is usually big enough (emit_json_malloc measures first, then writes).
    buf = bytearray(2 * size_hint + 64)
    failed, size = ryml.emit_json_to_substr(tree, node, buf)
    if failed:
        buf = bytearray(size)
        failed, size = ryml.emit_json_to_substr(tree, node, buf)
    return bytes(memoryview(buf)[:size])


# rapidyaml writes a scalar as a bare JSON token only if it was plain and looks like a number, true,
# false or null (rapidyaml emit.def.hpp `_json_writev`, node_type.cpp `scalar_style_choose_json`); a
# quoted scalar is always a JSON string. So a JSON *string* spelled like one of these must have been
# quoted in the YAML, which PyYAML also reads as a str. The set is a subset of rapidyaml's, by design.
_BARE_IF_PLAIN = re.compile(r"-?(?:0|[1-9][0-9]*)|true|false|null")
# The pre-filter sent every input with an indicator at the start of a token to PyYAML, so a scalar
# starting with one was quoted (PyYAML resolves a plain '*', '&' or '!' to its `yaml` tag).
_QUOTED_IF_FIRST = frozenset(_INDICATORS.decode())


def _resolver_union() -> re.Pattern[bytes]:
    """A JSON string that PyYAML's implicit resolvers might type (and the ': ' after it, for a key).

    Built from PyYAML's own table the way Resolver.resolve reads it: each pattern applies to values whose
    first character it is registered for ('' for the empty value). None of the patterns matches '"' or
    '\\', so a match cannot run past the end of the JSON string it started in.
    """
    first_chars: dict[str, set[str]] = {}
    for first, resolvers in SafeLoader.yaml_implicit_resolvers.items():
        for _tag, regexp in resolvers:
            source = regexp.pattern
            assert source.startswith("^") and source.endswith("$"), source
            first_chars.setdefault(source[1:-1], set()).add(first or "")
    branches = []
    for source, chars in first_chars.items():
        gate = "".join(re.escape(c) for c in sorted(chars) if c)
        gates = ([f"[{gate}]"] if gate else []) + (['"'] if "" in chars else [])
        branches.append(f"(?=(?:{'|'.join(gates)}))(?:{source})")
    every_first = "".join(re.escape(c) for chars in first_chars.values() for c in sorted(chars) if c)
    # re.X as PyYAML compiles them (resolver.py).
    pattern = f'"(?=[{every_first}"])(' + "|".join(branches) + ')"(: )?'
    return re.compile(pattern.encode(), re.X)


_SUSPECT = _resolver_union()
_string_verdicts: dict[tuple[bytes, bool], bool] = {}


def _check_strings(emitted: bytes) -> None:
    """Fall back if a JSON string might have been a plain scalar that PyYAML types as non-str.

    Only strings matching some resolver pattern are looked at; each distinct one is resolved by PyYAML.
    A key is always a JSON string (quoted or not in the YAML), so any non-str key means fallback.
    """
    for match in _SUSPECT.finditer(emitted):
        content, colon = match.group(1, 2)
        key = (content, colon is not None)
        verdict = _string_verdicts.get(key)
        if verdict is None:
            verdict = _string_is_exact(content.decode(), is_key=colon is not None)
            if len(_string_verdicts) < 100_000:
                _string_verdicts[key] = verdict
        if not verdict:
            raise _Fallback(f"scalar {content.decode()!r} may be plain, which PyYAML would not read as a string")


def _string_is_exact(value: str, *, is_key: bool) -> bool:
    if _resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG:
        return True
    if value[:1] in _QUOTED_IF_FIRST:
        return True
    return not is_key and _BARE_IF_PLAIN.fullmatch(value) is not None


_number_values: dict[str, Any] = {}


def _pyyaml_number(token: str, python_type: type) -> Any:
    """PyYAML's value for the plain scalar `token`, if PyYAML reads it as `python_type`, else fallback."""
    try:
        return _number_values[token]
    except KeyError:
        pass
    tag = _resolve(yaml.ScalarNode, token, (True, False))
    value = _PYYAML.yaml_constructors[tag](_PYYAML, yaml.ScalarNode(tag, token)) if tag != _STR_TAG else token
    if type(value) is not python_type:
        raise _Fallback(f"number {token!r} is a {type(value).__name__} for PyYAML")
    if len(_number_values) < 100_000:
        _number_values[token] = value
    return value


def _int(token: str) -> Any:
    return _pyyaml_number(token, int)


def _float(token: str) -> Any:
    # rapidyaml rewrites '-.5' as '-0.5' (emit.def.hpp `_json_write_number`); PyYAML reads '-.5' as a str.
    if token.startswith("-0."):
        raise _Fallback(f"number {token!r} may have been written '-.{token[3:]}'")
    # '.5' -> '0.5' and '5.' -> '5.0' are rewritten too, but PyYAML gives both spellings the same float.
    return _pyyaml_number(token, float)


def _constant(token: str) -> Any:
    raise _Fallback(f"JSON constant {token}")


# --- stderr --------------------------------------------------------------------------------------------------

_stderr_lock = threading.Lock()
_scratch: list[int] = []


@contextmanager
def _stderr_to_scratch() -> Iterator[None]:
    """Point fd 2 at a scratch file while rapidyaml runs. If the block succeeds, copy what was written
    (other threads' output) to the real stderr; if it raises, drop it: rapidyaml's error report."""
    with _stderr_lock:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to protect
            yield
            return
        try:
            if not _scratch:  # one anonymous file, reused for the life of the process
                _scratch.append(_anonymous_file())
            scratch = _scratch[0]
            os.ftruncate(scratch, 0)
            os.lseek(scratch, 0, os.SEEK_SET)
            os.dup2(scratch, 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
            if os.fstat(scratch).st_size:
                os.lseek(scratch, 0, os.SEEK_SET)
                _copy(scratch, saved)
        finally:
            os.close(saved)


def _anonymous_file() -> int:
    # memfd needs no writable directory (read-only root file systems in containers); elsewhere /tmp.
    if hasattr(os, "memfd_create"):
        return os.memfd_create("kuadns-fastyaml", os.MFD_CLOEXEC)
    fd, path = tempfile.mkstemp(prefix="kuadns-fastyaml-")
    os.unlink(path)
    return fd


def _copy(source: int, target: int) -> None:
    while chunk := os.read(source, 65536):
        os.write(target, chunk)
