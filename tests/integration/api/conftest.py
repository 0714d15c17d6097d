"""API fixtures: a real Platform (engine fixtures: scripted market, Telegram emulator,
migrated SQLite / PostgreSQL) with one monitor cycle run, and an ASGI client on its app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from atp.api.app import create_app
from atp.emulators.telegram.server import TelegramEmulator
from atp.engine.clock import ManualClock
from atp.engine.service import Platform
from atp.store import repository as repo
from tests.integration.engine import conftest as engine
from tests.integration.engine.conftest import ScriptedMarket

# the engine tests' fixtures, shared (a real Telegram emulator, a scripted market, ...)
tg, clock, market, make_platform = engine.tg, engine.clock, engine.market, engine.make_platform

API_TOKEN = "test-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SYMBOLS = {"AAA_USDT": "down", "BBB_USDT": "up", "CCC_USDT": "flat"}  # BUY, SELL, WAIT


@dataclass
class Api:
    platform: Platform
    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    market: ScriptedMarket
    tg: TelegramEmulator

    async def cycle(self, seconds: float = 30.0) -> None:
        """One monitor cycle, the outbox drained (the per-chat rate limit lets one
        message a second through, so the clock moves a second between rounds)."""
        await self.platform.monitor.run_cycle()
        for _ in range(20):
            await self.platform.outbox.run_once()
            with self.platform.db.sessions() as session:
                if repo.outbox_depth(session)[0] == 0:
                    break
            self.clock.advance(1.0)
            seconds -= 1.0
        self.clock.advance(max(seconds, 0.0))


@pytest.fixture
async def api(make_platform: Callable[..., Platform], clock: ManualClock,
              market: ScriptedMarket, tg: TelegramEmulator) -> AsyncIterator[Api]:
    platform = make_platform(SYMBOLS, api_token=API_TOKEN)
    app = create_app(platform)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://atp.test") as client:
        result = Api(platform, app, client, clock, market, tg)
        await result.cycle()
        yield result


def field_named(body: Any, name: str) -> bool:
    """True when a 4xx body's detail names `name` (FastAPI's loc list or the message)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return any(name in [str(p) for p in d.get("loc", [])] or name in d.get("msg", "")
                   for d in detail)
    return isinstance(detail, str) and name in detail
