"""The offline source: a directory of Kubernetes YAML manifests standing for one or more clusters.

I/O (reads files). Layout: either `DIR/*.yaml` (one cluster, named by --local-cluster) or
`DIR/<cluster>/**/*.yaml` (one sub-directory per cluster). DNSRecord and Secret objects are read
(also inside `kind: List`); a file that cannot be parsed is reported with its path and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from kuadns_sync.errors import SourceError
from kuadns_sync.fastyaml import load_documents
from kuadns_sync.model import KIND, ClusterSnapshot, Issue, Origin, ProviderSecret, RawObject, Settings

YAML_SUFFIXES = (".yaml", ".yml", ".json")


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.suffix in YAML_SUFFIXES and p.name != "kuadns.yaml"
    )


def _objects(document: Any) -> Iterator[RawObject]:
    if not isinstance(document, dict):
        return
    if document.get("kind") == "List" or (document.get("kind", "").endswith("List") and "items" in document):
        for item in document.get("items") or []:
            yield from _objects(item)
    else:
        yield document


def read_cluster_dir(directory: Path, cluster: str, *, local: bool) -> tuple[ClusterSnapshot, list[Issue]]:
    """Read every manifest below `directory` as the content of cluster `cluster`."""
    from kuadns_sync.parse import parse_provider_secret

    records: list[RawObject] = []
    secrets: list[ProviderSecret] = []
    issues: list[Issue] = []
    first_seen: dict[tuple[str, str], Path] = {}  # (namespace, name) of each DNSRecord -> its file
    for path in _yaml_files(directory):
        rel = path.relative_to(directory)
        try:
            documents = load_documents(path.read_bytes(), str(path))
        except (OSError, yaml.YAMLError) as exc:
            issues.append(
                Issue(Origin(cluster, "-", str(rel)), "error", "SourceError", f"cannot read manifest: {exc}")
            )
            continue
        for document in documents:
            for obj in _objects(document):
                kind = obj.get("kind")
                if kind == KIND:
                    meta = obj.get("metadata")
                    meta = meta if isinstance(meta, dict) else {}
                    ident = (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))
                    first = first_seen.get(ident) if ident[1] else None
                    if ident[1] and first is None:
                        first_seen[ident] = rel
                    elif first is not None:
                        # A cluster holds one object per namespace and name: an API server would refuse
                        # the second create. Keep the first, say where the second is.
                        issues.append(Issue(
                            Origin(cluster, ident[0], ident[1]), "error", "DuplicateRecord",
                            f"DNSRecord {ident[0]}/{ident[1]} is defined again in {rel} (first in {first}); "
                            "this copy is ignored",
                        ))
                        continue
                    records.append(obj)
                elif kind == "Secret":
                    secret = parse_provider_secret(obj, cluster)
                    if secret is not None:
                        secrets.append(secret)
    return ClusterSnapshot(name=cluster, records=tuple(records), secrets=tuple(secrets), local=local), issues


def read_records_dir(directory: Path, settings: Settings) -> tuple[list[ClusterSnapshot], list[Issue]]:
    """Read a records directory: one cluster per sub-directory, or the directory itself as one cluster.

    The snapshot named `settings.local_cluster` is the local one; with a single cluster it is local
    whatever its name. Raises SourceError if the directory does not exist or holds no manifests.
    """
    if not directory.is_dir():
        raise SourceError(f"{directory}: records directory does not exist")
    subdirs = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    top_files = [p for p in directory.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES]
    top_files = [p for p in top_files if p.name != "kuadns.yaml"]
    if subdirs and not top_files:
        names = [p.name for p in subdirs]
        if len(names) > 1 and settings.local_cluster not in names:
            raise SourceError(
                f"{directory}: --local-cluster {settings.local_cluster!r} is not one of the cluster "
                f"directories {', '.join(names)}"
            )
        single = len(names) == 1
        snapshots, issues = [], []
        for sub in subdirs:
            snap, found = read_cluster_dir(sub, sub.name, local=single or sub.name == settings.local_cluster)
            snapshots.append(snap)
            issues += found
        return snapshots, issues
    if not top_files and not subdirs:
        raise SourceError(f"{directory}: no manifests found")
    snap, issues = read_cluster_dir(directory, settings.local_cluster, local=True)
    return [snap], issues
