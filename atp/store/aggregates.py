"""Window aggregates for `atp check` and the dashboard: bounded answers over a time window.

The checks used to page every event and every BUY/SELL decision of the window through
the API and count them client-side; at 1,000 symbols that is thousands of rows per
check. These queries answer the same questions in the database (GROUP BY over the
`created_at` / `at` indexes), returning counts plus only the rows a check names: an
error's example message, a decision without an outcome, an outcome not final or failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from atp.store.models import AlertOutcomeRow, DecisionRow, EventRow, active_decisions
from atp.store.queries import EVENT_FIELDS

NAMED_SEVERITIES = ("error", "critical")  # the groups that carry an example message
# Outcomes a reconciliation names one by one (the others are only counted).
NAMED_OUTCOMES = ("PENDING", "FAILED", "ABANDONED")


def event_counts(session: Session, *, since: datetime | None, until: datetime | None
                 ) -> dict[str, Any]:
    """Events per (type, severity) in [since, until), with the newest message of each
    error group: what the `errors` check counts, in one GROUP BY."""
    query = select(EventRow.type, EventRow.severity, func.count(), func.max(EventRow.id))
    if since is not None:
        query = query.where(EventRow.at >= since)
    if until is not None:
        query = query.where(EventRow.at < until)
    # Severity first: grouped by (type, severity), SQLite (no ANALYZE statistics) walks the
    # whole (type, at) index for its order instead of the window's range of the `at` one.
    groups = list(session.execute(query.group_by(EventRow.severity, EventRow.type)))
    newest = [int(last) for _, severity, _, last in groups if severity in NAMED_SEVERITIES]
    examples: dict[int, str] = {}
    if newest:
        examples = {int(i): str(m) for i, m in session.execute(
            select(EventRow.id, EventRow.message).where(EventRow.id.in_(newest)))}
    rows = [{"type": str(kind), "severity": str(severity), "count": int(n),
             "example": examples.get(int(last))}
            for kind, severity, n, last in sorted(groups, key=lambda g: (g[0], g[1]))]
    return {"total": sum(r["count"] for r in rows), "groups": rows}


def latest_per_symbol(session: Session, *, types: list[str] | None, since: datetime | None
                      ) -> list[dict[str, Any]]:
    """The newest event of each symbol (of `types`, since `since`), newest first: at most
    one row per symbol, however many cycles skipped it (`signal_monitor_cycles` names
    why each symbol was skipped; an exchange outage skips every symbol every cycle)."""
    newest = select(func.max(EventRow.id)).group_by(EventRow.symbol)
    if types is not None:
        newest = newest.where(EventRow.type.in_(types))
    if since is not None:
        newest = newest.where(EventRow.at >= since)
    query = (select(EventRow).where(EventRow.id.in_(newest.scalar_subquery()))
             .order_by(EventRow.at.desc(), EventRow.id.desc()))
    return [{name: getattr(r, name) for name in EVENT_FIELDS} for r in session.scalars(query)]


def alert_reconciliation(session: Session, *, since: datetime | None, limit: int
                         ) -> dict[str, Any]:
    """Every BUY/SELL decision created since `since` joined to its outcome: counts per
    outcome (None: no outcome), how many of those without one a BLOCKED run covers
    (`alert_ref`), and, newest first up to `limit`, the rows worth naming: no outcome
    and not covered, or an outcome PENDING / FAILED / ABANDONED."""
    joined = (DecisionRow.__table__.outerjoin(
        AlertOutcomeRow.__table__, AlertOutcomeRow.decision_id == DecisionRow.id))
    window: list[ColumnElement[bool]] = [DecisionRow.decision.in_(("BUY", "SELL")),
                                         active_decisions()]
    if since is not None:
        window.append(DecisionRow.created_at >= since)
    covered = DecisionRow.alert_ref.is_not(None)
    counts = session.execute(
        select(AlertOutcomeRow.outcome, covered, func.count()).select_from(joined)
        .where(*window).group_by(AlertOutcomeRow.outcome, covered))
    outcomes: dict[str, int] = {}
    total = covered_n = 0
    for outcome, is_covered, n in counts:
        total += int(n)
        if outcome is None and is_covered:
            covered_n += int(n)
        elif outcome is not None:
            outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + int(n)
    named = or_(and_(AlertOutcomeRow.id.is_(None), DecisionRow.alert_ref.is_(None)),
                AlertOutcomeRow.outcome.in_(NAMED_OUTCOMES))
    query = (select(DecisionRow.id, DecisionRow.symbol, DecisionRow.decision,
                    DecisionRow.created_at, AlertOutcomeRow.outcome, AlertOutcomeRow.reason,
                    AlertOutcomeRow.error, AlertOutcomeRow.created_at.label("outcome_at"))
             .select_from(joined).where(*window, named)
             .order_by(DecisionRow.created_at.desc(), DecisionRow.id).limit(limit + 1))
    rows = [{"decision_id": r.id, "symbol": r.symbol, "decision": r.decision,
             "created_at": r.created_at, "outcome": r.outcome, "reason": r.reason,
             "error": r.error, "outcome_at": r.outcome_at} for r in session.execute(query)]
    return {"decisions": total, "covered": covered_n,
            "without_outcome": total - covered_n - sum(outcomes.values()),
            "outcomes": outcomes, "rows": rows[:limit], "truncated": len(rows) > limit}
