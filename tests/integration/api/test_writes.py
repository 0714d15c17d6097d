"""Writes: the token guard on every state-changing route, validation that names the field,
404 / 409, the audit trail, and that the engine acts on a change at its next cycle."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from atp.store.models import AlertOutcomeRow, AuditLogRow, SettingRow, WatchlistRow
from tests.integration.api.conftest import AUTH, Api, field_named

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SAMPLE_BODIES: dict[str, Any] = {
    "/api/watchlist": {"symbol": "DDD_USDT"},
    "/api/watchlist/{symbol}": {"enabled": False},
    "/api/presets/{name}": {"cooldown_minutes": 9},
    "/api/settings/live-trading": {"enabled": True},
    "/api/trading/kill-switch": {"enabled": True},
}


def _write_routes(api: Api) -> list[tuple[str, str, str]]:
    """Every state-changing operation the API publishes (its OpenAPI document)."""
    out = []
    for path, operations in api.app.openapi()["paths"].items():
        for method in sorted(m.upper() for m in operations if m.upper() in WRITE_METHODS):
            url = path.replace("{symbol}", "AAA_USDT").replace("{name}", "scalp-aggressive")
            out.append((method, path, url))
    return out


def _audit(api: Api) -> list[AuditLogRow]:
    with api.platform.db.sessions() as session:
        return list(session.scalars(select(AuditLogRow).order_by(AuditLogRow.id)))


async def test_every_write_needs_the_token(api: Api) -> None:
    routes = _write_routes(api)
    # POST/PATCH/DELETE watchlist, PATCH preset, PUT live trading, PUT kill switch, POST panic,
    # POST probe
    assert len(routes) == 8
    for method, path, url in routes:
        body = SAMPLE_BODIES.get(path)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            response = await api.client.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (method, url, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert _audit(api) == []
    with api.platform.db.sessions() as session:
        assert len(session.scalars(select(WatchlistRow)).all()) == 3


async def test_without_a_configured_token_every_write_is_refused(api: Api) -> None:
    api.platform.settings.api_token = None
    for method, path, url in _write_routes(api):
        response = await api.client.request(method, url, json=SAMPLE_BODIES.get(path),
                                            headers=AUTH)
        assert response.status_code == 403
        assert "API_TOKEN" in response.json()["detail"]


async def test_add_symbol_validates_and_audits(api: Api) -> None:
    created = await api.client.post("/api/watchlist", headers=AUTH,
                                    json={"symbol": "ddd_usdt", "preset": "scalp-aggressive"})
    assert created.status_code == 201, created.text
    assert created.json()["symbol"] == "DDD_USDT"
    duplicate = await api.client.post("/api/watchlist", headers=AUTH,
                                      json={"symbol": "DDD_USDT"})
    assert duplicate.status_code == 409 and "already" in duplicate.json()["detail"]
    cases = [
        ({"symbol": "not a symbol"}, "symbol"),
        ({"symbol": "EEE_USDT", "preset": "yolo"}, "preset"),
        ({"symbol": "EEE_USDT", "overrides": {"rsi_buy_below": 120}}, "rsi_buy_below"),
        ({"symbol": "EEE_USDT", "overrides": {"nonsense": 1}}, "nonsense"),
        ({"symbol": "EEE_USDT", "trade_amount_usd": -5}, "trade_amount_usd"),
        ({"symbol": "EEE_USDT", "enabled": "yes"}, "enabled"),
        ({"symbol": "EEE_USDT", "colour": "red"}, "colour"),
        ({}, "symbol"),
    ]
    for body, field in cases:
        response = await api.client.post("/api/watchlist", headers=AUTH, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field_named(response.json(), field), (body, response.json())
    [entry] = _audit(api)
    assert (entry.author, entry.entity, entry.entity_key, entry.field) == (
        "api", "watchlist", "DDD_USDT", "row")
    assert entry.new_value["preset"] == "scalp-aggressive"


async def test_flag_toggle_is_audited_and_the_engine_obeys_it(api: Api) -> None:
    api.market.set("AAA_USDT", "down", price=50.0)  # far from the last alert: not throttled
    response = await api.client.patch(
        "/api/watchlist/AAA_USDT", json={"buy_alert_enabled": False},
        headers={**AUTH, "X-ATP-Client": "dashboard"})
    assert response.status_code == 200, response.text
    assert response.json()["buy_alert_enabled"] is False
    [entry] = _audit(api)
    assert (entry.author, entry.field, entry.old_value, entry.new_value) == (
        "dashboard", "buy_alert_enabled", True, False)
    api.clock.advance(600)
    await api.cycle()
    with api.platform.db.sessions() as session:
        last = session.scalars(select(AlertOutcomeRow).where(AlertOutcomeRow.symbol == "AAA_USDT")
                               .order_by(AlertOutcomeRow.id.desc())).first()
    assert last is not None and last.outcome == "BLOCKED"
    assert last.reason == "buy_alert_enabled is off"


async def test_patch_errors(api: Api) -> None:
    missing = await api.client.patch("/api/watchlist/ZZZ_USDT", headers=AUTH,
                                     json={"enabled": False})
    assert missing.status_code == 404
    for body, field in [({"enabled": None}, "enabled"),
                        ({"overrides": {"rsi_buy_below": 80, "rsi_sell_above": 70}},
                         "rsi_buy_below"),
                        ({"preset": "nope"}, "preset"),
                        ({"buy_target": 0}, "buy_target")]:
        response = await api.client.patch("/api/watchlist/AAA_USDT", headers=AUTH, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field_named(response.json(), field), (body, response.json())
    cleared = await api.client.patch("/api/watchlist/AAA_USDT", headers=AUTH,
                                     json={"buy_target": None})
    assert cleared.status_code == 200 and _audit(api) == []  # unchanged: nothing audited


async def test_delete_symbol(api: Api) -> None:
    response = await api.client.delete("/api/watchlist/CCC_USDT", headers=AUTH)
    assert response.status_code == 204
    assert (await api.client.delete("/api/watchlist/CCC_USDT", headers=AUTH)).status_code == 404
    symbols = [r["symbol"] for r in (await api.client.get("/api/watchlist")).json()]
    assert symbols == ["AAA_USDT", "BBB_USDT"]
    [entry] = _audit(api)
    assert entry.old_value["symbol"] == "CCC_USDT" and entry.new_value is None


async def test_preset_edit(api: Api) -> None:
    response = await api.client.patch("/api/presets/scalp-aggressive", headers=AUTH,
                                      json={"cooldown_minutes": 9, "check_ma50": True})
    assert response.status_code == 200, response.text
    assert response.json()["cooldown_minutes"] == 9 and response.json()["updated_by"] == "api"
    assert sorted(e.field for e in _audit(api)) == ["check_ma50", "cooldown_minutes"]
    listed = {p["name"]: p for p in (await api.client.get("/api/presets")).json()}
    assert listed["scalp-aggressive"]["check_ma50"] is True and len(listed) == 6
    bad = await api.client.patch("/api/presets/scalp-aggressive", headers=AUTH,
                                 json={"rsi_buy_below": 90})
    assert bad.status_code == 422 and field_named(bad.json(), "rsi_buy_below")
    bad = await api.client.patch("/api/presets/scalp-aggressive", headers=AUTH,
                                 json={"sl_pct": 500})
    assert bad.status_code == 422 and field_named(bad.json(), "sl_pct")
    assert (await api.client.patch("/api/presets/no-such", headers=AUTH,
                                   json={"sl_pct": 1})).status_code == 404


@pytest.mark.parametrize("value", [True, False])
async def test_live_trading_switch(api: Api, value: bool) -> None:
    before = (await api.client.get("/api/settings")).json()
    assert before["live_trading"] is False
    assert "api_token" not in str(before["runtime"]).replace("api_token_configured", "")
    response = await api.client.put("/api/settings/live-trading", headers=AUTH,
                                    json={"enabled": value})
    assert response.status_code == 200
    assert (await api.client.get("/api/settings")).json()["live_trading"] is value
    with api.platform.db.sessions() as session:
        assert session.get(SettingRow, "live_trading").value is value  # type: ignore[union-attr]
    assert len(_audit(api)) == 1
    bad = await api.client.put("/api/settings/live-trading", headers=AUTH,
                               json={"enabled": "yes"})
    assert bad.status_code == 422 and field_named(bad.json(), "enabled")
