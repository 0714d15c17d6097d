"""A named lease in the database: one holder at a time across every instance.

Replicas sharing one PostgreSQL compete for `telegram-poller`; only the holder polls, so
two instances on one bot token never fight (failure mode 6). The rows and their locking
are the store's (`atp.store.leases`); this is the engine's handle on one lease.
"""

from __future__ import annotations

from datetime import timedelta

from atp.engine.clock import Clock
from atp.store import leases
from atp.store.database import Database


class DbLease:
    def __init__(self, db: Database, name: str, owner: str, clock: Clock,
                 ttl_seconds: float = 30.0) -> None:
        self.db, self.name, self.owner, self.clock = db, name, owner, clock
        self.ttl = timedelta(seconds=ttl_seconds)

    async def acquire(self) -> bool:
        return await self.db.run(leases.take, self.db.sessions, self.name, self.owner,
                                 self.clock.now(), self.ttl, False)

    async def renew(self) -> bool:
        return await self.db.run(leases.take, self.db.sessions, self.name, self.owner,
                                 self.clock.now(), self.ttl, True)

    async def release(self) -> None:
        await self.db.run(leases.release, self.db.sessions, self.name, self.owner)
