"""Market data cost for N symbols against the in-process exchange emulator.

Prints: requests per steady-state cycle (target ≤ 1 + symbols whose candle closed), the
first-load time, the steady cycle's market-data time, and the daily-candle requests that
feed MA10w (one per symbol on first load, then one per symbol once a day). The emulator
runs in the same process (its CPU time is included); ccxt's client-side throttle (100
requests/s, what the real exchange allows) is on unless --no-throttle, and it dominates
the first load.

    .venv/bin/python bench/market_data.py [--symbols 1000] [--no-throttle]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _result import emit, row

from atp.config import Settings
from atp.emulators.clock import ManualClock
from atp.emulators.cryptocom import CryptoComEmulator
from atp.exchange import ExchangeClient, MarketDataService

T0 = 1_750_000_000.0 - 1_750_000_000.0 % 3600 + 3600 - 90  # 90 s before an hour closes


async def main(symbols: int, throttle: bool, concurrency: int) -> None:
    clock = ManualClock(T0)
    async with CryptoComEmulator(clock=clock, symbols=symbols) as emu:
        settings = Settings(_env_file=None, exchange_base_url=emu.base_url)  # type: ignore[call-arg]
        async with ExchangeClient(settings, clock=clock.now, throttle=throttle) as client:
            md = MarketDataService(client, clock=clock.now, concurrency=concurrency)
            names = sorted(emu.market.instruments)

            t = time.perf_counter()
            first = await md.refresh(names)
            first_s = time.perf_counter() - t
            assert not first.unknown(), list(first.unknown().items())[:3]

            clock.advance(30)
            steady = await md.refresh(names)

            clock.advance(90)  # the hourly candle of every symbol has closed
            closing = await md.refresh(names)

            clock.set(clock.now() - clock.now() % 86400 + 86400 + 5)  # a day has closed
            day = await md.refresh(names)

    print(f"symbols:                                  {symbols}")
    print(f"throttle (ccxt, 100 req/s):               {'on' if throttle else 'off'}")
    print(f"first load: requests / time               {first.requests} / {first_s:.2f} s "
          f"({first.candle_requests} hourly + {first.daily_requests} daily candle requests)")
    print(f"steady cycle, no candle closed: requests  {steady.requests} (target ≤ 1)")
    print(f"steady cycle market-data time             {steady.duration_seconds * 1000:.0f} ms")
    print(f"cycle where all candles closed: requests  {closing.requests} "
          f"(target ≤ 1 + {closing.candle_requests})")
    print(f"cycle where all candles closed: time      {closing.duration_seconds:.2f} s")
    print(f"cycle where the day closed: requests      {day.requests} "
          f"({day.candle_requests} hourly + {day.daily_requests} daily + tickers + the "
          "hourly instruments reload)")
    print(f"daily requests in the other cycles        "
          f"{steady.daily_requests + closing.daily_requests} (target 0)")
    emit([row(f"market data, steady cycle requests, {symbols} symbols", steady.requests, "",
              "≤ 1", steady.requests <= 1),
          row(f"market data, all candles closed: requests, {symbols} symbols",
              closing.requests, "", f"≤ 1 + {closing.candle_requests}",
              closing.requests <= 1 + closing.candle_requests),
          row(f"cycle time, all candles closed, {symbols} symbols", closing.duration_seconds,
              "s", "< 30 s interval", closing.duration_seconds < 30)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--no-throttle", action="store_true")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.symbols, not args.no_throttle, args.concurrency))
