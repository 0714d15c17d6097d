"""The six strategy presets (business-rules §2) and per-symbol overrides.

A preset is plain data; the rules in `signals.py` and `throttle.py` read it. Overrides are
validated here so the API, the dashboard, Telegram and the database share one validator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

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

_NUMERIC_RANGES: dict[str, tuple[float, float]] = {
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
_BOOLS = frozenset({"check_ema10", "check_ma50", "check_ma200"})


class PresetError(ValueError):
    """One or more bad preset fields; `problems` maps field → why."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


def validate_values(values: dict[str, Any]) -> dict[str, Any]:
    """Check a mapping of preset fields; returns it normalised or raises `PresetError`."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in OVERRIDABLE:
            problems[key] = f"unknown field (allowed: {', '.join(sorted(OVERRIDABLE))})"
        elif key in _BOOLS:
            if not isinstance(value, bool):
                problems[key] = "must be true or false"
            else:
                clean[key] = value
        elif key == "risk":
            if value not in ("conservative", "aggressive"):
                problems[key] = "must be 'conservative' or 'aggressive'"
            else:
                clean[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems[key] = "must be a number"
                continue
            low, high = _NUMERIC_RANGES[key]
            if not low <= float(value) <= high:
                problems[key] = f"must be between {low:g} and {high:g}"
            else:
                clean[key] = float(value)
    if problems:
        raise PresetError(problems)
    return clean


def apply_overrides(preset: Preset, overrides: dict[str, Any] | None) -> Preset:
    """The preset a symbol actually uses: its preset with its validated overrides on top."""
    if not overrides:
        return preset
    result = replace(preset, **validate_values(overrides))
    if result.rsi_buy_below >= result.rsi_sell_above:
        raise PresetError(
            {"rsi_buy_below": f"must be below rsi_sell_above ({result.rsi_sell_above:g})"}
        )
    return result


def preset_from_dict(data: dict[str, Any]) -> Preset:
    """Rebuild a preset from stored values (the database row or JSON)."""
    name = str(data["name"])
    base = DEFAULT_PRESETS.get(name) or DEFAULT_PRESETS["swing-conservative"]
    values = {k: v for k, v in data.items() if k in OVERRIDABLE and v is not None}
    return replace(apply_overrides(base, values), name=name)
