"""Positions and profit: what a fill does to a position, computed once for paper and live.

A filled BUY opens one position (so "open BUY positions per base" is a count of rows);
its cost is what was spent in quote, fee included, so the realised P&L of the SELL / SL /
TP that closes it needs nothing else: proceeds net of the exit fee minus that cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

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


# ── the portfolio read model: valued once here, shown by every channel ───────────────

USD_LIKE = ("USD", "USDT", "USDC")  # counted 1:1 with the US dollar
USD_QUOTES = ("USDT", "USD")  # the tickers another asset is valued at, in this order


@dataclass(frozen=True, slots=True)
class BalanceValue:
    """One currency held, valued in USD at a ticker — or not valued, and why."""

    currency: str
    amount: float
    price_usd: float | None
    value_usd: float | None
    price_source: str | None  # "1:1" or the ticker's symbol (ETH_USDT)
    reason: str | None  # why value_usd is None


def usd_price(currency: str, tickers: Mapping[str, float | None]
              ) -> tuple[float | None, str | None, str | None]:
    """(price in USD, its source, why unknown). Stablecoins count 1:1; anything else is
    valued at its X_USDT or X_USD ticker, never guessed from another pair."""
    if currency in USD_LIKE:
        return 1.0, "1:1", None
    for quote in USD_QUOTES:
        symbol = f"{currency}_{quote}"
        price = tickers.get(symbol)
        if price is not None and price > 0:
            return float(price), symbol, None
    names = " or ".join(f"{currency}_{q}" for q in USD_QUOTES)
    return None, None, f"no price: no {names} ticker seen"


def value_balances(balances: Mapping[str, float], tickers: Mapping[str, float | None]
                   ) -> tuple[list[BalanceValue], float, list[str]]:
    """Every non-zero balance valued in USD, the total of those that have a value, and the
    currencies left out of the total (their value is unknown, so the total says so)."""
    out: list[BalanceValue] = []
    unvalued: list[str] = []
    total = 0.0
    for currency in sorted(balances):
        amount = float(balances[currency])
        if abs(amount) < 1e-12:
            continue
        price, source, reason = usd_price(currency, tickers)
        value = None if price is None else round(amount * price, 10)
        if value is None:
            unvalued.append(currency)
        else:
            total += value
        out.append(BalanceValue(currency, amount, price, value, source, reason))
    return out, round(total, 10), unvalued


def unrealised_pct(avg_entry: float, mark: float | None) -> float | None:
    """Unrealised P&L as a percentage of what the position cost per unit."""
    if mark is None or avg_entry <= 0:
        return None
    return round((mark / avg_entry - 1.0) * 100.0, 10)


def fee_in_quote(symbol: str, fee: float, fee_currency: str | None, price: float | None
                 ) -> float | None:
    """A fill's fee in the quote currency (a base-currency fee at the fill price)."""
    if fee_currency is not None and fee_currency == base_of(symbol):
        return None if price is None else fee * price
    return fee


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """What expected take-profit needs of one open position."""

    quantity: float
    cost: float
    take_profit: float | None  # None: no take-profit leg protects it


@dataclass(frozen=True, slots=True)
class ExpectedTakeProfit:
    symbol: str
    held: float  # base held for the symbol (the account's balance of the base)
    covered: float  # quantity a take-profit leg would sell
    uncovered: float  # held but not covered
    avg_take_profit: float | None  # quantity-weighted TP price of the covered part
    proceeds_at_tp: float | None  # quote received, net of the exit fee
    profit_at_tp: float | None  # proceeds minus the cost of the covered positions


def expected_take_profit(symbol: str, held: float | None, positions: Sequence[HeldPosition],
                         taker_fee: float) -> ExpectedTakeProfit:
    """What the open take-profit legs of `symbol` would bring if they all filled at their
    price, net of the taker fee; the held quantity no leg covers is named, not valued."""
    covered_legs = [p for p in positions if p.take_profit is not None and p.quantity > 0]
    covered = sum(p.quantity for p in covered_legs)
    amount = held if held is not None else sum(p.quantity for p in positions)
    if not covered_legs:
        return ExpectedTakeProfit(symbol, amount, 0.0, max(0.0, amount), None, None, None)
    proceeds = sum(exit_proceeds(symbol, p.quantity, p.take_profit or 0.0,
                                 p.quantity * (p.take_profit or 0.0) * taker_fee, None)
                   for p in covered_legs)
    cost = sum(p.cost for p in covered_legs)
    avg_tp = sum(p.quantity * (p.take_profit or 0.0) for p in covered_legs) / covered
    return ExpectedTakeProfit(symbol, amount, round(covered, 12),
                              round(max(0.0, amount - covered), 12), round(avg_tp, 10),
                              round(proceeds, 10), round(proceeds - cost, 10))


@dataclass(frozen=True, slots=True)
class PnlSummary:
    realised_today: float
    realised_total: float
    closed_today: int
    closed_total: int
    unrealised: float  # of the open positions that have a mark price
    unpriced_positions: int  # open positions left out of `unrealised` (no mark price)
    unpriced_closed: int = 0  # closed positions left out of the realised sums (no USD price)


def pnl_summary(closed: Sequence[tuple[datetime, float | None]],
                unrealised: Sequence[float | None], day_start: datetime) -> PnlSummary:
    """Realised P&L of closed positions, today (closed at or after `day_start`) and in
    total, next to the unrealised P&L of the open ones — all in USD; an amount that could
    not be valued in USD (None) is counted, not summed."""
    valued = [(at, pnl) for at, pnl in closed if pnl is not None]
    today = [pnl for at, pnl in valued if at >= day_start]
    known = [u for u in unrealised if u is not None]
    return PnlSummary(round(sum(today), 10), round(sum(pnl for _, pnl in valued), 10),
                      len(today), len(valued), round(sum(known), 10),
                      len(unrealised) - len(known), len(closed) - len(valued))


def in_usd(amount: float | None, symbol: str, tickers: Mapping[str, float | None]
           ) -> float | None:
    """An amount in `symbol`'s quote currency, in USD at the quote's ticker (1:1 for
    stablecoins); None when the quote has no USD price."""
    if amount is None:
        return None
    price, _, _ = usd_price(quote_of(symbol), tickers)
    return None if price is None else round(amount * price, 10)
