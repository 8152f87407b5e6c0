"""JSON on the wire: bodies to values, values to the compact UTF-8 text requests and answers carry, and deep
copies of JSON values. Used by the emulator (`kuadns_sync.dev`) and the sync loop's pipelined writes
(`kuadns_sync.kube.pipe`).

Pure, no I/O. orjson (optional) is several times faster than the json module on a DNSRecord; it is used where
its answer is the json module's. `decode` gives json.loads's value or error: orjson reads everything else the
same, and where it would not (NaN, infinities, lone surrogates, a byte order mark, other encodings) it fails
and json.loads answers; numbers with 19 digits or more in a row (orjson reads integers beyond 64 bits as
floats) go to json.loads at once. `encode` writes json.dumps's bytes except for floats below 1e-4 or from 1e16
on, printed as orjson prints them (1e16, 0.00001, not 1e+16, 1e-05: the same JSON numbers); non-string keys,
integers beyond 64 bits, NaN and infinities (orjson would write null) go to the json module.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # the json module alone gives the same values
    orjson = None  # type: ignore[assignment]

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# Every digit to b"0", everything else to b"x": a run of 19 b"0" marks a number orjson may read otherwise.
_DIGITS = bytes(48 if 48 <= byte <= 57 else 120 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def decode(raw: bytes) -> Any:
    """The JSON value of `raw` (what json.loads returns). Raises what json.loads raises (ValueError)."""
    if orjson is not None and _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # json.loads answers: an error, or a value orjson does not read (NaN, a lone surrogate, ...)
    return json.loads(raw)


def encode(obj: Any) -> bytes:
    """Compact JSON bytes of a JSON value (UTF-8, no ASCII escaping), as the wire carries it."""
    if orjson is not None:
        try:
            out = orjson.dumps(obj)
        except TypeError:  # orjson.JSONEncodeError too: a key or a number orjson does not write
            pass
        else:
            # null may stand for NaN or an infinity (the json module writes NaN, Infinity): only then
            # are both asked; a real null gives the same bytes either way.
            if b"null" not in out:
                return out
    return _JSON.encode(obj).encode()


def clone(value: Any) -> Any:
    """Deep copy of a JSON value (the C json codec is several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(value))
