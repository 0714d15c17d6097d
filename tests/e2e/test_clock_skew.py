"""The host's clock 90 s off the exchange's (issue 14, item 8), under a running `atp run`
trading live: every signed call answers 40102. The BUY's order ends BLOCKED (or REJECTED)
naming the clock and the fix, nothing reaches the exchange's book, nothing is re-sent blind;
`atp check` names the clock with the NTP fix; once the clocks agree again the next BUY is
placed and protected without a restart."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import UTC, datetime

import httpx
import pytest

from atp.emulators.cryptocom import CryptoComEmulator
from atp.emulators.telegram.server import TelegramEmulator
from atp.store.models import OrderIntentRow, PositionRow, SettingRow, WatchlistRow
from tests.canary import CANARY_KEY, CANARY_SECRET
from tests.e2e.crash_harness import ATP, Runs, wait_for
from tests.outcomes import assert_one_outcome_per_decision

TOKEN, CHAT = "781:clock-skew-token", 559
FIRST, SECOND = "SOL_USDT", "ADA_USDT"
CREATE = "private/create-order"


def _scripted() -> CryptoComEmulator:
    exchange = CryptoComEmulator(symbols=["BTC_USDT", FIRST, SECOND], seed=5)
    exchange.add_key(CANARY_KEY, CANARY_SECRET)
    for symbol in (FIRST, SECOND):  # a fall that began 15 h ago: a BUY from the first cycle
        exchange.script(symbol, "rsi_low", candles=40, pct_per_candle=2.0,
                        start=time.time() - 15 * 3600)
    return exchange


@pytest.mark.slow
async def test_clock_skewed_90_s_rejects_with_40102_then_recovers(canary, tmp_path):
    exchange = _scripted()
    exchange.set_fault("clock-skew:90")
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    runs = Runs(f"sqlite:///{tmp_path / 'atp.db'}", tmp_path, {
        "EXCHANGE_BASE_URL": exchange.base_url, "EXCHANGE_API_KEY": CANARY_KEY,
        "EXCHANGE_API_SECRET": CANARY_SECRET, "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_CHAT_ID": str(CHAT), "TELEGRAM_API_BASE": tg.base_url,
        "MONITOR_INTERVAL_SECONDS": "2", "TRADER_SYNC_SECONDS": "1",
        "INSTANCE_NAME": "clock-skew"})
    with runs.session() as s, s.begin():
        s.add(WatchlistRow(symbol=FIRST, preset="scalp-aggressive", trade_enabled=True,
                           trade_amount_usd=50.0))
        s.add(SettingRow(key="live_trading", value=True, updated_at=datetime.now(UTC),
                         updated_by="test"))
    try:
        proc = runs.start()
        api = f"http://127.0.0.1:{int((tmp_path / 'port-0').read_text())}"

        def intents() -> list[OrderIntentRow]:
            return list(runs.rows(OrderIntentRow))

        await wait_for(lambda: any(i.outcome not in ("PENDING", "PLACED") for i in intents()),
                       60, "the first BUY's order outcome")
        [first] = intents()
        # the live gate's private call answers 40102 before any order is sent: BLOCKED,
        # naming the clock and the fix (an order sent anyway would be REJECTED 40102)
        said = f"{first.error_code} {first.error_message} {first.reason}".lower()
        assert first.outcome in ("BLOCKED", "REJECTED"), first
        assert "clock" in said and "ntp" in said, said
        assert not exchange.desk.orders  # nothing reached the book
        sent = exchange.order_requests.get(CREATE, 0)
        assert sent <= 1  # a 40102 is not retried blind

        # in a thread: the emulators live on this test's event loop
        argv = [ATP, "check", "--url", api, "--format", "json", "--check", "exchange_auth",
                "--log-file", str(tmp_path / "atp.log")]
        check = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True,
                                        timeout=60)
        report = json.loads(check.stdout)
        [auth] = [c for c in report["checks"] if c["id"] == "exchange_auth"]
        assert auth["status"] == "critical", auth
        said = json.dumps(auth).lower()
        assert "clock" in said and "ntp" in said, auth
        assert check.returncode == 2

        exchange.clear_faults()  # the clocks agree again

        for _ in range(60):  # what an operator watches: /api/trading/state
            answer = await asyncio.to_thread(httpx.get, f"{api}/api/trading/state",
                                             timeout=10)
            if answer.json()["live_refused_reason"] is None:
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("live trading still refused 30 s after the fix")
        with runs.session() as s, s.begin():
            s.add(WatchlistRow(symbol=SECOND, preset="scalp-aggressive", trade_enabled=True,
                               trade_amount_usd=50.0))

        def protected() -> bool:
            return any(p.symbol == SECOND and p.protection_status == "active"
                       for p in runs.rows(PositionRow))

        await wait_for(protected, 60, f"{SECOND} bought and protected after the fix")
        assert proc.poll() is None  # no restart needed
        assert exchange.order_requests.get(CREATE, 0) - sent >= 1
        assert [i.outcome for i in intents() if i.symbol == FIRST] == [first.outcome]
    finally:
        runs.stop()
        await tg.stop()
        await exchange.stop()
    assert_one_outcome_per_decision(runs.sessions())
    runs.engine.dispose()
