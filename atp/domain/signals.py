"""BUY flags, SELL flags, the decision, `buy_index` and reasons (business-rules §1, §3–§4).

Every flag is three-valued: `True`, `False`, or `None` when an input it needs is unknown.
Only all-`True` flags make a BUY or SELL: missing data is never "OK". Each flag is its own
function, named as in the spec, so a rule is changed in one place.

`evaluate` is the one entry point: it also receives inputs that are missing (no candles, no
price, and why) and turns them into a WAIT whose reasons and `unknown_inputs` name the
input and its cause with the measured value — the monitor never special-cases them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from atp.domain.candles import Candles, FloatArray
from atp.domain.indicators import (
    CANDLE_INDICATORS,
    Indicators,
    compute_indicators,
    why_ma10w_unknown,
    why_unknown,
)
from atp.domain.presets import Preset
from atp.domain.throttle import Side

DecisionKind = Literal["BUY", "SELL", "WAIT"]

FLAT_MARKET_PCT = 0.05  # |MA50 − EMA10| within this % of EMA10 counts as flat (§3.2)
MA_TOLERANCE_PCT = 0.5  # price may sit this far below MA50 / MA200 (§3.2)
SELL_TREND_GAP_PCT = 0.5  # EMA10 must be this far above MA50 for a SELL trend (§4.2)

BUY_FLAGS = ("buy_rsi_ok", "buy_ma_ok", "buy_volume_ok", "buy_target_ok", "buy_price_ok")
SELL_FLAGS = ("sell_rsi_ok", "sell_trend_ok", "sell_volume_ok")
FLAG_NAMES = BUY_FLAGS + SELL_FLAGS


class Check(NamedTuple):
    """One flag's value and, when it is not `True`, the one-line reason why; `missing`
    names the unknown inputs that made it `None`."""

    value: bool | None
    reason: str | None = None
    missing: tuple[str, ...] = ()


OK = Check(True)


def _at_least(value: float, bound: float) -> bool:
    """`value ≥ bound`, inclusive despite float rounding of the inputs (boundaries are spec)."""
    return value >= bound - 1e-12 * abs(bound)


def _fmt(value: float) -> str:
    return f"{value:.8g}"


def _unknown(flag: str, *inputs: str) -> Check:
    return Check(None, f"{flag} unknown: {', '.join(inputs)} unknown", inputs)


# ── BUY (§3) ───────────────────────────────────────────────────────────────────────────


def rsi_buys(rsi: Any, preset: Preset) -> Any:
    """The RSI side of a BUY (§3.1): below the preset's bound. Works on one value and on a
    whole numpy series alike (`may_act`), so the comparison is written once."""
    return rsi < preset.rsi_buy_below


def rsi_sells(rsi: Any, preset: Preset) -> Any:
    """The RSI side of a SELL (§4.1): above the preset's bound (one value or a series)."""
    return rsi > preset.rsi_sell_above


def may_act(rsi: FloatArray, preset: Preset) -> npt.NDArray[np.bool_]:
    """Where a decision can be other than WAIT, from an RSI series alone (NaN = unknown):
    a BUY needs `buy_rsi_ok` and a SELL `sell_rsi_ok`, so elsewhere `decide` is WAIT.
    A backtest evaluates only these candles (bench/backtest_speed.py)."""
    with np.errstate(invalid="ignore"):
        mask: npt.NDArray[np.bool_] = rsi_buys(rsi, preset) | rsi_sells(rsi, preset)
    return mask


def buy_rsi_ok(ind: Indicators, preset: Preset) -> Check:
    if ind.rsi is None:
        return _unknown("buy_rsi_ok", "rsi")
    if rsi_buys(ind.rsi, preset):
        return OK
    return Check(False, f"buy_rsi_ok: RSI {ind.rsi:.2f} not below {preset.rsi_buy_below:g}")


def _ma50_vs_ema10(ind: Indicators) -> Check:
    if ind.ma50 is None or ind.ema10 is None:
        missing = [n for n, v in (("ma50", ind.ma50), ("ema10", ind.ema10)) if v is None]
        return _unknown("buy_ma_ok", *missing)
    gap = abs(ind.ma50 - ind.ema10)
    if ind.ma50 > ind.ema10 or _at_least(FLAT_MARKET_PCT / 100 * ind.ema10, gap):
        return OK
    return Check(
        False,
        f"buy_ma_ok: MA50 {_fmt(ind.ma50)} below EMA10 {_fmt(ind.ema10)} "
        f"by more than {FLAT_MARKET_PCT:g} %",
    )


