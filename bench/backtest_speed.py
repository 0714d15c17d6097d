"""Figure: `atp backtest` speed, candles per second over one year of 5-minute candles.

One year (365 × 288 = 105,120 candles) of a seeded synthetic market (a random walk with
slow trend swings, so BUYs, SELLs, SL and TP all happen) through `run_backtest` with one
preset, next to the naive way — each candle re-evaluated on its whole prefix, as a live
cycle evaluates its candles — measured in the same run. A full naive run takes minutes,
so it is timed on prefixes sampled evenly across the year and extrapolated (its cost
grows with the prefix; the mean over evenly spaced prefixes × the candle count estimates
the whole run). The replay skips the decision where the RSI alone rules out BUY and SELL
(`signals.may_act`, the same comparisons as the flags); the figure without that skip is
printed too, and both give the same trades. Targets (issue 12): under 1 s for the year
and ≥ 10× the naive way.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _result import emit, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atp.analysis import analyze_candle
from atp.backtest import BacktestResult, run_backtest
from atp.domain.candles import Candles
from atp.domain.presets import DEFAULT_PRESETS

CANDLES = 365 * 288
STEP_MS = 300_000
PRESET = DEFAULT_PRESETS["swing-conservative"]
NAIVE_SAMPLES = 400
REPEATS = 3


def year_of_candles(n: int = CANDLES, seed: int = 7) -> Candles:
    rng = np.random.default_rng(seed)
    trend = 0.0004 * np.sin(np.arange(n) / 2_000.0)  # swings over about a week
    close = 2_000.0 * np.exp(np.cumsum(trend + rng.normal(0, 0.003, n)))
    opens = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0, 0.0005, n))
    spread = np.abs(rng.normal(0, 0.002, n))
    high = np.maximum(opens, close) * (1 + spread)
    low = np.minimum(opens, close) * (1 - spread)
    volume = rng.lognormal(3, 0.6, n)
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * STEP_MS
    return Candles(ts, opens, high, low, close, volume)


def timed(candles: Candles, every: bool) -> tuple[float, float, BacktestResult]:
    """(best, median) wall seconds of REPEATS replays, and the last result."""
    runs = []
    result = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = run_backtest(candles, PRESET, symbol="ETH_USDT", every=every)
        runs.append(time.perf_counter() - start)
    assert result is not None
    return min(runs), statistics.median(runs), result


def main() -> None:
    candles = year_of_candles()
    n = len(candles)
    best, median, result = timed(candles, every=False)
    every_best, every_median, every_result = timed(candles, every=True)
    assert every_result.trades == result.trades  # the pre-check changes no trade
    s = result.summary
    print(f"year of 5-minute candles: {n:,}, preset {PRESET.name}: {s.decisions}, "
          f"{s.trades} trades closed, {s.open_trades} open")
    print(f"backtest: {best:.3f} s for the year (best of {REPEATS}; median {median:.3f} s) "
          f"= {n / best:,.0f} candles/s")
    print(f"  evaluating every candle (no RSI pre-check, `signals.may_act`): "
          f"{every_best:.3f} s (median {every_median:.3f} s) = {n / every_best:,.0f} candles/s")

    indices = np.linspace(0, n - 1, NAIVE_SAMPLES).astype(int)
    start = time.perf_counter()
    for i in indices:
        analyze_candle(candles.head(int(i) + 1), PRESET, None, None, STEP_MS)
    per = (time.perf_counter() - start) / NAIVE_SAMPLES
    naive = per * n
    print(f"naive (each candle on its whole prefix): {per * 1e6:,.0f} µs/candle on "
          f"{NAIVE_SAMPLES} prefixes sampled across the year → extrapolated {naive:,.1f} s "
          f"for the year (not run in full: it would take that long) = {n / naive:,.0f} "
          "candles/s")
    print(f"ratio: {naive / best:,.0f}× ({naive / every_best:,.0f}× evaluating every candle); "
          "targets: < 1 s for the year, ≥ 10×")
    emit([row("backtest, 1 year of 5-min candles", best, "s", "< 1 s", best < 1),
          row("backtest vs naive", naive / best, "×", "≥ 10×", naive / best >= 10)])


if __name__ == "__main__":
    main()
