"""The lease rows: one holder per name across every instance sharing the database.

`take` runs in one transaction with the row locked (`FOR UPDATE` on PostgreSQL; SQLite's
writer lock serialises anyway). A lost insert race is an answer ("someone else holds
it"), not an error.
"""

from __future__ import annotations

from collections.abc import Callable
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


# ── shard leases (replicas on PostgreSQL) ─────────────────────────────────────────────


def claim_shards(sessions: sessionmaker[Session], owner: str, names: list[str],
                 heartbeat: str, heartbeat_prefix: str, now: datetime, ttl: timedelta,
                 share: Callable[[int], int], gone: Callable[[str], bool]) -> list[str]:
    """One replica's claim round, one transaction: renew `owner`'s heartbeat (the
    replica's presence at the monitor's pace), count the live replicas, keep or release
    shards down to the fair share `share(live)`, then take free ones up to it.

    A shard row stays its holder's while `holder` is unchanged, expired or not: the TTL
    only lets another replica take it. Free: no row, an expired row, or a holder whose
    heartbeat is gone or that `gone(holder)` knows dead. Rows another replica has locked
    right now are skipped (`FOR UPDATE SKIP LOCKED`), never waited for. Returns the
    shard lease names `owner` holds after the round."""
    with sessions.begin() as session:
        beat = session.get(LeaseRow, heartbeat, with_for_update=True)
        if beat is None:  # the name carries the owner: nobody else ever holds it
            session.add(LeaseRow(name=heartbeat, holder=owner, acquired_at=now,
                                 renewed_at=now, expires_at=now + ttl))
        else:
            beat.holder, beat.renewed_at, beat.expires_at = owner, now, now + ttl
        alive = {h for r in live(session, heartbeat_prefix, now)
                 if not gone(h := r.holder)} | {owner}
        rows = {r.name: r for r in session.scalars(
            select(LeaseRow).where(LeaseRow.name.in_(names))
            .with_for_update(skip_locked=True))}
        existing = set(session.scalars(select(LeaseRow.name).where(LeaseRow.name.in_(names))))
        locked_elsewhere = existing - rows.keys()
        fair = share(len(alive))
        mine = [n for n in names if n in rows and rows[n].holder == owner]
        for name in mine[fair:]:  # more than the fair share: give the rest back
            session.delete(rows[name])
        mine = mine[:fair]
        for name in names:
            if len(mine) >= fair:
                break
            if name in mine or name in locked_elsewhere:
                continue
            row = rows.get(name)
            if row is None:
                try:
                    with session.begin_nested():
                        session.add(LeaseRow(name=name, holder=owner, acquired_at=now,
                                             renewed_at=now, expires_at=now + ttl))
                except IntegrityError:
                    continue  # another replica inserted it first
                mine.append(name)
            elif row.expires_at <= now or row.holder not in alive or gone(row.holder):
                row.holder, row.acquired_at = owner, now
                mine.append(name)
        for name in mine:
            if name in rows:
                rows[name].renewed_at, rows[name].expires_at = now, now + ttl
        return sorted(mine, key=names.index)


def hold_shards(session: Session, owner: str, names: list[str], heartbeat: str,
                now: datetime, ttl: timedelta) -> set[str]:
    """Inside the caller's transaction (the monitor's commit): lock `names`' rows, and
    return (and renew) the ones `owner` still holds. Taken first in the transaction, the
    row locks order this commit with any takeover of the same shards, so a replica that
    lost a shard mid-cycle cannot commit decisions for it."""
    rows = list(session.scalars(select(LeaseRow).where(LeaseRow.name.in_(names))
                                .order_by(LeaseRow.name).with_for_update()))
    held = {r.name for r in rows if r.holder == owner}
    for r in rows:
        if r.name in held:
            r.renewed_at, r.expires_at = now, now + ttl
    beat = session.get(LeaseRow, heartbeat)
    if beat is not None and beat.holder == owner:
        beat.renewed_at, beat.expires_at = now, now + ttl
    return held


def lock(session: Session, names: list[str]) -> None:
    """Inside the caller's transaction: wait for and lock these lease rows, whoever holds
    them (work on another replica's symbols ordered with that replica's commits)."""
    session.execute(select(LeaseRow.name).where(LeaseRow.name.in_(sorted(names)))
                    .order_by(LeaseRow.name).with_for_update())


def renew_shards(sessions: sessionmaker[Session], owner: str, names: list[str],
                 heartbeat: str, now: datetime, ttl: timedelta) -> set[str]:
    """`hold_shards` in a transaction of its own (a long cycle keeping its shards)."""
    with sessions.begin() as session:
        return hold_shards(session, owner, names, heartbeat, now, ttl)


def release_prefixed(sessions: sessionmaker[Session], owner: str,
                     prefixes: tuple[str, ...]) -> None:
    """Drop `owner`'s leases whose names start with one of `prefixes` (a clean stop:
    the other replicas take the shards over at their next cycle)."""
    with sessions.begin() as session:
        for prefix in prefixes:
            session.execute(delete(LeaseRow).where(
                LeaseRow.holder == owner, LeaseRow.name.startswith(prefix, autoescape=True)))


def every_live(session: Session, now: datetime) -> list[tuple[str, str, datetime]]:
    """(name, holder, acquired_at) of every unexpired lease, by name."""
    query = select(LeaseRow.name, LeaseRow.holder, LeaseRow.acquired_at).where(
        LeaseRow.expires_at > now).order_by(LeaseRow.name)
    return [(n, h, a) for n, h, a in session.execute(query)]
