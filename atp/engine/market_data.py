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
from atp.exchange.errors import NetworkError

MIN_DEADLINE_S = 5.0


def cycle_deadline(interval_seconds: float) -> float:
    """How long one cycle may wait for the exchange: most of the interval, so a hung or
    throttled exchange costs a cycle its prices, never the cycle itself (the monitor goes
    on deciding WAIT with the cause, and the stall watchdog sees progress)."""
    return max(MIN_DEADLINE_S, 0.8 * interval_seconds)


class ExchangeMarketData:
    """Adapts the exchange's `MarketDataService` to the engine's `MarketData` port."""

    def __init__(self, service: Any, clock: Clock, time_scale: float = 1.0,
                 deadline_seconds: float | None = None) -> None:
        """`time_scale`: market seconds per real second (the demo's accelerated market);
        `deadline_seconds`: the most a snapshot waits for the exchange (None: no limit)."""
        self.service, self.clock, self.time_scale = service, clock, time_scale
        self.deadline_seconds = deadline_seconds

    def candles(self, symbol: str) -> Any:
        """The closed candles the monitor evaluates (the chart draws these)."""
        return self.service.candles(symbol)

    async def snapshot(self, symbols: Sequence[str]) -> dict[str, MarketSnapshot]:
        try:
            snap = await asyncio.wait_for(self.service.refresh(list(symbols)),
                                          self.deadline_seconds)
        except TimeoutError:
            return self._unanswered(symbols)
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

    def _unanswered(self, symbols: Sequence[str]) -> dict[str, MarketSnapshot]:
        """The exchange did not answer within the deadline: the price is unknown, the
        cached candles stay (candles fetched before the deadline are kept by the service),
        and the client records the failure so health names the exchange."""
        cause = (f"market data unavailable: exchange unreachable (no answer within "
                 f"{self.deadline_seconds:.0f} s)")
        client = getattr(self.service, "client", None)
        if client is not None:
            client.report(NetworkError(f"no answer within {self.deadline_seconds:.0f} s",
                                       operation="market data snapshot"))
        out: dict[str, MarketSnapshot] = {}
        for symbol in symbols:
            candles = self.service.candles(symbol)
            daily = self.service.daily(symbol)
            out[symbol] = MarketSnapshot(symbol, candles, None, None,
                                         None if candles is not None else cause, cause,
                                         daily, None if daily is not None else cause)
        return out
