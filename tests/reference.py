"""An independent, plain-Python reading of business-rules §1, §3 and §4.

Written straight from the spec without TA-Lib or atp.domain, so tests can check that the
engine and `atp analyze` agree with a second implementation on real candles.
"""

from __future__ import annotations

import math


def sma_series(values: list[float], period: int) -> list[float | None]:
    out: list[float | None] = [None] * len(values)
    for i in range(len(values)):
        if i >= period - 1:
            out[i] = math.fsum(values[i - period + 1 : i + 1]) / period
    return out


def ema_series(values: list[float], period: int) -> list[float | None]:
    out: list[float | None] = [None] * len(values)
    if len(values) < period:
        return out
    k = 2 / (period + 1)
    current = sum(values[:period]) / period
    out[period - 1] = current
    for i in range(period, len(values)):
        current = values[i] * k + current * (1 - k)
        out[i] = current
    return out


def rsi_series(close: list[float], period: int = 14) -> list[float | None]:
    out: list[float | None] = [None] * len(close)
    if len(close) <= period:
        return out
    gains = [max(close[i] - close[i - 1], 0.0) for i in range(1, len(close))]
    losses = [max(close[i - 1] - close[i], 0.0) for i in range(1, len(close))]
    avg_gain = sum(gains[:period]) / period
    avg_loss = sum(losses[:period]) / period

    def value(g: float, lo: float) -> float:
        return 100.0 if lo == 0 else 100 - 100 / (1 + g / lo)

    out[period] = value(avg_gain, avg_loss)
    for i in range(period + 1, len(close)):
        avg_gain = (avg_gain * (period - 1) + gains[i - 1]) / period
        avg_loss = (avg_loss * (period - 1) + losses[i - 1]) / period
        out[i] = value(avg_gain, avg_loss)
    return out


def atr_series(
    high: list[float], low: list[float], close: list[float], period: int = 14
) -> list[float | None]:
    out: list[float | None] = [None] * len(close)
    if len(close) <= period:
        return out
    tr = [
        max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        for i in range(1, len(close))
    ]
    current = sum(tr[:period]) / period
    out[period] = current
    for i in range(period + 1, len(close)):
        current = (current * (period - 1) + tr[i - 1]) / period
        out[i] = current
    return out


def volume_ratio_at(volume: list[float], i: int) -> float | None:
    if i < 5:
        return None
    avg = sum(volume[i - 5 : i]) / 5
    if volume[i] <= 0 or avg <= 0:
        return None
    return volume[i] / avg


PRESETS = {
    # name: (buy below, sell above, ema10, ma50, ma200, ema10-only tolerance %)
    "swing-conservative": (40, 70, True, True, True, 0.5),
    "swing-aggressive": (45, 68, True, True, True, 0.5),
    "intraday-conservative": (45, 70, True, True, False, 0.5),
    "intraday-aggressive": (50, 65, True, True, False, 0.5),
    "scalp-conservative": (50, 70, True, False, False, 5.0),
    "scalp-aggressive": (55, 65, False, False, False, 5.0),
}


def _and3(values: list[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def reference_decision(
    preset: str,
    price: float | None,
    rsi: float | None,
    ma50: float | None,
    ma200: float | None,
    ema10: float | None,
    vol_ratio: float | None,
) -> tuple[str, dict[str, bool | None]]:
    """Flags and decision per business-rules §3–§4 (no buy target, no MA10w)."""
    buy_below, sell_above, c_ema, c_ma50, c_ma200, tol = PRESETS[preset]
    eps = 1e-9

    def ge(a: float | None, b: float | None) -> bool | None:
        return None if a is None or b is None else a >= b * (1 - eps)

    ma_checks: list[bool | None] = []
    if c_ma50 and c_ema:
        if ma50 is None or ema10 is None:
            ma_checks.append(None)
        else:
            ma_checks.append(ma50 > ema10 or abs(ma50 - ema10) <= 0.0005 * ema10 * (1 + eps))
    elif c_ma50:
        ma_checks.append(ge(price, None if ma50 is None else ma50 * 0.995))
    elif c_ema:
        ma_checks.append(ge(price, None if ema10 is None else ema10 * (1 - tol / 100)))
    if c_ma200:
        ma_checks.append(ge(price, None if ma200 is None else ma200 * 0.995))
    flags: dict[str, bool | None] = {
        "buy_rsi_ok": None if rsi is None else rsi < buy_below,
        "buy_ma_ok": _and3(ma_checks),
        "buy_volume_ok": None if vol_ratio is None else vol_ratio >= 0.5 * (1 - eps),
        "buy_target_ok": True,
        "buy_price_ok": None if price is None else price > 0,
        "sell_rsi_ok": None if rsi is None else rsi > sell_above,
    }
    if not c_ma50:
        flags["sell_trend_ok"] = True
    elif ema10 is None or ma50 is None:
        flags["sell_trend_ok"] = None
    else:
        # MA10w is unknown without daily candles: a failing EMA side leaves the OR unknown.
        flags["sell_trend_ok"] = True if ema10 >= ma50 * 1.005 * (1 - eps) else None
    flags["sell_volume_ok"] = flags["buy_volume_ok"]
    buy = all(flags[k] is True for k in list(flags)[:5])
    sell = not buy and all(flags[k] is True for k in list(flags)[5:])
    return ("BUY" if buy else "SELL" if sell else "WAIT"), flags
