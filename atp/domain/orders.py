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
    gate: str = ""  # which gate blocked: amount | open_buys | cooldown | price_change | exposure


def _num(value: float) -> str:
    """A price or amount as people read it: no trailing zeros, at most 8 decimals."""
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return text or "0"


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
    """Whether a BUY order intent for `base` may go ahead; the first failing gate says why,
    with the measured value next to its limit (`open BUYs in ETH 3/3`), so a refused
    intent explains itself in the record. `open_buys` are the open BUY positions in
    `base`, `last_buy_at` the last BUY order placed in `base` (open or not), and
    `holdings_usd` what is held in `base` beyond those positions."""
    if trade_amount_usd <= 0:
        return Gate(False, f"trade amount {_num(trade_amount_usd)} USD is not positive",
                    "amount")
    if len(open_buys) >= MAX_OPEN_BUYS:
        return Gate(False, f"open BUYs in {base} {len(open_buys)}/{MAX_OPEN_BUYS}", "open_buys")
    cooldown = BUY_COOLDOWN.total_seconds() / 60
    if last_buy_at is not None and now - last_buy_at < BUY_COOLDOWN:
        minutes = max(0.0, (now - last_buy_at).total_seconds() / 60)
        return Gate(False, f"last BUY {minutes:.1f}/{cooldown:.1f} min ago", "cooldown")
    if open_buys:
        last = max(open_buys, key=lambda b: b.placed_at)
        change = abs(price - last.price) / last.price * 100 if last.price > 0 else math.inf
        if change + 1e-9 < min_price_change_pct:
            return Gate(
                False,
                f"price change {change:.2f}/{min_price_change_pct:.2f} % from last BUY "
                f"{_num(last.price)}",
                "price_change",
            )
    # with this BUY: the exposure the order would leave, against its limit
    exposure = holdings_usd + sum(b.value_usd for b in open_buys) + trade_amount_usd
    limit = EXPOSURE_MULTIPLE * trade_amount_usd
    if exposure > limit + 1e-9:
        return Gate(False, f"exposure {exposure:.0f}/{limit:.0f} USD", "exposure")
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


MAX_CLIENT_OID = 36  # the exchange refuses longer client_oid values


def client_order_id(decision_id: str, leg: str = "entry") -> str:
    """Deterministic per decision and leg, so a retried order can never be placed twice
    (32 characters, inside the exchange's 36)."""
    digest = hashlib.sha256(f"{decision_id}:{leg}".encode()).hexdigest()[:28]
    return f"atp-{digest}"


def protection_oids(entry_oid: str, attempt: int) -> tuple[str, str]:
    """The SL and TP leg ids of the `attempt`-th protection of an entry: fixed per attempt,
    so a retry after a lost answer finds the pair it may already have placed."""
    return (client_order_id(entry_oid, f"sl{attempt}"), client_order_id(entry_oid, f"tp{attempt}"))


def protection_backoff_seconds(attempt: int) -> float:
    """5, 10, 20 … 300 s between attempts to protect a filled entry."""
    return float(min(300.0, 5.0 * 2 ** max(0, attempt - 1)))


def floor_quantity(quantity: float, tick: float) -> float:
    """A quantity the exchange accepts: rounded DOWN to its tick (never sell more than held)."""
    if tick <= 0:
        return quantity
    return _floor_tick(quantity, tick)


def round_price(value: float, tick: float) -> float:
    """A price on the instrument's tick grid (nearest)."""
    if tick <= 0:
        return value
    return round(round(value / tick) * tick, 12)
