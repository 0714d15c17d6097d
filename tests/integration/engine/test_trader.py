"""The trader on the paper broker, from accepted alert to SL/TP, on SQLite and PostgreSQL.

The monitor runs real cycles on the scripted market (its prices are the paper broker's
price path); time comes from the manual clock, and one `trader.step()` is one round of
the worker (decide pending intents, then sync open orders).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from atp.domain.orders import protection_levels
from atp.store.models import (
    DecisionRow,
    EventRow,
    OrderIntentRow,
    OrderRow,
    OutboxRow,
    PositionRow,
    WatchlistRow,
)
from atp.store.repository import load_watchlist

SYMBOL = "AAA_USDT"


def trade(migrated_db, symbol=SYMBOL, amount=100.0):
    with migrated_db.session_factory.begin() as s:
        s.execute(update(WatchlistRow).where(WatchlistRow.symbol == symbol)
                  .values(trade_enabled=True, trade_amount_usd=amount))


def rows(p, model, *where):
    with p.db.sessions() as s:
        return list(s.scalars(select(model).where(*where).order_by(model.id
                                                                  if hasattr(model, "id")
                                                                  else model.client_oid)))


async def cycle(p, clock, seconds=30.0):
    await p.monitor.run_cycle()
    await p.trader.step()
    await p.outbox.run_once()
    clock.advance(seconds)


async def test_buy_fills_on_paper_and_places_one_oco_at_rounded_levels(
        make_platform, clock, migrated_db, tg):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    await cycle(p, clock)
    [intent] = rows(p, OrderIntentRow)
    assert (intent.side, intent.mode, intent.outcome) == ("BUY", "paper", "FILLED")
    assert len(intent.client_oid) <= 36
    [entry, sl, tp] = rows(p, OrderRow)
    assert (entry.role, entry.status, entry.dry_run) == ("entry", "FILLED", True)
    assert entry.filled_quantity == 1.0 and entry.avg_price == 100.0  # 100 USD at 100
    assert entry.fee == 0.005 and entry.fee_currency == "AAA"  # taker 0.5 % in base
    [pos] = rows(p, PositionRow)
    assert pos.quantity == 0.995 and pos.protection_status == "active"
    with p.db.sessions() as s:
        decision = s.get(DecisionRow, intent.decision_id)
        preset = next(i.preset for i in load_watchlist(s) if i.symbol == SYMBOL)
    levels = protection_levels(100.0, decision.indicators["atr"], preset, 0.01)
    assert (sl.role, sl.trigger_price, sl.status) == ("stop_loss", levels.stop_loss, "ACTIVE")
    assert (tp.role, tp.trigger_price, tp.status) == ("take_profit", levels.take_profit,
                                                      "ACTIVE")
    assert sl.list_id == tp.list_id and sl.quantity == 0.995
    assert round(levels.stop_loss / 0.01, 6).is_integer()
    kinds = [e.type for e in rows(p, EventRow, EventRow.decision_id == intent.decision_id)]
    for kind in ("order_intent", "order_placed", "order_filled", "protection_placed"):
        assert kind in kinds
    notices = [o.text for o in rows(p, OutboxRow, OutboxRow.kind == "order")]
    assert any("BUY AAA_USDT filled" in t for t in notices)
    assert any("SL/TP placed for AAA_USDT" in t for t in notices)
    body = await p.core.positions()
    [view] = body["positions"]
    assert view["protected"] is True and view["protection"]["stop_loss"] == levels.stop_loss
    state = await p.core.trading_state()
    assert state["mode"] == "paper" and state["open_positions"] == 1
    assert state["unprotected_positions"] == 0 and state["last_private_order_call"] is None


async def test_price_crossing_tp_fills_tp_cancels_sl_with_realised_pnl(
        make_platform, clock, market, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    await cycle(p, clock)
    [pos] = rows(p, PositionRow)
    tp_price = pos.take_profit
    market.set(SYMBOL, "flat", price=round(tp_price + 1.0, 2))
    await cycle(p, clock, 5)
    [pos] = rows(p, PositionRow)
    [_, sl, tp] = rows(p, OrderRow)
    assert (tp.status, sl.status) == ("FILLED", "CANCELLED")
    assert tp.avg_price == round(tp_price + 1.0, 2)  # filled at the market, not the trigger
    assert pos.status == "closed" and pos.closed_by == "take_profit"
    proceeds = 0.995 * tp.avg_price * (1 - 0.005)
    assert abs(pos.realised_pnl - (proceeds - 100.0)) < 1e-6
    [filled] = rows(p, EventRow, EventRow.type == "protection_filled")
    assert filled.payload["leg"] == "take_profit"
    assert (await p.core.positions())["positions"] == []


def _position(s, n, *, price=100.0, qty=1.0, opened_ago_h=1):
    s.add(PositionRow(symbol=SYMBOL, base="AAA", mode="paper", decision_id=f"d-{n}",
                      entry_client_oid=f"e-{n}", quantity=qty, entry_price=price,
                      avg_entry=price, cost=qty * price, status="open",
                      opened_at=datetime(2025, 12, 31, 23 - opened_ago_h, tzinfo=UTC),
                      preset="scalp-aggressive", protection_status="active"))


async def _blocked_reason(p, clock):
    await cycle(p, clock)
    [intent] = rows(p, OrderIntentRow)
    assert intent.outcome == "BLOCKED"
    [event] = rows(p, EventRow, EventRow.type == "order_blocked")
    assert event.decision_id == intent.decision_id
    return intent.reason


async def test_open_buys_gate(make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    with migrated_db.session_factory.begin() as s:
        for n in range(3):
            _position(s, n, price=150.0 + n, qty=0.1)
    assert await _blocked_reason(p, clock) == "open BUYs in AAA 3/3"


async def test_cooldown_gate(make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    with migrated_db.session_factory.begin() as s:
        s.add(OrderRow(client_order_id="old", symbol=SYMBOL, side="BUY", order_type="MARKET",
                       status="FILLED", role="entry",
                       created_at=clock.now() - timedelta(minutes=2.1),
                       updated_at=clock.now()))
    assert await _blocked_reason(p, clock) == "last BUY 2.1/5.0 min ago"


async def test_price_change_gate(make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    with migrated_db.session_factory.begin() as s:
        _position(s, 1, price=100.42, qty=0.1)
    assert await _blocked_reason(p, clock) == "price change 0.42/1.00 % from last BUY 100.42"


async def test_exposure_gate(make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    with migrated_db.session_factory.begin() as s:
        _position(s, 1, price=120.0, qty=1.0)
        _position(s, 2, price=130.0, qty=1.1)
    # at 100: 100 + 110 held + this 100 USD BUY, limit 3 × 100
    assert await _blocked_reason(p, clock) == "exposure 310/300 USD"


async def test_kill_switch_blocks_new_intents(make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    state = await p.core.set_kill_switch(True, "api")
    assert state["kill_switch"] is True
    assert await _blocked_reason(p, clock) == "kill switch"
    [changed] = rows(p, EventRow, EventRow.type == "trading_switch_changed")
    assert changed.payload == {"switch": "kill_switch", "on": True, "author": "api"}


async def test_live_switch_without_credentials_refuses_with_the_reason(
        make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    await p.core.set_live_trading(True, "api")
    assert await _blocked_reason(p, clock) == "live trading refused: no exchange credentials"
    [intent] = rows(p, OrderIntentRow)
    assert intent.mode == "live"
    state = await p.core.trading_state()
    assert state["mode"] == "paper" and state["live_switch"] is True
    assert state["live_refused_reason"] == "live trading refused: no exchange credentials"


async def test_sell_sells_the_held_quantity(make_platform, clock, market, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    await cycle(p, clock)
    market.set(SYMBOL, "up", price=101.0)
    await cycle(p, clock)
    _buy, sell = rows(p, OrderIntentRow)
    assert (sell.side, sell.outcome) == ("SELL", "FILLED")
    exit_order = next(o for o in rows(p, OrderRow) if o.role == "exit")
    assert exit_order.filled_quantity == 0.995
    legs = [o for o in rows(p, OrderRow) if o.role in ("stop_loss", "take_profit")]
    assert {o.status for o in legs} == {"CANCELLED"}  # freed before the sale
    [pos] = rows(p, PositionRow)
    expected = 0.995 * 101.0 * (1 - 0.005) - 100.0
    assert pos.status == "closed" and abs(pos.realised_pnl - expected) < 1e-6


async def test_sell_without_position_is_one_blocked_outcome(make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "up"})
    trade(migrated_db)
    reason = await _blocked_reason(p, clock)
    assert reason == "no paper position in AAA_USDT to sell"


async def test_orders_read_model(make_platform, clock, migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    await cycle(p, clock)
    body = await p.core.order_intents(None, None, None, 200)
    [intent] = body["intents"]
    assert body["total"] == 1 and body["rejections_by_code"] == {}
    assert [o["role"] for o in intent["orders"]] == ["entry", "stop_loss", "take_profit"]
    assert (await p.core.order_intents(None, "BLOCKED", None, 200))["total"] == 0


async def test_price_path_through_sl_fills_sl_at_the_market(make_platform, clock, market,
                                                            migrated_db):
    p = make_platform({SYMBOL: "down"})
    trade(migrated_db)
    await cycle(p, clock)
    [pos] = rows(p, PositionRow)
    low = round(pos.stop_loss - 0.5, 2)
    # two cycles before the sync looks: the path dips below SL and comes back
    market.set(SYMBOL, "flat", price=low)
    await p.monitor.run_cycle()
    market.set(SYMBOL, "flat", price=100.0)
    await p.monitor.run_cycle()
    clock.advance(5)
    await p.trader.sync_once()
    [pos] = rows(p, PositionRow)
    [_, sl, tp] = rows(p, OrderRow)
    assert (sl.status, tp.status, sl.avg_price) == ("FILLED", "CANCELLED", low)
    assert pos.closed_by == "stop_loss" and pos.realised_pnl < 0
    assert p.paper.price(SYMBOL) == 100.0
