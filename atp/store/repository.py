"""Queries and writes the engine needs, each a small function on a `Session`.

The caller owns the transaction (a `UnitOfWork`), so the alert pipeline can accept an
alert, update the throttle state and enqueue the message atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from atp.domain.alerts import AlertFlags
from atp.domain.compaction import StoredRun
from atp.domain.presets import DEFAULT_PRESETS, Preset, PresetError, apply_overrides
from atp.domain.throttle import Side, ThrottleState
from atp.store.models import (
    AlertOutcomeRow,
    DecisionRow,
    MonitorCycleRow,
    OutboxRow,
    PresetRow,
    ThrottleStateRow,
    WatchlistRow,
    active_decisions,
)

PRESET_FIELDS = tuple(f for f in Preset.__dataclass_fields__ if f != "name")


@dataclass(frozen=True, slots=True)
class WatchItem:
    """A watchlist row resolved for the engine: its effective preset and its switches."""

    symbol: str
    preset: Preset
    flags: AlertFlags
    buy_target: float | None
    trade_enabled: bool
    trade_amount_usd: float
    error: str | None = None  # invalid overrides: the symbol is skipped with this reason


def preset_of(row: PresetRow) -> Preset:
    values = {f: getattr(row, f) for f in PRESET_FIELDS}
    return Preset(name=row.name, **values)


def load_presets(session: Session) -> dict[str, Preset]:
    presets = {row.name: preset_of(row) for row in session.scalars(select(PresetRow))}
    return presets or dict(DEFAULT_PRESETS)


def load_watchlist(session: Session, enabled_only: bool = True) -> list[WatchItem]:
    presets = load_presets(session)
    query = select(WatchlistRow).order_by(WatchlistRow.symbol)
    if enabled_only:
        query = query.where(WatchlistRow.enabled.is_(True))
    items = []
    for row in session.scalars(query):
        base = presets.get(row.preset) or DEFAULT_PRESETS["swing-conservative"]
        error = None
        try:
            preset = apply_overrides(base, row.overrides or {})
        except PresetError as exc:
            preset, error = base, f"invalid overrides: {exc}"
        items.append(
            WatchItem(
                symbol=row.symbol,
                preset=preset,
                flags=AlertFlags(row.alert_enabled, row.buy_alert_enabled, row.sell_alert_enabled),
                buy_target=row.buy_target,
                trade_enabled=row.trade_enabled,
                trade_amount_usd=row.trade_amount_usd,
                error=error,
            )
        )
    return items


def add_symbols(session: Session, symbols: Sequence[str], preset: str, **values: Any) -> None:
    """Insert watchlist rows for symbols not yet watched (demo and tests seed with this)."""
    existing = set(session.scalars(select(WatchlistRow.symbol)))
    for symbol in symbols:
        if symbol not in existing:
            session.add(WatchlistRow(symbol=symbol, preset=preset, **values))


def start_cycle(session: Session, started_at: datetime, symbols: int, instance: str) -> int:
    row = MonitorCycleRow(
        started_at=started_at, symbols=symbols, processed=0, skipped=0, instance=instance
    )
    session.add(row)
    session.flush()
    return row.id


def finish_cycle(
    session: Session,
    cycle_id: int,
    finished_at: datetime,
    duration_ms: float,
    processed: int,
    skipped: int,
    lag_ms: float,
) -> None:
    session.execute(
        update(MonitorCycleRow)
        .where(MonitorCycleRow.id == cycle_id)
        .values(
            finished_at=finished_at,
            duration_ms=duration_ms,
            processed=processed,
            skipped=skipped,
            lag_ms=lag_ms,
        )
    )


def get_throttle(session: Session, symbol: str, preset: str) -> ThrottleState | None:
    row = session.get(ThrottleStateRow, (symbol, preset))
    if row is None:
        return None
    side: Side = "BUY" if row.side == "BUY" else "SELL"
    return ThrottleState(side=side, alerted_at=row.alerted_at, price=row.price)


def save_throttle(
    session: Session, symbol: str, preset: str, state: ThrottleState, decision_id: str
) -> None:
    row = session.get(ThrottleStateRow, (symbol, preset))
    if row is None:
        session.add(
            ThrottleStateRow(
                symbol=symbol,
                preset=preset,
                side=state.side,
                alerted_at=state.alerted_at,
                price=state.price,
                decision_id=decision_id,
            )
        )
    else:
        row.side, row.alerted_at, row.price = state.side, state.alerted_at, state.price
        row.decision_id = decision_id


def record_outcome(
    session: Session,
    *,
    decision_id: str,
    symbol: str,
    side: str,
    preset: str,
    outcome: str,
    reason: str | None,
    price: float | None,
    origin: str,
    at: datetime,
) -> None:
    session.add(
        AlertOutcomeRow(
            decision_id=decision_id,
            symbol=symbol,
            side=side,
            preset=preset,
            outcome=outcome,
            reason=reason,
            price=price,
            origin=origin,
            created_at=at,
            updated_at=at,
        )
    )


def finish_outcome(
    session: Session,
    decision_id: str,
    outcome: str,
    at: datetime,
    message_id: int | None = None,
    error: str | None = None,
    reason: str | None = None,
) -> None:
    values: dict[str, Any] = {"outcome": outcome, "updated_at": at}
    if message_id is not None:
        values["message_id"] = message_id
    if error is not None:
        values["error"] = error
    if reason is not None:
        values["reason"] = reason
    session.execute(
        update(AlertOutcomeRow).where(AlertOutcomeRow.decision_id == decision_id).values(**values)
    )


def enqueue(
    session: Session,
    *,
    kind: str,
    chat_id: str,
    text: str,
    origin: str,
    at: datetime,
    decision_id: str | None = None,
) -> None:
    session.add(
        OutboxRow(
            kind=kind,
            chat_id=chat_id,
            text=text,
            origin=origin,
            status="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
            decision_id=decision_id,
        )
    )


def due_messages(session: Session, now: datetime, limit: int = 50) -> list[OutboxRow]:
    query = (
        select(OutboxRow)
        .where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now)
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def outbox_depth(session: Session) -> tuple[int, datetime | None]:
    """Pending messages and the creation time of the oldest one."""
    count, oldest = session.execute(
        select(func.count(OutboxRow.id), func.min(OutboxRow.created_at)).where(
            OutboxRow.status == "pending"
        )
    ).one()
    return int(count), oldest


def outcome_counts(session: Session, since: datetime | None = None) -> dict[str, int]:
    query = select(AlertOutcomeRow.outcome, func.count()).group_by(AlertOutcomeRow.outcome)
    if since is not None:
        query = query.where(AlertOutcomeRow.created_at >= since)
    counts = {o.lower(): 0 for o in ("SENT", "THROTTLED", "BLOCKED", "FAILED", "PENDING",
                                     "ABANDONED")}
    for outcome, n in session.execute(query):
        counts[str(outcome).lower()] = int(n)
    return counts


def decision_counts(session: Session, since: datetime | None = None,
                    until: datetime | None = None) -> dict[str, int]:
    """Decisions made by the cycles begun in [since, until): the sums of the cycles'
    counts, one row a cycle, whatever the decisions table holds (folded WAITs included)."""
    c = MonitorCycleRow
    query = select(func.coalesce(func.sum(c.buys), 0), func.coalesce(func.sum(c.sells), 0),
                   func.coalesce(func.sum(c.waits), 0))
    if since is not None:
        query = query.where(c.started_at >= since)
    if until is not None:
        query = query.where(c.started_at < until)
    buys, sells, waits = session.execute(query).one()
    return {"BUY": int(buys), "SELL": int(sells), "WAIT": int(waits)}


def count_cycle_decisions(session: Session, cycle_id: int, counts: dict[str, int]) -> None:
    """Add a cycle's stored decisions by kind to its row (in the decisions' transaction)."""
    c = MonitorCycleRow
    session.execute(update(c).where(c.id == cycle_id).values(
        buys=c.buys + counts.get("BUY", 0), sells=c.sells + counts.get("SELL", 0),
        waits=c.waits + counts.get("WAIT", 0)))


def set_alert_ref(session: Session, decision_id: str, covered_by: str) -> None:
    """Mark a decision as covered by an earlier BLOCKED outcome (one per blocked run)."""
    session.execute(
        update(DecisionRow).where(DecisionRow.id == decision_id).values(alert_ref=covered_by)
    )


def orphan_decisions(session: Session, limit: int = 5000) -> list[DecisionRow]:
    """BUY/SELL decisions with no outcome of their own and no BLOCKED run covering them:
    what a crash between a decision and its outcome left behind (failure mode 1)."""
    has_outcome = select(AlertOutcomeRow.id).where(
        AlertOutcomeRow.decision_id == DecisionRow.id).exists()
    query = (select(DecisionRow)
             .where(DecisionRow.decision.in_(("BUY", "SELL")), active_decisions(),
                    DecisionRow.alert_ref.is_(None),
                    ~has_outcome)
             .order_by(DecisionRow.created_at, DecisionRow.id).limit(limit))
    return list(session.scalars(query))


def insert_decisions(session: Session, rows: list[dict[str, Any]]) -> None:
    """One executemany: the ORM's per-object bookkeeping for 1,000 rows a cycle kept the
    GIL from the API's event loop for tens of milliseconds."""
    if rows:
        from sqlalchemy import insert

        session.execute(insert(DecisionRow), rows)


