"""Browser fixtures: Debian's Chromium driven by Playwright against the real app served by
uvicorn in the test's event loop, next to a Platform that has run a cycle.

Without Chromium (or Playwright) the tests skip with the reason, except when
ATP_REQUIRE_BROWSER=1 (as `make test` sets it, after installing Chromium): then they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from atp.api.app import create_app
from atp.api.server import ApiServer, serve
from atp.engine.clock import ManualClock
from atp.engine.service import Platform
from atp.store import repository as repo
from tests.integration.engine import conftest as engine

# the engine tests' fixtures, shared (a real Telegram emulator, a scripted market, ...)
tg, clock, market, make_platform = engine.tg, engine.clock, engine.market, engine.make_platform

CHROMIUM = Path(os.environ.get("ATP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-gpu"]
API_TOKEN = "browser-test-token-0123456789"
SYMBOLS = {"AAA_USDT": "down", "BBB_USDT": "up", "CCC_USDT": "flat"}  # BUY, SELL, WAIT


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements.lock)"
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or `make test`)"
    return None


@pytest.fixture(scope="session")
def browser_available() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("ATP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; ATP_REQUIRE_BROWSER=1 requires it", pytrace=False)
    pytest.skip(reason)


@dataclass
class Dashboard:
    platform: Platform
    server: ApiServer
    page: Any
    shots: Path

    @property
    def url(self) -> str:
        return self.server.url

    async def screenshot(self, name: str) -> Path:
        """A full-page PNG under the test's folder (and ATP_SCREENSHOT_DIR when set)."""
        path = self.shots / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        extra = os.environ.get("ATP_SCREENSHOT_DIR")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path


async def _drain(platform: Platform, clock: ManualClock) -> None:
    for _ in range(20):
        await platform.outbox.run_once()
        with platform.db.sessions() as session:
            if repo.outbox_depth(session)[0] == 0:
                return
        clock.advance(1.0)


@contextlib.asynccontextmanager
async def browse(platform: Platform, shots: Path) -> AsyncIterator[Dashboard]:
    """The app of `platform` served on port 0 and a Chromium page to look at it."""
    from playwright.async_api import async_playwright

    server = await serve(create_app(platform), "127.0.0.1", 0)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                               args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(15_000)
                yield Dashboard(platform, server, page, shots)
            finally:
                await browser.close()
    finally:
        await server.stop()


@pytest.fixture
async def dashboard(browser_available: None, make_platform: Callable[..., Platform],
                    clock: ManualClock, tmp_path: Path) -> AsyncIterator[Dashboard]:
    platform = make_platform(SYMBOLS, api_token=API_TOKEN)
    await platform.monitor.run_cycle()
    await _drain(platform, clock)
    async with browse(platform, tmp_path) as board:
        yield board
