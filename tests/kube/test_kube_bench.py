"""The sync benchmark runs end to end on a tiny input, and its no-change passes write nothing (no timing here)."""

from __future__ import annotations

from bench.sync_bench import run


def test_sync_bench_small_run_writes_everything_once_then_nothing() -> None:
    result = run(30, 3, in_process=True)
    full = result["full_sync"]
    assert (full["records"], full["authoritative"], full["created"]) == (30, 10, 10)
    # 30 source statuses (10 local, 20 remote sub-statuses) + 10 authoritative statuses + 10 creates
    assert sum(full["emulator_writes"].values()) == 50
    for key in ("no_change_resync", "no_change_watch_fed"):
        assert sum(result[key]["emulator_writes"].values()) == 0, key
        assert result[key]["write_errors"] == 0
