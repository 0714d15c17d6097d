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


class Chain:
    """Emulators, the real adapters and a platform on one database, time injected."""

    def __init__(self, db_url: str) -> None:
        migrate.upgrade(db_url)
        self.db_url = db_url
        self.market_clock = MarketClock(T0)
        self.exchange = CryptoComEmulator(clock=self.market_clock,
                                          symbols=["BTC_USDT", "SOL_USDT"], seed=5)
        self.exchange.add_key(KEY, SECRET)
        self.tg = TelegramEmulator(tokens=[TOKEN])
        self.clock = ManualClock(datetime.fromtimestamp(T0, tz=UTC))

    async def __aenter__(self) -> Chain:
        await self.exchange.start()
        await self.tg.start()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=self.db_url, exchange_base_url=self.exchange.base_url,
            exchange_api_key=KEY, exchange_api_secret=SECRET, telegram_bot_token=TOKEN,
            telegram_chat_id=str(CHAT), telegram_api_base=self.tg.base_url, production=True,
            instance_name="live-chain",
        )
        self.platform = build_platform(settings, clock=self.clock,
                                       market_clock=self.market_clock.now)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            assert_one_outcome_per_decision(self.platform.db.sessions)
            with self.platform.db.sessions() as s:
                for event in s.scalars(select(EventRow)):
                    scan("event row (live chain)", f"{event.message} {event.payload}")
        finally:
            await self.platform.stop()
            await self.tg.stop()
            await self.exchange.stop()

    def watch(self, symbol: str, preset: str, **values: object) -> None:
        with UnitOfWork(self.platform.db.sessions, "seed") as uow:
            repo.add_symbols(uow.session, [symbol], preset, **values)

    async def cycle(self, market_hours: float = 0.0, seconds: float = 30.0) -> None:
        await self.platform.monitor.run_cycle()
        await self.platform.outbox.run_once()
        self.clock.advance(seconds)
        self.market_clock.advance(market_hours * 3600)

    def outcomes(self) -> list[AlertOutcomeRow]:
        with self.platform.db.sessions() as s:
            return list(s.scalars(select(AlertOutcomeRow).order_by(AlertOutcomeRow.id)))


async def test_scripted_sell_is_sent_then_throttled_with_the_exact_reason(db_url, canary):
    async with Chain(db_url) as chain:
        # a rise under way: RSI above 70 from the first cycle
        chain.exchange.script("SOL_USDT", "rsi_high", candles=40, pct_per_candle=2.0,
                              start=T0 - 15 * 3600)
        chain.watch("SOL_USDT", "swing-aggressive")
        await chain.cycle()  # same market price half a minute later:
        await chain.cycle()
        sent, throttled = chain.outcomes()
        assert (sent.outcome, sent.side) == ("SENT", "SELL")
        [message] = chain.tg.received(CHAT)
        assert sent.message_id == message.message_id and "SELL SOL_USDT" in message.text
        assert throttled.outcome == "THROTTLED"
        assert throttled.reason == "cooldown 0.5/5.0 min; price change 0.00/1.00 %"


async def test_opposite_side_after_the_market_turns_is_never_throttled(db_url, canary):
    async with Chain(db_url) as chain:
        # 15 hours of rise up to now, then a steady fall: SELL first, BUY later
        chain.exchange.script("SOL_USDT", "rsi_high", candles=15, pct_per_candle=2.0,
                              start=T0 - 15 * 3600)
        chain.exchange.script("SOL_USDT", "rsi_low", candles=40, pct_per_candle=2.0,
                              start=T0)
        chain.watch("SOL_USDT", "intraday-aggressive")
        await chain.cycle(market_hours=1)
        for _ in range(30):  # one closed hourly candle per cycle
            if any(o.side == "BUY" for o in chain.outcomes()):
                break
            await chain.cycle(market_hours=1)
        sides = [(o.side, o.outcome) for o in chain.outcomes() if o.outcome != "THROTTLED"]
        assert sides[0] == ("SELL", "SENT")
        assert ("BUY", "SENT") in sides  # minutes after the SELL alert: never throttled by it
        texts = [m.text for m in chain.tg.received(CHAT)]
        assert any("BUY SOL_USDT" in t for t in texts)


async def test_disabled_side_is_blocked_once_per_change_of_decision(db_url, canary):
    async with Chain(db_url) as chain:
        chain.exchange.script("SOL_USDT", "rsi_high", candles=40, pct_per_candle=2.0,
                              start=T0 - 15 * 3600)
        chain.watch("SOL_USDT", "swing-aggressive", sell_alert_enabled=False)
        for _ in range(3):
            await chain.cycle()
        [blocked] = chain.outcomes()
        assert (blocked.outcome, blocked.reason) == ("BLOCKED", "sell_alert_enabled is off")
        assert chain.tg.received(CHAT) == []
