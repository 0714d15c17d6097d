"""The small interfaces through which the engine sees its adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from atp.domain.candles import Candles
from atp.domain.trading import (
    BrokerMode,
    InstrumentRules,
    MarketOrder,
    OrderState,
    ProtectionOrder,
    ProtectionState,
)


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


class TelegramProbe(Protocol):
    """Optional on a sender: `probe()` asks getMe now and raises a SendError if Telegram
    does not answer. The outbox asks it before sending a possible repeat."""

    async def probe(self) -> None: ...


class Broker(Protocol):
    """Where orders go: the paper broker in dry run, the exchange when live. Same answers
    (`atp.domain.trading`), so the trader cannot tell them apart and no rule is written twice.

    Every method raises `OrderRejected` (the exchange said no, with its code), `OutcomeUnknown`
    (maybe placed: look up by client_oid before any retry) or `BrokerUnavailable`."""

    mode: BrokerMode

    async def instrument(self, symbol: str) -> InstrumentRules: ...

    async def place_market(self, order: MarketOrder) -> OrderState:
        """Place a market order; a reused client_oid raises `DuplicateOrder`."""
        ...

    async def place_protection(self, order: ProtectionOrder) -> ProtectionState:
        """Place the SL/TP pair as one OCO (live: `private/advanced/create-oco`)."""
        ...

    async def lookup(self, symbol: str, client_oid: str) -> OrderState | None:
        """The order with this client_oid, or None when the exchange never got it."""
        ...

    async def cancel(self, symbol: str, client_oid: str) -> OrderState | None:
        """Cancel one order by client_oid; None when it is not open (already gone)."""
        ...

    async def cancel_protection(self, symbol: str, list_id: str) -> None:
        """Cancel both legs of an OCO that are still open."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Open orders, trigger orders (SL/TP legs) included."""
        ...

    async def balances(self) -> dict[str, float]:
        """Total balance per currency."""
        ...
