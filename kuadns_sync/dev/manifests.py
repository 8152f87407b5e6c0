"""YAML decoding the way Kubernetes tooling does it: YAML 1.1 scalars, except that unquoted timestamps stay
strings (sigs.k8s.io/yaml decodes them into strings, PyYAML would make datetime objects).

Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str | bytes) -> Any:
    """One YAML (or JSON) document. Raises yaml.YAMLError."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def load_all(text: str | bytes) -> Iterator[Any]:
    """Every document of a multi-document YAML stream. Raises yaml.YAMLError."""
    return yaml.load_all(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
