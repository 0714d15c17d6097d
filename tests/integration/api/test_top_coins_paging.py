"""`/api/market/top-coins-data` in pages and in compact form, the default unchanged."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import SYMBOLS, Api, field_named

FEED = "/api/market/top-coins-data"


async def test_pages_cover_the_whole_list_in_order_with_the_total(api: Api) -> None:
    whole = await api.client.get(FEED)
    assert whole.headers["X-Total-Count"] == str(len(SYMBOLS))
    everything = whole.json()
    assert len(everything) == len(SYMBOLS)  # no parameter: the whole list, as before
    pages = []
    for offset in range(0, len(SYMBOLS), 2):
        reply = await api.client.get(FEED, params={"limit": 2, "offset": offset})
        assert reply.status_code == 200
        assert reply.headers["X-Total-Count"] == str(len(SYMBOLS))
        pages.extend(reply.json())
    assert pages == everything
    past = await api.client.get(FEED, params={"limit": 5, "offset": len(SYMBOLS)})
    assert past.json() == [] and past.headers["X-Total-Count"] == str(len(SYMBOLS))


async def test_compact_keeps_the_table_and_drops_the_panel(api: Api) -> None:
    full = {c["symbol"]: c for c in (await api.client.get(FEED)).json()}
    reply = await api.client.get(FEED, params={"compact": "true"})
    assert reply.status_code == 200
    compact = reply.json()
    assert len(reply.content) < len((await api.client.get(FEED)).content)
    for coin in compact:
        whole = full[coin["symbol"]]
        assert "reasons" not in coin and "unknown_inputs" not in coin
        assert coin["indicators"] == {"ma10w": whole["indicators"].get("ma10w")}
        for key in ("decision", "decision_id", "flags", "buy_index", "price", "preset",
                    "enabled", "alert_enabled", "error"):
            assert coin[key] == whole[key], key


async def test_symbols_selects_full_records(api: Api) -> None:
    wanted = sorted(SYMBOLS)[:2]
    reply = await api.client.get(FEED, params={"symbols": ",".join(wanted)})
    rows = reply.json()
    assert [r["symbol"] for r in rows] == wanted and all("reasons" in r for r in rows)
    assert reply.headers["X-Total-Count"] == "2"


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": -1}, "limit"), ({"limit": "ten"}, "limit"),
    ({"limit": 100000}, "limit"), ({"offset": -1}, "offset"), ({"compact": "maybe"}, "compact"),
    ({"symbols": "A B;drop"}, "symbols"),
])
async def test_bad_paging_values_are_a_422_naming_the_field(api: Api, params: dict[str, object],
                                                            field: str) -> None:
    reply = await api.client.get(FEED, params=params)
    assert reply.status_code == 422 and field_named(reply.json(), field)
