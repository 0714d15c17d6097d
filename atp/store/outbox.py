"""The outbox rows: messages that wait in the database until Telegram confirms them.

An alert's row and its outcome change together (SENT / FAILED in the same transaction as
the row), so the record never says "pending" for a delivered alert or the reverse.

A row is marked `sending_since` (committed) before its send and unmarked by the answer: a
row still marked at start was in flight when the process died. Such a send, like one that
timed out, has an unknown fate: the row becomes `possible_repeat`, sent once more with a
marker, and never a third time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atp.store import probes
from atp.store import repository as repo
from atp.store.models import AlertOutcomeRow, OutboxRow


@dataclass(frozen=True, slots=True)
class DueMessage:
    id: int
    decision_id: str | None
    chat_id: str
    text: str
    attempts: int
    symbol: str | None
    side: str | None
    kind: str = "alert"
    possible_repeat: bool = False
    created_at: datetime | None = None  # when it was queued (a probe's latency, expiry)
    last_error: str | None = None

    @property
    def is_alert(self) -> bool:
        return self.kind == "alert"


def due(session: Session, now: datetime, limit: int) -> list[DueMessage]:
    pending = repo.due_messages(session, now, limit)
    ids = [r.decision_id for r in pending if r.decision_id]
    sides = {
        o.decision_id: (o.symbol, o.side)
        for o in session.scalars(
            select(AlertOutcomeRow).where(AlertOutcomeRow.decision_id.in_(ids)))
    } if ids else {}
    out = []
    for r in pending:
        symbol, side = sides.get(r.decision_id or "", (None, None))
        out.append(DueMessage(r.id, r.decision_id, r.chat_id, r.text, r.attempts, symbol, side,
                              r.kind, r.possible_repeat, r.created_at, r.last_error))
    return out


def _pending(session: Session, message_id: int) -> OutboxRow | None:
    row = session.get(OutboxRow, message_id)
    return row if row is not None and row.status == "pending" else None


def mark_sent(session: Session, message: DueMessage, message_id: int | None, now: datetime,
              note: str | None) -> int | None:
    """The row (and its alert's outcome) as sent; its attempts, or None if not pending."""
    row = _pending(session, message.id)
    if row is None:
        return None
    row.status, row.message_id, row.sent_at = "sent", message_id, now
    row.sending_since = None
    row.attempts += 1
    if message.decision_id and message.is_alert:
        repo.finish_outcome(session, message.decision_id, "SENT", now,
                            message_id=message_id, reason=note)
    if message.decision_id and message.kind == "probe":
        probes.finish(session, message.decision_id, "sent", now, message_id=message_id,
                      error=note)
    return row.attempts


def mark_sending(session: Session, message: DueMessage, now: datetime) -> bool:
    """In flight from now on (committed before the send); False if no longer pending."""
    row = _pending(session, message.id)
    if row is None:
        return False
    row.sending_since = now
    return True


def mark_retry(session: Session, message: DueMessage, attempts: int, error: str,
               next_at: datetime, *, possible_repeat: bool = False) -> bool:
    """Due again at `next_at`; `possible_repeat`: the send's fate is unknown, so the
    next one is a marked repeat (a flag that, once set, stays until the row ends)."""
    row = _pending(session, message.id)
    if row is None:
        return False
    row.attempts, row.last_error, row.next_attempt_at = attempts, error, next_at
    row.sending_since = None
    row.possible_repeat = row.possible_repeat or possible_repeat
    return True


@dataclass(frozen=True, slots=True)
class InFlight:
    """A row found mid-send at start: its send's fate is unknown."""

    message: DueMessage
    was_repeat: bool  # it was already the one repeat: it must not go a third time


def in_flight(session: Session) -> list[InFlight]:
    """Pending rows still marked `sending`: their process died between mark and answer."""
    rows = list(session.scalars(select(OutboxRow).where(
        OutboxRow.status == "pending", OutboxRow.sending_since.is_not(None))
        .order_by(OutboxRow.id)))
    sides = {
        o.decision_id: (o.symbol, o.side)
        for o in session.scalars(select(AlertOutcomeRow).where(
            AlertOutcomeRow.decision_id.in_([r.decision_id for r in rows if r.decision_id])))
    } if rows else {}
    out = []
    for r in rows:
        symbol, side = sides.get(r.decision_id or "", (None, None))
        out.append(InFlight(DueMessage(r.id, r.decision_id, r.chat_id, r.text, r.attempts,
                                       symbol, side, r.kind, r.possible_repeat,
                                       r.created_at, r.last_error),
                            r.possible_repeat))
    return out


def count_repeats(session: Session) -> int:
    """Messages sent as a marked possible repeat, ever (the outbox keeps its rows)."""
    return int(session.scalar(select(func.count(OutboxRow.id)).where(
        OutboxRow.possible_repeat.is_(True), OutboxRow.status == "sent")) or 0)


def mark_failed(session: Session, message: DueMessage, error: str, now: datetime) -> bool:
    row = _pending(session, message.id)
    if row is None:
        return False
    row.status, row.last_error = "failed", error
    row.sending_since = None
    row.attempts += 1
    if message.decision_id and message.is_alert:
        repo.finish_outcome(session, message.decision_id, "FAILED", now, error=error)
    if message.decision_id and message.kind == "probe":
        probes.finish(session, message.decision_id, "failed", now, error=error)
    return True
