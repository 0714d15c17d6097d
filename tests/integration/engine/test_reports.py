"""Scheduled reports through the real service: the Platform started on SQLite and
PostgreSQL, an injected clock driven across 08:00 local time, the real Telegram client
against the Telegram emulator. Exactly one daily summary per local date reaches the
chat, across restarts and replicas (the (report, date) key is the database's)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from atp.domain.reports import Report
from atp.emulators.telegram.server import TelegramEmulator
from atp.engine.clock import ManualClock
from atp.engine.service import Platform
from atp.store import reports as report_rows
from atp.store.models import EventRow, OutboxRow
from tests.integration.engine.conftest import CHAT

BERLIN = ZoneInfo("Europe/Berlin")
SUMMARY = "📊 ATP daily summary"
# Only the daily summary: the acceptance counts it alone.
ONLY_SUMMARY: dict[str, Any] = dict(timezone="Europe/Berlin", daily_summary_at="08:00",
                                    sell_report_at="off", sltp_reminder_at="off")


def move_to(clock: ManualClock, local: datetime) -> None:
    """Drive the clock forward to a Berlin wall time."""
    target = local.replace(tzinfo=BERLIN).astimezone(UTC)
    seconds = (target - clock.now()).total_seconds()
    assert seconds >= 0, "time does not run backwards"
    clock.advance(seconds)


def summaries(tg: TelegramEmulator) -> list[str]:
    return [m.text for m in tg.received(CHAT) if m.text.startswith(SUMMARY)]


async def settled(p: Platform, timeout: float = 20.0) -> None:
    """Until the outbox holds nothing pending (a readiness poll on the database). The
    per-chat rate limiter runs on the injected clock: a second moves it on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await p.core.outbox_depth())[0]:
        assert loop.time() < deadline, "the outbox did not drain"
        if isinstance(p.clock, ManualClock):
            p.clock.advance(1.0)
        p.outbox.wake.set()
        await asyncio.sleep(0.05)


async def look(p: Platform) -> list[tuple[Report, str]]:
    """What the scheduler queued now. Stepped twice: the service's own loop may be in
    the middle of a look (steps are serialised), so the second waits it out; what either
    queued is read back from the journal's `report_queued` events of this instant."""
    assert p.reports is not None
    before = p.reports.queued
    await p.reports.step()
    await p.reports.step()
    with p.db.sessions() as s:
        rows = [e for e in s.scalars(select(EventRow).where(EventRow.type == "report_queued"))
                if e.at == p.clock.now()]
    assert p.reports.queued - before <= len(rows)
    return [(Report(e.payload["report"]), e.payload["local_date"]) for e in rows]


async def start(make_platform: Any) -> Platform:
    p: Platform = make_platform(**ONLY_SUMMARY)
    await p.start(telegram_poller=False)
    assert p.reports is not None
    return p


