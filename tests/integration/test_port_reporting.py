"""Servers started as processes on port 0 report the port they bound (`--port-file`), so
a test never guesses a free port another process can take first."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from atp.cli.check import local_log_file, local_token
from tests.processes import ATP, read_port_file


@pytest.mark.parametrize(("argv", "path"), [
    (["emulate", "exchange", "--symbols", "3"], "/_emulator/faults"),
    (["emulate", "telegram"], "/_emulator/faults"),
])
def test_emulator_on_port_zero_writes_the_port_it_bound(tmp_path, argv, path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen([ATP, *argv, "--port", "0", "--port-file", str(port_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port = read_port_file(port_file, proc, 30)
        assert port > 0
        assert httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_check_reads_token_and_log_file_from_env_then_dotenv(tmp_path, monkeypatch):
    """`atp check` reads API_TOKEN / LOG_FILE as `atp run` would, without pydantic."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.delenv("LOG_FILE", raising=False)
    assert local_token() is None and local_log_file() is None
    (tmp_path / ".env").write_text("api_token=from-dotenv\nLOG_FILE=\n")
    assert local_token() == "from-dotenv"
    assert local_log_file() is None  # empty counts as unset, as for the settings
    monkeypatch.setenv("API_TOKEN", "from-env")
    monkeypatch.setenv("LOG_FILE", "/var/log/atp.log")
    assert local_token() == "from-env" and local_log_file() == "/var/log/atp.log"
