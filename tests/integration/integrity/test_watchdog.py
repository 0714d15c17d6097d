"""The in-service watchdog: one message when the verdict worsens, one on recovery, the
outbox as the channel, a dead-man's-switch ping after healthy evaluations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from atp.integrity.report import CheckResult, Report, Status
from atp.integrity.watchdog import Watchdog
from atp.store.models import EventRow, OutboxRow


def report(**statuses: Status) -> Report:
    return Report([CheckResult(i, s, f"{i} {s}", remediation=None if s is Status.OK
                               else f"fix {i}") for i, s in statuses.items()])


OK = report(backend_health=Status.OK, telegram=Status.OK)
WARN = report(backend_health=Status.OK, telegram=Status.WARNING)
CRIT = report(backend_health=Status.CRITICAL, telegram=Status.WARNING)


def scripted(*reports: Report) -> Callable[[], Any]:
    queue = list(reports)

    async def next_report() -> Report:
        return queue.pop(0)

    return next_report


async def test_one_message_per_worsening_and_one_on_recovery() -> None:
    sent: list[str] = []

    async def notify(text: str) -> None:
        sent.append(text)

    dog = Watchdog("http://unused", notify, origin="prod",
                   evaluator=scripted(OK, WARN, WARN, CRIT, WARN, CRIT, OK, WARN, OK, OK, OK))
    for _ in range(11):
        await dog.evaluate_once()
    assert [t.splitlines()[0] for t in sent] == [
        "⚠️ ATP watchdog [prod]: WARNING",
        "❌ ATP watchdog [prod]: CRITICAL",
        "✅ ATP watchdog [prod]: recovered — all checks pass",
    ]
    assert "fix backend_health" in sent[1]
    assert dog.gauges() == {"backend_health": 0, "telegram": 0, "overall": 0}


async def test_deadman_is_pinged_after_healthy_evaluations_only() -> None:
    pings: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        pings.append(str(request.url))
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        dog = Watchdog("http://unused", None, deadman_url="https://hc.example/ping/abc",
                       evaluator=scripted(OK, CRIT, OK), http=http)
        for _ in range(3):
            await dog.evaluate_once()
    assert pings == ["https://hc.example/ping/abc"] * 2
    assert dog.gauges()["overall"] == 0


async def test_watchdog_task_starts_and_stops_without_waiting() -> None:
    evaluated = asyncio.Event()

    async def evaluator() -> Report:
        evaluated.set()
        return OK

    dog = Watchdog("http://unused", None, interval_s=0.01, evaluator=evaluator)
    await dog.start()
    await asyncio.wait_for(evaluated.wait(), 5)
    await dog.stop()
    assert dog.evaluations >= 1


async def test_messages_go_through_the_durable_outbox_via_the_core(migrated_db: Any) -> None:
    """The watchdog's message is the core's system message: queued in the outbox as
    `watchdog`, journaled as `system_message_queued` (never as an alert)."""
    from atp.engine.clock import ManualClock
    from atp.engine.core import Core
    from atp.store.database import Database

    db = Database(migrated_db.url)
    core = Core(db, ManualClock(datetime(2026, 1, 1, tzinfo=UTC)), "prod", chat_id="42")
    try:
        async def notify(text: str) -> None:
            await core.notify_system("watchdog", text)

        dog = Watchdog("http://unused", notify, origin="prod", evaluator=scripted(CRIT))
        await dog.evaluate_once()
    finally:
        db.close()
    with migrated_db.session_factory() as session:
        rows = list(session.scalars(select(OutboxRow)))
        events = [(e.type, e.payload) for e in session.scalars(select(EventRow))]
    assert [(r.kind, r.chat_id, r.status, r.origin) for r in rows] == [
        ("watchdog", "42", "pending", "prod")]
    assert rows[0].text.startswith("❌ ATP watchdog [prod]: CRITICAL")
    assert events == [("system_message_queued", {"source": "watchdog"})]


async def test_integrity_endpoint_and_watchdog_read_the_api_over_http() -> None:
    from atp.integrity.watchdog import integrity_endpoint

    from .payload_server import PayloadServer

    with PayloadServer() as api:
        body = await integrity_endpoint(api.url)()
        dog = Watchdog(api.url, None)
        await dog.evaluate_once()
    assert body["status"] == "ok", body
    assert body["checks"][0]["id"] == "backend_health"
    assert "containers" not in [c["id"] for c in body["checks"]]  # not visible from inside
    assert dog.gauges()["overall"] == 0 and dog.gauges()["telegram"] == 0