async def test_two_mornings_and_a_restart_in_between_send_exactly_two_summaries(
        make_platform, tg, clock: ManualClock, migrated_db) -> None:
    # Saturday 28 March 2026 and Sunday 29 March: Berlin moves to summer time overnight
    move_to(clock, datetime(2026, 3, 28, 7, 59))
    p = await start(make_platform)
    assert await look(p) == []  # yesterday's 08:00 predates the first start: skipped
    await settled(p)
    assert summaries(tg) == []

    move_to(clock, datetime(2026, 3, 28, 8, 0, 30))
    assert await look(p) == [(Report.DAILY_SUMMARY, "2026-03-28")]
    await tg.wait_for_message(CHAT, SUMMARY, timeout=15)
    await settled(p)
    await p.stop()

    move_to(clock, datetime(2026, 3, 28, 12, 0))
    p = await start(make_platform)  # the restart
    assert await look(p) == []
    move_to(clock, datetime(2026, 3, 29, 7, 59))  # CEST now: 05:59 UTC
    assert await look(p) == []
    move_to(clock, datetime(2026, 3, 29, 8, 0, 1))
    assert await look(p) == [(Report.DAILY_SUMMARY, "2026-03-29")]
    await settled(p)
    move_to(clock, datetime(2026, 3, 29, 9, 0))
    assert await look(p) == []
    await settled(p)
    await p.stop()

    sent = summaries(tg)
    assert len(sent) == 2, sent
    assert "2026-03-28" in sent[0] and "2026-03-29" in sent[1]
    assert "ALERT_EMIT_FINAL" not in "".join(sent)
    with migrated_db.session_factory() as s:
        runs = report_rows.runs(s, "daily_summary")
        kinds = [e.type for e in s.scalars(select(EventRow))]
        outbox = list(s.scalars(select(OutboxRow).where(OutboxRow.kind == "report")))
    assert [(r["local_date"], r["status"]) for r in runs] == [
        ("2026-03-27", "skipped"), ("2026-03-28", "sent"), ("2026-03-29", "sent")]
    assert runs[2]["due_at"] == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert kinds.count("report_queued") == 2 and kinds.count("report_sent") == 2
    assert kinds.count("report_skipped") == 1
    assert not [k for k in kinds if k.startswith("alert_")]
    assert [o.status for o in outbox] == ["sent", "sent"]


