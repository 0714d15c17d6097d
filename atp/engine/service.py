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
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from atp.config import Settings
from atp.engine.alerts import AlertFaults, AlertPipeline
from atp.engine.clock import Clock, SystemClock
from atp.engine.commands import CommandAnswers
from atp.engine.core import Core
from atp.engine.intents import lease_name
from atp.engine.lease import DbLease, make_owner, release_dead_predecessors
from atp.engine.monitor import SignalMonitor
from atp.engine.outbox import OutboxWorker
from atp.engine.paper import PaperBroker
from atp.engine.ports import AlertSender, Broker, MarketData
from atp.engine.reports import REPORTS_LEASE, ReportScheduler
from atp.engine.shards import ShardLeases, replicas_view
from atp.engine.status import (
    CycleStatus,
    ExchangeFailureStatus,
    ExchangeStatus,
    OutboxStatus,
    PlatformStatus,
    TelegramStatus,
)
from atp.engine.trader import Trader
from atp.events import (
    Event,
    ExchangeFailureEvent,
    MonitorCycleFailed,
    PlatformStarted,
    TelegramPollerEvent,
    TelegramTokenChecked,
)
from atp.logging import get_logger
from atp.store import queries
from atp.store.database import Database
from atp.store.journal import record
from atp.telegram.errors import PermanentSendError, TransientSendError
from atp.telegram.ratelimit import RateLimiter

if TYPE_CHECKING:
    from atp.exchange.client import ExchangeClient
    from atp.telegram.poller import TelegramPoller

log = get_logger("atp.service")

POLLER_LEASE = "telegram-poller"
SENDER_LEASE = "telegram-sender"
PRESENCE_PREFIX = "presence:"
PRESENCE_TTL_S = 30.0
RETENTION_LEASE = "retention"
REPORTS_EVERY_S = 15.0  # how often the reports lease holder looks for a due report
OUTBOX_STUCK_S = 120.0  # alerts older than this in the outbox make health `degraded`


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


