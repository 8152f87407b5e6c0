"""Command line: `kuadns-sync <command>`. Importing this package registers every command."""

from __future__ import annotations

from kuadns_sync.cli import dev as _dev  # noqa: F401
from kuadns_sync.cli import offline as _offline  # noqa: F401  render, diff, validate
from kuadns_sync.cli import serve as _serve  # noqa: F401
from kuadns_sync.cli import sync as _sync  # noqa: F401
from kuadns_sync.cli.app import app


def main() -> None:
    """Entry point of the `kuadns-sync` console script."""
    app()


__all__ = ["app", "main"]
