"""Every time limit the platform derives from its settings, computed in one place.

"Two monitor intervals" is the business rule for a stale price (business-rules §1) and the
health verdict's "no cycle for too long"; before this module it was recomputed in four
places, so changing the interval could make them disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

DAILY_CANDLES = 75  # MA10w = SMA(70) of daily closes, plus a few days of margin
DAILY_REFRESH_SECONDS = 86_400.0  # a daily candle closes once a day
UNKNOWN_WARN_AFTER_SECONDS = 600.0  # `atp check` warns on a symbol unknown this long


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one monitor interval; build them with `limits()`."""

    interval_seconds: float
    price_max_age_seconds: float  # an older (or as far future) price is unknown
    cycle_stale_after_seconds: float  # no finished cycle for this long: health degraded
    # A BUY/SELL decision found without outcome at start: younger ones still alert, older
    # ones are ABANDONED (an alert about a price this old would mislead).
    orphan_max_age_seconds: float
    daily_candles: int = DAILY_CANDLES
    daily_refresh_seconds: float = DAILY_REFRESH_SECONDS
    unknown_warn_after_seconds: float = UNKNOWN_WARN_AFTER_SECONDS


def limits(interval_seconds: float) -> Limits:
    """The limits for a monitor that cycles every `interval_seconds`."""
    if not interval_seconds > 0:
        raise ValueError(f"interval_seconds must be > 0, not {interval_seconds!r}")
    two = 2.0 * interval_seconds
    return Limits(interval_seconds=interval_seconds, price_max_age_seconds=two,
                  cycle_stale_after_seconds=two, orphan_max_age_seconds=two)
