"""The portfolio API: balances in USD, positions, expected take-profit, open and executed
orders with fees and realised P&L, and P&L — each figure cross-checked here against a
recomputation from the fills, not against the code that computed it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from atp.store.models import PaperBalanceRow, WatchlistRow
from tests.integration.api.conftest import Api

TAKER = 0.005  # the paper broker's default taker fee (atp.domain.fills.default_rules)


async def _buy(api: Api, price: float = 90.0) -> None:
    with api.platform.db.sessions.begin() as s:
        s.execute(update(WatchlistRow).where(WatchlistRow.symbol == "AAA_USDT")
                  .values(trade_enabled=True, trade_amount_usd=100.0))
    api.clock.advance(400)
    api.market.set("AAA_USDT", "down", price=price)
    await api.cycle()
    await api.platform.trader.step()


async def test_portfolio_values_balances_and_the_protected_position(api: Api) -> None:
    await _buy(api)
    now = api.clock.now()
    with api.platform.db.sessions.begin() as s:  # held, but no XYZ_USDT / XYZ_USD ticker
        s.add(PaperBalanceRow(currency="XYZ", amount=3.0, updated_at=now))
    body = (await api.client.get("/api/portfolio")).json()
    assert body["mode"] == "paper"
    bal = {b["currency"]: b for b in body["balances"]}
    assert bal["USDT"]["price_source"] == "1:1" and bal["USDT"]["value_usd"] == \
        bal["USDT"]["amount"]
    assert bal["AAA"]["price_source"] == "AAA_USDT" and bal["AAA"]["price_usd"] == 90.0
    assert bal["AAA"]["value_usd"] == pytest.approx(bal["AAA"]["amount"] * 90.0)
    assert bal["XYZ"]["value_usd"] is None and "XYZ_USDT" in bal["XYZ"]["reason"]
    assert body["unvalued"] == ["XYZ"]
    assert body["total_usd"] == pytest.approx(bal["USDT"]["value_usd"] + bal["AAA"]["value_usd"])

    [pos] = body["positions"]
    assert pos["protected"] and pos["stop_loss"] < 90.0 < pos["take_profit"]
    assert pos["unrealised_pnl"] == pytest.approx(pos["quantity"] * (90.0 - pos["avg_entry"]))
    assert pos["unrealised_pnl_pct"] == pytest.approx((90.0 / pos["avg_entry"] - 1) * 100)
    [tp] = body["expected_take_profit"]
    assert tp["symbol"] == "AAA_USDT" and tp["covered"] == pytest.approx(pos["quantity"])
    assert tp["held"] == bal["AAA"]["amount"]
    assert tp["uncovered"] == pytest.approx(max(0.0, tp["held"] - pos["quantity"]))
    assert tp["profit_at_tp"] == pytest.approx(
        pos["quantity"] * pos["take_profit"] * (1 - TAKER) - pos["cost"])

    legs = (await api.client.get("/api/orders/open")).json()
    assert sorted(o["role"] for o in legs["orders"]) == ["stop_loss", "take_profit"]
    assert {o["trigger_price"] for o in legs["orders"]} == {pos["stop_loss"],
                                                            pos["take_profit"]}
    # /api/positions keeps its shape (and now says the percentage too)
    [old] = (await api.client.get("/api/positions")).json()["positions"]
    assert old["unrealised_pnl"] == pos["unrealised_pnl"]


async def test_a_take_profit_fill_is_an_executed_order_with_its_realised_pnl(api: Api) -> None:
    await _buy(api)
    [pos] = (await api.client.get("/api/portfolio")).json()["positions"]
    [entry] = (await api.client.get("/api/orders/executed")).json()["orders"]
    assert (entry["side"], entry["role"], entry["realised_pnl"]) == ("BUY", "entry", None)
    assert entry["fee_currency"] == "AAA" and entry["fee_quote"] == pytest.approx(
        entry["fee"] * entry["avg_price"])

    exit_price = pos["take_profit"] * 1.02
    api.market.set("AAA_USDT", "flat", price=exit_price)
    await api.cycle()
    await api.platform.trader.step()
    body = (await api.client.get("/api/orders/executed")).json()
    assert body["total"] == 2
    sell = body["orders"][0]
    assert (sell["side"], sell["role"], sell["fee_currency"]) == ("SELL", "take_profit", "USDT")
    proceeds = pos["quantity"] * exit_price
    assert sell["fee"] == pytest.approx(proceeds * TAKER)
    assert sell["realised_pnl"] == pytest.approx(proceeds * (1 - TAKER) - pos["cost"])
    assert (await api.client.get("/api/orders/open")).json() == {"orders": [], "total": 0}

    pnl = (await api.client.get("/api/pnl")).json()
    assert pnl["realised_total"] == pytest.approx(sell["realised_pnl"])
    assert pnl["realised_today"] == pnl["realised_total"] and pnl["closed_today"] == 1
    assert pnl["unrealised"] == 0.0 and pnl["unpriced_positions"] == 0
    assert datetime.fromisoformat(pnl["day_start"]) == api.clock.now().astimezone(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0)
    page = (await api.client.get("/api/orders/executed",
                                 params={"limit": 1, "offset": 1})).json()
    assert [o["client_oid"] for o in page["orders"]] == [entry["client_oid"]]
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    only = (await api.client.get("/api/orders/executed", params={"symbol": "BBB_USDT"})).json()
    assert only["orders"] == [] and only["total"] == 0


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1},
                                    {"symbol": "not a symbol"}, {"since": "yesterday"},
                                    {"limit": "ten"}])
async def test_executed_orders_query_is_validated(api: Api, params: dict[str, object]) -> None:
    response = await api.client.get("/api/orders/executed", params=params)
    assert response.status_code == 422
    [field] = params
    assert field in response.text


async def test_an_empty_desk(api: Api) -> None:
    body = (await api.client.get("/api/portfolio")).json()
    assert body["positions"] == [] and body["expected_take_profit"] == []
    pnl = (await api.client.get("/api/pnl")).json()
    assert (pnl["realised_total"], pnl["unrealised"], pnl["closed_total"]) == (0.0, 0.0, 0)
    assert (await api.client.get("/api/orders/executed")).json()["total"] == 0
