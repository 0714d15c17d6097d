"""Issue 11's acceptance, from outside: `atp run` trading live, killed with SIGKILL after
the exchange received its create-order and before the answer came back, places no second
order after restart: the order is looked up by its client_oid, found filled, protected
once. Real processes, real exchange and Telegram emulators, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from atp.emulators.cryptocom import CryptoComEmulator
from atp.emulators.telegram.server import TelegramEmulator
from atp.store.models import OrderIntentRow, PositionRow, SettingRow, WatchlistRow
from tests.canary import CANARY_KEY, CANARY_SECRET
from tests.e2e.crash_harness import Runs, wait_for
from tests.outcomes import assert_one_outcome_per_decision

TOKEN, CHAT = "778:crash-order-token", 556
SYMBOL = "SOL_USDT"
CREATE, OCO = "private/create-order", "private/advanced/create-oco"


@pytest.mark.slow
async def test_sigkill_after_create_order_places_no_second_order(db_url, canary, tmp_path):
    exchange = CryptoComEmulator(symbols=["BTC_USDT", SYMBOL], seed=5)
    exchange.add_key(CANARY_KEY, CANARY_SECRET)
    # A fall that began 15 hourly candles ago: RSI is low from the first cycle (a BUY).
    exchange.script(SYMBOL, "rsi_low", candles=40, pct_per_candle=2.0,
                    start=time.time() - 15 * 3600)
    exchange.set_fault("order-answer-slow:120")  # placed at once, answered much later
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    runs = Runs(db_url, tmp_path, {
        "EXCHANGE_BASE_URL": exchange.base_url, "EXCHANGE_API_KEY": CANARY_KEY,
        "EXCHANGE_API_SECRET": CANARY_SECRET, "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_CHAT_ID": str(CHAT), "TELEGRAM_API_BASE": tg.base_url,
        "MONITOR_INTERVAL_SECONDS": "2", "TRADER_SYNC_SECONDS": "1",
        "INSTANCE_NAME": "crash-order"})
    with runs.session() as s, s.begin():
        s.add(WatchlistRow(symbol=SYMBOL, preset="scalp-aggressive", trade_enabled=True,
                           trade_amount_usd=50.0))
        s.add(SettingRow(key="live_trading", value=True, updated_at=datetime.now(UTC),
                         updated_by="test"))
    try:
        first = runs.start()
        await wait_for(lambda: exchange.order_requests.get(CREATE, 0) >= 1, 45,
                       "the create-order to reach the exchange")
        runs.kill(first)  # the answer is still on its way
        [intent] = runs.rows(OrderIntentRow)
        assert intent.outcome != "FILLED"  # what the killed process knew
        placed = [o for o in exchange.desk.orders.values()
                  if o.client_oid == intent.client_oid]
        assert len(placed) == 1  # the exchange has it
        exchange.clear_faults()
        runs.start()

        def protected() -> bool:
            [i] = runs.rows(OrderIntentRow)
            positions = runs.rows(PositionRow)
            return (i.outcome == "FILLED" and len(positions) == 1
                    and positions[0].protection_status == "active")

        await wait_for(protected, 45, "the intent FILLED and its position protected")
        assert exchange.order_requests.get(CREATE, 0) == 1  # never sent twice
        entries = [o for o in exchange.desk.orders.values()
                   if o.client_oid == intent.client_oid]
        assert len(entries) == 1 and entries[0].status == "FILLED"
        assert exchange.order_requests.get(OCO, 0) == 1
        [position] = runs.rows(PositionRow)
        legs = [o for o in exchange.desk.orders.values()
                if o.list_id is not None and o.list_id == position.protection_list_id]
        assert len(legs) == 2 and {o.status for o in legs} == {"ACTIVE"}
    finally:
        runs.stop()
        await tg.stop()
        await exchange.stop()
    assert_one_outcome_per_decision(runs.sessions())
    runs.engine.dispose()