def _price_vs(name: str, average: float | None, price: float | None, tol_pct: float) -> Check:
    if average is None or price is None:
        missing = [n for n, v in ((name.lower(), average), ("price", price)) if v is None]
        return _unknown("buy_ma_ok", *missing)
    if _at_least(price, average * (1 - tol_pct / 100)):
        return OK
    return Check(
        False,
        f"buy_ma_ok: price {_fmt(price)} more than {tol_pct:g} % below {name} {_fmt(average)}",
    )


def combine(checks: Iterable[Check]) -> Check:
    """Three-valued AND: any `False` wins, else any `None` (naming every unknown), else `True`."""
    unknown: list[str] = []
    missing: list[str] = []
    for check in checks:
        if check.value is False:
            return check
        if check.value is None and check.reason is not None:
            unknown.append(check.reason)
            missing.extend(m for m in check.missing if m not in missing)
    return Check(None, "; ".join(unknown), tuple(missing)) if unknown else OK


def buy_ma_ok(ind: Indicators, preset: Preset) -> Check:
    """The MA50 / EMA10 comparison the preset checks, AND price vs MA200 when checked.
    Evaluated in order so a first `False` (which `combine` would return) costs no second
    reason string: a backtest calls this once per candle."""
    first: Check | None = None
    if preset.check_ma50 and preset.check_ema10:
        first = _ma50_vs_ema10(ind)
    elif preset.check_ma50:
        first = _price_vs("MA50", ind.ma50, ind.price, MA_TOLERANCE_PCT)
    elif preset.check_ema10:
        first = _price_vs("EMA10", ind.ema10, ind.price, preset.ema10_tolerance_pct)
    if first is not None and first.value is False:
        return first
    if not preset.check_ma200:
        return OK if first is None else first  # combine() of one check is that check
    second = _price_vs("MA200", ind.ma200, ind.price, MA_TOLERANCE_PCT)
    return second if first is None else combine((first, second))


def _volume_ok(flag: str, ind: Indicators, preset: Preset) -> Check:
    if ind.volume_ratio is None:
        return _unknown(flag, "volume_ratio")
    if _at_least(ind.volume_ratio, preset.min_volume_ratio):
        return OK
    return Check(
        False, f"{flag}: volume ratio {ind.volume_ratio:.2f} below {preset.min_volume_ratio:g}"
    )


def buy_volume_ok(ind: Indicators, preset: Preset) -> Check:
    return _volume_ok("buy_volume_ok", ind, preset)


def buy_target_ok(ind: Indicators, buy_target: float | None) -> Check:
    if buy_target is None:
        return OK
    if ind.price is None:
        return _unknown("buy_target_ok", "price")
    if _at_least(buy_target, ind.price):
        return OK
    return Check(
        False, f"buy_target_ok: price {_fmt(ind.price)} above buy target {_fmt(buy_target)}"
    )


def buy_price_ok(ind: Indicators) -> Check:
    if ind.price is None:
        return _unknown("buy_price_ok", "price")
    if ind.price > 0:
        return OK
    return Check(False, f"buy_price_ok: price {_fmt(ind.price)} is not positive")


# ── SELL (§4) ──────────────────────────────────────────────────────────────────────────


def sell_rsi_ok(ind: Indicators, preset: Preset) -> Check:
    if ind.rsi is None:
        return _unknown("sell_rsi_ok", "rsi")
    if rsi_sells(ind.rsi, preset):
        return OK
    return Check(False, f"sell_rsi_ok: RSI {ind.rsi:.2f} not above {preset.rsi_sell_above:g}")


