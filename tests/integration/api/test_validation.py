"""Strict numbers and cross-field rules on every write, over real HTTP (uvicorn on port 0):
NaN, ±Infinity, 1e999, a boolean for a number, sell-above below buy-below are a 422 that
names the field, and nothing is written (audit log, watchlist, presets, settings as before).

Bodies are sent as raw bytes: httpx's `json=` would refuse to encode NaN, and the point
is what a client that does send it gets back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from atp.api.guards import json_safe, not_finite_problem
from atp.api.server import serve
from atp.store.models import AuditLogRow
from tests.integration.api.conftest import AUTH, Api, field_named

JSON = {**AUTH, "Content-Type": "application/json"}

# (method, url, body template with {v} where the bad value goes, field the 422 must name):
# every write endpoint, and on the watchlist every place a number can be sent
WRITES = [
    ("POST", "/api/watchlist", '{{"symbol": "DDD_USDT", "trade_amount_usd": {v}}}',
     "trade_amount_usd"),
    ("POST", "/api/watchlist", '{{"symbol": "DDD_USDT", "buy_target": {v}}}', "buy_target"),
    ("POST", "/api/watchlist",
     '{{"symbol": "DDD_USDT", "overrides": {{"rsi_buy_below": {v}}}}}', "rsi_buy_below"),
    ("PATCH", "/api/watchlist/AAA_USDT", '{{"buy_target": {v}}}', "buy_target"),
    ("PATCH", "/api/watchlist/AAA_USDT", '{{"trade_amount_usd": {v}}}', "trade_amount_usd"),
    ("PATCH", "/api/watchlist/AAA_USDT", '{{"overrides": {{"sl_pct": {v}}}}}', "sl_pct"),
    ("PATCH", "/api/presets/scalp-aggressive", '{{"cooldown_minutes": {v}}}',
     "cooldown_minutes"),
    ("PATCH", "/api/presets/scalp-aggressive", '{{"rsi_sell_above": {v}}}', "rsi_sell_above"),
    ("PUT", "/api/settings/live-trading", '{{"enabled": {v}}}', "enabled"),
    # DELETE takes no body, but one that is not JSON is refused like anywhere else
    ("DELETE", "/api/watchlist/AAA_USDT", '{{"reason": {v}}}', "reason"),
]
NOT_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" + "0" * 400]
NUMBER_FIELDS = [w for w in WRITES if w[0] in ("POST", "PATCH")]


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    server = await serve(api.app, "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        await server.stop()


async def _state(api: Api, http: httpx.AsyncClient) -> dict[str, Any]:
    """Everything a write could change, as the API and the audit table show it."""
    with api.platform.db.sessions() as session:
        audit = session.scalar(select(func.count(AuditLogRow.id)))
    out: dict[str, Any] = {"audit": audit}
    for path in ("/api/watchlist", "/api/presets", "/api/settings"):
        response = await http.get(path)
        assert response.status_code == 200, response.text
        out[path] = response.json()
    return out


async def _refused(api: Api, http: httpx.AsyncClient, method: str, url: str, body: str,
                   field: str) -> dict[str, Any]:
    before = await _state(api, http)
    response = await http.request(method, url, content=body.encode(), headers=JSON)
    assert response.status_code == 422, (method, url, body, response.text)
    detail = response.json()
    assert field_named(detail, field), (field, detail)
    assert await _state(api, http) == before, "a refused write changed something"
    return dict(detail)


# Refused before the database is asked (the JSON guard, the body schema): one backend is
# enough, and the values of one endpoint share a server (the suite's wall time counts).
@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("method", "url", "body", "field"), WRITES)
async def test_a_number_that_is_not_finite_or_a_boolean_is_refused_naming_the_field(
    api: Api, http: httpx.AsyncClient, method: str, url: str, body: str, field: str
) -> None:
    for value in NOT_FINITE:
        detail = await _refused(api, http, method, url, body.format(v=value), field)
        [item] = detail["detail"]
        assert item["type"] == "finite_number", (value, item)
        assert "send a finite number" in item["msg"], (value, item)
    if (method, url, body, field) in NUMBER_FIELDS:  # `true` is no 1.0
        for value in ("true", "false"):
            await _refused(api, http, method, url, body.format(v=value), field)


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
async def test_a_number_or_string_is_not_a_boolean(api: Api, http: httpx.AsyncClient) -> None:
    for value in ("1", "0", '"true"', "null"):
        await _refused(api, http, "PUT", "/api/settings/live-trading",
                       f'{{"enabled": {value}}}', "enabled")


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
async def test_null_for_a_field_that_cannot_be_cleared_is_refused_naming_it(
    api: Api, http: httpx.AsyncClient
) -> None:
    for url, field in [("/api/watchlist/AAA_USDT", "enabled"),
                       ("/api/watchlist/AAA_USDT", "overrides"),
                       ("/api/presets/scalp-aggressive", "sl_pct")]:
        detail = await _refused(api, http, "PATCH", url, f'{{"{field}": null}}', field)
        assert detail["detail"][0]["loc"] == ["body", field]
    cleared = await http.patch("/api/watchlist/AAA_USDT", headers=JSON,
                               content=b'{"buy_target": null}')  # the one that can be
    assert cleared.status_code == 200 and cleared.json()["buy_target"] is None


# Refused by the domain inside the unit of work: both backends.
CROSS_FIELD = [
    # on swing-conservative (buy below 40): sell above 30 is below it
    ("POST", "/api/watchlist",
     '{"symbol": "DDD_USDT", "preset": "swing-conservative", '
     '"overrides": {"rsi_sell_above": 30}}', "rsi_sell_above"),
    ("POST", "/api/watchlist",
     '{"symbol": "DDD_USDT", "overrides": {"rsi_buy_below": 60, "rsi_sell_above": 50}}',
     "rsi_buy_below"),
    # AAA_USDT is on scalp-aggressive (55 / 65): overrides are checked on top of it
    ("PATCH", "/api/watchlist/AAA_USDT", '{"overrides": {"rsi_buy_below": 70}}',
     "rsi_buy_below"),
    ("PATCH", "/api/watchlist/AAA_USDT", '{"overrides": {"rsi_sell_above": 55}}',
     "rsi_sell_above"),
    ("PATCH", "/api/presets/scalp-aggressive", '{"rsi_sell_above": 50}', "rsi_sell_above"),
    ("PATCH", "/api/presets/scalp-aggressive", '{"rsi_buy_below": 65}', "rsi_buy_below"),
    ("PATCH", "/api/presets/scalp-aggressive",
     '{"rsi_buy_below": 70, "rsi_sell_above": 30}', "rsi_buy_below"),
]


async def test_sell_above_below_buy_below_is_refused_naming_the_field(
    api: Api, http: httpx.AsyncClient
) -> None:
    for method, url, body, field in CROSS_FIELD:
        detail = await _refused(api, http, method, url, body, field)
        assert "rsi_sell_above" in str(detail) and "rsi_buy_below" in str(detail), detail


async def test_overrides_switching_preset_are_checked_against_the_new_preset(
    api: Api, http: httpx.AsyncClient
) -> None:
    # buy below 66 is fine on swing-aggressive (sell 68), not on scalp-aggressive (65)
    created = await http.post("/api/watchlist", headers=JSON, content=(
        b'{"symbol": "DDD_USDT", "preset": "swing-aggressive", '
        b'"overrides": {"rsi_buy_below": 66}}'))
    assert created.status_code == 201, created.text
    await _refused(api, http, "PATCH", "/api/watchlist/DDD_USDT",
                   '{"preset": "scalp-aggressive"}', "rsi_buy_below")


async def test_good_values_still_go_through_and_ints_are_numbers(
    api: Api, http: httpx.AsyncClient
) -> None:
    ok = await http.patch("/api/presets/scalp-aggressive", headers=JSON,
                          content=b'{"cooldown_minutes": 9, "rsi_buy_below": 50.5}')
    assert ok.status_code == 200, ok.text
    assert (ok.json()["cooldown_minutes"], ok.json()["rsi_buy_below"]) == (9.0, 50.5)
    # the strict-JSON guard replays the body it read: a large body arrives whole
    padded = b'{"symbol": "DDD_USDT", "trade_amount_usd": 25' + b" " * 300_000 + b"}"
    created = await http.post("/api/watchlist", headers=JSON, content=padded)
    assert created.status_code == 201, created.text
    assert created.json()["trade_amount_usd"] == 25.0
    deleted = await http.request("DELETE", "/api/watchlist/DDD_USDT", headers=JSON,
                                 content=b'{"reason": 1}')
    assert deleted.status_code == 204


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "application/merge-patch+json"])
async def test_every_json_media_type_is_checked(api: Api, http: httpx.AsyncClient,
                                                content_type: str) -> None:
    before = await _state(api, http)
    response = await http.patch("/api/presets/scalp-aggressive", content=b'{"sl_pct": NaN}',
                                headers={**AUTH, "Content-Type": content_type})
    assert response.status_code == 422 and field_named(response.json(), "sl_pct")
    assert await _state(api, http) == before


def test_the_guard_finds_the_first_bad_value_and_its_path() -> None:
    problem = not_finite_problem(b'{"a": [1, {"b": 2.5}, {"c": -Infinity}], "d": NaN}')
    assert problem is not None
    assert problem["loc"] == ["body", "a", 2, "c"] and problem["input"] == "-Infinity"
    assert not_finite_problem(b'{"a": 1e308, "b": [true, null, "NaN"]}') is None
    assert not_finite_problem(b"not json") is None  # the route's parser answers that
    long = not_finite_problem(b"[" + b"9" * 5000 + b"]")  # beyond int-parsing limits too
    assert long is not None and long["loc"] == ["body", 0] and len(long["input"]) == 32


def test_an_echoed_non_finite_input_becomes_json() -> None:
    echoed = [{"loc": ["body", "x"], "input": float("nan"),
               "ctx": {"values": (float("inf"), -float("inf"), 1.5)}}]
    assert json_safe(echoed) == [{"loc": ["body", "x"], "input": "NaN",
                                  "ctx": {"values": ["Infinity", "-Infinity", 1.5]}}]
