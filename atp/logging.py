"""Structured logging and the runbook's markers (product.md §5) as named helpers.

Each marker record's `event` is the greppable text the runbook knows
(`[ALERT_EMIT_FINAL] symbol=X | side=BUY | ...`) and its other keys carry the same values
typed. The console (stdout, what `docker logs NAME | grep …` pipes) gets `LOG_FORMAT`:
`text` (default) is one line per record — time, upper-case level, logger, the marker text
and `key=value` fields — so every grep of the runbook, `ERROR` included, finds its lines;
`json` is for log shippers. `LOG_FILE` is always JSON lines: the record `atp logs` and
`atp check` read (they parse both forms, so `docker logs` works with either).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import structlog

MONITOR = "DEBUG_SIGNAL_MONITOR"
STRATEGY = "DEBUG_STRATEGY_FINAL"
ALERT_EMIT = "ALERT_EMIT_FINAL"
ALERT_THROTTLED = "ALERT_THROTTLED"
CRYPTO_AUTH = "CRYPTO_AUTH_DIAG"
TG = "TG"
WATCHDOG = "WATCHDOG"  # watchdog and other system messages: never ALERT_EMIT_FINAL
PROBE = "PROBE"  # a TEST-marked probe's stages: never ALERT_EMIT_FINAL either
MARKERS = (MONITOR, STRATEGY, ALERT_EMIT, ALERT_THROTTLED, CRYPTO_AUTH, TG, WATCHDOG, PROBE)

LOG_FORMATS = ("text", "json")
_TEXT_SKIP = frozenset({"event", "level", "timestamp", "logger", "marker", "exception"})

_configured = False


def _value(value: Any) -> str:
    text = _render(value)
    return f'"{text}"' if (" " in text or not text) else text


def render_text(record: dict[str, Any]) -> str:
    """One record as a text line: `2026-12-02T10:00:00.123Z INFO atp.alerts [MARKER] k=v |
    k=v`; other records get their extra fields as `key=value`, a traceback follows on
    indented lines. The level is upper case so the runbook's `grep ERROR` finds errors
    that have no traceback."""
    stamp = str(record.get("timestamp", "")).replace("+00:00", "Z")
    level = str(record.get("level", "info")).upper()
    logger = record.get("logger") or "-"
    event = str(record.get("event", ""))
    line = f"{stamp} {level} {logger} {event}"
    if not record.get("marker"):
        extra = [f"{k}={_value(v)}" for k, v in record.items() if k not in _TEXT_SKIP]
        if extra:
            line += " " + " ".join(extra)
    exc = record.get("exception")
    if exc:
        line += "\n" + "\n".join("    " + ln for ln in str(exc).rstrip().splitlines())
    return line


def _text_renderer(_logger: Any, _name: str, event_dict: dict[str, Any]) -> str:
    return render_text(event_dict)


def _formatter(fmt: str) -> logging.Formatter:
    renderer: Any = _text_renderer if fmt == "text" else structlog.processors.JSONRenderer()
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=_shared_processors(),
    )


def setup_logging(level: str = "INFO", log_file: str | None = None, console: bool = True,
                  fmt: str = "text", max_bytes: int = 50_000_000, backups: int = 5) -> None:
    """The console (stdout) in `fmt` (text | json) and JSON lines to `log_file`, rotated
    at `max_bytes` (0 = never) into `log_file.1` … `log_file.<backups>`: a server's disk
    has filled up with an unbounded log before."""
    global _configured
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(LOG_FORMATS)}")
    handlers: list[tuple[logging.Handler, str]] = []
    if console:
        handlers.append((logging.StreamHandler(sys.stdout), fmt))
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append((RotatingFileHandler(log_file, maxBytes=max_bytes,
                                             backupCount=max(1, backups), encoding="utf-8"),
                         "json"))
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_atp", False):
            root.removeHandler(handler)
    for handler, form in handlers:
        handler.setFormatter(_formatter(form))
        handler._atp = True  # type: ignore[attr-defined]
        handler._atp_format = form  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Chatty libraries stay at WARNING so the structured log is the platform's story.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler", "aiohttp.access", "ccxt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not _configured:
        structlog.configure(
            processors=[
                *_shared_processors(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=True,
        )
        _configured = True


def _shared_processors() -> list[Any]:
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def _render(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def marker(name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """The text `[NAME] k=v | k=v` and the fields, for one marker line."""
    text = f"[{name}] " + " | ".join(f"{k}={_render(v)}" for k, v in fields.items())
    return text, {"marker": name, **fields}


def log_marker(logger: Any, name: str, level: Any = "info", **fields: object) -> None:
    text, data = marker(name, **fields)
    getattr(logger, level)(text, **data)


def log_markers(logger_name: str, lines: list[tuple[str, dict[str, Any]]]) -> None:
    """Many INFO marker lines at once (one per symbol per cycle): the same JSON lines as
    `log_marker`, rendered with the C JSON encoder and written in one block per handler.

    Per-line structlog processing of 2,000 lines a cycle held the GIL long enough to
    stall /api/health by 100+ ms (failure mode 10); this keeps it to a few ms.
    """
    std = logging.getLogger(logger_name)
    if not std.isEnabledFor(logging.INFO):
        return
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_atp", False)]
    if not handlers or std.handlers or not std.propagate:
        log = get_logger(logger_name)
        for name, fields in lines:
            log_marker(log, name, **fields)
        return
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    records = []
    for name, fields in lines:
        text, data = marker(name, **fields)
        records.append({"event": text, **data, "level": "info", "logger": logger_name,
                        "timestamp": stamp})
    blocks: dict[str, str] = {}
    for handler in handlers:
        stream = getattr(handler, "stream", None)
        if stream is None or not handler.level <= logging.INFO:
            continue
        form = getattr(handler, "_atp_format", "json")
        if form not in blocks:
            render = render_text if form == "text" else (
                lambda r: json.dumps(r, default=str))
            blocks[form] = "\n".join(render(r) for r in records) + "\n"
        block = blocks[form]
        handler.acquire()
        try:
            stream.write(block)
            handler.flush()
            # Written past the handler's own size check: rotate here, as emit() would.
            if isinstance(handler, RotatingFileHandler) and handler.maxBytes > 0 \
                    and stream.tell() >= handler.maxBytes:
                handler.doRollover()
        finally:
            handler.release()
