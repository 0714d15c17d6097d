"""Replicas on one PostgreSQL share the watchlist: shard ownership is a database lease.

The watchlist is split into `SHARDS` shards (`domain.shards.shard_of`, a stable hash of
the symbol). Each shard is a row of the `leases` table named `shard:N`, held by one
process; each replica also keeps a heartbeat lease `replica:OWNER`. Both are renewed at
every cycle with a TTL of two monitor intervals, so:

- a replica claims its fair share, ceil(shards / live replicas), counting the live
  heartbeats, gives back what is above it (a newcomer takes it at its next cycle) and
  evaluates only the symbols of the shards it holds;
- a replica that dies stops renewing: its shards are free once their TTL (two intervals)
  has run out or its heartbeat is gone, at once when it was a process of this host whose
  pid no longer runs, and the survivors take them at their next cycle;
- the cycle's commit locks the shard rows first and stores only the decisions of shards
  still held (`hold`): a replica that lost a shard mid-cycle commits nothing for it;
- a cycle slower than the TTL (a first candle load) renews its shards while it fetches,
  for `keep_seconds` at most, so a hung cycle still loses them in time.

No consensus of our own: the row locks (`FOR UPDATE`, `SKIP LOCKED`) are PostgreSQL's.
SQLite is single-process: there, no shard leases exist and the one process evaluates
every symbol (`Platform` builds no `ShardLeases`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from atp.domain.shards import fair_share, shard_of
from atp.engine.clock import Clock
from atp.store import leases
from atp.store.database import Database

SHARD_PREFIX = "shard:"
HEARTBEAT_PREFIX = "replica:"
DECISION_GAP_S = 60.0  # every symbol decided at least this often, replicas dying or not


def shard_index(name: str) -> int | None:
    """The shard number of a lease named `shard:N` (None for any other lease)."""
    if not name.startswith(SHARD_PREFIX):
        return None
    try:
        return int(name[len(SHARD_PREFIX):])
    except ValueError:
        return None


def gone_from_this_host(holder: str, me: str) -> bool:
    """True when `holder` is a process of this host whose pid no longer runs. Unlike
    `lease.dead_predecessor`, our own pid under another id is not taken for dead: two
    replicas can share a process in tests, and a restarted container waits two intervals
    (the shards' TTL) at most."""
    if holder == me or "@" not in holder or "@" not in me:
        return False
    their_host, _, rest = holder.rsplit("@", 1)[1].partition("/")
    if their_host != me.rsplit("@", 1)[1].partition("/")[0]:
        return False
    try:
        pid = int(rest.split("/", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class ShardLeases:
    """One replica's hold on its shards (claimed per cycle, checked at commit)."""

    def __init__(self, db: Database, owner: str, clock: Clock, shards: int,
                 interval_seconds: float) -> None:
        self.db, self.owner, self.clock, self.count = db, owner, clock, shards
        self.ttl = timedelta(seconds=2 * interval_seconds)
        self.names = [f"{SHARD_PREFIX}{n}" for n in range(shards)]
        self.heartbeat = HEARTBEAT_PREFIX + owner
        self.held: frozenset[int] = frozenset()
        self.lost = 0  # decisions not committed because their shard was lost mid-cycle

    def shard_of(self, symbol: str) -> int:
        return shard_of(symbol, self.count)

    async def claim(self) -> frozenset[int]:
        """Renew, give back and take shards (one transaction); the shards now held."""
        names = await self.db.run(
            leases.claim_shards, self.db.sessions, self.owner, self.names, self.heartbeat,
            HEARTBEAT_PREFIX, self.clock.now(), self.ttl,
            lambda live: fair_share(self.count, live),
            lambda holder: gone_from_this_host(holder, self.owner))
        self.held = frozenset(n for name in names if (n := shard_index(name)) is not None)
        return self.held

    def hold(self, session: Any, shards: frozenset[int]) -> frozenset[int]:
        """Of `shards`, the ones still held, checked and renewed in the caller's
        transaction (a session of `db`, i.e. the store's)."""
        held = leases.hold_shards(session, self.owner, [self.names[n] for n in sorted(shards)],
                                  self.heartbeat, self.clock.now(), self.ttl)
        self.held = frozenset(n for name in held if (n := shard_index(name)) is not None)
        return self.held

    def lock(self, session: Any, symbols: list[str]) -> None:
        """Order the caller's transaction after any commit on these symbols' shards (the
        start's completion of orphans, whose symbols other replicas may be deciding)."""
        leases.lock(session, sorted({self.names[self.shard_of(s)] for s in symbols}))

    async def renew(self) -> frozenset[int]:
        """Renew the shards held (a cycle still fetching keeps them); the ones left."""
        names = await self.db.run(leases.renew_shards, self.db.sessions, self.owner,
                                  [self.names[n] for n in sorted(self.held)], self.heartbeat,
                                  self.clock.now(), self.ttl)
        self.held = frozenset(n for name in names if (n := shard_index(name)) is not None)
        return self.held

    @property
    def keep_seconds(self) -> float:
        """How long a running cycle may keep renewing its shards: so long that a symbol
        still gets a decision at least once per DECISION_GAP_S even if the cycle then
        hangs (its shards expire one TTL later, a survivor decides a cycle after that)."""
        return max(0.0, DECISION_GAP_S - 2 * self.ttl.total_seconds())

    async def release(self) -> None:
        """A clean stop: give every shard back now, not after the TTL."""
        await self.db.run(leases.release_prefixed, self.db.sessions, self.owner,
                          (SHARD_PREFIX, HEARTBEAT_PREFIX))
        self.held = frozenset()


def replicas_view(leases_now: list[dict[str, Any]], presence_prefix: str, me: str,
                  shards: int, sharded: bool) -> dict[str, Any]:
    """Who holds what, from the live leases: every process (its presence), the shards it
    holds and every other lease by name (sender, poller, trader, retention, reports, …).
    Without sharding (SQLite) this process evaluates every shard."""
    procs: dict[str, dict[str, Any]] = {}

    def proc(owner: str) -> dict[str, Any]:
        if owner not in procs:
            instance = owner.rsplit("@", 1)[0] if "@" in owner else owner
            procs[owner] = {"owner": owner, "instance": instance, "me": owner == me,
                            "alive": False, "shards": [], "holds": []}
        return procs[owner]

    for row in leases_now:
        name, holder = str(row["name"]), str(row["holder"])
        if name.startswith(presence_prefix):
            proc(holder)["alive"] = True
        elif name.startswith(HEARTBEAT_PREFIX):
            continue
        elif (n := shard_index(name)) is not None:
            proc(holder)["shards"].append(n)
        else:
            proc(holder)["holds"].append(name)
    if not sharded:
        proc(me)["shards"] = list(range(shards))
    owned = {n for p in procs.values() for n in p["shards"]}
    for p in procs.values():
        p["shards"].sort()
    return {"sharded": sharded, "shards": shards,
            "unowned_shards": [n for n in range(shards) if n not in owned],
            "replicas": sorted(procs.values(), key=lambda p: (not p["alive"], p["owner"]))}
