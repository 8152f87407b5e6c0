"""Garbage-collector control for the big, immutable, cycle-free data this tool builds.

No I/O. The pipeline stages and the server's answer tables allocate hundreds of thousands of small
objects without reference cycles. CPython's cyclic collector rescans all of them on every full
collection: that costs more CPU than the work (render) and, in the server, stops the answer path for
hundreds of milliseconds while a new bundle compiles. Reference counting frees all of it regardless.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector for the duration of a pure, allocation-heavy stage (reentrant)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def settle() -> None:
    """Move everything alive now out of the collector's sight (after loading long-lived tables).

    Frozen objects are still freed by reference counting when dropped (e.g. the tables a reload
    replaces); only garbage cycles among them would stay, and this data has none.
    """
    gc.freeze()
