"""The market as the engine saw it: per-symbol decisions and the candles they came from.

Everything here is what `SignalMonitor` returned in its last cycle (`monitor.latest`),
never recomputed: the dashboard once showed green conditions while the backend said WAIT
because it ran a second copy of the rules (failure mode 3). The chart's MA / EMA lines
come from the domain's own indicator definitions.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from atp.api import queries
from atp.api.deps import SYMBOL_PATTERN, PlatformDep
from atp.api.schemas import CandlesOut, CoinOut
from atp.domain.indicators import EMA_PERIOD, MA_LONG, MA_SHORT, average_series
from atp.engine.service import Platform

router = APIRouter(prefix="/api/market", tags=["market"])


def _watchlist(platform: Platform) -> list[dict[str, Any]]:
    with platform.db.sessions() as session:
        return queries.watchlist(session)


@router.get("/top-coins-data", response_model=list[CoinOut])
async def top_coins(platform: PlatformDep) -> list[dict[str, Any]]:
    """Every watchlist symbol: price, price age, indicators, decision, flags, buy index."""
    rows = await platform.db.read(_watchlist, platform)
    now = platform.clock.now()
    out = []
    for row in rows:
        item: dict[str, Any] = {
            k: row[k] for k in ("symbol", "enabled", "preset", "alert_enabled",
                                "buy_alert_enabled", "sell_alert_enabled", "trade_enabled")
        }
        item.update(decision_id=None, decision=None, buy_index=None, flags={}, indicators={},
                    reasons=[], price=None, price_age_seconds=None, error=None)
        latest = platform.monitor.latest.get(row["symbol"])
        if latest is None:
            item["error"] = "not evaluated yet" if row["enabled"] else "disabled"
        else:
            decision_id, decision, snap = latest
            item["decision_id"] = decision_id
            if snap is not None:
                item["price"] = snap.price
                if snap.price_at is not None:
                    item["price_age_seconds"] = round((now - snap.price_at).total_seconds(), 3)
                item["error"] = snap.error
            if decision is None:
                item["error"] = item["error"] or "not evaluated (see the symbol_skipped event)"
            else:
                item.update(decision=decision.decision, buy_index=decision.buy_index,
                            flags=dict(decision.flags),
                            indicators=decision.indicators.to_dict(),
                            reasons=list(decision.reasons))
        out.append(item)
    return out


@router.get("/candles/{symbol}", response_model=CandlesOut,
            responses={404: {"description": "no candles for this symbol this cycle"}})
async def candles(
    platform: PlatformDep,
    symbol: Annotated[str, Path(pattern=SYMBOL_PATTERN)],
    limit: Annotated[int, Query(ge=10, le=1000)] = 120,
) -> dict[str, Any]:
    """The closed candles of the last cycle with the MA50 / MA200 / EMA10 lines."""
    latest = platform.monitor.latest.get(symbol)
    snap = None if latest is None else latest[2]
    if latest is None or snap is None or snap.candles is None or len(snap.candles) == 0:
        raise HTTPException(404, f"no candles for {symbol} in the last cycle")
    decision_id, decision, _ = latest
    c = snap.candles
    overlays = {
        f"ma{MA_SHORT}": average_series(c.close, "sma", MA_SHORT),
        f"ma{MA_LONG}": average_series(c.close, "sma", MA_LONG),
        f"ema{EMA_PERIOD}": average_series(c.close, "ema", EMA_PERIOD),
    }
    start = max(0, len(c) - limit)
    # JSON has no NaN: a malformed candle is left out of the picture, not a 500
    keep = [i for i in range(start, len(c))
            if all(math.isfinite(float(a[i])) for a in (c.open, c.high, c.low, c.close, c.volume))]
    rows = [
        {"t": int(c.timestamp[i]), "o": float(c.open[i]), "h": float(c.high[i]),
         "l": float(c.low[i]), "c": float(c.close[i]), "v": float(c.volume[i])}
        for i in keep
    ]
    return {
        "symbol": symbol,
        "decision_id": decision_id,
        "decision": None if decision is None else decision.decision,
        "candles": rows,
        "overlays": {name: [values[i] for i in keep] for name, values in overlays.items()},
    }
