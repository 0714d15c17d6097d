"""The Trading page in a real Chromium: a paper position with its SL/TP pair and a
rejection with the exchange's code and message, as the trader recorded them, read
through the API only; the kill switch switched on the page is the core's audited switch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update

from atp.engine.clock import ManualClock
from atp.engine.service import Platform
from atp.store.models import AuditLogRow, WatchlistRow
from tests.e2e.browser.conftest import API_TOKEN, Dashboard, _drain, browse

pytestmark = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
# Two falling symbols trade 100 USD each on a paper account of 150: one fills (a position
# with its OCO), the other is refused for balance (306), whichever the trader takes first.
TRADED = ("AAA_USDT", "DDD_USDT")


@pytest.fixture
async def trading(browser_available: None, make_platform: Callable[..., Platform],
                  clock: ManualClock, migrated_db: object, tmp_path: Path,
                  ) -> AsyncIterator[Dashboard]:
    platform = make_platform({s: "down" for s in TRADED}, api_token=API_TOKEN,
                             paper_balance_usd=150.0)
    with platform.db.sessions() as session, session.begin():
        session.execute(update(WatchlistRow).where(WatchlistRow.symbol.in_(TRADED))
                        .values(trade_enabled=True, trade_amount_usd=100.0))
    await platform.monitor.run_cycle()
    await platform.trader.step()
    await _drain(platform, clock)
    async with browse(platform, tmp_path) as board:
        yield board


async def test_trading_panel_shows_a_protected_position_and_a_rejection(
        trading: Dashboard) -> None:
    page = trading.page
    [position] = (await trading.platform.core.positions())["positions"]
    intents = (await trading.platform.core.order_intents(limit=10))["intents"]
    [rejected] = [i for i in intents if i["outcome"] == "REJECTED"]
    assert rejected["error_code"] == 306 and rejected["symbol"] != position["symbol"]

    await page.goto(f"{trading.url}/trading")
    await page.wait_for_selector("body[data-loaded=true]")
    assert await page.locator("#trading-mode").get_attribute("data-mode") == "paper"
    assert "paper" in await page.locator("#trading-mode").inner_text()
    assert await page.locator("#kill-switch").get_attribute("data-on") == "false"
    assert "paper" in await page.locator("#trading-badge").inner_text()

    row = page.locator(f'#positions tr[data-symbol="{position["symbol"]}"]')
    assert await row.get_attribute("data-protected") == "true"
    sl = float(await row.locator('td[data-leg="stop_loss"]').inner_text())
    tp = float(await row.locator('td[data-leg="take_profit"]').inner_text())
    assert sl == pytest.approx(position["protection"]["stop_loss"])
    assert tp == pytest.approx(position["protection"]["take_profit"])
    assert "protected" in await row.locator("td.protection").inner_text()

    refused = page.locator('#intents tr[data-outcome="REJECTED"]'
                           f'[data-symbol="{rejected["symbol"]}"]')
    code = await refused.locator("span.code").inner_text()
    assert code.startswith("306") and rejected["error_message"] in code
    assert "306" in await page.locator('#rejections li[data-code="306"]').inner_text()
    filled = page.locator('#intents tr[data-outcome="FILLED"]'
                          f'[data-symbol="{position["symbol"]}"]')
    legs = await filled.locator(".leg").all_inner_texts()
    assert [leg.split()[0] for leg in legs] == ["entry", "stop_loss", "take_profit"]
    await trading.screenshot("trading")


async def test_kill_switch_on_the_page_is_the_cores_audited_switch(trading: Dashboard) -> None:
    page = trading.page
    await page.goto(f"{trading.url}/trading")
    await page.wait_for_selector("body[data-loaded=true]")
    await page.evaluate(f"localStorage.setItem('atp-token', '{API_TOKEN}')")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.click("#kill-toggle")
    await page.wait_for_selector('#kill-switch[data-on="true"]')
    assert await trading.platform.core.kill_switch() is True
    await page.wait_for_selector("#trading-badge:has-text('KILL')")  # the header says so too
    with trading.platform.db.sessions() as session:
        audit = session.scalars(select(AuditLogRow).where(
            AuditLogRow.entity_key == "kill_switch")).one()
    assert (audit.author, audit.new_value) == ("dashboard", True)
