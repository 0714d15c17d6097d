"""The trader's rows: intents, orders, positions, the paper account and notices.

Small functions on a `Session`; the caller (the trader, the paper broker, the alert
pipeline) owns the transaction. Rows come back as the models so the engine can change
them inside its unit of work; nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from atp.domain.trading import OrderState
from atp.store.models import (
    OrderIntentRow,
    OrderRow,
    PaperBalanceRow,
    PaperOrderRow,
    PositionRow,
    SettingRow,
    TradingNoticeRow,
)

OPEN_ORDER_STATUSES = ("NEW", "ACTIVE")


# ── intents ────────────────────────────────────────────────────────────────────────────


def insert_intent(session: Session, **values: Any) -> OrderIntentRow:
    row = OrderIntentRow(**values)
    session.add(row)
    return row


def intent(session: Session, decision_id: str) -> OrderIntentRow | None:
    return session.scalars(
        select(OrderIntentRow).where(OrderIntentRow.decision_id == decision_id)).first()


def intents_with_outcome(session: Session, outcomes: Sequence[str],
                         limit: int = 100) -> list[OrderIntentRow]:
    query = (select(OrderIntentRow).where(OrderIntentRow.outcome.in_(list(outcomes)))
             .order_by(OrderIntentRow.id).limit(limit))
    return list(session.scalars(query))


def list_intents(session: Session, *, since: datetime | None, outcome: str | None,
                 symbol: str | None, limit: int) -> tuple[list[OrderIntentRow], int]:
    query = select(OrderIntentRow)
    count = select(func.count(OrderIntentRow.id))
    if since is not None:
        query = query.where(OrderIntentRow.created_at >= since)
        count = count.where(OrderIntentRow.created_at >= since)
    if outcome is not None:
        query = query.where(OrderIntentRow.outcome == outcome)
        count = count.where(OrderIntentRow.outcome == outcome)
    if symbol is not None:
        query = query.where(OrderIntentRow.symbol == symbol)
        count = count.where(OrderIntentRow.symbol == symbol)
    query = query.order_by(OrderIntentRow.created_at.desc(), OrderIntentRow.id.desc())
    return list(session.scalars(query.limit(limit))), int(session.scalar(count) or 0)


def rejections_by_code(session: Session, since: datetime | None,
                       symbol: str | None) -> dict[str, int]:
    """Rejections of intents and of protection legs, counted by the exchange's code."""
    out: dict[str, int] = {}
    query = (select(OrderRow.error_code, func.count()).where(OrderRow.status == "REJECTED",
                                                             OrderRow.error_code.is_not(None))
             .group_by(OrderRow.error_code))
    if since is not None:
        query = query.where(OrderRow.created_at >= since)
    if symbol is not None:
        query = query.where(OrderRow.symbol == symbol)
    for code, n in session.execute(query):
        out[str(code)] = out.get(str(code), 0) + int(n)
    return out


# ── orders ─────────────────────────────────────────────────────────────────────────────


def insert_order(session: Session, **values: Any) -> OrderRow:
    row = OrderRow(**values)
    session.add(row)
    session.flush()
    return row


def order(session: Session, client_oid: str) -> OrderRow | None:
    return session.scalars(
        select(OrderRow).where(OrderRow.client_order_id == client_oid)).first()


def orders_of(session: Session, decision_ids: Sequence[str]) -> list[OrderRow]:
    if not decision_ids:
        return []
    query = (select(OrderRow).where(OrderRow.decision_id.in_(list(decision_ids)))
             .order_by(OrderRow.id))
    return list(session.scalars(query))


def open_orders(session: Session, roles: Sequence[str] | None = None) -> list[OrderRow]:
    """Orders still open or whose outcome is unknown (the sync loop reads these)."""
    query = select(OrderRow).where(or_(OrderRow.status.in_(OPEN_ORDER_STATUSES),
                                       OrderRow.unknown.is_(True)))
    if roles is not None:
        query = query.where(OrderRow.role.in_(list(roles)))
    return list(session.scalars(query.order_by(OrderRow.id)))


def orders_by_list(session: Session, list_id: str) -> list[OrderRow]:
    query = select(OrderRow).where(OrderRow.list_id == list_id).order_by(OrderRow.id)
    return list(session.scalars(query))


