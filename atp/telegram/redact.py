"""Keep bot tokens out of logs and error texts.

The Bot API puts the token in every URL (`/bot<token>/sendMessage`), so python-telegram-bot,
httpx and httpcore can echo it in log lines and exception messages (PTB's own
`InvalidToken` message quotes it). Everything leaving this package goes through `redact`,
and `install_log_redaction` scrubs log records made anywhere in the process.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote

REDACTED = "<redacted-token>"

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def _variants(token: str) -> set[str]:
    out = {token, quote(token, safe=""), quote(token)}
    _, sep, secret = token.partition(":")
    if sep and len(secret) >= 8:
        out.add(secret)  # the secret half alone is still the credential
    return {v for v in out if v}


def redact(text: str, *tokens: str) -> str:
    """`text` with the given tokens (and every token registered for logs) replaced."""
    secrets = set(_secrets)
    for token in tokens:
        if token:
            secrets |= _variants(token)
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def install_log_redaction(token: str) -> None:
    """Scrub `token` from every log record created from now on, in any logger.

    A LogRecord factory is used (not a handler filter) because records from
    `httpx`, `telegram.ext.*` and friends reach handlers we do not own.
    """
    global _installed
    if not token:
        return
    with _lock:
        _secrets.update(_variants(token))
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub_record(record)
            return record

        logging.setLogRecordFactory(factory)


def _scrub_record(record: logging.LogRecord) -> None:
    if not _secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is the logging module's problem, not ours
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = redact(text)
        if clean != text:
            # Formatters print exc_text when set; drop exc_info so they cannot re-render it.
            record.exc_text, record.exc_info = clean, None
