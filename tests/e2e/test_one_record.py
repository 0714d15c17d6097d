"""Issue 10's acceptance, on a running demo: one record behind every channel.

`atp demo --fault stale-ticker:ETH_USDT` (the `Demo` that command runs, in this process
so the test reaches its Telegram emulator and drives its engine clock): ETH_USDT shows in
`/api/market/top-coins-data`, on the dashboard (Chromium) and in Telegram's `/signals` as
WAIT with `price stale` in its reasons and the same decision id; once the record holds
more than 10 minutes of that WAIT, the real `atp check --format json` names the symbol
and the input in `strategy_decisions`. A symbol disabled through the API shows as disabled
on the next read of each channel, and no decision is made for it afterwards.

The engine clock starts 11 minutes behind the wall clock and is moved to it once the stale
WAIT is recorded: the record then spans more than 10 minutes, as after a real wait, while
`atp check` (a separate process) runs on the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio

from atp.demo import DEMO_API_TOKEN, DEMO_CHAT, DEMO_TOKEN, Demo
from tests.e2e.browser.conftest import CHROMIUM, CHROMIUM_ARGS, browser_available
from tests.processes import ATP

__all__ = ["browser_available"]  # the fixture, imported to be used here
pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
STALE = "ETH_USDT"
BEHIND = timedelta(minutes=11)  # > UNKNOWN_WARN_AFTER_SECONDS (10 min)
DEADLINE_S = 40.0
T = TypeVar("T")


class DrivenClock:
    """Wall-clock time plus an offset the test moves; monotonic time stays real, so the
    scheduler keeps its rhythm."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()


class Channels:
    """The demo, an HTTP client on its API and a Chromium page on its dashboard."""

    def __init__(self, demo: Demo, clock: DrivenClock, client: httpx.AsyncClient,
                 page: Any, workdir: Path) -> None:
        self.demo, self.clock, self.client, self.page = demo, clock, client, page
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{demo.port}"

    async def coin(self, symbol: str) -> dict[str, Any]:
        coins = (await self.client.get("/api/market/top-coins-data")).json()
        found: dict[str, Any] = next(c for c in coins if c["symbol"] == symbol)
        return found

    async def dashboard(self, symbol: str) -> dict[str, Any]:
        """What the watchlist page renders for `symbol`, freshly loaded, read at once."""
        await self.page.goto(f"{self.url}/?symbol={symbol}")
        await self.page.wait_for_selector("body[data-loaded=true]")
        shown: dict[str, Any] = await self.page.evaluate(
            """(symbol) => {
                const cell = document.querySelector(
                    `#coins tr[data-symbol="${symbol}"] td.decision`);
                return {decision: cell && cell.textContent.trim(),
                        title: cell && cell.title,
                        reasons: [...document.querySelectorAll("#reasons li")]
                                 .map((li) => li.textContent)};
            }""", symbol)
        return shown

    async def signals(self, symbol: str) -> str:
        """The line for `symbol` in the bot's answer to `/signals` in the demo chat."""
        tg = self.demo.telegram
        assert tg is not None
        before = len(tg.received(DEMO_CHAT))
        await tg.post_user_message(DEMO_CHAT, "/signals", token=DEMO_TOKEN)
        answer = await tg.wait_for_message(DEMO_CHAT, "Latest decisions", after=before,
                                           timeout=15)
        return next(li for li in answer.text.splitlines() if li.startswith(f"{symbol}:"))


