"""The data a broker takes and gives back: orders, their states and the exchange's refusals.

Plain values shared by the engine (the trader), the paper broker and the live adapter in
`exchange/`, so both brokers answer in one language and the trader never sees ccxt's dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

OrderSide = Literal["BUY", "SELL"]
# What a protection leg or an entry is, for the record and the check.
OrderRole = Literal["entry", "exit", "stop_loss", "take_profit"]
# The exchange's order lifecycle, normalised (the exchange spells CANCELED; we store this).
OrderStatus = Literal["NEW", "ACTIVE", "FILLED", "CANCELLED", "REJECTED", "EXPIRED"]
OPEN_STATUSES: tuple[OrderStatus, ...] = ("NEW", "ACTIVE")
# One outcome per trade-enabled accepted alert (product.md §6).
IntentOutcome = Literal["PENDING", "BLOCKED", "PLACED", "FILLED", "CANCELLED", "REJECTED",
                        "FAILED"]
TERMINAL_OUTCOMES: tuple[IntentOutcome, ...] = ("BLOCKED", "FILLED", "CANCELLED", "REJECTED",
                                                "FAILED")
BrokerMode = Literal["paper", "live"]


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """What the exchange allows for one instrument: the grids an order must sit on."""

    symbol: str
    price_tick: float
    quantity_tick: float
    min_quantity: float
    min_notional: float
    maker_fee: float  # fraction, e.g. 0.0025
    taker_fee: float


@dataclass(frozen=True, slots=True)
class MarketOrder:
    """A market order: a BUY spends `notional` (quote), a SELL sells `quantity` (base)."""

    symbol: str
    side: OrderSide
    client_oid: str
    notional: float | None = None
    quantity: float | None = None


@dataclass(frozen=True, slots=True)
class ProtectionOrder:
    """The SL/TP pair after a BUY filled: one OCO selling `quantity`, each leg its own id."""

    symbol: str
    quantity: float
    stop_loss: float
    take_profit: float
    stop_loss_oid: str
    take_profit_oid: str


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as the exchange (or the paper broker) reports it now."""

    symbol: str
    side: OrderSide
    client_oid: str
    exchange_order_id: str | None
    order_type: str  # MARKET, LIMIT, STOP_LOSS, TAKE_PROFIT, ...
    status: OrderStatus
    quantity: float | None
    filled_quantity: float
    avg_price: float | None
    fee: float
    fee_currency: str | None
    trigger_price: float | None = None
    list_id: str | None = None
    updated_at: datetime | None = None
    reason: str | None = None  # why the exchange rejected or cancelled it, when it says


@dataclass(frozen=True, slots=True)
class ProtectionState:
    list_id: str
    stop_loss: OrderState
    take_profit: OrderState


class BrokerError(Exception):
    """Base of what a broker raises; messages never carry secrets."""


class OrderRejected(BrokerError):
    """The exchange refused the order: its reason code and message (306, 209, 140001, …)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class DuplicateOrder(OrderRejected):
    """204 DUPLICATE_CLORDID: an order with this client_oid exists — already placed."""

    def __init__(self, message: str = "DUPLICATE_CLORDID") -> None:
        super().__init__(204, message)


class OutcomeUnknown(BrokerError):
    """The request may or may not have reached the exchange (timeout, lost answer, network):
    the order must be looked up by its client_oid before anything is retried."""


class BrokerUnavailable(BrokerError):
    """The broker cannot be used at all now (no credentials, auth failure, live refused)."""
