"""The typer application object; command modules register themselves on it.

Console I/O only. Each sub-module of kuadns_sync.cli owns the commands of one area.
"""

from __future__ import annotations

from collections.abc import Iterable

import typer

from kuadns_sync.model import Issue

app = typer.Typer(
    name="kuadns-sync",
    help="Self-hosted GeoDNS for Kuadrant DNSRecords: sync, render, diff, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr and return the exit (code 1) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def print_issues(issues: Iterable[Issue]) -> None:
    """Every issue once on stderr, sorted."""
    for issue in sorted(set(issues)):
        typer.echo(str(issue), err=True)
