"""JSON bytes of the emulator's objects: the compact UTF-8 text every response, list and watch event carries,
and deep copies of JSON values.

Pure, no I/O. `encode` uses orjson (optional; several times faster than the json module on a DNSRecord) and
the json module wherever orjson would write something else: non-string keys, integers beyond 64 bits, NaN
and infinities (orjson writes those as null). Floats keep their values; those below 1e-4 or from 1e16 on are
printed as orjson prints them (1e16, 0.00001), not as Python's repr (1e+16, 1e-05): both are the same JSON number.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # the json module alone gives the same values
    orjson = None  # type: ignore[assignment]

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


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
