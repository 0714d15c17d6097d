"""Commands in: authorisation, the lease, and 409 conflicts that never delay sends."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from telegram import Bot
from telegram.error import Conflict

from atp.telegram.lease import InMemoryLease, LeaseBoard
from atp.telegram.poller import REFUSAL, PollerEventKind

from .conftest import ADMIN_CHAT, CANARY, STRANGER_CHAT, polling_now, wait_until


async def test_status_for_an_authorised_chat(emulator, make_poller, core):
    poller = make_poller()
    await poller.start()
    await emulator.post_user_message(ADMIN_CHAT, "/status", token=CANARY)
    reply = await emulator.wait_for_message(ADMIN_CHAT, "STATUS")
    assert reply.text == "STATUS: monitor ok, 3 alerts sent"
    assert core.calls == [("status", ())]
    assert poller.status.commands_answered == 1


async def test_unauthorised_chat_is_refused_with_an_event(emulator, make_poller, core, events):
    poller = make_poller()
    await poller.start()
    await emulator.post_user_message(STRANGER_CHAT, "/balance", token=CANARY)
    reply = await emulator.wait_for_message(STRANGER_CHAT)
    assert reply.text == REFUSAL
    assert core.calls == []
    assert poller.status.refused == 1
    refusals = [e for e in events if e.kind is PollerEventKind.UNAUTHORISED]
    assert [(e.chat_id, e.detail) for e in refusals] == [(STRANGER_CHAT, "/balance")]


async def test_alerts_toggle_help_unknown_and_core_failure(emulator, make_poller, core):
    poller = make_poller()
    await poller.start()
    for text in ("/alerts btc_usdt buy off", "/alerts BTC_USDT sideways on", "/help",
                 "/nope", "/portfolio"):
        await emulator.post_user_message(ADMIN_CHAT, text, token=CANARY)
    await wait_until(lambda: len(emulator.received(ADMIN_CHAT)) == 5)
    texts = [m.text for m in emulator.received(ADMIN_CHAT)]
    assert texts[0] == "alerts BTC_USDT buy False"
    assert texts[1].startswith("Side must be buy or sell")
    assert "/watchlist" in texts[2] and "test-instance" in texts[2]
    assert texts[3].startswith("Unknown command /nope")
    assert texts[4] == "⚠️ /portfolio failed: RuntimeError (logged)."
    assert [c for c in core.calls if c[0] == "alerts"] == [("alerts", ("BTC_USDT", "buy", False))]
    assert poller.status.command_errors == 1


async def test_second_poller_conflict_is_counted_logged_and_sends_go_on(
    emulator, make_poller, sender, events, caplog
):
    poller = make_poller()
    await poller.start()
    await wait_until(polling_now(emulator))
    intruder = Bot(CANARY, base_url=f"{emulator.base_url}/bot")
    stop = asyncio.Event()

    async def second_poller() -> None:  # a forgotten server on the same token
        while not stop.is_set():
            with contextlib.suppress(Conflict):
                await intruder.get_updates(timeout=1)

    task = asyncio.create_task(second_poller())
    try:
        await wait_until(lambda: poller.conflicts.count >= 1)
        started = time.monotonic()
        for i in range(5):
            await sender.send(ADMIN_CHAT, f"alert {i}")
        assert time.monotonic() - started < 1.0  # sends never queue behind the 409s
    finally:
        stop.set()
        await task
        await intruder.shutdown()
    assert [m.text for m in emulator.received(ADMIN_CHAT)] == [f"alert {i}" for i in range(5)]
    assert poller.conflicts.last_at is not None
    assert "terminated by other getUpdates request" in (poller.conflicts.last_description or "")
    assert any("[TG] getUpdates conflict (409)" in r.getMessage() for r in caplog.records)
    await wait_until(lambda: any(e.kind is PollerEventKind.CONFLICT for e in events))


async def test_conflict_fault_counts_409s(emulator, make_poller, sender):
    poller = make_poller()
    await emulator.set_fault("telegram-conflict")
    await poller.start()
    await wait_until(lambda: poller.conflicts.count >= 1)
    assert await sender.send(ADMIN_CHAT, "still delivered") == 1
    await emulator.clear_fault("conflict")
    await emulator.post_user_message(ADMIN_CHAT, "/watchlist", token=CANARY)
    await emulator.wait_for_message(ADMIN_CHAT, "BTC_USDT, ETH_USDT", timeout=5)


async def test_webhook_makes_get_updates_409(emulator):
    async with Bot(CANARY, base_url=f"{emulator.base_url}/bot") as bot:
        assert await bot.set_webhook("https://example.org/hook")
        assert (await bot.get_webhook_info()).url == "https://example.org/hook"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()


async def test_only_the_lease_holder_polls(emulator, make_poller, core):
    board = LeaseBoard()
    first = make_poller(lease=InMemoryLease("a", board), instance_name="a")
    second = make_poller(lease=InMemoryLease("b", board), instance_name="b")
    await first.start()
    await wait_until(lambda: first.status.polling)
    await second.start()
    await emulator.post_user_message(ADMIN_CHAT, "/status", token=CANARY)
    await emulator.wait_for_message(ADMIN_CHAT, "STATUS")
    assert board.holder == "a" and not second.status.holding_lease
    await first.stop()  # releases: the other instance takes over without a 409
    await wait_until(lambda: second.status.polling)
    assert board.holder == "b"
    await emulator.post_user_message(ADMIN_CHAT, "/signals", token=CANARY)
    await emulator.wait_for_message(ADMIN_CHAT, "BTC_USDT BUY")
    assert first.conflicts.count == 0 and second.conflicts.count == 0
    assert [c[0] for c in core.calls] == ["status", "signals"]


async def test_lost_lease_stops_polling(emulator, make_poller, events):
    board = LeaseBoard()
    poller = make_poller(lease=InMemoryLease("a", board))
    await poller.start()
    await wait_until(lambda: poller.status.polling)
    board.holder, board.expires_at = "someone-else", time.monotonic() + 60
    await wait_until(lambda: not poller.status.polling)
    assert any(e.kind is PollerEventKind.LEASE_LOST for e in events)


async def test_outage_then_recovery_poller_resumes(emulator, make_poller, events):
    await emulator.set_fault("outage")
    poller = make_poller()
    await poller.start()
    await wait_until(lambda: any(e.kind is PollerEventKind.POLL_ERROR for e in events))
    await emulator.clear_fault("outage")
    await wait_until(lambda: poller.status.polling)
    await emulator.post_user_message(ADMIN_CHAT, "/status", token=CANARY)
    await emulator.wait_for_message(ADMIN_CHAT, "STATUS")


async def test_invalid_token_poller_reports_without_the_token(emulator, make_poller, events):
    await emulator.set_fault("invalid_token")
    poller = make_poller()
    await poller.start()
    await wait_until(lambda: any(e.kind is PollerEventKind.POLL_ERROR for e in events))
    assert "invalid bot token" in (poller.status.last_error or "")


async def test_a_401_burst_stops_polling_visibly_frees_the_lease_and_recovers(
        emulator, make_poller, events):
    board = LeaseBoard()
    poller = make_poller(lease=InMemoryLease("a", board))
    await poller.start()
    await wait_until(lambda: poller.status.polling)
    await emulator.set_fault("invalid_token")  # a burst of 401s while polling
    await wait_until(lambda: poller.status.stopped_reason is not None)
    assert not poller.status.polling  # /api/telegram/state no longer says `polling: true`
    await wait_until(lambda: board.holder is None)  # another instance may take over
    assert "invalid bot token" in (poller.status.last_error or "")
    await emulator.clear_fault("invalid_token")
    await wait_until(lambda: poller.status.polling)  # by itself, no restart of the process
    assert poller.status.stopped_reason is None and poller.status.restarts >= 1
    assert board.holder == "a"
    await emulator.post_user_message(ADMIN_CHAT, "/status", token=CANARY)
    await emulator.wait_for_message(ADMIN_CHAT, "STATUS")


async def test_a_long_answer_arrives_split_at_telegrams_limit(emulator, make_poller, core):
    """/orders of a busy desk is longer than one message: split at line breaks, in order,
    each part within 4,096 characters, nothing lost."""
    poller = make_poller()
    await poller.start()
    await emulator.post_user_message(ADMIN_CHAT, "/orders", token=CANARY)
    expected = await core.orders()
    await emulator.wait_for_message(ADMIN_CHAT, "order 0099", timeout=10)
    parts = [m.text for m in emulator.received(ADMIN_CHAT)]
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == expected
    await emulator.post_user_message(ADMIN_CHAT, "/pnl", token=CANARY)
    assert (await emulator.wait_for_message(ADMIN_CHAT, "P&L")).text == "P&L: +1.00 USD"