def sell_trend_ok(ind: Indicators, preset: Preset) -> Check:
    """EMA10 ≥ MA50 × 1.005, or price < MA10w; three-valued OR of the two sides."""
    if not preset.check_ma50:
        return OK
    if ind.ema10 is None or ind.ma50 is None:
        ema_side: bool | None = None
    else:
        ema_side = _at_least(ind.ema10, ind.ma50 * (1 + SELL_TREND_GAP_PCT / 100))
    if ind.price is None or ind.ma10w is None:
        ma10w_side: bool | None = None
    else:
        ma10w_side = ind.price < ind.ma10w
    if ema_side or ma10w_side:
        return OK
    if ema_side is False and ma10w_side is False:
        return Check(
            False,
            f"sell_trend_ok: EMA10 {_fmt(ind.ema10 or 0)} not {SELL_TREND_GAP_PCT:g} % above "
            f"MA50 {_fmt(ind.ma50 or 0)} and price not below MA10w",
        )
    missing = [
        n
        for n, v in (("ema10", ind.ema10), ("ma50", ind.ma50), ("price", ind.price),
                     ("ma10w", ind.ma10w))
        if v is None
    ]
    detail = "" if ema_side is None else " (EMA10 not 0.5 % above MA50)"
    return Check(None, f"sell_trend_ok unknown: {', '.join(missing)} unknown{detail}",
                 tuple(missing))


def sell_volume_ok(ind: Indicators, preset: Preset) -> Check:
    return _volume_ok("sell_volume_ok", ind, preset)


# ── The decision ───────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Decision:
    """What the engine decided for one symbol, with everything needed to explain it."""

    decision: DecisionKind
    flags: dict[str, bool | None]
    indicators: Indicators
    buy_index: int
    reasons: tuple[str, ...]
    preset: str
    # The unknown inputs that kept a flag at `None` (or held a decision back), each with
    # its cause: {"price": "price stale: 74 s old (limit 60 s)"}. Empty = nothing unknown.
    unknown_inputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def side(self) -> Side | None:
        return None if self.decision == "WAIT" else self.decision

    def to_dict(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "buy_index": self.buy_index,
            "flags": dict(self.flags),
            "indicators": self.indicators.to_dict(),
            "reasons": list(self.reasons),
            "preset": self.preset,
            "unknown_inputs": dict(self.unknown_inputs),
        }


def buy_index(buy_flags: Iterable[bool | None]) -> int:
    """Progress toward a BUY: share of the five BUY flags that are `True`, in percent."""
    return round(100 * sum(1 for f in buy_flags if f is True) / len(BUY_FLAGS))


def _checks(ind: Indicators, preset: Preset, buy_target: float | None) -> tuple[Check, ...]:
    """The eight flags in `FLAG_NAMES` order."""
    return (
        buy_rsi_ok(ind, preset),
        buy_ma_ok(ind, preset),
        buy_volume_ok(ind, preset),
        buy_target_ok(ind, buy_target),
        buy_price_ok(ind),
        sell_rsi_ok(ind, preset),
        sell_trend_ok(ind, preset),
        sell_volume_ok(ind, preset),
    )


class _Verdict(NamedTuple):
    kind: DecisionKind
    flags: dict[str, bool | None]
    buy_index: int
    reasons: list[str]
    missing: list[str]  # unknown inputs, first-seen order, may repeat


def _verdict(ind: Indicators, checks: tuple[Check, ...]) -> _Verdict:
    """BUY ⇔ all five BUY flags are `True`; SELL ⇔ all three SELL flags, not BUY, and a
    known price (an unknown price makes the decision WAIT, §1: nothing is acted on blind).
    Written for speed (a backtest calls it once per candle): plain loops, no generators."""
    values: list[bool | None] = []
    reasons: list[str] = []
    missing: list[str] = []
    for value, reason, names in checks:
        values.append(value)
        if reason is not None:
            reasons.append(reason)
        if value is None and names:
            missing.extend(names)
    buys = values[:5].count(True)  # flags are True / False / None only
    buy = buys == 5
    sell_flags = not buy and values[5:].count(True) == 3
    sell = sell_flags and ind.price is not None
    kind: DecisionKind = "BUY" if buy else "SELL" if sell else "WAIT"
    if sell_flags and not sell:
        reasons.append("SELL held back: price unknown")
        missing.append("price")
    return _Verdict(kind, dict(zip(FLAG_NAMES, values, strict=True)),
                    round(100 * buys / len(BUY_FLAGS)), reasons, missing)


def decide(ind: Indicators, preset: Preset, buy_target: float | None = None) -> Decision:
    """BUY ⇔ all five BUY flags are `True`; SELL ⇔ all three SELL flags, not BUY, and a
    known price (an unknown price makes the decision WAIT, §1: nothing is acted on blind)."""
    v = _verdict(ind, _checks(ind, preset, buy_target))
    return Decision(
        decision=v.kind,
        flags=v.flags,
        indicators=ind,
        buy_index=v.buy_index,
        reasons=tuple(v.reasons),
        preset=preset.name,
        unknown_inputs={m: f"{m} unknown" for m in dict.fromkeys(v.missing)},
    )


