"""`python3 -m bench.run` end to end on a tiny input: our server and Knot, both workloads, and the
reload-under-load run (two renders while dnsperf runs; no query may be lost). Loopback only, bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
from peers.peer_helpers import require

from bench.run import main

pytestmark = [pytest.mark.peer, pytest.mark.slow]


def test_benchmark_runs_and_reload_loses_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("dnsperf", "knotd")
    out = tmp_path / "report.md"
    code = main(
        ["--records", "24", "--seconds", "1", "--servers", "kuadns-1,knot", "--reload-qps", "300",
         "--outstanding", "20", "--out", str(out)]
    )  # fmt: skip
    report = out.read_text()
    assert code == 0, report
    assert capsys.readouterr().out.strip() == report.strip()
    rows = [line for line in report.splitlines() if line.startswith("| kuadns-1 |") or line.startswith("| knot |")]
    assert [r.split("|")[1:3] for r in rows] == [
        [" kuadns-1 ", " static "],
        [" kuadns-1 ", " geo+weighted "],
        [" knot ", " static "],
    ]
    for row in rows:
        assert float(row.split("|")[3].replace(",", "")) > 0, report
    assert "PASS: two reloads, no query lost" in report
