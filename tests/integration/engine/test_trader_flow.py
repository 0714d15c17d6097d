"""The trader's flow when the broker cannot say what happened (OutcomeUnknown from the port).

The broker here is an in-process stand-in for the live one (the paper book behind it, so
orders really exist or not), wired as the platform's live broker: an answer lost after
placing, a request lost before it arrived, a 204 on a retry, an outside cancel. The
count that matters: how many orders reached the book — never more than one per intent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from atp.domain.trading import (
    DuplicateOrder,
    InstrumentRules,
    MarketOrder,
    OrderRejected,
    OrderState,
    OutcomeUnknown,
    ProtectionOrder,
    ProtectionState,
)
from atp.engine.paper import PaperBroker
from atp.store.models import EventRow, OrderIntentRow, OrderRow, PositionRow, WatchlistRow

SYMBOL = "AAA_USDT"


@dataclass
class Flaky:
    """A live broker whose answers get lost: `after` = placed, then the answer is lost;
    `before` = lost on the way, never placed."""

    book: PaperBroker
    mode: str = "live"
    lose: list[str] = field(default_factory=list)  # "after" | "before", one per call
    refuse_sells: bool = False
    placed: int = 0
    protections: int = 0

    async def instrument(self, symbol: str) -> InstrumentRules:
        return await self.book.instrument(symbol)

    async def place_market(self, order: MarketOrder) -> OrderState:
        if self.refuse_sells and order.side == "SELL":
            raise OrderRejected(306, "INSUFFICIENT_AVAILABLE_BALANCE")
        fate = self.lose.pop(0) if self.lose else None
        if fate == "before":
            raise OutcomeUnknown("timeout before the exchange got it")
        state = await self.book.place_market(order)  # DuplicateOrder when it exists
        self.placed += 1
        if fate == "after":
            raise OutcomeUnknown("connection dropped after the order was placed")
        return state

    async def place_protection(self, order: ProtectionOrder) -> ProtectionState:
        self.protections += 1
        return await self.book.place_protection(order)

    async def lookup(self, symbol: str, client_oid: str) -> OrderState | None:
        return await self.book.lookup(symbol, client_oid)

    async def cancel(self, symbol: str, client_oid: str) -> OrderState | None:
        return await self.book.cancel(symbol, client_oid)

    async def cancel_protection(self, symbol: str, list_id: str) -> None:
        await self.book.cancel_protection(symbol, list_id)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return await self.book.open_orders(symbol)

    async def balances(self) -> dict[str, float]:
        return {"USDT": 1000.0}


def _platform(make_platform: Any, migrated_db: Any, **kw: Any) -> tuple[Any, Flaky]:
    p = make_platform({SYMBOL: "down"}, exchange_api_key="k", exchange_api_secret="s")
    with migrated_db.session_factory.begin() as s:
        s.execute(update(WatchlistRow).values(trade_enabled=True, trade_amount_usd=100.0))
    flaky = Flaky(PaperBroker(p.db, p.clock), **kw)
    flaky.book._last = p.paper._last  # same prices as the monitor saw
    flaky.book._path = p.paper._path
    p.trader.live = p.live_broker = flaky
    return p, flaky


def rows(p: Any, model: Any) -> list[Any]:
    with p.db.sessions() as s:
        return list(s.scalars(select(model).order_by(model.id)))


async def test_answer_lost_after_placing_is_looked_up_not_resent(make_platform, migrated_db,
                                                                 clock):
    p, broker = _platform(make_platform, migrated_db, lose=["after"])
    await p.core.set_live_trading(True, "api")
    await p.monitor.run_cycle()
    await p.trader.run_once()
    [intent] = rows(p, OrderIntentRow)
    assert intent.outcome == "PLACED" and rows(p, OrderRow)[0].unknown is True
    clock.advance(30)
    await p.trader.sync_once()
    [intent] = rows(p, OrderIntentRow)
    assert intent.outcome == "FILLED" and broker.placed == 1 and broker.protections == 1
    [pos] = rows(p, PositionRow)
    assert pos.protection_status == "active"


async def test_request_lost_before_arriving_is_sent_again_once(make_platform, migrated_db,
                                                               clock):
    p, broker = _platform(make_platform, migrated_db, lose=["before"])
    await p.core.set_live_trading(True, "api")
    await p.monitor.run_cycle()
    await p.trader.run_once()
    await p.trader.sync_once()  # too early to conclude: nothing sent again yet
    assert broker.placed == 0
    clock.advance(30)
    await p.trader.sync_once()  # looked up: not there → sent again, same client_oid
    [intent] = rows(p, OrderIntentRow)
    assert (intent.outcome, intent.attempts, broker.placed) == ("FILLED", 2, 1)
    assert len({o.client_order_id for o in rows(p, OrderRow)}) == len(rows(p, OrderRow))


async def test_duplicate_204_means_already_placed(make_platform, migrated_db, clock):
    p, broker = _platform(make_platform, migrated_db)
    await p.core.set_live_trading(True, "api")
    await p.monitor.run_cycle()
    [pending] = rows(p, OrderIntentRow)
    # the order reached the exchange in an earlier life; this one does not know
    await broker.book.place_market(MarketOrder(SYMBOL, "BUY", pending.client_oid,
                                               notional=100.0))
    await p.trader.run_once()
    [intent] = rows(p, OrderIntentRow)
    assert intent.outcome == "FILLED" and broker.placed == 0
    assert [e.type for e in rows(p, EventRow) if e.type == "order_rejected"] == []
    try:
        await broker.book.place_market(MarketOrder(SYMBOL, "BUY", pending.client_oid,
                                                   notional=100.0))
    except DuplicateOrder as exc:
        assert exc.code == 204
    else:
        raise AssertionError("a reused client_oid must be refused with 204")


async def test_protection_cancelled_outside_is_recorded_not_fought(make_platform, migrated_db,
                                                                   clock):
    p = make_platform({SYMBOL: "down"})
    with migrated_db.session_factory.begin() as s:
        s.execute(update(WatchlistRow).values(trade_enabled=True, trade_amount_usd=100.0))
    await p.monitor.run_cycle()
    await p.trader.step()
    [pos] = rows(p, PositionRow)
    await p.paper.cancel_protection(SYMBOL, pos.protection_list_id)  # in "the exchange's app"
    clock.advance(30)
    await p.trader.sync_once()
    clock.advance(600)
    await p.trader.sync_once()
    [pos] = rows(p, PositionRow)
    assert pos.status == "open" and pos.protection_status == "cancelled"
    legs = [o for o in rows(p, OrderRow) if o.role != "entry"]
    assert [o.status for o in legs] == ["CANCELLED", "CANCELLED"]  # no new pair placed
    cancelled = [e.payload["by"] for e in rows(p, EventRow) if e.type == "order_cancelled"]
    assert cancelled == ["outside", "outside"]
    [view] = (await p.core.positions())["positions"]
    assert view["protected"] is False
    assert view["protection_error"]["message"] == "SL/TP cancelled outside ATP"


async def test_refused_exit_puts_the_protection_back(make_platform, migrated_db, clock, market):
    p, broker = _platform(make_platform, migrated_db, refuse_sells=True)
    await p.core.set_live_trading(True, "api")
    await p.monitor.run_cycle()
    await p.trader.step()
    clock.advance(30)
    market.set(SYMBOL, "up", price=101.0)
    await p.monitor.run_cycle()
    await p.trader.step()  # SL/TP cancelled to sell, the SELL refused with 306
    _, sell = rows(p, OrderIntentRow)
    assert (sell.outcome, sell.error_code) == ("REJECTED", 306)
    clock.advance(5)
    await p.trader.sync_once()
    [pos] = rows(p, PositionRow)
    assert pos.status == "open" and pos.protection_status == "active"
    assert pos.protection_attempts == 2 and broker.protections == 2