def price_problem(
    price: float | None,
    price_at: datetime | None,
    now: datetime,
    max_age_seconds: float,
    cause: str | None = None,
) -> str | None:
    """Why the live price is unknown (absent, invalid, stale, from the future), or `None`
    when it may be used. Older than `max_age_seconds` (2 monitor intervals) is stale (§1)."""
    if price is None:
        return f"no price: {cause or 'none received'}"
    if not (math.isfinite(price) and price > 0):
        return f"price invalid: {price:g} (must be a number > 0)"
    if price_at is None:
        return "price has no timestamp"
    age = (now - price_at).total_seconds()
    if age > max_age_seconds:
        return f"price stale: {age:.0f} s old (limit {max_age_seconds:g} s)"
    if age < -max_age_seconds:
        return (f"price from the future: {-age:.0f} s ahead (limit {max_age_seconds:g} s); "
                "check the host clock")
    return None


def evaluate(
    candles: Candles | None,
    preset: Preset,
    *,
    price: float | None,
    price_at: datetime | None,
    now: datetime,
    max_price_age_seconds: float = 60.0,
    buy_target: float | None = None,
    daily_close: FloatArray | None = None,
    price_cause: str | None = None,
    candles_cause: str | None = None,
    daily_cause: str | None = None,
    preset_cause: str | None = None,
    indicators: Indicators | None = None,
) -> Decision:
    """Indicators + decision for one symbol: the single entry point every caller uses.

    Missing inputs come with their cause: `candles=None` (or `candles_cause` set: the
    candles are incomplete) with `candles_cause`, `price=None` with `price_cause`, no
    daily candles with `daily_cause`; `preset_cause` says the strategy itself is invalid
    (bad per-symbol overrides). Each gives WAIT with the cause in the reasons.

    `indicators`: the indicators of these `candles` (and `daily_close`) already computed,
    e.g. by a backtest from `indicator_series` (same values); their `price` is replaced by
    the checked `price`, and `candles` is then read only to explain an unknown value.
    """
    why_price = price_problem(price, price_at, now, max_price_age_seconds, price_cause)
    usable = candles if candles is not None and candles_cause is None else None
    checked = None if why_price is not None else price
    if indicators is None or usable is None:
        ind = compute_indicators(usable if usable is not None else Candles.empty(), checked,
                                 daily_close)
    elif indicators.price is checked or indicators.price == checked:
        ind = indicators
    else:
        ind = replace(indicators, price=checked)
    if preset_cause is not None:
        return Decision("WAIT", dict.fromkeys(FLAG_NAMES), ind, 0, (preset_cause,),
                        preset.name, {"overrides": preset_cause})
    v = _verdict(ind, _checks(ind, preset, buy_target))
    if not v.missing:
        return Decision(v.kind, v.flags, ind, v.buy_index, tuple(v.reasons), preset.name, {})
    unknown: dict[str, str] = {}
    for name in dict.fromkeys(v.missing):
        key = "candles" if usable is None and name in CANDLE_INDICATORS else name
        unknown.setdefault(key, _cause(name, ind, usable, candles, candles_cause, why_price,
                                       daily_close, daily_cause))
    extra = tuple(c for c in dict.fromkeys(unknown.values()) if c not in v.reasons)
    return Decision(v.kind, v.flags, ind, v.buy_index, (*v.reasons, *extra), preset.name,
                    unknown)


def _cause(name: str, ind: Indicators, usable: Candles | None, candles: Candles | None,
           candles_cause: str | None, why_price: str | None, daily_close: FloatArray | None,
           daily_cause: str | None) -> str:
    """Why input `name` is unknown, with the measured value (only asked for unknown ones)."""
    if name == "price" and why_price is not None:
        return why_price
    if name in CANDLE_INDICATORS and getattr(ind, name) is None:
        if usable is None:
            return (f"no candles: {candles_cause or 'none received'}" if candles is None
                    else f"candles unusable: {candles_cause}")
        return why_unknown(name, usable)
    if name == "ma10w" and ind.ma10w is None:
        return why_ma10w_unknown(daily_close, daily_cause)
    return f"{name} unknown"
