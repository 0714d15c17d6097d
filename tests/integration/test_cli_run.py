"""`atp run` refuses to start without what it needs (failure mode 5)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from atp.cli.main import app


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "ALERTS_ENABLED", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_refuses_without_telegram_and_names_both_fields():
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "TELEGRAM_BOT_TOKEN: missing" in result.stderr
    assert "TELEGRAM_CHAT_ID: missing" in result.stderr
    assert "ALERTS_ENABLED=false" in result.stderr


def test_refuses_an_unmigrated_database(monkeypatch, tmp_path):
    monkeypatch.setenv("ALERTS_ENABLED", "false")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "atp db upgrade" in result.stderr


def _start(tmp_path, **env: str):
    """A real `atp run` process: start-up failures must be one line and exit 2, never a
    traceback or a crash loop (issue 14, item 8)."""
    import os
    import subprocess

    from atp.store import migrate
    from tests.processes import ATP

    db = tmp_path / "atp.db"
    migrate.upgrade(f"sqlite:///{db}")
    port = env.pop("_PORT", "0")
    full = {k: v for k, v in os.environ.items() if k != "LOG_FILE"}
    full.update({"ALERTS_ENABLED": "false", "DATABASE_URL": f"sqlite:///{db}",
                 "EXCHANGE_BASE_URL": "http://127.0.0.1:9", **env})
    return subprocess.run([ATP, "run", "--port", port], env=full,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def _one_line_error(done, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-2000:]
    [line] = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert "fix:" in line and all(w in line for w in words), line


def test_log_file_pointing_at_a_directory_is_one_line(tmp_path):
    (tmp_path / "logs").mkdir()
    _one_line_error(_start(tmp_path, LOG_FILE=str(tmp_path / "logs")), "LOG_FILE", "directory")


def test_a_read_only_database_is_one_line(tmp_path):
    url = f"sqlite:///file:{tmp_path / 'atp.db'}?mode=ro&uri=true"
    _one_line_error(_start(tmp_path, DATABASE_URL=url), "readonly", "writable")


def test_the_api_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _one_line_error(_start(tmp_path, _PORT=str(port)), f":{port}", "--port 0")


def test_a_monitor_that_makes_no_progress_ends_the_process_for_the_restart_policy(tmp_path):
    """Docker never restarts an unhealthy container: after STALL_EXIT_INTERVALS intervals
    without a completed cycle `atp run` exits 3 (issue 13, item 6). The exchange answers
    every call 30 s late, and a cycle gives up on it only after 5 s (the shortest
    per-cycle exchange deadline), so no cycle completes within the 3 intervals of 1 s."""
    import subprocess
    import time

    from tests.processes import ATP, read_port_file

    port_file = tmp_path / "emu-port"
    emu = subprocess.Popen([ATP, "emulate", "exchange", "--port", "0", "--port-file",
                            str(port_file), "--fault", "slow:30"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = read_port_file(port_file, emu, 60)
        started = time.monotonic()
        done = _start(tmp_path, EXCHANGE_BASE_URL=f"http://127.0.0.1:{port}",
                      MONITOR_INTERVAL_SECONDS="1", STALL_EXIT_INTERVALS="3")
        took = time.monotonic() - started
    finally:
        emu.terminate()
        emu.wait(10)
    assert done.returncode == 3, (done.returncode, done.stderr[-1500:], done.stdout[-1500:])
    assert "[WATCHDOG] monitor completed no cycle" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert took < 45, took


def test_sigterm_stops_within_five_seconds_with_a_cycle_in_flight(tmp_path):
    """SIGTERM ends `atp run` in < 5 s even while a cycle waits on a hung exchange
    (issue 14, item 8): the platform cancels its tasks instead of waiting them out."""
    import os
    import signal
    import subprocess
    import time

    from atp.store import migrate
    from tests.processes import ATP, read_port_file

    emu_port = tmp_path / "emu-port"
    emu = subprocess.Popen([ATP, "emulate", "exchange", "--port", "0", "--port-file",
                            str(emu_port), "--fault", "slow:30"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = read_port_file(emu_port, emu, 60)
        db = tmp_path / "atp.db"
        migrate.upgrade(f"sqlite:///{db}")
        env = {k: v for k, v in os.environ.items() if k != "LOG_FILE"}
        env.update({"ALERTS_ENABLED": "false", "DATABASE_URL": f"sqlite:///{db}",
                    "EXCHANGE_BASE_URL": f"http://127.0.0.1:{port}",
                    "MONITOR_INTERVAL_SECONDS": "1"})
        api_port = tmp_path / "api-port"
        run = subprocess.Popen([ATP, "run", "--port", "0", "--port-file", str(api_port)],
                               env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        read_port_file(api_port, run, 60)
        time.sleep(2)  # let a cycle start and hang on the exchange (the state under test)
        started = time.monotonic()
        run.send_signal(signal.SIGTERM)
        try:
            code = run.wait(10)
        finally:
            if run.poll() is None:
                run.kill()
        took = time.monotonic() - started
        err = run.stderr.read().decode(errors="replace") if run.stderr else ""
    finally:
        emu.terminate()
        emu.wait(10)
    assert code == 0 and took < 5, (code, took, err[-1000:])
    assert "Traceback" not in err


def test_sigterm_stops_within_five_seconds_during_a_polling_conflict_storm(tmp_path):
    """SIGTERM ends `atp run` in < 5 s while every getUpdates answers 409 (another poller
    on the token) and the poller backs off between them (issue 14, item 8: shutdown took
    12-35 s in such a storm)."""
    import os
    import signal
    import subprocess
    import time

    from atp.store import migrate
    from tests.processes import ATP, read_port_file

    emu_port, tg_port = tmp_path / "emu-port", tmp_path / "tg-port"
    emu = subprocess.Popen([ATP, "emulate", "exchange", "--port", "0", "--port-file",
                            str(emu_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tg = subprocess.Popen([ATP, "emulate", "telegram", "--port", "0", "--port-file",
                           str(tg_port), "--fault", "conflict"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = read_port_file(emu_port, emu, 60)
        tport = read_port_file(tg_port, tg, 60)
        db = tmp_path / "atp.db"
        migrate.upgrade(f"sqlite:///{db}")
        log = tmp_path / "atp.log"
        env = {k: v for k, v in os.environ.items() if k != "LOG_FILE"}
        env.update({"DATABASE_URL": f"sqlite:///{db}", "LOG_FILE": str(log),
                    "EXCHANGE_BASE_URL": f"http://127.0.0.1:{port}",
                    "TELEGRAM_BOT_TOKEN": "780:sigterm-storm-token", "TELEGRAM_CHAT_ID": "558",
                    "TELEGRAM_API_BASE": f"http://127.0.0.1:{tport}",
                    "MONITOR_INTERVAL_SECONDS": "1"})
        api_port = tmp_path / "api-port"
        run = subprocess.Popen([ATP, "run", "--port", "0", "--port-file", str(api_port)],
                               env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        read_port_file(api_port, run, 60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
                not log.exists() or log.read_text().count("getUpdates conflict (409)") < 2):
            time.sleep(0.2)  # the state under test: the storm has begun, the poller backs off
        assert log.read_text().count("getUpdates conflict (409)") >= 2
        started = time.monotonic()
        run.send_signal(signal.SIGTERM)
        try:
            code = run.wait(10)
        finally:
            if run.poll() is None:
                run.kill()
        took = time.monotonic() - started
        err = run.stderr.read().decode(errors="replace") if run.stderr else ""
    finally:
        for p in (emu, tg):
            p.terminate()
            p.wait(10)
    assert code == 0 and took < 5, (code, took, err[-1000:])
    assert "Traceback" not in err
