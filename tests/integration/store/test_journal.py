"""The event journal: typed events in, filtered time-ordered events out, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.store.journal import append_event, query_events
from atp.store.uow import UnitOfWork

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def journal(migrated_db):
    """Six events over five minutes, two symbols, one decision id."""
    with UnitOfWork(migrated_db.session_factory, "seed_journal") as uow:
        s = uow.session
        append_event(s, "monitor_cycle", at=T0, instance="a", payload={"cycle": 1})
        append_event(s, "signal_decision", at=T0 + timedelta(seconds=1), instance="a",
                     symbol="BTC_USDT", decision_id="d-1", message="BUY")
        append_event(s, "alert_accepted", at=T0 + timedelta(seconds=2), instance="a",
                     symbol="BTC_USDT", decision_id="d-1")
        append_event(s, "signal_decision", at=T0 + timedelta(minutes=1), instance="a",
                     symbol="ETH_USDT", decision_id="d-2", message="WAIT")
        append_event(s, "alert_failed", at=T0 + timedelta(minutes=2), instance="a",
                     severity="error", symbol="BTC_USDT", decision_id="d-1",
                     payload={"error": "chat not found"})
        append_event(s, "monitor_cycle", at=T0 + timedelta(minutes=5), instance="b")
    return migrated_db


def _types(events) -> list[str]:
    return [e.type for e in events]


def test_filters_combine(journal) -> None:
    with journal.session_factory() as session:
        assert _types(query_events(session, decision_id="d-1")) == [
            "signal_decision", "alert_accepted", "alert_failed",
        ]
        assert _types(query_events(session, types=["signal_decision"], symbol="ETH_USDT")) == [
            "signal_decision"
        ]
        assert query_events(session, types=[]) == []
        failed = query_events(session, types={"alert_failed"})[0]
    assert failed.severity == "error"
    assert failed.payload == {"error": "chat not found"}
    assert failed.at == T0 + timedelta(minutes=2)


def test_window_is_half_open(journal) -> None:
    """`since` inclusive, `until` exclusive: consecutive windows never count twice."""
    with journal.session_factory() as session:
        first = query_events(session, since=T0, until=T0 + timedelta(minutes=1))
        second = query_events(session, since=T0 + timedelta(minutes=1))
    assert len(first) == 3 and len(second) == 3
    assert {e.id for e in first}.isdisjoint({e.id for e in second})


def test_order_and_paging(journal) -> None:
    with journal.session_factory() as session:
        everything = query_events(session)
        newest = query_events(session, newest_first=True, limit=2)
        page = query_events(session, limit=2, offset=2)
    assert [e.at for e in everything] == sorted(e.at for e in everything)
    assert [e.id for e in newest] == [everything[-1].id, everything[-2].id]
    assert [e.id for e in page] == [everything[2].id, everything[3].id]


def test_bad_arguments_are_refused(migrated_db) -> None:
    with migrated_db.session_factory() as session:
        with pytest.raises(ValueError, match="severity"):
            append_event(session, "x", at=T0, instance="a", severity="fatal")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="type"):
            append_event(session, "", at=T0, instance="a")
        with pytest.raises(ValueError, match="limit"):
            query_events(session, limit=0)
