"""The window aggregates `atp check` reads stay bounded by the window: on SQLite (no
ANALYZE statistics, as deployed) every statement they issue searches an index range,
never scans a journal table whole, so 30 days of history cost what 15 minutes cost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from atp.store import aggregates, queries
from atp.store import repository as repo
from tests.conftest import MigratedDb

JOURNAL = ("events", "decisions", "alert_outcomes", "monitor_cycles")
SINCE = datetime(2026, 1, 1, tzinfo=UTC)

CALLS: dict[str, Callable[[Session], Any]] = {
    "event_counts": lambda s: aggregates.event_counts(s, since=SINCE, until=None),
    "event_counts_until": lambda s: aggregates.event_counts(
        s, since=SINCE, until=SINCE + timedelta(minutes=15)),
    "alert_reconciliation": lambda s: aggregates.alert_reconciliation(s, since=SINCE,
                                                                      limit=1000),
    "latest_per_symbol": lambda s: aggregates.latest_per_symbol(
        s, types=["symbol_skipped"], since=SINCE),
    # the decision reads every cycle, dashboard refresh and start makes (compact storage)
    "newest_runs": lambda s: repo.newest_runs(s, ["AAA_USDT", "BBB_USDT"]),
    "latest_decisions": lambda s: queries.latest_decisions(s, ["AAA_USDT"]),
    "decisions_window": lambda s: queries.decisions(s, symbol=None, kinds=None, since=SINCE,
                                                    until=None, limit=100, offset=0),
    "decisions_buy_sell": lambda s: queries.decisions(
        s, symbol=None, kinds=["BUY", "SELL"], since=None, until=None, limit=100, offset=0),
    "orphan_decisions": lambda s: repo.orphan_decisions(s),
    "decision_counts": lambda s: repo.decision_counts(s, SINCE),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_aggregate_reads_search_an_index_range(_migrated_sqlite: MigratedDb,
                                               name: str) -> None:
    db = _migrated_sqlite
    db.reset()
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            found = conn.connection.execute("EXPLAIN QUERY PLAN " + statement, params)
            plans.extend(str(r[-1]) for r in found.fetchall())

    event.listen(db.engine, "before_cursor_execute", explain)
    try:
        with db.session_factory() as session:
            CALLS[name](session)
    finally:
        event.remove(db.engine, "before_cursor_execute", explain)
    assert plans, "no statement was issued"
    scans = [p for p in plans if any(p.startswith(f"SCAN {t}") for t in JOURNAL)]
    assert scans == [], plans
