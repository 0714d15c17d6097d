"""Scheduled reports: the daily summary, the sell report and the SL/TP reminder.

Each is due once per local date at its time of day in `TIMEZONE` (`domain.reports` says
which date is due, DST included). One replica schedules — the holder of the `reports`
lease — but the guarantee is the database's: the (report, date) row is claimed by an
insert-if-absent in the same transaction as the outbox message, so a restart or a second
scheduler can never queue a second copy. Delivery is the outbox's (durable, retried).

A database that never scheduled a report does not catch up one that fell due before the
process started (a first start at 23:00 does not send the 08:00 summary); afterwards a
restart within `CATCH_UP` of a report's time still sends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from atp.domain.reports import (
    CATCH_UP,
    Due,
    PositionLine,
    Report,
    ReportData,
    SellLine,
    daily_summary_text,
    due_now,
    sell_report_text,
    sltp_reminder_text,
    window,
)
from atp.engine.clock import Clock
from atp.engine.core import Core
from atp.engine.lease import DbLease
from atp.events import Event, ReportQueued, ReportSkipped
from atp.logging import get_logger
from atp.store import reports as rows
from atp.store.journal import record

log = get_logger("atp.reports")

REPORTS_LEASE = "reports"
SELL_WINDOW = timedelta(hours=24)


async def gather(core: Core, since: datetime, until: datetime) -> ReportData:
    """Every figure of a report, from the stored records through the one core: balances
    and positions from the portfolio read model (what /api/portfolio, the dashboard and
    /portfolio show, paper or live), the day's counts and closes from the record."""
    portfolio = await core.portfolio()
    mode = str(portfolio.get("mode") or "paper")

    def read() -> dict[str, Any]:
        with core.db.read_sessions() as s:
            closed = rows.closed_positions(s, since, until, mode)
            return {
                "sells": [SellLine(p.symbol, p.quantity, p.exit_price, p.realised_pnl,
                                   p.closed_at or until, p.closed_by or "sell")
                          for p in closed],
                "decisions": rows.decision_counts(s, since, until),
                "alerts": rows.alert_counts(s, since, until),
                "orders": rows.order_counts(s, since, until),
            }

    figures = await core.db.read(read)
    lines = [PositionLine(p["symbol"], float(p["quantity"]), float(p["avg_entry"]),
                          p.get("mark_price"), p.get("unrealised_pnl"), bool(p["protected"]),
                          p.get("stop_loss"), p.get("take_profit"))
             for p in portfolio.get("positions", [])]
    balances = {b["currency"]: float(b["amount"]) for b in portfolio.get("balances", [])}
    return ReportData(instance=core.instance, mode=mode, since=since, until=until,
                      positions=lines, balances=balances, **figures)


@dataclass
class ReportScheduler:
    core: Core
    clock: Clock
    instance: str
    chat_id: str
    tz: ZoneInfo
    times: Mapping[Report, time | None]
    lease: DbLease | None = None
    wake_outbox: Callable[[], None] | None = None
    started_at: datetime | None = None  # the process's start (first-start rule)
    holding_lease: bool = False
    queued: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one look at a time
    # Dates already recorded, per report: saves a read per tick. Only an optimisation:
    # the database's key decides what is sent.
    _recorded: dict[Report, date] = field(default_factory=dict)

    async def step(self) -> list[tuple[Report, date, str]]:
        """One round as a replica: only the `reports` lease holder schedules."""
        async with self._lock:
            return await self._step()

    async def _step(self) -> list[tuple[Report, date, str]]:
        if self.lease is not None:
            held = await self.lease.acquire()  # renews when already ours
            if held != self.holding_lease:
                log.info("reports lease " + ("acquired" if held else "lost"),
                         instance=self.instance)
            self.holding_lease = held
            if not held:
                return []
        return await self.run_once()

    async def run_once(self) -> list[tuple[Report, date, str]]:
        """Record every report due now; what was done as (report, date, queued|skipped)."""
        now = self.clock.now()
        done = []
        for report, at in self.times.items():
            if at is None:
                continue
            due = due_now(now, at, self.tz)
            if self._recorded.get(report) == due.day:
                continue
            outcome = await self._one(report, at, due, now)
            self._recorded[report] = due.day
            if outcome is not None:
                done.append((report, due.day, outcome))
        return done

    async def _one(self, report: Report, at: time, due: Due, now: datetime) -> str | None:
        day = due.day.isoformat()

        def look() -> tuple[bool, bool]:
            with self.core.db.read_sessions() as s:
                return rows.exists(s, report, day), rows.armed(s, report)

        exists, armed = await self.core.db.read(look)
        if exists:
            return None
        started = self.started_at or now
        if not armed and due.at < started:
            return await self._skip(report, due, now, "due before reports were first "
                                    "scheduled on this database")
        if due.late:
            hours = (now - due.at).total_seconds() / 3600
            return await self._skip(report, due, now, f"{hours:.1f} h late (the service was "
                                    f"down): not caught up after {CATCH_UP}")
        text = await self._text(report, at, due, now)
        if text is None:
            return await self._skip(report, due, now, "every position is protected")
        log.info("report built", report=str(report), local_date=day, chars=len(text))
        return await self._queue(report, due, now, text)

    async def _text(self, report: Report, at: time, due: Due, now: datetime) -> str | None:
        if report is Report.DAILY_SUMMARY:
            since, until = window(due.day, at, self.tz)
            return daily_summary_text(await gather(self.core, since, until), due.day, self.tz)
        if report is Report.SELL_REPORT:
            return sell_report_text(await gather(self.core, now - SELL_WINDOW, now), self.tz)
        return sltp_reminder_text(await gather(self.core, now - SELL_WINDOW, now))

    async def _queue(self, report: Report, due: Due, now: datetime, text: str) -> str | None:
        day = due.day.isoformat()

        def write() -> int | None:
            with self.core.db.unit("report_queue") as uow:
                outbox_id = rows.queue(uow.session, report=report, local_date=day,
                                       due_at=due.at, chat_id=self.chat_id, text=text,
                                       instance=self.instance, now=now)
                if outbox_id is not None:
                    self._event(uow.session, ReportQueued(report=report, local_date=day,
                                                          due_at=due.at.isoformat()),
                                now, text.splitlines()[0][:200])
                return outbox_id

        outbox_id = await self.core.db.run(write)
        if outbox_id is None:
            log.info("report already queued elsewhere", report=str(report), local_date=day)
            return None
        self.queued += 1
        log.info("report queued", report=str(report), local_date=day, outbox_id=outbox_id,
                 due_at=due.at.isoformat())
        if self.wake_outbox is not None:
            self.wake_outbox()
        return "queued"

    async def _skip(self, report: Report, due: Due, now: datetime, reason: str) -> str | None:
        day = due.day.isoformat()

        def write() -> bool:
            with self.core.db.unit("report_skip") as uow:
                claimed = rows.claim(uow.session, report=report, local_date=day,
                                     due_at=due.at, status="skipped",
                                     instance=self.instance, now=now, reason=reason)
                if claimed:
                    self._event(uow.session, ReportSkipped(report=report, local_date=day,
                                                           reason=reason), now, reason)
                return claimed

        if not await self.core.db.run(write):
            return None
        log.info("report skipped", report=str(report), local_date=day, reason=reason)
        return "skipped"

    def _event(self, session: Any, event: Event, now: datetime, message: str) -> None:
        record(session, event, at=now, instance=self.instance, message=message)
