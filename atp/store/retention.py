"""Retention: rows older than the horizon go, in small batches, so the database stays
bounded (at 1,000 symbols decisions alone grow ~2.8 GB a day without it; issue 14).

What goes: decisions (their alert outcomes with them), journal events, monitor cycles and
delivered or failed outbox messages. What stays: every decision an order intent refers to
(the trading record keeps its cause), the audit log, settings, positions and orders. Each
batch is its own short transaction, so the writer lock is never held for long.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, sessionmaker

from atp.store.models import (
    AlertOutcomeRow,
    DecisionRow,
    EventRow,
    MonitorCycleRow,
    OrderIntentRow,
    OutboxRow,
)

BATCH = 2_000


def _batches(sessions: sessionmaker[Session], ids_query: Any, model: Any, column: Any,
             batch: int) -> int:
    removed = 0
    while True:
        with sessions.begin() as session:
            ids = list(session.scalars(ids_query.limit(batch)))
            if not ids:
                return removed
            if model is DecisionRow:  # outcomes first: no reliance on ON DELETE CASCADE
                session.execute(delete(AlertOutcomeRow)
                                .where(AlertOutcomeRow.decision_id.in_(ids)))
            session.execute(delete(model).where(column.in_(ids)))
            removed += len(ids)
        if len(ids) < batch:
            return removed


def prune(sessions: sessionmaker[Session], before: datetime,
          batch: int = BATCH) -> dict[str, int]:
    """Delete what is older than `before`; the count removed per table."""
    kept_for_trading = exists().where(OrderIntentRow.decision_id == DecisionRow.id)
    # a compacted row goes once its last decision (seen_until) is past the horizon
    decisions = (select(DecisionRow.id)
                 .where(DecisionRow.seen_until < before, ~kept_for_trading)
                 .order_by(DecisionRow.seen_until))
    events = select(EventRow.id).where(EventRow.at < before).order_by(EventRow.at)
    cycles = (select(MonitorCycleRow.id).where(MonitorCycleRow.started_at < before)
              .order_by(MonitorCycleRow.started_at))
    outbox = (select(OutboxRow.id)
              .where(OutboxRow.created_at < before, OutboxRow.status.in_(("sent", "failed")))
              .order_by(OutboxRow.created_at))
    return {
        "decisions": _batches(sessions, decisions, DecisionRow, DecisionRow.id, batch),
        "events": _batches(sessions, events, EventRow, EventRow.id, batch),
        "monitor_cycles": _batches(sessions, cycles, MonitorCycleRow, MonitorCycleRow.id,
                                   batch),
        "outbox": _batches(sessions, outbox, OutboxRow, OutboxRow.id, batch),
    }
