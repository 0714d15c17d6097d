"""Figure: accepted alert → entry placed → SL/TP placed, 200 live orders on the exchange
emulator through the real ccxt client, p50 / p99 per stage, and duplicate client_oids.

The real path end to end: monitor cycles (SQLite) accept BUY alerts on trade-enabled
symbols and record their intents in the alert's transaction; the trader worker (its own
task, woken after each cycle) gates each intent, writes the order ahead, places a market
BUY with `LiveBroker` (ccxt's signed requests to the Crypto.com emulator over loopback
HTTP), records the fill and places the SL/TP pair as one OCO on
`private/advanced/create-oco`. Two new symbols per cycle every 0.6 s (the previous ones
leave the cycle), so the figure is the latency of one order, not of a queue. Stage
times are the journal's own events (`order_intent`, `order_placed`,
`protection_placed`) on the system clock.

The emulator's market clock is held still so that ATP is what is measured (the emulator
walks the price path of every resting order on every request; with 400 SL/TP legs resting
that costs it ~260 ms per request, in this process's loop). The trader's exchange sync
runs at the production default (`TRADER_SYNC_SECONDS` 3; one open-orders read per broker,
lookups only for orders that left the list — looking each of 400 legs up one by one made
the entry p50 4.7 s). `python bench/order_latency.py SYNC_S [ORDERS]` varies both. Duplicates
are counted on the exchange's side: client_oids used by more than one order, and create
requests beyond one per order (a second send of one client_oid). Both must be 0.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from _result import emit, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, update

from atp.config import Settings
from atp.domain.candles import Candles
from atp.emulators.clock import ManualClock
from atp.emulators.cryptocom import CryptoComEmulator
from atp.engine.clock import SystemClock
from atp.engine.ports import MarketSnapshot
from atp.engine.service import Platform
from atp.exchange import ExchangeClient
from atp.logging import setup_logging
from atp.store import migrate
from atp.store.models import EventRow, WatchlistRow

ORDERS = int(sys.argv[2]) if len(sys.argv) > 2 else 200
PER_CYCLE = 2
PACE_S = 0.6
AMOUNT_USD = 50.0
SYNC_S = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
KEY, SECRET = "bench-key", "bench-secret-not-real"
STAGES = (("order_intent", "order_placed", "alert accepted → entry placed"),
          ("order_placed", "protection_placed", "entry placed → SL/TP placed"),
          ("order_intent", "protection_placed", "alert accepted → SL/TP placed"))


class FallingMarket:
    """Every symbol falls into its current emulator price (a BUY on scalp-aggressive), so
    the SL/TP levels derived from the decision's ATR sit around the price the order fills."""

    def __init__(self, exchange: CryptoComEmulator, clock: SystemClock) -> None:
        self.exchange, self.clock = exchange, clock

    async def snapshot(self, symbols: Sequence[str]) -> dict[str, MarketSnapshot]:
        out = {}
        n = 60
        for s in symbols:
            price = float(self.exchange.market.price(s))
            close = price * np.exp(-0.01 * np.arange(-n + 1, 1))
            candles = Candles(np.arange(n, dtype=np.int64) * 3_600_000, close.copy(),
                              close * 1.001, close * 0.999, close, np.full(n, 10.0))
            out[s] = MarketSnapshot(s, candles, price, self.clock.now())
        return out


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return (float("nan"),) * 3
    q = statistics.quantiles(values, n=100)
    return q[49], q[98], max(values)


