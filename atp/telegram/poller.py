"""Commands in: a getUpdates poller (python-telegram-bot `Application`) behind a lease.

Why a lease: two instances polling one token make Telegram answer 409 to each in turn
(failure mode 6). Only the lease holder polls; a 409 that still happens (a forgotten
server outside the lease, a webhook) is logged as `[TG] getUpdates conflict (409) ...`,
counted in `ConflictCounter`, and reported as an event. Outgoing alerts never wait on
any of this: the sender has its own Bot and HTTP pool.

Strangers (chats not in TELEGRAM_CHAT_ID) get one refusal and one journal event per chat
per `stranger_interval`, and at most `stranger_budget` refusals in all per interval; the
rest are dropped before they cost a reply or a row, and counted (`refusals_dropped`), so
a flood of unknown chats can neither fill the journal nor spend the bot's send quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.error import BadRequest, Conflict, InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from atp.config import Settings
from atp.telegram.commands import COMMANDS, CommandCore, answer
from atp.telegram.format import split_message
from atp.telegram.lease import Lease
from atp.telegram.menu import MenuView
from atp.telegram.redact import install_log_redaction, redact
from atp.telegram.sender import DEFAULT_API_BASE

log = logging.getLogger(__name__)

REFUSAL = "This chat is not authorised to use this bot."


class PollerEventKind(StrEnum):
    UNAUTHORISED = "telegram_unauthorised_command"
    CONFLICT = "telegram_getupdates_conflict"
    LEASE_ACQUIRED = "telegram_lease_acquired"
    LEASE_LOST = "telegram_lease_lost"
    POLL_ERROR = "telegram_poll_error"
    COMMAND_FAILED = "telegram_command_failed"


@dataclass(frozen=True)
class PollerEvent:
    """Something the journal should know; plain data, token-free."""

    kind: PollerEventKind
    at: datetime
    chat_id: int | None = None
    detail: str = ""


OnEvent = Callable[[PollerEvent], Awaitable[None]]


@dataclass
class ConflictCounter:
    """409s from getUpdates: how many, and the last one (for /metrics and `atp check`)."""

    count: int = 0
    last_at: datetime | None = None
    last_description: str | None = None

    def record(self, description: str, at: datetime) -> None:
        self.count += 1
        self.last_at = at
        self.last_description = description


class StrangerLimiter:
    """Decides whether a message from an unauthorised chat earns a refusal (a reply and an
    event) or is dropped: one per chat per `interval`, `budget` in all per `interval`.

    Memory stays bounded by `budget`: a chat is remembered only when it was answered, and
    forgotten once its interval has passed.
    """

    def __init__(self, interval: timedelta, budget: int) -> None:
        if interval <= timedelta(0) or budget < 1:
            raise ValueError("stranger_interval must be > 0 and stranger_budget >= 1")
        self.interval = interval
        self.budget = budget
        self._last: dict[str, datetime] = {}
        self._answered: deque[datetime] = deque()

    def allow(self, chat_id: str, at: datetime) -> bool:
        """True when `chat_id` may be answered now (and records that it was)."""
        horizon = at - self.interval
        while self._answered and self._answered[0] <= horizon:
            self._answered.popleft()
        for chat, when in list(self._last.items()):
            if when <= horizon:
                del self._last[chat]
        if chat_id in self._last or len(self._answered) >= self.budget:
            return False
        self._last[chat_id] = at
        self._answered.append(at)
        return True


MAX_POLL_ERRORS_IN_ROW = 5  # then polling is restarted from getMe, the lease given up


@dataclass
class PollerStatus:
    holding_lease: bool = False
    polling: bool = False
    commands_answered: int = 0
    refused: int = 0  # messages from unauthorised chats, answered or dropped
    refusals_dropped: int = 0  # of those, dropped unanswered and unjournaled (rate limit)
    command_errors: int = 0
    last_error: str | None = None
    conflicts: ConflictCounter = field(default_factory=ConflictCounter)
    # why polling stopped on its own (401 burst, PTB's loop ended, repeated errors); None
    # while polling or never started. Cleared when polling resumes.
    stopped_reason: str | None = None
    poll_errors_in_row: int = 0
    restarts: int = 0  # polling restarted by the poller itself after stopping


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TelegramPoller:
    """Polls only while holding `lease`; answers commands for `allowed_chat_ids` only."""

    def __init__(
        self,
        token: str,
        *,
        core: CommandCore,
        lease: Lease,
        allowed_chat_ids: Iterable[str | int],
        api_base: str = DEFAULT_API_BASE,
        instance_name: str = "atp",
        on_event: OnEvent | None = None,
        conflicts: ConflictCounter | None = None,
        poll_timeout: float = 10.0,
        lease_renew_interval: float = 10.0,
        retry_interval: float = 5.0,
        max_retry_interval: float = 60.0,
        stranger_interval: float = 600.0,
        stranger_budget: int = 20,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """`poll_timeout`: getUpdates long-poll seconds. `lease_renew_interval` must be
        well under the lease's TTL. `retry_interval` (doubling up to the max) paces retries
        when the lease is taken or Telegram cannot be reached. `stranger_interval`
        (seconds) and `stranger_budget` rate-limit refusals to unauthorised chats."""
        if not token:
            raise ValueError("a bot token is required (TELEGRAM_BOT_TOKEN)")
        install_log_redaction(token)
        self._token = token
        self._base = api_base.rstrip("/")
        self._core = core
        self._lease = lease
        self._allowed = frozenset(str(c) for c in allowed_chat_ids)
        self.instance_name = instance_name
        self._on_event = on_event
        self.status = PollerStatus(conflicts=conflicts or ConflictCounter())
        self.poll_timeout = poll_timeout
        self.lease_renew_interval = lease_renew_interval
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self._now = now
        self._strangers = StrangerLimiter(timedelta(seconds=stranger_interval),
                                          stranger_budget)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._event_tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, core: CommandCore, lease: Lease, **options: Any
    ) -> TelegramPoller:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        return cls(
            settings.telegram_bot_token.get_secret_value(),
            core=core,
            lease=lease,
            allowed_chat_ids=settings.allowed_chat_ids,
            api_base=settings.telegram_api_base or DEFAULT_API_BASE,
            instance_name=settings.instance_name,
            **options,
        )

    @property
    def conflicts(self) -> ConflictCounter:
        return self.status.conflicts

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Run in the background until `stop()`."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="telegram-poller")

    async def stop(self) -> None:
        """Stop polling, release the lease, wait for the background task."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._event_tasks:
            await asyncio.gather(*self._event_tasks, return_exceptions=True)

    async def run(self) -> None:
        """Acquire the lease, poll while renewing it, retry with backoff on failures."""
        delay = self.retry_interval
        while not self._stopping.is_set():
            if not await self._lease.acquire():
                await self._pause(self.retry_interval)
                continue
            self.status.holding_lease = True
            await self._emit(PollerEventKind.LEASE_ACQUIRED, detail=self.instance_name)
            log.info("[TG] poller lease acquired instance=%s", self.instance_name)
            app = self._build_app()
            try:
                await self._start_polling(app)
                delay = self.retry_interval
                await self._hold_lease(app)
            except Exception as exc:  # Telegram unreachable, bad token, …: retry later
                reason = self._describe(exc)
                self.status.last_error = reason
                log.error("[TG] poller could not poll: %s; retry in %.1fs", reason, delay)
                await self._emit(PollerEventKind.POLL_ERROR, detail=reason)
            finally:
                await self._stop_polling(app)
                self.status.holding_lease = False
                await self._lease.release()
            if not self._stopping.is_set():
                await self._pause(delay)
                delay = min(self.max_retry_interval, delay * 2)

    async def _hold_lease(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Renew the lease while polling is alive. Polling that stopped by itself (PTB
        ends its loop on a 401; errors in a row) gives the lease up, so another instance
        can poll, and this one starts over: getMe with backoff until Telegram answers."""
        seen = self.status.poll_errors_in_row
        while not self._stopping.is_set():
            await self._pause(self.lease_renew_interval)
            if self._stopping.is_set():
                return
            if self.status.poll_errors_in_row == seen:  # a quiet interval ends the run
                self.status.poll_errors_in_row = 0
            seen = self.status.poll_errors_in_row
            stopped = None
            task = self._polling_task
            if task is not None and task.done() and not task.cancelled():
                error = task.exception()
                if error is not None:
                    self.status.last_error = self._describe(error)
            if app.updater is None or not app.updater.running or (
                    task is not None and task.done()):
                stopped = f"polling ended: {self.status.last_error or 'getUpdates loop stopped'}"
            elif self.status.poll_errors_in_row >= MAX_POLL_ERRORS_IN_ROW:
                stopped = (f"{self.status.poll_errors_in_row} getUpdates errors in a row: "
                           f"{self.status.last_error}")
            if stopped is not None:
                self.status.stopped_reason = stopped
                self.status.restarts += 1
                log.error("[TG] polling stopped instance=%s: %s; lease released, retrying",
                          self.instance_name, stopped)
                await self._emit(PollerEventKind.POLL_ERROR, detail=stopped)
                return
            if not await self._lease.renew():
                log.warning("[TG] poller lease lost instance=%s; polling stops",
                            self.instance_name)
                await self._emit(PollerEventKind.LEASE_LOST, detail=self.instance_name)
                return

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    # --- python-telegram-bot wiring -----------------------------------------------------

    def _build_app(self) -> Application[Any, Any, Any, Any, Any, Any]:
        app = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(f"{self._base}/bot")
            .base_file_url(f"{self._base}/file/bot")
            .job_queue(None)
            .build()
        )
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        for name in COMMANDS:
            app.add_handler(CommandHandler(name, self._command))
        app.add_handler(MessageHandler(filters.TEXT, self._command))
        app.add_handler(CallbackQueryHandler(self._callback))
        return app

    async def _start_polling(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await app.initialize()  # getMe: fails fast on a bad token or an outage
        await app.start()
        assert app.updater is not None
        before = asyncio.all_tasks()
        await app.updater.start_polling(
            timeout=int(self.poll_timeout),
            allowed_updates=["message", "callback_query"],
            error_callback=self._on_poll_error,
        )
        # PTB ends its polling task on a 401 ("Invalid token. Aborting retry loop") but
        # keeps `updater.running` true; the task, found by the name PTB gives it, tells.
        self._polling_task = next((t for t in asyncio.all_tasks() - before
                                   if t.get_name().startswith("Updater:start_polling")), None)
        self.status.polling = True
        self.status.stopped_reason = None
        self.status.poll_errors_in_row = 0
        log.info("[TG] polling getUpdates instance=%s", self.instance_name)

    async def _stop_polling(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.status.polling = False
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except Exception as exc:
            log.warning("[TG] poller shutdown error: %s", self._describe(exc))

    _polling_task: asyncio.Task[Any] | None = None

    def _on_poll_error(self, exc: TelegramError) -> None:
        """PTB's polling error hook: sync and must not raise (PTB retries with backoff)."""
        reason = self._describe(exc)
        if not isinstance(exc, Conflict):  # a 409 is another client, not our polling dying
            self.status.poll_errors_in_row += 1
        if isinstance(exc, Conflict):
            self.conflicts.record(reason, self._now())
            log.warning(
                "[TG] getUpdates conflict (409) count=%d instance=%s: %s",
                self.conflicts.count, self.instance_name, reason,
            )
            self._emit_soon(PollerEventKind.CONFLICT, detail=reason)
        else:
            self.status.last_error = reason
            log.warning("[TG] getUpdates failed instance=%s: %s", self.instance_name, reason)

    async def _gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs before every handler: strangers get a refusal and nothing else, and only
        as often as the stranger limiter allows (the rest are dropped, counted)."""
        chat = update.effective_chat
        query = update.callback_query
        if chat is not None and str(chat.id) in self._allowed:
            return
        if chat is None and query is None:
            return  # no chat to answer (PTB's own updates); no handler of ours takes it
        # a button press from a stranger (or an inline message: no chat to authorise)
        chat_id = chat.id if chat is not None else (query.from_user.id if query else 0)
        self.status.refused += 1
        if not self._strangers.allow(str(chat_id), self._now()):
            self.status.refusals_dropped += 1
            log.debug("[TG] dropped update from unauthorised chat=%s (rate limit)", chat_id)
            raise ApplicationHandlerStop
        if query is not None:
            detail = f"callback {(query.data or '')[:55]}"
            log.warning("[TG] refused callback from unauthorised chat=%s data=%r", chat_id,
                        (query.data or "")[:64])
            await self._emit(PollerEventKind.UNAUTHORISED, chat_id=chat_id, detail=detail)
            try:
                await query.answer(text=REFUSAL, show_alert=True)
            except TelegramError as exc:
                log.warning("[TG] could not answer refused callback chat=%s: %s", chat_id,
                            self._describe(exc))
            raise ApplicationHandlerStop
        message = update.effective_message
        text = message.text if message is not None and message.text else ""
        log.warning("[TG] refused command from unauthorised chat=%s text=%r", chat_id,
                    text[:64])
        await self._emit(PollerEventKind.UNAUTHORISED, chat_id=chat_id, detail=text[:64])
        try:
            await context.bot.send_message(chat_id=chat_id, text=REFUSAL)
        except TelegramError as exc:
            log.warning("[TG] could not send refusal to chat=%s: %s", chat_id,
                        self._describe(exc))
        raise ApplicationHandlerStop

    async def _command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text or update.effective_chat is None:
            return
        chat_id = update.effective_chat.id
        words = message.text.split()
        reply: str | MenuView
        if not words[0].startswith("/"):
            reply = "Send /help for the list of commands."
        else:
            command = words[0][1:].split("@", 1)[0].lower()
            try:
                reply = await answer(self._core, command, words[1:], self.instance_name,
                                     author=_author(update.effective_user))
                self.status.commands_answered += 1
            except Exception as exc:
                self.status.command_errors += 1
                detail = f"/{command}: {type(exc).__name__}: {self._describe(exc)}"
                log.exception("[TG] command failed chat=%s %s", chat_id, detail)
                await self._emit(PollerEventKind.COMMAND_FAILED, chat_id=chat_id,
                                 detail=detail)
                reply = f"⚠️ /{command} failed: {type(exc).__name__} (logged)."
        if isinstance(reply, MenuView):
            parts = split_message(reply.text) or ["(empty answer)"]
            for part in parts[:-1]:
                await context.bot.send_message(chat_id=chat_id, text=part)
            await context.bot.send_message(chat_id=chat_id, text=parts[-1],
                                           reply_markup=_markup(reply))
            return
        for part in split_message(reply) or ["(empty answer)"]:
            await context.bot.send_message(chat_id=chat_id, text=part)

    async def _callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A /menu button (authorised chats only: `_gate` ran first): the change through
        the core, the callback answered (once), the menu message edited in place."""
        query = update.callback_query
        if query is None:
            return
        chat_id = update.effective_chat.id if update.effective_chat is not None else None
        author = _author(query.from_user)
        try:
            view = await self._core.menu(query.data, author)
            self.status.commands_answered += 1
        except Exception as exc:
            self.status.command_errors += 1
            detail = f"callback {query.data!r}: {type(exc).__name__}: {self._describe(exc)}"
            log.exception("[TG] callback failed chat=%s %s", chat_id, detail)
            await self._emit(PollerEventKind.COMMAND_FAILED, chat_id=chat_id, detail=detail)
            with contextlib.suppress(TelegramError):
                await query.answer(text=f"⚠️ failed: {type(exc).__name__} (logged)")
            return
        log.info("[TG] callback chat=%s data=%r author=%s notice=%r", chat_id, query.data,
                 author, view.notice)
        try:
            await query.answer(text=view.notice[:200] or None)
        except TelegramError as exc:  # too late (expired): the edit still shows the result
            log.warning("[TG] could not answer callback chat=%s: %s", chat_id,
                        self._describe(exc))
        parts = split_message(view.text) or ["(empty answer)"]
        try:
            await query.edit_message_text(parts[0], reply_markup=_markup(view))
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():  # a refresh with nothing new is fine
                # the message is gone or can no longer be edited: the screen as a new one
                log.warning("[TG] could not edit menu chat=%s: %s; sending it anew", chat_id,
                            self._describe(exc))
                if chat_id is not None:
                    await context.bot.send_message(chat_id=chat_id, text=parts[0],
                                                   reply_markup=_markup(view))
        for part in parts[1:]:
            if chat_id is not None:
                await context.bot.send_message(chat_id=chat_id, text=part)

    # --- events -------------------------------------------------------------------------

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, InvalidToken):
            return "invalid bot token: Telegram answered Unauthorized"
        return redact(str(exc), self._token) or type(exc).__name__

    async def _emit(
        self, kind: PollerEventKind, *, chat_id: int | None = None, detail: str = ""
    ) -> None:
        if self._on_event is None:
            return
        try:
            await self._on_event(PollerEvent(kind, self._now(), chat_id, detail))
        except Exception:
            log.exception("[TG] on_event callback failed for %s", kind)

    def _emit_soon(self, kind: PollerEventKind, *, detail: str = "") -> None:
        task = asyncio.get_running_loop().create_task(self._emit(kind, detail=detail))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)


def _author(user: User | None) -> str:
    """Who the audit names for a change made from Telegram: `telegram:@name` or the id."""
    if user is None:
        return "telegram"
    who = f"@{user.username}" if user.username else str(user.id)
    return f"telegram:{who}"[:64]


def _markup(view: MenuView) -> InlineKeyboardMarkup | None:
    if not view.keyboard:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data)
                                  for b in row] for row in view.keyboard])
