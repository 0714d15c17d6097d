"""The poller's callback path with a stand-in core: answered once, edited in place, a
failing core answered and counted, strangers' presses refused within the rate limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from atp.telegram.menu import Button, MenuView
from atp.telegram.poller import REFUSAL, PollerEventKind

from .conftest import ADMIN_CHAT, CANARY, STRANGER_CHAT, FakeCore, wait_until


class MenuCore(FakeCore):
    before_answer: Callable[[], None] | None = None

    async def menu(self, data: str | None, author: str) -> MenuView:
        self.calls.append(("menu", (data, author)))
        if self.before_answer is not None:
            self.before_answer()
        if data == "boom":
            raise RuntimeError("core down")
        if data == "same":
            return MenuView("Menu", ((Button("Again", "same"),),), "nothing new")
        label = data or "main"
        return MenuView(f"screen {label}", ((Button("Same", "same"), Button("Boom", "boom")),
                                            (Button("Next", "next"),)), f"did {label}")


@pytest.fixture
def core() -> MenuCore:
    return MenuCore()


async def _menu(emulator, poller):
    await poller.start()
    await emulator.post_user_message(ADMIN_CHAT, "/menu", token=CANARY, username="op")
    return await emulator.wait_for_message(ADMIN_CHAT, "screen main")


async def _press(emulator, chat, mid, data, **kw):
    update = await emulator.press_button(chat, mid, data, token=CANARY, **kw)
    return await emulator.wait_for_answer(update["callback_query"]["id"])


async def test_press_is_answered_and_the_message_edited(emulator, make_poller, core):
    poller = make_poller()
    menu = await _menu(emulator, poller)
    assert menu.reply_markup["inline_keyboard"][1][0] == {"text": "Next", "callback_data": "next"}
    assert core.calls[-1] == ("menu", (None, "telegram:@op"))
    answer = await _press(emulator, ADMIN_CHAT, menu.message_id, "next", username="op")
    assert answer == {"text": "did next", "show_alert": False}
    await wait_until(lambda: emulator.message(ADMIN_CHAT, menu.message_id).text == "screen next")
    assert core.calls[-1] == ("menu", ("next", "telegram:@op"))
    # the same screen again: Telegram's "message is not modified" is not an error
    await _press(emulator, ADMIN_CHAT, menu.message_id, "same", from_id=99)
    await wait_until(lambda: emulator.message(ADMIN_CHAT, menu.message_id).text == "Menu")
    await _press(emulator, ADMIN_CHAT, menu.message_id, "same", from_id=99)
    assert core.calls[-1] == ("menu", ("same", "telegram:99"))  # no username: the id
    assert poller.status.command_errors == 0 and len(emulator.received(ADMIN_CHAT)) == 1


async def test_a_failing_core_is_answered_counted_and_journaled(emulator, make_poller, events):
    poller = make_poller()
    menu = await _menu(emulator, poller)
    answer = await _press(emulator, ADMIN_CHAT, menu.message_id, "boom")
    assert answer["text"] == "⚠️ failed: RuntimeError (logged)"
    assert poller.status.command_errors == 1
    assert [e.kind for e in events if e.kind is PollerEventKind.COMMAND_FAILED] == [
        PollerEventKind.COMMAND_FAILED]
    assert emulator.message(ADMIN_CHAT, menu.message_id).text == "screen main"


async def test_strangers_presses_are_refused_within_the_rate_limit(emulator, make_poller, core,
                                                                   events):
    from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

    poller = make_poller(stranger_interval=600, stranger_budget=5)
    await poller.start()
    async with Bot(CANARY, base_url=f"{emulator.base_url}/bot") as bot:
        await bot.send_message(STRANGER_CHAT, "old", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("x", callback_data="c:ETH_USDT:trade:off")]]))
    mid = emulator.received(STRANGER_CHAT)[-1].message_id
    answer = await _press(emulator, STRANGER_CHAT, mid, "c:ETH_USDT:trade:off")
    assert answer == {"text": REFUSAL, "show_alert": True}
    second = await emulator.press_button(STRANGER_CHAT, mid, "c:ETH_USDT:trade:off",
                                         token=CANARY)
    await wait_until(lambda: poller.status.refused == 2)
    assert poller.status.refusals_dropped == 1  # the rate limit: dropped, not answered
    assert not emulator.state.callbacks[second["callback_query"]["id"]].answered
    assert [c for c in core.calls if c[0] == "menu"] == []
    assert [(e.chat_id, e.detail) for e in events if e.kind is PollerEventKind.UNAUTHORISED
            ] == [(STRANGER_CHAT, "callback c:ETH_USDT:trade:off")]
    assert emulator.message(STRANGER_CHAT, mid).text == "old"


async def test_a_menu_that_cannot_be_edited_comes_anew(emulator, make_poller, core):
    poller = make_poller()
    menu = await _menu(emulator, poller)
    chat = emulator.state.chats[ADMIN_CHAT]
    core.before_answer = lambda: chat.messages.remove(next(
        m for m in chat.messages if m.message_id == menu.message_id))  # deleted meanwhile
    await _press(emulator, ADMIN_CHAT, menu.message_id, "next")
    fresh = await emulator.wait_for_message(ADMIN_CHAT, "screen next")
    assert fresh.message_id != menu.message_id and fresh.reply_markup is not None
    assert poller.status.command_errors == 0
