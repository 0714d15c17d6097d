"""The watchlist page asks for a compact page of the feed and the selected symbol's full
record (its reasons), never the whole list (850 KB a refresh at 1,000 symbols)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.browser.conftest import Dashboard

pytestmark = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)


async def test_the_watchlist_reads_a_compact_page_and_the_selected_record(
        dashboard: Dashboard) -> None:
    page = dashboard.page
    feeds: list[dict[str, list[str]]] = []
    page.on("request", lambda r: feeds.append(parse_qs(urlsplit(r.url).query))
            if "/api/market/top-coins-data" in r.url else None)
    await page.goto(f"{dashboard.url}/?symbol=AAA_USDT")
    await page.wait_for_selector("body[data-loaded=true]")
    assert {"compact": ["true"], "limit": ["101"], "offset": ["0"]} in feeds
    assert {"symbols": ["AAA_USDT"]} in feeds
    assert all(f for f in feeds), "a request for the whole list"
    [coin] = [c for c in await dashboard.platform.core.coins() if c["symbol"] == "AAA_USDT"]
    shown = await page.locator("#reasons li").all_inner_texts()
    assert shown == coin["reasons"] and shown
    symbols = len(await dashboard.platform.core.watchlist())
    assert (await page.locator("#coins-page-info").inner_text()) == f"symbols 1–{symbols}"
    assert await page.locator("#coins-next").is_disabled()
    assert await page.locator("#coins-prev").is_disabled()
