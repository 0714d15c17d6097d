"""Sending alerts: success and every class of failure, through real PTB over loopback."""

from __future__ import annotations

import asyncio
import traceback

import pytest

from atp.emulators.telegram import TelegramEmulator
from atp.telegram.errors import PermanentSendError, SendErrorKind, TransientSendError
from atp.telegram.format import format_alert
from atp.telegram.sender import TelegramSender

from .conftest import ADMIN_CHAT, CANARY, assert_no_canary


def assert_clean(exc: BaseException) -> None:
    assert_no_canary(str(exc))
    assert_no_canary(repr(exc))
    assert_no_canary("".join(traceback.format_exception(exc)))


async def test_send_delivers_exactly_the_text(emulator, sender):
    text = format_alert(
        symbol="BTC_USDT", side="BUY", price=43210.5, preset="swing-conservative",
        reasons=["RSI 28.1 < 30", "price above MA200"], buy_index=72, origin="test-instance",
    )
    message_id = await sender.send(ADMIN_CHAT, text)
    received = emulator.received(ADMIN_CHAT)
    assert [m.text for m in received] == [text]
    assert received[0].message_id == message_id
    assert (await sender.send(str(ADMIN_CHAT), "second")) == message_id + 1


async def test_rate_limit_is_transient_with_retry_after(emulator, sender):
    await emulator.set_fault("rate_limit", retry_after=7)
    with pytest.raises(TransientSendError) as info:
        await sender.send(ADMIN_CHAT, "hello")
    assert info.value.retry_after == 7
    assert info.value.kind is SendErrorKind.RATE_LIMITED
    assert emulator.received(ADMIN_CHAT) == []
    await emulator.clear_fault("rate_limit")
    await sender.send(ADMIN_CHAT, "hello")
    assert [m.text for m in emulator.received(ADMIN_CHAT)] == ["hello"]


async def test_blocked_chat_is_permanent(emulator, sender):
    await emulator.set_fault("blocked_chat", chat_id=ADMIN_CHAT)
    with pytest.raises(PermanentSendError) as info:
        await sender.send(ADMIN_CHAT, "hello")
    assert info.value.kind is SendErrorKind.BLOCKED
    assert "bot was blocked by the user" in info.value.reason
    await sender.send(ADMIN_CHAT + 1, "other chats still work")


async def test_chat_not_found_is_permanent():
    async with TelegramEmulator(tokens=[CANARY], strict_chats=True) as tg, TelegramSender(
        CANARY, api_base=tg.base_url
    ) as sender:
        with pytest.raises(PermanentSendError) as info:
            await sender.send(777, "hello")
        assert info.value.kind is SendErrorKind.CHAT_NOT_FOUND
        assert "chat not found" in info.value.reason


async def test_outage_refuses_connections_and_is_transient(emulator, sender):
    await sender.send(ADMIN_CHAT, "before")  # a pooled keep-alive connection now exists
    await emulator.set_fault("outage")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(emulator.host, emulator.port)
    for _ in range(2):  # the aborted pooled connection, then a refused new one
        with pytest.raises(TransientSendError) as info:
            await sender.send(ADMIN_CHAT, "during")
        assert info.value.kind in (SendErrorKind.NETWORK, SendErrorKind.TIMEOUT)
        assert_clean(info.value)
    await emulator.clear_fault("outage")
    await sender.send(ADMIN_CHAT, "after")
    assert [m.text for m in emulator.received(ADMIN_CHAT)] == ["before", "after"]


async def test_outage_from_the_start_then_recovery():
    async with TelegramEmulator(tokens=[CANARY], faults=["telegram-outage"]) as tg:
        sender = TelegramSender(CANARY, api_base=tg.base_url, connect_timeout=1.0)
        with pytest.raises(TransientSendError):
            await sender.send(ADMIN_CHAT, "x")
        await tg.clear_fault("outage")
        assert await sender.send(ADMIN_CHAT, "y") == 1
        await sender.aclose()


async def test_server_error_is_transient(emulator, sender):
    await emulator.set_fault("server_error")
    with pytest.raises(TransientSendError) as info:
        await sender.send(ADMIN_CHAT, "x")
    assert info.value.kind is SendErrorKind.NETWORK


async def test_invalid_token_is_permanent_and_never_quoted(emulator, sender):
    # PTB's own InvalidToken message quotes the token: it must not get through.
    await emulator.set_fault("invalid_token")
    with pytest.raises(PermanentSendError) as info:
        await sender.send(ADMIN_CHAT, "x")
    assert info.value.kind is SendErrorKind.INVALID_TOKEN
    assert_clean(info.value)
    assert_no_canary(info.value.reason)
    assert_no_canary(repr(sender))


async def test_unknown_token_is_permanent():
    async with TelegramEmulator(tokens=["1:other-token"]) as tg, TelegramSender(
        CANARY, api_base=tg.base_url
    ) as sender:
        with pytest.raises(PermanentSendError) as info:
            await sender.send(ADMIN_CHAT, "x")
        assert info.value.kind is SendErrorKind.INVALID_TOKEN
        assert_clean(info.value)


async def test_empty_text_is_a_permanent_bad_request(emulator, sender):
    with pytest.raises(PermanentSendError) as info:
        await sender.send(ADMIN_CHAT, " ")
    assert info.value.kind is SendErrorKind.BAD_REQUEST