def count_open_orders(session: Session) -> int:
    return int(session.scalar(select(func.count(OrderRow.id)).where(
        OrderRow.status.in_(OPEN_ORDER_STATUSES))) or 0)


def apply_state(row: OrderRow, state: OrderState, at: datetime) -> None:
    """The broker's report onto the record (never backwards from a final state)."""
    if row.status in ("FILLED", "CANCELLED", "REJECTED", "EXPIRED") and not row.unknown:
        return
    row.status = state.status
    row.unknown = False
    row.exchange_order_id = state.exchange_order_id or row.exchange_order_id
    row.filled_quantity = state.filled_quantity
    row.avg_price = state.avg_price
    row.fee = state.fee
    row.fee_currency = state.fee_currency
    if state.quantity is not None:
        row.quantity = state.quantity
    if state.trigger_price is not None:
        row.trigger_price = state.trigger_price
    row.list_id = state.list_id or row.list_id
    row.updated_at = at


def last_buy_at(session: Session, base: str) -> datetime | None:
    """When the last BUY entry order in `base` was placed (any state but refused)."""
    query = select(func.max(OrderRow.created_at)).where(
        OrderRow.side == "BUY", OrderRow.role == "entry",
        OrderRow.symbol.like(f"{base}\\_%", escape="\\"),
        OrderRow.status != "REJECTED")
    value: datetime | None = session.scalar(query)
    return value


# ── positions ──────────────────────────────────────────────────────────────────────────


def insert_position(session: Session, **values: Any) -> PositionRow:
    row = PositionRow(**values)
    session.add(row)
    session.flush()
    return row


def open_positions(session: Session, *, symbol: str | None = None,
                   base: str | None = None) -> list[PositionRow]:
    query = select(PositionRow).where(PositionRow.status == "open")
    if symbol is not None:
        query = query.where(PositionRow.symbol == symbol)
    if base is not None:
        query = query.where(PositionRow.base == base)
    return list(session.scalars(query.order_by(PositionRow.opened_at, PositionRow.id)))


def position_by_entry(session: Session, entry_oid: str) -> PositionRow | None:
    return session.scalars(
        select(PositionRow).where(PositionRow.entry_client_oid == entry_oid)).first()


def positions_to_protect(session: Session, now: datetime) -> list[PositionRow]:
    """Open positions without an SL/TP pair whose next attempt is due."""
    query = select(PositionRow).where(
        PositionRow.status == "open",
        PositionRow.protection_status.in_(("none", "pending", "failed")),
        or_(PositionRow.protection_next_at.is_(None), PositionRow.protection_next_at <= now))
    return list(session.scalars(query.order_by(PositionRow.id)))


# ── settings without audit (machine state, not an operator's change) ──────────────────


def put_state(session: Session, key: str, value: Any, at: datetime) -> None:
    row = session.get(SettingRow, key)
    if row is None:
        session.add(SettingRow(key=key, value=value, updated_at=at, updated_by="trader"))
    else:
        row.value, row.updated_at, row.updated_by = value, at, "trader"


# ── notices ────────────────────────────────────────────────────────────────────────────


def first_notice(session: Session, cause: str, at: datetime) -> bool:
    """True the first time `cause` is told (recorded now); False while it still stands."""
    if session.get(TradingNoticeRow, cause) is not None:
        return False
    session.add(TradingNoticeRow(cause=cause, at=at))
    session.flush()
    return True


def clear_notices(session: Session, prefix: str) -> None:
    """The cause cleared: the next occurrence is told again."""
    session.execute(delete(TradingNoticeRow).where(
        TradingNoticeRow.cause.like(prefix.replace("_", "\\_") + "%", escape="\\")))


# ── the paper account ──────────────────────────────────────────────────────────────────


def paper_balances(session: Session) -> dict[str, float]:
    return {r.currency: r.amount for r in session.scalars(select(PaperBalanceRow))}


def paper_balance_row(session: Session, currency: str) -> PaperBalanceRow | None:
    return session.get(PaperBalanceRow, currency, with_for_update=True)


def set_paper_balance(session: Session, currency: str, amount: float, at: datetime) -> None:
    row = session.get(PaperBalanceRow, currency)
    if row is None:
        session.add(PaperBalanceRow(currency=currency, amount=amount, updated_at=at))
    else:
        row.amount, row.updated_at = amount, at
    session.flush()


