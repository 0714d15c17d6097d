"""Building and serving the platform: what `atp run` and `atp demo` share.

Both build the same `Platform` from settings with the real adapters (ccxt, python-telegram-
bot, SQLAlchemy) and serve the API with uvicorn in the same event loop; the demo only points
the adapters at the built-in emulators and runs the market faster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from atp.config import Settings
from atp.engine.clock import Clock, SystemClock
from atp.engine.market_data import ExchangeMarketData, cycle_deadline
from atp.engine.service import Platform, PlatformFaults
from atp.exchange import ExchangeClient
from atp.exchange.market_data import MarketDataService
from atp.telegram.sender import TelegramSender


def build_platform(
    settings: Settings,
    *,
    clock: Clock | None = None,
    market_clock: Callable[[], float] | None = None,
    time_scale: float = 1.0,
    faults: PlatformFaults | None = None,
) -> Platform:
    """The production wiring. `market_clock`/`time_scale` let the demo's accelerated
    market judge candle closes and price ages in market time."""
    clock = clock or SystemClock()
    client_kwargs: dict[str, Any] = {}
    if market_clock is not None:
        client_kwargs["clock"] = market_clock
    client = ExchangeClient(settings, **client_kwargs)
    service = MarketDataService.from_settings(client, settings, **client_kwargs)
    market = ExchangeMarketData(service, clock, time_scale=time_scale,
                                deadline_seconds=cycle_deadline(settings.monitor_interval_seconds))
    sender = None
    if settings.telegram_bot_token is not None and settings.alerts_enabled:
        sender = TelegramSender.from_settings(settings)
    return Platform(settings, market=market, sender=sender, clock=clock,
                    exchange_client=client, faults=faults or PlatformFaults())


class PlatformApi:
    """The API of a running platform, its integrity endpoint and its watchdog."""

    def __init__(self, platform: Platform, host: str, port: int) -> None:
        from atp.api.app import create_app

        self.platform, self.host, self.port = platform, host, port
        self.app = create_app(platform)
        self.server: Any = None
        self.watchdog: Any = None

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.server.port if self.server else self.port}"

    async def start(self) -> None:
        from atp.api.server import serve

        self.server = await serve(self.app, self.host, self.port)
        await self._start_integrity()

    async def _start_integrity(self) -> None:
        """`GET /api/monitoring/integrity` and the in-service watchdog read the platform
        the way an operator does: over its own HTTP API (and its log file)."""
        from atp.integrity.watchdog import Watchdog, integrity_endpoint

        s = self.platform.settings
        self.app.state.integrity = integrity_endpoint(self.base_url, s.log_file)
        core = self.platform.core
        notify = None
        if s.telegram_chat_id and s.alerts_enabled:

            async def notify(text: str) -> None:
                # the same durable outbox as alerts, through the core, as a system message
                await core.notify_system("watchdog", text)

        self.watchdog = Watchdog(self.base_url, notify, origin=s.instance_name,
                                 log_file=s.log_file, deadman_url=s.deadman_url)
        self.platform.watchdog = self.watchdog
        await self.watchdog.start()

    async def stop(self) -> None:
        if self.watchdog is not None:
            with contextlib.suppress(Exception):
                await self.watchdog.stop()
        if self.server is not None:
            await self.server.stop()
