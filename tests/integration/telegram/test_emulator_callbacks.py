"""The emulator's inline keyboards, over raw HTTP: callback queries answered once, messages
edited in place, and the Bot API's 400s for invalid buttons, stale queries, no-op edits."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from atp.emulators.telegram import TelegramEmulator
from atp.emulators.telegram.state import CALLBACK_TTL, QUERY_TOO_OLD

TOKEN = "556:rawHttpCallbackToken"
CHAT = 77


class StepClock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def now(self) -> float:
        return self.t


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
async def emulator(clock: StepClock):
    async with TelegramEmulator(tokens=[TOKEN], clock=clock) as tg:
        yield tg


@pytest.fixture
async def http(emulator: TelegramEmulator):
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=5) as client:
        yield client


def keyboard(*data: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": d.upper() or "?", "callback_data": d} for d in data]]}


async def call(http: httpx.AsyncClient, method: str, **params: Any) -> httpx.Response:
    return await http.post(f"/bot{TOKEN}/{method}", json=params)


async def send_menu(http: httpx.AsyncClient, text: str = "Menu",
                    markup: dict[str, Any] | None = None) -> dict[str, Any]:
    r = await call(http, "sendMessage", chat_id=CHAT, text=text,
                   reply_markup=markup or keyboard("a", "b"))
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


async def test_button_press_is_a_callback_update_answered_once(emulator, http):
    sent = await send_menu(http)
    assert sent["reply_markup"] == keyboard("a", "b")
    update = await emulator.press_button(CHAT, sent["message_id"], "b", token=TOKEN,
                                         username="op")
    body = (await call(http, "getUpdates", allowed_updates=["message", "callback_query"])
            ).json()
    [got] = body["result"]
    query = got["callback_query"]
    assert got == update
    assert query["data"] == "b" and query["from"]["username"] == "op"
    assert query["message"]["message_id"] == sent["message_id"]
    assert query["message"]["reply_markup"] == keyboard("a", "b")

    r = await call(http, "answerCallbackQuery", callback_query_id=query["id"], text="done")
    assert r.json() == {"ok": True, "result": True}
    assert await emulator.wait_for_answer(query["id"]) == {"text": "done", "show_alert": False}
    again = await call(http, "answerCallbackQuery", callback_query_id=query["id"])
    assert again.status_code == 400
    assert again.json()["description"] == f"Bad Request: {QUERY_TOO_OLD}"
    unknown = await call(http, "answerCallbackQuery", callback_query_id="12345")
    assert unknown.status_code == 400


async def test_a_query_expires(emulator, http, clock):
    sent = await send_menu(http)
    update = await emulator.press_button(CHAT, sent["message_id"], "a", token=TOKEN)
    clock.t += CALLBACK_TTL + 1
    r = await call(http, "answerCallbackQuery",
                   callback_query_id=update["callback_query"]["id"])
    assert r.status_code == 400 and QUERY_TOO_OLD in r.json()["description"]


async def test_only_shown_buttons_can_be_pressed_unless_crafted(emulator, http):
    sent = await send_menu(http)
    with pytest.raises(LookupError):
        await emulator.press_button(CHAT, sent["message_id"], "zzz", token=TOKEN)
    with pytest.raises(LookupError):
        await emulator.press_button(CHAT, 999, "a", token=TOKEN)
    crafted = await emulator.press_button(CHAT, sent["message_id"], "zzz", token=TOKEN,
                                          any_data=True)
    assert crafted["callback_query"]["data"] == "zzz"
    r = await http.post("/_emulator/callbacks", json={"chat_id": CHAT, "message_id": 999,
                                                      "data": "a"})
    assert r.status_code == 400


async def test_edit_in_place_and_not_modified(emulator, http, clock):
    sent = await send_menu(http)
    mid = sent["message_id"]
    clock.t += 5
    r = await call(http, "editMessageText", chat_id=CHAT, message_id=mid, text="Coin",
                   reply_markup=json.dumps(keyboard("c")))
    assert r.status_code == 200, r.text
    edited = r.json()["result"]
    assert edited["message_id"] == mid and edited["edit_date"] == int(clock.t)
    stored = emulator.message(CHAT, mid)
    assert stored is not None and stored.text == "Coin" and stored.reply_markup == keyboard("c")
    assert len(emulator.received(CHAT)) == 1  # edited, not sent again

    same = await call(http, "editMessageText", chat_id=CHAT, message_id=mid, text="Coin",
                      reply_markup=keyboard("c"))
    assert same.status_code == 400
    assert same.json()["description"].startswith("Bad Request: message is not modified")
    markup = await call(http, "editMessageReplyMarkup", chat_id=CHAT, message_id=mid,
                        reply_markup=keyboard("d"))
    assert markup.status_code == 200 and emulator.message(CHAT, mid).reply_markup == keyboard("d")
    same_markup = await call(http, "editMessageReplyMarkup", chat_id=CHAT, message_id=mid,
                             reply_markup=keyboard("d"))
    assert "message is not modified" in same_markup.json()["description"]
    # no reply_markup: the keyboard goes, as with Telegram
    bare = await call(http, "editMessageText", chat_id=CHAT, message_id=mid, text="Coin")
    assert bare.status_code == 200 and emulator.message(CHAT, mid).reply_markup is None

    missing = await call(http, "editMessageText", chat_id=CHAT, message_id=999, text="x")
    assert missing.json()["description"] == "Bad Request: message to edit not found"
    await emulator.post_user_message(CHAT, "user text", token=TOKEN)
    user_mid = emulator.state.chats[CHAT].messages[-1].message_id
    theirs = await call(http, "editMessageText", chat_id=CHAT, message_id=user_mid, text="x")
    assert theirs.json()["description"] == "Bad Request: message can't be edited"


@pytest.mark.parametrize("data", ["", "x" * 65, "é" * 33])
async def test_callback_data_is_1_to_64_bytes(http, data):
    r = await call(http, "sendMessage", chat_id=CHAT, text="t", reply_markup=keyboard(data))
    assert r.status_code == 400
    assert r.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"


async def test_64_byte_data_and_bad_keyboards(http):
    ok = await call(http, "sendMessage", chat_id=CHAT, text="t", reply_markup=keyboard("é" * 32))
    assert ok.status_code == 200
    plain = await call(http, "sendMessage", chat_id=CHAT, text="t",
                       reply_markup={"inline_keyboard": [[{"text": "no action"}]]})
    assert plain.status_code == 400 and "Text buttons are unallowed" in plain.text
    flat = await call(http, "sendMessage", chat_id=CHAT, text="t",
                      reply_markup={"inline_keyboard": [{"text": "x", "callback_data": "x"}]})
    assert flat.status_code == 400


async def test_callback_updates_only_when_asked_for(emulator, http):
    sent = await send_menu(http)
    await emulator.press_button(CHAT, sent["message_id"], "a", token=TOKEN)
    await emulator.post_user_message(CHAT, "/menu", token=TOKEN)
    body = (await call(http, "getUpdates", allowed_updates=["message"])).json()
    assert [sorted(set(u) - {"update_id"}) for u in body["result"]] == [["message"]]
    # remembered until changed, as Telegram does
    await emulator.press_button(CHAT, sent["message_id"], "b", token=TOKEN)
    assert (await call(http, "getUpdates", timeout=0)).json()["result"][1:] == []