async def test_a_restart_right_after_08_00_still_sends_one(
        make_platform, tg, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    import atp.engine.outbox as outbox_module

    markers: list[str] = []
    real = outbox_module.log_marker

    def spy(logger: object, name: str, *args: object, **fields: object) -> None:
        markers.append(name)
        real(logger, name, *args, **fields)

    monkeypatch.setattr(outbox_module, "log_marker", spy)
    move_to(clock, datetime(2026, 6, 10, 7, 58))
    p = await start(make_platform)
    assert await look(p) == []
    move_to(clock, datetime(2026, 6, 10, 8, 0, 5))
    assert await look(p) == [(Report.DAILY_SUMMARY, "2026-06-10")]
    await p.stop()  # at once: the summary may still wait in the outbox

    move_to(clock, datetime(2026, 6, 10, 8, 1))
    p = await start(make_platform)
    assert await look(p) == []
    assert p.reports is not None
    assert await p.reports.run_once() == []  # memory cleared or not: the database says no
    await settled(p)
    await p.stop()
    assert len(summaries(tg)) == 1
    assert markers == ["WATCHDOG"]  # a system message's marker, never ALERT_EMIT_FINAL


async def test_two_replicas_on_one_database_send_one_summary(
        make_platform, tg, clock: ManualClock) -> None:
    move_to(clock, datetime(2026, 6, 10, 7, 59))
    a, b = await start(make_platform), await start(make_platform)
    assert a.reports is not None and b.reports is not None
    assert a.owner != b.owner
    move_to(clock, datetime(2026, 6, 10, 8, 0, 10))
    await asyncio.gather(look(a), look(b))  # each replica's loop and an extra look
    # one holds the `reports` lease; even bypassing it, the key admits one copy
    await asyncio.gather(a.reports.run_once(), b.reports.run_once())
    assert a.reports.queued + b.reports.queued == 1
    assert sum(1 for r in (a.reports, b.reports) if r.holding_lease) == 1
    await settled(a)
    await settled(b)
    await a.stop()
    await b.stop()
    assert len(summaries(tg)) == 1


def test_the_database_admits_one_row_per_report_and_date(migrated_db) -> None:
    """Insert-if-absent on the (report, local_date) key: the second writer gets False and
    writes nothing (no second outbox message), on both backends."""
    at = datetime(2026, 6, 10, 6, 0, tzinfo=UTC)
    for expected in (True, False):
        with migrated_db.session_factory.begin() as s:
            queued = report_rows.queue(s, report="daily_summary", local_date="2026-06-10",
                                       due_at=at, chat_id=str(CHAT), text="x",
                                       instance="a", now=at)
            assert (queued is not None) is expected
        with migrated_db.session_factory.begin() as s:
            assert report_rows.claim(s, report="daily_summary", local_date="2026-06-10",
                                     due_at=at, status="skipped", instance="b",
                                     now=at) is False
    with migrated_db.session_factory() as s:
        assert len(list(s.scalars(select(OutboxRow)))) == 1
        assert [r["instance"] for r in report_rows.runs(s)] == ["a"]


def _position(symbol: str, *, closed_at: datetime | None = None, protected: bool = False,
              pnl: float | None = None) -> Any:
    from atp.store.models import PositionRow

    opened = datetime(2026, 6, 9, 12, 0, tzinfo=UTC)
    return PositionRow(
        symbol=symbol, base=symbol.split("_")[0], mode="paper", decision_id=f"d-{symbol}",
        entry_client_oid=f"e-{symbol}", quantity=2.0, entry_price=100.0, avg_entry=100.0,
        cost=200.0, status="closed" if closed_at else "open", opened_at=opened,
        closed_at=closed_at, closed_by="take_profit" if closed_at else None,
        exit_price=110.0 if closed_at else None, realised_pnl=pnl, preset="scalp-aggressive",
        protection_status=("filled" if closed_at else "active" if protected else "failed"))


async def test_sell_report_and_sltp_reminder_come_from_the_stored_positions(
        make_platform, tg, clock: ManualClock, migrated_db) -> None:
    """The sell report lists the last 24 h of closed positions with their P&L; the
    reminder names only the unprotected open ones, and says nothing when all are."""
    with migrated_db.session_factory.begin() as s:
        s.add_all([
            _position("SOL_USDT", closed_at=datetime(2026, 6, 10, 9, tzinfo=UTC), pnl=19.5),
            _position("ADA_USDT", closed_at=datetime(2026, 6, 8, 9, tzinfo=UTC), pnl=-3.0),
            _position("ETH_USDT", protected=True),
            _position("BTC_USDT"),
        ])
    move_to(clock, datetime(2026, 6, 10, 8, 59))  # 06:59 UTC in Berlin's summer
    p: Platform = make_platform(timezone="Europe/Berlin", daily_summary_at="off",
                                sell_report_at="20:00", sltp_reminder_at="09:00")
    await p.start(telegram_poller=False)
    await look(p)
    move_to(clock, datetime(2026, 6, 10, 9, 0, 1))
    assert await look(p) == [(Report.SLTP_REMINDER, "2026-06-10")]
    move_to(clock, datetime(2026, 6, 10, 20, 0, 1))
    assert await look(p) == [(Report.SELL_REPORT, "2026-06-10")]
    await settled(p)
    texts = [m.text for m in tg.received(CHAT)]
    [reminder] = [t for t in texts if t.startswith("⚠️ ATP SL/TP reminder")]
    assert "BTC_USDT" in reminder and "ETH_USDT" not in reminder
    [sold] = [t for t in texts if t.startswith("💰 ATP sell report")]
    assert "SOL_USDT 2 @ 110 P&L +19.50 (take_profit" in sold and "ADA_USDT" not in sold

    with migrated_db.session_factory.begin() as s:  # BTC protected now
        s.execute(protect_stmt("BTC_USDT"))
    move_to(clock, datetime(2026, 6, 11, 9, 0, 1))
    assert await look(p) == []  # every position protected: nothing sent, recorded skipped
    await p.stop()
    with migrated_db.session_factory() as s:
        runs = {(r["report"], r["local_date"]): r for r in report_rows.runs(s)}
    assert runs[("sltp_reminder", "2026-06-11")]["status"] == "skipped"
    assert runs[("sltp_reminder", "2026-06-11")]["reason"] == "every position is protected"


def protect_stmt(symbol: str) -> Any:
    from sqlalchemy import update

    from atp.store.models import PositionRow

    return (update(PositionRow).where(PositionRow.symbol == symbol)
            .values(protection_status="active"))
