"""The market as the engine decided it: per-symbol decisions and the candles behind them.

Every entry is the latest *stored* decision per symbol (with its id), the same record
Telegram's /signals and `atp check` read — never a process's memory and never a
recomputation: the dashboard once showed green conditions while the backend said WAIT
because it ran a second copy of the rules (failure mode 3).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import JSONResponse

from atp.api.deps import SYMBOL_PATTERN, CoreDep
from atp.api.schemas import CandlesOut, CoinOut

router = APIRouter(prefix="/api/market", tags=["market"])


# What the dashboard's table shows of `indicators` in compact mode (the rest is per symbol).
COMPACT_INDICATORS = ("ma10w",)
COMPACT_DROP = ("reasons", "unknown_inputs")
SYMBOLS_PATTERN = r"^[A-Za-z0-9_.\-]+(,[A-Za-z0-9_.\-]+)*$"


def compact_coin(coin: dict[str, Any]) -> dict[str, Any]:
    """A watchlist row without what only the selected symbol's panel shows (reasons,
    unknown inputs, the indicators the table has no column for): ~1/3 of the bytes."""
    out = CoinOut.model_validate(coin).model_dump(mode="json", exclude=set(COMPACT_DROP))
    out["indicators"] = {k: out["indicators"].get(k) for k in COMPACT_INDICATORS}
    return out


@router.get("/top-coins-data", response_model=list[CoinOut])
async def top_coins(
    core: CoreDep,
    response: Response,
    limit: Annotated[int | None, Query(ge=1, le=5000, description="at most this many "
                                       "symbols (default: all of them)")] = None,
    offset: Annotated[int, Query(ge=0, description="skip this many symbols (watchlist "
                                 "order)")] = 0,
    symbols: Annotated[str | None, Query(pattern=SYMBOLS_PATTERN, max_length=20000,
                                         description="only these symbols, comma-separated"
                                         )] = None,
    compact: Annotated[bool, Query(description="leave out reasons, unknown_inputs and the "
                                   "indicators other than " + ", ".join(COMPACT_INDICATORS)
                                   )] = False,
) -> Any:
    """Every watchlist symbol: price, price age, indicators, decision (with its id), flags,
    buy index and reasons, from the latest stored decision; disabled symbols say so.

    Paged with `limit` / `offset` (the `X-Total-Count` header says how many there are);
    without them the whole list, as before. At 1,000 symbols the whole list is ~850 KB,
    so the dashboard asks for a compact page and the selected symbol's full record."""
    wanted = None if symbols is None else frozenset(symbols.split(","))
    total, coins = await core.coins_page(offset=offset, limit=limit, symbols=wanted)
    headers = {"X-Total-Count": str(total)}
    if compact:
        return JSONResponse([compact_coin(c) for c in coins], headers=headers)
    response.headers.update(headers)
    return coins


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
