"""The six strategy presets (business-rules §2) and per-symbol overrides.

A preset is plain data; the rules in `signals.py` and `throttle.py` read it. Overrides are
validated here so the API, the dashboard, Telegram and the database share one validator.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from atp.domain.errors import FieldError

Risk = Literal["conservative", "aggressive"]


@dataclass(frozen=True, slots=True)
class Preset:
    """Thresholds of one strategy type × risk approach. Every value is editable."""

    name: str
    rsi_buy_below: float
    rsi_sell_above: float
    check_ema10: bool
    check_ma50: bool
    check_ma200: bool
    risk: Risk
    # Tolerance for "price ≥ EMA10 × (1 − t)" when EMA10 is checked without MA50 (§3.2).
    ema10_tolerance_pct: float = 0.5
    min_volume_ratio: float = 0.5
    cooldown_minutes: float = 5.0
    min_price_change_pct: float = 1.0
    # Order protection (§6): fixed-percent levels; ATP levels are multiples of ATR.
    sl_pct: float = 3.0
    tp_pct: float = 3.0
    sl_atr_mult: float = 2.0
    tp_atr_mult: float = 3.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _preset(name: str, buy: float, sell: float, ema: bool, ma50: bool, ma200: bool) -> Preset:
    risk: Risk = "aggressive" if name.endswith("aggressive") else "conservative"
    aggressive = risk == "aggressive"
    return Preset(
        name=name,
        rsi_buy_below=buy,
        rsi_sell_above=sell,
        check_ema10=ema,
        check_ma50=ma50,
        check_ma200=ma200,
        risk=risk,
        ema10_tolerance_pct=5.0 if name.startswith("scalp") else 0.5,
        sl_pct=2.0 if aggressive else 3.0,
        tp_pct=2.0 if aggressive else 3.0,
        sl_atr_mult=1.0 if aggressive else 2.0,
        tp_atr_mult=2.0 if aggressive else 3.0,
    )


DEFAULT_PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _preset("swing-conservative", 40, 70, True, True, True),
        _preset("swing-aggressive", 45, 68, True, True, True),
        _preset("intraday-conservative", 45, 70, True, True, False),
        _preset("intraday-aggressive", 50, 65, True, True, False),
        _preset("scalp-conservative", 50, 70, True, False, False),
        _preset("scalp-aggressive", 55, 65, False, False, False),
    )
}

PRESET_NAMES: tuple[str, ...] = tuple(DEFAULT_PRESETS)

# Fields a watchlist row may override (everything but the name).
OVERRIDABLE: frozenset[str] = frozenset(f.name for f in fields(Preset)) - {"name"}

# The one source of every numeric field's range (the API schema publishes the same bounds).
NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "rsi_buy_below": (0.0, 100.0),
    "rsi_sell_above": (0.0, 100.0),
    "ema10_tolerance_pct": (0.0, 50.0),
    "min_volume_ratio": (0.0, 100.0),
    "cooldown_minutes": (0.0, 7 * 24 * 60.0),
    "min_price_change_pct": (0.0, 100.0),
    "sl_pct": (0.0, 100.0),
    "tp_pct": (0.0, 1000.0),
    "sl_atr_mult": (0.0, 100.0),
    "tp_atr_mult": (0.0, 100.0),
}
BOOL_FIELDS = frozenset({"check_ema10", "check_ma50", "check_ma200"})
RISKS: tuple[Risk, ...] = ("conservative", "aggressive")
NOT_FINITE = "must be a finite number (NaN, Infinity and overflowing values like 1e999 are refused)"


class PresetError(FieldError):
    """One or more bad preset fields; `problems` maps field → why."""


def _number(value: Any) -> float | str:
    """The value as a finite float, or why it is not one (a bool is not a number here:
    `true` stored as 1.0 would silently change a threshold)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return NOT_FINITE
    return number if math.isfinite(number) else NOT_FINITE


def validate_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check a mapping of preset fields; returns it normalised or raises `PresetError`."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in OVERRIDABLE:
            problems[key] = f"unknown field (allowed: {', '.join(sorted(OVERRIDABLE))})"
        elif key in BOOL_FIELDS:
            if not isinstance(value, bool):
                problems[key] = "must be true or false"
            else:
                clean[key] = value
        elif key == "risk":
            if value not in RISKS:
                problems[key] = "must be 'conservative' or 'aggressive'"
            else:
                clean[key] = value
        else:
            number = _number(value)
            if isinstance(number, str):
                problems[key] = number
                continue
            low, high = NUMERIC_RANGES[key]
            if not low <= number <= high:
                problems[key] = f"must be between {low:g} and {high:g}"
            else:
                clean[key] = number
    if problems:
        raise PresetError(problems)
    return clean


def _check_rsi_order(preset: Preset, changed: Collection[str]) -> None:
    """Buy below must stay under sell above (business-rules §2); the error names the
    field the write changed, so the caller sees which of its values to fix."""
    if preset.rsi_buy_below < preset.rsi_sell_above:
        return
    buy, sell = preset.rsi_buy_below, preset.rsi_sell_above
    problems: dict[str, str] = {}
    if "rsi_buy_below" in changed or "rsi_sell_above" not in changed:
        problems["rsi_buy_below"] = f"{buy:g} must be below rsi_sell_above ({sell:g})"
    if "rsi_sell_above" in changed:
        problems["rsi_sell_above"] = f"{sell:g} must be above rsi_buy_below ({buy:g})"
    raise PresetError(problems)


def apply_overrides(preset: Preset, overrides: Mapping[str, Any] | None) -> Preset:
    """The one validator of every preset write: a preset edit and a symbol's overrides
    alike are `overrides` on top of `preset`. Each value is type-, finiteness- and
    range-checked, then the result's cross-field rules; raises `PresetError` naming the
    fields, else returns the preset the write produces (the name unchanged)."""
    if not overrides:
        return preset
    result = replace(preset, **validate_values(overrides))
    _check_rsi_order(result, overrides.keys())
    return result
