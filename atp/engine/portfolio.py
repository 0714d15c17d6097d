"""The portfolio read model: balances in USD, positions, open and executed orders, P&L.

One read for every channel (API, dashboard, Telegram): the broker of the current mode
(the paper account in dry run, the exchange when live) for balances, the trader's stored
records for positions and orders, and the last prices the monitor saw as the tickers.
Every figure is computed by `atp.domain.portfolio`; this module only gathers the inputs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from atp.domain.portfolio import (
    HeldPosition,
    base_of,
    expected_take_profit,
    fee_in_quote,
    in_usd,
    pnl_summary,
    unrealised_pct,
    usd_price,
    value_balances,
)
from atp.engine.clock import Clock
from atp.engine.trader import Trader
from atp.store import trading as rows
from atp.store.database import Database
from atp.store.models import OrderRow, PositionRow


def day_start(now: datetime) -> datetime:
    """Midnight UTC of `now`: where "today" begins for realised P&L."""
    now = now.astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _mode_of(row: OrderRow) -> str:
    return "paper" if row.dry_run else "live"


def _open_order(r: OrderRow) -> dict[str, Any]:
    return {"client_oid": r.client_order_id, "exchange_order_id": r.exchange_order_id,
            "symbol": r.symbol, "side": r.side, "role": r.role, "order_type": r.order_type,
            "status": r.status, "mode": _mode_of(r), "quantity": r.quantity,
            "notional": r.notional, "trigger_price": r.trigger_price, "list_id": r.list_id,
            "decision_id": r.decision_id, "created_at": r.created_at}


def _executed(r: OrderRow, at: datetime, closed: list[PositionRow]) -> dict[str, Any]:
    price = r.avg_price
    pnl: float | None = None
    if r.side == "SELL" and closed:
        pnl = round(sum(p.realised_pnl or 0.0 for p in closed), 10)
    return {"client_oid": r.client_order_id, "exchange_order_id": r.exchange_order_id,
            "symbol": r.symbol, "side": r.side, "role": r.role, "order_type": r.order_type,
            "status": r.status, "mode": _mode_of(r), "quantity": r.filled_quantity,
            "avg_price": price,
            "notional": None if price is None else round(r.filled_quantity * price, 10),
            "fee": r.fee, "fee_currency": r.fee_currency,
            "fee_quote": fee_in_quote(r.symbol, r.fee, r.fee_currency, price),
            "realised_pnl": pnl,
            "realised_pnl_reason": None if r.side == "BUY" or pnl is not None
            else "no closed position recorded for this SELL",
            "decision_id": r.decision_id, "executed_at": at}


def link_fills(orders: list[OrderRow], positions: list[PositionRow]
               ) -> list[tuple[OrderRow, datetime, list[PositionRow]]]:
    """Each filled order with when the trader recorded its fill and the positions it
    closed. A BUY opened the position of its client oid (at `opened_at`); an SL/TP leg
    closed the position its pair protected; an exit SELL closed every open position of
    its symbol and mode (`closed_by` "sell") between its creation and the next exit's.
    The order's own `updated_at` moves on any later write, so it is only the fallback."""
    by_entry = {p.entry_client_oid: p for p in positions}
    by_list = {p.protection_list_id: p for p in positions if p.protection_list_id}
    exits = sorted((o for o in orders if o.side == "SELL" and o.role == "exit"),
                   key=lambda o: (o.created_at, o.id))
    out = []
    for o in orders:
        closed: list[PositionRow] = []
        at = o.updated_at
        if o.side == "BUY":
            opened = by_entry.get(o.client_order_id)
            at = opened.opened_at if opened is not None else at
        elif o.role == "exit":
            later = [e.created_at for e in exits if e.symbol == o.symbol and e.dry_run ==
                     o.dry_run and (e.created_at, e.id) > (o.created_at, o.id)]
            until = later[0] if later else None
            closed = [p for p in positions if p.symbol == o.symbol and p.closed_by == "sell"
                      and p.mode == _mode_of(o) and p.closed_at is not None
                      and p.closed_at >= o.created_at
                      and (until is None or p.closed_at < until)]
        else:
            p = by_list.get(o.list_id or "")
            closed = [p] if p is not None and p.closed_by == o.role else []
        if closed and closed[0].closed_at is not None:
            at = max(c.closed_at or at for c in closed)
        out.append((o, at, closed))
    return out


