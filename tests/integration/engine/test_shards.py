"""Replicas on one PostgreSQL: shard leases split the watchlist fairly, a dead replica's
shards are taken over, and a replica that lost a shard mid-cycle commits nothing for it.
Real PostgreSQL, a driven clock; SQLite stays single-process (no shard leases)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from atp.api.monitoring import health_of
from atp.engine.lease import make_owner
from atp.engine.shards import ShardLeases
from atp.store.database import Database
from atp.store.models import DecisionRow, MonitorCycleRow

PG = pytest.mark.parametrize("migrated_db", ["postgresql"], indirect=True)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@PG
async def test_replicas_split_the_shards_fairly_and_take_a_dead_ones_over(migrated_db, clock):
    dbs = [Database(migrated_db.url) for _ in range(3)]
    try:
        # on other hosts: only the TTL (two intervals of 2 s) tells that one died
        a, b, c = (ShardLeases(db, f"{n}@elsewhere/{i}/0000000{i}", clock, 8, 2.0)
                   for i, (n, db) in enumerate(zip("abc", dbs, strict=True)))
        assert await a.claim() == frozenset(range(8))  # alone: every shard
        assert await b.claim() == frozenset()  # all held by a live replica
        assert await a.claim() == frozenset(range(4))  # two live: gives half back
        assert await b.claim() == frozenset(range(4, 8))
        assert await c.claim() == frozenset()
        assert len(await a.claim()) == 3 and len(await b.claim()) == 3  # ceil(8 / 3)
        assert len(await c.claim()) == 2
        assert a.held | b.held | c.held == frozenset(range(8))
        assert not (a.held & b.held or a.held & c.held or b.held & c.held)
        dead = c.held
        clock.advance(2)  # a cycle later: c has stopped renewing
        await a.claim(), await b.claim()
        assert a.held | b.held == frozenset(range(8)) - dead
        clock.advance(2.1)  # c's leases and heartbeat ran out: two intervals after its last
        assert len(await a.claim()) == 4 and len(await b.claim()) == 4
        assert a.held | b.held == frozenset(range(8))
        await a.release()  # a clean stop gives everything back at once
        assert await b.claim() == frozenset(range(8))
    finally:
        for db in dbs:
            db.close()


@PG
async def test_a_dead_process_of_this_host_loses_its_shards_at_once(migrated_db, clock):
    db = Database(migrated_db.url)
    try:
        me = make_owner("r-1")
        host = me.split("@", 1)[1].split("/", 1)[0]
        ghost = ShardLeases(db, f"r-2@{host}/{_dead_pid()}/deadbeef", clock, 4, 30.0)
        alive = ShardLeases(db, f"r-3@{host}/{os.getppid()}/a11ve000", clock, 4, 30.0)
        assert await ghost.claim() == frozenset(range(4))
        mine = ShardLeases(db, me, clock, 4, 30.0)
        assert await mine.claim() == frozenset(range(4))  # TTL 60 s left, but its pid is gone
        assert await alive.claim() == frozenset()  # alive and live: waits for its share
        assert await mine.claim() == frozenset(range(2))
        assert await alive.claim() == frozenset(range(2, 4))
    finally:
        db.close()


@PG
async def test_a_replica_that_lost_its_shards_mid_cycle_commits_nothing_for_them(
        make_platform, market, clock):
    symbols = {f"S{n}_USDT": "down" for n in range(6)}  # BUYs: alerts, throttle, outbox
    first = make_platform(symbols, instance_name="r-1")
    second = make_platform(instance_name="r-2")
    original = market.snapshot

    async def slow_then_taken_over(names):
        out = await original(names)
        clock.advance(61)  # the cycle hung past its leases' TTL (2 × 30 s) ...
        await second.shards.claim()  # ... and the other replica took every shard over
        return out

    market.snapshot = slow_then_taken_over
    stats = await first.monitor.run_cycle()
    market.snapshot = original
    assert stats.symbols == 6 and stats.processed == 0 and first.shards.lost == 6
    assert first.shards.held == frozenset()
    # still alive (its commit renewed its heartbeat): the taker keeps its fair share only
    theirs = await second.monitor.run_cycle()
    assert len(second.shards.held) == 4
    again = await first.monitor.run_cycle()  # and the first takes the rest at its next cycle
    assert first.shards.held == frozenset(range(8)) - second.shards.held
    assert theirs.processed + again.processed == 6
    with first.db.sessions() as s:
        decisions = list(s.scalars(select(DecisionRow)))
        owners = {c.id: c.instance for c in s.scalars(select(MonitorCycleRow))}
    assert sorted(d.symbol for d in decisions) == sorted(symbols)  # once each
    mine = {d.symbol for d in decisions if owners[d.cycle_id] == "r-1"}
    assert {first.shards.shard_of(x) for x in mine} <= first.shards.held
    await first.read_replicas()
    view = health_of(first.status())["replicas"]
    assert view["sharded"] and view["unowned_shards"] == []
    [me] = [r for r in view["replicas"] if r["me"]]
    assert me["shards"] == sorted(first.shards.held) and me["instance"] == "r-1"


@PG
async def test_a_slow_fetch_keeps_its_shards_by_renewing_them(make_platform, market, clock):
    """A first candle load slower than the shards' TTL keeps them (renewed meanwhile);
    the other replica gets none and nothing is lost."""
    symbols = {f"S{n}_USDT": "down" for n in range(4)}
    first = make_platform(symbols, instance_name="r-1", monitor_interval_seconds=0.3)
    second = make_platform(instance_name="r-2", monitor_interval_seconds=0.3)
    original = market.snapshot
    taken: list[frozenset[int]] = []

    async def slow(names):
        for _ in range(6):  # 1.8 s of the leases' clock: three TTLs of 0.6 s
            clock.advance(0.3)
            await asyncio.sleep(0.25)
            taken.append(await second.shards.claim())
        return await original(names)

    market.snapshot = slow
    stats = await first.monitor.run_cycle()
    market.snapshot = original
    assert stats.processed == 4 and first.shards.lost == 0
    assert not any(taken)  # every claim of the other replica found them held


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
async def test_sqlite_stays_single_process_every_symbol_evaluated(make_platform):
    p = make_platform({"AAA_USDT": "down", "BBB_USDT": "flat", "CCC_USDT": "up"})
    assert p.shards is None and p.monitor.shards is None
    stats = await p.monitor.run_cycle()
    assert stats.processed == 3
    await p.presence.acquire()
    await p.read_replicas()
    view = health_of(p.status())["replicas"]
    assert not view["sharded"] and view["replicas"][0]["shards"] == list(range(8))


@PG
async def test_the_paper_broker_prices_every_symbol_from_the_record(
        make_platform, market, clock):
    """Replicas: each monitor sees only its shards' prices, yet a dry-run order needs the
    price of any symbol. The paper broker takes the other shards' prices from the record
    (the newest decision, whoever made it), newer ones only."""
    symbols = {f"S{n}_USDT": "flat" for n in range(8)}
    first = make_platform(symbols, instance_name="r-1")
    second = make_platform(instance_name="r-2")
    await first.shards.claim()
    await second.shards.claim()
    for n, name in enumerate(symbols):
        market.set(name, "flat", 100.0 + n)
    await first.monitor.run_cycle()
    await second.monitor.run_cycle()
    mine = {s for s in symbols if first.shards.shard_of(s) in first.shards.held}
    theirs = set(symbols) - mine
    assert mine and theirs  # the two replicas split the watchlist
    assert all(first.paper.price(s) is None for s in theirs)  # not seen by this monitor
    assert await first.paper.refresh(sorted(symbols)) == len(theirs)
    assert {s: first.paper.price(s) for s in symbols} == {
        s: 100.0 + n for n, s in enumerate(symbols)}
    assert await first.paper.refresh(sorted(symbols)) == 0  # nothing newer: no new path point
    clock.advance(30)
    for n, name in enumerate(symbols):
        market.set(name, "flat", 200.0 + n)
    await second.monitor.run_cycle()  # an unchanged WAIT: its row's price is the latest
    assert await first.paper.refresh(sorted(theirs)) == len(theirs)
    assert all(first.paper.price(s) == 200.0 + list(symbols).index(s) for s in theirs)