class Gauges(Protocol):
    def gauges(self) -> dict[str, int]: ...


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
    exchange_client: ExchangeClient | None = None
    faults: PlatformFaults = field(default_factory=PlatformFaults)
    scheduler_ticks: int = 0
    started_at: datetime | None = None
    poller: TelegramPoller | None = None
    watchdog: Gauges | None = None  # the in-service integrity watchdog, when served
    live_broker: Broker | None = None  # the exchange's order API (built from the client)

    def __post_init__(self) -> None:
        s = self.settings
        # Leases are held by this process, not by the name in `.env`: two copies started
        # from one `.env` must never both believe they hold the sender or poller lease.
        self.owner = make_owner(s.instance_name)
        self.db = Database(s.database_url)
        # Every live process keeps a presence lease, so `atp check` sees who shares the
        # database (a second copy of the same instance is a mistake it names).
        self.presence = DbLease(self.db, PRESENCE_PREFIX + self.owner, self.owner,
                                self.clock, ttl_seconds=PRESENCE_TTL_S)
        self.pipeline = AlertPipeline(
            self.db, s.instance_name, s.telegram_chat_id, s.alerts_enabled,
            AlertFaults(drop_outcomes=self.faults.alert_drop),
        )
        self.monitor = SignalMonitor(self.db, self.market, self.pipeline, self.clock,
                                     s.instance_name, s.monitor_interval_seconds)
        self.monitor.stalled = self.faults.monitor_stall
        self.monitor.heartbeat = (timedelta(minutes=s.decision_heartbeat_minutes)
                                  if s.decision_heartbeat_minutes else None)
        # Replicas on one PostgreSQL split the watchlist by shard leases (engine.shards);
        # SQLite is single-process: this process evaluates every symbol.
        self.shards: ShardLeases | None = None
        if self.db.backend == "postgresql":
            self.shards = ShardLeases(self.db, self.owner, self.clock, s.shards,
                                      s.monitor_interval_seconds)
            self.monitor.shards = self.shards
        self.replicas: dict[str, Any] | None = None  # who holds what (readiness refreshes)
        self.outbox = OutboxWorker(
            self.db, self.sender, self.clock, s.instance_name, production=s.production,
            limiter=RateLimiter(self.clock.monotonic),
            lease=DbLease(self.db, SENDER_LEASE, self.owner, self.clock),
        )
        balance = self.exchange_client.fetch_balance if (
            self.exchange_client is not None and self.exchange_client.has_credentials
        ) else None
        self.core = Core(self.db, self.clock, s.instance_name,
                         chat_id=s.telegram_chat_id if s.alerts_enabled else None,
                         listed=self._listed if self.exchange_client is not None else None,
                         candles=getattr(self.market, "candles", None),
                         wake_outbox=self.outbox.wake.set)
        if self.live_broker is None:
            self.live_broker = self._make_live_broker()
        # dry run on the exchange's own grids and taker fee when its instrument list is at hand
        self.paper = PaperBroker(self.db, self.clock, s.paper_balance_usd,
                                 rules=None if self.live_broker is None
                                 else self.live_broker.instrument)
        key = s.exchange_api_key.get_secret_value() if s.exchange_api_key else None
        self.trader = Trader(
            self.db, self.clock, s.instance_name, self.paper, live=self.live_broker,
            credentials=(self.exchange_client.has_credentials if self.exchange_client
                         is not None else s.has_exchange_credentials),
            chat_id=s.telegram_chat_id if s.alerts_enabled else None,
            lease=DbLease(self.db, lease_name(key), self.owner, self.clock),
            sync_seconds=s.trader_sync_seconds, wake_outbox=self.outbox.wake.set)
        self.monitor.on_prices.append(self.paper.observe)
        if self.shards is not None:  # replicas: the prices of the other shards' symbols
            self.paper.record = self._record_prices
        self.core.trader = self.trader
        self.reports: ReportScheduler | None = None
        if s.alerts_enabled and s.telegram_chat_id and any(s.report_times.values()):
            self.reports = ReportScheduler(
                self.core, self.clock, s.instance_name, s.telegram_chat_id, s.zone,
                s.report_times, lease=DbLease(self.db, REPORTS_LEASE, self.owner, self.clock,
                                              ttl_seconds=REPORTS_EVERY_S * 4),
                wake_outbox=self.outbox.wake.set)
        self.commands = CommandAnswers(self.core, self.status, balance,
                                       evaluate=self.monitor.evaluate_now)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._cycle: asyncio.Task[None] | None = None
        self.cycle_errors = 0
        self.missed_cycles = 0
        self.exchange_failures: Counter[str] = Counter()
        self.telegram_identity: dict[str, Any] = {}
        self.db_error: str | None = None
        self.outbox_pending = 0
        self.outbox_oldest: datetime | None = None
        self._event_tasks: set[asyncio.Task[None]] = set()
        if self.exchange_client is not None:
            self.exchange_client.on_error = self.on_exchange_failure

    # ── lifecycle ──────────────────────────────────────────────────────────────────────

    async def _record_prices(self, symbols: list[str]) -> dict[str, tuple[float, datetime]]:
        """The newest recorded price of each symbol (whichever replica decided it)."""
        def read() -> dict[str, tuple[float, datetime]]:
            with self.db.sessions() as session:
                return queries.latest_prices(session, symbols)

        return await self.db.read(read)

    async def start(self, telegram_poller: bool = True) -> None:
        tune_interpreter()
        self.started_at = self.clock.now()
        await self.db.run(self._event, PlatformStarted(production=self.settings.production),
                          "platform started")
        await self.check_telegram_token()
        self._stop.clear()
        if self.reports is not None:  # what fell due before a first start is not caught up
            self.reports.started_at = self.started_at
        with contextlib.suppress(Exception):  # best effort: the TTL frees them anyway
            freed = await release_dead_predecessors(self.db, self.owner)
            if freed:
                log.info("leases of a dead predecessor freed", holders=freed)
        await self.presence.acquire()
        try:  # decisions a crash left without outcome: alerted if fresh, else ABANDONED
            await self.monitor.complete_orphans()
        except Exception as exc:  # the database is down: the next start completes them
            log.error("completing decisions without outcome failed",
                      error=f"{type(exc).__name__}: {exc}")
        self._tasks = [
            asyncio.create_task(self._presence(), name="atp-presence"),
            asyncio.create_task(self._readiness(), name="atp-readiness"),
            asyncio.create_task(self._retention(), name="atp-retention"),
            asyncio.create_task(self._scheduler(), name="atp-scheduler"),
            asyncio.create_task(self._reports(), name="atp-reports"),
            asyncio.create_task(self.outbox.run_forever(self._stop), name="atp-outbox"),
            asyncio.create_task(self.trader.run_forever(self._stop), name="atp-trader"),
        ]
        if self.exchange_client is not None and self.exchange_client.has_credentials:
            self._tasks.append(asyncio.create_task(self._exchange_heartbeat(),
                                                   name="atp-exchange-heartbeat"))
        token = self.settings.telegram_bot_token
        if telegram_poller and token is not None and self.settings.alerts_enabled:
            from atp.telegram.poller import TelegramPoller

            lease = DbLease(self.db, POLLER_LEASE, self.owner, self.clock)
            self.poller = TelegramPoller.from_settings(
                self.settings, core=self.commands, lease=lease, on_event=self._poller_event,
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
        if self.shards is not None:
            with contextlib.suppress(Exception):  # else the TTL frees them
                await self.shards.release()
        with contextlib.suppress(Exception):  # a database that is down cannot be told
            await self.presence.release()
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
        await self.db.run(self._event, TelegramTokenChecked(**self.telegram_identity),
                          str(self.telegram_identity.get("error") or "getMe ok"))

    # ── scheduler ──────────────────────────────────────────────────────────────────────

    async def _retention(self, every_seconds: float = 3600.0) -> None:
        """Prune what is older than RETENTION_DAYS: soon after start, then hourly, by the
        one process holding the retention lease (replicas share one database)."""
        days = self.settings.retention_days
        if days <= 0:
            return
        lease = DbLease(self.db, RETENTION_LEASE, self.owner, self.clock,
                        ttl_seconds=every_seconds * 2)
        delay = 60.0
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return
            delay = every_seconds
            try:
                if await lease.acquire():
                    await self.prune(timedelta(days=days))
            except Exception as exc:  # a database hiccup: next hour
                log.warning("retention failed", error=f"{type(exc).__name__}: {exc}")

    async def _reports(self) -> None:
        """Scheduled reports (engine.reports): a look every REPORTS_EVERY_S (or when
        woken), by the one process holding the `reports` lease."""
        reports = self.reports
        if reports is None:
            return
        while not self._stop.is_set():
            try:
                await reports.step()
            except Exception as exc:  # a database hiccup: the next look retries
                log.warning("report scheduling failed", error=f"{type(exc).__name__}: {exc}")
            reports.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reports.wake.wait(), REPORTS_EVERY_S)

    async def prune(self, horizon: timedelta) -> dict[str, int]:
        """Delete the rows older than `horizon` (store.retention), journal the counts."""
        from atp.store.retention import prune

        before = self.clock.now() - horizon
        removed = await self.db.run(prune, self.db.sessions, before)
        if any(removed.values()):
            log.info("retention pruned rows", before=before.isoformat(), **removed)
        return removed

    async def _readiness(self) -> None:
        """Probe the database (and read the outbox's depth) a few times per interval, off
        the request path, so /api/health tells a dead database within one interval while
        answering from memory in microseconds (failure mode 10)."""
        every = min(15.0, max(1.0, self.settings.monitor_interval_seconds / 2))
        while not self._stop.is_set():
            await self.probe(timeout=every)
            await self.read_replicas(timeout=every)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), every)

    async def probe(self, timeout: float = 5.0) -> None:
        """One readiness probe: can the database be read, how deep is the outbox."""
        try:
            pending, oldest = await asyncio.wait_for(self.core.outbox_depth(), timeout)
            self.db_error = None
            self.outbox_pending, self.outbox_oldest = pending, oldest
        except Exception as exc:  # down, locked, timed out: the reason is the answer
            self.db_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    async def read_replicas(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """Who holds what (shards, sender, poller, …) for /api/health, read off the
        request path; a failed read keeps the last answer (the probe names the cause)."""
        try:
            rows = await asyncio.wait_for(self.core.live_leases(), timeout)
        except Exception:
            return self.replicas
        self.replicas = replicas_view(rows, PRESENCE_PREFIX, self.owner, self.settings.shards,
                                      sharded=self.shards is not None)
        return self.replicas

    def problems(self) -> tuple[str, ...]:
        """What keeps the chain from working right now, each with its reason."""
        out: list[str] = []
        if self.db_error is not None:
            out.append(f"database unreachable: {self.db_error[:200]}")
        else:
            refused = self.db.write_failure(
                within_s=max(10.0, 2 * self.settings.monitor_interval_seconds))
            if refused is not None:  # reads work, writes do not: a full disk, a lock
                out.append(f"database refuses writes: {refused[:200]}")
        client = self.exchange_client
        failure = None if client is None else client.last_failure
        if client is not None and failure is not None and \
                str(failure.category) in ("network", "proxy", "rate_limit") and \
                client.last_failure_at is not None and \
                (client.last_ok is None or client.last_failure_at > client.last_ok):
            # a 429 storm starves the monitor as surely as a dead host does
            what = "exchange rate-limiting every request" \
                if str(failure.category) == "rate_limit" else "exchange unreachable"
            out.append(f"{what}: {failure.diagnosis}")
        stats = self.outbox.stats
        if self.outbox_pending and stats.last_error_at is not None and (
                stats.last_send_at is None or stats.last_error_at > stats.last_send_at):
            out.append(f"Telegram not accepting messages: {stats.last_error}")
        if self.outbox_oldest is not None:
            age = (self.clock.now() - self.outbox_oldest).total_seconds()
            if age > OUTBOX_STUCK_S:
                out.append(f"{self.outbox_pending} alert(s) stuck in the outbox, oldest "
                           f"{age:.0f} s (> {OUTBOX_STUCK_S:.0f} s)")
        return tuple(out)

    async def _presence(self) -> None:
        """Renew this process's presence a few times per TTL; a database hiccup only
        delays it (the lease is taken again, it never belongs to anyone else)."""
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), PRESENCE_TTL_S / 3)
            if self._stop.is_set():
                return
            try:
                await self.presence.acquire()
            except Exception as exc:
                log.warning("presence renewal failed", error=f"{type(exc).__name__}: {exc}")

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
            self.trader.wake.set()
        except Exception as exc:
            self.cycle_errors += 1
            log.error("monitor cycle failed", error=f"{type(exc).__name__}: {exc}",
                      exc_info=True)
            with contextlib.suppress(Exception):
                error = f"{type(exc).__name__}: {exc}"
                await self.db.run(self._event, MonitorCycleFailed(error=error), error)

    def _make_live_broker(self) -> Broker | None:
        """The exchange's order API behind the Broker port (`atp.exchange.orders`), when
        this build has it and an exchange client exists; dry run needs none."""
        if self.exchange_client is None:
            return None
        import importlib

        try:
            orders = importlib.import_module("atp.exchange.orders")
        except ImportError:
            return None
        make = getattr(orders, "LiveBroker", None)
        if make is None:
            return None
        try:
            broker: Broker = make(self.exchange_client)
        except Exception as exc:
            log.error("live broker unavailable", error=f"{type(exc).__name__}: {exc}")
            return None
        return broker

    # ── journal helpers ────────────────────────────────────────────────────────────────

    def _event(self, event: Event, message: str) -> None:
        with self.db.unit("events") as uow:
            record(uow.session, event, at=self.clock.now(),
                   instance=self.settings.instance_name, message=message)

    async def _poller_event(self, event: Any) -> None:
        await self.db.run(self._event, TelegramPollerEvent(poller_kind=str(event.kind),
                                                           chat_id=event.chat_id),
                          event.detail)

    async def _listed(self) -> list[str] | None:
        """The instruments the exchange lists (None when it cannot say right now: an
        outage must not block every watchlist edit; the monitor names it per cycle)."""
        client = self.exchange_client
        if client is None:
            return None
        try:
            return await client.symbols()
        except Exception:
            return None

    def on_exchange_failure(self, failure: Any) -> None:
        """The exchange adapter's error sink: a typed event per failure (the adapter
        already wrote its `[CRYPTO_AUTH_DIAG]` / error log line)."""
        self.exchange_failures[str(failure.category)] += 1
        event = ExchangeFailureEvent(**failure.as_event())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.db.run(self._event, event, str(failure.diagnosis)))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def _exchange_heartbeat(self, every_seconds: float = 60.0) -> None:
        """A private call now and then, so a revoked key or a broken proxy shows up before
        an order needs it (runbook step h: "last private call succeeded")."""
        client = self.exchange_client
        assert client is not None
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

    def status(self) -> PlatformStatus:
        """A typed snapshot of the process state for every channel."""
        s, last, stats = self.settings, self.monitor.last, self.outbox.stats
        poller = self.poller
        pstatus = poller.status if poller is not None else None
        conflicts = poller.conflicts if poller is not None else None
        client = self.exchange_client
        failure = None if client is None else client.last_failure
        ok_at = None if client is None else client.last_private_ok
        return PlatformStatus(
            instance=s.instance_name,
            owner=self.owner,
            problems=self.problems(),
            started_at=self.started_at,
            running=self.running,
            scheduler_ticks=self.scheduler_ticks,
            monitor_ticks=self.monitor.ticks,
            last_cycle=None if last is None else CycleStatus(
                last.cycle_id, last.finished_at, last.duration_ms, last.symbols,
                last.processed, last.skipped, dict(last.decisions)),
            last_update_seconds_ago=self.last_update_seconds_ago(),
            missed_cycles=self.missed_cycles,
            cycle_errors=self.cycle_errors,
            evaluation_errors=int(getattr(self.monitor, "evaluation_errors", 0)),
            decision_flips=dict(self.monitor.flips),
            outbox=OutboxStatus(stats.sent, stats.failed, stats.retries, stats.system_sent,
                                stats.last_send_at, stats.last_error, stats.last_error_at,
                                self.outbox.holding_lease, stats.repeats),
            telegram=TelegramStatus(
                token_configured=s.telegram_bot_token is not None,
                chat_configured=bool(s.telegram_chat_id),
                alerts_enabled=s.alerts_enabled,
                production=s.production,
                token_valid=self.telegram_identity.get("token_valid"),
                bot_username=self.telegram_identity.get("bot_username"),
                polling=bool(pstatus is not None and pstatus.polling),
                holding_lease=bool(pstatus is not None and pstatus.holding_lease),
                conflicts=0 if conflicts is None else conflicts.count,
                conflict_last_at=None if conflicts is None else conflicts.last_at,
                conflict_last_description=(None if conflicts is None
                                           else conflicts.last_description),
                unauthorised_dropped=0 if pstatus is None else pstatus.refusals_dropped,
                polling_stopped_reason=None if pstatus is None else pstatus.stopped_reason,
                poll_restarts=0 if pstatus is None else pstatus.restarts,
            ),
            exchange=ExchangeStatus(
                credentials_configured=(client.has_credentials if client is not None
                                        else s.has_exchange_credentials),
                proxy_in_use=(client.proxy_in_use if client is not None
                              else s.exchange_proxy_url is not None),
                last_private_ok_at=(None if ok_at is None
                                    else datetime.fromtimestamp(ok_at, UTC)),
                last_failure=None if failure is None else ExchangeFailureStatus(
                    str(failure.category), str(failure.kind), failure.code,
                    str(failure.diagnosis), str(failure.fix)),
                failures=dict(self.exchange_failures),
            ),
            cycle_stale_after_seconds=s.limits.cycle_stale_after_seconds,
            watchdog_gauges=dict(self.watchdog.gauges()) if self.watchdog is not None else {},
            replicas=self.replicas,
        )
