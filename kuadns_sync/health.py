"""Health and metrics over HTTP: /healthz, /readyz (200 once a bundle is loaded), /metrics (Prometheus text).

I/O at the edge (an asyncio TCP server); `Stats` and `render_metrics` are pure. The counters come from
one server process or, with --workers, the sum over the workers' reports.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kuadns_sync.errors import ConfigError

Address = tuple[str, int]


# --- statistics --------------------------------------------------------------------------------


@dataclass(slots=True)
class Stats:
    """Counters of one process (or the sum over workers), rendered as Prometheus text."""

    ready: bool = False
    rcodes: dict[str, int] = field(default_factory=dict)
    variants: dict[str, int] = field(default_factory=dict)  # "zone\tvariant" -> count
    reloads: dict[str, int] = field(default_factory=lambda: {"ok": 0, "rejected": 0})
    geoip_reloads: dict[str, int] = field(default_factory=lambda: {"ok": 0, "rejected": 0})
    serials: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    workers: int = 1

    def to_json(self) -> str:
        """One line of JSON (worker -> supervisor)."""
        return json.dumps(
            {
                "ready": self.ready,
                "rcodes": self.rcodes,
                "variants": self.variants,
                "reloads": self.reloads,
                "geoip_reloads": self.geoip_reloads,
                "serials": self.serials,
                "dropped": self.dropped,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Stats:
        """Parse `to_json` output."""
        raw = json.loads(text)
        return cls(
            ready=bool(raw["ready"]),
            rcodes=dict(raw["rcodes"]),
            variants=dict(raw["variants"]),
            reloads=dict(raw["reloads"]),
            geoip_reloads=dict(raw["geoip_reloads"]),
            serials=dict(raw["serials"]),
            dropped=int(raw["dropped"]),
        )


def merge_stats(parts: Sequence[Stats], expected: int) -> Stats:
    """Sum the counters of several workers; ready when all `expected` workers are."""
    total = Stats(ready=len(parts) == expected and all(p.ready for p in parts), workers=expected)
    for part in parts:
        for name in ("rcodes", "variants", "reloads", "geoip_reloads"):
            target: dict[str, int] = getattr(total, name)
            for key, value in getattr(part, name).items():
                target[key] = target.get(key, 0) + value
        for zone, serial in part.serials.items():
            total.serials[zone] = max(serial, total.serials.get(zone, 0))
        total.dropped += part.dropped
    return total


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(stats: Stats) -> str:
    """Prometheus text exposition (format 0.0.4)."""
    lines = [
        "# HELP kuadns_ready 1 once a bundle has been loaded and the DNS sockets are open.",
        "# TYPE kuadns_ready gauge",
        f"kuadns_ready {int(stats.ready)}",
        "# HELP kuadns_workers Server processes.",
        "# TYPE kuadns_workers gauge",
        f"kuadns_workers {stats.workers}",
        "# HELP kuadns_queries_total Replies sent, by RCODE.",
        "# TYPE kuadns_queries_total counter",
    ]
    lines += [f'kuadns_queries_total{{rcode="{_label(k)}"}} {v}' for k, v in sorted(stats.rcodes.items())]
    lines += [
        "# HELP kuadns_dropped_total Packets dropped without a reply (unreadable header, or a response).",
        "# TYPE kuadns_dropped_total counter",
        f"kuadns_dropped_total {stats.dropped}",
        "# HELP kuadns_variant_answers_total Location-dependent answers, by zone and the variant chosen.",
        "# TYPE kuadns_variant_answers_total counter",
    ]
    for key, value in sorted(stats.variants.items()):
        zone, _, variant = key.partition("\t")
        lines.append(f'kuadns_variant_answers_total{{zone="{_label(zone)}",variant="{_label(variant)}"}} {value}')
    lines += ["# HELP kuadns_reloads_total Bundle loads, by result.", "# TYPE kuadns_reloads_total counter"]
    lines += [f'kuadns_reloads_total{{result="{k}"}} {v}' for k, v in sorted(stats.reloads.items())]
    lines += [
        "# HELP kuadns_geoip_reloads_total GeoIP database loads after a change, by result.",
        "# TYPE kuadns_geoip_reloads_total counter",
    ]
    lines += [f'kuadns_geoip_reloads_total{{result="{k}"}} {v}' for k, v in sorted(stats.geoip_reloads.items())]
    lines += ["# HELP kuadns_bundle_serial SOA serial served, by zone.", "# TYPE kuadns_bundle_serial gauge"]
    lines += [f'kuadns_bundle_serial{{zone="{_label(k)}"}} {v}' for k, v in sorted(stats.serials.items())]
    return "\n".join(lines) + "\n"


async def _health_handler(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stats: Callable[[], Stats]
) -> None:
    try:
        request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        parts = request.split(b" ", 2)
        path = parts[1].decode("latin-1").split("?")[0] if len(parts) > 1 else ""
        current = stats()
        if path == "/healthz":
            status, body, ctype = "200 OK", "ok\n", "text/plain"
        elif path == "/readyz":
            if current.ready:
                status, body, ctype = "200 OK", "ready\n", "text/plain"
            else:
                status, body, ctype = "503 Service Unavailable", "not ready: no bundle loaded yet\n", "text/plain"
        elif path == "/metrics":
            status, body, ctype = "200 OK", render_metrics(current), "text/plain; version=0.0.4"
        else:
            status, body, ctype = "404 Not Found", "not found\n", "text/plain"
        data = body.encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}; charset=utf-8\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def start_health(address: Address, stats: Callable[[], Stats]) -> asyncio.Server:
    """Serve /healthz, /readyz and /metrics on `address`. Raises ConfigError if it cannot bind."""
    try:
        return await asyncio.start_server(lambda r, w: _health_handler(r, w, stats), address[0], address[1])
    except OSError as exc:
        raise ConfigError(f"--health-listen {address[0]}:{address[1]}: {exc.strerror}") from exc
