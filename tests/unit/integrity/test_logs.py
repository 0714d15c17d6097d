"""The errors scan and `atp logs` parsing over generated structured logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from atp.integrity.checks import errors
from atp.integrity.report import Status
from atp.integrity.sources.logs import (
    BytesLog,
    FileLog,
    format_record,
    iter_records,
    parse_line,
    scan_errors,
)

from .fakes import context, load

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def line(event: str, level: str = "info", at: datetime = T0, **fields: object) -> str:
    return json.dumps({"event": event, "level": level, "logger": "atp.test",
                       "timestamp": at.isoformat().replace("+00:00", "Z"), **fields})


TRACE = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
         "ValueError: boom")


def test_scan_counts_by_class_and_separates_expected_and_attributed() -> None:
    text = "\n".join([
        line("[DEBUG_SIGNAL_MONITOR] cycle=1 | symbols=3", marker="DEBUG_SIGNAL_MONITOR"),
        line("monitor cycle failed", "error", exception=TRACE),
        line("monitor cycle failed", "error", exception=TRACE),
        line("fetch failed", "error", error="RequestTimeout: cryptocom GET timed out"),
        line("[CRYPTO_AUTH_DIAG] category=auth | diagnosis=wrong key", "error",
             marker="CRYPTO_AUTH_DIAG"),
        line("[TG] poller could not poll: Unauthorized", "error"),
        line("info mentioning Exception in text"),
        "Traceback (most recent call last):",
        '  File "/app/x.py", line 3, in <module>',
        "KeyError: 'ERROR'",
        "plain ERROR line from uvicorn",
    ]) + "\n"
    scan = scan_errors(BytesLog(text.encode()).blocks())
    assert scan.unexpected["ValueError"] == 2
    assert scan.unexpected["KeyError"] == 1
    assert scan.expected["RequestTimeout"] == 1
    assert scan.attributed == {"exchange_auth": 1, "telegram": 1}
    assert scan.tracebacks == 3
    assert sum(scan.unexpected.values()) == 4  # + the plain ERROR line
    assert scan.lines == 11


def test_order_refusals_are_order_executions_not_unexpected_errors() -> None:
    refusal = ("exchange call failed | diagnosis=rejected by the exchange | kind=rejected | "
               "code={code} | operation={op} | attempt=1 | will_retry=False | fix=…")
    text = "\n".join([
        line(refusal.format(code=140001, op="private/advanced/create-oco"), "error"),
        line(refusal.format(code=306, op="private/create-order"), "error"),
        line(refusal.format(code=209, op="fetch_ticker"), "error"),  # not an order call
    ]) + "\n"
    scan = scan_errors(BytesLog(text.encode()).blocks())
    assert scan.attributed == {"order_execution": 2}
    assert sum(scan.unexpected.values()) == 1


def test_scan_respects_the_window() -> None:
    old = line("old failure", "error", at=T0 - timedelta(hours=2), exception=TRACE)
    new = line("[DEBUG_SIGNAL_MONITOR] cycle=2", at=T0)
    scan = scan_errors(BytesLog(f"{old}\n{new}\n".encode()).blocks(), since=T0 - timedelta(1 / 24))
    assert not scan.unexpected


def test_file_log_bisects_to_the_window_and_reads_everything_after(tmp_path: Path) -> None:
    path = tmp_path / "atp.log"
    lines = [line(f"event {i}", at=T0 + timedelta(seconds=i)) for i in range(20000)]
    path.write_text("\n".join(lines) + "\n")
    since = T0 + timedelta(seconds=15000)
    records = list(iter_records(FileLog(path).blocks(since)))
    first = [r for r in records if r.timestamp and r.timestamp >= since]
    assert len(first) == 5000
    assert len(records) - len(first) < 1000  # skipped almost all of the past
    assert len(list(iter_records(FileLog(path).blocks()))) == 20000


def test_format_record_is_human_readable() -> None:
    rec = parse_line(line("[ALERT_EMIT_FINAL] symbol=X | side=BUY | status=success",
                          marker="ALERT_EMIT_FINAL", symbol="X"))
    assert format_record(rec) == ("2026-01-01 12:00:00Z INFO    atp.test  "
                                  "[ALERT_EMIT_FINAL] symbol=X | side=BUY | status=success")
    rec = parse_line(line("boom", "error", exception=TRACE))
    assert format_record(rec).splitlines()[-1] == "    ValueError: boom"
    assert parse_line("not json").raw == "not json"


async def test_errors_check_from_log_and_from_journal(tmp_path: Path) -> None:
    p = load()
    now = context(p).now
    path = tmp_path / "atp.log"
    path.write_text(line("cycle failed", "error", at=now - timedelta(seconds=30),
                         exception=TRACE) + "\n")
    result = await errors.run(context(p, logs=FileLog(path)))
    assert result.status is Status.CRITICAL and "ValueError" in result.summary
    path.write_text(line("ok", at=now) + "\n")
    assert (await errors.run(context(p, logs=FileLog(path)))).status is Status.OK
    journal = await errors.run(context(p))
    assert journal.status is Status.OK and journal.data["source"] == "journal"
    p["/api/events"].append({"id": 1000, "at": p["now"], "type": "monitor_cycle_failed",
                             "severity": "error", "symbol": None, "decision_id": None,
                             "instance": "demo", "message": "ValueError: boom", "payload": {}})
    assert (await errors.run(context(p))).status is Status.CRITICAL


async def test_unreadable_log_makes_errors_unknown(tmp_path: Path) -> None:
    from atp.integrity.runner import evaluate

    report = await evaluate(context(load(), logs=FileLog(tmp_path / "missing.log")),
                            only=["errors"])
    assert report.check("errors").status is Status.UNKNOWN
    assert report.exit_code == 3


def test_json_parts_get_the_json_needles_and_text_parts_the_text_ones() -> None:
    """A log cut into chunks, each sampled for its format: a JSON part finds its error
    records and a raw traceback inside it; a text part (stdout, docker logs) its upper-case
    level lines. (A few text lines inside a JSON chunk are not sampled: a LOG_FILE is JSON
    lines only, a console stream one format.)"""
    from atp.integrity.sources import logs

    json_line = b'{"event": "ok", "level": "info", "timestamp": "2026-12-02T08:00:00Z"}\n'
    error = (b'{"event": "boom", "error": "ValueError: boom", "level": "error", '
             b'"timestamp": "2026-12-02T08:00:01Z"}\n')
    raw = b"Traceback (most recent call last):\n  File \"x.py\", line 1\nOSError: disk\n"
    text = (b"2026-12-02 08:00:02 ERROR atp.test alert send failed "
            b"error=\"KeyError: chat\"\n")
    filler = json_line * (logs.CHUNK // len(json_line) + 10)
    scan = logs.scan_errors([filler + error + raw + filler])
    assert (scan.unexpected["ValueError"], scan.unexpected["OSError"]) == (1, 1)
    text_part = b"2026-12-02 08:00:00 INFO atp.test fine\n" * 200_000
    scan = logs.scan_errors([filler + text_part + text + text_part])
    assert sum(scan.unexpected.values()) == 1, scan.unexpected
