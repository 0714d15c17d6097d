"""A named lease in the database: one holder at a time across every instance.

Replicas sharing one PostgreSQL compete for `telegram-poller`; only the holder polls, so
two instances on one bot token never fight (failure mode 6). The rows and their locking
are the store's (`atp.store.leases`); this is the engine's handle on one lease.
"""

from __future__ import annotations

import os
import secrets
import socket
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


# ── lease owners: one per process ─────────────────────────────────────────────────────


def make_owner(instance: str) -> str:
    """`INSTANCE@host/pid/random`: unique per process start (two copies of one `.env`
    never share a lease), and enough to tell a dead predecessor on this host."""
    host = (socket.gethostname() or "host")[:32].replace("@", "_").replace("/", "_")
    return f"{instance}@{host}/{os.getpid()}/{secrets.token_hex(4)}"


def instance_of(owner: str) -> str:
    return owner.rsplit("@", 1)[0] if "@" in owner else owner.rsplit(":", 1)[0]


def dead_predecessor(holder: str, me: str) -> bool:
    """True when `holder` is a process of this host that no longer runs: its pid is gone,
    or it is our own pid under another id (a container restarted: same host name, PID 1
    again). Such a holder's leases can be taken at once instead of after their TTL — a
    SIGKILLed process otherwise delayed every alert after the restart by up to 30 s."""
    if holder == me or "@" not in holder or "@" not in me:
        return False
    their_host, _, rest = holder.rsplit("@", 1)[1].partition("/")
    my_host = me.rsplit("@", 1)[1].partition("/")[0]
    if their_host != my_host:
        return False
    try:
        pid = int(rest.split("/", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


async def release_dead_predecessors(db: Database, me: str) -> list[str]:
    """Free every lease a dead process of this host still holds; the holders freed."""
    holders = await db.run(leases.holders, db.sessions)
    dead = sorted({h for h in holders if dead_predecessor(h, me)})
    if dead:
        await db.run(leases.release_holders, db.sessions, dead)
    return dead
