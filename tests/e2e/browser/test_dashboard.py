"""The dashboard in a real Chromium: what it shows is what the engine returned, a flag
toggled on the page is the flag stored, and the messages view lists the delivered alert."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from atp.store.models import AuditLogRow, WatchlistRow
from tests.e2e.browser.conftest import API_TOKEN, Dashboard

# The pages are the same on either backend (the API tests cover both): SQLite only.
pytestmark = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)


async def test_watchlist_shows_symbols_and_the_engines_decisions(dashboard: Dashboard) -> None:
    page = dashboard.page
    await page.goto(f"{dashboard.url}/")
    await page.wait_for_selector("body[data-loaded=true]")
    core = dashboard.platform.core
    symbols = [w["symbol"] for w in await core.watchlist()]
    assert symbols
    for symbol in symbols:
        # the page shows the newest *stored* decision (the one record)
        [decision] = await core.decisions(symbol=symbol, kinds=None, since=None, until=None,
                                          limit=1, offset=0)
        cell = page.locator(f'#coins tr[data-symbol="{symbol}"] td.decision')
        assert (await cell.inner_text()).strip() == decision["decision"]
        for flag, value in decision["flags"].items():
            css = await page.locator(f'#coins tr[data-symbol="{symbol}"] '
                                     f'td[data-flag="{flag}"]').get_attribute("class")
            expected = {True: "on", False: "off", None: "unknown"}[value]
            assert css is not None and expected in css.split(), (symbol, flag)
        ma10w = page.locator(f'#coins tr[data-symbol="{symbol}"] td[data-indicator="ma10w"]')
        assert decision["indicators"]["ma10w"] is not None
        shown = float((await ma10w.inner_text()).strip())
        assert shown == pytest.approx(decision["indicators"]["ma10w"], rel=1e-5), symbol
    await page.wait_for_selector("#chart svg rect.candle")
    assert await page.locator("#chart svg polyline.ema10").count() == 1
    assert (await page.locator("#chart-decision").inner_text()) == "BUY"  # first row: AAA
    await dashboard.screenshot("watchlist")


async def test_a_flag_toggled_in_the_page_is_stored(dashboard: Dashboard) -> None:
    page = dashboard.page
    await page.goto(f"{dashboard.url}/settings")
    toggle = page.locator('button[data-symbol="AAA_USDT"][data-field="buy_alert_enabled"]')
    await toggle.wait_for()
    assert await toggle.get_attribute("data-value") == "true"
    await toggle.click()  # no token yet: refused, and the page says why
    await page.wait_for_selector("#notice.error")
    assert "401" in await page.locator("#notice").inner_text()
    await page.fill("#token", API_TOKEN)
    await page.click("#token-form button[type=submit]")
    await page.wait_for_selector("#token-state:text('token saved')")
    await toggle.click()
    await page.wait_for_selector(
        'button[data-symbol="AAA_USDT"][data-field="buy_alert_enabled"][data-value="false"]')
    with dashboard.platform.db.sessions() as session:
        row = session.scalars(select(WatchlistRow).where(WatchlistRow.symbol == "AAA_USDT")).one()
        assert row.buy_alert_enabled is False
        audit = session.scalars(select(AuditLogRow)).one()
        assert (audit.author, audit.field, audit.new_value) == (
            "dashboard", "buy_alert_enabled", False)
    await page.wait_for_selector("#audit tbody tr")
    await dashboard.screenshot("settings")


async def test_messages_view_lists_the_delivered_alert(dashboard: Dashboard) -> None:
    page = dashboard.page
    await page.goto(f"{dashboard.url}/messages")
    row = page.locator('#outcomes tbody tr[data-outcome="SENT"]', has_text="AAA_USDT")
    await row.wait_for()
    text = await row.inner_text()
    assert "BUY" in text and "BUY AAA_USDT" in text  # the message text itself
    await dashboard.screenshot("messages")


async def test_events_and_integrity_pages(dashboard: Dashboard) -> None:
    page = dashboard.page
    await page.goto(f"{dashboard.url}/events")
    await page.wait_for_selector('#events tbody tr[data-type="monitor_cycle"]')
    await dashboard.screenshot("events")
    await page.goto(f"{dashboard.url}/integrity")
    placeholder = page.locator('[data-testid="integrity-placeholder"]')
    await placeholder.wait_for()
    assert "not available" in await placeholder.inner_text()
    await dashboard.screenshot("integrity")


async def test_the_content_security_policy_lets_every_page_work(dashboard: Dashboard) -> None:
    """The CSP is strict (own static files, no inline script or style): a page that broke
    under it would log a violation; none may, and the page must still fill in."""
    page = dashboard.page
    console: list[str] = []
    crashes: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: crashes.append(str(exc)))
    for path in ("/", "/trading", "/portfolio", "/orders", "/messages", "/events", "/settings",
                 "/integrity"):
        response = await page.goto(f"{dashboard.url}{path}")
        assert response is not None
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert response.headers.get("x-frame-options") == "DENY"
        await page.wait_for_selector("body[data-loaded=true]")
    await page.goto(f"{dashboard.url}/")
    await page.wait_for_selector("#chart svg rect.candle")
    # the buy-index bar's width is set through CSSOM (an inline style would be blocked):
    # AAA_USDT's index is 100, so its bar fills the cell
    bar = page.locator('#coins tr[data-symbol="AAA_USDT"] .bar > span')
    assert await bar.evaluate("n => n.style.width") == "100%"
    assert (await bar.bounding_box() or {}).get("width", 0) > 80
    # (the console also reports the integrity route's 503 by design and /favicon.ico's 404)
    assert not [e for e in console if "Content Security Policy" in e], console
    assert crashes == []
