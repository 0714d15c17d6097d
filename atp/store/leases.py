"""The lease rows: one holder per name across every instance sharing the database.

`take` runs in one transaction with the row locked (`FOR UPDATE` on PostgreSQL; SQLite's
writer lock serialises anyway). A lost insert race is an answer ("someone else holds
it"), not an error.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from atp.store.models import LeaseRow


def take(sessions: sessionmaker[Session], name: str, owner: str, now: datetime,
         ttl: timedelta, renew_only: bool) -> bool:
    """Acquire or renew `name` for `owner`; False when another live holder has it."""
    try:
        with sessions.begin() as session:
            row = session.get(LeaseRow, name, with_for_update=True)
            if row is None:
                if renew_only:
                    return False
                session.add(LeaseRow(name=name, holder=owner, acquired_at=now,
                                     renewed_at=now, expires_at=now + ttl))
                return True
            mine = row.holder == owner
            if renew_only and not (mine and row.expires_at > now):
                return False
            if not mine and row.expires_at > now:
                return False
            if not mine:
                row.holder, row.acquired_at = owner, now
            row.renewed_at, row.expires_at = now, now + ttl
            return True
    except IntegrityError:
        return False  # another instance inserted the row first: it holds the lease


def release(sessions: sessionmaker[Session], name: str, owner: str) -> None:
    with sessions.begin() as session:
        row = session.get(LeaseRow, name, with_for_update=True)
        if row is not None and row.holder == owner:
            session.delete(row)


def holder(session: Session, name: str, now: datetime) -> tuple[str | None, datetime | None]:
    """Who holds `name` now (None when free or expired) and until when."""
    row = session.get(LeaseRow, name)
    if row is None or row.expires_at <= now:
        return None, None
    return row.holder, row.expires_at


def live(session: Session, prefix: str, now: datetime) -> list[LeaseRow]:
    """Unexpired leases whose name starts with `prefix` (e.g. every process's presence)."""
    query = select(LeaseRow).where(LeaseRow.name.startswith(prefix, autoescape=True),
                                   LeaseRow.expires_at > now).order_by(LeaseRow.acquired_at)
    return list(session.scalars(query))


def holders(sessions: sessionmaker[Session]) -> list[str]:
    """Every holder of any lease (expired ones included)."""
    with sessions() as session:
        return list(session.scalars(select(LeaseRow.holder).distinct()))


def release_holders(sessions: sessionmaker[Session], dead: list[str]) -> None:
    """Drop every lease of these holders (processes known to be gone)."""
    with sessions.begin() as session:
        session.execute(delete(LeaseRow).where(LeaseRow.holder.in_(dead)))