def newest_decision_ids(session: Session, symbols: Sequence[str]) -> dict[str, str]:
    """symbol → id of its newest stored decision, one index probe per symbol.

    GROUP BY symbol with MAX(created_at) walks every index entry of every symbol (a
    month of history per symbol); a correlated `ORDER BY created_at DESC LIMIT 1` from
    the watchlist reads one entry each. Symbols not on the watchlist (a removed one) are
    looked up one by one."""
    wanted = list(dict.fromkeys(symbols))
    if not wanted:
        return {}
    newest = (select(DecisionRow.id).where(DecisionRow.symbol == WatchlistRow.symbol)
              .order_by(DecisionRow.created_at.desc(), DecisionRow.id.desc())
              .limit(1).correlate(WatchlistRow).scalar_subquery())
    found: dict[str, str] = {}
    listed: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        query = (select(WatchlistRow.symbol, newest)
                 .where(WatchlistRow.symbol.in_(chunk)).distinct())
        for symbol, decision_id in session.execute(query):
            listed.add(str(symbol))
            if decision_id is not None:
                found[str(symbol)] = str(decision_id)
    for symbol in (s for s in wanted if s not in listed):
        decision_id = session.scalar(select(DecisionRow.id).where(DecisionRow.symbol == symbol)
                                     .order_by(DecisionRow.created_at.desc(),
                                               DecisionRow.id.desc()).limit(1))
        if decision_id is not None:
            found[symbol] = str(decision_id)
    return found


