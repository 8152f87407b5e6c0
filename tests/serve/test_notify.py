"""NOTIFY (RFC 1996) end to end with a real BIND secondary: after a re-render changes the serial, BIND
transfers the new zone within seconds (without NOTIFY it would wait for the SOA refresh, 7200 s)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from serve.serve_helpers import cli, cli_env, dig, free_port, wait_for_line

from kuadns_sync.config import settings_from_options
from kuadns_sync.notify import is_notify_response, notify_message
from kuadns_sync.pipeline import render_records

EXAMPLES = Path(__file__).resolve().parents[2] / "kuadns_sync" / "examples"
ZONE = "k.example.com"


def test_notify_message_is_a_question_only_authoritative_notify() -> None:
    wire = notify_message(ZONE, 0x1234)
    assert wire[:2] == b"\x12\x34"
    flags = int.from_bytes(wire[2:4], "big")
    assert (flags >> 11) & 0xF == 4  # opcode NOTIFY
    assert flags & 0x0400  # AA
    assert not flags & 0x8100  # not a response, RD clear
    assert wire[4:12] == b"\x00\x01\x00\x00\x00\x00\x00\x00"
    response = bytes([0x12, 0x34, 0xA4, 0x00]) + wire[4:]
    assert is_notify_response(response, 0x1234)
    assert not is_notify_response(response, 0x1235)
    assert not is_notify_response(wire, 0x1234)


def _soa_serial(port: int) -> str:
    try:
        out = dig(port, ZONE, "SOA", "+short").split()
    except subprocess.CalledProcessError:  # not answering yet
        return ""
    return out[2] if len(out) > 2 else ""


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


@pytest.mark.peer
def test_a_bind_secondary_follows_a_serial_change_at_once(tmp_path: Path) -> None:
    named = shutil.which("named") or "/usr/sbin/named"
    assert Path(named).exists(), "BIND (named) is installed by scripts/setup"
    records = tmp_path / "records"
    shutil.copytree(EXAMPLES, records)
    bundle = tmp_path / "bundle"
    settings = settings_from_options(records=records)
    render_records(records, bundle, settings, now=1767225600.0)

    ours, secondary = free_port(), free_port()
    server = subprocess.Popen(
        cli(
            "serve",
            "--bundle",
            str(bundle),
            "--listen",
            f"127.0.0.1:{ours}",
            "--allow-transfer",
            "127.0.0.1/32",
            "--notify",
            f"127.0.0.1:{secondary}",
            "--poll-interval",
            "0.2",
        ),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    bind_dir = tmp_path / "bind"
    bind_dir.mkdir()
    (bind_dir / "named.conf").write_text(
        f'options {{ directory "{bind_dir}"; pid-file "{bind_dir}/named.pid"; listen-on port {secondary} '
        f"{{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; dnssec-validation no; notify no; "
        f"allow-notify {{ 127.0.0.1; }}; }};\n"
        "controls { };\n"
        f'zone "{ZONE}" {{ type secondary; primaries {{ 127.0.0.1 port {ours}; }}; file "{bind_dir}/zone.db"; }};\n'
    )
    bind = None
    try:
        wait_for_line(server.stdout, "serving", timeout=30)
        bind = subprocess.Popen(
            [named, "-g", "-c", str(bind_dir / "named.conf")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert _wait(lambda: _soa_serial(secondary) == "2026010100", 20), "the secondary never loaded the zone"
        assert dig(secondary, "simple.k.example.com", "A", "+short").split() == ["172.18.200.1"]

        simple = records / "cluster1" / "simple.yaml"
        simple.write_text(simple.read_text().replace("172.18.200.1", "172.18.200.77"))
        render_records(records, bundle, settings, now=1767225600.0)  # serial 2026010101

        assert _wait(lambda: _soa_serial(secondary) == "2026010101", 15), "NOTIFY did not make BIND refresh"
        assert dig(secondary, "simple.k.example.com", "A", "+short").split() == ["172.18.200.77"]
        wait_for_line(server.stdout, "NOTIFY k.example.com serial 2026010101 acknowledged", timeout=20)
    finally:
        for process in (bind, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
