"""The outbox worker: delivers accepted alerts until each is SENT or FAILED.

Messages live in the database until Telegram confirms them, so an outage or a crash only
delays delivery. Transient errors back off (honouring Telegram's `retry_after`);
permanent ones end as FAILED with the reason. Only the production instance talks to the
real chat; any other logs what it would have sent (origin gatekeeper, failure mode 7).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from atp.engine.clock import Clock
from atp.engine.ports import AlertSender
from atp.events import (
    AlertFailed,
    AlertRetry,
    AlertSent,
    Event,
    SystemMessageFailed,
    SystemMessageRetry,
    SystemMessageSent,
)
from atp.logging import ALERT_EMIT, WATCHDOG, get_logger, log_marker
from atp.store import outbox as rows
from atp.store.database import Database
from atp.store.journal import record
from atp.store.uow import UnitOfWork
from atp.telegram.errors import PermanentSendError, SendError, TransientSendError
from atp.telegram.lease import Lease
from atp.telegram.ratelimit import RateLimiter

log = get_logger("atp.outbox")

MAX_BACKOFF_S = 60.0
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
    stats: OutboxStats = field(default_factory=OutboxStats)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def run_once(self, limit: int = 50) -> int:
        """Deliver what is due now; returns how many messages were attempted.

        A message the rate limiter holds back stays pending for the next round: the
        worker never sleeps on the limiter, so an injected clock drives it in tests.
        """
        messages = await self.db.run(self._due, self.clock.now(), limit)
        attempted = 0
        for message in messages:
            if self.limiter is not None and self.limiter.try_acquire(message.chat_id) > 0:
                continue
            await self._deliver(message)
            attempted += 1
        return attempted

    async def step(self) -> int:
        """One round as a replica: deliver only while holding the sender lease, so two
        instances sharing a database never send the same message (failure mode 7)."""
        now = self.clock.monotonic()
        due = self._lease_checked_at is None or now - self._lease_checked_at >= LEASE_RENEW_S
        if self.lease is not None and (due or not self.holding_lease):
            self._lease_checked_at = now
            held = await (self.lease.renew() if self.holding_lease else self.lease.acquire())
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

    async def _deliver(self, message: _Message) -> None:
        if not self.production or self.sender is None:
            log.info("origin gatekeeper: not the production instance, message logged only",
                     chat_id=message.chat_id, decision_id=message.decision_id,
                     text=message.text)
            await self.db.run(self._sent, message, None, self.clock.now(),
                              "logged only: not the production instance")
            return
        try:
            message_id = await self.sender.send(message.chat_id, message.text)
        except TransientSendError as exc:
            await self.db.run(self._retry, message, exc, self.clock.now())
            return
        except PermanentSendError as exc:
            await self.db.run(self._failed, message, exc, self.clock.now())
            return
        except Exception as exc:  # a bug in the send path is a FAILED alert, never silent
            error = PermanentSendError(f"send path error: {type(exc).__name__}: {exc}")
            await self.db.run(self._failed, message, error, self.clock.now())
            return
        await self.db.run(self._sent, message, message_id, self.clock.now(), None)

    def _sent(
        self, message: _Message, message_id: int | None, now: datetime, note: str | None
    ) -> None:
        with self.db.unit("outbox_sent") as uow:
            attempts = rows.mark_sent(uow.session, message, message_id, now, note)
            if attempts is None:
                return
            event: Event = (
                AlertSent(message_id=message_id, attempts=attempts, chat_id=message.chat_id)
                if message.is_alert else
                SystemMessageSent(source=message.kind, message_id=message_id,
                                  attempts=attempts))
            self._record(uow, event, message, now, note or f"message {message_id}")
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

    def _retry(self, message: _Message, exc: TransientSendError, now: datetime) -> None:
        attempts = message.attempts + 1
        delay = backoff_seconds(attempts, exc.retry_after)
        with self.db.unit("outbox_retry") as uow:
            if not rows.mark_retry(uow.session, message, attempts, exc.reason,
                                   now + timedelta(seconds=delay)):
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
            self._record(uow, event, message, now, exc.reason)
        self._note_error(exc, now)
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
