"""The event journal: every pipeline stage appends a typed event; readers query them.

One journal (architecture.md): the integrity check, the dashboard and Telegram's /status
learn the state of the system from these rows, never by grepping log text. Appending only
adds to the session; the surrounding `UnitOfWork` commits, or fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atp.events import Event, EventKind, Severity, kind_of, parse
from atp.store.models import SEVERITIES, EventRow

MAX_QUERY_LIMIT = 10_000


def record(
    session: Session,
    event: Event,
    *,
    at: datetime,
    instance: str,
    symbol: str | None = None,
    decision_id: str | None = None,
    message: str = "",
    severity: Severity | None = None,
) -> EventRow:
    """Add one typed event (`atp.events`) to the session: its kind and payload become the
    row, so readers get the same class back through `typed`."""
    return append_event(session, kind_of(event), at=at, instance=instance,
                        severity=severity or event.severity(), symbol=symbol,
                        decision_id=decision_id, message=message, payload=event.payload())


def typed(row: EventRow) -> Event | None:
    """A stored row as its typed event (None for a kind this release does not know)."""
    return parse(row.type, row.payload or {})


def append_event(
    session: Session,
    type: EventKind,
    *,
    at: datetime,
    instance: str,
    severity: Severity = "info",
    symbol: str | None = None,
    decision_id: str | None = None,
    message: str = "",
    payload: dict[str, Any] | None = None,
) -> EventRow:
    """Add one event to the session. `at` comes from the caller's clock (time is a
    parameter, so tests and the accelerated demo record their own times)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    if not type:
        raise ValueError("event type must not be empty")
    event = EventRow(
        at=at,
        type=str(type),
        severity=severity,
        symbol=symbol,
        decision_id=decision_id,
        instance=instance,
        message=message,
        payload=dict(payload or {}),
    )
    session.add(event)
    return event


def query_events(
    session: Session,
    *,
    types: Iterable[str] | None = None,
    symbol: str | None = None,
    decision_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
    offset: int = 0,
    newest_first: bool = False,
) -> list[EventRow]:
    """Events matching every given filter, in time order (ties by insertion order).

    `since` is inclusive and `until` exclusive, so consecutive windows never count an
    event twice. `limit` is capped at MAX_QUERY_LIMIT; page with `offset`.
    """
    if not 0 < limit <= MAX_QUERY_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_QUERY_LIMIT}")
    if offset < 0:
        raise ValueError("offset must not be negative")
    query = select(EventRow)
    if types is not None:
        type_list = list(types)
        query = query.where(EventRow.type.in_(type_list))
    if symbol is not None:
        query = query.where(EventRow.symbol == symbol)
    if decision_id is not None:
        query = query.where(EventRow.decision_id == decision_id)
    if since is not None:
        query = query.where(EventRow.at >= since)
    if until is not None:
        query = query.where(EventRow.at < until)
    if newest_first:
        query = query.order_by(EventRow.at.desc(), EventRow.id.desc())
    else:
        query = query.order_by(EventRow.at, EventRow.id)
    return list(session.scalars(query.limit(limit).offset(offset)))
