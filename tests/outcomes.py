"""The shared reconciliation every engine test ends with: one outcome per BUY/SELL decision."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from atp.store.models import AlertOutcomeRow, DecisionRow


def assert_one_outcome_per_decision(sessions: sessionmaker[Session]) -> int:
    """Every BUY/SELL decision has exactly one outcome: its own, or (inside a blocked run)
    the BLOCKED outcome its `alert_ref` points at. Returns how many decisions were checked."""
    with sessions() as session:
        decisions = list(session.scalars(
            select(DecisionRow).where(DecisionRow.decision.in_(("BUY", "SELL")))
        ))
        outcomes = Counter(session.scalars(select(AlertOutcomeRow.decision_id)))
        by_id = {o.decision_id: o for o in session.scalars(select(AlertOutcomeRow))}
    for d in decisions:
        ref = d.alert_ref or d.id
        assert outcomes[ref] == 1, f"decision {d.id} ({d.symbol} {d.decision}) has no outcome"
        if d.alert_ref:
            assert by_id[ref].outcome == "BLOCKED", f"{d.id} refers to a non-BLOCKED outcome"
            assert outcomes[d.id] == 0
    return len(decisions)
