"""Market data service: closed candles and last prices per symbol, fetched economically.

Per cycle: one request for all tickers, plus one candle request per symbol whose candle has
closed since the last fetch (the full `candle_count` only on first sight of a symbol).
"Closed" is judged on the exchange's clock (the ticker's timestamp), so a skewed host clock
neither drops nor double-fetches candles.

Business rule §1: a symbol whose price is stale or whose data is malformed is *unknown* for
this cycle, with the reason; the other symbols go on. Nothing here decides a trade.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atp.config import TIMEFRAME_SECONDS, Settings
from atp.domain.candles import Candles
from atp.exchange.client import ExchangeClient, Ticker
from atp.exchange.errors import ExchangeFailure, MalformedReply


@dataclass(frozen=True, slots=True)
class SymbolMarketData:
    """What the monitor knows about one symbol this cycle; `unknown_reason` None = known."""

    symbol: str
    candles: Candles | None
    price: float | None
    price_timestamp_ms: int | None
    price_age_seconds: float | None
    unknown_reason: str | None = None

    @property
    def known(self) -> bool:
        return self.unknown_reason is None


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    at: float
    symbols: dict[str, SymbolMarketData]
    requests: int
    duration_seconds: float
    candle_requests: int
    failure: ExchangeFailure | None = None  # a whole-cycle failure (tickers unavailable)

    def known(self) -> list[str]:
        return [s for s, d in self.symbols.items() if d.known]

    def unknown(self) -> dict[str, str]:
        return {s: d.unknown_reason for s, d in self.symbols.items() if d.unknown_reason}


@dataclass
class _Series:
    candles: Candles
    last_open_ms: int  # open time of the newest closed candle


class MalformedCandles(ValueError):
    pass


@dataclass
class MarketDataService:
    """Keeps closed candles in memory (numpy) and answers one snapshot per monitor cycle."""

    client: ExchangeClient
    timeframe: str = "1h"
    candle_count: int = 200
    clock: Callable[[], float] = time.time
    max_price_age_seconds: float = 60.0
    concurrency: int = 8
    _series: dict[str, _Series] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_settings(
        cls, client: ExchangeClient, settings: Settings, clock: Callable[[], float] = time.time
    ) -> MarketDataService:
        return cls(
            client=client,
            timeframe=str(settings.candle_timeframe.value),
            candle_count=settings.candle_count,
            clock=clock,
            max_price_age_seconds=2 * settings.monitor_interval_seconds,
        )

    @property
    def timeframe_ms(self) -> int:
        return TIMEFRAME_SECONDS[self.timeframe] * 1000

    def candles(self, symbol: str) -> Candles | None:
        series = self._series.get(symbol)
        return series.candles if series else None

    def forget(self, symbol: str) -> None:
        self._series.pop(symbol, None)

    async def refresh(self, symbols: Sequence[str]) -> MarketSnapshot:
        started = time.perf_counter()
        requests_before = self.client.request_count
        now = self.clock()
        try:
            await self.client.ensure_markets()
            tickers = await self.client.fetch_tickers()
        except ExchangeFailure as failure:
            reason = f"market data unavailable: {failure.diagnosis}"
            data = {s: SymbolMarketData(s, self.candles(s), None, None, None, reason)
                    for s in symbols}
            return MarketSnapshot(now, data, self.client.request_count - requests_before,
                                  time.perf_counter() - started, 0, failure)

        results: dict[str, SymbolMarketData] = {}
        todo: list[tuple[str, Ticker, int]] = []
        for symbol in symbols:
            ticker = tickers.get(symbol)
            problem = self._ticker_problem(symbol, ticker, now)
            if problem is not None or ticker is None or ticker.timestamp_ms is None:
                results[symbol] = SymbolMarketData(symbol, self.candles(symbol), None, None,
                                                   None, problem or "no ticker")
                continue
            ref_ms = ticker.timestamp_ms
            todo.append((symbol, ticker, ref_ms))

        sem = asyncio.Semaphore(self.concurrency)

        def finish(symbol: str, ticker: Ticker, ref_ms: int, problem: str | None) -> None:
            series = self._series.get(symbol)
            if problem is None and series is None:
                problem = "no closed candles"
            elif problem is None and series is not None and (
                series.last_open_ms + 2 * self.timeframe_ms <= ref_ms
            ):
                problem = "stale candles: the newest closed candle is missing"
            age = now - (ticker.timestamp_ms or 0) / 1000.0
            results[symbol] = SymbolMarketData(
                symbol, series.candles if series else None, ticker.last,
                ticker.timestamp_ms, age, problem,
            )

        async def one(symbol: str, ticker: Ticker, ref_ms: int, need: int) -> None:
            async with sem:
                finish(symbol, ticker, ref_ms, await self._update(symbol, need, ref_ms))

        # Symbols whose candles are current need no request: finish them inline, yielding
        # now and then, rather than as 1,000 tasks that the loop would run back to back
        # in one iteration (a ~12 ms stall for /api/health).
        to_fetch: list[tuple[str, Ticker, int, int]] = []
        for index, (symbol, ticker, ref_ms) in enumerate(todo):
            if index % 100 == 99:
                await asyncio.sleep(0)
            need = self._needed(symbol, ref_ms)
            if need:
                to_fetch.append((symbol, ticker, ref_ms, need))
            else:
                finish(symbol, ticker, ref_ms, None)
        fetched = len(to_fetch)
        await asyncio.gather(*(one(*item) for item in to_fetch))
        ordered = {s: results[s] for s in symbols}
        return MarketSnapshot(now, ordered, self.client.request_count - requests_before,
                              time.perf_counter() - started, fetched)

    def _ticker_problem(self, symbol: str, ticker: Ticker | None, now: float) -> str | None:
        if not self.client.is_listed(symbol):
            return "not listed on the exchange"
        if ticker is None:
            return "no ticker from the exchange"
        if ticker.last is None or ticker.last <= 0:
            return "malformed ticker: last price missing or not a number"
        if ticker.timestamp_ms is None:
            return "malformed ticker: no timestamp"
        age = now - ticker.timestamp_ms / 1000.0
        if age > self.max_price_age_seconds:
            return f"stale price: {age:.0f} s old (limit {self.max_price_age_seconds:.0f} s)"
        if age < -self.max_price_age_seconds:
            return f"price timestamp {-age:.0f} s in the future: check the host clock"
        return None

    def _needed(self, symbol: str, ref_ms: int) -> int:
        """How many candles to ask for (forming one included); 0 = nothing new closed."""
        series = self._series.get(symbol)
        tf = self.timeframe_ms
        if series is None:
            return self.candle_count + 1
        newly_closed = (ref_ms - series.last_open_ms) // tf - 1
        if newly_closed <= 0:
            return 0
        if newly_closed >= self.candle_count:
            return self.candle_count + 1
        return int(newly_closed) + 1

    async def _update(self, symbol: str, limit: int, ref_ms: int) -> str | None:
        try:
            rows = await self.client.fetch_candles(symbol, self.timeframe, limit)
        except ExchangeFailure as failure:
            return f"candles unavailable: {failure.diagnosis}"
        try:
            fresh = _closed(rows, ref_ms, self.timeframe_ms)
        except MalformedCandles as exc:
            self.client.report(MalformedReply(f"{symbol} candles: {exc}",
                                              operation=f"fetch_ohlcv {symbol}"))
            return f"malformed candles: {exc}"
        series = self._series.get(symbol)
        if series is not None and len(fresh):
            newer = fresh.timestamp > series.last_open_ms
            if newer.any():
                first_new = int(fresh.timestamp[newer][0])
                if first_new != series.last_open_ms + self.timeframe_ms:
                    # a gap: start over on the next cycle rather than stitch holes
                    self._series.pop(symbol, None)
                    return "gap in candles; reloading"
                merged = _concat(series.candles, _mask(fresh, newer))
                fresh = merged.tail(self.candle_count)
            else:
                fresh = series.candles
        if len(fresh) == 0:
            return None
        self._series[symbol] = _Series(fresh.tail(self.candle_count), int(fresh.timestamp[-1]))
        return None


def _closed(rows: list[list[Any]], ref_ms: int, tf_ms: int) -> Candles:
    """Closed candles among the exchange's rows, validated: the forming one never counts."""
    clean: list[tuple[int, float, float, float, float, float]] = []
    for row in rows:
        if len(row) < 6 or not isinstance(row[0], int | float):
            raise MalformedCandles("a row without a timestamp")
        values = []
        for v in row[1:6]:
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise MalformedCandles("a field is missing or not a number") from None
            if not math.isfinite(f) or f < 0:
                raise MalformedCandles("a field is negative or not finite")
            values.append(f)
        t = int(row[0])
        if t + tf_ms <= ref_ms:
            o, h, low, c, v = values
            if h < max(o, c, low) or low > min(o, c):
                raise MalformedCandles("high/low inconsistent with open/close")
            clean.append((t, o, h, low, c, v))
    clean.sort(key=lambda r: r[0])
    return Candles.from_rows(clean)


def _mask(c: Candles, keep: np.ndarray[Any, np.dtype[np.bool_]]) -> Candles:
    return Candles(c.timestamp[keep], c.open[keep], c.high[keep], c.low[keep], c.close[keep],
                   c.volume[keep])


def _concat(a: Candles, b: Candles) -> Candles:
    return Candles(
        np.concatenate([a.timestamp, b.timestamp]), np.concatenate([a.open, b.open]),
        np.concatenate([a.high, b.high]), np.concatenate([a.low, b.low]),
        np.concatenate([a.close, b.close]), np.concatenate([a.volume, b.volume]),
    )
