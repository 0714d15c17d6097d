"""Structured logging and the runbook's markers (product.md §5) as named helpers.

Each marker line is one JSON object whose `event` is the greppable text the runbook knows
(`[ALERT_EMIT_FINAL] symbol=X | side=BUY | ...`) and whose other keys carry the same
values typed, so `atp logs` filters fields while old greps keep working.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
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
MARKERS = (MONITOR, STRATEGY, ALERT_EMIT, ALERT_THROTTLED, CRYPTO_AUTH, TG, WATCHDOG)

_configured = False


def setup_logging(level: str = "INFO", log_file: str | None = None, console: bool = True) -> None:
    """JSON lines to `log_file` (read by `atp logs`) and, optionally, to stderr."""
    global _configured
    handlers: list[logging.Handler] = []
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_atp", False):
            root.removeHandler(handler)
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=_shared_processors(),
    )
    for handler in handlers:
        handler.setFormatter(formatter)
        handler._atp = True  # type: ignore[attr-defined]
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
    rendered = []
    for name, fields in lines:
        text, data = marker(name, **fields)
        record = {"event": text, **data, "level": "info", "logger": logger_name,
                  "timestamp": stamp}
        rendered.append(json.dumps(record, default=str))
    block = "\n".join(rendered) + "\n"
    for handler in handlers:
        stream = getattr(handler, "stream", None)
        if stream is None or not handler.level <= logging.INFO:
            continue
        handler.acquire()
        try:
            stream.write(block)
            handler.flush()
        finally:
            handler.release()
