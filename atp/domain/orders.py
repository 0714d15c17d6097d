"""Order rules (business-rules §6): gates, protection levels, client order ids.

Pure functions: the trader service gathers positions and prices, these decide. A gate that
blocks says why, so every refused order intent is recorded with its reason.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from atp.domain.presets import Preset

MAX_OPEN_BUYS = 3
BUY_COOLDOWN = timedelta(minutes=5)
EXPOSURE_MULTIPLE = 3.0


@dataclass(frozen=True, slots=True)
class OpenBuy:
    """An open BUY position in a base currency."""

    price: float
    placed_at: datetime
    value_usd: float


@dataclass(frozen=True, slots=True)
class Gate:
    allowed: bool
    reason: str


def buy_gate(
    *,
    base: str,
    price: float,
    now: datetime,
    open_buys: Sequence[OpenBuy],
    last_buy_at: datetime | None,
    holdings_usd: float,
    trade_amount_usd: float,
    min_price_change_pct: float,
) -> Gate:
    """Whether a BUY order intent for `base` may go ahead; the first failing gate says why."""
    if trade_amount_usd <= 0:
        return Gate(False, "trade_amount_usd is not positive")
    if len(open_buys) >= MAX_OPEN_BUYS:
        return Gate(False, f"{len(open_buys)} open BUY positions in {base} (max {MAX_OPEN_BUYS})")
    if last_buy_at is not None and now - last_buy_at < BUY_COOLDOWN:
        minutes = (now - last_buy_at).total_seconds() / 60
        return Gate(False, f"BUY order for {base} {minutes:.1f} min ago (min 5 min)")
    if open_buys:
        last = max(open_buys, key=lambda b: b.placed_at)
        change = abs(price - last.price) / last.price * 100
        if change < min_price_change_pct:
            return Gate(
                False,
                f"price {change:.2f} % from last open BUY (min {min_price_change_pct:.2f} %)",
            )
    exposure = holdings_usd + sum(b.value_usd for b in open_buys) + trade_amount_usd
    limit = EXPOSURE_MULTIPLE * trade_amount_usd
    if exposure > limit + 1e-9:
        return Gate(False, f"exposure in {base} would be {exposure:.2f} USD > {limit:.2f} USD")
    return Gate(True, "all gates passed")


@dataclass(frozen=True, slots=True)
class Protection:
    stop_loss: float
    take_profit: float


def _floor_tick(value: float, tick: float) -> float:
    return round(math.floor(value / tick + 1e-9) * tick, 12)


def _ceil_tick(value: float, tick: float) -> float:
    return round(math.ceil(value / tick - 1e-9) * tick, 12)


def protection_levels(
    entry: float, atr: float | None, preset: Preset, tick_size: float
) -> Protection:
    """SL/TP after a BUY fills: the wider of the percent and ATR levels, on the tick grid."""
    sl = entry * (1 - preset.sl_pct / 100)
    tp = entry * (1 + preset.tp_pct / 100)
    if atr is not None and atr > 0:
        sl = min(sl, entry - preset.sl_atr_mult * atr)
        tp = max(tp, entry + preset.tp_atr_mult * atr)
    sl = max(sl, tick_size)
    return Protection(_floor_tick(sl, tick_size), _ceil_tick(tp, tick_size))


def client_order_id(decision_id: str, leg: str = "entry") -> str:
    """Deterministic per decision and leg, so a retried order can never be placed twice."""
    digest = hashlib.sha256(f"{decision_id}:{leg}".encode()).hexdigest()[:28]
    return f"atp-{digest}"
