"""The window aggregates `atp check` reads (GET /api/events/counts, GET
/api/alerts/reconciliation), on SQLite and PostgreSQL: their numbers equal what paging
through the journal gives, and the checks built on them answer exactly as they do when
they page (what they still do against a backend older than these endpoints)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update

from atp.events import MonitorCycleFailed, SymbolSkipped
from atp.integrity.checks import alert_emissions, errors, signal_monitor_cycles
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.http import ApiSource
from atp.store.journal import record
from atp.store.models import AlertOutcomeRow, DecisionRow
from tests.integration.api.conftest import Api

NEW_PATHS = ("/api/events/counts", "/api/alerts/reconciliation", "/api/events/latest")


class OlderBackend(ApiSource):
    """A target from before the aggregates: they answer 404, as FastAPI would."""

    async def _fetch(self, path: str, params: dict[str, Any]) -> Any:
        if path in NEW_PATHS:
            raise SourceUnavailable("HTTP API", f"{path} answered HTTP 404", http_status=404)
        return await super()._fetch(path, params)


def _ctx(api: Api, source: type[ApiSource] = ApiSource) -> CheckContext:
    return CheckContext(api=source("http://atp.test", client=api.client),
                        now=api.clock.now(), window=timedelta(minutes=15))


async def _both(api: Api, check: Any) -> tuple[CheckResult, CheckResult]:
    """The check's answer from the aggregates and from paging; asserted equal."""
    new = await check.run(_ctx(api))
    old = await check.run(_ctx(api, OlderBackend))
    assert (new.status, new.summary, new.details, new.data) == \
        (old.status, old.summary, old.details, old.data)
    return new, old


def _since(api: Api) -> str:
    return (api.clock.now() - timedelta(minutes=15)).isoformat()


def _decision(api: Api, symbol: str, side: str, **extra: Any) -> DecisionRow:
    return DecisionRow(id=str(uuid.uuid4()), symbol=symbol, preset="scalp-aggressive",
                       decision=side, buy_index=50, price=1.0, flags={}, indicators={},
                       reasons=[], created_at=api.clock.now() - timedelta(seconds=60),
                       **extra)


async def test_event_counts_equal_the_journal_paged(api: Api) -> None:
    with api.platform.db.sessions.begin() as session:
        for text in ("first boom", "second boom"):
            api.clock.advance(1)
            record(session, MonitorCycleFailed(error=text), at=api.clock.now(),
                   instance="test-1", message=text)
    since = _since(api)
    body = (await api.client.get("/api/events/counts", params={"since": since})).json()
    events = (await api.client.get("/api/events", params={"since": since,
                                                          "limit": 1000})).json()
    assert body["total"] == len(events) > 2
    assert {(g["type"], g["severity"]): g["count"] for g in body["groups"]} == \
        dict(Counter((e["type"], e["severity"]) for e in events))
    failed = next(g for g in body["groups"] if g["type"] == "monitor_cycle_failed")
    assert (failed["count"], failed["example"]) == (2, "second boom")  # the newest
    assert all(g["example"] is None for g in body["groups"] if g["severity"] == "info")
    later = (api.clock.now() + timedelta(seconds=1)).isoformat()
    assert (await api.client.get("/api/events/counts", params={"since": later})).json() == \
        {"total": 0, "groups": []}

    result, _ = await _both(api, errors)
    assert result.status is Status.CRITICAL
    assert result.data["unexpected"] == {"monitor_cycle_failed": 2}
    assert "second boom" in " ".join(result.details)


