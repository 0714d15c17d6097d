"""The trading API of the contract: state, orders, positions, kill switch, panic."""

from __future__ import annotations

from sqlalchemy import update

from atp.store.models import OrderRow, WatchlistRow
from tests.integration.api.conftest import AUTH, Api

STATE_KEYS = {"mode", "live_switch", "kill_switch", "credentials", "live_refused_reason",
              "last_private_order_call", "open_orders", "open_positions",
              "unprotected_positions"}


async def _trade(api: Api) -> None:
    with api.platform.db.sessions.begin() as s:
        s.execute(update(WatchlistRow).where(WatchlistRow.symbol == "AAA_USDT")
                  .values(trade_enabled=True, trade_amount_usd=100.0))
    api.clock.advance(400)  # past the throttle's cooldown of the fixture's first cycle
    api.market.set("AAA_USDT", "down", price=90.0)
    await api.cycle()
    await api.platform.trader.step()


async def test_state_shape_in_dry_run(api: Api) -> None:
    body = (await api.client.get("/api/trading/state")).json()
    assert set(body) == STATE_KEYS
    assert body["mode"] == "paper" and body["kill_switch"] is False
    assert body["live_refused_reason"] is None and body["last_private_order_call"] is None


async def test_orders_positions_after_a_paper_buy(api: Api) -> None:
    await _trade(api)
    body = (await api.client.get("/api/orders", params={"symbol": "AAA_USDT"})).json()
    assert body["total"] == 1 and body["rejections_by_code"] == {}
    [intent] = body["intents"]
    assert (intent["side"], intent["mode"], intent["outcome"]) == ("BUY", "paper", "FILLED")
    assert [o["role"] for o in intent["orders"]] == ["entry", "stop_loss", "take_profit"]
    positions = (await api.client.get("/api/positions")).json()
    assert positions["mode"] == "paper"
    [pos] = positions["positions"]
    assert pos["protected"] is True and pos["protection_error"] is None
    assert pos["mark_price"] == 90.0 and pos["protection"]["status"] == "active"
    filtered = (await api.client.get("/api/orders", params={"outcome": "BLOCKED"})).json()
    assert filtered == {"intents": [], "total": 0, "rejections_by_code": {}}


async def test_orders_query_is_validated(api: Api) -> None:
    assert (await api.client.get("/api/orders", params={"limit": 1001})).status_code == 422
    assert (await api.client.get("/api/orders", params={"outcome": "SENT"})).status_code == 422


async def test_kill_switch_needs_the_token_and_blocks(api: Api) -> None:
    refused = await api.client.put("/api/trading/kill-switch", json={"enabled": True})
    assert refused.status_code == 401
    bad = await api.client.put("/api/trading/kill-switch", json={"enabled": "yes"},
                               headers=AUTH)
    assert bad.status_code == 422
    body = (await api.client.put("/api/trading/kill-switch", json={"enabled": True},
                                 headers=AUTH)).json()
    assert body["kill_switch"] is True and body["updated_by"] == "api"
    audit = (await api.client.get("/api/audit", params={"entity": "setting"})).json()
    assert [a["entity_key"] for a in audit] == ["kill_switch"]
    await _trade(api)
    [intent] = (await api.client.get("/api/orders")).json()["intents"]
    assert (intent["outcome"], intent["reason"]) == ("BLOCKED", "kill switch")


async def test_panic_cancels_open_entries_only(api: Api) -> None:
    assert (await api.client.post("/api/trading/panic")).status_code == 401
    await _trade(api)
    now = api.clock.now()
    with api.platform.db.sessions.begin() as s:  # an entry still open (a live limit, say)
        s.add(OrderRow(client_order_id="atp-open-entry", symbol="AAA_USDT", side="BUY",
                       order_type="MARKET", status="ACTIVE", role="entry", dry_run=True,
                       created_at=now, updated_at=now))
    body = (await api.client.post("/api/trading/panic", headers=AUTH)).json()
    assert body == {"cancelled": ["atp-open-entry"]}
    [pos] = (await api.client.get("/api/positions")).json()["positions"]
    assert pos["protected"] is True  # SL/TP stay in place
