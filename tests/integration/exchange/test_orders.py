"""Orders through the adapter: fills at the ticker, triggers on crossings, balances move."""

from __future__ import annotations

import pytest

from atp.exchange import ExchangeRejected


async def test_market_orders_fill_at_the_ticker_and_move_balances(harness, emulator):
    client = harness.client()
    price = emulator.market.price("ETH_USDT")
    sell = await client.create_order("ETH_USDT", "sell", "market", 2.0)
    detail = await client.fetch_order(sell["id"], "ETH_USDT")
    assert detail["status"] == "closed" and detail["filled"] == 2.0
    assert detail["average"] == pytest.approx(price, rel=1e-4)
    buy = await client.create_order("ETH_USDT", "buy", "market", 0, notional=1000.0)
    bought = await client.fetch_order(buy["id"])
    assert bought["status"] == "closed" and bought["cost"] == pytest.approx(1000.0, rel=1e-2)
    bal = await client.fetch_balance()
    assert bal["ETH"]["total"] == pytest.approx(10 - 2 + bought["filled"])
    assert bal["USDT"]["total"] == pytest.approx(100000 + detail["cost"] - bought["cost"])


async def test_limit_order_rests_then_cancels(harness, emulator):
    client = harness.client()
    order = await client.create_order("BTC_USDT", "buy", "limit", 0.1, 1000.0)
    assert [o["id"] for o in await client.fetch_open_orders()] == [order["id"]]
    assert (await client.fetch_balance())["USDT"]["used"] == pytest.approx(100.0)
    await client.cancel_order(order["id"], "BTC_USDT")
    assert await client.fetch_open_orders() == []
    assert (await client.fetch_balance())["USDT"]["used"] == 0.0


async def test_stop_limit_fills_when_the_price_crosses(harness, emulator, clock):
    client = harness.client()
    await client.create_order("SOL_USDT", "buy", "market", 0, notional=2000.0)
    price = emulator.market.price("SOL_USDT")
    stop = round(price * 0.9, 2)
    order = await client.create_order("SOL_USDT", "sell", "stop_limit", 5.0, round(stop * 0.99, 2),
                                      trigger_price=stop)
    assert (await client.fetch_order(order["id"]))["status"] == "open"
    emulator.script("SOL_USDT", "rsi_low", candles=10, pct_per_candle=5)
    clock.advance(10 * 3600)
    filled = await client.fetch_order(order["id"])
    assert filled["status"] == "closed"
    assert filled["average"] == pytest.approx(round(stop * 0.99, 2))


async def test_oco_one_leg_fills_and_cancels_the_other(harness, emulator, clock):
    client = harness.client()
    await client.create_order("SOL_USDT", "buy", "market", 0, notional=1500.0)
    price = emulator.market.price("SOL_USDT")
    list_id = await client.create_oco("SOL_USDT", "sell", 5.0,
                                      take_profit_price=round(price * 1.1, 2),
                                      stop_price=round(price * 0.8, 2),
                                      stop_limit_price=round(price * 0.79, 2))
    assert list_id
    assert len(await client.fetch_open_orders("SOL_USDT")) == 2
    emulator.script("SOL_USDT", "rsi_high", candles=10, pct_per_candle=5)
    clock.advance(10 * 3600)
    assert await client.fetch_open_orders("SOL_USDT") == []
    bal = await client.fetch_balance()
    assert bal["SOL"]["used"] == 0.0


async def test_insufficient_balance_is_a_typed_rejection_with_code(harness):
    client = harness.client()
    with pytest.raises(ExchangeRejected) as info:
        await client.create_order("BTC_USDT", "sell", "market", 50.0)
    assert info.value.code == 306
    assert "INSUFFICIENT_AVAILABLE_BALANCE" in info.value.fix
