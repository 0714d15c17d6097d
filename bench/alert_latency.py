"""Figure: decision → delivered latency (p50/p99) over 1,000 alerts on loopback, and alerts lost.

The real pipeline (SQLite outbox, python-telegram-bot sender, the Bot API emulator over
HTTP) with cycles paced at 20 alerts/s, under Telegram's global 30/s limit. The per-chat
1 msg/s spacing is off here: with it, ten alerts of one cycle to one chat take ten seconds
by design, which measures Telegram's policy, not ATP. Target (issue 5): p99 < 250 ms, 0 lost.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from _result import emit, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from atp.config import Settings
from atp.domain.candles import Candles
from atp.emulators.telegram.server import TelegramEmulator
from atp.engine.clock import SystemClock
from atp.engine.ports import MarketSnapshot
from atp.engine.service import Platform
from atp.logging import setup_logging
from atp.store import migrate
from atp.store.models import AlertOutcomeRow, DecisionRow, WatchlistRow
from atp.telegram.ratelimit import RateLimiter
from atp.telegram.sender import TelegramSender

ALERTS = 1_000
PER_CYCLE = 10
PACE_S = PER_CYCLE / 20  # 20 alerts per second
TOKEN, CHAT = "1:bench-token", 77


class FlipMarket:
    """Every symbol falls on even cycles (BUY) and rises on odd ones (SELL): opposite
    sides are never throttled, so every decision is an accepted alert."""

    def __init__(self, clock: SystemClock) -> None:
        self.clock, self.cycle = clock, 0

    async def snapshot(self, symbols: Sequence[str]) -> dict[str, MarketSnapshot]:
        step = -0.01 if self.cycle % 2 == 0 else 0.01
        n = 60
        close = 100 * np.exp(step * np.arange(-n + 1, 1))
        candles = Candles(np.arange(n, dtype=np.int64) * 3_600_000, close.copy(), close * 1.001,
                          close * 0.999, close, np.full(n, 10.0))
        now = self.clock.now()
        return {s: MarketSnapshot(s, candles, 100.0, now) for s in symbols}


async def main() -> None:
    setup_logging("WARNING", None, console=False)
    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite:///{tmp.name}/bench.db"
    migrate.upgrade(url)
    async with TelegramEmulator(tokens=[TOKEN]) as tg:
        settings = Settings(_env_file=None, database_url=url,  # type: ignore[call-arg]
                            telegram_bot_token=TOKEN, telegram_chat_id=str(CHAT),
                            telegram_api_base=tg.base_url, production=True)
        clock = SystemClock()
        market = FlipMarket(clock)
        platform = Platform(settings, market=market, sender=TelegramSender.from_settings(settings),
                            clock=clock)
        platform.outbox.limiter = RateLimiter(time.monotonic, per_chat_interval=0.0)
        with platform.db.sessions.begin() as s:
            for i in range(PER_CYCLE):
                s.add(WatchlistRow(symbol=f"S{i:02d}_USDT", preset="scalp-aggressive"))
        stop = asyncio.Event()
        worker = asyncio.create_task(platform.outbox.run_forever(stop, idle_seconds=0.005))
        started = time.perf_counter()
        for cycle in range(ALERTS // PER_CYCLE):
            market.cycle = cycle
            t0 = time.perf_counter()
            await platform.monitor.run_cycle()
            platform.outbox.wake.set()
            await asyncio.sleep(max(0.0, PACE_S - (time.perf_counter() - t0)))
        deadline = time.monotonic() + 30
        while len(tg.received(CHAT)) < ALERTS and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        stop.set()
        await worker
        with platform.db.sessions() as s:
            rows = s.execute(
                select(DecisionRow.created_at, AlertOutcomeRow.updated_at, AlertOutcomeRow.outcome)
                .join(AlertOutcomeRow, AlertOutcomeRow.decision_id == DecisionRow.id)
            ).all()
        await platform.sender.aclose()  # type: ignore[union-attr]
        platform.db.close()
    sent = [(u - c).total_seconds() * 1000 for c, u, o in rows if o == "SENT"]
    lost = ALERTS - len(tg.received(CHAT))
    q = statistics.quantiles(sent, n=100) if len(sent) > 1 else [float("nan")] * 99
    print(f"alert_latency: {ALERTS} alerts, decision -> delivered on loopback "
          f"({elapsed:.1f} s, {PER_CYCLE} alerts per cycle at 20/s)")
    print(f"  p50 {q[49]:7.1f} ms   p99 {q[98]:7.1f} ms   max {max(sent):7.1f} ms   "
          "target p99 < 250 ms")
    print(f"  delivered {len(tg.received(CHAT))}, outcomes SENT {len(sent)}, lost {lost} "
          "(must be 0)")
    emit([row("alert latency p99, decision → delivered", q[98], "ms", "< 250 ms", q[98] < 250),
          row("alerts lost of 1,000", lost, "", "0", lost == 0)])
    tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
