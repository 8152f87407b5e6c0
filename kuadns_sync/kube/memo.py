"""An exact fingerprint of what the merge reads from cluster snapshots: equal fingerprints, equal result.

Pure, no I/O. Our own writes (statuses, authoritative records) do not change it, so a pass after our
writes can reuse the previous merge result.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence

from kuadns_sync.kube import objects
from kuadns_sync.model import ClusterSnapshot, RawObject

_RecordKey = tuple[str, str, str, int | str, tuple[tuple[str, str], ...], bool]


def _record_key(raw: RawObject) -> _RecordKey:
    # What the merge reads from a record: identity, spec (metadata.generation moves with every spec
    # change, an API server contract; without it the spec itself), labels and whether it is going
    # away. Statuses we write ourselves change none of these.
    generation = objects.generation(raw)
    spec_key = generation if generation else json.dumps(objects.spec(raw), sort_keys=True)
    return (
        objects.uid(raw), objects.namespace(raw), objects.name(raw), spec_key,
        tuple(sorted(objects.labels(raw).items())), objects.is_deleting(raw),
    )


def fingerprint(snapshots: Sequence[ClusterSnapshot]) -> Hashable:
    """Everything the merge reads from `snapshots`, as a hashable value (equal inputs, equal result)."""
    # Authoritative records are our own output and never a merge input.
    return tuple(
        (
            s.name, s.local, s.stale_since, s.secrets,
            tuple(sorted(_record_key(r) for r in s.records if not objects.is_authoritative(r))),
        )
        for s in sorted(snapshots, key=lambda s: s.name)
    )
