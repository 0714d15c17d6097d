"""The signal monitor: one cycle decides for every enabled watchlist symbol.

A cycle reads the watchlist, asks the market data port for every symbol at once, runs the
domain's `evaluate` in small chunks (yielding to the loop between chunks so the API stays
responsive), stores each decision, and hands BUY/SELL decisions to the alert pipeline.

Every enabled symbol gets a stored decision every cycle: missing market data or invalid
overrides go into `evaluate` with their cause and come out as a WAIT naming them
(business-rules §1). Only a bug inside `evaluate` skips a symbol (`symbol_skipped`, an
error, counted in `evaluation_errors`); the cycle goes on.

A cycle's decisions and their alert outcomes commit in one transaction: a crash leaves
both or neither (issue 14). What an older version (or a per-decision database error) left
without outcome is completed at start by `complete_orphans`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from atp.domain.alerts import AlertFlags, is_new_signal
from atp.domain.compaction import DEFAULT_HEARTBEAT, flag_changes_after, folds_into
from atp.domain.limits import Limits, limits
from atp.domain.signals import Decision, evaluate
from atp.domain.throttle import Side
from atp.engine.alerts import AlertPipeline, AlertResult, DecisionRecord
from atp.engine.clock import Clock
from atp.engine.ports import MarketData, MarketSnapshot
from atp.events import MonitorCycle, SymbolSkipped
from atp.logging import MONITOR, STRATEGY, get_logger, log_marker, log_markers
from atp.store import repository as repo
from atp.store.database import Database
from atp.store.errors import StoreError
from atp.store.journal import record
from atp.store.repository import WatchItem

if TYPE_CHECKING:
    from atp.engine.shards import ShardLeases

T = TypeVar("T")
LOGGER = "atp.monitor"
log = get_logger(LOGGER)

CHUNK = 20  # symbols evaluated between two yields to the event loop (~0.6 ms of CPU)


@dataclass(frozen=True, slots=True)
class CycleStats:
    cycle_id: int
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    symbols: int
    processed: int
    skipped: int
    lag_ms: float
    decisions: dict[str, int]


@dataclass
class _Evaluated:
    item: WatchItem
    decision_id: str
    decision: Decision | None
    error: str | None
    price_age_seconds: float | None = None  # the ticker's age, stored with the decision


@dataclass
class SignalMonitor:
    db: Database
    market: MarketData
    pipeline: AlertPipeline
    clock: Clock
    instance: str
    interval_seconds: float = 30.0
    stalled: bool = False  # demo fault `monitor-stall`
    ticks: int = 0
    last: CycleStats | None = None
    flips: Counter[str] = field(default_factory=Counter)
    _previous: dict[str, str] = field(default_factory=dict)
    # Called with each finished cycle's stats (e.g. /metrics' duration histogram).
    on_cycle: list[Callable[[CycleStats], None]] = field(default_factory=list)
    evaluation_errors: int = 0  # symbols skipped because `evaluate` raised (a bug)
    # Called with each cycle's prices (the paper broker's price path).
    on_prices: list[Callable[[dict[str, float | None]], None]] = field(default_factory=list)
    # Replicas on PostgreSQL: only the symbols of the shards this process holds (None:
    # every symbol, the single-process default and SQLite).
    shards: ShardLeases | None = None
    # An unchanged WAIT extends its symbol's newest row while that row is younger than
    # this (domain/compaction.py); None stores every decision as a row of its own.
    heartbeat: timedelta | None = DEFAULT_HEARTBEAT

    @property
    def limits(self) -> Limits:
        return limits(self.interval_seconds)

    async def run_cycle(self, scheduled_at: datetime | None = None) -> CycleStats:
        started = self.clock.now()
        t0 = time.perf_counter()
        items = await self.db.run(self._watchlist)
        owned: frozenset[int] | None = None
        if self.shards is not None:
            owned = await self.shards.claim()
            items = self._mine(items, owned)
        cycle_id = await self.db.run(self._start, started, len(items))
        snapshots = await self._renewing(self.market.snapshot([i.symbol for i in items]))
        if self.on_prices:
            prices = {s: (snap.price if isinstance(snap.price, int | float) else None)
                      for s, snap in snapshots.items()}
            for observe in self.on_prices:
                observe(prices)
        evaluated: list[_Evaluated] = []
        for index in range(0, len(items), CHUNK):
            for item in items[index : index + CHUNK]:
                evaluated.append(self._evaluate(item, snapshots.get(item.symbol), started))
            await asyncio.sleep(0)
        batch, outcomes = await self.db.run(self._store, cycle_id, evaluated, owned, started)
        results = self._results(batch, outcomes)
        finished = self.clock.now()
        duration_ms = (time.perf_counter() - t0) * 1000
        lag_ms = 0.0 if scheduled_at is None else (started - scheduled_at).total_seconds() * 1000
        skipped = sum(1 for e in evaluated if e.decision is None)
        counts: Counter[str] = Counter(
            e.decision.decision for e in evaluated if e.decision is not None
        )
        stats = CycleStats(cycle_id, started, finished, duration_ms, len(items),
                           len(evaluated) - skipped, skipped, lag_ms, dict(counts))
        await self.db.run(self._finish, stats)
        self.ticks += 1
        self.last = stats
        for hook in self.on_cycle:
            hook(stats)
        log_marker(log, MONITOR, cycle=cycle_id, symbols=len(items), duration_ms=round(duration_ms),
                   processed=stats.processed, skipped=skipped, lag_ms=round(lag_ms),
                   buy=counts.get("BUY", 0), sell=counts.get("SELL", 0),
                   alerts=len(results))
        return stats

    async def evaluate_now(self, symbol: str, preset: str = "swing-conservative"
                           ) -> dict[str, object]:
        """A fresh decision for one symbol, not stored (Telegram's /analyze when none is
        recorded): the same market port and the same `evaluate` call as a cycle, with the
        symbol's watchlist settings or, unwatched, `preset`."""
        item = await self.db.run(self._item, symbol, preset)
        snapshots = await self.market.snapshot([symbol])
        e = self._evaluate(item, snapshots.get(symbol), self.clock.now())
        if e.decision is None:
            return {"error": e.error or "no decision"}
        return {**e.decision.to_dict(), "price": e.decision.indicators.price,
                "price_age_seconds": e.price_age_seconds}

    def _item(self, symbol: str, preset: str) -> WatchItem:
        with self.db.unit("monitor_watchlist") as uow:
            found = [i for i in repo.load_watchlist(uow.session, enabled_only=False)
                     if i.symbol == symbol]
            if found:
                return found[0]
            presets = repo.load_presets(uow.session)
            base = presets.get(preset) or next(iter(presets.values()))
            return WatchItem(symbol=symbol, preset=base, flags=AlertFlags(True, True, True),
                             buy_target=None, trade_enabled=False, trade_amount_usd=0.0)

    # ── steps ──────────────────────────────────────────────────────────────────────────

    def _watchlist(self) -> list[WatchItem]:
        with self.db.unit("monitor_watchlist") as uow:
            return repo.load_watchlist(uow.session)

    def _start(self, started: datetime, symbols: int) -> int:
        with self.db.unit("monitor_cycles") as uow:
            return repo.start_cycle(uow.session, started, symbols, self.instance)

    def _evaluate(
        self, item: WatchItem, snap: MarketSnapshot | None, now: datetime
    ) -> _Evaluated:
        decision_id = str(uuid.uuid4())
        if snap is None:
            snap = MarketSnapshot(item.symbol, None, None, None, "no market data for the symbol",
                                  "no market data for the symbol")
        decision, error = None, None
        try:
            decision = evaluate(
                snap.candles, item.preset, price=snap.price, price_at=snap.price_at, now=now,
                max_price_age_seconds=self.limits.price_max_age_seconds,
                buy_target=item.buy_target,
                daily_close=None if snap.daily is None else snap.daily.close,
                price_cause=snap.price_cause, candles_cause=snap.candles_cause,
                daily_cause=snap.daily_cause, preset_cause=item.error,
            )
        except Exception as exc:  # one symbol's bug must not stop the cycle
            error = f"evaluation failed: {type(exc).__name__}: {exc}"
        age = (None if snap.price_at is None
               else round((now - snap.price_at).total_seconds(), 3))
        return _Evaluated(item, decision_id, decision, error, age)

    async def _renewing(self, work: Awaitable[T]) -> T:
        """Await `work`; with shards, renew them meanwhile every third of their TTL, for
        `keep_seconds` at most (a slow fetch keeps its shards, a hung one loses them)."""
        if self.shards is None:
            return await work
        task = asyncio.ensure_future(work)
        every = self.shards.ttl.total_seconds() / 3
        until = self.clock.monotonic() + self.shards.keep_seconds
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=every)
                if done:
                    return task.result()
                if self.clock.monotonic() < until:
                    try:
                        await self.shards.renew()
                    except Exception as exc:  # the commit's check decides anyway
                        log.warning("shard renewal failed",
                                    error=f"{type(exc).__name__}: {exc}")
        finally:
            task.cancel()

    def _mine(self, items: list[WatchItem], owned: frozenset[int]) -> list[WatchItem]:
        """The symbols of the shards held; what is known of the others is forgotten, so
        a shard held again later starts from its stored state, not a stale memory."""
        assert self.shards is not None
        mine = [i for i in items if self.shards.shard_of(i.symbol) in owned]
        keep = {i.symbol for i in mine}
        for symbol in [s for s in self._previous if s not in keep]:
            del self._previous[symbol]
            self.pipeline.decision_changed(symbol)
        return mine

    def _store(self, cycle_id: int, evaluated: list[_Evaluated], owned: frozenset[int] | None,
               now: datetime) -> tuple[list[tuple[DecisionRecord, WatchItem]],
                                       list[AlertResult | Exception]]:
        """The decisions and their alert outcomes, one transaction; with shards, only the
        ones of shards still held when it commits (checked first, under the rows' locks)."""
        lines: list[tuple[str, dict[str, object]]] = []
        rows: list[dict[str, object]] = []
        with self.db.unit("decisions") as uow:
            if self.shards is not None and owned is not None:
                held = self.shards.hold(uow.session, owned)
                lost = [e for e in evaluated if self.shards.shard_of(e.item.symbol) not in held]
                if lost:
                    self.shards.lost += len(lost)
                    log.warning("shards lost mid-cycle: their decisions are not committed",
                                cycle=cycle_id, shards=sorted(owned - held),
                                decisions=len(lost))
                    for e in lost:
                        self._previous.pop(e.item.symbol, None)
                    gone = {e.decision_id for e in lost}
                    evaluated[:] = [e for e in evaluated if e.decision_id not in gone]
            batch = self._alert_batch(evaluated)
            runs = (repo.newest_runs(uow.session, [e.item.symbol for e in evaluated
                                                   if e.decision is not None])
                    if self.heartbeat else {})
            extended: list[dict[str, object]] = []
            pending = {rec.decision_id: (rec, item) for rec, item in batch}
            repeated: set[str] = set()  # BUY/SELL folded into their run: no outcome of their own
            # a row is one continuous run: a missed cycle (down, stalled, shard moved)
            # starts a new one, so the gap shows between rows
            max_gap = timedelta(seconds=self.limits.price_max_age_seconds)
            for e in evaluated:
                if e.decision is None:
                    # Only a bug in `evaluate` gets here: missing data is a WAIT, not a skip.
                    self.evaluation_errors += 1
                    record(uow.session, SymbolSkipped(cycle=cycle_id), at=now,
                           instance=self.instance, symbol=e.item.symbol,
                           message=e.error or "evaluation failed")
                    log_marker(log, MONITOR, "error", cycle=cycle_id, symbol=e.item.symbol,
                               status="skipped",
                               error=(e.error or "").removeprefix("evaluation failed: "))
                    continue
                d = e.decision
                row: dict[str, object] = {
                    "id": e.decision_id, "cycle_id": cycle_id, "symbol": e.item.symbol,
                    "preset": d.preset, "decision": d.decision, "buy_index": d.buy_index,
                    "price": d.indicators.price, "flags": d.flags,
                    # the price's age rides with the indicators: every channel shows the
                    # record, so it must say how old the price it was decided on was
                    "indicators": {**d.indicators.to_dict(),
                                   "price_age_seconds": e.price_age_seconds},
                    "reasons": list(d.reasons),
                    "unknown_inputs": dict(d.unknown_inputs), "created_at": now,
                    "seen_until": now, "repeats": 0,
                }
                run = runs.get(e.item.symbol)
                fold = run is not None and folds_into(
                    run, decision=d.decision, preset=d.preset, flags=d.flags,
                    unknown=d.unknown_inputs, now=now, heartbeat=self.heartbeat,
                    max_gap=max_gap, repeats_outcome=d.decision != "WAIT")
                if fold and d.decision != "WAIT":
                    # a BUY/SELL folds only when it repeats its row's outcome
                    assert run is not None
                    alert = pending.get(e.decision_id)
                    fold = alert is not None and self.pipeline.repeat_of(
                        uow, alert[0], alert[1], now, run.id, run.outcome,
                        run.outcome_reason) is not None
                    if fold:
                        repeated.add(e.decision_id)
                if fold:
                    # the same decision again: its row says so (one record, fewer rows),
                    # and a turn of its flags goes to the row's timeline
                    assert run is not None
                    e.decision_id = row["id"] = run.id
                    row["flag_changes"] = flag_changes_after(run, d.flags, now)
                    extended.append(row)
                else:
                    rows.append(row)
                lines.append((MONITOR, {"cycle": cycle_id, "symbol": e.item.symbol,
                                        "status": "processed", "decision": d.decision}))
                lines.append((STRATEGY, {
                    "symbol": e.item.symbol, "decision": d.decision,
                    "buy_signal": d.decision == "BUY", "sell_signal": d.decision == "SELL",
                    "decision_id": e.decision_id, "preset": d.preset,
                    "buy_index": d.buy_index, **d.flags,
                }))
            repo.insert_decisions(uow.session, rows)
            repo.extend_decisions(uow.session, extended)
            if repeated:
                batch = [(rec, item) for rec, item in batch if rec.decision_id not in repeated]
            made = Counter(str(r["decision"]) for r in (*rows, *extended))
            if made:
                repo.count_cycle_decisions(uow.session, cycle_id, dict(made))
            outcomes = self.pipeline.process_in(uow, batch, now) if batch else []
        log_markers(LOGGER, lines)
        return batch, outcomes

    def _alert_batch(
        self, evaluated: list[_Evaluated]
    ) -> list[tuple[DecisionRecord, WatchItem]]:
        """The cycle's BUY/SELL decisions for the pipeline (and the flip counts)."""
        batch: list[tuple[DecisionRecord, WatchItem]] = []
        for e in evaluated:
            if e.decision is None:
                continue
            symbol, kind = e.item.symbol, e.decision.decision
            previous = self._previous.get(symbol)
            if previous is not None and previous != kind:
                self.flips[symbol] += 1
            if is_new_signal(previous, kind):
                self.pipeline.decision_changed(symbol)
            self._previous[symbol] = kind
            side = e.decision.side
            if side is None:
                continue
            record = DecisionRecord(
                decision_id=e.decision_id, symbol=symbol, side=side, preset=e.decision.preset,
                price=e.decision.indicators.price, buy_index=e.decision.buy_index,
                reasons=e.decision.reasons, atr=e.decision.indicators.atr,
            )
            batch.append((record, e.item))
        return batch

    def _results(self, batch: list[tuple[DecisionRecord, WatchItem]],
                 outcomes: list[AlertResult | Exception]) -> list[AlertResult]:
        results: list[AlertResult] = []
        for (rec, _), result in zip(batch, outcomes, strict=True):
            if isinstance(result, Exception):
                # Recorded loudly; the decision stays without outcome and `atp check`
                # names it (failure mode 1), the other symbols go on.
                log.error("alert pipeline failed", symbol=rec.symbol,
                          decision_id=rec.decision_id,
                          error=f"{type(result).__name__}: {result}")
            else:
                results.append(result)
        return results

    # ── start: orphans ─────────────────────────────────────────────────────────────────

    async def complete_orphans(self) -> dict[str, int]:
        """Every BUY/SELL decision left without outcome (a crash between the two before
        they shared a transaction, or a decision's own database error) gets one: still
        fresh ones go through the alert pipeline (an accepted trade-enabled one gets its
        order intent too), older ones are ABANDONED with the reason. Returns the counts."""
        now = self.clock.now()
        counts: Counter[str] = Counter()
        results = await self.db.run(self._complete_orphans, now)
        for result in results:
            counts[result.outcome if isinstance(result, AlertResult) else "error"] += 1
        if results:
            log.warning("decisions without outcome completed at start", **dict(counts))
        return dict(counts)

    def _complete_orphans(self, now: datetime) -> list[AlertResult | Exception]:
        limit = self.limits.orphan_max_age_seconds
        with self.db.unit("alert_orphans") as uow:
            orphans = repo.orphan_decisions(uow.session)
            if not orphans:
                return []
            if self.shards is not None:  # their symbols may be another replica's
                self.shards.lock(uow.session, [row.symbol for row in orphans])
            items = {i.symbol: i for i in repo.load_watchlist(uow.session)}
            fresh: list[tuple[DecisionRecord, WatchItem]] = []
            results: list[AlertResult | Exception] = []
            for row in orphans:
                side: Side = "BUY" if row.decision == "BUY" else "SELL"
                atr = (row.indicators or {}).get("atr")
                record = DecisionRecord(
                    decision_id=row.id, symbol=row.symbol, side=side, preset=row.preset,
                    price=row.price, buy_index=row.buy_index,
                    reasons=tuple(row.reasons or ()),
                    atr=float(atr) if isinstance(atr, int | float) else None)
                age = (now - row.created_at).total_seconds()
                item = items.get(row.symbol)
                if item is not None and age <= limit:
                    fresh.append((record, item))
                    continue
                why = ("the process stopped between the decision and its outcome"
                       if item is not None else
                       "the symbol is no longer enabled on the watchlist")
                try:
                    with uow.savepoint():  # another replica may complete it first
                        results.append(self.pipeline.abandon(uow, record, now, age, limit,
                                                             why))
                except StoreError as exc:
                    results.append(exc)
            results += self.pipeline.process_in(uow, fresh, now)
        return results

    def _finish(self, stats: CycleStats) -> None:
        with self.db.unit("monitor_cycles") as uow:
            repo.finish_cycle(uow.session, stats.cycle_id, stats.finished_at, stats.duration_ms,
                              stats.processed, stats.skipped, stats.lag_ms)
            record(uow.session, MonitorCycle(
                cycle=stats.cycle_id, symbols=stats.symbols, processed=stats.processed,
                skipped=stats.skipped, duration_ms=round(stats.duration_ms, 1),
                lag_ms=round(stats.lag_ms, 1), decisions=dict(stats.decisions),
            ), at=stats.finished_at, instance=self.instance, message=f"cycle {stats.cycle_id}")
