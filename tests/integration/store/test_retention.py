"""Retention deletes what is older than the horizon, in batches, and keeps what the
trading record and the open outbox still need (both backends)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from atp.store.models import (
    AlertOutcomeRow,
    DecisionRow,
    EventRow,
    MonitorCycleRow,
    OrderIntentRow,
    OutboxRow,
)
from atp.store.retention import prune

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OLD, NEW = NOW - timedelta(days=40), NOW - timedelta(days=1)


def _decision(at: datetime, decision: str = "BUY") -> DecisionRow:
    return DecisionRow(id=str(uuid.uuid4()), symbol="ETH_USDT", preset="swing-conservative",
                       decision=decision, buy_index=80, price=1.0, flags={}, indicators={},
                       reasons=[], created_at=at)


def _outcome(d: DecisionRow) -> AlertOutcomeRow:
    return AlertOutcomeRow(decision_id=d.id, symbol=d.symbol, side="BUY", preset=d.preset,
                           outcome="SENT", origin="t", created_at=d.created_at,
                           updated_at=d.created_at)


def test_prune_removes_old_rows_and_keeps_trading_causes_and_pending_messages(
        migrated_db) -> None:
    with migrated_db.session_factory.begin() as s:
        old = [_decision(OLD) for _ in range(7)]
        new = [_decision(NEW) for _ in range(2)]
        traded = _decision(OLD)
        s.add_all([*old, *new, traded])
        s.flush()
        s.add_all([_outcome(d) for d in (*old, *new, traded)])
        s.add(OrderIntentRow(decision_id=traded.id, client_oid="atp-" + "0" * 28,
                             symbol="ETH_USDT", side="BUY", mode="paper",
                             preset=traded.preset, outcome="FILLED", created_at=OLD,
                             updated_at=OLD))
        for at in (OLD, OLD, NEW):
            s.add(EventRow(at=at, type="monitor_cycle", severity="info", instance="t",
                           message="m", payload={}))
            s.add(MonitorCycleRow(started_at=at, instance="t"))
        for status in ("sent", "failed", "pending"):
            s.add(OutboxRow(kind="alert", chat_id="1", text="x", status=status,
                            next_attempt_at=OLD, origin="t", created_at=OLD))
    removed = prune(migrated_db.session_factory, NOW - timedelta(days=30), batch=3)
    assert removed == {"decisions": 7, "events": 2, "monitor_cycles": 2, "outbox": 2}
    with migrated_db.session_factory() as s:
        kept = set(s.scalars(select(DecisionRow.id)))
        assert kept == {d.id for d in (*new, traded)}
        assert set(s.scalars(select(AlertOutcomeRow.decision_id))) == kept
        assert s.scalar(select(func.count()).select_from(EventRow)) == 1
        assert list(s.scalars(select(OutboxRow.status))) == ["pending"]  # not yet delivered
    assert prune(migrated_db.session_factory, NOW - timedelta(days=30)) == {
        "decisions": 0, "events": 0, "monitor_cycles": 0, "outbox": 0}


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
def test_nothing_younger_than_the_horizon_goes(migrated_db) -> None:
    with migrated_db.session_factory.begin() as s:
        s.add_all([_decision(NEW) for _ in range(3)])
    assert prune(migrated_db.session_factory, NOW - timedelta(days=30))["decisions"] == 0
