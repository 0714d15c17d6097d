"""The outbox worker: delivers accepted alerts until each is SENT or FAILED.

Messages live in the database until Telegram confirms them, so an outage or a crash only
delays delivery. Transient errors back off (honouring Telegram's `retry_after`);
permanent ones end as FAILED with the reason. Only the production instance talks to the
real chat; any other logs what it would have sent (origin gatekeeper, failure mode 7).

A send whose fate is unknown (it timed out, or the process died while it was in flight:
the row is marked `sending` before each send) may have reached the chat. It is sent once
more, only after Telegram answers a getMe again, with REPEAT_MARKER on top, and never a
third time: if the repeat's fate is unknown too, the message ends FAILED saying so.
Refused connections, 5xx and 429 happen before anything was delivered: plain retries.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from atp.engine.clock import Clock
from atp.engine.ports import AlertSender
from atp.engine.probe import EXPIRY_S as PROBE_EXPIRY_S
from atp.events import (
    AlertFailed,
    AlertRetry,
    AlertSent,
    Event,
    ReportFailed,
    ReportSent,
    SystemMessageFailed,
    SystemMessageRetry,
    SystemMessageSent,
)
from atp.logging import ALERT_EMIT, PROBE, WATCHDOG, get_logger, log_marker
from atp.store import outbox as rows
from atp.store import reports as report_rows
from atp.store.database import Database
from atp.store.journal import record
from atp.store.uow import UnitOfWork
from atp.telegram.errors import (
    PermanentSendError,
    SendError,
    SendErrorKind,
    TransientSendError,
)
from atp.telegram.lease import Lease
from atp.telegram.ratelimit import RateLimiter

log = get_logger("atp.outbox")

MAX_BACKOFF_S = 60.0
REPEAT_MARKER = "🔁 possible repeat"  # the first line of a message sent a second time
NO_THIRD_SEND = ("possible repeat's fate unknown too ({why}): not sent a third time; it may "
                 "have arrived twice (the second copy marked) or not at all")
PROBE_EVERY_S = 1.0  # getMe at most this often while Telegram does not answer
LEASE_RENEW_S = 5.0  # well inside the lease's 30 s: a live sender never loses it


def backoff_seconds(attempts: int, retry_after: float | None) -> float:
    """1, 2, 4 … 60 s, or what Telegram asked for when it said so."""
    if retry_after is not None and retry_after > 0:
        return float(retry_after)
    return float(min(MAX_BACKOFF_S, 2 ** max(0, attempts - 1)))


_Message = rows.DueMessage


@dataclass
class OutboxStats:
    sent: int = 0
    failed: int = 0
    retries: int = 0
    system_sent: int = 0
    repeats: int = 0  # messages sent a second time, marked (the first send's fate unknown)
    last_send_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass
class OutboxWorker:
    db: Database
    sender: AlertSender | None
    clock: Clock
    instance: str
    production: bool = True
    limiter: RateLimiter | None = None
    lease: Lease | None = None
    holding_lease: bool = False
    _lease_checked_at: float | None = None
    _recovered: bool = False  # rows left `sending` by a dead sender were looked at
    # A send timed out (or a probe got no answer): no send until a getMe is answered,
    # so one unknown fate is not followed by one per waiting message.
    _unanswered: bool = False
    _probed_at: float | None = None
    stats: OutboxStats = field(default_factory=OutboxStats)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def run_once(self, limit: int = 50) -> int:
        """Deliver what is due now; returns how many messages were attempted.

        A message the rate limiter holds back stays pending for the next round: the
        worker never sleeps on the limiter, so an injected clock drives it in tests.
        """
        if not self._recovered:
            await self.db.run(self._recover, self.clock.now())
            self._recovered = True
        if self._unanswered and not await self._answers_again():
            return 0
        messages = await self.db.run(self._due, self.clock.now(), limit)
        attempted = 0
        for message in messages:
            if self.limiter is not None and self.limiter.try_acquire(message.chat_id) > 0:
                continue
            attempted += 1
            if not await self._deliver(message):
                break  # Telegram does not answer: the rest waits for the next round
        return attempted

    async def step(self) -> int:
        """One round as a replica: deliver only while holding the sender lease, so two
        instances sharing a database never send the same message (failure mode 7)."""
        now = self.clock.monotonic()
        due = self._lease_checked_at is None or now - self._lease_checked_at >= LEASE_RENEW_S
        if self.lease is not None and (due or not self.holding_lease):
            self._lease_checked_at = now
            held = await (self.lease.renew() if self.holding_lease else self.lease.acquire())
            if held and not self.holding_lease:
                self._recovered = False  # a dead holder may have left rows mid-send
            if held != self.holding_lease:
                log.info("outbox sender lease " + ("acquired" if held else "lost"),
                         instance=self.instance)
            self.holding_lease = held
        if self.lease is not None and not self.holding_lease:
            return 0
        return await self.run_once()

    async def run_forever(self, stop: asyncio.Event, idle_seconds: float = 0.5) -> None:
        while not stop.is_set():
            try:
                attempted = await self.step()
            except Exception as exc:  # a database outage: record, keep the worker alive
                log.error("outbox worker cycle failed", error=type(exc).__name__)
                attempted = 0
            if attempted == 0:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=idle_seconds)

    def _due(self, now: datetime, limit: int) -> list[_Message]:
        with self.db.unit("outbox_read") as uow:
            return rows.due(uow.session, now, limit)

    async def _deliver(self, message: _Message) -> bool:
        """One message's attempt; False when Telegram did not answer (a timeout, or no
        answer to the probe before a repeat): the round stops there."""
        if not self.production or self.sender is None:
            log.info("origin gatekeeper: not the production instance, message logged only",
                     chat_id=message.chat_id, decision_id=message.decision_id,
                     text=message.text)
            await self.db.run(self._sent, message, None, self.clock.now(),
                              "logged only: not the production instance")
            return True
        if message.kind == "probe" and message.created_at is not None:
            age = (self.clock.now() - message.created_at).total_seconds()
            if age > PROBE_EXPIRY_S:  # a late TEST message helps no one: end it unsent
                error = PermanentSendError(f"probe expired: not sent within "
                                           f"{PROBE_EXPIRY_S:.0f} s (queued {age:.0f} s ago)"
                                           + (f"; last error: {message.last_error}"
                                              if message.last_error else ""))
                await self.db.run(self._failed, message, error, self.clock.now())
                return True
        text = message.text
        if message.possible_repeat:
            if not await self._telegram_answers(message):
                return False
            text = f"{REPEAT_MARKER}\n{text}"
        if not await self.db.run(self._sending, message, self.clock.now()):
            return True
        try:
            message_id = await self.sender.send(message.chat_id, text)
        except TransientSendError as exc:
            if exc.kind is SendErrorKind.TIMEOUT and message.possible_repeat:
                error = PermanentSendError(NO_THIRD_SEND.format(why=exc.reason), exc.kind)
                await self.db.run(self._failed, message, error, self.clock.now())
            else:
                await self.db.run(self._retry, message, exc, self.clock.now(),
                                  exc.kind is SendErrorKind.TIMEOUT)
            # After a timeout nothing is sent until Telegram answers a getMe again: one
            # unknown fate at a time, not one per waiting message
            if exc.kind is SendErrorKind.TIMEOUT:
                self._unanswered = True
                return False
            return True
        except PermanentSendError as exc:
            await self.db.run(self._failed, message, exc, self.clock.now())
            return True
        except Exception as exc:  # a bug in the send path is a FAILED alert, never silent
            error = PermanentSendError(f"send path error: {type(exc).__name__}: {exc}")
            await self.db.run(self._failed, message, error, self.clock.now())
            return True
        await self.db.run(self._sent, message, message_id, self.clock.now(), None)
        return True

    async def _answers_again(self) -> bool:
        """After a timeout: getMe (at most every PROBE_EVERY_S) until Telegram answers."""
        probe = getattr(self.sender, "probe", None)
        if probe is None or not self.production:
            self._unanswered = False
            return True
        now = self.clock.monotonic()
        if self._probed_at is not None and now - self._probed_at < PROBE_EVERY_S:
            return False
        self._probed_at = now
        try:
            await probe()
        except SendError as exc:
            self._note_error(exc, self.clock.now())
            return False
        self._unanswered = False
        return True

    async def _telegram_answers(self, message: _Message) -> bool:
        """getMe before a possible repeat: a Telegram that does not answer could swallow
        the repeat's fate too. Not answering holds the message back (a plain retry)."""
        probe = getattr(self.sender, "probe", None)
        if probe is None:
            return True
        try:
            await probe()
        except SendError as exc:
            held = TransientSendError(f"possible repeat held until Telegram answers getMe: "
                                      f"{exc.reason}", kind=exc.kind)
            await self.db.run(self._retry, message, held, self.clock.now())
            self._unanswered = True
            return False
        return True

    def _recover(self, now: datetime) -> None:
        """Rows a dead sender left `sending`: their send's fate is unknown. A first send
        becomes a possible repeat; a repeat is not sent a third time."""
        with self.db.unit("outbox_recover") as uow:
            found = rows.in_flight(uow.session)
        for f in found:
            why = "the process stopped while sending it"
            if f.was_repeat:
                self._failed(f.message, PermanentSendError(
                    NO_THIRD_SEND.format(why=why), SendErrorKind.TIMEOUT), now)
            else:
                self._retry(f.message, TransientSendError(
                    f"fate unknown: {why}", kind=SendErrorKind.TIMEOUT), now, True, delay=0.0)

    def _sending(self, message: _Message, now: datetime) -> bool:
        with self.db.unit("outbox_sending") as uow:
            return rows.mark_sending(uow.session, message, now)

    def _sent(
        self, message: _Message, message_id: int | None, now: datetime, note: str | None
    ) -> None:
        repeat = message.possible_repeat and self.production and self.sender is not None
        with self.db.unit("outbox_sent") as uow:
            attempts = rows.mark_sent(uow.session, message, message_id, now, note)
            if attempts is None:
                return
            event: Event = (
                AlertSent(message_id=message_id, attempts=attempts, chat_id=message.chat_id,
                          possible_repeat=repeat)
                if message.is_alert else
                SystemMessageSent(source=message.kind, message_id=message_id,
                                  attempts=attempts, possible_repeat=repeat))
            if message.kind == "report":  # its (report, date) row says which report
                ref = report_rows.finish(uow.session, message.id, "sent", now)
                if ref is not None:
                    event = ReportSent(report=ref.report, local_date=ref.local_date,
                                       message_id=message_id, attempts=attempts,
                                       possible_repeat=repeat)
                    log.info("report sent", report=ref.report, local_date=ref.local_date,
                             message_id=message_id)
            self._record(uow, event, message, now, note or f"message {message_id}"
                         + (" (possible repeat, marked)" if repeat else ""))
        if repeat:
            self.stats.repeats += 1
        if message.kind == "probe":
            latency = (None if message.created_at is None else
                       round((now - message.created_at).total_seconds() * 1000, 1))
            log_marker(log, PROBE, probe_id=message.decision_id, stage="sent",
                       message_id=message_id, latency_ms=latency)
            return
        if not message.is_alert:
            # A system message (the watchdog's) has a marker of its own: log-based tools
            # count ALERT_EMIT_FINAL lines as alerts.
            self.stats.system_sent += 1
            log_marker(log, WATCHDOG, kind=message.kind, status="success",
                       message_id=message_id)
            return
        self.stats.sent += 1
        self.stats.last_send_at = now
        side = (message.side or "").lower()
        log_marker(log, ALERT_EMIT, symbol=message.symbol, side=message.side, status="success",
                   decision_id=message.decision_id, message_id=message_id,
                   call=f"send_{side}_signal" if side else "send_message")

    def _record(self, uow: UnitOfWork, event: Event, message: _Message, now: datetime,
                text: str) -> None:
        record(uow.session, event, at=now, instance=self.instance,
               symbol=message.symbol, decision_id=message.decision_id, message=text)

    def _retry(self, message: _Message, exc: TransientSendError, now: datetime,
               unknown: bool = False, delay: float | None = None) -> None:
        """Due again after a backoff; `unknown`: the send may have arrived (a timeout),
        so the next one is the marked repeat."""
        attempts = message.attempts + 1
        if delay is None:
            delay = backoff_seconds(attempts, exc.retry_after)
        with self.db.unit("outbox_retry") as uow:
            if not rows.mark_retry(uow.session, message, attempts, exc.reason,
                                   now + timedelta(seconds=delay), possible_repeat=unknown):
                return
            event: Event = (
                AlertRetry(attempts=attempts, retry_in_s=delay, kind=str(exc.kind))
                if message.is_alert else
                SystemMessageRetry(source=message.kind, attempts=attempts, retry_in_s=delay,
                                   kind=str(exc.kind)))
            self._record(uow, event, message, now, exc.reason)
        self.stats.retries += 1
        self._note_error(exc, now)
        log.warning("message delivery delayed", decision_id=message.decision_id,
                    kind=message.kind, reason=exc.reason, attempts=attempts,
                    retry_in_s=delay)

    def _failed(self, message: _Message, exc: SendError, now: datetime) -> None:
        with self.db.unit("outbox_failed") as uow:
            if not rows.mark_failed(uow.session, message, exc.reason, now):
                return
            event: Event = (AlertFailed(kind=str(exc.kind)) if message.is_alert else
                            SystemMessageFailed(source=message.kind, kind=str(exc.kind)))
            if message.kind == "report":
                ref = report_rows.finish(uow.session, message.id, "failed", now, exc.reason)
                if ref is not None:
                    event = ReportFailed(report=ref.report, local_date=ref.local_date,
                                         kind=str(exc.kind))
            self._record(uow, event, message, now, exc.reason)
        self._note_error(exc, now)
        if message.kind == "probe":
            log_marker(log, PROBE, "error", probe_id=message.decision_id, stage="failed",
                       error=exc.reason)
            return
        if not message.is_alert:
            log_marker(log, WATCHDOG, "error", kind=message.kind, status="failed",
                       error=exc.reason)
            return
        self.stats.failed += 1
        side = (message.side or "").lower()
        log_marker(log, ALERT_EMIT, "error", symbol=message.symbol, side=message.side,
                   status="failed", decision_id=message.decision_id, error=exc.reason,
                   call=f"send_{side}_signal" if side else "send_message")

    def _note_error(self, exc: SendError, now: datetime) -> None:
        self.stats.last_error, self.stats.last_error_at = exc.reason, now
