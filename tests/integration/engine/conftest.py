"""Engine fixtures: a real Telegram emulator, a migrated database, a scripted market."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from atp.config import Settings
from atp.domain.candles import Candles
from atp.emulators.telegram.server import TelegramEmulator
from atp.engine.clock import ManualClock
from atp.engine.ports import MarketSnapshot
from atp.engine.service import Platform
from atp.store.models import WatchlistRow
from atp.telegram.sender import TelegramSender
from tests.outcomes import assert_one_outcome_per_decision

TOKEN = "123456:TEST-token-for-engine-tests"
CHAT = 4242


class ScriptedMarket:
    """The engine's market port fed by a script: `down` gives BUY, `up` SELL, `flat` WAIT
    on the scalp-aggressive preset (no MA checks), with the price set per symbol."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.mode: dict[str, str] = {}
        self.price: dict[str, float] = {}
        self.broken: set[str] = set()
        self._candles: dict[str, Candles] = {}
        self.age: dict[str, float] = {}  # seconds the symbol's price is old
        self.buggy: set[str] = set()  # a price no code expects: `evaluate` raises

    def candles(self, symbol: str) -> Candles | None:
        """The candles of the last snapshot (what the chart draws)."""
        return self._candles.get(symbol)

    def set(self, symbol: str, mode: str, price: float = 100.0) -> None:
        self.mode[symbol], self.price[symbol] = mode, price

    async def snapshot(self, symbols: Sequence[str]) -> dict[str, MarketSnapshot]:
        out = {}
        for symbol in symbols:
            if symbol in self.broken:
                out[symbol] = MarketSnapshot(
                    symbol, None, None, None, candles_cause="malformed reply: a field is "
                    "missing or not a number", price_cause="malformed ticker: no timestamp")
                continue
            price = self.price.get(symbol, 100.0)
            step = {"down": -0.01, "up": 0.01}.get(self.mode.get(symbol, "flat"), 0.0)
            n = 60
            if step:
                close = price * np.exp(step * np.arange(-n + 1, 1))
            else:  # alternating +0.6 % / -0.4 %: RSI ≈ 60, between buy 55 and sell 65
                steps = np.where(np.arange(n) % 2 == 0, 0.006, -0.004)
                close = price * np.exp(np.cumsum(steps) - steps.sum())
            ts = np.arange(n, dtype=np.int64) * 3_600_000
            candles = Candles(ts, close.copy(), close * 1.001, close * 0.999, close,
                              np.full(n, 10.0))
            at = self.clock.now() - timedelta(seconds=self.age.get(symbol, 0.0))
            value: Any = "not-a-price" if symbol in self.buggy else price
            days = np.full(75, price * 1.5)  # MA10w above the price (the dashboard shows it)
            daily = Candles(np.arange(75, dtype=np.int64) * 86_400_000, days, days, days, days,
                            np.full(75, 240.0))
            self._candles[symbol] = candles
            out[symbol] = MarketSnapshot(symbol, candles, value, at, daily=daily)
        return out


@pytest.fixture
async def tg() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN]) as emulator:
        yield emulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def market(clock: ManualClock) -> ScriptedMarket:
    return ScriptedMarket(clock)


@pytest.fixture
async def make_platform(
    migrated_db: Any, tg: TelegramEmulator, clock: ManualClock, market: ScriptedMarket
) -> AsyncIterator[Callable[..., Platform]]:
    made: list[Platform] = []

    def make(symbols: dict[str, str] | None = None, **overrides: Any) -> Platform:
        values: dict[str, Any] = dict(
            database_url=migrated_db.url, telegram_bot_token=TOKEN, telegram_chat_id=str(CHAT),
            telegram_api_base=tg.base_url, production=True, instance_name="test-1",
        )
        values.update(overrides)
        settings = Settings(**values)
        with migrated_db.session_factory.begin() as session:
            for symbol, mode in (symbols or {}).items():
                session.add(WatchlistRow(symbol=symbol, preset="scalp-aggressive"))
                market.set(symbol, mode)
        sender = TelegramSender(TOKEN, api_base=tg.base_url, connect_timeout=2,
                                read_timeout=5)
        platform = Platform(settings, market=market, sender=sender, clock=clock)
        made.append(platform)
        return platform

    yield make
    for platform in made:
        close = getattr(platform.sender, "aclose", None)
        if close is not None:
            await close()
        platform.db.close()
    # every engine test ends with the reconciliation `atp check` performs
    assert_one_outcome_per_decision(migrated_db.session_factory)