async def until(what: str, probe: Callable[[], Awaitable[T | None]],
                deadline_s: float = DEADLINE_S) -> T:
    """`probe()`'s first non-None answer, polled until a deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def channels(browser_available: None, tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Channels]:
    from playwright.async_api import async_playwright

    workdir = tmp_path_factory.mktemp("one-record")
    clock = DrivenClock(-BEHIND)
    demo = Demo(port=0, faults=[f"stale-ticker:{STALE}"], workdir=workdir / "demo",
                clock=clock)
    await demo.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{demo.port}",
                                     timeout=10) as client, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                               args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(15_000)
                yield Channels(demo, clock, client, page, workdir)
            finally:
                await browser.close()
    finally:
        await demo.stop()


async def _stale_wait(ch: Channels) -> dict[str, Any] | None:
    coin = await ch.coin(STALE)
    stale = any(r.startswith("price stale") for r in coin["reasons"])
    return coin if coin["decision"] == "WAIT" and stale else None


async def test_a_stale_ticker_is_the_same_wait_in_every_channel(channels: Channels) -> None:
    ch = channels
    await until(f"{STALE} WAIT on a stale price in top-coins", lambda: _stale_wait(ch))
    # The record now holds that WAIT from over 10 minutes ago: move the engine to the wall
    # clock (`atp check` runs on it); the next cycles are stamped now.
    ch.clock.offset = timedelta(0)
    moved = datetime.now(UTC)

    async def agreeing() -> tuple[dict[str, Any], dict[str, Any], str] | None:
        """The three channels, read between two reads of the record that agree (no cycle
        stored a newer decision in between, so all three must show that one)."""
        first = await ch.coin(STALE)
        page = await ch.dashboard(STALE)
        line = await ch.signals(STALE)
        last = await ch.coin(STALE)
        return (last, page, line) if first["decision_id"] == last["decision_id"] else None

    coin, page, line = await until("two equal reads of the record", agreeing)
    decision_id = coin["decision_id"]
    assert decision_id and coin["decision"] == "WAIT", coin
    assert [r for r in coin["reasons"] if r.startswith("price stale")], coin["reasons"]
    stored = (await ch.client.get("/api/decisions",
                                  params={"symbol": STALE, "limit": 1})).json()[0]
    assert stored["id"] == decision_id and "price" in stored["unknown_inputs"]

    assert page["decision"] == "WAIT" and page["title"] == decision_id, page
    assert [r for r in page["reasons"] if r.startswith("price stale")], page

    assert line.startswith(f"{STALE}: WAIT") and "price stale" in line, line
    assert line.endswith(f"· {decision_id[:8]}"), line

    # a cycle stamped after the move, so every symbol is fresh again (and still blind)
    async def fresh() -> bool | None:
        coins = (await ch.client.get("/api/market/top-coins-data")).json()
        return True if all(c["decided_at"] and datetime.fromisoformat(c["decided_at"])
                           >= moved for c in coins if c["enabled"]) else None

    await until("a cycle after the clock moved", fresh)
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_FILE", "API_TOKEN")}
    proc = await asyncio.create_subprocess_exec(
        ATP, "check", "--url", ch.url, "--format", "json",
        "--check", "strategy_decisions", cwd=ch.workdir, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1, (out, err)
    [check] = json.loads(out)["checks"]
    assert check["id"] == "strategy_decisions" and check["status"] == "warning", check
    assert f"{STALE}: price unknown for" in check["summary"], check["summary"]
    blind = check["data"]["unknown_inputs"]
    assert list(blind) == [STALE], blind
    assert blind[STALE]["input"] == "price" and blind[STALE]["seconds"] > 600, blind
    assert blind[STALE]["cause"].startswith("price stale"), blind
    assert check["data"]["stale_symbols"] == {}, check["data"]  # fresh, but blind


async def test_a_disabled_symbol_shows_disabled_in_every_channel(channels: Channels) -> None:
    ch, symbol = channels, "BTC_USDT"

    async def decided() -> dict[str, Any] | None:
        coin = await ch.coin(symbol)
        return coin if coin["decision_id"] else None

    await until(f"a decision for {symbol}", decided)
    r = await ch.client.patch(f"/api/watchlist/{symbol}", json={"enabled": False},
                              headers={"Authorization": f"Bearer {DEMO_API_TOKEN}"})
    assert r.status_code == 200, r.text
    changed = ch.demo.platform.clock.now() if ch.demo.platform else None
    assert changed is not None

    async def shown_disabled() -> None:
        coin = await ch.coin(symbol)
        assert coin["enabled"] is False and coin["error"] == "disabled", coin
        assert coin["decision"] is None and coin["decision_id"] is None, coin
        page = await ch.dashboard(symbol)
        assert page["decision"] == "disabled" and page["title"] == "disabled", page
        assert await ch.signals(symbol) == f"{symbol}: disabled"

    await shown_disabled()  # the next read of each channel
    # a whole cycle begun after the change (one begun before may still decide for it)
    platform = ch.demo.platform
    assert platform is not None

    async def cycled() -> bool | None:
        last = platform.monitor.last
        return True if last is not None and last.started_at >= changed else None

    await until("a monitor cycle begun after the change", cycled)
    newest = (await ch.client.get("/api/decisions",
                                  params={"symbol": symbol, "limit": 1})).json()[0]
    # no decision made after the change: not a new row, nor one folded into the last
    assert datetime.fromisoformat(newest["seen_until"] or newest["created_at"]) <= changed, \
        newest
    await shown_disabled()
