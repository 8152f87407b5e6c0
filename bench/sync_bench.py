"""The sync benchmark: a primary syncs N generated DNSRecords spread over several emulated clusters.

I/O (child processes, loopback TLS, a temp bundle dir). `python3 -m bench.sync_bench [--records 10000]
[--clusters 3] [--in-process] [--json] [--profile DIR]`. Each emulated cluster runs in its own process
(as real API servers do); the primary (cluster-1) holds kubeconfig Secrets for the others. Measured: the
full first sync (read, merge, write authoritative records and every status, render the bundle), a
no-change resync (lists every cluster), and a no-change pass fed by live watches (interval mode);
writes are counted by the emulators themselves. `--profile DIR` writes cProfile stats (thread CPU time)
of the full sync: DIR/client.prof (every thread of this process) and DIR/<cluster>.prof (every request
handler thread).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing as mp
import os
import pstats
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.gen_records import NAMESPACE, build_records

SECRET_NS = "kuadns-system"


class ThreadProfiles:
    """cProfile for multi-threaded code: one Profile per thread (a Profile follows one thread only).

    Times are the thread's CPU time (`time.thread_time`), not wall time: with several threads on one
    GIL, wall-clock profiles charge the wait for the GIL to whatever call released it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._profiles: list[cProfile.Profile] = []

    def new(self) -> cProfile.Profile:
        """A fresh Profile, kept for `stats`."""
        prof = cProfile.Profile(time.thread_time)
        with self._lock:
            self._profiles.append(prof)
        return prof

    def clear(self) -> None:
        """Forget what was collected so far."""
        with self._lock:
            self._profiles.clear()

    def dump(self, path: Path) -> None:
        """Write the sum of every thread's profile to `path` (pstats format)."""
        with self._lock:
            profiles = [p for p in self._profiles if p.getstats()]
        if not profiles:
            return
        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            stats.add(prof)
        stats.dump_stats(str(path))

    @contextmanager
    def every_new_thread(self) -> Iterator[None]:
        """Profile the calling thread and every thread started inside the block (for their whole run)."""
        original = threading.Thread.run
        profiles = self

        def run(thread: threading.Thread) -> None:
            prof = profiles.new()
            prof.enable()
            try:
                original(thread)
            finally:
                prof.disable()

        main = self.new()
        setattr(threading.Thread, "run", run)  # noqa: B010 (patched for the block only)
        main.enable()
        try:
            yield
        finally:
            main.disable()
            setattr(threading.Thread, "run", original)  # noqa: B010

    def wrap_requests(self, handler: type[Any]) -> None:
        """Profile `handler.handle_one_request` in every thread (connections outlive one pass)."""
        original: Callable[[Any], None] = handler.handle_one_request
        local = threading.local()
        profiles = self

        def handle_one_request(self: Any) -> None:
            prof = getattr(local, "prof", None)
            if prof is None or getattr(local, "owner", None) is not profiles._profiles:
                prof = local.prof = profiles.new()
                local.owner = profiles._profiles
            prof.enable()
            try:
                original(self)
            finally:
                prof.disable()

        handler.handle_one_request = handle_one_request


def _cluster_main(conn: Connection, name: str, records: list[dict[str, Any]], profile: bool) -> None:
    """Child process: one emulated cluster; answers ('count' | 'cpu' | 'reset' | ('load', objs) | ('dump', path)
    | 'stop') on `conn`. With `profile`, request handling is profiled from each 'reset' to the next 'dump'."""
    from kuadns_sync.dev import start_apiserver

    profiles = ThreadProfiles()
    if profile:
        from kuadns_sync.dev.http import Handler

        profiles.wrap_requests(Handler)
    server = start_apiserver(cluster_name=name, history_limit=1_000_000)
    server.load(records)
    conn.send((str(server.kubeconfig_path), server.kubeconfig_text))
    while True:
        command = conn.recv()
        if command == "count":
            conn.send((server.write_count, server.request_count))
        elif command == "cpu":
            conn.send(time.process_time())
        elif command == "reset":
            server.reset_counters()
            profiles.clear()
            conn.send(None)
        elif isinstance(command, tuple) and command[0] == "load":
            server.load(command[1])
            conn.send(None)
        elif isinstance(command, tuple) and command[0] == "dump":
            profiles.dump(Path(command[1]))
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
            if command == "cpu":
                return 0.0  # in this process: counted in the client's CPU
            if command == "reset":
                return self.server.reset_counters()
            if isinstance(command, tuple) and command[0] == "load":
                return self.server.load(command[1])
            if isinstance(command, tuple):
                return None  # profiles are taken of child processes only
            return self.server.stop()
        assert self.conn is not None
        self.conn.send(command)
        return self.conn.recv()


def start(name: str, records: list[dict[str, Any]], in_process: bool, profile: bool = False) -> Emulated:
    """Start one emulated cluster holding `records`."""
    if in_process:
        from kuadns_sync.dev import start_apiserver

        server = start_apiserver(cluster_name=name, history_limit=1_000_000)
        server.load(records)
        return Emulated(name, str(server.kubeconfig_path), server.kubeconfig_text, server=server)
    parent, child = mp.Pipe()
    process = mp.get_context("fork").Process(target=_cluster_main, args=(child, name, records, profile), daemon=True)
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


