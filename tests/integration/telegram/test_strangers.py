"""Unauthorised chats are rate-limited before they cost a reply and a journal event:
real python-telegram-bot polling the Telegram emulator, the poller's clock injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from atp.telegram.poller import REFUSAL, PollerEventKind

from .conftest import ADMIN_CHAT, CANARY, STRANGER_CHAT, wait_until


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def _refusal_events(events):
    return [e.chat_id for e in events if e.kind is PollerEventKind.UNAUTHORISED]


async def test_a_stranger_flooding_the_bot_gets_one_reply_and_one_event(
    emulator, make_poller, core, events
):
    clock = Clock()
    poller = make_poller(now=clock, stranger_interval=600)
    await poller.start()
    for i in range(8):
        await emulator.post_user_message(STRANGER_CHAT, f"/balance {i}", token=CANARY)
    await wait_until(lambda: poller.status.refused == 8)
    assert [m.text for m in emulator.received(STRANGER_CHAT)] == [REFUSAL]
    assert _refusal_events(events) == [STRANGER_CHAT]
    assert poller.status.refusals_dropped == 7
    assert core.calls == []
    # the authorised chat is answered all along
    await emulator.post_user_message(ADMIN_CHAT, "/status", token=CANARY)
    await emulator.wait_for_message(ADMIN_CHAT, "STATUS")
    # after the interval the stranger is told again, once
    clock.at += timedelta(seconds=600)
    await emulator.post_user_message(STRANGER_CHAT, "/balance", token=CANARY)
    await emulator.post_user_message(STRANGER_CHAT, "/balance", token=CANARY)
    await wait_until(lambda: poller.status.refused == 10)
    assert [m.text for m in emulator.received(STRANGER_CHAT)] == [REFUSAL, REFUSAL]
    assert _refusal_events(events) == [STRANGER_CHAT, STRANGER_CHAT]
    assert poller.status.refusals_dropped == 8


async def test_many_strangers_share_one_budget(emulator, make_poller, events):
    poller = make_poller(now=Clock(), stranger_budget=3)
    await poller.start()
    strangers = [7000 + i for i in range(6)]
    for chat in strangers:
        await emulator.post_user_message(chat, "/start", token=CANARY)
    await wait_until(lambda: poller.status.refused == 6)
    await wait_until(lambda: len(_refusal_events(events)) == 3)
    answered = [chat for chat in strangers if emulator.received(chat)]
    assert answered == strangers[:3]
    assert _refusal_events(events) == strangers[:3]
    assert poller.status.refusals_dropped == 3
