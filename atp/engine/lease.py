"""A named lease in the database: one holder at a time across every instance.

Replicas sharing one PostgreSQL compete for `telegram-poller`; only the holder polls, so
two instances on one bot token never fight (failure mode 6). A lost insert race is an
answer ("someone else holds it"), not an error.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atp.engine.clock import Clock
from atp.engine.db import Database
from atp.store.models import LeaseRow


class DbLease:
    def __init__(self, db: Database, name: str, owner: str, clock: Clock,
                 ttl_seconds: float = 30.0) -> None:
        self.db, self.name, self.owner, self.clock = db, name, owner, clock
        self.ttl = timedelta(seconds=ttl_seconds)

    async def acquire(self) -> bool:
        try:
            return await self.db.run(self._take, self.clock.now(), False)
        except IntegrityError:
            return False  # another instance inserted the row first: it holds the lease

    async def renew(self) -> bool:
        return await self.db.run(self._take, self.clock.now(), True)

    async def release(self) -> None:
        await self.db.run(self._release)

    def _take(self, now: datetime, renew_only: bool) -> bool:
        with self.db.sessions.begin() as session:
            row = session.get(LeaseRow, self.name, with_for_update=True)
            if row is None:
                if renew_only:
                    return False
                session.add(LeaseRow(name=self.name, holder=self.owner, acquired_at=now,
                                     renewed_at=now, expires_at=now + self.ttl))
                return True
            mine = row.holder == self.owner
            if renew_only and not (mine and row.expires_at > now):
                return False
            if not mine and row.expires_at > now:
                return False
            if not mine:
                row.holder, row.acquired_at = self.owner, now
            row.renewed_at, row.expires_at = now, now + self.ttl
            return True

    def _release(self) -> None:
        with self.db.sessions.begin() as session:
            row = session.get(LeaseRow, self.name, with_for_update=True)
            if row is not None and row.holder == self.owner:
                session.delete(row)


def lease_holder(session: Session, name: str, now: datetime) -> tuple[str | None, datetime | None]:
    """Who holds `name` now (None when free or expired) and until when."""
    row = session.get(LeaseRow, name)
    if row is None or row.expires_at <= now:
        return None, None
    return row.holder, row.expires_at
