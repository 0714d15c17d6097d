"""The small interfaces through which the engine sees its adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from atp.domain.candles import Candles


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """One symbol's data for one cycle. `error` set ⇒ the symbol is unknown this cycle."""

    symbol: str
    candles: Candles | None
    price: float | None
    price_at: datetime | None
    error: str | None = None


class MarketData(Protocol):
    async def snapshot(self, symbols: Sequence[str]) -> dict[str, MarketSnapshot]:
        """Closed candles and the last price of every symbol, one entry per symbol."""
        ...


class AlertSender(Protocol):
    async def send(self, chat_id: int | str, text: str) -> int:
        """Deliver one message and return its id; raises Transient/PermanentSendError."""
        ...
