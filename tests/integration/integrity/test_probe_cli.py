"""`atp check --probe` without a token says exactly what to set; bad probe / threshold
options are one-line errors naming the option (exit 3, like every unusable check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ATP = [sys.executable, "-m", "atp.cli.main", "check"]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "ATP_API_TOKEN")}
    env["ATP_STATE_DIR"] = str(tmp_path / "state")  # no running platform to borrow from
    return subprocess.run([*ATP, *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=tmp_path, env=env)


def test_probe_without_a_token_names_the_variable_and_the_flag(tmp_path: Path) -> None:
    done = run(tmp_path, "--url", "http://127.0.0.1:9", "--check", "end_to_end",
               "--format", "json")
    [result] = json.loads(done.stdout)["checks"]
    assert result["id"] == "end_to_end" and result["status"] == "unknown"
    assert "API_TOKEN" in result["remediation"] and "ATP_API_TOKEN" in result["remediation"]
    assert "--api-token" in result["remediation"]
    assert done.returncode == 3


def test_bad_probe_and_threshold_options_are_named(tmp_path: Path) -> None:
    done = run(tmp_path, "--probe", "--probe-timeout", "soon")
    assert done.returncode == 3 and "--probe-timeout" in done.stderr + done.stdout
    done = run(tmp_path, "--threshold", "disk_free=3")
    assert done.returncode == 3 and "unknown threshold 'disk_free'" in done.stderr + done.stdout