async def test_reconciliation_counts_and_names_only_the_exceptions(api: Api) -> None:
    since = _since(api)
    body = (await api.client.get("/api/alerts/reconciliation", params={"since": since})).json()
    assert body == {"decisions": 2, "covered": 0, "without_outcome": 0,
                    "outcomes": {"SENT": 2}, "rows": [], "truncated": False}
    result, _ = await _both(api, alert_emissions)
    assert result.status is Status.OK and result.data["outcomes"] == {"SENT": 2}

    # AAA's outcome FAILED, BBB's turned into a BLOCKED run that a later decision joins,
    # and a decision with no outcome at all (what a crash leaves).
    aaa, bbb = sorted((await api.client.get("/api/alerts/outcomes")).json(),
                      key=lambda o: o["symbol"])
    covered = _decision(api, "BBB_USDT", "SELL", alert_ref=bbb["decision_id"])
    orphan = _decision(api, "AAA_USDT", "BUY")
    with api.platform.db.sessions.begin() as session:
        session.execute(update(AlertOutcomeRow).where(
            AlertOutcomeRow.decision_id == aaa["decision_id"]).values(
                outcome="FAILED", error="Forbidden: bot was blocked by the user"))
        session.execute(update(AlertOutcomeRow).where(
            AlertOutcomeRow.decision_id == bbb["decision_id"]).values(outcome="BLOCKED"))
        session.add_all([covered, orphan])
    try:
        body = (await api.client.get("/api/alerts/reconciliation",
                                     params={"since": since})).json()
        assert (body["decisions"], body["covered"], body["without_outcome"]) == (4, 1, 1)
        assert body["outcomes"] == {"FAILED": 1, "BLOCKED": 1}
        assert {(r["decision_id"], r["outcome"]) for r in body["rows"]} == {
            (orphan.id, None), (aaa["decision_id"], "FAILED")}
        one = (await api.client.get("/api/alerts/reconciliation",
                                    params={"since": since, "limit": 1})).json()
        assert len(one["rows"]) == 1 and one["truncated"] is True
        assert one["decisions"] == 4  # the counts never depend on the limit

        result, _ = await _both(api, alert_emissions)
        assert result.status is Status.CRITICAL
        assert orphan.id in result.summary
        assert result.data["outcomes"] == {"FAILED": 1, "BLOCKED": 1, "BLOCKED (covered)": 1}
        assert [m["decision_id"] for m in result.data["missing"]] == [orphan.id]
        assert [f["decision_id"] for f in result.data["failed"]] == [aaa["decision_id"]]
    finally:
        with api.platform.db.sessions.begin() as session:
            session.execute(delete(DecisionRow).where(DecisionRow.id == orphan.id))


async def test_latest_event_of_each_symbol_is_one_row_per_symbol(api: Api) -> None:
    with api.platform.db.sessions.begin() as session:
        for symbol, cycle in (("AAA_USDT", 1), ("BBB_USDT", 1), ("AAA_USDT", 2),
                              ("AAA_USDT", 3)):
            api.clock.advance(1)
            record(session, SymbolSkipped(cycle=cycle), at=api.clock.now(), instance="test-1",
                   symbol=symbol, message=f"{symbol} boom in cycle {cycle}")
    params = {"type": "symbol_skipped", "since": _since(api)}
    rows = (await api.client.get("/api/events/latest", params=params)).json()
    assert [(r["symbol"], r["message"]) for r in rows] == [
        ("AAA_USDT", "AAA_USDT boom in cycle 3"), ("BBB_USDT", "BBB_USDT boom in cycle 1")]
    assert rows[0]["payload"] == {"cycle": 3} and rows[0]["type"] == "symbol_skipped"
    later = (api.clock.now() + timedelta(seconds=1)).isoformat()
    assert (await api.client.get("/api/events/latest", params={**params, "since": later})
            ).json() == []
    bad = await api.client.get("/api/events/latest", params={"type": "no_such_kind"})
    assert bad.status_code == 422

    result, _ = await _both(api, signal_monitor_cycles)
    assert result.data["skipped_symbols"] == {"AAA_USDT": "AAA_USDT boom in cycle 3",
                                              "BBB_USDT": "BBB_USDT boom in cycle 1"}
