"""The real ccxt client against the Crypto.com emulator over loopback HTTP.

Time is manual: the market's clock is a ManualClock shared with the adapter, and the
adapter's backoff sleeps advance it instead of waiting. Nonces are checked against wall
time (ccxt stamps them with the wall clock), as the real exchange does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from atp.config import Settings
from atp.emulators.clock import ManualClock
from atp.emulators.cryptocom import CryptoComEmulator
from atp.emulators.proxy import AuthProxy
from atp.exchange import ExchangeClient, ExchangeFailure
from tests.canary import CANARY_KEY, CANARY_SECRET

T0 = 1_750_000_000.0  # a fixed market time: same seed, same candles in every run
KEY = CANARY_KEY
SECRET = CANARY_SECRET


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def emulator(clock: ManualClock, canary: Any) -> AsyncIterator[CryptoComEmulator]:
    """The exchange with the canary key: every test on it is enrolled in the canary watch."""
    emu = CryptoComEmulator(clock=clock, symbols=12, seed=7)
    emu.add_key(KEY, SECRET)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture(scope="session")
def proxy() -> Iterator[AuthProxy]:
    with AuthProxy(user="atp", password="proxy-secret-pw") as p:
        yield p


class Harness:
    """Builds adapter clients; records failures and backoff sleeps."""

    def __init__(self, emulator: CryptoComEmulator, clock: ManualClock) -> None:
        self.emulator = emulator
        self.clock = clock
        self.failures: list[ExchangeFailure] = []
        self.sleeps: list[float] = []
        self.clients: list[ExchangeClient] = []

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "exchange_base_url": self.emulator.base_url,
            "exchange_api_key": KEY,
            "exchange_api_secret": SECRET,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def client(self, settings: Settings | None = None, **kw: Any) -> ExchangeClient:
        kw.setdefault("retries", 2)
        c = ExchangeClient(settings or self.settings(), on_error=self.failures.append,
                           sleep=self.sleep, clock=self.clock.now, throttle=False, **kw)
        self.clients.append(c)
        return c


@pytest.fixture
async def harness(emulator: CryptoComEmulator, clock: ManualClock) -> AsyncIterator[Harness]:
    h = Harness(emulator, clock)
    yield h
    for c in h.clients:
        await c.close()
