"""Positions and profit: what a fill does to a position, computed once for paper and live.

A filled BUY opens one position (so "open BUY positions per base" is a count of rows);
its cost is what was spent in quote, fee included, so the realised P&L of the SELL / SL /
TP that closes it needs nothing else: proceeds net of the exit fee minus that cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from atp.domain.orders import floor_quantity


def base_of(symbol: str) -> str:
    """`ETH_USDT` → `ETH` (the gates count per base currency)."""
    return symbol.split("_", 1)[0]


def quote_of(symbol: str) -> str:
    return symbol.split("_", 1)[1] if "_" in symbol else "USD"


@dataclass(frozen=True, slots=True)
class EntryFill:
    """A filled BUY as it opens a position."""

    quantity: float  # base held after the fee (what SL/TP may sell)
    avg_entry: float  # cost per unit held, entry fee included
    cost: float  # quote spent, fee included


def entry_fill(symbol: str, filled_quantity: float, avg_price: float, fee: float,
               fee_currency: str | None, quantity_tick: float) -> EntryFill:
    """The position a BUY fill opens: a fee charged in the base currency reduces what is
    held; one charged in quote raises the cost. The held quantity is floored to the tick,
    so the protection never tries to sell more than the account has."""
    spent = filled_quantity * avg_price
    held = filled_quantity
    if fee_currency is not None and fee_currency == base_of(symbol):
        held -= fee
    else:
        spent += fee
    held = max(0.0, floor_quantity(held, quantity_tick))
    avg = spent / held if held > 0 else avg_price
    return EntryFill(held, avg, spent)


def exit_proceeds(symbol: str, quantity: float, avg_price: float, fee: float,
                  fee_currency: str | None) -> float:
    """Quote received for a SELL fill, net of its fee (a base-currency fee is valued at
    the fill price)."""
    gross = quantity * avg_price
    if fee_currency is not None and fee_currency == base_of(symbol):
        return gross - fee * avg_price
    return gross - fee


def realised_pnl(cost: float, position_quantity: float, sold_quantity: float,
                 proceeds: float) -> float:
    """P&L of selling `sold_quantity` of a position that cost `cost` for
    `position_quantity`: the proceeds minus the share of the cost sold."""
    if position_quantity <= 0:
        return proceeds
    share = min(1.0, sold_quantity / position_quantity)
    return round(proceeds - cost * share, 10)


def unrealised_pnl(quantity: float, avg_entry: float, mark: float | None) -> float | None:
    """Mark-to-market of an open position (None without a price)."""
    if mark is None:
        return None
    return round(quantity * (mark - avg_entry), 10)


def exit_pnls(positions: Sequence[tuple[float, float]], sold_quantity: float,
              proceeds: float) -> list[float]:
    """A SELL that closes every open position of a symbol: each position, given as
    (cost, quantity), gets its share of the sold quantity and proceeds by quantity."""
    total = sum(quantity for _, quantity in positions)
    out = []
    for cost, quantity in positions:
        share = quantity / total if total > 0 else 0.0
        out.append(realised_pnl(cost, quantity, sold_quantity * share, proceeds * share))
    return out