def paper_order(session: Session, client_oid: str) -> PaperOrderRow | None:
    return session.get(PaperOrderRow, client_oid)


def insert_paper_order(session: Session, **values: Any) -> PaperOrderRow:
    row = PaperOrderRow(**values)
    session.add(row)
    session.flush()
    return row


def open_paper_orders(session: Session, symbol: str | None = None,
                      list_id: str | None = None) -> list[PaperOrderRow]:
    query = select(PaperOrderRow).where(PaperOrderRow.status.in_(OPEN_ORDER_STATUSES))
    if symbol is not None:
        query = query.where(PaperOrderRow.symbol == symbol)
    if list_id is not None:
        query = query.where(PaperOrderRow.list_id == list_id)
    return list(session.scalars(query.order_by(PaperOrderRow.created_at,
                                               PaperOrderRow.client_oid)))


def paper_legs(session: Session, list_id: str) -> list[PaperOrderRow]:
    query = select(PaperOrderRow).where(PaperOrderRow.list_id == list_id)
    return list(session.scalars(query.order_by(PaperOrderRow.client_oid)))


def paper_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(PaperOrderRow)) or 0)


# ── read models ────────────────────────────────────────────────────────────────────────

INTENT_FIELDS = ("decision_id", "client_oid", "symbol", "side", "mode", "outcome", "reason",
                 "error_code", "error_message", "created_at", "updated_at")


def _order_view(r: OrderRow) -> dict[str, Any]:
    return {"client_oid": r.client_order_id, "exchange_order_id": r.exchange_order_id,
            "role": r.role, "order_type": r.order_type, "side": r.side, "status": r.status,
            "quantity": r.quantity, "filled_quantity": r.filled_quantity,
            "avg_price": r.avg_price, "fee": r.fee, "fee_currency": r.fee_currency,
            "trigger_price": r.trigger_price, "list_id": r.list_id,
            "created_at": r.created_at, "updated_at": r.updated_at}


def intents_view(session: Session, *, since: datetime | None, outcome: str | None,
                 symbol: str | None, limit: int) -> dict[str, Any]:
    """GET /api/orders: intents newest first, each with its orders (entry, exit, legs)."""
    found, total = list_intents(session, since=since, outcome=outcome, symbol=symbol,
                                limit=limit)
    by_decision: dict[str, list[dict[str, Any]]] = {}
    for r in orders_of(session, [i.decision_id for i in found]):
        by_decision.setdefault(r.decision_id or "", []).append(_order_view(r))
    intents = []
    for i in found:
        item = {name: getattr(i, name) for name in INTENT_FIELDS}
        item["orders"] = by_decision.get(i.decision_id, [])
        intents.append(item)
    return {"intents": intents, "total": total,
            "rejections_by_code": rejections_by_code(session, since, symbol)}


# ── the portfolio's reads ──────────────────────────────────────────────────────────────


def open_order_rows(session: Session, symbol: str | None = None) -> list[OrderRow]:
    """ATP's orders still open at the broker (entries, exits and SL/TP legs)."""
    query = select(OrderRow).where(OrderRow.status.in_(OPEN_ORDER_STATUSES))
    if symbol is not None:
        query = query.where(OrderRow.symbol == symbol)
    return list(session.scalars(query.order_by(OrderRow.created_at, OrderRow.id)))


def filled_orders(session: Session, symbol: str | None = None) -> list[OrderRow]:
    """Orders that filled (some quantity), oldest first."""
    query = select(OrderRow).where(OrderRow.filled_quantity > 0,
                                   OrderRow.status.in_(("FILLED", "CANCELLED", "EXPIRED")))
    if symbol is not None:
        query = query.where(OrderRow.symbol == symbol)
    return list(session.scalars(query.order_by(OrderRow.created_at, OrderRow.id)))


def positions_of_symbols(session: Session, symbols: Sequence[str]) -> list[PositionRow]:
    if not symbols:
        return []
    query = select(PositionRow).where(PositionRow.symbol.in_(list(symbols)))
    return list(session.scalars(query.order_by(PositionRow.id)))


def closed_positions(session: Session, mode: str | None = None) -> list[PositionRow]:
    query = select(PositionRow).where(PositionRow.status == "closed")
    if mode is not None:
        query = query.where(PositionRow.mode == mode)
    return list(session.scalars(query.order_by(PositionRow.closed_at, PositionRow.id)))
