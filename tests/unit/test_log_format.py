"""`LOG_FORMAT=text` on stdout: the runbook's greps find their lines (ERROR included), and
the readers (`atp logs`, the `errors` check) parse text lines as they parse JSON lines."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from atp.integrity.sources.logs import BytesLog, parse_line, scan_errors
from atp.logging import ALERT_EMIT, MONITOR, get_logger, log_marker, log_markers, setup_logging

# The runbook's manual steps b–f, as `grep -E` patterns.
RUNBOOK_GREPS = {
    "b": r"DEBUG_SIGNAL_MONITOR|SignalMonitorService|_run_signal_monitor",
    "d": r"ALERT_EMIT_FINAL|send_buy_signal|send_sell_signal",
    "f": r"Traceback|Exception|ERROR",
}


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Path]:
    """The log file; stdout is set up by `_emit`, inside the test, where capsys has
    replaced sys.stdout (a handler binds the stream it is given)."""
    log_file = tmp_path / "atp.log"
    yield log_file
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_atp", False):
            logging.getLogger().removeHandler(handler)
            handler.close()


def _emit(log_file: Path) -> None:
    setup_logging("INFO", str(log_file), console=True, fmt="text")
    log = get_logger("atp.test")
    log_marker(log, ALERT_EMIT, symbol="ETH_USDT", side="BUY", status="success",
               decision_id="d-1", message_id=7, call="send_buy_signal")
    log_markers("atp.monitor", [(MONITOR, {"cycle": 3, "symbols": 2, "duration_ms": 12.5})])
    log.error("alert send failed", symbol="BTC_USDT", error="chat not found")
    try:
        raise ValueError("bad reply")
    except ValueError:
        log.exception("cycle failed", cycle=3)


def test_stdout_is_text_lines_the_runbook_greps_find(
        logged: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _emit(logged)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert not any(ln.startswith("{") for ln in lines), out  # text, not JSON, on stdout
    emit = [ln for ln in lines if re.search(RUNBOOK_GREPS["d"], ln)]
    assert len(emit) == 1 and " INFO atp.test [ALERT_EMIT_FINAL] symbol=ETH_USDT | " in emit[0]
    assert [ln for ln in lines if re.search(RUNBOOK_GREPS["b"], ln)]
    errors = [ln for ln in lines if re.search(RUNBOOK_GREPS["f"], ln)]
    # the error without a traceback is found by its upper-case level
    assert any(" ERROR atp.test alert send failed" in ln and "error=\"chat not found\"" in ln
               for ln in errors), errors
    assert any("Traceback" in ln for ln in errors) and "ValueError: bad reply" in out
    # the file keeps JSON lines, whatever the console's format
    records = [json.loads(ln) for ln in logged.read_text().splitlines()]
    assert {r["level"] for r in records} == {"info", "error"}


def test_text_lines_parse_like_json_lines(logged: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _emit(logged)
    text_lines = capsys.readouterr().out.splitlines()
    json_lines = logged.read_text().splitlines()
    emit_text = parse_line(next(ln for ln in text_lines if "ALERT_EMIT_FINAL" in ln))
    emit_json = parse_line(next(ln for ln in json_lines if "ALERT_EMIT_FINAL" in ln))
    assert emit_text.marker == emit_json.marker == "ALERT_EMIT_FINAL"
    assert emit_text.timestamp is not None and emit_text.level == "info"
    assert emit_text.fields["symbol"] == "ETH_USDT" and emit_text.fields["message_id"] == "7"
    error = parse_line(next(ln for ln in text_lines if "alert send failed" in ln))
    assert (error.level, error.event.strip(), error.fields["error"]) == \
        ("error", "alert send failed", "chat not found")


def test_errors_scan_counts_text_and_json_logs_alike(
        logged: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _emit(logged)
    text = capsys.readouterr().out.encode()
    from_text = scan_errors(BytesLog(text))
    from_json = scan_errors(BytesLog(logged.read_bytes()))
    assert from_text.unexpected == from_json.unexpected
    assert from_text.unexpected["ValueError"] == 1  # the class from the indented traceback
    assert from_text.tracebacks == from_json.tracebacks == 1
    assert sum(from_text.unexpected.values()) == 2


def test_json_format_on_stdout_for_log_shippers(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", None, console=True, fmt="json")
    try:
        get_logger("atp.test").warning("disk low", free_mb=12)
        [line] = capsys.readouterr().out.splitlines()
        record = json.loads(line)
        assert (record["level"], record["event"], record["free_mb"]) == ("warning",
                                                                         "disk low", 12)
    finally:
        setup_logging("INFO", None, console=False)
    with pytest.raises(ValueError, match="text, json"):
        setup_logging("INFO", None, fmt="xml")
