"""bench.run's pieces against real programs: dnsperf output parsing (with -v latencies), the ECS
query file, and the workload name selection. Short bounded dnsperf runs on 127.0.0.1 only."""

from __future__ import annotations

import struct
from pathlib import Path

import dns.edns
import dns.message
import pytest
from peers.peer_helpers import Rendered, require

from bench.peers import Knot
from bench.run import (
    CLIENTS,
    geo_names,
    parse_dnsperf,
    percentile_from_verbose,
    run_dnsperf,
    static_names,
    write_ecs_queries,
    write_text_queries,
)

SAMPLE = """
Statistics:

  Queries sent:         1000
  Queries completed:    990 (99.00%)
  Queries lost:         10 (1.00%)

  Response codes:       NOERROR 980 (98.99%), NXDOMAIN 10 (1.01%)
  Average packet size:  request 35, response 51
  Run time (s):         1.000228
  Queries per second:   989.774

  Average Latency (s):  0.000492 (min 0.000023, max 0.003703)
  Latency StdDev (s):   0.000468
"""


def test_parse_dnsperf_statistics() -> None:
    result = parse_dnsperf(SAMPLE)
    assert (result.sent, result.completed, result.lost) == (1000, 990, 10)
    assert result.qps == pytest.approx(989.774)
    assert result.avg_ms == pytest.approx(0.492)
    assert result.max_ms == pytest.approx(3.703)
    assert result.noerror_pct == pytest.approx(98.99)
    with pytest.raises(ValueError, match="dnsperf output has no"):
        parse_dnsperf("no statistics here")


def test_p99_from_verbose_lines() -> None:
    lines = [f"> NOERROR a.example A 0.{i:06d}\n" for i in range(1, 101)]
    lines += ["> T a.example A 9.0\n", "> I a.example A\n", "junk\n"]
    assert percentile_from_verbose(lines) == pytest.approx(0.1)
    assert percentile_from_verbose(["> T x A\n"]) is None


def test_workload_names(generated_bundle: Rendered) -> None:
    statics = static_names(generated_bundle.zone)
    hosts = geo_names(generated_bundle.zone)
    assert hosts == [f"app{i:05d}.bench.example.com" for i in range(8)]
    assert "ns1.bench.example.com" in statics
    assert sum(".klb.app" in n for n in statics) == 24  # one gateway A per generated record


def test_ecs_query_file_has_one_subnet_per_query(tmp_path: Path) -> None:
    path = tmp_path / "q.bin"
    count = write_ecs_queries(path, ["a.example.com", "b.example.com"], seed=3)
    assert count == 2 * len(CLIENTS)
    data = path.read_bytes()
    seen = set()
    while data:
        (length,) = struct.unpack("!H", data[:2])
        message = dns.message.from_wire(data[2 : 2 + length])
        data = data[2 + length :]
        (option,) = message.options
        assert isinstance(option, dns.edns.ECSOption)
        seen.add((message.question[0].name.to_text(), f"{option.address}/{option.srclen}"))
    assert len(seen) == count
    assert {subnet for _, subnet in seen} == {subnet for _, subnet, _ in CLIENTS}


@pytest.mark.peer
def test_real_dnsperf_run_is_parsed(generated_bundle: Rendered, tmp_path: Path) -> None:
    require("dnsperf", "knotd")
    queries = tmp_path / "static.txt"
    write_text_queries(queries, static_names(generated_bundle.zone))
    with Knot(generated_bundle.zone.name, generated_bundle.variant_files()["default"]) as knot:
        result = run_dnsperf(
            knot.port, queries, seconds=1, binary=False, clients=2, outstanding=20, verbose=True,
            scratch=tmp_path,
        )
    assert result.completed > 100
    assert result.noerror_pct == pytest.approx(100.0)
    assert result.p99_ms is not None and 0 < result.p99_ms <= result.max_ms
    assert result.avg_ms <= result.max_ms
    assert result.lost == 0
