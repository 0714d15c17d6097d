"""Plain orders through the adapter: fills at the ticker with the taker fee, resting limits,
balances move; trigger orders are not accepted on the plain endpoints any more."""

from __future__ import annotations

import pytest

from atp.exchange import ExchangeRejected

TAKER = 0.005


async def test_market_orders_fill_at_the_ticker_with_the_taker_fee(harness, emulator):
    client = harness.client()
    price = emulator.market.price("ETH_USDT")
    sell = await client.create_order("ETH_USDT", "sell", "market", 2.0)
    detail = await client.fetch_order(sell["id"], "ETH_USDT")
    assert detail["status"] == "closed" and detail["filled"] == 2.0
    assert detail["average"] == pytest.approx(price, rel=1e-4)
    assert detail["info"]["fee_instrument_name"] == "USDT"
    assert float(detail["info"]["cumulative_fee"]) == pytest.approx(detail["cost"] * TAKER)
    buy = await client.create_order("ETH_USDT", "buy", "market", 0, notional=1000.0)
    bought = await client.fetch_order(buy["id"])
    assert bought["status"] == "closed" and bought["cost"] == pytest.approx(1000.0, rel=1e-2)
    assert bought["info"]["fee_instrument_name"] == "ETH"
    bal = await client.fetch_balance()
    assert bal["ETH"]["total"] == pytest.approx(10 - 2 + bought["filled"] * (1 - TAKER))
    assert bal["USDT"]["total"] == pytest.approx(
        100000 + detail["cost"] * (1 - TAKER) - bought["cost"])


async def test_limit_order_rests_then_cancels(harness, emulator):
    client = harness.client()
    order = await client.create_order("BTC_USDT", "buy", "limit", 0.1, 1000.0)
    assert [o["id"] for o in await client.fetch_open_orders()] == [order["id"]]
    assert (await client.fetch_balance())["USDT"]["used"] == pytest.approx(100.0)
    await client.cancel_order(order["id"], "BTC_USDT")
    assert await client.fetch_open_orders() == []
    assert (await client.fetch_balance())["USDT"]["used"] == 0.0


async def test_resting_limit_fills_at_its_price_with_the_maker_fee(harness, emulator, clock):
    client = harness.client()
    price = emulator.market.price("SOL_USDT")
    limit = round(price * 0.95, 3)
    await client.create_order("SOL_USDT", "buy", "limit", 10.0, limit)
    emulator.script("SOL_USDT", "rsi_low", candles=10, pct_per_candle=5)
    clock.advance(10 * 3600)
    [done] = [o for o in emulator.desk.orders.values() if o.instrument == "SOL_USDT"]
    emulator.desk.process()
    assert done.status == "FILLED" and float(done.cum_value / done.cum_qty) == limit
    assert float(done.fee) == pytest.approx(10.0 * 0.0025)


async def test_plain_create_order_refuses_trigger_types(harness):
    client = harness.client()
    with pytest.raises(ValueError):
        await client.create_order("SOL_USDT", "sell", "stop_limit", 1.0, 100.0)
    for kind in ("STOP_LOSS", "STOP_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
        params = {"instrument_name": "ETH_USDT", "side": "SELL", "type": kind,
                  "quantity": "1", "ref_price": "100", "price": "99"}
        with pytest.raises(ExchangeRejected) as info:
            await client.private_request("private/create-order", params, retry=False)
        assert info.value.code == 218
        assert "private/advanced/create-order" in (info.value.exchange_message or "")


async def test_create_order_list_refuses_oco(harness):
    client = harness.client()
    leg = {"instrument_name": "ETH_USDT", "side": "SELL", "type": "LIMIT", "quantity": "1",
           "price": "9000"}
    with pytest.raises(ExchangeRejected) as info:
        await client.private_request("private/create-order-list",
                                     {"contingency_type": "OCO", "order_list": [leg, leg]},
                                     retry=False)
    assert info.value.code == 40004 and "advanced/create-oco" in info.value.exchange_message
    listed = await client.private_request("private/create-order-list",
                                          {"contingency_type": "LIST", "order_list": [leg]})
    assert listed["result"][0]["code"] == 0


async def test_insufficient_balance_is_a_typed_rejection_with_code(harness):
    client = harness.client()
    with pytest.raises(ExchangeRejected) as info:
        await client.create_order("BTC_USDT", "sell", "market", 50.0)
    assert info.value.code == 306
    assert "INSUFFICIENT_AVAILABLE_BALANCE" in info.value.fix


async def test_the_exchange_reason_codes_on_direct_requests(harness, emulator):
    client = harness.client()

    async def code_of(method: str, **params: str) -> int | None:
        base = {"instrument_name": "ETH_USDT", "side": "SELL", "type": "MARKET", "quantity": "1"}
        try:
            await client.private_request(method, {**base, **params}, retry=False)
        except ExchangeRejected as exc:
            return exc.code
        return 0

    create, advanced = "private/create-order", "private/advanced/create-order"
    assert await code_of(create, instrument_name="NOPE_USDT") == 209
    assert await code_of(create, side="LONG") == 220
    assert await code_of(create, client_oid="x" * 37) == 40004
    assert await code_of(create, quantity="0.000001") == 415  # below the quantity tick
    assert await code_of(create, quantity="0.0002") == 415  # below 1 USDT
    assert await code_of(create, client_oid="same") == 0
    assert await code_of(create, client_oid="same") == 204
    price = emulator.market.price("ETH_USDT")
    above, below = f"{price * 1.05:.2f}", f"{price * 0.95:.2f}"
    assert await code_of(advanced, type="STOP_LOSS", ref_price=above) == 229
    assert await code_of(advanced, type="TAKE_PROFIT", ref_price=below) == 229
    assert await code_of(advanced, type="STOP_LOSS", side="BUY", ref_price=below) == 229
    assert await code_of(advanced, type="MARKET") == 218
    assert await code_of(advanced, type="STOP_LOSS", ref_price=below) == 0
    assert await code_of(advanced, type="TAKE_PROFIT", ref_price=above) == 0
