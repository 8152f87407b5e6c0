"""The typer application object; command modules register themselves on it.

Console I/O only. Each sub-module of kuadns_sync.cli owns the commands of one area.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="kuadns-sync",
    help="Self-hosted GeoDNS for Kuadrant DNSRecords: sync, render, diff, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
