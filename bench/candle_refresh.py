"""Candle refresh at scale: does a cycle where every candle closes fit the interval?

3,000 symbols by default against the in-process exchange emulator, ccxt's throttle on
(100 requests/s, the exchange's published limit for market data). The same refreshes run
twice: with the per-cycle request budget ATP uses (`candle_budget`: 60 % of the interval's
worth of requests, lowered to the pace the exchange answers at) and without one (every
closed candle fetched in the cycle it closed).
Prints, for each: the longest cycle, the cycles until every symbol is current, and the
request rate; target: the longest cycle < the interval, the rate <= 100/s.

    .venv/bin/python bench/candle_refresh.py [--symbols 3000] [--interval 30]
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
from atp.exchange.market_data import BUDGET_SHARE, candle_budget

T0 = 1_750_000_000.0 - 1_750_000_000.0 % 86400 + 86400 - 600  # 10 min before a day closes


async def run(symbols: int, interval: float, budgeted: bool) -> dict[str, float]:
    clock = ManualClock(T0)
    async with CryptoComEmulator(clock=clock, symbols=symbols) as emu:
        settings = Settings(_env_file=None, exchange_base_url=emu.base_url)  # type: ignore[call-arg]
        async with ExchangeClient(settings, clock=clock.now) as client:
            budget = candle_budget(client.requests_per_second, interval) if budgeted else None
            md = MarketDataService(client, clock=clock.now, request_budget=budget,
                                   cycle_seconds=interval * BUDGET_SHARE if budgeted else None)
            names = sorted(emu.market.instruments)[:symbols]

            async def cycles(label: str) -> dict[str, float]:
                longest, count, requests, spent = 0.0, 0, 0, 0.0
                while True:
                    t = time.perf_counter()
                    snap = await md.refresh(names)
                    took = time.perf_counter() - t
                    longest, count = max(longest, took), count + 1
                    requests, spent = requests + snap.requests, spent + took
                    clock.advance(interval)
                    if not md.deferred:
                        break
                return {f"{label}_longest_s": round(longest, 2), f"{label}_cycles": count,
                        f"{label}_rate_per_s": round(requests / spent, 1)}

            out: dict[str, float] = {"budget": budget or 0}
            out |= await cycles("first_load")
            clock.set(T0 - T0 % 86400 + 86400 + 5)  # every hourly and daily candle closes
            out |= await cycles("day_close")
            clock.set(clock.now() - clock.now() % 3600 + 3600 + 5)  # every hourly closes
            out |= await cycles("hour_close")
            return out


async def main(symbols: int, interval: float) -> None:
    budgeted = await run(symbols, interval, True)
    unbudgeted = await run(symbols, interval, False)
    print(f"symbols {symbols}, interval {interval:.0f} s, ccxt throttle 100 req/s")
    print(f"{'':28}{'with budget':>14}{'no budget':>14}")
    for key in ("hour_close", "day_close", "first_load"):
        for what, unit in (("longest_s", " s"), ("cycles", ""), ("rate_per_s", "/s")):
            k = f"{key}_{what}"
            print(f"{key + ' ' + what:28}{budgeted[k]:>12}{unit:2}{unbudgeted[k]:>12}{unit:2}")
    ok = budgeted["hour_close_longest_s"] < interval and budgeted["day_close_longest_s"] < interval
    print(f"budget per cycle: {budgeted['budget']:.0f} candle requests; longest cycle under "
          f"the interval: {'yes' if ok else 'NO'}")
    emit([
        row(f"cycle where every candle closes, {symbols} symbols, budgeted (longest)",
            budgeted["hour_close_longest_s"], "s", f"< {interval:.0f} s",
            budgeted["hour_close_longest_s"] < interval),
        row(f"cycle where the day closes, {symbols} symbols, budgeted (longest)",
            budgeted["day_close_longest_s"], "s", f"< {interval:.0f} s",
            budgeted["day_close_longest_s"] < interval),
        row("  the same without the budget", unbudgeted["hour_close_longest_s"], "s"),
        row("  cycles until every symbol is current (hour / day close)",
            f"{budgeted['hour_close_cycles']:.0f} / {budgeted['day_close_cycles']:.0f}", ""),
        row("  request rate in those cycles", budgeted["hour_close_rate_per_s"], "/s",
            "<= 100/s", budgeted["hour_close_rate_per_s"] <= 100),
    ])

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=3000)
    parser.add_argument("--interval", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(main(args.symbols, args.interval))
