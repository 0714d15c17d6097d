"""Watchlist CRUD, presets and settings: the writes, each behind the API token, audited.

A refused change is a 4xx whose detail names the field (FastAPI's validation-error shape);
an unknown symbol is 404, a duplicate 409. The engine reads these rows at the start of
each cycle, so a change takes effect on the next cycle with no restart.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from atp.api.deps import PRESET_PATTERN, SYMBOL_PATTERN, Author, CoreDep, PlatformDep
from atp.api.schemas import (
    LiveTrading,
    PresetOut,
    PresetPatch,
    SettingOut,
    SettingsOut,
    WatchlistCreate,
    WatchlistOut,
    WatchlistPatch,
)

router = APIRouter(prefix="/api", tags=["configuration"])

SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, description="e.g. BTC_USDT")]
_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong API token"},
    403: {"description": "writes disabled: API_TOKEN not configured"},
}


# ── watchlist ──────────────────────────────────────────────────────────────────────────


@router.get("/watchlist", response_model=list[WatchlistOut])
async def list_watchlist(core: CoreDep) -> list[dict[str, Any]]:
    """Every watchlist row with its switches, preset and overrides."""
    return await core.watchlist()


@router.post("/watchlist", response_model=WatchlistOut, status_code=status.HTTP_201_CREATED,
             responses={**_REFUSALS, 409: {"description": "symbol already watched"}})
async def add_symbol(body: WatchlistCreate, core: CoreDep, author: Author) -> dict[str, Any]:
    """Watch a new symbol (one row per symbol: failure mode 12); it must be an instrument
    the exchange lists."""
    return await core.add_symbol(body.model_dump(), author)


@router.patch("/watchlist/{symbol}", response_model=WatchlistOut,
              responses={**_REFUSALS, 404: {"description": "symbol not watched"}})
async def change_symbol(symbol: SymbolPath, body: WatchlistPatch, core: CoreDep,
                        author: Author) -> dict[str, Any]:
    """Change a symbol's switches (alert / buy / sell / trade flags), preset or overrides."""
    return await core.update_symbol(symbol, body.model_dump(exclude_unset=True), author)


@router.delete("/watchlist/{symbol}", status_code=status.HTTP_204_NO_CONTENT,
               responses={**_REFUSALS, 404: {"description": "symbol not watched"}})
async def remove_symbol(symbol: SymbolPath, core: CoreDep, author: Author) -> Response:
    """Stop watching a symbol (its decisions and outcomes stay in the journal)."""
    await core.remove_symbol(symbol, author)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ── presets ────────────────────────────────────────────────────────────────────────────


@router.get("/presets", response_model=list[PresetOut])
async def list_presets(core: CoreDep) -> list[dict[str, Any]]:
    """The six strategy presets as stored (what the engine uses)."""
    return await core.presets()


@router.patch("/presets/{name}", response_model=PresetOut,
              responses={**_REFUSALS, 404: {"description": "no such preset"}})
async def change_preset(
    name: Annotated[str, Path(pattern=PRESET_PATTERN)], body: PresetPatch,
    core: CoreDep, author: Author,
) -> dict[str, Any]:
    """Edit preset thresholds; validated by the domain's preset validator, audited."""
    return await core.update_preset(name, body.model_dump(exclude_unset=True), author)


# ── settings ───────────────────────────────────────────────────────────────────────────


@router.get("/settings", response_model=SettingsOut)
async def get_settings(platform: PlatformDep, core: CoreDep) -> dict[str, Any]:
    """Stored runtime settings and the read-only environment settings (never secrets)."""
    stored = await core.stored_settings()
    live = await core.live_trading()
    s = platform.settings
    return {
        "live_trading": live,
        "stored": stored,
        "runtime": {
            "instance_name": s.instance_name,
            "production": s.production,
            "alerts_enabled": s.alerts_enabled,
            "monitor_interval_seconds": s.monitor_interval_seconds,
            "candle_timeframe": str(s.candle_timeframe),
            "candle_count": s.candle_count,
            "database": platform.db.backend,
            "api_token_configured": s.api_token is not None,
            "telegram_token_configured": s.telegram_bot_token is not None,
            "telegram_chat_configured": bool(s.telegram_chat_id),
            "exchange_credentials_configured": s.has_exchange_credentials,
            "exchange_proxy_configured": s.exchange_proxy_url is not None,
        },
    }


@router.put("/settings/live-trading", response_model=SettingOut, responses=_REFUSALS)
async def set_live_trading(body: LiveTrading, core: CoreDep, author: Author) -> dict[str, Any]:
    """The one switch between dry-run and live orders."""
    return await core.set_live_trading(body.enabled, author)
