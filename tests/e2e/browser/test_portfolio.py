"""The Portfolio and Orders pages in a real Chromium: a paper position with its SL/TP pair
and another closed at its take-profit, shown with the API's values, formatted the way
Telegram formats them (one formatter per figure, see atp/telegram/format.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from atp.engine.clock import ManualClock
from atp.engine.service import Platform
from atp.store.models import WatchlistRow
from atp.telegram.format import format_pct, format_price, format_signed, format_usd
from tests.e2e.browser.conftest import API_TOKEN, Dashboard, _drain, browse

pytestmark = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
TRADED = ("AAA_USDT", "DDD_USDT")


@pytest.fixture
async def desk(browser_available: None, make_platform: Callable[..., Platform],
               clock: ManualClock, market: Any, migrated_db: object, tmp_path: Path,
               ) -> AsyncIterator[Dashboard]:
    platform = make_platform({s: "down" for s in TRADED}, api_token=API_TOKEN)
    with platform.db.sessions() as session, session.begin():
        session.execute(update(WatchlistRow).where(WatchlistRow.symbol.in_(TRADED))
                        .values(trade_enabled=True, trade_amount_usd=100.0))
    await platform.monitor.run_cycle()
    await platform.trader.step()
    [taken] = [p for p in (await platform.core.portfolio())["positions"]
               if p["symbol"] == "DDD_USDT"]
    market.set("DDD_USDT", "flat", price=taken["take_profit"] * 1.01)  # through its TP
    market.set("AAA_USDT", "flat", price=101.0)
    clock.advance(30)
    await platform.monitor.run_cycle()
    await platform.trader.step()
    await _drain(platform, clock)
    async with browse(platform, tmp_path) as board:
        yield board


async def test_portfolio_and_orders_pages_show_the_apis_figures(desk: Dashboard) -> None:
    core, page = desk.platform.core, desk.page
    portfolio, pnl = await core.portfolio(), await core.pnl()
    executed, open_orders = await core.executed_orders(limit=10), await core.open_orders()
    [held] = portfolio["positions"]
    [sell] = [o for o in executed["orders"] if o["side"] == "SELL"]
    assert held["symbol"] == "AAA_USDT" and held["protected"]
    assert sell["role"] == "take_profit" and sell["realised_pnl"] > 0

    await page.goto(f"{desk.url}/portfolio")
    await page.wait_for_selector("body[data-loaded=true]")
    assert await page.locator("#portfolio-mode").get_attribute("data-mode") == "paper"
    assert await page.locator("#total-usd").inner_text() == format_usd(portfolio["total_usd"])
    for b in portfolio["balances"]:
        row = page.locator(f'#balances tr[data-currency="{b["currency"]}"]')
        assert await row.locator('td[data-field="value_usd"]').inner_text() == \
            format_usd(b["value_usd"])
        assert await row.locator('td[data-field="amount"]').inner_text() == \
            format_price(b["amount"])
    row = page.locator('#portfolio-positions tr[data-symbol="AAA_USDT"]')
    for field, text in (("quantity", format_price(held["quantity"])),
                        ("mark_price", format_price(held["mark_price"])),
                        ("unrealised_pnl", format_signed(held["unrealised_pnl"])),
                        ("unrealised_pnl_pct", format_pct(held["unrealised_pnl_pct"])),
                        ("stop_loss", format_price(held["stop_loss"])),
                        ("take_profit", format_price(held["take_profit"]))):
        assert await row.locator(f'td[data-field="{field}"]').inner_text() == text, field
    [tp] = portfolio["expected_take_profit"]
    tp_row = page.locator('#expected-tp tr[data-symbol="AAA_USDT"]')
    assert await tp_row.locator('td[data-field="profit_at_tp"]').inner_text() == \
        format_signed(tp["profit_at_tp"])
    assert await tp_row.locator('td[data-field="covered"]').inner_text() == \
        format_price(tp["covered"])
    sold = page.locator(f'#portfolio-executed tr[data-client-oid="{sell["client_oid"]}"]')
    assert await sold.locator('td[data-field="realised_pnl"]').inner_text() == \
        format_signed(sell["realised_pnl"])
    for node, key in (("#pnl-today", "realised_today"), ("#pnl-total", "realised_total"),
                      ("#pnl-unrealised", "unrealised")):
        assert await page.locator(node).inner_text() == format_signed(pnl[key]), key
    await desk.screenshot("portfolio")

    await page.goto(f"{desk.url}/orders")
    await page.wait_for_selector("body[data-loaded=true]")
    assert await page.locator("#open-orders tbody tr").count() == open_orders["total"] == 2
    for o in open_orders["orders"]:
        cell = page.locator(f'#open-orders tr[data-client-oid="{o["client_oid"]}"] '
                            'td[data-field="trigger_price"]')
        assert await cell.inner_text() == format_price(o["trigger_price"])
    assert await page.locator("#executed-orders tbody tr").count() == executed["total"] == 3
    sold = page.locator(f'#executed-orders tr[data-client-oid="{sell["client_oid"]}"]')
    assert await sold.locator('td[data-field="fee"]').inner_text() == \
        f"{format_price(sell['fee'])} {sell['fee_currency']}"
    assert await sold.locator('td[data-field="notional"]').inner_text() == \
        format_usd(sell["notional"])
    assert "1–3 of 3" in await page.locator("#executed-count").inner_text()
    await desk.screenshot("orders")


async def test_the_page_and_telegram_print_the_same_digits(desk: Dashboard) -> None:
    """The dashboard's formatters against Telegram's, on ties and float noise."""
    page = desk.page
    await page.goto(f"{desk.url}/portfolio")
    await page.wait_for_selector("body[data-loaded=true]")
    values = [0.0, 0.125, -0.125, 0.495, 2.675, -0.001, 1234567.125, 9992.842064189,
              -1234.5, 0.005, 1e-9, 123456789.994999]
    shown = await page.evaluate(
        "(vs) => vs.map((v) => [fmtUsd(v), fmtSigned(v), fmtPct(v)])", values)
    assert shown == [[format_usd(v), format_signed(v), format_pct(v)] for v in values]
