"""LOG_FILE is size-bounded (LOG_MAX_BYTES, LOG_BACKUPS) and `atp logs` still finds the
lines that rotated into LOG_FILE.1 … LOG_FILE.N."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atp.cli.main import app
from atp.config import SettingsError, load_settings
from atp.integrity.sources.logs import FileLog, iter_records, scan_errors
from atp.logging import get_logger, log_markers, setup_logging

MAX_BYTES, BACKUPS = 4000, 3


@pytest.fixture()
def rotated(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "logs" / "atp.log"
    setup_logging("INFO", str(path), console=False, max_bytes=MAX_BYTES, backups=BACKUPS)
    log = get_logger("atp.test")
    for i in range(200):
        log.info(f"record {i:03d}", n=i)
        if i % 10 == 9:  # the monitor's batched marker lines rotate too
            log_markers("atp.monitor", [("DEBUG_SIGNAL_MONITOR", {"cycle": i, "symbol": s})
                                        for s in ("A_USDT", "B_USDT")])
    log.error("boom", exc_info=ValueError("boom"))
    yield path
    setup_logging("INFO", None, console=False)


def stored(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for f in FileLog(path).files() for x in f.read_text().splitlines()]


def test_log_file_rotates_at_max_bytes_and_keeps_backups(rotated: Path) -> None:
    names = sorted(p.name for p in rotated.parent.iterdir())
    assert names == ["atp.log", "atp.log.1", "atp.log.2", "atp.log.3"]
    for p in rotated.parent.iterdir():
        assert p.stat().st_size < MAX_BYTES + 1000  # bounded (one batch may overshoot)
    events = [r["event"] for r in stored(rotated)]
    assert "record 000" not in events  # the oldest rotated away: disk use is bounded
    numbered = [e for e in events if e.startswith("record ")]
    assert numbered == sorted(numbered) and numbered[-1] == "record 199"  # oldest first


def test_atp_logs_since_reads_the_rotated_files(rotated: Path) -> None:
    oldest_kept = next(r["event"] for r in stored(rotated) if r["event"].startswith("record"))
    result = CliRunner().invoke(app, ["logs", "--log-file", str(rotated), "--since", "1h",
                                      "--raw"])
    assert result.exit_code == 0, result.output
    events = [json.loads(x)["event"] for x in result.stdout.splitlines()]
    assert events == [r["event"] for r in stored(rotated)]
    assert oldest_kept in events and "record 199" in events
    assert (rotated.parent / "atp.log.3").read_text().splitlines()[0] in result.stdout


def test_atp_logs_tail_reads_older_files_only_when_needed(rotated: Path) -> None:
    all_events = [r["event"] for r in stored(rotated)]
    current = len((rotated).read_text().splitlines())
    want = current + 3
    result = CliRunner().invoke(app, ["logs", "--log-file", str(rotated), "--tail",
                                      str(want), "--raw"])
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["event"] for x in result.stdout.splitlines()] == all_events[-want:]


def test_a_window_opens_only_the_files_it_reaches(rotated: Path) -> None:
    log = FileLog(rotated)
    assert len(log.files(datetime.now(UTC) - timedelta(hours=1))) == BACKUPS + 1
    assert log.files(datetime.now(UTC) + timedelta(hours=1)) == [rotated]
    assert scan_errors(log, datetime.now(UTC) - timedelta(hours=1)).unexpected
    assert len(list(iter_records(log.blocks()))) == len(stored(rotated))


@pytest.mark.parametrize(("name", "value"), [("LOG_MAX_BYTES", "-1"), ("LOG_BACKUPS", "0"),
                                             ("LOG_BACKUPS", "many")])
def test_rotation_settings_are_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         name: str, value: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert f"{name}:" in err.value.render() and f"fix: set {name}" in err.value.render()


def test_rotation_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert (s.log_max_bytes, s.log_backups) == (50_000_000, 5)