async def main() -> None:
    setup_logging("WARNING", None, console=False)
    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite:///{tmp.name}/bench.db"
    migrate.upgrade(url)
    async with CryptoComEmulator(symbols=ORDERS, clock=ManualClock(time.time())) as exchange:
        exchange.add_key(KEY, SECRET, balances={"USDT": "1000000"})
        symbols = sorted(exchange.market.instruments)[:ORDERS]
        settings = Settings(_env_file=None, database_url=url,  # type: ignore[call-arg]
                            exchange_base_url=exchange.base_url, exchange_api_key=KEY,
                            exchange_api_secret=SECRET, telegram_chat_id="77",
                            production=True, trader_sync_seconds=SYNC_S)
        clock = SystemClock()
        client = ExchangeClient(settings)
        platform = Platform(settings, market=FallingMarket(exchange, clock), sender=None,
                            clock=clock, exchange_client=client)
        assert platform.live_broker is not None, "this build has no live broker"
        await platform.core.set_live_trading(True, "bench")
        stop = asyncio.Event()
        worker = asyncio.create_task(platform.trader.run_forever(stop))
        started = time.perf_counter()
        for cycle in range(ORDERS // PER_CYCLE):
            t0 = time.perf_counter()
            with platform.db.sessions.begin() as s:
                # the last cycle's symbols leave the cycle (their alert is accepted; more
                # cycles of them would only be throttled and load the loop)
                s.execute(update(WatchlistRow).values(enabled=False))
                for symbol in symbols[cycle * PER_CYCLE:(cycle + 1) * PER_CYCLE]:
                    s.add(WatchlistRow(symbol=symbol, preset="scalp-aggressive",
                                       trade_enabled=True, trade_amount_usd=AMOUNT_USD))
            await platform.monitor.run_cycle()
            platform.trader.wake.set()
            await asyncio.sleep(max(0.0, PACE_S - (time.perf_counter() - t0)))
        kinds = [k for k, _, _ in STAGES] + [k for _, k, _ in STAGES]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with platform.db.sessions() as s:
                done = len(s.scalars(select(EventRow.id).where(
                    EventRow.type == "protection_placed")).all())
            if done >= ORDERS:
                break
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        stop.set()
        platform.trader.wake.set()
        await worker
        with platform.db.sessions() as s:
            events = s.execute(select(EventRow.type, EventRow.decision_id, EventRow.at)
                               .where(EventRow.type.in_(kinds))).all()
            outcomes = Counter(t for t, _, _ in events)
        await client.close()
        platform.db.close()
        orders = list(exchange.desk.orders.values())
        oids = Counter(o.client_oid for o in orders if o.client_oid)
        duplicates = sum(n - 1 for n in oids.values() if n > 1)
        entries = sum(1 for o in orders if o.order_type == "MARKET")
        pairs = len(exchange.desk.lists)
        resent = (exchange.counts["private/create-order"] - entries
                  + exchange.counts["private/advanced/create-oco"] - pairs)
    at: dict[tuple[str, str], float] = {}
    for kind, decision_id, when in events:
        at.setdefault((kind, str(decision_id)), when.timestamp())
    decisions = {d for _, d in at}
    print(f"order_latency: {ORDERS} live orders on the exchange emulator via ccxt "
          f"({elapsed:.1f} s; {PER_CYCLE} new symbols per cycle every {PACE_S} s; "
          f"trader sync every {SYNC_S:g} s)")
    print(f"  {'stage':<32} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for start, end, label in STAGES:
        values = [(at[(end, d)] - at[(start, d)]) * 1000 for d in decisions
                  if (start, d) in at and (end, d) in at]
        p50, p99, top = _quantiles(values)
        print(f"  {label:<32} {len(values):>4} {p50:>8.1f} {p99:>8.1f} {top:>8.1f}")
    print(f"  intents {outcomes['order_intent']}, entries placed {outcomes['order_placed']}, "
          f"SL/TP pairs placed {outcomes['protection_placed']}")
    print(f"  exchange orders {len(orders)} ({entries} market, {pairs} OCO pairs), "
          f"duplicate client_oids {duplicates}, second sends {resent} (both must be 0)")
    entry = [(at[("order_placed", d)] - at[("order_intent", d)]) * 1000 for d in decisions
             if ("order_intent", d) in at and ("order_placed", d) in at]
    emit([row("order latency p99, alert → entry placed", _quantiles(entry)[1], "ms"),
          row("duplicate client_oids + second sends", duplicates + resent, "", "0",
              duplicates + resent == 0)])
    tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
