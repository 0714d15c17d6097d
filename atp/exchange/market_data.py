"""Market data service: closed candles and last prices per symbol, fetched economically.

Per cycle: one request for all tickers, plus one candle request per symbol whose candle has
closed since the last fetch (the full `candle_count` only on first sight of a symbol), plus
one daily-candle request per symbol whose daily candle has closed (about once a day: they
feed MA10w). At most `request_budget` candle requests go out per cycle (what the exchange's
rate limit lets through in part of the interval): when every candle of 3,000 symbols closes
at once, the rest are fetched over the next cycles, oldest first, so no cycle outlasts its
interval and the symbols left for later keep their last closed candles meanwhile.
"Closed" is judged on the exchange's clock (the ticker's timestamp), so a skewed host
clock neither drops nor double-fetches candles.

Business rule §1: nothing here decides whether an input is good enough. The price and its
age go through even when old (the domain judges staleness against its limit); what is
missing — no ticker, no candles, a malformed reply — goes through as `None` with its cause,
so the domain records a WAIT naming it. The other symbols go on.
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
from atp.domain.limits import DAILY_CANDLES
from atp.exchange.client import ExchangeClient, Ticker
from atp.exchange.errors import ExchangeFailure, MalformedReply

DAY_MS = TIMEFRAME_SECONDS["1d"] * 1000


@dataclass(frozen=True, slots=True)
class SymbolMarketData:
    """What the service got for one symbol this cycle. A `*_cause` says why that input is
    missing or incomplete; the price and its age come as they are, however old."""

    symbol: str
    candles: Candles | None
    price: float | None
    price_timestamp_ms: int | None
    price_age_seconds: float | None
    price_cause: str | None = None
    candles_cause: str | None = None
    daily: Candles | None = None
    daily_cause: str | None = None

    @property
    def unknown_reason(self) -> str | None:
        """The first missing input's cause (price, candles; daily candles are optional)."""
        return self.price_cause or self.candles_cause

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
    daily_requests: int = 0

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


BUDGET_SHARE = 0.6  # of the interval's worth of requests; the rest is headroom


def candle_budget(requests_per_second: float, interval_seconds: float) -> int:
    """Candle requests one cycle may make: what the rate limit lets through in 60 % of
    the interval (ccxt's throttle queues the rest, so more would only stretch the cycle)."""
    return max(10, int(requests_per_second * interval_seconds * BUDGET_SHARE))


