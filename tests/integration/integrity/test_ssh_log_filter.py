"""Remote log reads filter on the host: over a real sshd on loopback, `atp check --ssh`
and `atp logs --ssh` receive only the window (and the marker) from the log file and its
rotated files, through python3 on the host or, without it, awk."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.logs import RemoteFileLog, iter_records
from atp.integrity.sources.ssh import SshTunnel

from . import sshd
from .payload_server import PayloadServer

pytestmark = pytest.mark.skipif(not sshd.available(), reason="openssh-server not installed "
                                "(make test installs it)")
ATP = [sys.executable, "-m", "atp.cli.main"]
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd.LoopbackSshd]:
    server = sshd.LoopbackSshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tunnel(host: sshd.LoopbackSshd) -> Iterator[SshTunnel]:
    with SshTunnel(host.alias, "http://127.0.0.1:1", remote_docker_socket=None,
                   ssh_args=shlex.split(host.ssh_option)) as t:
        yield t


def record(at: datetime, event: str, **extra: object) -> str:
    return json.dumps({"event": event, "level": "info", "logger": "atp.test",
                       "timestamp": at.isoformat().replace("+00:00", "Z"), **extra}) + "\n"


@pytest.fixture()
def rotated_log(tmp_path: Path) -> Path:
    """atp.log.2 (3 h ago), atp.log.1 (2 h → 10 min ago, every 2 s), atp.log (the last 10
    minutes, every second), written relative to now (the suite may run this long after
    collecting it, and the check's window is counted from its own now)."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)
    path = tmp_path / "atp.log"
    old = NOW - timedelta(hours=3)
    Path(f"{path}.2").write_text("".join(record(old + timedelta(seconds=i), f"old {i}")
                                         for i in range(3000)))
    start = NOW - timedelta(hours=2)
    Path(f"{path}.1").write_text("".join(
        record(start + timedelta(seconds=2 * i), f"mid {i}") for i in range(3300)))
    recent = NOW - timedelta(minutes=10)
    lines = [record(recent + timedelta(seconds=i), f"new {i}") for i in range(600)]
    lines[300] = record(recent + timedelta(seconds=300), "[ALERT_EMIT_FINAL] symbol=X_USDT",
                        marker="ALERT_EMIT_FINAL")
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize("tool", ["auto", "awk"])
def test_only_the_window_crosses_ssh(tunnel: SshTunnel, rotated_log: Path, tool: str) -> None:
    log = RemoteFileLog(tunnel.command, str(rotated_log), "remote", tool=tool)
    since = NOW - timedelta(minutes=30)  # reaches into atp.log.1
    shipped = b"".join(log.blocks(since))
    events = [r.event for r in iter_records([shipped])]
    mid = [e for e in events if e.startswith("mid")]
    assert not [e for e in events if e.startswith("old")]
    assert len(mid) == 600 - 1 or len(mid) == 600  # the 2-second steps of the last 20 min
    assert events[-1] == "new 599" and len(events) == len(mid) + 600
    assert len(shipped) < sum(p.stat().st_size for p in rotated_log.parent.iterdir()) / 5
    everything = b"".join(log.blocks(None))
    assert len(list(iter_records([everything]))) == 3000 + 3300 + 600


@pytest.mark.parametrize("tool", ["auto", "awk"])
def test_the_marker_is_filtered_on_the_host(tunnel: SshTunnel, rotated_log: Path,
                                            tool: str) -> None:
    log = RemoteFileLog(tunnel.command, str(rotated_log), "remote", needle="[ALERT_EMIT_FINAL]",
                        tool=tool)
    [line] = b"".join(log.blocks(NOW - timedelta(hours=1))).splitlines()
    assert b"symbol=X_USDT" in line


@pytest.mark.parametrize("tool", ["auto", "awk"])
def test_a_missing_remote_log_names_the_file(tunnel: SshTunnel, tmp_path: Path,
                                             tool: str) -> None:
    log = RemoteFileLog(tunnel.command, str(tmp_path / "nope.log"), "remote", tool=tool)
    with pytest.raises(SourceUnavailable) as err:
        b"".join(log.blocks(NOW - timedelta(hours=1)))
    assert "nope.log" in err.value.reason


def test_check_over_ssh_reads_only_the_window(host: sshd.LoopbackSshd,
                                              rotated_log: Path) -> None:
    with PayloadServer() as api:
        done = subprocess.run([*ATP, "check", "--ssh", host.alias, "--ssh-option",
                               host.ssh_option, "--url", api.url, "--log-file",
                               str(rotated_log), "--format", "json"],
                              capture_output=True, text=True, timeout=60, check=False)
    report = json.loads(done.stdout)
    errors = next(c for c in report["checks"] if c["id"] == "errors")
    assert errors["status"] == "ok", errors
    # the 15-minute window: the current file's 600 lines and atp.log.1's last 5 minutes
    # (150 lines), not the 6,900 of all three files
    assert errors["data"]["source"] == "log" and 600 < errors["data"]["lines"] <= 750


def test_logs_over_ssh_since_reads_the_rotated_file(host: sshd.LoopbackSshd,
                                                    rotated_log: Path) -> None:
    done = subprocess.run([*ATP, "logs", "--ssh", host.alias, "--ssh-option", host.ssh_option,
                           "--log-file", str(rotated_log), "--since", "30m", "--raw"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    events = [json.loads(x)["event"] for x in done.stdout.splitlines()]
    assert events[0].startswith("mid") and events[-1] == "new 599"
