"""Indicators over closed candles (business-rules §1), computed with TA-Lib.

Too little history gives `None`, never a stand-in value: the old system set missing MAs
equal to the price and produced false BUYs. TA-Lib is used because its RSI and ATR are
the field-standard Wilder definitions and it is ~100× faster than numpy loops.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from types import ModuleType

import numpy as np

from atp.domain.candles import Candles, FloatArray, IntArray


def _talib_without_dataframes() -> ModuleType:
    """TA-Lib's package imports pandas and polars (when installed) only to accept their
    Series; we pass numpy arrays. Hiding them during that import keeps ~50 MB of pandas
    out of every process's memory (issue 14); whoever imports pandas later still can."""
    if "talib" in sys.modules:
        return sys.modules["talib"]
    hidden = [name for name in ("pandas", "polars") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import talib
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return talib


talib = _talib_without_dataframes()

RSI_PERIOD = 14
ATR_PERIOD = 14
EMA_PERIOD = 10
MA_SHORT = 50
MA_LONG = 200
VOLUME_LOOKBACK = 5
MA10W_DAYS = 70

# Minimum closed candles each indicator needs; also used to explain an unknown value.
MIN_CANDLES: dict[str, int] = {
    "rsi": RSI_PERIOD + 1,
    "ma50": MA_SHORT,
    "ma200": MA_LONG,
    "ema10": EMA_PERIOD,
    "atr": ATR_PERIOD + 1,
    "volume_ratio": VOLUME_LOOKBACK + 1,
}
CANDLE_INDICATORS = tuple(MIN_CANDLES)
LABELS: dict[str, str] = {
    "rsi": "RSI(14)", "ma50": "MA50", "ma200": "MA200", "ema10": "EMA10", "atr": "ATR(14)",
    "volume_ratio": "the volume ratio", "ma10w": "MA10w",
}


@dataclass(frozen=True, slots=True)
class Indicators:
    """The indicator values one decision is made from; `None` means unknown."""

    price: float | None
    rsi: float | None
    ma50: float | None
    ma200: float | None
    ema10: float | None
    atr: float | None
    volume_ratio: float | None
    ma10w: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


def _last(values: FloatArray) -> float | None:
    value = float(values[-1])
    return None if math.isnan(value) else value


def rsi(close: FloatArray) -> float | None:
    if close.shape[0] < MIN_CANDLES["rsi"]:
        return None
    return _last(talib.RSI(close, timeperiod=RSI_PERIOD))


def sma(close: FloatArray, period: int) -> float | None:
    if close.shape[0] < period:
        return None
    # Only the last window matters for a simple average: no need to scan the history.
    return _last(talib.SMA(close[-period:], timeperiod=period))


def ema(close: FloatArray, period: int = EMA_PERIOD) -> float | None:
    """EMA seeded with the SMA of its first `period` values (TA-Lib's default)."""
    if close.shape[0] < period:
        return None
    return _last(talib.EMA(close, timeperiod=period))


def average_series(close: FloatArray, kind: str, period: int) -> list[float | None]:
    """The whole SMA / EMA line (`None` before it is defined), for chart overlays: the same
    TA-Lib definitions as `sma` / `ema`, so the chart never draws a second copy of them."""
    if kind not in ("sma", "ema"):
        raise ValueError(f"kind must be 'sma' or 'ema', not {kind!r}")
    if close.shape[0] < period:
        return [None] * int(close.shape[0])
    values = (talib.SMA if kind == "sma" else talib.EMA)(close, timeperiod=period)
    return [None if math.isnan(v) else float(v) for v in values]


def atr(high: FloatArray, low: FloatArray, close: FloatArray) -> float | None:
    if close.shape[0] < MIN_CANDLES["atr"]:
        return None
    return _last(talib.ATR(high, low, close, timeperiod=ATR_PERIOD))


def volume_ratio(volume: FloatArray) -> float | None:
    """Last closed volume ÷ mean of the 5 closed volumes before it; zero or missing ⇒ None."""
    if volume.shape[0] < MIN_CANDLES["volume_ratio"]:
        return None
    # Six Python floats: cheaper than a numpy reduction at this size (hot path, §bench).
    *before, last = volume[-VOLUME_LOOKBACK - 1 :].tolist()
    average = sum(before) / VOLUME_LOOKBACK
    if not (last > 0 and average > 0) or math.isnan(last) or math.isnan(average):
        return None
    return float(last / average)


def ma10w(daily_close: FloatArray | None) -> float | None:
    """10-week average = SMA(70) of daily closes; unknown without daily candles."""
    if daily_close is None:
        return None
    return sma(daily_close, MA10W_DAYS)


@dataclass(frozen=True, slots=True)
class IndicatorSeries:
    """Every candle indicator at every index (NaN = unknown): value `i` is exactly what
    `compute_indicators(candles.head(i + 1), ...)` gives. A backtest computes these once
    instead of re-running TA-Lib on each prefix (bench/backtest_speed.py)."""

    rsi: FloatArray
    ma50: FloatArray
    ma200: FloatArray
    ema10: FloatArray
    atr: FloatArray
    volume_ratio: FloatArray


def _nan(n: int) -> FloatArray:
    return np.full(n, np.nan, dtype=np.float64)


def window_mean(values: FloatArray, period: int) -> FloatArray:
    """Mean of the `period` values ending at each index (NaN before), summed left to right
    like `sma`'s single TA-Lib window, so both give the same bits (a running sum would not)."""
    n = int(values.shape[0])
    out = _nan(n)
    if n < period:
        return out
    width = n - period + 1
    total = np.zeros(width, dtype=np.float64)
    for k in range(period):
        total += values[k : k + width]
    out[period - 1 :] = total / period
    return out


def indicator_series(candles: Candles) -> IndicatorSeries:
    """The candle indicators of every prefix of `candles` at once (same definitions)."""
    close = candles.close.astype(np.float64, copy=False)
    n = int(close.shape[0])
    rsi_line = talib.RSI(close, timeperiod=RSI_PERIOD) if n >= MIN_CANDLES["rsi"] else _nan(n)
    ema_line = talib.EMA(close, timeperiod=EMA_PERIOD) if n >= EMA_PERIOD else _nan(n)
    atr_line = (talib.ATR(candles.high, candles.low, close, timeperiod=ATR_PERIOD)
                if n >= MIN_CANDLES["atr"] else _nan(n))
    volume = candles.volume.astype(np.float64, copy=False)
    ratio = _nan(n)
    if n >= MIN_CANDLES["volume_ratio"]:
        width = n - VOLUME_LOOKBACK
        total = np.zeros(width, dtype=np.float64)
        for k in range(VOLUME_LOOKBACK):  # left to right, as `volume_ratio` sums
            total += volume[k : k + width]
        average = total / VOLUME_LOOKBACK
        last = volume[VOLUME_LOOKBACK:]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio[VOLUME_LOOKBACK:] = np.where((last > 0) & (average > 0), last / average,
                                               np.nan)
    return IndicatorSeries(rsi=rsi_line, ma50=window_mean(close, MA_SHORT),
                           ma200=window_mean(close, MA_LONG), ema10=ema_line, atr=atr_line,
                           volume_ratio=ratio)


def ma10w_series(daily_close: FloatArray, closed: IntArray) -> FloatArray:
    """MA10w for each of several moments, given how many daily candles had closed by each
    (`closed[j]`): what `ma10w(daily_close[:closed[j]])` gives."""
    line = window_mean(daily_close.astype(np.float64, copy=False), MA10W_DAYS)
    out = _nan(int(closed.shape[0]))
    ok = closed >= MA10W_DAYS
    out[ok] = line[closed[ok] - 1]
    return out


def why_unknown(name: str, candles: Candles) -> str:
    """Why a candle indicator is `None`, with the measured value (a reason a trader reads)."""
    n, need = len(candles), MIN_CANDLES[name]
    if n < need:
        return f"too little history: {n} closed candles ({LABELS[name]} needs {need})"
    if name == "volume_ratio":
        *before, last = candles.volume[-VOLUME_LOOKBACK - 1 :].tolist()
        if not last > 0:
            return f"zero volume: the last closed candle traded {last:g}"
        return (f"zero volume: the {VOLUME_LOOKBACK} closed candles before the last "
                f"average {sum(before) / VOLUME_LOOKBACK:g}")
    return f"{LABELS[name]} not computable: the candles hold a non-number"


def why_ma10w_unknown(daily_close: FloatArray | None, cause: str | None = None) -> str:
    """Why MA10w is `None`: no daily candles (and why), or too few of them."""
    if daily_close is None:
        return f"no daily candles: {cause or 'none fetched'}"
    n = int(daily_close.shape[0])
    if n < MA10W_DAYS:
        return f"too little daily history: {n} closed daily candles (MA10w needs {MA10W_DAYS})"
    return "MA10w not computable: the daily candles hold a non-number"


def compute_indicators(
    candles: Candles,
    price: float | None,
    daily_close: FloatArray | None = None,
) -> Indicators:
    """Indicators from closed candles plus the live price (the ticker's, or `None`)."""
    close = candles.close
    if close.dtype != np.float64:
        close = close.astype(np.float64)
    return Indicators(
        price=price,
        rsi=rsi(close),
        ma50=sma(close, MA_SHORT),
        ma200=sma(close, MA_LONG),
        ema10=ema(close),
        atr=atr(candles.high, candles.low, close),
        volume_ratio=volume_ratio(candles.volume),
        ma10w=ma10w(daily_close),
    )
