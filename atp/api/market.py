"""The market as the engine decided it: per-symbol decisions and the candles behind them.

Every entry is the latest *stored* decision per symbol (with its id), the same record
Telegram's /signals and `atp check` read — never a process's memory and never a
recomputation: the dashboard once showed green conditions while the backend said WAIT
because it ran a second copy of the rules (failure mode 3).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from atp.api.deps import SYMBOL_PATTERN, CoreDep
from atp.api.schemas import CandlesOut, CoinOut

router = APIRouter(prefix="/api/market", tags=["market"])


@router.get("/top-coins-data", response_model=list[CoinOut])
async def top_coins(core: CoreDep) -> list[dict[str, Any]]:
    """Every watchlist symbol: price, price age, indicators, decision (with its id), flags,
    buy index and reasons, from the latest stored decision; disabled symbols say so."""
    return await core.coins()


@router.get("/candles/{symbol}", response_model=CandlesOut,
            responses={404: {"description": "no candles for this symbol"}})
async def candles(
    core: CoreDep,
    symbol: Annotated[str, Path(pattern=SYMBOL_PATTERN)],
    limit: Annotated[int, Query(ge=10, le=1000)] = 120,
) -> dict[str, Any]:
    """The closed candles the monitor evaluates (from the market data service) with the
    MA50 / MA200 / EMA10 lines, and the symbol's latest stored decision."""
    chart = await core.chart(symbol, limit)
    if chart is None:
        raise HTTPException(404, f"no candles for {symbol} yet")
    return chart
