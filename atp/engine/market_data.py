"""The exchange's market data service seen through the engine's `MarketData` port.

Ages become times on the engine's clock (divided by `time_scale` for the demo's
accelerated market, so a price is judged stale in the engine's seconds), and every missing
input keeps its cause on the way: the domain, not this adapter, decides what is unknown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from atp.engine.clock import Clock
from atp.engine.ports import MarketSnapshot


class ExchangeMarketData:
    """Adapts the exchange's `MarketDataService` to the engine's `MarketData` port."""

    def __init__(self, service: Any, clock: Clock, time_scale: float = 1.0) -> None:
        """`time_scale`: market seconds per real second (the demo's accelerated market)."""
        self.service, self.clock, self.time_scale = service, clock, time_scale

    def candles(self, symbol: str) -> Any:
        """The closed candles the monitor evaluates (the chart draws these)."""
        return self.service.candles(symbol)

    async def snapshot(self, symbols: Sequence[str]) -> dict[str, MarketSnapshot]:
        snap = await self.service.refresh(list(symbols))
        now = self.clock.now()
        out: dict[str, MarketSnapshot] = {}
        for index, symbol in enumerate(symbols):
            if index % 100 == 99:
                await asyncio.sleep(0)  # 1,000 symbols: let /api/health in between
            data = snap.symbols.get(symbol)
            if data is None:
                cause = "no market data for the symbol"
                out[symbol] = MarketSnapshot(symbol, None, None, None, cause, cause)
                continue
            price_at = (None if data.price_age_seconds is None
                        else now - timedelta(seconds=data.price_age_seconds / self.time_scale))
            out[symbol] = MarketSnapshot(
                symbol, data.candles, data.price, price_at, data.candles_cause,
                data.price_cause, data.daily, data.daily_cause,
            )
        return out
