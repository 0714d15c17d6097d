"""The small interfaces through which the engine sees its adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from atp.domain.candles import Candles


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """One symbol's data for one cycle, as it came: the price with its time however old
    (the domain judges staleness), and for each missing or incomplete input its cause."""

    symbol: str
    candles: Candles | None
    price: float | None
    price_at: datetime | None
    candles_cause: str | None = None  # set ⇒ `candles` are missing or incomplete
    price_cause: str | None = None  # set ⇒ `price` is missing
    daily: Candles | None = None  # daily candles (MA10w)
    daily_cause: str | None = None

    @property
    def error(self) -> str | None:
        """The first cause of a missing input (price, candles), for display."""
        return self.price_cause or self.candles_cause


class MarketData(Protocol):
    async def snapshot(self, symbols: Sequence[str]) -> dict[str, MarketSnapshot]:
        """Closed candles and the last price of every symbol, one entry per symbol."""
        ...


class AlertSender(Protocol):
    async def send(self, chat_id: int | str, text: str) -> int:
        """Deliver one message and return its id; raises Transient/PermanentSendError."""
        ...
