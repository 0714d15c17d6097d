"""The alert throttle verdict and its reason string (business-rules §5.2).

State is the last *accepted* alert of a (symbol, preset) pair. A same-side alert is
throttled while the cooldown has not passed **or** the price has moved less than the
minimum change; the opposite side is never throttled and resets the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Side = Literal["BUY", "SELL"]


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """The last accepted alert of a (symbol, preset) pair."""

    side: Side
    alerted_at: datetime
    price: float


@dataclass(frozen=True, slots=True)
class ThrottleVerdict:
    allowed: bool
    reason: str
    elapsed_minutes: float | None = None
    price_change_pct: float | None = None


def measured_reason(
    elapsed_minutes: float, cooldown_minutes: float, change_pct: float, min_change_pct: float
) -> str:
    """`cooldown 2.1/5.0 min; price change 0.42/1.00 %`: both values against both limits."""
    return (
        f"cooldown {elapsed_minutes:.1f}/{cooldown_minutes:.1f} min; "
        f"price change {change_pct:.2f}/{min_change_pct:.2f} %"
    )


def throttle_verdict(
    last: ThrottleState | None,
    side: Side,
    price: float,
    now: datetime,
    cooldown_minutes: float,
    min_price_change_pct: float,
) -> ThrottleVerdict:
    """Whether a new `side` alert at `price` may be accepted at `now`, and why."""
    if last is None:
        return ThrottleVerdict(True, "first alert")
    if last.side != side:
        return ThrottleVerdict(True, f"opposite side (last alert {last.side})")
    elapsed = (now - last.alerted_at).total_seconds() / 60.0
    change = abs(price - last.price) / last.price * 100.0 if last.price > 0 else float("inf")
    reason = measured_reason(elapsed, cooldown_minutes, change, min_price_change_pct)
    # Inclusive limits: exactly the cooldown, or exactly the minimum change, is enough.
    cooled = elapsed >= cooldown_minutes
    moved = change >= min_price_change_pct - 1e-9
    return ThrottleVerdict(cooled and moved, reason, elapsed, change)


def accept(side: Side, price: float, now: datetime) -> ThrottleState:
    """The state after an alert is accepted: it replaces the pair's history, either side."""
    return ThrottleState(side=side, alerted_at=now, price=price)
