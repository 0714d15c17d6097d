"""The live chain end to end with every real part: the Crypto.com emulator behind the real
ccxt client, the Bot API emulator behind python-telegram-bot, SQLite and PostgreSQL.
Time is injected: the market's clock and the platform's clock move only when told."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from atp.config import Settings
from atp.emulators.clock import ManualClock as MarketClock
from atp.emulators.cryptocom import CryptoComEmulator
from atp.emulators.telegram.server import TelegramEmulator
from atp.engine.clock import ManualClock
from atp.runtime import build_platform
from atp.store import migrate
from atp.store import repository as repo
from atp.store.models import AlertOutcomeRow, EventRow
from atp.store.uow import UnitOfWork
from tests.canary import CANARY_KEY, CANARY_SECRET, scan
from tests.outcomes import assert_one_outcome_per_decision

T0 = 1_750_000_000.0
TOKEN, CHAT = "31337:live-chain-token", 4711
KEY, SECRET = CANARY_KEY, CANARY_SECRET


async def test_scripted_sell_is_sent_then_throttled_with_the_exact_reason(db_url):
    migrate.upgrade(db_url)
    market_clock = MarketClock(T0)
    exchange = CryptoComEmulator(clock=market_clock, symbols=["BTC_USDT", "SOL_USDT"], seed=5)
    exchange.add_key(KEY, SECRET)
    exchange.script("SOL_USDT", "rsi_high", candles=40, pct_per_candle=2.0,
                    start=T0 - 15 * 3600)  # a rise under way: RSI above 70 now
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url, exchange_base_url=exchange.base_url, exchange_api_key=KEY,
        exchange_api_secret=SECRET, telegram_bot_token=TOKEN, telegram_chat_id=str(CHAT),
        telegram_api_base=tg.base_url, production=True, instance_name="live-chain",
    )
    clock = ManualClock(datetime.fromtimestamp(T0, tz=UTC))
    platform = build_platform(settings, clock=clock, market_clock=market_clock.now)
    try:
        with UnitOfWork(platform.db.sessions, "seed") as uow:
            repo.add_symbols(uow.session, ["SOL_USDT"], "swing-aggressive")
        first = await platform.monitor.run_cycle()
        assert first.decisions == {"SELL": 1}
        assert await platform.outbox.run_once() == 1
        clock.advance(30)  # half a minute later, same market price
        await platform.monitor.run_cycle()
        with platform.db.sessions() as s:
            sent, throttled = s.scalars(select(AlertOutcomeRow).order_by(AlertOutcomeRow.id))
        assert (sent.outcome, sent.side) == ("SENT", "SELL")
        [message] = tg.received(CHAT)
        assert sent.message_id == message.message_id and "SELL SOL_USDT" in message.text
        assert throttled.outcome == "THROTTLED"
        assert throttled.reason == "cooldown 0.5/5.0 min; price change 0.00/1.00 %"
        assert_one_outcome_per_decision(platform.db.sessions)
        with platform.db.sessions() as s:
            for event in s.scalars(select(EventRow)):
                scan("event row (live chain)", f"{event.message} {event.payload}")
    finally:
        await platform.stop()
        await tg.stop()
        await exchange.stop()
