"""Trading: the state of the desk, order intents with their orders, positions, the kill
switch and /panic (the contract in briefs/trading-contract.md; shapes are fixed).

Reads are open like every read; the two writes need the API token and are audited by
the core. `PUT /api/settings/live-trading` stays the one live switch.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from atp.api.deps import Author, CoreDep, Since, SymbolFilter, aware
from atp.api.schemas import (
    IntentOutcome,
    IntentsOut,
    KillSwitch,
    KillSwitchOut,
    PanicOut,
    PositionsOut,
    TradingStateOut,
)

router = APIRouter(prefix="/api", tags=["trading"])

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong API token"},
    403: {"description": "writes disabled: API_TOKEN not configured"},
}


@router.get("/trading/state", response_model=TradingStateOut)
async def trading_state(core: CoreDep) -> dict[str, Any]:
    """Paper or live (and why live is refused), both switches, the last private order
    call, open orders and positions, and how many positions are unprotected."""
    return await core.trading_state()


@router.get("/orders", response_model=IntentsOut)
async def orders(
    core: CoreDep,
    since: Since = None,
    outcome: Annotated[IntentOutcome | None, Query()] = None,
    symbol: SymbolFilter = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="intents per page")] = 200,
) -> dict[str, Any]:
    """Order intents newest first (one per trade-enabled accepted alert), each with its
    outcome and orders; the total and the rejections counted by exchange code."""
    return await core.order_intents(aware(since, "since"), outcome, symbol, limit)


@router.get("/positions", response_model=PositionsOut)
async def positions(core: CoreDep) -> dict[str, Any]:
    """Open positions with mark price, unrealised P&L and their SL/TP pair — or the
    error that keeps one unprotected."""
    return await core.positions()


@router.put("/trading/kill-switch", response_model=KillSwitchOut, responses=_REFUSALS)
async def kill_switch(body: KillSwitch, core: CoreDep, author: Author) -> dict[str, Any]:
    """While on, no new orders: every new intent is BLOCKED with reason `kill switch`."""
    return await core.set_kill_switch(body.enabled, author)


@router.post("/trading/panic", response_model=PanicOut, responses=_REFUSALS)
async def panic(core: CoreDep, author: Author) -> dict[str, Any]:
    """Cancel every open ATP entry order; SL/TP orders stay (they protect what is held)."""
    return await core.panic(author)