def run(
    records: int,
    cluster_count: int,
    in_process: bool,
    zone: str = "bench.example.com",
    profile: Path | None = None,
    fork_render: bool = True,
) -> dict[str, Any]:
    """Run the benchmark; returns the measurements. With `profile` (a directory), the full sync is profiled;
    `fork_render=False` renders in-process after the writes (for comparison)."""
    from kuadns_sync.kube.clients import Cluster, local_client
    from kuadns_sync.kube.loop import SyncLoop
    from kuadns_sync.kube.report import SyncOptions, SyncReport
    from kuadns_sync.model import Settings

    started = time.monotonic()
    load_before = os.getloadavg()
    by_cluster = build_records(records, cluster_count, zone=zone)
    clusters = [start(name, objs, in_process, profile is not None) for name, objs in by_cluster.items()]
    try:
        clusters[0].call(("load", wiring(clusters, zone)))
        setup = time.monotonic() - started
        with tempfile.TemporaryDirectory(prefix="kuadns-sync-bench-") as tmp:
            primary = clusters[0]
            local = Cluster(primary.name, local_client(Path(primary.kubeconfig_path), None), local=True)
            options = SyncOptions(cluster_secret_namespace=SECRET_NS, out=Path(tmp) / "bundle", timeout=60.0)
            loop = SyncLoop(local, Settings(), options)
            loop.fork_render = loop.fork_render and fork_render

            def measured(label: str, profiled: bool = False) -> dict[str, Any]:
                for c in clusters:
                    c.call("reset")
                emulator_cpu = {c.name: float(c.call("cpu")) for c in clusters}
                profiles = ThreadProfiles()
                t0, cpu0, usage0 = time.monotonic(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
                if profiled and profile is not None:
                    with profiles.every_new_thread():
                        report: SyncReport = loop.sync_once()
                else:
                    report = loop.sync_once()
                seconds, cpu = time.monotonic() - t0, time.process_time() - cpu0
                usage = resource.getrusage(resource.RUSAGE_SELF)
                emulator_cpu = {c.name: float(c.call("cpu")) - emulator_cpu[c.name] for c in clusters}
                if profiled and profile is not None:
                    profile.mkdir(parents=True, exist_ok=True)
                    profiles.dump(profile / "client.prof")
                    for c in clusters:
                        c.call(("dump", str(profile / f"{c.name}.prof")))
                counted = writes(clusters)
                print(f"{label}: {seconds:.2f} s; {report.summary()}", file=sys.stderr)
                return {
                    "seconds": round(seconds, 3),
                    "cpu_seconds": round(cpu, 3),  # this process only (the emulators run in their own)
                    # user/system split and context switches of this process (not the render child)
                    "client_user_seconds": round(usage.ru_utime - usage0.ru_utime, 3),
                    "client_system_seconds": round(usage.ru_stime - usage0.ru_stime, 3),
                    "client_context_switches": [usage.ru_nvcsw - usage0.ru_nvcsw, usage.ru_nivcsw - usage0.ru_nivcsw],
                    "phases": {k: round(v, 3) for k, v in report.phases.items()},
                    "cpu_phases": {k: round(v, 3) for k, v in report.cpu_phases.items()},
                    "emulator_cpu_seconds": {k: round(v, 3) for k, v in emulator_cpu.items()},
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
                full = measured("full sync", profiled=True)
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
        "render": "forked child, during the writes" if fork_render else "in-process, after the writes",
        "setup_seconds": round(setup, 2),
        # The machine is shared: its 1-minute load average before and after says how much it was.
        "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
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
    parser.add_argument("--profile", type=Path, metavar="DIR", help="write cProfile stats of the full sync to DIR")
    parser.add_argument("--render-in-process", action="store_true",
                        help="render after the writes in this process instead of in a forked child meanwhile")
    args = parser.parse_args(argv)
    if args.records < 1 or args.clusters < 1:
        parser.error("--records and --clusters must be positive")
    if args.profile is not None and args.in_process:
        parser.error("--profile needs the emulators in their own processes (drop --in-process)")
    result = run(args.records, args.clusters, args.in_process, profile=args.profile,
                 fork_render=not args.render_in_process)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['records']} DNSRecords in {result['clusters']} emulated clusters ({result['emulators']}); "
            f"load average {result['load_average'][0]:.2f} before, {result['load_average'][1]:.2f} after"
        )
        rows = (("full sync", "full_sync"), ("no-change resync", "no_change_resync"),
                ("watch-fed pass", "no_change_watch_fed"))
        for label, key in rows:
            m = result[key]
            phases = ", ".join(f"{k} {v:.2f}/{m['cpu_phases'].get(k, 0.0):.2f}" for k, v in m["phases"].items())
            emulated = ", ".join(f"{v:.2f}" for v in m["emulator_cpu_seconds"].values())
            print(
                f"{label:17} {m['seconds']:7.2f} s, CPU {m['cpu_seconds']:.2f} s (user {m['client_user_seconds']:.2f}, "
                f"system {m['client_system_seconds']:.2f}, switches {m['client_context_switches']}; "
                f"wall/CPU: {phases}), "
                f"emulators' CPU {emulated} s; {m['created']} created, "
                f"{m['updated']} updated, "
                f"{m['deleted']} deleted, {m['status_patches']} status; emulator-counted writes "
                f"{sum(m['emulator_writes'].values())} {m['emulator_writes']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
