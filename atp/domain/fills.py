"""How simulated orders fill: the paper broker (dry run) and `atp backtest` share these.

A market order fills at the last price seen, floored to the quantity tick, with the
instrument's taker fee (a BUY's fee in base, a SELL's in quote, as the exchange charges
them). An SL/TP pair fills on the first leg the price path crosses; the other is
cancelled. Written once, so a backtest's fills are the dry run's fills.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from atp.domain.orders import floor_quantity
from atp.domain.trading import InstrumentRules, OrderRejected, OrderSide

# Codes and messages as the exchange answers them (integration-facts.md).
INSUFFICIENT_BALANCE = (306, "INSUFFICIENT_AVAILABLE_BALANCE")
INVALID_PRICE = (229, "INVALID_REF_PRICE: trigger price on the wrong side of the market")
BELOW_MIN = (213, "INVALID_ORDER_QUANTITY: below the instrument's minimum")

LegKind = Literal["STOP_LOSS", "TAKE_PROFIT"]


def default_rules(symbol: str) -> InstrumentRules:
    """Grids when the exchange's instrument list is not at hand (demo, tests)."""
    return InstrumentRules(symbol=symbol, price_tick=0.01, quantity_tick=0.0001,
                           min_quantity=0.0001, min_notional=1.0, maker_fee=0.0025,
                           taker_fee=0.005)


@dataclass(frozen=True, slots=True)
class MarketFill:
    """A filled market order: `quantity` of base at `price`; `fee` in `fee_in`."""

    side: OrderSide
    quantity: float
    price: float
    fee: float
    fee_in: Literal["base", "quote"]


def market_fill(side: OrderSide, price: float, rules: InstrumentRules, available: float, *,
                notional: float | None = None, quantity: float | None = None) -> MarketFill:
    """A market order at `price`: a BUY spends `notional` quote, a SELL sells `quantity`
    base; `available` is the free quote (BUY) or free base (SELL). Raises `OrderRejected`
    as the exchange would: below the minimum, or more than the account has."""
    if side == "BUY":
        qty = floor_quantity((notional or 0.0) / price, rules.quantity_tick)
        if qty < rules.min_quantity or qty * price < rules.min_notional:
            raise OrderRejected(*BELOW_MIN)
        if available + 1e-9 < qty * price:
            raise OrderRejected(*INSUFFICIENT_BALANCE)
        return MarketFill("BUY", qty, price, qty * rules.taker_fee, "base")
    qty = floor_quantity(quantity or 0.0, rules.quantity_tick)
    if qty < rules.min_quantity or qty * price < rules.min_notional:
        raise OrderRejected(*BELOW_MIN)
    if available + 1e-9 < qty:
        raise OrderRejected(*INSUFFICIENT_BALANCE)
    return MarketFill("SELL", qty, price, leg_fee(qty, price, rules), "quote")


def leg_fee(quantity: float, price: float, rules: InstrumentRules) -> float:
    """The fee of a SELL (market or a triggered SL/TP leg), in quote: the taker fee."""
    return quantity * price * rules.taker_fee


def check_protection(stop_loss: float, take_profit: float, price: float, quantity: float,
                     free_base: float) -> None:
    """Refuse an SL/TP pair as the exchange would: triggers on the wrong side of the
    market, or more base than is free."""
    if not stop_loss < price < take_profit:
        raise OrderRejected(*INVALID_PRICE)
    if free_base + 1e-9 < quantity:
        raise OrderRejected(*INSUFFICIENT_BALANCE)


def crossed(kind: LegKind, trigger: float, price: float) -> bool:
    """Whether `price` triggers the leg: a stop at or below it, a take-profit at or above."""
    return price <= trigger if kind == "STOP_LOSS" else price >= trigger


def first_crossed(legs: Sequence[tuple[LegKind, float]], path: Iterable[float]
                  ) -> tuple[int, float] | None:
    """(index of the leg, price) for the first leg a sampled price path reaches: a
    triggered stop fills at the sampled market price, not at its trigger."""
    for price in path:
        for index, (kind, trigger) in enumerate(legs):
            if crossed(kind, trigger, price):
                return index, price
    return None


def candle_exit(stop_loss: float, take_profit: float, open_: float, high: float, low: float
                ) -> tuple[LegKind, float] | None:
    """Which leg of an SL/TP pair a candle fills, and at what price.

    A candle's path is continuous between its open and its extremes, so a leg it crosses
    fills at its trigger — or at the open when the candle opened beyond it (a gap). When
    the candle reaches both legs, the order inside it is unknown: the stop is assumed hit
    first (the pessimistic reading)."""
    if crossed("STOP_LOSS", stop_loss, open_):
        return "STOP_LOSS", open_
    if crossed("TAKE_PROFIT", take_profit, open_):
        return "TAKE_PROFIT", open_
    if crossed("STOP_LOSS", stop_loss, low):
        return "STOP_LOSS", stop_loss
    if crossed("TAKE_PROFIT", take_profit, high):
        return "TAKE_PROFIT", take_profit
    return None
