"""The platform: scheduler, monitor, outbox worker and Telegram poller in one process.

`atp run` and `atp demo` build the same `Platform`; the demo only points the adapters at
the built-in emulators. The scheduler ticks every second; a monitor cycle starts every
`monitor_interval_seconds` and an overrunning cycle is recorded as lag, never queued twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from atp.config import Settings
from atp.engine.alerts import AlertFaults, AlertPipeline
from atp.engine.clock import Clock, SystemClock
from atp.engine.core import PlatformCore
from atp.engine.db import Database
from atp.engine.lease import DbLease
from atp.engine.monitor import SignalMonitor
from atp.engine.outbox import OutboxWorker
from atp.engine.ports import AlertSender, MarketData
from atp.logging import get_logger
from atp.store.journal import append_event
from atp.store.uow import UnitOfWork
from atp.telegram.errors import PermanentSendError, TransientSendError
from atp.telegram.ratelimit import RateLimiter

log = get_logger("atp.service")

POLLER_LEASE = "telegram-poller"
SENDER_LEASE = "telegram-sender"


@dataclass(frozen=True, slots=True)
class Step:
    start: bool  # start a monitor cycle now
    missed: int  # a cycle was due while the previous one still ran
    lag: float  # seconds the started cycle is late
    next_at: float


def schedule(now: float, next_at: float, interval: float, running: bool,
             stalled: bool = False) -> Step:
    """One scheduler tick: start a cycle when due; an overrun is counted, never queued, and
    a long stall skips the missed slots instead of firing them back to back."""
    if now < next_at or stalled:
        return Step(False, 0, 0.0, next_at)
    following = next_at + interval
    if following <= now:
        following = now + interval
    if running:
        return Step(False, 1, 0.0, following)
    return Step(True, 0, now - next_at, following)


def tune_interpreter() -> None:
    """Keep a busy cycle from stalling the event loop that answers /api/health (failure
    mode 10), measured by bench/health_latency.py.

    - ~190k objects live as long as the process once the libraries are loaded; a full
      garbage collection walks them all with the GIL held (~100 ms here). Frozen, they
      are skipped and a collection costs about a millisecond.
    - The database thread runs Python too; handing the GIL over every millisecond
      instead of every five roughly halves the loop's worst waits during a cycle.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)


@dataclass
class PlatformFaults:
    monitor_stall: bool = False
    alert_drop: bool = False