def newest_runs(session: Session, symbols: Sequence[str]) -> dict[str, StoredRun]:
    """What the fold rule (domain/compaction.py) needs of each symbol's newest row."""
    ids = newest_decision_ids(session, symbols)
    if not ids:
        return {}
    t, o = DecisionRow.__table__, AlertOutcomeRow.__table__
    query = (select(t.c.id, t.c.symbol, t.c.decision, t.c.preset, t.c.flags,
                    t.c.unknown_inputs, t.c.created_at, t.c.seen_until, t.c.alert_ref,
                    t.c.flag_changes, o.c.outcome, o.c.reason)
             .select_from(t.outerjoin(o, o.c.decision_id == t.c.id))
             .where(t.c.id.in_(list(ids.values()))))
    return {str(r.symbol): StoredRun(id=r.id, decision=r.decision, preset=r.preset,
                                     flags=r.flags or {},
                                     unknown=frozenset(r.unknown_inputs or {}),
                                     created_at=r.created_at, seen_until=r.seen_until,
                                     alert_ref=r.alert_ref,
                                     flag_changes=r.flag_changes or (),
                                     outcome=r.outcome, outcome_reason=r.reason)
            for r in session.execute(query)}


def extend_decisions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Fold WAIT decisions into their rows (one executemany): each dict has the row's
    `id`, the time it was decided again, its latest values and its flag timeline."""
    if not rows:
        return
    t = cast(Table, DecisionRow.__table__)
    statement = (update(t).where(t.c.id == bindparam("row_id"))
                 .values(seen_until=bindparam("at"), repeats=t.c.repeats + 1,
                         price=bindparam("new_price"), buy_index=bindparam("new_buy_index"),
                         flags=bindparam("new_flags"),
                         flag_changes=bindparam("new_flag_changes"),
                         indicators=bindparam("new_indicators"),
                         reasons=bindparam("new_reasons"),
                         unknown_inputs=bindparam("new_unknown_inputs")))
    session.connection().execute(statement, [
        {"row_id": r["id"], "at": r["seen_until"], "new_price": r["price"],
         "new_buy_index": r["buy_index"], "new_flags": r["flags"],
         "new_flag_changes": r["flag_changes"], "new_indicators": r["indicators"],
         "new_reasons": r["reasons"], "new_unknown_inputs": r["unknown_inputs"]}
        for r in rows])
