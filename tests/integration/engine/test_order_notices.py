"""Order-event messages through the outbox, at most once per cause (a stored key, not
memory): an order the exchange rejects after accepting the call, and an order that fails
(broker unavailable) — the notices the trader did not send yet. Placed, filled with P&L,
SL/TP placed and create-call rejections are covered in test_trader / test_trader_live."""

from __future__ import annotations

from sqlalchemy import select, update

from atp.domain.trading import BrokerUnavailable, MarketOrder, OrderState
from atp.store.models import OrderIntentRow, OutboxRow, TradingNoticeRow, WatchlistRow

SYMBOL = "AAA_USDT"


def trade(db, symbol=SYMBOL):
    with db.session_factory.begin() as s:
        s.execute(update(WatchlistRow).where(WatchlistRow.symbol == symbol)
                  .values(trade_enabled=True, trade_amount_usd=100.0))


def notices(p) -> list[str]:
    with p.db.sessions() as s:
        return [o.text for o in s.scalars(select(OutboxRow).where(OutboxRow.kind == "order")
                                          .order_by(OutboxRow.id))]


def outcomes(p) -> list[str]:
    with p.db.sessions() as s:
        return [i.outcome for i in s.scalars(select(OrderIntentRow).order_by(OrderIntentRow.id))]


async def test_a_later_rejection_is_told_once_per_cause(make_platform, clock, migrated_db,
                                                        monkeypatch):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)

    async def rejected(order: MarketOrder) -> OrderState:
        return OrderState(order.symbol, order.side, order.client_oid, "x-1", "MARKET",
                          "REJECTED", order.quantity, 0.0, None, 0.0, None,
                          reason="306 INSUFFICIENT_AVAILABLE_BALANCE")

    monkeypatch.setattr(p.paper, "place_market", rejected)
    await p.monitor.run_cycle()
    await p.trader.step()
    assert outcomes(p) == ["REJECTED"]
    [text] = notices(p)
    assert text.startswith("⛔ BUY AAA_USDT rejected (paper): 306 INSUFFICIENT_AVAILABLE")
    # the same cause again (the stored key stands): no second message
    with p.db.unit("test") as uow:
        p.trader._notify(uow, f"{SYMBOL}:rejected:306 INSUFFICIENT_AVAILABLE_BALANCE", None,
                         "again")
    assert len(notices(p)) == 1


async def test_a_failed_order_is_told_once(make_platform, clock, migrated_db, monkeypatch):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)

    async def down(order: MarketOrder) -> OrderState:
        raise BrokerUnavailable("exchange down for maintenance")

    monkeypatch.setattr(p.paper, "place_market", down)
    await p.monitor.run_cycle()
    await p.trader.step()
    assert outcomes(p) == ["FAILED"]
    [text] = notices(p)
    assert "BUY AAA_USDT order failed (paper)" in text and "maintenance" in text
    with p.db.sessions() as s:
        assert s.get(TradingNoticeRow, f"{SYMBOL}:rejected:failed") is not None


async def test_the_menus_orders_screen_lists_the_open_sl_tp(make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "down"})
    assert await p.commands.orders() == "Open orders: none\nExecuted orders: none"
    trade(migrated_db)
    await p.monitor.run_cycle()
    await p.trader.step()
    text = await p.commands.orders()
    lines = text.splitlines()
    executed = next(n for n, line in enumerate(lines) if line.startswith("Executed orders"))
    assert lines[0] == "Open orders (2):" and executed == 3, lines
    open_lines = lines[1:executed]
    assert {line.split()[2] for line in open_lines} == {"stop_loss", "take_profit"}
    assert all(line.startswith("AAA_USDT SELL") and "ACTIVE" in line and "(paper)" in line
               for line in open_lines), open_lines
    assert any("AAA_USDT BUY" in line for line in lines[executed + 1:]), lines
    view = await p.commands.menu("m:orders", "telegram:@op")
    assert view.text == text and [b.data for b in view.keyboard[0]] == ["m:orders", "m"]
