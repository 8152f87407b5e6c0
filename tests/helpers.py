"""Test helpers shared by the test modules (import as `from helpers import ...`)."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "golden"


def compare_golden(expected: Path, actual: str, update: bool) -> None:
    """Assert `actual` equals the golden file (unified diff on mismatch); rewrite it with --update-golden."""
    if update:
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(actual, "utf-8")
        return
    if not expected.exists():
        pytest.fail(f"golden file {expected.relative_to(REPO)} is missing; run pytest --update-golden and review it")
    want = expected.read_text("utf-8")
    if want != actual:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=str(expected.relative_to(REPO)),
                tofile="actual",
            )
        )
        pytest.fail(f"output differs from golden file:\n{diff}")


def named_checkzone(zone: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Run BIND's named-checkzone on a zone file (the tool is installed by scripts/setup)."""
    tool = shutil.which("named-checkzone") or "/usr/bin/named-checkzone"
    return subprocess.run([tool, zone, str(path)], capture_output=True, text=True, check=False)
