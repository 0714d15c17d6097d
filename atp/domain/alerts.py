"""Which alert outcome a BUY/SELL decision gets before the throttle (business-rules §5.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from atp.domain.throttle import Side

Outcome = Literal["BLOCKED", "THROTTLED", "PENDING", "SENT", "FAILED", "ABANDONED"]
OUTCOMES: tuple[Outcome, ...] = ("BLOCKED", "THROTTLED", "PENDING", "SENT", "FAILED",
                               "ABANDONED")


@dataclass(frozen=True, slots=True)
class AlertFlags:
    """A watchlist row's alert switches; never `None` (failure mode 2)."""

    alert_enabled: bool = True
    buy_alert_enabled: bool = True
    sell_alert_enabled: bool = True


def blocking_flag(flags: AlertFlags, side: Side) -> str | None:
    """The name of the flag that blocks a `side` alert, or `None` when alerts may go."""
    if not flags.alert_enabled:
        return "alert_enabled"
    if side == "BUY" and not flags.buy_alert_enabled:
        return "buy_alert_enabled"
    if side == "SELL" and not flags.sell_alert_enabled:
        return "sell_alert_enabled"
    return None


def is_new_signal(previous: str | None, current: str) -> bool:
    """Whether a decision differs from the symbol's previous one (BLOCKED once per change)."""
    return previous != current
