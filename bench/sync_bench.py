"""The sync benchmark: a primary syncs N generated DNSRecords spread over several emulated clusters.

I/O (child processes, loopback TLS, a temp bundle dir). `python3 -m bench.sync_bench [--records 10000]
[--clusters 3] [--in-process] [--json]`. Each emulated cluster runs in its own process (as real API
servers do); the primary (cluster-1) holds kubeconfig Secrets for the others. Measured: the full
first sync (read, merge, write authoritative records and every status, render the bundle), a
no-change resync (lists every cluster), and a no-change pass fed by live watches (interval mode);
writes are counted by the emulators themselves.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.gen_records import NAMESPACE, build_records

SECRET_NS = "kuadns-system"


def _cluster_main(conn: Connection, name: str, records: list[dict[str, Any]]) -> None:
    """Child process: one emulated cluster; answers ('count' | 'reset' | ('load', objs) | 'stop') on `conn`."""
    from kuadns_sync.dev import start_apiserver

    server = start_apiserver(cluster_name=name, history_limit=1_000_000)
    server.load(records)
    conn.send((str(server.kubeconfig_path), server.kubeconfig_text))
    while True:
        command = conn.recv()
        if command == "count":
            conn.send((server.write_count, server.request_count))
        elif command == "reset":
            server.reset_counters()
            conn.send(None)
        elif isinstance(command, tuple) and command[0] == "load":
            server.load(command[1])
            conn.send(None)
        else:
            server.stop()
            conn.send(None)
            return


@dataclass
class Emulated:
    """A cluster in a child process (or in this process with --in-process)."""

    name: str
    kubeconfig_path: str
    kubeconfig_text: str
    conn: Connection | None = None
    process: Any = None
    server: Any = None

    def call(self, command: Any) -> Any:
        if self.server is not None:
            if command == "count":
                return self.server.write_count, self.server.request_count
            if command == "reset":
                return self.server.reset_counters()
            if isinstance(command, tuple):
                return self.server.load(command[1])
            return self.server.stop()
        assert self.conn is not None
        self.conn.send(command)
        return self.conn.recv()


def start(name: str, records: list[dict[str, Any]], in_process: bool) -> Emulated:
    """Start one emulated cluster holding `records`."""
    if in_process:
        from kuadns_sync.dev import start_apiserver

        server = start_apiserver(cluster_name=name, history_limit=1_000_000)
        server.load(records)
        return Emulated(name, str(server.kubeconfig_path), server.kubeconfig_text, server=server)
    parent, child = mp.Pipe()
    process = mp.get_context("fork").Process(target=_cluster_main, args=(child, name, records), daemon=True)
    process.start()
    path, text = parent.recv()
    return Emulated(name, path, text, conn=parent, process=process)


def wiring(clusters: Sequence[Emulated], zone: str) -> list[dict[str, Any]]:
    """The primary's Secrets: the CoreDNS provider (default, ZONES) and one kubeconfig per other cluster."""
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1", "kind": "Secret", "type": "kuadrant.io/coredns",
            "metadata": {"name": "dns-provider-coredns", "namespace": NAMESPACE,
                         "labels": {"kuadrant.io/default-provider": "true"}},
            "stringData": {"ZONES": zone},
        }
    ]
    for other in clusters[1:]:
        objects.append({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": other.name, "namespace": SECRET_NS,
                         "labels": {"kuadrant.io/multicluster-kubeconfig": "true"}},
            "stringData": {"kubeconfig": other.kubeconfig_text},
        })
    return objects


def writes(clusters: Sequence[Emulated]) -> dict[str, int]:
    """Write requests each emulator has served since its counters were last reset."""
    return {c.name: int(c.call("count")[0]) for c in clusters}


def run(records: int, cluster_count: int, in_process: bool, zone: str = "bench.example.com") -> dict[str, Any]:
    """Run the benchmark; returns the measurements."""
    from kuadns_sync.kube.clients import Cluster, local_client
    from kuadns_sync.kube.loop import SyncLoop
    from kuadns_sync.kube.report import SyncOptions, SyncReport
    from kuadns_sync.model import Settings

    started = time.monotonic()
    by_cluster = build_records(records, cluster_count, zone=zone)
    clusters = [start(name, objs, in_process) for name, objs in by_cluster.items()]
    try:
        clusters[0].call(("load", wiring(clusters, zone)))
        setup = time.monotonic() - started
        with tempfile.TemporaryDirectory(prefix="kuadns-sync-bench-") as tmp:
            primary = clusters[0]
            local = Cluster(primary.name, local_client(Path(primary.kubeconfig_path), None), local=True)
            options = SyncOptions(cluster_secret_namespace=SECRET_NS, out=Path(tmp) / "bundle", timeout=60.0)
            loop = SyncLoop(local, Settings(), options)

            def measured(label: str) -> dict[str, Any]:
                for c in clusters:
                    c.call("reset")
                t0, cpu0 = time.monotonic(), time.process_time()
                report: SyncReport = loop.sync_once()
                seconds, cpu = time.monotonic() - t0, time.process_time() - cpu0
                counted = writes(clusters)
                print(f"{label}: {seconds:.2f} s; {report.summary()}", file=sys.stderr)
                return {
                    "seconds": round(seconds, 3),
                    "cpu_seconds": round(cpu, 3),  # this process only (the emulators run in their own)
                    "phases": {k: round(v, 3) for k, v in report.phases.items()},
                    "records": report.records,
                    "authoritative": report.authoritative,
                    "created": report.writes.created,
                    "updated": report.writes.updated,
                    "deleted": report.writes.deleted,
                    "status_patches": report.writes.patched,
                    "emulator_writes": counted,
                    "write_errors": len(report.writes.issues),
                    "refused": list(report.refused),
                }

            try:
                full = measured("full sync")
                resync = measured("no-change resync")
                # Interval mode: live watches feed the passes (a list only every --relist).
                loop.watch_clusters()
                time.sleep(1.0)
                watched = measured("no-change pass, watch-fed")
            finally:
                loop.close()
                local.close()
    finally:
        for c in clusters:
            c.call("stop")
    return {
        "records": records,
        "clusters": cluster_count,
        "emulators": "in-process" if in_process else "one process each",
        "setup_seconds": round(setup, 2),
        "full_sync": full,
        "no_change_resync": resync,
        "no_change_watch_fed": watched,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python3 -m bench.sync_bench", description=__doc__)
    parser.add_argument("--records", type=int, default=10000, help="DNSRecord objects in total")
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="run the emulators in this process")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args(argv)
    if args.records < 1 or args.clusters < 1:
        parser.error("--records and --clusters must be positive")
    result = run(args.records, args.clusters, args.in_process)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['records']} DNSRecords in {result['clusters']} emulated clusters ({result['emulators']})")
        rows = (("full sync", "full_sync"), ("no-change resync", "no_change_resync"),
                ("watch-fed pass", "no_change_watch_fed"))
        for label, key in rows:
            m = result[key]
            phases = ", ".join(f"{k} {v:.2f}" for k, v in m["phases"].items())
            print(
                f"{label:17} {m['seconds']:7.2f} s, CPU {m['cpu_seconds']:.2f} s ({phases}); {m['created']} created, "
                f"{m['updated']} updated, "
                f"{m['deleted']} deleted, {m['status_patches']} status; emulator-counted writes "
                f"{sum(m['emulator_writes'].values())} {m['emulator_writes']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
