"""Deliver one message through python-telegram-bot, with errors translated at the edge.

The sender owns its `Bot` and HTTP connection pool, separate from the poller's, so a
getUpdates long poll or a 409 storm never queues in front of an alert.
"""

from __future__ import annotations

import logging
from types import TracebackType

from telegram import Bot
from telegram.request import HTTPXRequest

from atp.config import Settings
from atp.telegram.errors import SendErrorKind, TransientSendError, classify
from atp.telegram.redact import install_log_redaction

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.telegram.org"


class TelegramSender:
    """`await sender.send(chat_id, text)` → Telegram message id, or a SendError.

    Raises `TransientSendError` (network, timeout, 5xx, 429 with `retry_after`) or
    `PermanentSendError` (blocked, chat not found, invalid token, bad request). Never
    retries by itself: the outbox worker owns retries, backoff and the rate limiter.
    """

    def __init__(
        self,
        token: str,
        *,
        api_base: str = DEFAULT_API_BASE,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        write_timeout: float = 10.0,
        pool_timeout: float = 5.0,
        connection_pool_size: int = 8,
    ) -> None:
        if not token:
            raise ValueError("a bot token is required (TELEGRAM_BOT_TOKEN)")
        install_log_redaction(token)
        self._token = token
        base = api_base.rstrip("/")
        request = HTTPXRequest(
            connection_pool_size=connection_pool_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            pool_timeout=pool_timeout,
        )
        self._bot = Bot(
            token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request
        )
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings, **options: float) -> TelegramSender:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        return cls(
            settings.telegram_bot_token.get_secret_value(),
            api_base=settings.telegram_api_base or DEFAULT_API_BASE,
            **{"read_timeout": settings.telegram_send_timeout_seconds,
               "write_timeout": settings.telegram_send_timeout_seconds,
               **options},  # type: ignore[arg-type]
        )

    def __repr__(self) -> str:  # the default would be harmless, but say so explicitly
        return "TelegramSender(token=<redacted>)"

    async def send(self, chat_id: int | str, text: str) -> int:
        """Send `text` to `chat_id` as plain text; returns Telegram's message id.

        A timeout of the getMe before the first send is a plain network error: nothing was
        sent, so the message is no possible repeat (only a sendMessage's timeout is)."""
        if not self._ready:
            # getMe once: validates the token; retried on the next send if it failed.
            try:
                await self._bot.initialize()
            except Exception as exc:
                error = classify(exc, self._token)
                if error.kind is SendErrorKind.TIMEOUT:
                    error = TransientSendError(f"getMe before sending: {error.reason}")
                raise error from None
            self._ready = True
        try:
            message = await self._bot.send_message(chat_id=chat_id, text=text)
        except Exception as exc:
            error = classify(exc, self._token)
            log.debug("telegram send failed: chat=%s kind=%s reason=%s",
                      chat_id, error.kind, error.reason)
            raise error from None  # the cause's repr may carry the URL, hence the token
        log.debug("telegram sent: chat=%s message_id=%s", chat_id, message.message_id)
        return message.message_id

    async def identify(self) -> str:
        """getMe: the bot's username, or a SendError saying why the token is not accepted."""
        try:
            if not self._ready:
                await self._bot.initialize()
                self._ready = True
            return str(self._bot.username)
        except Exception as exc:
            raise classify(exc, self._token) from None

    async def probe(self) -> None:
        """A fresh getMe (not the cached one): does Telegram answer right now? Asked
        before a possible repeat, so a repeat is sent only to a Bot API that answers."""
        try:
            if not self._ready:
                await self._bot.initialize()  # getMe itself
                self._ready = True
            else:
                await self._bot.get_me()
        except Exception as exc:
            raise classify(exc, self._token) from None

    async def aclose(self) -> None:
        await self._bot.shutdown()
        self._ready = False

    async def __aenter__(self) -> TelegramSender:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
