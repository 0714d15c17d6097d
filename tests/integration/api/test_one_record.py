"""One record: the API's top coins, Telegram's /signals and the stored decisions agree,
and a symbol disabled through the API shows as disabled on the next read of each."""

from __future__ import annotations

import asyncio

from atp.engine.lease import DbLease
from atp.telegram.poller import TelegramPoller
from tests.integration.api.conftest import AUTH, Api
from tests.integration.engine.conftest import CHAT, TOKEN


async def _signals(api: Api) -> str:
    poller = TelegramPoller(TOKEN, core=api.platform.commands,
                            lease=DbLease(api.platform.db, "tg", "one-record", api.clock),
                            allowed_chat_ids=[str(CHAT)], api_base=api.tg.base_url,
                            poll_timeout=1)
    await poller.start()
    try:
        before = len(api.tg.received(CHAT))
        await api.tg.post_user_message(CHAT, "/signals", token=TOKEN)
        for _ in range(200):
            new = [m.text for m in api.tg.received(CHAT)[before:]
                   if "Latest decisions" in m.text]
            if new:
                return new[-1]
            await asyncio.sleep(0.05)
        raise AssertionError("no answer to /signals")
    finally:
        await poller.stop()


async def test_every_channel_shows_the_same_stored_decision(api: Api) -> None:
    coins = {c["symbol"]: c for c in
             (await api.client.get("/api/market/top-coins-data")).json()}
    text = await _signals(api)
    for symbol, coin in coins.items():
        stored = (await api.client.get("/api/decisions",
                                       params={"symbol": symbol, "limit": 1})).json()[0]
        assert coin["decision_id"] == stored["id"]
        # Telegram names the same decision (its id's first 8 characters) and verdict
        line = next(li for li in text.splitlines() if li.startswith(symbol))
        assert f"{symbol}: {stored['decision']}" in line
        assert stored["id"][:8] in line


async def test_disabled_symbol_shows_disabled_on_the_next_read(api: Api) -> None:
    r = await api.client.patch("/api/watchlist/AAA_USDT", json={"enabled": False},
                               headers=AUTH)
    assert r.status_code == 200, r.text
    coin = next(c for c in (await api.client.get("/api/market/top-coins-data")).json()
                if c["symbol"] == "AAA_USDT")
    assert coin["enabled"] is False and coin["error"] == "disabled"
    assert coin["decision"] is None and coin["decision_id"] is None
    text = await _signals(api)
    assert "AAA_USDT: disabled" in text
    # the next cycle makes no decision for it, and no channel shows one
    await api.cycle()
    stored = (await api.client.get("/api/decisions", params={"symbol": "AAA_USDT"})).json()
    assert all(d["cycle_id"] == stored[-1]["cycle_id"] for d in stored)
    coin = next(c for c in (await api.client.get("/api/market/top-coins-data")).json()
                if c["symbol"] == "AAA_USDT")
    assert coin["decision"] is None
    r = await api.client.delete("/api/watchlist/AAA_USDT", headers=AUTH)
    assert r.status_code == 204
    symbols = [c["symbol"] for c in (await api.client.get("/api/market/top-coins-data")).json()]
    assert "AAA_USDT" not in symbols
    assert "AAA_USDT" not in await _signals(api)


async def test_a_symbol_the_exchange_does_not_list_is_refused_naming_the_field(api: Api) -> None:
    async def listed() -> list[str]:
        return ["AAA_USDT", "BBB_USDT", "CCC_USDT", "ETH_USDT"]

    api.platform.core.listed = listed
    r = await api.client.post("/api/watchlist", json={"symbol": "ETX_USDT"}, headers=AUTH)
    assert r.status_code == 422, r.text
    [detail] = r.json()["detail"]
    assert detail["loc"] == ["body", "symbol"]
    assert "not an instrument Crypto.com lists" in detail["msg"]
    assert "ETH_USDT" in detail["msg"]  # the close match is suggested
    audit = (await api.client.get("/api/audit", params={"entity": "watchlist"})).json()
    assert not [a for a in audit if a["entity_key"] == "ETX_USDT"]
    r = await api.client.post("/api/watchlist", json={"symbol": "ETH_USDT"}, headers=AUTH)
    assert r.status_code == 201, r.text
