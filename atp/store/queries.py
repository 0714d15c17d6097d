"""Read models: read-only queries, each a function of a `Session` returning plain dicts.

The application core (`atp.engine.core`) serves them to every channel; they run in a
worker thread (`Database.read`), never on the event loop, and read the same rows the
engine wrote: no channel holds a copy of any rule or counter of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atp.domain.compaction import expand_flag_changes
from atp.store import outbox as outbox_rows
from atp.store import repository as repo
from atp.store.models import (
    AlertOutcomeRow,
    AuditLogRow,
    DecisionRow,
    EventRow,
    MonitorCycleRow,
    OrderRow,
    OutboxRow,
    PresetRow,
    SettingRow,
    ThrottleStateRow,
    WatchlistRow,
    active_decisions,
)


def _columns(row: Any, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


CYCLE_FIELDS = ("id", "started_at", "finished_at", "duration_ms", "symbols", "processed",
                "skipped", "lag_ms", "instance", "buys", "sells", "waits")
DECISION_FIELDS = ("id", "cycle_id", "symbol", "preset", "decision", "buy_index", "price",
                   "flags", "indicators", "reasons", "unknown_inputs", "alert_ref",
                   "created_at", "seen_until", "repeats")
OUTCOME_FIELDS = ("decision_id", "symbol", "side", "preset", "outcome", "reason", "price",
                  "message_id", "error", "origin", "created_at", "updated_at")
EVENT_FIELDS = ("id", "at", "type", "severity", "symbol", "decision_id", "instance",
                "message", "payload")
THROTTLE_FIELDS = ("symbol", "preset", "side", "alerted_at", "price", "decision_id")
ORDER_FIELDS = tuple(c.name for c in OrderRow.__table__.columns)
AUDIT_FIELDS = ("id", "at", "author", "entity", "entity_key", "field", "old_value",
                "new_value")
WATCHLIST_FIELDS = ("symbol", "exchange", "enabled", "alert_enabled", "buy_alert_enabled",
                    "sell_alert_enabled", "preset", "overrides", "trade_enabled",
                    "trade_amount_usd", "buy_target", "created_at", "updated_at")
PRESET_FIELDS = ("name", *repo.PRESET_FIELDS, "updated_at", "updated_by")


def _decision(row: DecisionRow) -> dict[str, Any]:
    """A decision row as every reader gets it: its flag timeline with times and flags."""
    out = _columns(row, DECISION_FIELDS)
    out["flag_changes"] = expand_flag_changes(row.created_at, row.flag_changes)
    return out


def latest_decisions(session: Session, symbols: Sequence[str] | None = None
                     ) -> dict[str, dict[str, Any]]:
    """The newest stored decision per symbol (what every channel shows: one record);
    `symbols` None: every watchlist symbol."""
    if symbols is None:
        symbols = list(session.scalars(select(WatchlistRow.symbol)))
    ids = repo.newest_decision_ids(session, symbols)
    if not ids:
        return {}
    query = select(DecisionRow).where(DecisionRow.id.in_(list(ids.values())))
    return {row.symbol: _decision(row)
            for row in session.scalars(query.order_by(DecisionRow.symbol))}


RUN_FIELDS = ("id", "symbol", "decision", "created_at", "seen_until", "repeats",
              "unknown_inputs")


def decision_runs(session: Session, *, since: datetime | None, limit: int, offset: int
                  ) -> list[dict[str, Any]]:
    """The rows of `decisions` without what explains them (flags, indicators, reasons,
    timeline): what `atp check` counts and dates, a tenth of the bytes at 3,000 symbols."""
    t = DecisionRow.__table__
    query = select(*(t.c[name] for name in RUN_FIELDS))
    if since is not None:
        query = query.where(t.c.seen_until >= since)
    query = query.order_by(t.c.created_at.desc(), t.c.symbol, t.c.id)
    return [dict(r._mapping) for r in session.execute(query.limit(limit).offset(offset))]


def cycles(session: Session, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    query = select(MonitorCycleRow).order_by(MonitorCycleRow.id.desc()).limit(limit)
    if since is not None:
        query = query.where(MonitorCycleRow.started_at >= since)
    return [_columns(r, CYCLE_FIELDS) for r in session.scalars(query)]


def decisions(
    session: Session, *, symbol: str | None, kinds: list[str] | None,
    since: datetime | None, until: datetime | None, limit: int, offset: int,
) -> list[dict[str, Any]]:
    query = select(DecisionRow)
    if symbol is not None:
        query = query.where(DecisionRow.symbol == symbol)
    if kinds:
        query = query.where(DecisionRow.decision.in_(kinds))
        if "WAIT" not in kinds:
            query = query.where(active_decisions())  # the partial BUY/SELL index
    # a row covers [created_at, seen_until] (compact WAIT storage): `since` keeps every
    # row still decided at or after it, `until` every row that began before it
    if since is not None:
        query = query.where(DecisionRow.seen_until >= since)
    if until is not None:
        query = query.where(DecisionRow.created_at < until)
    query = query.order_by(DecisionRow.created_at.desc(), DecisionRow.symbol, DecisionRow.id)
    rows = session.scalars(query.limit(limit).offset(offset))
    return [_decision(r) for r in rows]


def outcomes(
    session: Session, *, since: datetime | None, outcome: str | None, symbol: str | None,
    decision_id: str | None, limit: int, offset: int,
) -> list[dict[str, Any]]:
    """Outcomes newest first, each with its alert text when one was enqueued."""
    query = select(AlertOutcomeRow)
    if since is not None:
        query = query.where(AlertOutcomeRow.created_at >= since)
    if outcome is not None:
        query = query.where(AlertOutcomeRow.outcome == outcome)
    if symbol is not None:
        query = query.where(AlertOutcomeRow.symbol == symbol)
    if decision_id is not None:
        query = query.where(AlertOutcomeRow.decision_id == decision_id)
    query = query.order_by(AlertOutcomeRow.created_at.desc(), AlertOutcomeRow.id.desc())
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    ids = [r.decision_id for r in rows]
    messages: dict[str, OutboxRow] = {}
    if ids:
        outbox = select(OutboxRow).where(OutboxRow.decision_id.in_(ids), OutboxRow.kind == "alert")
        for row in session.scalars(outbox.order_by(OutboxRow.id)):
            messages.setdefault(row.decision_id or "", row)
    out = []
    for r in rows:
        item = _columns(r, OUTCOME_FIELDS)
        m: OutboxRow | None = messages.get(r.decision_id)
        item.update(message=m.text if m else None, delivery_status=m.status if m else None,
                    attempts=m.attempts if m else None)
        out.append(item)
    return out


def events(session: Session, **filters: Any) -> list[dict[str, Any]]:
    from atp.store.journal import query_events

    return [_columns(r, EVENT_FIELDS) for r in query_events(session, newest_first=True,
                                                             **filters)]


def throttle(session: Session) -> list[dict[str, Any]]:
    query = select(ThrottleStateRow).order_by(ThrottleStateRow.symbol, ThrottleStateRow.preset)
    return [_columns(r, THROTTLE_FIELDS) for r in session.scalars(query)]


def orders(
    session: Session, *, symbol: str | None, decision_id: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    query = select(OrderRow)
    if symbol is not None:
        query = query.where(OrderRow.symbol == symbol)
    if decision_id is not None:
        query = query.where(OrderRow.decision_id == decision_id)
    query = query.order_by(OrderRow.created_at.desc(), OrderRow.id.desc())
    return [_columns(r, ORDER_FIELDS) for r in session.scalars(query.limit(limit).offset(offset))]


def audit(
    session: Session, *, entity: str | None, entity_key: str | None, since: datetime | None,
    limit: int, offset: int,
) -> list[dict[str, Any]]:
    query = select(AuditLogRow)
    if entity is not None:
        query = query.where(AuditLogRow.entity == entity)
    if entity_key is not None:
        query = query.where(AuditLogRow.entity_key == entity_key)
    if since is not None:
        query = query.where(AuditLogRow.at >= since)
    query = query.order_by(AuditLogRow.at.desc(), AuditLogRow.id.desc())
    return [_columns(r, AUDIT_FIELDS) for r in session.scalars(query.limit(limit).offset(offset))]


def watchlist(session: Session, symbol: str | None = None) -> list[dict[str, Any]]:
    query = select(WatchlistRow).order_by(WatchlistRow.symbol)
    if symbol is not None:
        query = query.where(WatchlistRow.symbol == symbol)
    return [_columns(r, WATCHLIST_FIELDS) for r in session.scalars(query)]


def presets(session: Session) -> list[dict[str, Any]]:
    query = select(PresetRow).order_by(PresetRow.name)
    return [_columns(r, PRESET_FIELDS) for r in session.scalars(query)]


def settings(session: Session) -> list[dict[str, Any]]:
    query = select(SettingRow).order_by(SettingRow.key)
    return [_columns(r, ("key", "value", "updated_at", "updated_by"))
            for r in session.scalars(query)]


def summary_counts(session: Session, since: datetime | None) -> dict[str, Any]:
    pending, oldest = repo.outbox_depth(session)
    return {
        "decisions": repo.decision_counts(session, since),
        "outcomes": repo.outcome_counts(session, since),
        "outbox_pending": pending,
        "oldest_pending": oldest,
    }


def lease_holder(session: Session, name: str, now: datetime
                 ) -> tuple[str | None, datetime | None]:
    from atp.store.leases import holder

    return holder(session, name, now)


def _instance(owner: str) -> str:
    """The INSTANCE_NAME part of a lease owner (`INSTANCE@host/pid/id`)."""
    return owner.rsplit("@", 1)[0] if "@" in owner else owner.rsplit(":", 1)[0]


def processes(session: Session, prefix: str, now: datetime) -> list[dict[str, Any]]:
    """Live processes on this database (their presence leases), oldest first."""
    from atp.store.leases import live

    return [{"owner": r.holder, "instance": _instance(r.holder),
             "started_at": r.acquired_at, "seen_at": r.renewed_at}
            for r in live(session, prefix, now)]


def live_leases(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every unexpired lease (name, holder, since when): who holds what, generically."""
    from atp.store.leases import every_live

    return [{"name": n, "holder": h, "acquired_at": a} for n, h, a in every_live(session, now)]


def outbox_depth(session: Session) -> tuple[int, datetime | None]:
    return repo.outbox_depth(session)


def outbox_repeats(session: Session) -> int:
    return outbox_rows.count_repeats(session)


def last_exchange_failure_at(session: Session) -> datetime | None:
    query = select(func.max(EventRow.at)).where(
        EventRow.type.like("exchange\\_%", escape="\\"), EventRow.severity != "info"
    )
    value: datetime | None = session.scalar(query)
    return value


def latest_prices(session: Session, symbols: Sequence[str]
                  ) -> dict[str, tuple[float, datetime]]:
    """symbol → (price, when) of its newest stored decision with a price: what another
    replica's monitor saw (a compacted row holds its run's latest price)."""
    ids = repo.newest_decision_ids(session, symbols)
    if not ids:
        return {}
    query = (select(DecisionRow.symbol, DecisionRow.price, DecisionRow.seen_until,
                    DecisionRow.created_at)
             .where(DecisionRow.id.in_(list(ids.values())), DecisionRow.price.is_not(None)))
    return {str(symbol): (float(price or 0.0), seen or created)
            for symbol, price, seen, created in session.execute(query)}
