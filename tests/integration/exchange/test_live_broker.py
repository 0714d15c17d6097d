"""The live broker (`atp.exchange.orders.LiveBroker`): the real ccxt client against the
emulator's advanced order API, faults switched on the emulator, time on a manual clock."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest

from atp.domain.orders import client_order_id
from atp.domain.trading import (
    BrokerUnavailable,
    DuplicateOrder,
    MarketOrder,
    OrderRejected,
    OutcomeUnknown,
    ProtectionOrder,
)
from atp.emulators.cryptocom import CryptoComEmulator
from atp.engine.ports import Broker
from atp.exchange.orders import LiveBroker
from tests.integration.exchange.conftest import KEY, SECRET, T0, Harness

TAKER = 0.005


def broker(harness: Harness) -> LiveBroker:
    live = LiveBroker(harness.client())
    port: Broker = live  # the port, structurally
    assert port.mode == "live"
    return live


def market_price(emulator: CryptoComEmulator, symbol: str, t: float | None = None) -> float:
    inst = emulator.market.instrument(symbol)
    return float(inst.fmt_price(emulator.market.price(symbol, t)))


async def buy(live: LiveBroker, symbol: str = "SOL_USDT", notional: float = 1500.0,
              decision: str = "d1"):
    return await live.place_market(MarketOrder(symbol, "BUY", client_order_id(decision),
                                               notional=notional))


def protection(state, stop: float, take: float, decision: str = "d1") -> ProtectionOrder:
    return ProtectionOrder(state.symbol, state.filled_quantity - state.fee, stop, take,
                           client_order_id(decision, "sl"), client_order_id(decision, "tp"))


async def test_instrument_rules_come_from_the_loaded_markets(harness):
    rules = await broker(harness).instrument("SOL_USDT")
    assert (rules.price_tick, rules.quantity_tick) == (0.001, 0.0001)
    assert rules.min_quantity == 0.0001 and rules.min_notional == 1.0
    assert (rules.maker_fee, rules.taker_fee) == (0.0025, 0.005)
    with pytest.raises(OrderRejected) as info:
        await broker(harness).instrument("NOPE_USDT")
    assert info.value.code == 209


async def test_market_buy_by_notional_fills_at_the_ticker_with_the_taker_fee(harness, emulator):
    live = broker(harness)
    price = market_price(emulator, "SOL_USDT")
    state = await buy(live)
    assert state.status == "FILLED" and state.side == "BUY" and state.order_type == "MARKET"
    assert state.client_oid == client_order_id("d1") and state.exchange_order_id
    assert state.avg_price == pytest.approx(price)
    assert state.filled_quantity == pytest.approx(float(Decimal(1500 / price).quantize(
        Decimal("0.0001"), rounding="ROUND_DOWN")))
    assert state.fee == pytest.approx(state.filled_quantity * TAKER)
    assert state.fee_currency == "SOL"
    balances = await live.balances()
    assert balances["SOL"] == pytest.approx(state.filled_quantity - state.fee)


async def test_market_sell_rounds_down_and_small_orders_are_refused_unsent(harness, emulator):
    live = broker(harness)
    state = await live.place_market(MarketOrder("ETH_USDT", "SELL", "s-1", quantity=0.123456789))
    assert state.status == "FILLED" and state.filled_quantity == 0.12345
    emulator.reset_counts()
    with pytest.raises(OrderRejected) as info:
        await live.place_market(MarketOrder("ETH_USDT", "SELL", "s-2", quantity=0.000001))
    assert info.value.code == 415 and "not sent" in info.value.message
    with pytest.raises(OrderRejected) as info:  # 0.0003 ETH ≈ 0.8 USDT < 1 USDT
        await live.place_market(MarketOrder("ETH_USDT", "SELL", "s-3", quantity=0.0003))
    assert info.value.code == 415
    with pytest.raises(OrderRejected) as info:
        await live.place_market(MarketOrder("ETH_USDT", "BUY", "s-4", notional=0.5))
    assert info.value.code == 415
    assert emulator.order_requests == {}


async def test_oco_at_rounded_prices_tp_fills_at_the_market_and_removes_sl(
        harness, emulator, clock):
    live = broker(harness)
    entry = await buy(live)
    price = entry.avg_price
    pair = await live.place_protection(protection(entry, price * 0.9712345, price * 1.0312345))
    assert pair.list_id
    legs = {o.order_type: o for o in await live.open_orders("SOL_USDT")}
    assert set(legs) == {"STOP_LOSS", "TAKE_PROFIT"}
    tp_price = float(Decimal(repr(price * 1.0312345)).quantize(Decimal("0.001")))
    assert legs["TAKE_PROFIT"].trigger_price == tp_price == pair.take_profit.trigger_price
    assert legs["STOP_LOSS"].trigger_price == pytest.approx(price * 0.9712345, abs=0.0005)
    assert all(o.list_id == pair.list_id and o.status == "ACTIVE" for o in legs.values())
    held = (await live.balances())["SOL"]
    emulator.script("SOL_USDT", "rsi_high", candles=10, pct_per_candle=5)
    clock.advance(10 * 3600)
    tp = await live.lookup("SOL_USDT", pair.take_profit.client_oid)
    sl = await live.lookup("SOL_USDT", pair.stop_loss.client_oid)
    assert tp is not None and sl is not None
    assert tp.status == "FILLED" and sl.status == "CANCELLED"
    # filled at the path's first price beyond the trigger, not at the trigger itself
    grid = emulator.market.config.grid_seconds
    times = [t for t in range(int(T0 // grid + 1) * grid, int(clock.now()), grid)]
    crossed = next(p for p in (market_price(emulator, "SOL_USDT", t) for t in times)
                   if p >= tp_price)
    assert tp.avg_price == crossed and tp.avg_price > tp_price
    assert tp.fee == pytest.approx(tp.filled_quantity * tp.avg_price * TAKER, rel=1e-6)
    assert tp.fee_currency == "USDT"
    assert await live.open_orders("SOL_USDT") == []
    assert (await live.balances())["SOL"] == pytest.approx(held - tp.filled_quantity)


async def test_stop_loss_fills_at_the_market_below_its_trigger(harness, emulator, clock):
    live = broker(harness)
    entry = await buy(live)
    stop = entry.avg_price * 0.97
    pair = await live.place_protection(protection(entry, stop, entry.avg_price * 1.5))
    emulator.script("SOL_USDT", "rsi_low", candles=10, pct_per_candle=5)
    clock.advance(10 * 3600)
    sl = await live.lookup("SOL_USDT", pair.stop_loss.client_oid)
    tp = await live.lookup("SOL_USDT", pair.take_profit.client_oid)
    assert sl.status == "FILLED" and tp.status == "CANCELLED"
    assert sl.avg_price < pair.stop_loss.trigger_price


async def test_wrong_side_triggers_are_rejected(harness, emulator):
    live = broker(harness)
    entry = await buy(live)
    price = entry.avg_price
    with pytest.raises(OrderRejected) as info:  # a SELL stop above the market
        await live.place_protection(protection(entry, price * 1.01, price * 1.05))
    assert info.value.code == 229 and "INVALID_REF_PRICE" in info.value.message
    with pytest.raises(OrderRejected) as info:  # a take-profit below the market
        await live.place_protection(protection(entry, price * 0.90, price * 0.95, "d2"))
    assert info.value.code == 229
    assert await live.open_orders() == []


async def test_reused_client_oid_is_a_duplicate(harness, emulator):
    live = broker(harness)
    entry = await buy(live)
    with pytest.raises(DuplicateOrder) as info:
        await buy(live)
    assert info.value.code == 204 and "DUPLICATE_CLORDID" in info.value.message
    order = protection(entry, entry.avg_price * 0.9, entry.avg_price * 1.1)
    await live.place_protection(order)
    with pytest.raises(DuplicateOrder):
        await live.place_protection(order)
    assert len(await live.open_orders()) == 2
    with pytest.raises(OrderRejected) as info:
        await live.place_market(MarketOrder("SOL_USDT", "BUY", "x" * 37, notional=10))
    assert info.value.code == 40004


async def test_lookup_and_cancel_by_client_oid(harness, emulator):
    live = broker(harness)
    await harness.clients[0].create_order("BTC_USDT", "buy", "limit", 0.01, 1000.0,
                                          client_order_id="rest-1")
    resting = await live.lookup("BTC_USDT", "rest-1")
    assert resting.status == "ACTIVE" and resting.order_type == "LIMIT"
    assert resting.quantity == 0.01 and resting.filled_quantity == 0.0
    cancelled = await live.cancel("BTC_USDT", "rest-1")
    assert cancelled.status == "CANCELLED"
    assert await live.cancel("BTC_USDT", "rest-1") is None
    assert await live.lookup("BTC_USDT", "never-sent") is None
    entry = await buy(live)
    pair = await live.place_protection(protection(entry, entry.avg_price * 0.9,
                                                  entry.avg_price * 1.1))
    leg = await live.lookup("SOL_USDT", pair.stop_loss.client_oid)
    assert leg.order_type == "STOP_LOSS" and leg.list_id == pair.list_id
    gone = await live.cancel("SOL_USDT", pair.stop_loss.client_oid)  # one leg: the pair goes
    assert gone.status == "CANCELLED"
    assert (await live.lookup("SOL_USDT", pair.take_profit.client_oid)).status == "CANCELLED"
    await live.cancel_protection("SOL_USDT", pair.list_id)  # already gone: no error


async def test_cancel_protection_removes_both_legs(harness):
    live = broker(harness)
    entry = await buy(live)
    pair = await live.place_protection(protection(entry, entry.avg_price * 0.9,
                                                  entry.avg_price * 1.1))
    await live.cancel_protection("SOL_USDT", pair.list_id)
    assert await live.open_orders() == []
    assert (await live.balances())["SOL"] == pytest.approx(entry.filled_quantity - entry.fee)


@pytest.mark.parametrize(("code", "name"), [
    (306, "INSUFFICIENT_AVAILABLE_BALANCE"), (609, "INSUFFICIENT_MARGIN"),
    (209, "INVALID_INSTRUMENT"), (229, "INVALID_REF_PRICE"), (220, "INVALID_SIDE"),
    (140001, "CONDITIONAL_ORDER_NOT_PERMITTED"), (42901, "TOO_MANY_REQUESTS"),
    (415, "BELOW_MIN_ORDER_SIZE"),
])
async def test_each_rejection_code_arrives_with_code_and_message(harness, emulator, code, name):
    live = broker(harness)
    emulator.set_fault(f"order-reject:{code}")
    with pytest.raises(OrderRejected) as info:
        await buy(live)
    assert (info.value.code, info.value.message) == (code, name)
    assert emulator.order_requests == {"private/create-order": 1}  # refused, not retried
    emulator.clear_faults()
    await buy(live)


async def test_conditional_denied_refuses_protection_only(harness, emulator):
    live = broker(harness)
    emulator.set_fault("conditional-denied")
    entry = await buy(live)  # plain orders still pass
    with pytest.raises(OrderRejected) as info:
        await live.place_protection(protection(entry, entry.avg_price * 0.9,
                                               entry.avg_price * 1.1))
    assert info.value.code == 140001
    assert await live.open_orders() == []  # reads still work


async def test_lost_answer_is_outcome_unknown_and_the_order_exists(harness, emulator):
    live = broker(harness)
    await live.instrument("SOL_USDT")
    emulator.reset_counts()
    emulator.set_fault("order-answer-lost")
    with pytest.raises(OutcomeUnknown):
        await buy(live)
    assert emulator.order_requests == {"private/create-order": 1}  # never retried blindly
    found = await live.lookup("SOL_USDT", client_order_id("d1"))
    assert found is not None and found.status == "FILLED"
    with pytest.raises(DuplicateOrder):  # a retry after all would be refused
        await buy(live)
    assert emulator.faults.answer_lost_next == 0


async def test_lost_protection_answer_is_outcome_unknown(harness, emulator):
    live = broker(harness)
    entry = await buy(live)
    emulator.set_fault("order-answer-lost")
    with pytest.raises(OutcomeUnknown):
        await live.place_protection(protection(entry, entry.avg_price * 0.9,
                                               entry.avg_price * 1.1))
    leg = await live.lookup("SOL_USDT", client_order_id("d1", "tp"))
    assert leg is not None and leg.status == "ACTIVE" and leg.list_id


async def test_auth_failure_makes_the_broker_unavailable(harness, emulator):
    live = broker(harness)
    await live.instrument("SOL_USDT")
    emulator.set_fault("bad-credentials")
    with pytest.raises(BrokerUnavailable):
        await buy(live)
    with pytest.raises(BrokerUnavailable):
        await live.balances()


async def test_create_cancel_rate_limit_per_key(clock, canary):
    emu = CryptoComEmulator(clock=clock, symbols=3, seed=7, rate_clock=lambda: 0.0)
    emu.add_key(KEY, SECRET)
    async with emu:
        harness = Harness(emu, clock)
        live = broker(harness)
        try:
            for i in range(15):
                await live.place_market(MarketOrder("ETH_USDT", "BUY", f"r{i}", notional=10))
            with pytest.raises(OrderRejected) as info:
                await live.place_market(MarketOrder("ETH_USDT", "BUY", "r15", notional=10))
            assert info.value.code == 42901
            assert len(await live.open_orders()) == 0  # reads are not in this class
        finally:
            for c in harness.clients:
                await c.close()


async def test_admin_state_counts_order_requests(harness, emulator):
    live = broker(harness)
    await buy(live)
    async with aiohttp.ClientSession(emulator.base_url) as http:
        async with http.get("/_emulator/state") as r:
            state = await r.json()
        assert state["order_requests"] == {"private/create-order": 1,
                                           "private/get-order-detail": 1}
        async with http.post("/_emulator/faults", json={"faults": ["order-reject:306"]}) as r:
            assert (await r.json())["order_reject_code"] == 306
        async with http.post("/_emulator/fees", json={"maker": "0", "taker": "0.001"}) as r:
            assert (await r.json())["taker"] == "0.001"