@dataclass
class Platform:
    settings: Settings
    market: MarketData
    sender: AlertSender | None
    clock: Clock = field(default_factory=SystemClock)
    exchange_client: Any = None
    faults: PlatformFaults = field(default_factory=PlatformFaults)
    scheduler_ticks: int = 0
    started_at: datetime | None = None
    poller: Any = None
    watchdog: Any = None  # the in-service integrity watchdog, when the API serves it

    def __post_init__(self) -> None:
        s = self.settings
        self.db = Database(s.database_url)
        self.pipeline = AlertPipeline(
            self.db.sessions, s.instance_name, s.telegram_chat_id, s.alerts_enabled,
            AlertFaults(drop_outcomes=self.faults.alert_drop),
        )
        self.monitor = SignalMonitor(self.db, self.market, self.pipeline, self.clock,
                                     s.instance_name, s.monitor_interval_seconds)
        self.monitor.stalled = self.faults.monitor_stall
        self.outbox = OutboxWorker(
            self.db, self.sender, self.clock, s.instance_name, production=s.production,
            limiter=RateLimiter(self.clock.monotonic),
            lease=DbLease(self.db, SENDER_LEASE, s.instance_name, self.clock),
        )
        balance = self.exchange_client.fetch_balance if (
            self.exchange_client is not None and self.exchange_client.has_credentials
        ) else None
        self.core = PlatformCore(self.db, self.clock, self.status_text, balance)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._cycle: asyncio.Task[None] | None = None
        self.cycle_errors = 0
        self.missed_cycles = 0
        self.exchange_failures: Counter[str] = Counter()
        self.telegram_identity: dict[str, Any] = {}
        self._event_tasks: set[asyncio.Task[None]] = set()
        if self.exchange_client is not None:
            self.exchange_client.on_error = self.on_exchange_failure

    # ── lifecycle ──────────────────────────────────────────────────────────────────────

    async def start(self, telegram_poller: bool = True) -> None:
        tune_interpreter()
        self.started_at = self.clock.now()
        await self.db.run(self._event, "platform_started", "platform started",
                          {"production": self.settings.production})
        await self.check_telegram_token()
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self._scheduler(), name="atp-scheduler"),
            asyncio.create_task(self.outbox.run_forever(self._stop), name="atp-outbox"),
        ]
        if self.exchange_client is not None and self.exchange_client.has_credentials:
            self._tasks.append(asyncio.create_task(self._exchange_heartbeat(),
                                                   name="atp-exchange-heartbeat"))
        token = self.settings.telegram_bot_token
        if telegram_poller and token is not None and self.settings.alerts_enabled:
            from atp.telegram.poller import TelegramPoller

            lease = DbLease(self.db, POLLER_LEASE, self.settings.instance_name, self.clock)
            self.poller = TelegramPoller.from_settings(
                self.settings, core=self.core, lease=lease, on_event=self._poller_event,
                poll_timeout=5.0, lease_renew_interval=10.0,
            )
            await self.poller.start()

    async def stop(self) -> None:
        self._stop.set()
        if self.poller is not None:
            await self.poller.stop()
        for task in [*self._tasks, *([self._cycle] if self._cycle else [])]:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._cycle is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._cycle
        close = getattr(self.sender, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
        if self.exchange_client is not None:
            with contextlib.suppress(Exception):
                await self.exchange_client.close()
        self.db.close()

    async def check_telegram_token(self) -> None:
        """getMe once at start, so a wrong token shows as such (failure mode 5) before the
        first alert needs it. Never fatal: delivery retries on its own schedule."""
        identify = getattr(self.sender, "identify", None)
        if identify is None:
            return
        try:
            username = await identify()
        except PermanentSendError as exc:
            self.telegram_identity = {"token_valid": False, "error": exc.reason}
        except TransientSendError as exc:
            self.telegram_identity = {"token_valid": None, "error": exc.reason}
        else:
            self.telegram_identity = {"token_valid": True, "bot_username": username}
        valid = self.telegram_identity["token_valid"]
        await self.db.run(self._event, "telegram_token_checked",
                          str(self.telegram_identity.get("error") or "getMe ok"),
                          dict(self.telegram_identity),
                          "info" if valid else "error" if valid is False else "warning")

    # ── scheduler ──────────────────────────────────────────────────────────────────────

    async def _scheduler(self) -> None:
        interval = self.settings.monitor_interval_seconds
        start = next_at = self.clock.monotonic()
        while not self._stop.is_set():
            self.scheduler_ticks += 1
            now = self.clock.monotonic()
            running = self._cycle is not None and not self._cycle.done()
            step = schedule(now, next_at, interval, running, self.monitor.stalled)
            if step.start:
                scheduled = self.clock.now() - timedelta(seconds=step.lag)
                self._cycle = asyncio.create_task(self._run_cycle(scheduled))
            self.missed_cycles += step.missed
            next_at = step.next_at
            # Tick on whole seconds since start, so the grid does not drift.
            pause = 1.0 - ((self.clock.monotonic() - start) % 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=pause)

    async def _run_cycle(self, scheduled: datetime) -> None:
        try:
            await self.monitor.run_cycle(scheduled)
            self.outbox.wake.set()
        except Exception as exc:
            self.cycle_errors += 1
            log.error("monitor cycle failed", error=f"{type(exc).__name__}: {exc}",
                      exc_info=True)
            with contextlib.suppress(Exception):
                await self.db.run(self._event, "monitor_cycle_failed",
                                  f"{type(exc).__name__}: {exc}", {}, "error")

    # ── journal helpers ────────────────────────────────────────────────────────────────

    def _event(self, type: str, message: str, payload: dict[str, Any],
               severity: str = "info") -> None:
        with UnitOfWork(self.db.sessions, "events") as uow:
            append_event(uow.session, type, at=self.clock.now(),
                         instance=self.settings.instance_name,
                         severity=severity,  # type: ignore[arg-type]
                         message=message, payload=payload)

    async def _poller_event(self, event: Any) -> None:
        severity = "warning" if "conflict" in str(event.kind) else "info"
        if str(event.kind).endswith(("unauthorised_command", "poll_error", "command_failed")):
            severity = "warning"
        await self.db.run(self._event, str(event.kind), event.detail,
                          {"chat_id": event.chat_id}, severity)

    def on_exchange_failure(self, failure: Any) -> None:
        """The exchange adapter's error sink: a typed event per failure (the adapter
        already wrote its `[CRYPTO_AUTH_DIAG]` / error log line)."""
        self.exchange_failures[str(failure.category)] += 1
        payload = failure.as_event() if hasattr(failure, "as_event") else {}
        severity = "error" if failure.category in ("auth", "proxy") else "warning"
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.db.run(
            self._event, f"exchange_{failure.category}", str(failure.diagnosis), payload,
            severity,
        ))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def _exchange_heartbeat(self, every_seconds: float = 60.0) -> None:
        """A private call now and then, so a revoked key or a broken proxy shows up before
        an order needs it (runbook step h: "last private call succeeded")."""
        client = self.exchange_client
        while not self._stop.is_set():
            try:
                await client.fetch_balance()
            except Exception as exc:  # classified and recorded by the adapter's sink
                log.debug("exchange heartbeat failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=every_seconds)

    # ── what channels read ─────────────────────────────────────────────────────────────

    @property
    def running(self) -> bool:
        """True while the scheduler task is alive (health's `down` verdict reads this)."""
        return bool(self._tasks) and not self._tasks[0].done()

    def last_update_seconds_ago(self) -> float | None:
        last = self.monitor.last
        if last is None:
            return None
        return (self.clock.now() - last.finished_at).total_seconds()

    def status_text(self) -> str:
        last = self.monitor.last
        ago = self.last_update_seconds_ago()
        lines = [f"ATP {self.settings.instance_name}"]
        if last is None:
            lines.append("Monitor: no cycle completed yet")
        else:
            lines.append(
                f"Monitor: cycle {last.cycle_id}, {last.symbols} symbols, "
                f"{last.duration_ms:.0f} ms, {ago:.0f} s ago"
            )
            lines.append("Decisions: " + ", ".join(f"{k} {v}" for k, v in
                                                  sorted(last.decisions.items())))
        stats = self.outbox.stats
        lines.append(f"Alerts: {stats.sent} sent, {stats.failed} failed, "
                     f"{stats.retries} retries")
        if self.poller is not None:
            lines.append(f"Telegram 409 conflicts: {self.poller.conflicts.count}")
        return "\n".join(lines)
