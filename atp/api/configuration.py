"""Watchlist CRUD, presets and settings: the writes, each behind the API token, audited.

A refused change is a 4xx whose detail names the field (FastAPI's validation-error shape);
an unknown symbol is 404, a duplicate 409. The engine reads these rows at the start of
each cycle, so a change takes effect on the next cycle with no restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Response, status

from atp.api import changes, queries
from atp.api.deps import PRESET_PATTERN, SYMBOL_PATTERN, Author, PlatformDep, unprocessable
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
from atp.engine.service import Platform
from atp.store.uow import UnitOfWork

router = APIRouter(prefix="/api", tags=["configuration"])

SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, description="e.g. BTC_USDT")]
T = TypeVar("T")

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong API token"},
    403: {"description": "writes disabled: API_TOKEN not configured"},
}


async def _write(platform: Platform, name: str, fn: Callable[..., T], *args: Any) -> T:
    """Run an audited change in the writer thread; a `Refused` becomes its 4xx."""

    def run() -> T:
        with UnitOfWork(platform.db.sessions, name) as uow:
            return fn(uow.session, *args)

    try:
        return await platform.db.run(run)
    except changes.Refused as exc:
        if exc.status == 422 and exc.loc is not None:
            raise unprocessable(exc.loc, exc.message) from None
        raise HTTPException(exc.status, exc.message) from None


def _read(platform: Platform, fn: Callable[..., T], *args: Any) -> T:
    with platform.db.sessions() as session:
        return fn(session, *args)


# ── watchlist ──────────────────────────────────────────────────────────────────────────


@router.get("/watchlist", response_model=list[WatchlistOut])
async def list_watchlist(platform: PlatformDep) -> list[dict[str, Any]]:
    """Every watchlist row with its switches, preset and overrides."""
    return await platform.db.read(_read, platform, queries.watchlist)


@router.post("/watchlist", response_model=WatchlistOut, status_code=status.HTTP_201_CREATED,
             responses={**_REFUSALS, 409: {"description": "symbol already watched"}})
async def add_symbol(body: WatchlistCreate, platform: PlatformDep,
                     author: Author) -> dict[str, Any]:
    """Watch a new symbol (one row per symbol: failure mode 12)."""
    return await _write(platform, "api_watchlist", changes.create_symbol, body.model_dump(),
                        author, platform.clock.now())


@router.patch("/watchlist/{symbol}", response_model=WatchlistOut,
              responses={**_REFUSALS, 404: {"description": "symbol not watched"}})
async def change_symbol(symbol: SymbolPath, body: WatchlistPatch, platform: PlatformDep,
                        author: Author) -> dict[str, Any]:
    """Change a symbol's switches (alert / buy / sell / trade flags), preset or overrides."""
    return await _write(platform, "api_watchlist", changes.update_symbol, symbol,
                        body.model_dump(exclude_unset=True), author, platform.clock.now())


@router.delete("/watchlist/{symbol}", status_code=status.HTTP_204_NO_CONTENT,
               responses={**_REFUSALS, 404: {"description": "symbol not watched"}})
async def remove_symbol(symbol: SymbolPath, platform: PlatformDep, author: Author) -> Response:
    """Stop watching a symbol (its decisions and outcomes stay in the journal)."""
    await _write(platform, "api_watchlist", changes.delete_symbol, symbol, author,
                 platform.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ── presets ────────────────────────────────────────────────────────────────────────────


@router.get("/presets", response_model=list[PresetOut])
async def list_presets(platform: PlatformDep) -> list[dict[str, Any]]:
    """The six strategy presets as stored (what the engine uses)."""
    return await platform.db.read(_read, platform, queries.presets)


@router.patch("/presets/{name}", response_model=PresetOut,
              responses={**_REFUSALS, 404: {"description": "no such preset"}})
async def change_preset(
    name: Annotated[str, Path(pattern=PRESET_PATTERN)], body: PresetPatch,
    platform: PlatformDep, author: Author,
) -> dict[str, Any]:
    """Edit preset thresholds; validated by the domain's preset validator, audited."""
    return await _write(platform, "api_presets", changes.update_preset, name,
                        body.model_dump(exclude_unset=True), author, platform.clock.now())


# ── settings ───────────────────────────────────────────────────────────────────────────


@router.get("/settings", response_model=SettingsOut)
async def get_settings(platform: PlatformDep) -> dict[str, Any]:
    """Stored runtime settings and the read-only environment settings (never secrets)."""
    stored = await platform.db.read(_read, platform, queries.settings)
    live = next((s["value"] for s in stored if s["key"] == changes.LIVE_TRADING), False)
    s = platform.settings
    return {
        "live_trading": live is True,
        "stored": stored,
        "runtime": {
            "instance_name": s.instance_name,
            "production": s.production,
            "alerts_enabled": s.alerts_enabled,
            "monitor_interval_seconds": s.monitor_interval_seconds,
            "candle_timeframe": str(s.candle_timeframe),
            "candle_count": s.candle_count,
            "database": platform.db.engine.url.get_backend_name(),
            "api_token_configured": s.api_token is not None,
            "telegram_token_configured": s.telegram_bot_token is not None,
            "telegram_chat_configured": bool(s.telegram_chat_id),
            "exchange_credentials_configured": s.has_exchange_credentials,
            "exchange_proxy_configured": s.exchange_proxy_url is not None,
        },
    }


@router.put("/settings/live-trading", response_model=SettingOut, responses=_REFUSALS)
async def set_live_trading(body: LiveTrading, platform: PlatformDep,
                           author: Author) -> dict[str, Any]:
    """The one switch between dry-run and live orders."""
    return await _write(platform, "api_settings", changes.set_setting, changes.LIVE_TRADING,
                        body.enabled, author, platform.clock.now())
