"""`atp check --ssh` and `atp logs --ssh` through the system ssh client against a real
sshd on loopback (own config, keys and port), reaching a real HTTP server and log file
"on the remote host"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import host_limits

from . import sshd
from .payload_server import PayloadServer

if not sshd.available() and os.environ.get("ATP_REQUIRE_SSHD") == "1":
    raise RuntimeError("openssh-server is required (ATP_REQUIRE_SSHD=1): "
                       "run scripts/ensure-integrity-tools.sh")
pytestmark = pytest.mark.skipif(not sshd.available(), reason="openssh-server not installed "
                                "(make test installs it)")
ATP = [sys.executable, "-m", "atp.cli.main"]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd.LoopbackSshd]:
    server = sshd.LoopbackSshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture()
def remote_log(tmp_path: Path) -> Path:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    lines = [{"event": "[ALERT_EMIT_FINAL] symbol=ETH_USDT | side=BUY | status=success",
              "marker": "ALERT_EMIT_FINAL", "symbol": "ETH_USDT", "level": "info",
              "timestamp": now},
             {"event": "[DEBUG_SIGNAL_MONITOR] cycle=3 | symbols=10", "level": "info",
              "marker": "DEBUG_SIGNAL_MONITOR", "timestamp": now}]
    path = tmp_path / "atp.log"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ATP, *args], capture_output=True, text=True, timeout=60,
                          check=False, env=host_limits.env())


def test_check_over_ssh_reads_the_remote_backend_and_log(host: sshd.LoopbackSshd,
                                                         remote_log: Path) -> None:
    with PayloadServer() as api:
        done = run("check", "--ssh", host.alias, "--ssh-option", host.ssh_option,
                   "--url", api.url, "--log-file", str(remote_log), "--format", "json")
    report = json.loads(done.stdout)
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses.pop("containers") == "skipped"
    assert set(statuses.values()) == {"ok"}, done.stdout
    assert done.returncode == 0
    errors = next(c for c in report["checks"] if c["id"] == "errors")
    assert errors["data"]["source"] == "log" and errors["data"]["lines"] == 2
    assert report["target"].endswith(f"via ssh {host.alias}")


def test_unreachable_ssh_host_makes_every_check_unknown(host: sshd.LoopbackSshd) -> None:
    done = run("check", "--ssh", "nobody@127.0.0.1", "--ssh-option", "-p 1",
               "--format", "nagios")
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.startswith("ATP UNKNOWN - ")


def test_logs_over_ssh_filters_by_marker(host: sshd.LoopbackSshd, remote_log: Path) -> None:
    done = run("logs", "--ssh", host.alias, "--ssh-option", host.ssh_option,
               "--log-file", str(remote_log), "--marker", "ALERT_EMIT_FINAL")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and "[ALERT_EMIT_FINAL] symbol=ETH_USDT" in lines[0]
    assert not lines[0].startswith("{")


def test_runbook_entry_points_are_thin_wrappers(host: sshd.LoopbackSshd, remote_log: Path,
                                                tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "ATP_SSH_HOST": host.alias, "ATP_COMPOSE_PROJECT": "atp-prod",
           "ATP_BIN": str(Path(sys.executable).parent / "atp")}
    with PayloadServer() as api:
        done = subprocess.run(
            ["bash", str(root / "scripts/check_runtime_health_aws.sh"), "--ssh-option",
             host.ssh_option, "--url", api.url, "--format", "json"],
            capture_output=True, text=True, timeout=60, env=env, check=False)
    report = json.loads(done.stdout)
    assert [c["id"] for c in report["checks"]] == ["backend_health"]
    assert report["status"] == "ok" and done.returncode == 0
    logs = subprocess.run(
        ["bash", str(root / "scripts/aws_backend_logs.sh"), "--ssh-option", host.ssh_option,
         "--log-file", str(remote_log), "--tail", "1"],
        capture_output=True, text=True, timeout=60, env=env, check=False)
    assert logs.returncode == 0, logs.stderr
    assert "[DEBUG_SIGNAL_MONITOR] cycle=3" in logs.stdout


def test_host_resources_over_ssh_reads_the_remote_disk_and_memory(
        host: sshd.LoopbackSshd, remote_log: Path, tmp_path: Path) -> None:
    """One `df`/meminfo command over the master connection; a threshold forces the
    warning; a data path the host does not have is named, not fatal."""
    data = tmp_path / "data"
    data.mkdir()
    with PayloadServer() as api:
        done = run("check", "--ssh", host.alias, "--ssh-option", host.ssh_option,
                   "--url", api.url, "--log-file", str(remote_log), "--check",
                   "host_resources", "--data-path", str(data), "--data-path", "/no/such/dir",
                   "--threshold", "disk_warn_pct=99.9", "--format", "json")
    report = json.loads(done.stdout)
    [result] = report["checks"]
    assert result["id"] == "host_resources" and result["status"] == "warning", done.stdout
    assert done.returncode == 1
    assert result["data"]["host"] == f"ssh {host.alias}"
    assert result["data"]["memory"]["total_bytes"] > 0
    assert any(str(data) in " ".join(d["paths"]) for d in result["data"]["disks"])
    assert any("/no/such/dir" in line and "cannot read" in line for line in result["details"])
    assert result["remediation"].startswith("free space on ")
