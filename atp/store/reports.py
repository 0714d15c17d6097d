"""The scheduled reports' rows: one per (report, local date), claimed by the database.

`claim` is an insert-if-absent (`INSERT … ON CONFLICT DO NOTHING` on SQLite and
PostgreSQL alike) on the primary key (report, local_date): of two writers — a restarted
process, a second replica — exactly one gets the row; the other gets False, never an
error. The report's outbox message is written in the same transaction as its row, so a
claimed report is always on its way and an unclaimed one never is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from atp.store.models import (
    AlertOutcomeRow,
    OrderIntentRow,
    OutboxRow,
    PositionRow,
    ReportRunRow,
)


def _insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(ReportRunRow)


def claim(session: Session, *, report: str, local_date: str, due_at: datetime, status: str,
          instance: str, now: datetime, reason: str | None = None) -> bool:
    """Insert the (report, local_date) row unless it exists; True when this call did."""
    stmt = _insert(session).values(
        report=report, local_date=local_date, due_at=due_at, status=status, instance=instance,
        created_at=now, reason=reason,
    ).on_conflict_do_nothing(index_elements=["report", "local_date"])
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT
    return session.execute(stmt.returning(ReportRunRow.report)).first() is not None


def queue(session: Session, *, report: str, local_date: str, due_at: datetime, chat_id: str,
          text: str, instance: str, now: datetime) -> int | None:
    """Claim the report and put its message in the outbox, together; the outbox id, or
    None when the report was already claimed (nothing written)."""
    if not claim(session, report=report, local_date=local_date, due_at=due_at,
                 status="queued", instance=instance, now=now):
        return None
    row = OutboxRow(kind="report", chat_id=chat_id, text=text, origin=instance,
                    status="pending", attempts=0, next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    run = session.get(ReportRunRow, (report, local_date))
    assert run is not None
    run.outbox_id = row.id
    return int(row.id)


def exists(session: Session, report: str, local_date: str) -> bool:
    return session.get(ReportRunRow, (report, local_date)) is not None


def armed(session: Session, report: str) -> bool:
    """Whether this database ever scheduled `report` (a first start does not catch up)."""
    return session.scalar(select(ReportRunRow.report).where(
        ReportRunRow.report == report).limit(1)) is not None


@dataclass(frozen=True, slots=True)
class RunRef:
    report: str
    local_date: str


def finish(session: Session, outbox_id: int, status: str, now: datetime,
           reason: str | None = None) -> RunRef | None:
    """The report whose message `outbox_id` carries, marked `sent` or `failed`."""
    run = session.scalar(select(ReportRunRow).where(ReportRunRow.outbox_id == outbox_id))
    if run is None:
        return None
    run.status, run.reason = status, reason
    if status == "sent":
        run.sent_at = now
    return RunRef(run.report, run.local_date)


def runs(session: Session, report: str | None = None) -> list[dict[str, Any]]:
    query = select(ReportRunRow).order_by(ReportRunRow.due_at, ReportRunRow.report)
    if report is not None:
        query = query.where(ReportRunRow.report == report)
    return [{"report": r.report, "local_date": r.local_date, "due_at": r.due_at,
             "status": r.status, "outbox_id": r.outbox_id, "reason": r.reason,
             "instance": r.instance, "sent_at": r.sent_at} for r in session.scalars(query)]


# ── the figures of a report window ─────────────────────────────────────────────────────


def closed_positions(session: Session, since: datetime, until: datetime,
                     mode: str) -> list[PositionRow]:
    """Positions closed (by a SELL, a stop-loss or a take-profit) in [since, until)."""
    return list(session.scalars(select(PositionRow).where(
        PositionRow.closed_at.is_not(None), PositionRow.closed_at >= since,
        PositionRow.closed_at < until, PositionRow.mode == mode)
        .order_by(PositionRow.closed_at, PositionRow.id)))


def _grouped(session: Session, column: Any, created: Any, since: datetime,
             until: datetime) -> dict[str, int]:
    query = (select(column, func.count()).where(created >= since, created < until)
             .group_by(column))
    return {str(k): int(n) for k, n in session.execute(query)}


def decision_counts(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    """Decisions made by the cycles begun in [since, until) (folded WAITs included)."""
    from atp.store.repository import decision_counts as made

    return made(session, since, until)


def alert_counts(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    counts = _grouped(session, AlertOutcomeRow.outcome, AlertOutcomeRow.created_at, since,
                      until)
    return {k.lower(): v for k, v in counts.items()}


def order_counts(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    counts = _grouped(session, OrderIntentRow.outcome, OrderIntentRow.created_at, since,
                      until)
    return {k.lower(): v for k, v in counts.items()}
