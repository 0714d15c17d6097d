"""A Telegram operators can drive: the real poller and python-telegram-bot against the
emulator, on a real Platform (SQLite and PostgreSQL). /menu → a coin → "trade off" changes
the watchlist row through the core (audited with the Telegram author), the callback is
answered and the menu message edited in place; a stranger's press changes nothing and is
logged and journaled."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from atp.emulators.telegram.state import ChatMessage
from atp.engine.lease import DbLease
from atp.telegram.poller import REFUSAL, TelegramPoller
from tests.integration.api.conftest import AUTH, Api
from tests.integration.engine.conftest import CHAT, TOKEN

STRANGER = 6060
OPERATOR = 777


@pytest.fixture
async def bot(api: Api) -> AsyncIterator[TelegramPoller]:
    poller = TelegramPoller(TOKEN, core=api.platform.commands,
                            lease=DbLease(api.platform.db, "tg", "menu-test", api.clock),
                            allowed_chat_ids=[str(CHAT)], api_base=api.tg.base_url,
                            poll_timeout=1, on_event=api.platform._poller_event)
    await poller.start()
    yield poller
    await poller.stop()


async def press(api: Api, message: ChatMessage | None, data: str, *, chat: int = CHAT,
                any_data: bool = False, edits: bool = True) -> dict[str, object]:
    """Press a button; the bot's answer to the callback, once it answered and (`edits`)
    edited the message."""
    assert message is not None
    before = message.edits
    update = await api.tg.press_button(chat, message.message_id, data, token=TOKEN,
                                       from_id=OPERATOR, username="operator",
                                       any_data=any_data)
    query: dict[str, Any] = update["callback_query"]
    answer = await api.tg.wait_for_answer(str(query["id"]), timeout=10)
    if edits:
        await api.tg.state.wait_until(lambda: message.edits > before, 10)
    return answer


def buttons(message: ChatMessage | None) -> list[str]:
    assert message is not None and isinstance(message.reply_markup, dict)
    return [b["callback_data"] for r in message.reply_markup["inline_keyboard"] for b in r]


async def row(api: Api, symbol: str) -> dict[str, Any]:
    rows = (await api.client.get("/api/watchlist", headers=AUTH)).json()
    return next(r for r in rows if r["symbol"] == symbol)


async def test_menu_coin_trade_off_through_the_core_edited_in_place(api: Api, bot) -> None:
    await api.client.patch("/api/watchlist/AAA_USDT", json={"trade_enabled": True},
                           headers=AUTH)
    await api.tg.post_user_message(CHAT, "/menu", token=TOKEN, from_id=OPERATOR,
                                   username="operator")
    menu = await api.tg.wait_for_message(CHAT, "choose", timeout=10)
    assert "m:watchlist" in buttons(menu) and "m:orders" in buttons(menu)
    sent = len(api.tg.received(CHAT))

    assert (await press(api, menu, "m:watchlist"))["text"] == ""
    listed = api.tg.message(CHAT, menu.message_id)
    assert "c:AAA_USDT" in buttons(listed) and "Watchlist: 3 coins" in listed.text
    await press(api, listed, "c:AAA_USDT")
    coin = api.tg.message(CHAT, menu.message_id)
    assert "AAA_USDT" in coin.text and "Trading: on" in coin.text
    assert "c:AAA_USDT:trade:off" in buttons(coin)

    answer = await press(api, coin, "c:AAA_USDT:trade:off")
    assert answer["text"] == "AAA_USDT: trade off"
    edited = api.tg.message(CHAT, menu.message_id)  # the same message, edited in place
    assert edited.edits == 3 and edited.edit_date is not None
    assert "Trading: off" in edited.text and "c:AAA_USDT:trade:on" in buttons(edited)
    assert len(api.tg.received(CHAT)) == sent  # nothing sent: edited
    assert (await row(api, "AAA_USDT"))["trade_enabled"] is False
    audit = await api.platform.core.audit(entity="watchlist", entity_key="AAA_USDT",
                                          since=None, limit=10, offset=0)
    assert (audit[0]["author"], audit[0]["field"], audit[0]["new_value"]) == (
        "telegram:@operator", "trade_enabled", False)

    # the other switches go through the same audited core
    await press(api, edited, "c:AAA_USDT:sell:off")
    await press(api, api.tg.message(CHAT, menu.message_id), "c:AAA_USDT:amount")
    await press(api, api.tg.message(CHAT, menu.message_id), "c:AAA_USDT:amount:25")
    await press(api, api.tg.message(CHAT, menu.message_id), "c:AAA_USDT:preset")
    chooser = api.tg.message(CHAT, menu.message_id)
    assert "c:AAA_USDT:preset:swing-conservative" in buttons(chooser)
    done = await press(api, chooser, "c:AAA_USDT:preset:swing-conservative")
    assert done["text"] == "AAA_USDT: preset swing-conservative"
    after = await row(api, "AAA_USDT")
    assert (after["sell_alert_enabled"], after["trade_amount_usd"], after["preset"]) == (
        False, 25.0, "swing-conservative")
    audit = await api.platform.core.audit(entity="watchlist", entity_key="AAA_USDT",
                                          since=None, limit=10, offset=0)
    assert {a["field"] for a in audit if a["author"] == "telegram:@operator"} == {
        "trade_enabled", "sell_alert_enabled", "trade_amount_usd", "preset"}

    # a refresh with nothing new: Telegram's "message is not modified" is not an error
    await press(api, api.tg.message(CHAT, menu.message_id), "m")
    main = api.tg.message(CHAT, menu.message_id)
    await press(api, main, "m:status")
    status = api.tg.message(CHAT, menu.message_id)
    assert "ATP test-1" in status.text
    await press(api, status, "m:status", edits=False)
    assert bot.status.command_errors == 0
    # a crafted press (data no button of ours carries) changes nothing
    stale = await press(api, status, "c:AAA_USDT:amount:999999", any_data=True)
    assert "choose" in api.tg.message(CHAT, menu.message_id).text  # back to the main menu
    assert "no longer valid" in str(stale["text"])
    assert (await row(api, "AAA_USDT"))["trade_amount_usd"] == 25.0


async def test_a_strangers_press_changes_nothing_and_is_logged(api: Api, bot, caplog) -> None:
    caplog.set_level(logging.INFO)
    await api.client.patch("/api/watchlist/AAA_USDT", json={"trade_enabled": True},
                           headers=AUTH)
    # a menu left in a chat that is not (or no longer) authorised
    old = InlineKeyboardMarkup([[InlineKeyboardButton("Trade off",
                                                      callback_data="c:AAA_USDT:trade:off")]])
    async with Bot(TOKEN, base_url=f"{api.tg.base_url}/bot") as sender:
        await sender.send_message(STRANGER, "old menu", reply_markup=old)
    menu = api.tg.received(STRANGER)[-1]
    answer = await press(api, menu, "c:AAA_USDT:trade:off", chat=STRANGER, edits=False)
    assert answer == {"text": REFUSAL, "show_alert": True}
    assert (await row(api, "AAA_USDT"))["trade_enabled"] is True
    assert api.tg.message(STRANGER, menu.message_id).text == "old menu"  # not edited
    audit = await api.platform.core.audit(entity="watchlist", entity_key="AAA_USDT",
                                          since=None, limit=10, offset=0)
    assert all(a["author"] != "telegram:@operator" for a in audit)
    assert bot.status.refused == 1
    assert any("refused callback from unauthorised chat=6060" in r.getMessage()
               for r in caplog.records)
    refusals = await api.platform.core.events(types=["telegram_unauthorised_command"],
                                              limit=50)
    assert [(e["payload"].get("chat_id"), e["message"]) for e in refusals] == [
        (STRANGER, "callback c:AAA_USDT:trade:off")]


async def say(api: Api, text: str, contains: str = "") -> str:
    before = len(api.tg.received(CHAT))
    await api.tg.post_user_message(CHAT, text, token=TOKEN, from_id=OPERATOR,
                                   username="operator")
    reply = await api.tg.wait_for_message(CHAT, contains, after=before, timeout=10)
    return reply.text


async def test_analyze_add_remove_through_the_core(api: Api, bot) -> None:
    async def listed() -> list[str]:
        return ["AAA_USDT", "BBB_USDT", "CCC_USDT", "ETH_USDT"]

    api.platform.core.listed = listed
    # the recorded decision: the same one the API shows
    stored = (await api.client.get("/api/decisions",
                                   params={"symbol": "AAA_USDT", "limit": 1})).json()[0]
    text = await say(api, "/analyze aaa_usdt", "AAA_USDT")
    assert text.startswith(f"AAA_USDT: {stored['decision']} · recorded decision "
                           f"{stored['id'][:8]}")
    assert "Flags: " in text and "Indicators: " in text and "rsi" in text
    assert "Reasons:" in text
    # not watched: a fresh evaluation by the monitor's engine, not recorded
    api.market.set("ETH_USDT", "down")
    decisions = len((await api.client.get("/api/decisions", params={"limit": 500})).json())
    fresh = await say(api, "/analyze ETH_USDT", "ETH_USDT")
    # (swing-conservative checks MA200; the scripted market has 60 candles: WAIT, saying so)
    assert fresh.startswith("ETH_USDT: WAIT · fresh evaluation, not recorded (not on the "
                            "watchlist)"), fresh
    assert "Preset: swing-conservative" in fresh and "MA200 needs 200" in fresh
    assert len((await api.client.get("/api/decisions", params={"limit": 500})).json()) == (
        decisions)
    assert (await say(api, "/analyze", "Usage")).startswith("Usage: /analyze SYMBOL")

    # /add: the core's validation is the answer (unlisted, with the close match)
    refused = await say(api, "/add ETX_USDT", "ETX_USDT")
    assert refused.startswith("Not added: ETX_USDT is not an instrument Crypto.com lists")
    assert "ETH_USDT" in refused
    assert "unknown preset 'nope'" in await say(api, "/add ETH_USDT nope", "preset")
    added = await say(api, "/add eth_usdt scalp-aggressive", "ETH_USDT")
    assert added.startswith("Added ETH_USDT (preset scalp-aggressive)")
    assert "already on the watchlist" in await say(api, "/add ETH_USDT", "ETH_USDT")
    assert (await row(api, "ETH_USDT"))["trade_enabled"] is False
    assert (await say(api, "/remove ETH_USDT", "ETH_USDT")) == "Removed ETH_USDT from the " \
        "watchlist."
    assert "not on the watchlist" in await say(api, "/remove ETH_USDT", "ETH_USDT")
    assert (await say(api, "/remove", "Usage")).startswith("Usage: /remove SYMBOL")
    audit = await api.platform.core.audit(entity="watchlist", entity_key="ETH_USDT",
                                          since=None, limit=10, offset=0)
    assert [(a["author"], a["field"]) for a in audit] == [
        ("telegram:@operator", "row"), ("telegram:@operator", "row")]
    assert not await api.platform.core.audit(entity="watchlist", entity_key="ETX_USDT",
                                             since=None, limit=10, offset=0)


async def test_a_long_answer_is_split_at_4096(api: Api, bot) -> None:
    for i in range(150):
        await api.client.post("/api/watchlist", json={"symbol": f"LONGNAME{i:03d}_USDT"},
                              headers=AUTH)
    before = len(api.tg.received(CHAT))
    await api.tg.post_user_message(CHAT, "/alerts", token=TOKEN)
    await api.tg.wait_for_message(CHAT, "LONGNAME149_USDT", after=before, timeout=10)
    parts = [m.text for m in api.tg.received(CHAT)[before:]]
    assert len(parts) >= 2 and all(len(p) <= 4096 for p in parts)
    lines = "\n".join(parts).splitlines()
    assert len(lines) == 153 and all(line.endswith(("on", "off")) for line in lines)
