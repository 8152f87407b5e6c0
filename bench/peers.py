"""Real DNS servers on 127.0.0.1 for cross-checks and the benchmark: BIND (geoip views), Knot, NSD,
PowerDNS (bind and GeoIP backends) and our own `kuadns-sync serve`.

I/O module: each server's configuration is written into a fresh temporary directory, the daemon runs
in the foreground as a child process on 127.0.0.1:<free port> (UDP and TCP), `start()` returns once it
answers SOA for its zone, and `stop()` ends exactly that child (by its PID). Nothing listens elsewhere.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

LOCALHOST = "127.0.0.1"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 10.0
PORT_RETRIES = 3
# How the daemons say their port is taken (BIND: "unable to listen on any configured interfaces").
PORT_TAKEN_MARKERS = ("in use", "unable to listen", "could not bind", "cannot bind")
# BIND looks for MaxMind databases under these fixed names inside geoip-directory (named binary strings).
BIND_CITY_DB = "GeoIP2-City.mmdb"


class PeerError(Exception):
    """A peer server could not be configured, started or stopped; the message names it and its log."""


class _PortTaken(Exception):
    """The daemon exited because its port was in use."""


def free_port() -> int:
    """A port on 127.0.0.1 that is free for both TCP and UDP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((LOCALHOST, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((LOCALHOST, port))
                except OSError as exc:
                    if exc.errno == errno.EADDRINUSE:
                        continue
                    raise
                return port
    raise PeerError("no free port on 127.0.0.1 for both TCP and UDP")


def soa_serial(port: int, zone: str, timeout: float = 1.0, address: str = LOCALHOST) -> int | None:
    """Ask 127.0.0.1:`port` for the SOA of `zone`; its serial, or None when there is no good answer."""
    query = dns.message.make_query(zone + ".", dns.rdatatype.SOA)
    try:
        reply = dns.query.udp(query, address, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None
    if reply.rcode() != dns.rcode.NOERROR:
        return None
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None


def package_env() -> dict[str, str]:
    """Our environment with the directory holding the kuadns_sync package first on PYTHONPATH, so a
    `python3 -m kuadns_sync` child works from any directory, installed or not."""
    import kuadns_sync

    root = str(Path(kuadns_sync.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{current}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in text.split():
                found.append(int(child))
                todo.append(int(child))
    return found


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` plus all its descendant processes, in KiB (shared pages counted once per process)."""
    total = 0
    for proc in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class Peer:
    """One server process on 127.0.0.1:`port` authoritative for `zone`. Use as a context manager."""

    name: ClassVar[str] = "peer"

    def __init__(
        self, zone: str, *, port: int | None = None, workers: int | None = None, keep_dir: bool = False
    ) -> None:
        self.zone = zone.strip().rstrip(".").lower()
        self.port = port if port is not None else 0
        self.workers = workers
        self.keep_dir = keep_dir
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds: float = 0.0

    # -- what each server defines --------------------------------------------------------------
    def command(self) -> list[str]:
        """The foreground command line (configuration already written into `self.dir`)."""
        raise NotImplementedError

    def write_config(self) -> None:
        """Write this server's configuration files into `self.dir`."""
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment (None: inherit ours)."""
        return None

    # -- common machinery -----------------------------------------------------------------------
    @property
    def dir(self) -> Path:
        """The working directory (exists between start and stop)."""
        if self.workdir is None:
            raise PeerError(f"{self.name}: not started")
        return self.workdir

    @property
    def pid(self) -> int:
        """PID of the server's main process."""
        if self.process is None:
            raise PeerError(f"{self.name}: not started")
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.dir / f"{self.name}.log"

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (stdout and stderr)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, PeerError):
            return "(no log)"

    def rss_kib(self) -> int:
        """Resident memory of the server (main process and children), KiB."""
        return rss_kib(self.pid)

    def serial(self, timeout: float = 1.0) -> int | None:
        """The SOA serial the server answers now (None if it does not answer)."""
        return soa_serial(self.port, self.zone, timeout)

    def start(self, timeout: float = START_TIMEOUT) -> Peer:
        """Write the configuration, run the daemon, wait until it answers SOA. Raises PeerError.

        With an automatic port, a daemon that exits because the port was taken in the meantime
        (free_port can only check, not reserve) is retried on another port, up to PORT_RETRIES times.
        """
        if self.process is not None:
            raise PeerError(f"{self.name}: already started")
        auto_port = self.port == 0
        for attempt in range(PORT_RETRIES + 1):
            if auto_port:
                self.port = free_port()
            try:
                return self._start_once(timeout)
            except _PortTaken as exc:
                if not auto_port or attempt == PORT_RETRIES:
                    raise PeerError(str(exc)) from None
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> Peer:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"kuadns-{self.name}-"))
        self.write_config()
        cmd = self.command()
        if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
            self._cleanup()
            raise PeerError(f"{self.name}: {cmd[0]} is not installed (scripts/setup installs it)")
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=self.environment(),
            )
        deadline = started + timeout
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                tail = self.log_tail()
                self._cleanup()
                message = f"{self.name}: exited with status {code} while starting on port {self.port}:\n{tail}"
                if any(marker in tail.lower() for marker in PORT_TAKEN_MARKERS):
                    raise _PortTaken(message)
                raise PeerError(message)
            if self.serial(timeout=0.05) is not None:
                break
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise PeerError(f"{self.name}: no SOA answer for {self.zone} after {timeout:.0f} s:\n{tail}")
            time.sleep(0.02)
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Terminate the daemon (SIGTERM, then SIGKILL after a grace period) and remove its directory."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        self._cleanup()

    def _cleanup(self) -> None:
        self.process = None
        if self.workdir is not None and not self.keep_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Peer:
        if self.process is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.zone} on {LOCALHOST}:{self.port}>"


def _quoted(path: Path) -> str:
    return '"' + str(path.resolve()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def view_match(variant: str) -> str:
    """BIND match-clients element list for a bundle variant: country, continent or any."""
    if variant == "default":
        return "any;"
    if variant.startswith("GEO-"):
        return f"geoip continent {variant[4:]};"
    return f"geoip country {variant};"


def _variant_order(variant: str) -> tuple[int, str]:
    # First match wins in BIND: country views before continent views before the default view,
    # which is the bundle's most-specific-variant rule (docs/bundle-format.md).
    if variant == "default":
        return (2, variant)
    if variant.startswith("GEO-"):
        return (1, variant)
    return (0, variant)


class Bind(Peer):
    """BIND 9 (`named -g`). With several variants: one view per variant, matched by GeoIP of the source
    address (BIND 9.18 has no ECS for views), each loading that variant's zone file."""

    name = "bind"

    def __init__(
        self,
        zone: str,
        variants: Mapping[str, Path],
        *,
        geoip_db: Path | None = None,
        port: int | None = None,
        workers: int | None = None,
        keep_dir: bool = False,
    ) -> None:
        super().__init__(zone, port=port, workers=workers, keep_dir=keep_dir)
        if "default" not in variants:
            raise PeerError("bind: the variants must include 'default'")
        if len(variants) > 1 and geoip_db is None:
            raise PeerError("bind: geo variants need a GeoIP database")
        self.variants = dict(variants)
        self.geoip_db = geoip_db

    def write_config(self) -> None:
        directory = self.dir
        lines = [
            "options {",
            f"    directory {_quoted(directory)};",
            "    pid-file none;",
            "    session-keyfile none;",
            f"    listen-on port {self.port} {{ {LOCALHOST}; }};",
            "    listen-on-v6 { none; };",
            "    recursion no;",
            "    dnssec-validation no;",
            "    notify no;",
            # BIND zeroes the SOA TTL in negative answers to SOA queries by default (its own choice);
            # RFC 2308 §5 says min(SOA TTL, MINIMUM), which is what we and Knot/NSD answer.
            "    zero-no-soa-ttl no;",
        ]
        if self.geoip_db is not None:
            geo_dir = directory / "geoip"
            geo_dir.mkdir()
            shutil.copyfile(self.geoip_db, geo_dir / BIND_CITY_DB)
            lines.append(f"    geoip-directory {_quoted(geo_dir)};")
        lines += ["};", "controls { };"]
        zone_stmt = 'zone "{zone}" {{ type primary; file {file}; }};'
        if len(self.variants) == 1:
            lines.append(zone_stmt.format(zone=self.zone, file=_quoted(self.variants["default"])))
        else:
            for variant in sorted(self.variants, key=_variant_order):
                zone_line = zone_stmt.format(zone=self.zone, file=_quoted(self.variants[variant]))
                lines.append(f'view "{variant}" {{ match-clients {{ {view_match(variant)} }}; {zone_line} }};')
        (directory / "named.conf").write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        cmd = ["/usr/sbin/named", "-g", "-c", str(self.dir / "named.conf")]
        if self.workers is not None:
            cmd += ["-n", str(self.workers)]
        return cmd


class ZoneFilePeer(Peer):
    """A peer serving one zone file (the bundle's default variant)."""

    def __init__(
        self,
        zone: str,
        zone_file: Path,
        *,
        port: int | None = None,
        workers: int | None = None,
        keep_dir: bool = False,
    ) -> None:
        super().__init__(zone, port=port, workers=workers, keep_dir=keep_dir)
        self.zone_file = zone_file


class Knot(ZoneFilePeer):
    """Knot DNS (`knotd`, foreground by default) serving one zone file read-only."""

    name = "knot"

    def write_config(self) -> None:
        d = self.dir
        workers = f"    udp-workers: {self.workers}\n    tcp-workers: {self.workers}\n" if self.workers else ""
        (d / "knot.conf").write_text(
            "server:\n"
            f"    rundir: {_quoted(d)}\n"
            f"    listen: {LOCALHOST}@{self.port}\n"
            f"{workers}"
            "    background-workers: 1\n"
            "control:\n"
            f"    listen: {_quoted(d / 'knot.sock')}\n"
            "database:\n"
            f"    storage: {_quoted(d)}\n"
            "template:\n"
            "  - id: default\n"
            f"    storage: {_quoted(d)}\n"
            # Never write back into the bundle's zone file, and keep no journal (read-only use).
            "    zonefile-sync: -1\n"
            "    zonefile-load: whole\n"
            "    journal-content: none\n"
            "zone:\n"
            f"  - domain: {self.zone}\n"
            f"    file: {_quoted(self.zone_file)}\n"
        )

    def command(self) -> list[str]:
        return ["/usr/sbin/knotd", "-c", str(self.dir / "knot.conf")]


class Nsd(ZoneFilePeer):
    """NSD (`nsd -d`) serving one zone file; no database, no chroot, no privilege drop."""

    name = "nsd"

    def write_config(self) -> None:
        d = self.dir
        (d / "nsd.conf").write_text(
            "server:\n"
            f"    ip-address: {LOCALHOST}@{self.port}\n"
            "    do-ip6: no\n"
            '    username: ""\n'
            '    chroot: ""\n'
            '    database: ""\n'
            f"    zonesdir: {_quoted(d)}\n"
            f"    zonelistfile: {_quoted(d / 'zone.list')}\n"
            f"    xfrdfile: {_quoted(d / 'xfrd.state')}\n"
            f"    xfrdir: {_quoted(d)}\n"
            f"    pidfile: {_quoted(d / 'nsd.pid')}\n"
            f"    server-count: {self.workers or 1}\n"
            "    verbosity: 1\n"
            "remote-control:\n"
            "    control-enable: no\n"
            "zone:\n"
            f"    name: {self.zone}\n"
            f"    zonefile: {_quoted(self.zone_file)}\n"
        )

    def command(self) -> list[str]:
        return ["/usr/sbin/nsd", "-d", "-c", str(self.dir / "nsd.conf")]


_PDNS_COMMON = (
    "daemon=no",
    "guardian=no",
    "disable-syslog=yes",
    "write-pid=no",
    "loglevel=4",
    "security-poll-suffix=",
    "webserver=no",
    "api=no",
)


class PowerDns(ZoneFilePeer):
    """PowerDNS Authoritative with the bind backend (one zone file)."""

    name = "pdns"

    def backend_lines(self) -> list[str]:
        """The backend part of pdns.conf."""
        d = self.dir
        (d / "named.conf").write_text(f'zone "{self.zone}" {{ type master; file {_quoted(self.zone_file)}; }};\n')
        return ["launch=bind", f"bind-config={d / 'named.conf'}"]

    def write_config(self) -> None:
        d = self.dir
        lines = [
            *self.backend_lines(),
            f"local-address={LOCALHOST}:{self.port}",
            f"socket-dir={d}",
            *_PDNS_COMMON,
        ]
        if self.workers:
            lines.append(f"receiver-threads={self.workers}")
        (d / "pdns.conf").write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return ["/usr/sbin/pdns_server", f"--config-dir={self.dir}"]


class PowerDnsGeoip(PowerDns):
    """PowerDNS Authoritative with the GeoIP backend: a YAML zone (see bench.pdns_geoip) and a MaxMind
    database; the client location is the ECS address when present (edns-subnet-processing)."""

    name = "pdns-geoip"

    def __init__(
        self,
        zone: str,
        zone_yaml: Path,
        geoip_db: Path,
        *,
        port: int | None = None,
        workers: int | None = None,
        keep_dir: bool = False,
    ) -> None:
        super().__init__(zone, zone_yaml, port=port, workers=workers, keep_dir=keep_dir)
        self.geoip_db = geoip_db

    def backend_lines(self) -> list[str]:
        return [
            "launch=geoip",
            f"geoip-zones-file={self.zone_file.resolve()}",
            f"geoip-database-files=mmdb:{self.geoip_db.resolve()}",
            "edns-subnet-processing=yes",
        ]


class KuadnsServer(Peer):
    """Our embedded server: `python3 -m kuadns_sync serve --bundle DIR --geoip FILE --listen ADDR:PORT`."""

    name = "kuadns"

    def __init__(
        self,
        zone: str,
        bundle: Path,
        geoip_db: Path,
        *,
        port: int | None = None,
        workers: int | None = None,
        extra_args: Sequence[str] = (),
        keep_dir: bool = False,
    ) -> None:
        super().__init__(zone, port=port, workers=workers, keep_dir=keep_dir)
        self.bundle = bundle
        self.geoip_db = geoip_db
        self.extra_args = tuple(extra_args)

    def write_config(self) -> None:
        """Nothing to write: everything is on the command line."""

    def environment(self) -> dict[str, str]:
        """See package_env: the child runs in its own directory."""
        return package_env()

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "kuadns_sync",
            "serve",
            "--bundle",
            str(self.bundle),
            "--geoip",
            str(self.geoip_db),
            "--listen",
            f"{LOCALHOST}:{self.port}",
        ]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        return cmd + list(self.extra_args)
