"""ATP's send errors: the only Telegram failures callers of the sender ever see.

The sender translates, the outbox worker decides: a transient error is retried later
(honouring `retry_after`), a permanent one ends the message as FAILED with `reason`.
`reason` is safe to store and show: it never contains the bot token.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from enum import StrEnum

from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from atp.telegram.redact import redact


class SendErrorKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    NETWORK = "network"  # connection refused/reset, 5xx, unreadable answer
    BLOCKED = "blocked"  # 403: bot blocked, kicked, or not allowed to write
    CHAT_NOT_FOUND = "chat_not_found"
    CHAT_MIGRATED = "chat_migrated"
    INVALID_TOKEN = "invalid_token"
    BAD_REQUEST = "bad_request"


class SendError(Exception):
    """A message was not delivered; `reason` says why in words safe to store."""

    def __init__(self, reason: str, kind: SendErrorKind) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class TransientSendError(SendError):
    """Try again later: after `retry_after` seconds if Telegram said so."""

    def __init__(
        self, reason: str, retry_after: float | None = None,
        kind: SendErrorKind = SendErrorKind.NETWORK,
    ) -> None:
        super().__init__(reason, kind)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Retrying cannot help (blocked, chat not found, bad token, malformed message)."""

    def __init__(self, reason: str, kind: SendErrorKind = SendErrorKind.BAD_REQUEST) -> None:
        super().__init__(reason, kind)


def retry_after_seconds(exc: RetryAfter) -> float:
    """`RetryAfter.retry_after` in seconds, whichever type PTB_TIMEDELTA makes it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB's int→timedelta migration warning
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def classify(exc: BaseException, token: str) -> SendError:
    """Translate a python-telegram-bot (or transport) error; the token is scrubbed out."""
    text = redact(str(exc), token) or type(exc).__name__
    # Order matters: BadRequest, TimedOut and ChatMigrated are NetworkError subclasses.
    if isinstance(exc, RetryAfter):
        seconds = retry_after_seconds(exc)
        return TransientSendError(
            f"rate limited by Telegram (429): retry after {seconds:g}s",
            retry_after=seconds, kind=SendErrorKind.RATE_LIMITED,
        )
    if isinstance(exc, Forbidden):
        return PermanentSendError(f"forbidden (403): {text}", SendErrorKind.BLOCKED)
    if isinstance(exc, InvalidToken | EndPointNotFound):
        return PermanentSendError(
            "invalid bot token: Telegram answered Unauthorized; check TELEGRAM_BOT_TOKEN",
            SendErrorKind.INVALID_TOKEN,
        )
    if isinstance(exc, ChatMigrated):
        return PermanentSendError(
            f"chat migrated to a supergroup: new chat id {exc.new_chat_id}; "
            "update TELEGRAM_CHAT_ID",
            SendErrorKind.CHAT_MIGRATED,
        )
    if isinstance(exc, BadRequest):
        if "chat not found" in text.lower():
            return PermanentSendError(f"chat not found (400): {text}",
                                      SendErrorKind.CHAT_NOT_FOUND)
        return PermanentSendError(f"bad request (400): {text}", SendErrorKind.BAD_REQUEST)
    if isinstance(exc, TimedOut):
        return TransientSendError(f"timed out: {text}", kind=SendErrorKind.TIMEOUT)
    if isinstance(exc, TelegramError):
        # 5xx, connection refused/reset and unparseable answers land here: worth retrying.
        return TransientSendError(f"network error: {text}", kind=SendErrorKind.NETWORK)
    if isinstance(exc, OSError | TimeoutError):
        return TransientSendError(f"network error: {type(exc).__name__}: {text}")
    return PermanentSendError(f"unexpected error: {type(exc).__name__}: {text}")