@dataclass
class Portfolio:
    """Reads only; `trader` None (no trading desk in this process) is an empty paper desk."""

    db: Database
    clock: Clock
    trader: Trader | None = None

    async def _mode(self) -> str:
        if self.trader is None:
            return "paper"
        return await self.trader.mode()

    def _tickers(self) -> dict[str, float | None]:
        return dict(self.trader.paper.prices()) if self.trader is not None else {}

    async def _read(self, fn: Any, *args: Any) -> Any:
        def run() -> Any:
            with self.db.sessions() as session:
                return fn(session, *args)

        return await self.db.read(run)

    async def portfolio(self) -> dict[str, Any]:
        """GET /api/portfolio: balances valued in USD with the total, the open positions
        with SL/TP and unrealised P&L, and the expected take-profit per symbol."""
        mode = await self._mode()
        tickers = self._tickers()
        balances: dict[str, float] = {}
        balances_error = None
        broker = None if self.trader is None else self.trader.broker(mode)
        if broker is not None:
            try:
                balances = await broker.balances()
            except Exception as exc:  # the exchange is down: say so, value nothing
                balances_error = f"balances unavailable: {type(exc).__name__}: {exc}"[:300]
        valued, total, unvalued = value_balances(balances, tickers)
        held = await self._read(_open_positions, mode)
        positions = [self._position(p, tickers) for p in held]
        by_symbol: dict[str, list[PositionRow]] = defaultdict(list)
        for p in held:
            by_symbol[p.symbol].append(p)
        expected = []
        for symbol, group in sorted(by_symbol.items()):
            fee = 0.0
            if broker is not None:
                try:
                    fee = (await broker.instrument(symbol)).taker_fee
                except Exception:
                    fee = 0.0
            tp = expected_take_profit(
                symbol, balances.get(base_of(symbol)) if balances else None,
                [HeldPosition(p.quantity, p.cost, p.take_profit
                              if p.protection_status == "active" else None) for p in group],
                fee)
            expected.append({**asdict(tp), "taker_fee": fee})
        return {
            "mode": mode, "as_of": self.clock.now(),
            "balances": [asdict(b) for b in valued],
            "total_usd": total, "unvalued": unvalued, "balances_error": balances_error,
            "positions": positions, "expected_take_profit": expected,
        }

    def _position(self, p: PositionRow, tickers: dict[str, float | None]) -> dict[str, Any]:
        view = self.trader._position_view(p) if self.trader is not None else {}
        mark = view.get("mark_price", tickers.get(p.symbol))
        view.update({"cost": p.cost, "mode": p.mode,
                     "unrealised_pnl_pct": unrealised_pct(p.avg_entry, mark),
                     "stop_loss": p.stop_loss, "take_profit": p.take_profit,
                     "mark_reason": None if mark is not None
                     else f"no price seen for {p.symbol} yet"})
        price, _, _ = usd_price(p.symbol.split("_", 1)[-1], tickers)
        view["value_usd"] = (None if mark is None or price is None
                             else round(p.quantity * mark * price, 10))
        return view

    async def open_orders(self) -> dict[str, Any]:
        """GET /api/orders/open: ATP's open orders, SL/TP legs included."""
        found = await self._read(rows.open_order_rows)
        return {"orders": [_open_order(r) for r in found], "total": len(found)}

    async def executed_orders(self, *, symbol: str | None = None, since: datetime | None = None,
                              limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """GET /api/orders/executed: fills newest first with fees and realised P&L."""

        def read(session: Any) -> dict[str, Any]:
            found = rows.filled_orders(session, symbol)
            held = rows.positions_of_symbols(session, sorted({o.symbol for o in found}))
            linked = [f for f in link_fills(found, held) if since is None or f[1] >= since]
            linked.sort(key=lambda f: (f[1], f[0].id), reverse=True)
            return {"orders": [_executed(*f) for f in linked[offset:offset + limit]],
                    "total": len(linked), "limit": limit, "offset": offset}

        result: dict[str, Any] = await self._read(read)
        return result

    async def pnl(self) -> dict[str, Any]:
        """GET /api/pnl: realised today (UTC) and in total, unrealised of what is held,
        in USD (a non-USD quote at its ticker now; none, and the P&L is counted apart)."""
        mode = await self._mode()
        tickers = self._tickers()

        def read(session: Any) -> tuple[list[PositionRow], list[PositionRow]]:
            return rows.closed_positions(session, mode), _open_positions(session, mode)

        closed, held = await self._read(read)
        start = day_start(self.clock.now())
        marks = [in_usd(self._position(p, tickers)["unrealised_pnl"], p.symbol, tickers)
                 for p in held]
        summary = pnl_summary([(p.closed_at or start, in_usd(p.realised_pnl or 0.0, p.symbol,
                                                             tickers)) for p in closed],
                              marks, start)
        return {"mode": mode, "as_of": self.clock.now(), "day_start": start, **asdict(summary)}


def _open_positions(session: Any, mode: str) -> list[PositionRow]:
    return [p for p in rows.open_positions(session) if p.mode == mode]