@dataclass
class MarketDataService:
    """Keeps closed candles in memory (numpy) and answers one snapshot per monitor cycle.

    `daily_count` daily candles per symbol (0 = none) feed MA10w; they are cached and asked
    for again only when a new daily candle has closed on the exchange's clock.
    """

    client: ExchangeClient
    timeframe: str = "1h"
    candle_count: int = 200
    clock: Callable[[], float] = time.time
    concurrency: int = 8
    daily_count: int = DAILY_CANDLES
    request_budget: int | None = None  # candle requests per refresh (None: no limit)
    # the time a refresh may spend on candles; with it the budget also follows the pace
    # the exchange actually answers at (a first load's 200-candle answers are slower)
    cycle_seconds: float | None = None
    deferred: int = field(default=0, init=False)  # candle requests left for a later cycle
    _pace: float | None = field(default=None, init=False, repr=False)  # s per request
    _series: dict[str, _Series] = field(default_factory=dict, init=False, repr=False)
    _daily: dict[str, _Series] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_settings(
        cls, client: ExchangeClient, settings: Settings, clock: Callable[[], float] = time.time
    ) -> MarketDataService:
        return cls(
            client=client,
            timeframe=str(settings.candle_timeframe.value),
            candle_count=settings.candle_count,
            clock=clock,
            daily_count=settings.limits.daily_candles,
            request_budget=candle_budget(client.requests_per_second,
                                         settings.monitor_interval_seconds),
            cycle_seconds=settings.monitor_interval_seconds * BUDGET_SHARE,
        )

    @property
    def timeframe_ms(self) -> int:
        return TIMEFRAME_SECONDS[self.timeframe] * 1000

    def candles(self, symbol: str) -> Candles | None:
        series = self._series.get(symbol)
        return series.candles if series else None

    def daily(self, symbol: str) -> Candles | None:
        series = self._daily.get(symbol)
        return series.candles if series else None

    def forget(self, symbol: str) -> None:
        self._series.pop(symbol, None)
        self._daily.pop(symbol, None)

    async def refresh(self, symbols: Sequence[str]) -> MarketSnapshot:
        started = time.perf_counter()
        requests_before = self.client.request_count
        now = self.clock()
        try:
            await self.client.ensure_markets()
            tickers = await self.client.fetch_tickers()
        except ExchangeFailure as failure:
            # Cached candles stay (they are what we last knew); the price is unknown.
            cause = f"market data unavailable: {_describe(failure)}"
            data = {}
            for s in symbols:
                cached = self.candles(s)
                data[s] = SymbolMarketData(s, cached, None, None, None, cause,
                                           None if cached is not None else cause,
                                           self.daily(s), None)
            return MarketSnapshot(now, data, self.client.request_count - requests_before,
                                  time.perf_counter() - started, 0, failure)

        results: dict[str, SymbolMarketData] = {}
        prices: dict[str, tuple[float | None, int | None, str | None]] = {}
        todo: list[tuple[str, int]] = []
        for symbol in symbols:
            if not self.client.is_listed(symbol):
                cause = "not listed on the exchange"
                results[symbol] = SymbolMarketData(symbol, None, None, None, None, cause, cause)
                continue
            ticker = tickers.get(symbol)
            problem = _ticker_problem(ticker)
            last = ticker.last if ticker is not None and problem is None else None
            ts = ticker.timestamp_ms if ticker is not None else None
            prices[symbol] = (last, ts, problem)
            # Candles close on the exchange's clock; without a ticker time, on ours.
            todo.append((symbol, ts if ts is not None else int(now * 1000)))

        sem = asyncio.Semaphore(self.concurrency)

        def finish(symbol: str, ref_ms: int, problem: str | None,
                   daily_problem: str | None) -> None:
            series = self._series.get(symbol)
            if problem is None and series is None:
                problem = "no closed candles"
            elif problem is None and series is not None and (
                series.last_open_ms + 2 * self.timeframe_ms <= ref_ms
            ):
                problem = "stale candles: the newest closed candle is missing"
            daily = self._daily.get(symbol)
            if self.daily_count <= 0:
                daily_problem = "daily candles not fetched (daily_count 0)"
            elif daily_problem is None and daily is None:
                daily_problem = "no closed daily candles"
            elif daily_problem is None and daily is not None and (
                daily.last_open_ms + 2 * DAY_MS <= ref_ms
            ):
                daily_problem = "stale daily candles: the newest closed one is missing"
            last, ts, price_cause = prices[symbol]
            age = None if ts is None else now - ts / 1000.0
            results[symbol] = SymbolMarketData(
                symbol, series.candles if series else None, last, ts, age, price_cause,
                problem, daily.candles if daily and daily_problem is None else None,
                daily_problem,
            )

        async def one(symbol: str, ref_ms: int, need: int, need_daily: int) -> None:
            async with sem:
                problem = daily_problem = None
                if need:
                    problem = await self._update(self._series, symbol, self.timeframe,
                                                 self.candle_count, need, ref_ms)
                if need_daily:
                    daily_problem = await self._update(self._daily, symbol, "1d",
                                                       self.daily_count, need_daily, ref_ms)
                finish(symbol, ref_ms, problem, daily_problem)

        # Symbols whose candles are current need no request: finish them inline, yielding
        # now and then, rather than as 1,000 tasks that the loop would run back to back
        # in one iteration (a ~12 ms stall for /api/health).
        to_fetch: list[tuple[str, int, int, int]] = []
        for index, (symbol, ref_ms) in enumerate(todo):
            if index % 100 == 99:
                await asyncio.sleep(0)
            need = _needed(self._series.get(symbol), self.candle_count, self.timeframe_ms,
                           ref_ms)
            need_daily = 0 if self.daily_count <= 0 else _needed(
                self._daily.get(symbol), self.daily_count, DAY_MS, ref_ms)
            if need or need_daily:
                to_fetch.append((symbol, ref_ms, need, need_daily))
            else:
                finish(symbol, ref_ms, None, None)
        to_fetch, later = self._within_budget(to_fetch)
        for symbol, ref_ms, need, _ in later:
            # keeps its last closed candles, and says the newest is not fetched yet
            problem = None if not need else (
                f"candles not fetched yet: {len(later)} symbols wait for the next cycle "
                f"(at most {self.budget} candle requests per cycle)")
            finish(symbol, ref_ms, problem, None)
        fetch_started = time.perf_counter()
        await asyncio.gather(*(one(*item) for item in to_fetch))
        made = sum((1 if n else 0) + (1 if d else 0) for _, _, n, d in to_fetch)
        if made >= 8:  # enough to measure the pace (seconds per request, smoothed)
            pace = (time.perf_counter() - fetch_started) / made
            self._pace = pace if self._pace is None else 0.5 * self._pace + 0.5 * pace
        ordered = {s: results[s] for s in symbols}
        return MarketSnapshot(now, ordered, self.client.request_count - requests_before,
                              time.perf_counter() - started,
                              sum(1 for item in to_fetch if item[2]), None,
                              sum(1 for item in to_fetch if item[3]))

    @property
    def budget(self) -> int | None:
        """Candle requests this refresh may make: the rate limit's share of the interval,
        lowered to what the measured pace fits into `cycle_seconds`."""
        budget = self.request_budget
        if budget is None or self.cycle_seconds is None:
            return budget
        if self._pace is None:  # nothing measured yet: a few rounds to learn the pace
            return min(budget, 4 * self.concurrency)
        # never below what one round of fetches makes: a small watchlist is never deferred
        return max(4 * self.concurrency, min(budget, int(self.cycle_seconds / self._pace)))

    def _within_budget(self, wanted: list[tuple[str, int, int, int]]
                       ) -> tuple[list[tuple[str, int, int, int]],
                                  list[tuple[str, int, int, int]]]:
        """The fetches this cycle may make, and the symbols left for the next: hourly
        candles before daily ones (decisions need them), the oldest first."""
        budget = self.budget
        cost = sum((1 if n else 0) + (1 if d else 0) for _, _, n, d in wanted)
        self.deferred = 0
        if budget is None or cost <= budget:
            return wanted, []

        def age(item: tuple[str, int, int, int]) -> int:
            series = self._series.get(item[0])
            return -1 if series is None else series.last_open_ms

        ordered = sorted(wanted, key=age)
        hourly = {item[0] for item in ordered[:budget] if item[2]}
        left = budget - len(hourly)
        daily: set[str] = set()
        for item in ordered:
            if left <= 0:
                break
            if item[3] and (item[0] in hourly or not item[2]):
                daily.add(item[0])
                left -= 1
        now: list[tuple[str, int, int, int]] = []
        later: list[tuple[str, int, int, int]] = []
        for symbol, ref_ms, need, need_daily in wanted:
            n = need if symbol in hourly else 0
            d = need_daily if symbol in daily else 0
            if n or d:
                now.append((symbol, ref_ms, n, d))
            if (need and not n) or (need_daily and not d):
                later.append((symbol, ref_ms, need if not n else 0, need_daily if not d else 0))
        self.deferred = cost - sum((1 if n else 0) + (1 if d else 0) for _, _, n, d in now)
        return now, later

    async def _update(self, store: dict[str, _Series], symbol: str, timeframe: str,
                      keep: int, limit: int, ref_ms: int) -> str | None:
        """Fetch `symbol`'s newest `timeframe` candles and merge them into `store`;
        returns the cause of a failure, or `None`."""
        tf_ms = TIMEFRAME_SECONDS[timeframe] * 1000
        try:
            rows = await self.client.fetch_candles(symbol, timeframe, limit)
        except ExchangeFailure as failure:
            return _describe(failure)
        try:
            fresh = _closed(rows, ref_ms, tf_ms)
        except MalformedCandles as exc:
            self.client.report(MalformedReply(f"{symbol} candles: {exc}",
                                              operation=f"fetch_ohlcv {symbol} {timeframe}"))
            return f"malformed reply: {exc}"
        series = store.get(symbol)
        if series is not None and len(fresh):
            newer = fresh.timestamp > series.last_open_ms
            if newer.any():
                first_new = int(fresh.timestamp[newer][0])
                if first_new != series.last_open_ms + tf_ms:
                    # a gap: start over on the next cycle rather than stitch holes
                    store.pop(symbol, None)
                    return "gap in candles; reloading"
                merged = _concat(series.candles, _mask(fresh, newer))
                fresh = merged.tail(keep)
            else:
                fresh = series.candles
        if len(fresh) == 0:
            return None
        store[symbol] = _Series(fresh.tail(keep), int(fresh.timestamp[-1]))
        return None


def _describe(failure: ExchangeFailure) -> str:
    """`exchange unreachable (RequestTimeout)`: the diagnosis and, when known, its cause."""
    return f"{failure.diagnosis} ({failure.cause})" if failure.cause else failure.diagnosis


def _ticker_problem(ticker: Ticker | None) -> str | None:
    """Why a symbol has no usable price in the tickers reply (its age is the domain's)."""
    if ticker is None:
        return "no ticker from the exchange"
    if ticker.last is None:
        return "malformed ticker: last price missing or not a number"
    if ticker.timestamp_ms is None:
        return "malformed ticker: no timestamp"
    return None


def _needed(series: _Series | None, count: int, tf: int, ref_ms: int) -> int:
    """How many candles to ask for (forming one included); 0 = nothing new closed."""
    if series is None:
        return count + 1
    newly_closed = (ref_ms - series.last_open_ms) // tf - 1
    if newly_closed <= 0:
        return 0
    if newly_closed >= count:
        return count + 1
    return int(newly_closed) + 1


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
