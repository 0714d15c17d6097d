"""The trader against the exchange emulator through the real ccxt client and LiveBroker.

Decisions come from the scripted market (a BUY on demand); orders go to the emulator over
loopback HTTP, where its request counts say what reached the exchange: nothing in dry run,
exactly one create-order and one advanced create-oco live — also when the answer of the
create-order is lost and the process restarts before it knew the outcome.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from atp.config import Settings
from atp.emulators.clock import ManualClock as EmulatorClock
from atp.emulators.cryptocom import CryptoComEmulator
from atp.engine.service import Platform
from atp.exchange import ExchangeClient
from atp.store.models import OrderIntentRow, OrderRow, OutboxRow, PositionRow, WatchlistRow
from tests.integration.engine.conftest import CHAT, TOKEN

SYMBOL = "SOL_USDT"
KEY, SECRET = "trader-test-key", "trader-test-secret-0123456789"
ORDER_METHODS = ("private/create-order", "private/create-order-list", "private/cancel-order",
                 "private/advanced/create-order", "private/advanced/create-oco",
                 "private/advanced/cancel-oco", "private/cancel-all-orders")


@pytest.fixture
async def emulator() -> AsyncIterator[CryptoComEmulator]:
    emu = CryptoComEmulator(clock=EmulatorClock(1_750_000_000.0), symbols=4, seed=7)
    emu.add_key(KEY, SECRET)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def live_platform(migrated_db: Any, tg: Any, clock: Any, market: Any,
                        emulator: CryptoComEmulator) -> AsyncIterator[Callable[[], Platform]]:
    made: list[Platform] = []
    with migrated_db.session_factory.begin() as s:
        s.add(WatchlistRow(symbol=SYMBOL, preset="scalp-aggressive", trade_enabled=True,
                           trade_amount_usd=100.0))
    market.set(SYMBOL, "down")

    def make() -> Platform:
        settings = Settings(
            _env_file=None, database_url=migrated_db.url, telegram_bot_token=TOKEN,  # type: ignore[call-arg]
            telegram_chat_id=str(CHAT), telegram_api_base=tg.base_url, production=True,
            instance_name="test-1", exchange_base_url=emulator.base_url,
            exchange_api_key=KEY, exchange_api_secret=SECRET)
        client = ExchangeClient(settings, throttle=False, retries=1, timeout_ms=3000)
        platform = Platform(settings, market=market, sender=None, clock=clock,
                            exchange_client=client)
        made.append(platform)
        return platform

    yield make
    for platform in made:
        assert platform.exchange_client is not None
        await platform.exchange_client.close()
        platform.db.close()


def order_calls(emulator: CryptoComEmulator) -> dict[str, int]:
    return {m: emulator.counts[m] for m in ORDER_METHODS if emulator.counts[m]}


def rows(p: Platform, model: Any) -> list[Any]:
    with p.db.sessions() as s:
        return list(s.scalars(select(model).order_by(model.id)))


async def test_dry_run_sends_no_private_order_call(live_platform, emulator, clock):
    p = live_platform()
    await p.monitor.run_cycle()
    await p.trader.step()
    [intent] = rows(p, OrderIntentRow)
    assert (intent.mode, intent.outcome) == ("paper", "FILLED")
    assert [o.role for o in rows(p, OrderRow)] == ["entry", "stop_loss", "take_profit"]
    assert order_calls(emulator) == {}
    assert (await p.core.trading_state())["last_private_order_call"] is None


async def test_live_buy_places_one_market_order_and_one_oco(live_platform, emulator, clock):
    p = live_platform()
    await p.core.set_live_trading(True, "api")
    await p.monitor.run_cycle()
    await p.trader.step()
    [intent] = rows(p, OrderIntentRow)
    assert (intent.mode, intent.outcome) == ("live", "FILLED"), intent.reason
    entry, sl, tp = rows(p, OrderRow)
    assert entry.exchange_order_id and entry.dry_run is False
    rules = await p.live_broker.instrument(SYMBOL)
    [pos] = rows(p, PositionRow)
    assert pos.protection_status == "active" and sl.list_id == tp.list_id
    for price in (sl.trigger_price, tp.trigger_price):
        assert abs(price / rules.price_tick - round(price / rules.price_tick)) < 1e-6
    assert sl.trigger_price < entry.avg_price < tp.trigger_price
    assert order_calls(emulator) == {"private/create-order": 1,
                                     "private/advanced/create-oco": 1}
    state = await p.core.trading_state()
    assert state["mode"] == "live" and state["last_private_order_call"]["ok"] is True


async def test_lost_answer_then_restart_places_no_second_order(live_platform, emulator, clock,
                                                               migrated_db):
    first = live_platform()
    await first.core.set_live_trading(True, "api")
    emulator.set_fault("order-answer-lost")
    await first.monitor.run_cycle()
    await first.trader.run_once()  # the answer never comes: the outcome is unknown
    [intent] = rows(first, OrderIntentRow)
    [entry] = rows(first, OrderRow)
    assert intent.outcome == "PLACED" and entry.unknown is True
    assert order_calls(emulator) == {"private/create-order": 1}
    # a new process on the same database: reconciliation looks the order up first
    second = live_platform()
    await second.trader.step()
    [intent] = rows(second, OrderIntentRow)
    assert intent.outcome == "FILLED"
    assert order_calls(emulator) == {"private/create-order": 1,
                                     "private/advanced/create-oco": 1}
    [pos] = rows(second, PositionRow)
    assert pos.protection_status == "active"


async def test_conditional_denied_leaves_an_unprotected_position_told_once(
        live_platform, emulator, clock):
    p = live_platform()
    await p.core.set_live_trading(True, "api")
    emulator.set_fault("conditional-denied")
    await p.monitor.run_cycle()
    await p.trader.step()
    clock.advance(60)
    await p.trader.step()  # the retry is due: fails again, told no second time
    [pos] = rows(p, PositionRow)
    assert pos.protection_status == "failed" and pos.protection_error_code == 140001
    assert pos.protection_attempts == 2
    [view] = (await p.core.positions())["positions"]
    assert view["protected"] is False
    assert view["protection_error"]["code"] == 140001
    assert view["protection_error"]["attempts"] == 2
    with p.db.sessions() as s:
        notices = [o.text for o in s.scalars(select(OutboxRow).where(OutboxRow.kind == "order"))]
    assert sum("NOT protected" in t for t in notices) == 1
    state = await p.core.trading_state()
    assert state["unprotected_positions"] == 1
    body = await p.core.order_intents(None, None, None, 200)
    assert body["rejections_by_code"] == {"140001": 2}
    emulator.set_faults(conditional_denied=False)
    clock.advance(60)
    await p.trader.step()
    [pos] = rows(p, PositionRow)
    assert pos.protection_status == "active" and pos.protection_error is None


@pytest.mark.parametrize("code", [306, 609, 209, 229, 220, 42901])
async def test_each_rejection_is_recorded_with_its_code(live_platform, emulator, clock, code):
    p = live_platform()
    await p.core.set_live_trading(True, "api")
    emulator.set_fault(f"order-reject:{code}")
    await p.monitor.run_cycle()
    await p.trader.step()
    [intent] = rows(p, OrderIntentRow)
    assert (intent.outcome, intent.error_code) == ("REJECTED", code)
    assert intent.error_message
    body = await p.core.order_intents(None, "REJECTED", None, 200)
    assert body["rejections_by_code"] == {str(code): 1}
    with p.db.sessions() as s:
        notices = [o.text for o in s.scalars(select(OutboxRow).where(OutboxRow.kind == "order"))]
    assert len(notices) == 1 and f"rejected (live): {code}" in notices[0]
