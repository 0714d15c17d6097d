"""The paper broker: dry run behind the same `Broker` port as the exchange.

Market orders fill at the last price the monitor saw, with the instrument's taker fee
(a BUY's fee in base, a SELL's in quote, as the exchange charges them); balances and the
order book live in the database, so a restart keeps the dry-run account. An SL/TP pair
sits in the paper book until the price path crosses a leg: `settle` walks the prices
seen since the last call, fills the first leg crossed at that price (a triggered stop
fills at the market, not at its trigger) and cancels the other. Nothing here talks to
the exchange: in dry run no private call leaves the process.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from atp.domain.fills import (
    LegKind,
    check_protection,
    default_rules,
    first_crossed,
    leg_fee,
    market_fill,
)
from atp.domain.portfolio import base_of, quote_of
from atp.domain.trading import (
    BrokerMode,
    BrokerUnavailable,
    DuplicateOrder,
    InstrumentRules,
    MarketOrder,
    OrderSide,
    OrderState,
    OrderStatus,
    ProtectionOrder,
    ProtectionState,
)
from atp.engine.clock import Clock
from atp.store import trading as rows
from atp.store.database import Database
from atp.store.models import PaperOrderRow
from atp.store.uow import UnitOfWork

Rules = Callable[[str], Awaitable[InstrumentRules | None]]


def _state(row: PaperOrderRow) -> OrderState:
    side: OrderSide = "BUY" if row.side == "BUY" else "SELL"
    status = cast(OrderStatus, row.status)
    return OrderState(symbol=row.symbol, side=side, client_oid=row.client_oid,
                      exchange_order_id=row.order_id, order_type=row.order_type,
                      status=status, quantity=row.quantity,
                      filled_quantity=row.filled_quantity, avg_price=row.avg_price,
                      fee=row.fee, fee_currency=row.fee_currency,
                      trigger_price=row.trigger_price, list_id=row.list_id,
                      updated_at=row.updated_at)


@dataclass
class PaperBroker:
    db: Database
    clock: Clock
    starting_balance: float = 10_000.0  # per quote currency, on first use
    rules: Rules | None = None
    mode: BrokerMode = "paper"
    _last: dict[str, float] = field(default_factory=dict)
    _path: dict[str, list[float]] = field(default_factory=dict)
    _rules: dict[str, InstrumentRules] = field(default_factory=dict)
    _settled: set[str] = field(default_factory=set)  # symbols whose path was walked
    # Replicas: this process's monitor sees only its shards' prices; the others come from
    # the record (the newest decision of each symbol, whoever made it): symbols → (price,
    # when it was last decided on). None: one process sees every price itself.
    record: Callable[[list[str]], Awaitable[dict[str, tuple[float, datetime]]]] | None = None
    _seen: dict[str, datetime] = field(default_factory=dict)  # newest price's time

    # ── the price path ─────────────────────────────────────────────────────────────────

    def observe(self, prices: Mapping[str, float | None], at: datetime | None = None) -> None:
        """Prices the monitor just saw (one per symbol per cycle): the path SL/TP walk."""
        at = at or self.clock.now()
        for symbol, price in prices.items():
            if price is None or not price > 0:
                continue
            self._last[symbol] = float(price)
            self._seen[symbol] = at
            path = self._path.setdefault(symbol, [])
            path.append(float(price))
            del path[:-1000]

    async def refresh(self, symbols: list[str]) -> int:
        """Take the record's newer prices of `symbols` (decided by other replicas) into the
        path; returns how many were new. Without a record source, nothing to do."""
        if self.record is None or not symbols:
            return 0
        newer = {s: (price, at) for s, (price, at) in (await self.record(symbols)).items()
                 if s not in self._seen or at > self._seen[s]}
        for symbol, (price, at) in newer.items():
            self.observe({symbol: price}, at)
        return len(newer)

    def price(self, symbol: str) -> float | None:
        return self._last.get(symbol)

    def prices(self) -> dict[str, float]:
        """Every last price seen: the tickers the portfolio values balances at."""
        return dict(self._last)

    # ── the port ───────────────────────────────────────────────────────────────────────

    async def instrument(self, symbol: str) -> InstrumentRules:
        cached = self._rules.get(symbol)
        if cached is not None:
            return cached
        found = None
        if self.rules is not None:
            try:
                found = await self.rules(symbol)
            except Exception:  # the public instrument list is down: default grids
                found = None
        if found is None:  # not cached: the exchange's grids are used once it answers
            return default_rules(symbol)
        self._rules[symbol] = found
        return found

    async def place_market(self, order: MarketOrder) -> OrderState:
        rules = await self.instrument(order.symbol)
        price = self.price(order.symbol)
        if price is None:
            raise BrokerUnavailable(f"paper broker: no price seen yet for {order.symbol}")
        return await self.db.run(self._market, order, rules, price, self.clock.now())

    async def place_protection(self, order: ProtectionOrder) -> ProtectionState:
        price = self.price(order.symbol)
        if price is None:
            raise BrokerUnavailable(f"paper broker: no price seen yet for {order.symbol}")
        return await self.db.run(self._oco, order, price, self.clock.now())

    async def lookup(self, symbol: str, client_oid: str) -> OrderState | None:
        def read() -> OrderState | None:
            with self.db.unit("paper_read") as uow:
                row = rows.paper_order(uow.session, client_oid)
                return None if row is None else _state(row)

        return await self.db.run(read)

    async def cancel(self, symbol: str, client_oid: str) -> OrderState | None:
        def write() -> OrderState | None:
            now = self.clock.now()
            with self.db.unit("paper_cancel") as uow:
                row = rows.paper_order(uow.session, client_oid)
                if row is None or row.status not in rows.OPEN_ORDER_STATUSES:
                    return None
                row.status, row.updated_at = "CANCELLED", now
                return _state(row)

        return await self.db.run(write)

    async def cancel_protection(self, symbol: str, list_id: str) -> None:
        def write() -> None:
            now = self.clock.now()
            with self.db.unit("paper_cancel") as uow:
                for row in rows.open_paper_orders(uow.session, list_id=list_id):
                    row.status, row.updated_at = "CANCELLED", now

        await self.db.run(write)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        def read() -> list[OrderState]:
            with self.db.unit("paper_read") as uow:
                return [_state(r) for r in rows.open_paper_orders(uow.session, symbol)]

        return await self.db.run(read)

    async def balances(self) -> dict[str, float]:
        def read() -> dict[str, float]:
            with self.db.unit("paper_read") as uow:
                return rows.paper_balances(uow.session)

        return await self.db.run(read)

    # ── dry-run only ───────────────────────────────────────────────────────────────────

    async def settle(self) -> int:
        """Walk the prices seen since the last call through the open SL/TP pairs; returns
        how many legs filled."""
        paths = {s: list(p) for s, p in self._path.items() if len(p) > 1 or s not in
                 self._settled}
        for symbol, path in self._path.items():
            del path[:-1]  # the last price starts the next path
            self._settled.add(symbol)
        if not paths:
            return 0
        symbols = await self.db.run(self._leg_symbols)
        paths = {s: p for s, p in paths.items() if s in symbols}
        if not paths:
            return 0
        rules = {s: await self.instrument(s) for s in paths}
        return await self.db.run(self._settle, paths, rules, self.clock.now())

    def _leg_symbols(self) -> set[str]:
        with self.db.unit("paper_read") as uow:
            return {r.symbol for r in rows.open_paper_orders(uow.session) if r.list_id}

    # ── in the writer thread ───────────────────────────────────────────────────────────

    def _market(self, order: MarketOrder, rules: InstrumentRules, price: float,
                now: datetime) -> OrderState:
        base, quote = base_of(order.symbol), quote_of(order.symbol)
        with self.db.unit("paper_market") as uow:
            s = uow.session
            if rows.paper_order(s, order.client_oid) is not None:
                raise DuplicateOrder()
            balances = self._seeded(uow, quote, now)
            if order.side == "BUY":
                fill = market_fill("BUY", price, rules, balances.get(quote, 0.0),
                                   notional=order.notional)
                qty, fee = fill.quantity, fill.fee
                rows.set_paper_balance(s, quote, balances.get(quote, 0.0) - qty * price, now)
                rows.set_paper_balance(s, base, balances.get(base, 0.0) + qty - fee, now)
                fee_ccy = base
            else:
                fill = market_fill("SELL", price, rules,
                                   self._free(uow, balances, order.symbol),
                                   quantity=order.quantity)
                qty, fee = fill.quantity, fill.fee
                rows.set_paper_balance(s, base, balances.get(base, 0.0) - qty, now)
                rows.set_paper_balance(s, quote, balances.get(quote, 0.0) + qty * price - fee,
                                       now)
                fee_ccy = quote
            row = rows.insert_paper_order(
                s, client_oid=order.client_oid, order_id=f"paper-{uuid.uuid4().hex[:16]}",
                symbol=order.symbol, side=order.side, order_type="MARKET", status="FILLED",
                quantity=qty, filled_quantity=qty, avg_price=price, fee=fee,
                fee_currency=fee_ccy, created_at=now, updated_at=now)
            return _state(row)

    def _seeded(self, uow: UnitOfWork, quote: str, now: datetime) -> dict[str, float]:
        s = uow.session
        balances = rows.paper_balances(s)
        if quote not in balances:
            rows.set_paper_balance(s, quote, self.starting_balance, now)
            balances[quote] = self.starting_balance
        return balances

    def _free(self, uow: UnitOfWork, balances: dict[str, float], symbol: str) -> float:
        """Base not reserved by an open paper order of any symbol with that base."""
        base = base_of(symbol)
        reserved = sum((r.quantity or 0.0) for r in rows.open_paper_orders(uow.session)
                       if base_of(r.symbol) == base and r.order_type == "STOP_LOSS")
        return balances.get(base, 0.0) - reserved

    def _oco(self, order: ProtectionOrder, price: float, now: datetime) -> ProtectionState:
        with self.db.unit("paper_oco") as uow:
            s = uow.session
            for oid in (order.stop_loss_oid, order.take_profit_oid):
                if rows.paper_order(s, oid) is not None:
                    raise DuplicateOrder()
            balances = rows.paper_balances(s)
            check_protection(order.stop_loss, order.take_profit, price, order.quantity,
                             self._free(uow, balances, order.symbol))
            list_id = f"paper-oco-{uuid.uuid4().hex[:12]}"
            legs = []
            for oid, kind, trigger in ((order.stop_loss_oid, "STOP_LOSS", order.stop_loss),
                                       (order.take_profit_oid, "TAKE_PROFIT",
                                        order.take_profit)):
                legs.append(rows.insert_paper_order(
                    s, client_oid=oid, order_id=f"paper-{uuid.uuid4().hex[:16]}",
                    symbol=order.symbol, side="SELL", order_type=kind, status="ACTIVE",
                    quantity=order.quantity, filled_quantity=0.0, avg_price=None, fee=0.0,
                    fee_currency=None, trigger_price=trigger, list_id=list_id,
                    created_at=now, updated_at=now))
            return ProtectionState(list_id, _state(legs[0]), _state(legs[1]))

    def _settle(self, paths: dict[str, list[float]], rules: dict[str, InstrumentRules],
                now: datetime) -> int:
        filled = 0
        with self.db.unit("paper_settle") as uow:
            s = uow.session
            pairs: dict[str, dict[str, list[PaperOrderRow]]] = {}
            for row in rows.open_paper_orders(s):
                if row.list_id and row.symbol in paths:
                    pairs.setdefault(row.symbol, {}).setdefault(row.list_id, []).append(row)
            for symbol, path in paths.items():
                for legs in pairs.get(symbol, {}).values():
                    hit = _first_crossed(legs, path)
                    if hit is None:
                        continue
                    leg, at_price = hit
                    self._fill_leg(uow, leg, at_price, rules[symbol], now)
                    for other in legs:
                        if other is not leg:
                            other.status, other.updated_at = "CANCELLED", now
                    filled += 1
        return filled

    def _fill_leg(self, uow: UnitOfWork, leg: PaperOrderRow, price: float,
                  rules: InstrumentRules, now: datetime) -> None:
        s = uow.session
        base, quote = base_of(leg.symbol), quote_of(leg.symbol)
        qty = leg.quantity or 0.0
        fee = leg_fee(qty, price, rules)
        balances = rows.paper_balances(s)
        rows.set_paper_balance(s, base, balances.get(base, 0.0) - qty, now)
        rows.set_paper_balance(s, quote, balances.get(quote, 0.0) + qty * price - fee, now)
        leg.status, leg.filled_quantity, leg.avg_price = "FILLED", qty, price
        leg.fee, leg.fee_currency, leg.updated_at = fee, quote, now


def _first_crossed(legs: list[PaperOrderRow], path: list[float]
                   ) -> tuple[PaperOrderRow, float] | None:
    """The leg the path reaches first and the price that reached it."""
    kinds: list[tuple[LegKind, float]] = [
        ("STOP_LOSS" if leg.order_type == "STOP_LOSS" else "TAKE_PROFIT",
         leg.trigger_price or 0.0) for leg in legs
        if leg.order_type in ("STOP_LOSS", "TAKE_PROFIT")]
    hit = first_crossed(kinds, path)
    if hit is None:
        return None
    ordered = [leg for leg in legs if leg.order_type in ("STOP_LOSS", "TAKE_PROFIT")]
    return ordered[hit[0]], hit[1]
