"""The portfolio: balances in USD, positions, open and executed orders and P&L.

Read-only and open like every read; every figure is the core's (`Core.portfolio()` and
friends, computed in `atp.domain.portfolio`), so the dashboard and Telegram show the
same numbers. `GET /api/orders` (intents with their orders) and `/api/positions` stay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from atp.api.deps import CoreDep, Since, SymbolFilter, aware
from atp.api.schemas import PositionOut

router = APIRouter(prefix="/api", tags=["portfolio"])

Mode = Literal["paper", "live"]


class BalanceOut(BaseModel):
    currency: str
    amount: float
    price_usd: float | None
    value_usd: float | None
    price_source: str | None
    reason: str | None  # why value_usd is null (no ticker): never a guessed value


class PortfolioPositionOut(PositionOut):
    mode: Mode
    cost: float
    unrealised_pnl_pct: float | None
    stop_loss: float | None
    take_profit: float | None
    value_usd: float | None
    mark_reason: str | None


class ExpectedTakeProfitOut(BaseModel):
    symbol: str
    held: float
    covered: float
    uncovered: float
    avg_take_profit: float | None
    proceeds_at_tp: float | None
    profit_at_tp: float | None
    taker_fee: float


class PortfolioOut(BaseModel):
    mode: Mode
    as_of: datetime
    balances: list[BalanceOut]
    total_usd: float
    unvalued: list[str]  # currencies held but not in total_usd (no price)
    balances_error: str | None
    positions: list[PortfolioPositionOut]
    expected_take_profit: list[ExpectedTakeProfitOut]


class OpenOrderOut(BaseModel):
    client_oid: str
    exchange_order_id: str | None
    symbol: str
    side: str
    role: str
    order_type: str
    status: str
    mode: Mode
    quantity: float | None
    notional: float | None
    trigger_price: float | None
    list_id: str | None
    decision_id: str | None
    created_at: datetime


class OpenOrdersOut(BaseModel):
    orders: list[OpenOrderOut]
    total: int


class ExecutedOrderOut(BaseModel):
    client_oid: str
    exchange_order_id: str | None
    symbol: str
    side: str
    role: str
    order_type: str
    status: str
    mode: Mode
    quantity: float
    avg_price: float | None
    notional: float | None
    fee: float
    fee_currency: str | None
    fee_quote: float | None
    realised_pnl: float | None
    realised_pnl_reason: str | None
    decision_id: str | None
    executed_at: datetime


class ExecutedOrdersOut(BaseModel):
    orders: list[ExecutedOrderOut]
    total: int
    limit: int
    offset: int


class PnlOut(BaseModel):
    mode: Mode
    as_of: datetime
    day_start: datetime  # "today" starts at midnight UTC
    realised_today: float
    realised_total: float
    closed_today: int
    closed_total: int
    unrealised: float
    unpriced_positions: int  # open positions without a mark price, left out of unrealised
    unpriced_closed: int  # closed positions whose quote has no USD price, left out of realised


@router.get("/portfolio", response_model=PortfolioOut)
async def portfolio(core: CoreDep) -> dict[str, Any]:
    """Balances valued in USD at the tickers (stablecoins 1:1, a missing price is null
    with its reason), the total, open positions with SL/TP and unrealised P&L, and the
    expected take-profit per symbol (covered and uncovered quantity, profit at TP)."""
    return await core.portfolio()


@router.get("/orders/open", response_model=OpenOrdersOut)
async def open_orders(core: CoreDep) -> dict[str, Any]:
    """ATP's open orders, SL/TP legs included."""
    return await core.open_orders()


@router.get("/orders/executed", response_model=ExecutedOrdersOut)
async def executed_orders(
    core: CoreDep,
    symbol: SymbolFilter = None,
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=500, description="orders per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="orders to skip")] = 0,
) -> dict[str, Any]:
    """Filled orders newest first, with fees and the realised P&L of each SELL."""
    return await core.executed_orders(symbol=symbol, since=aware(since, "since"),
                                      limit=limit, offset=offset)


@router.get("/pnl", response_model=PnlOut)
async def pnl(core: CoreDep) -> dict[str, Any]:
    """Realised P&L today (UTC) and in total, and the unrealised P&L of open positions."""
    return await core.pnl()
