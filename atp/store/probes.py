"""Probe rows: a TEST-marked alert's record, apart from the decisions and outcomes.

The probe, its outbox row and its audit row are written in one transaction (a probe is
never recorded without being queued); the outbox's answer is copied onto the probe in
the transaction that marks the outbox row sent or failed, so the probe survives the
outbox's retention and says what happened to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atp.store.models import AuditLogRow, OutboxRow, ProbeRow


def insert(session: Session, *, probe_id: str, symbol: str, author: str, origin: str,
           price: float | None, chat_id: str, text: str, at: datetime) -> None:
    """The probe, its outbox row (kind `probe`, due now) and its audit row."""
    outbox = OutboxRow(kind="probe", chat_id=chat_id, text=text, origin=origin,
                       status="pending", attempts=0, next_attempt_at=at, created_at=at,
                       decision_id=probe_id)
    session.add(outbox)
    session.flush()
    session.add(ProbeRow(id=probe_id, symbol=symbol, author=author, origin=origin,
                         price=price, outbox_id=outbox.id, status="queued",
                         created_at=at))
    session.add(AuditLogRow(at=at, author=author, entity="probe", entity_key=probe_id,
                            field="row", old_value=None,
                            new_value={"symbol": symbol, "origin": origin}))


def finish(session: Session, probe_id: str, status: str, at: datetime, *,
           message_id: int | None = None, error: str | None = None) -> None:
    """The outbox's answer for the probe (`sent` with its message id, or `failed`)."""
    row = session.get(ProbeRow, probe_id)
    if row is None or row.status != "queued":
        return
    row.status, row.message_id, row.error, row.finished_at = status, message_id, error, at


def view(session: Session, probe_id: str) -> dict[str, Any] | None:
    """The probe with the stage it reached; None when there is no such probe."""
    row = session.get(ProbeRow, probe_id)
    if row is None:
        return None
    outbox = session.get(OutboxRow, row.outbox_id) if row.outbox_id is not None else None
    return _view(row, outbox)


def recent(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(ProbeRow).order_by(ProbeRow.created_at.desc())
                                .limit(limit)))
    return [_view(r, session.get(OutboxRow, r.outbox_id) if r.outbox_id else None)
            for r in rows]


def _view(row: ProbeRow, outbox: OutboxRow | None) -> dict[str, Any]:
    if row.status != "queued":
        stage = row.status
    elif outbox is None:
        stage = "recorded"  # queued, but its outbox row is gone (retention)
    else:
        stage = "queued"
    latency_ms = None
    if row.status == "sent" and row.finished_at is not None:
        latency_ms = round((row.finished_at - row.created_at).total_seconds() * 1000, 1)
    return {
        "id": row.id, "symbol": row.symbol, "author": row.author, "origin": row.origin,
        "price": row.price, "stage": stage, "created_at": row.created_at,
        "finished_at": row.finished_at, "message_id": row.message_id,
        "latency_ms": latency_ms, "error": row.error,
        "attempts": outbox.attempts if outbox is not None else None,
        "last_error": outbox.last_error if outbox is not None else None,
        "next_attempt_at": (outbox.next_attempt_at if outbox is not None
                            and outbox.status == "pending" else None),
        "text": outbox.text if outbox is not None else None,
    }
