"""Real python-telegram-bot against the Telegram emulator over loopback.

Every test here runs with a canary token and DEBUG logging captured; teardown fails the
test if the token shows up in any log record (httpx and PTB put it in URLs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from atp.emulators.telegram import TelegramEmulator
from atp.telegram.lease import InMemoryLease
from atp.telegram.poller import PollerEvent, TelegramPoller
from atp.telegram.sender import TelegramSender

CANARY = "424242:CANARYsecretTOKEN_do-not-leak_0123456789"
CANARY_SECRET = CANARY.split(":", 1)[1]
ADMIN_CHAT = 1001
STRANGER_CHAT = 6666


def assert_no_canary(text: str) -> None:
    assert CANARY_SECRET not in text, "bot token leaked"


@pytest.fixture(autouse=True)
def _no_token_in_logs(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    yield
    # caplog.records is per phase; teardown alone would miss everything the test logged.
    for when in ("setup", "call", "teardown"):
        for record in caplog.get_records(when):
            assert_no_canary(record.getMessage())
            assert_no_canary(record.exc_text or "")
            assert_no_canary(logging.Formatter().format(record))


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition (not the clock) until it holds; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[CANARY]) as tg:
        yield tg


@pytest.fixture
async def sender(emulator: TelegramEmulator) -> AsyncIterator[TelegramSender]:
    async with TelegramSender(
        CANARY, api_base=emulator.base_url, connect_timeout=1.0, read_timeout=2.0
    ) as s:
        yield s


class FakeCore:
    """CommandCore stand-in that records what was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.authors: list[str] = []  # who each audited change names

    async def status(self) -> str:
        self.calls.append(("status", ()))
        return "STATUS: monitor ok, 3 alerts sent"

    async def signals(self) -> str:
        self.calls.append(("signals", ()))
        return "BTC_USDT BUY"

    async def watchlist(self) -> str:
        self.calls.append(("watchlist", ()))
        return "BTC_USDT, ETH_USDT"

    async def alerts(self, symbol: str | None, side: str | None, on: bool | None,
                     author: str = "telegram") -> str:
        self.calls.append(("alerts", (symbol, side, on)))
        self.authors.append(author)
        return f"alerts {symbol} {side} {on}"

    async def balance(self) -> str:
        self.calls.append(("balance", ()))
        return "USDT 1000"

    async def portfolio(self) -> str:
        self.calls.append(("portfolio", ()))
        raise RuntimeError("portfolio service down")

    async def orders(self) -> str:
        self.calls.append(("orders", ()))
        return "\n".join(f"order {i:04d} " + "x" * 90 for i in range(100))  # ~10,000 chars

    async def pnl(self) -> str:
        self.calls.append(("pnl", ()))
        return "P&L: +1.00 USD"

    async def kill(self, on: bool | None, author: str = "telegram") -> str:
        self.calls.append(("kill", (on,)))
        self.authors.append(author)
        return f"kill {on}"

    async def panic(self, author: str = "telegram") -> str:
        self.calls.append(("panic", ()))
        self.authors.append(author)
        return "panic: nothing to cancel"


@pytest.fixture
def core() -> FakeCore:
    return FakeCore()


@pytest.fixture
def events() -> list[PollerEvent]:
    return []


@pytest.fixture
async def make_poller(
    emulator: TelegramEmulator, core: FakeCore, events: list[PollerEvent]
) -> AsyncIterator[Callable[..., TelegramPoller]]:
    pollers: list[TelegramPoller] = []

    async def on_event(event: PollerEvent) -> None:
        events.append(event)

    def make(**kw: Any) -> TelegramPoller:
        options: dict[str, Any] = {
            "core": core,
            "lease": InMemoryLease("test-instance"),
            "allowed_chat_ids": [str(ADMIN_CHAT)],
            "api_base": emulator.base_url,
            "instance_name": "test-instance",
            "on_event": on_event,
            "poll_timeout": 1,
            "lease_renew_interval": 0.1,
            "retry_interval": 0.05,
            "max_retry_interval": 0.2,
        }
        options.update(kw)
        poller = TelegramPoller(options.pop("token", CANARY), **options)
        pollers.append(poller)
        return poller

    yield make
    for p in pollers:
        await p.stop()


def polling_now(emulator: TelegramEmulator) -> Callable[[], bool]:
    """True while a getUpdates long poll is waiting in the emulator."""
    return lambda: CANARY in emulator.state.bots and emulator.state.bots[CANARY].poll is not None
