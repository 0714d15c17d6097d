"""Unknown inputs end to end: the exchange emulator → the real ccxt adapter → the market
data service → the monitor → stored decisions (SQLite and PostgreSQL).

A frozen ticker (`stale-ticker:SYMBOL`, switched on at run time over the emulator's HTTP
control endpoint) and a malformed candles reply each cost only their symbol a WAIT that
names the input and its cause; every other symbol decides as usual in the same cycle.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from sqlalchemy import select

from atp.engine.clock import ManualClock as EngineClock
from atp.engine.market_data import ExchangeMarketData
from atp.engine.service import Platform
from atp.exchange import MarketDataService
from atp.store.models import DecisionRow, EventRow, WatchlistRow

from .conftest import T0

SYMBOLS = ("BTC_USDT", "ETH_USDT", "SOL_USDT")


def latest(platform: Platform) -> dict[str, DecisionRow]:
    with platform.db.sessions() as s:
        rows = s.scalars(select(DecisionRow).order_by(DecisionRow.created_at))
        return {r.symbol: r for r in rows}


async def test_frozen_ticker_and_malformed_candles_cost_only_their_symbol(
    harness, emulator, clock, migrated_db
):
    engine_clock = EngineClock(datetime.fromtimestamp(T0, tz=UTC))

    def advance(seconds: float) -> None:
        clock.advance(seconds)
        engine_clock.advance(seconds)

    with migrated_db.session_factory.begin() as s:
        s.add_all(WatchlistRow(symbol=sym, preset="swing-conservative") for sym in SYMBOLS)
    client = harness.client()
    market = ExchangeMarketData(MarketDataService(client, clock=clock.now), engine_clock)
    settings = harness.settings(database_url=migrated_db.url, alerts_enabled=False)
    platform = Platform(settings, market=market, sender=None, clock=engine_clock)
    try:
        emulator.set_fault("malformed:SOL_USDT:candles")
        stats = await platform.monitor.run_cycle()
        assert (stats.processed, stats.skipped) == (3, 0)
        first = latest(platform)
        sol = first["SOL_USDT"]
        assert sol.decision == "WAIT" and sol.flags["buy_rsi_ok"] is None
        assert any(r.startswith("no candles: malformed reply") for r in sol.reasons), sol.reasons
        assert set(sol.unknown_inputs) == {"candles", "ma10w"}
        for symbol in ("BTC_USDT", "ETH_USDT"):
            d = first[symbol]
            # everything known, MA10w included (75 daily candles): nothing is unknown
            assert d.unknown_inputs == {}, (symbol, d.reasons)
            assert d.indicators["ma10w"] is not None and d.price is not None

        switch = {"clear": True, "faults": ["stale-ticker:ETH_USDT"]}
        async with aiohttp.ClientSession(emulator.base_url) as http, \
                http.post("/_emulator/faults", json=switch) as r:
            assert r.status == 200 and (await r.json())["stale_tickers"] == ["ETH_USDT"]
        advance(74)
        stats = await platform.monitor.run_cycle()
        assert (stats.processed, stats.skipped) == (3, 0)
        second = latest(platform)
        eth = second["ETH_USDT"]
        assert eth.decision == "WAIT" and eth.price is None
        assert eth.flags["buy_price_ok"] is None and eth.flags["buy_rsi_ok"] is not None
        assert "price stale: 74 s old (limit 60 s)" in eth.reasons
        assert eth.unknown_inputs == {"price": "price stale: 74 s old (limit 60 s)"}
        for symbol in ("BTC_USDT", "SOL_USDT"):  # SOL recovered once its candles came back
            d = second[symbol]
            assert d.unknown_inputs == {}, (symbol, d.reasons)
            assert not any("stale" in r for r in d.reasons)
        with platform.db.sessions() as s:
            assert list(s.scalars(select(EventRow).where(EventRow.type == "symbol_skipped"))) \
                == []
    finally:
        platform.db.close()


async def test_stale_ticker_freezes_price_and_time_of_one_symbol(emulator, clock):
    emulator.set_fault("stale-ticker:ETH_USDT")
    emulator.set_fault("stale-ticker:BTC_USDT")  # repeatable: both stay frozen
    assert emulator.faults.stale_tickers == ["BTC_USDT", "ETH_USDT"]

    async def tickers() -> dict[str, dict[str, object]]:
        async with aiohttp.ClientSession(emulator.base_url) as http, \
                http.get("/exchange/v1/public/get-tickers") as r:
            return {d["i"]: d for d in (await r.json())["result"]["data"]}

    before = await tickers()
    clock.advance(600)
    after = await tickers()
    for frozen in ("ETH_USDT", "BTC_USDT"):
        assert after[frozen]["a"] == before[frozen]["a"]
        assert after[frozen]["t"] == before[frozen]["t"]
    assert after["SOL_USDT"]["t"] == before["SOL_USDT"]["t"] + 600_000
    emulator.set_faults(stale_tickers=["BTC_USDT"])  # ETH thaws, BTC stays
    thawed = await tickers()
    assert thawed["ETH_USDT"]["t"] == int(clock.now() * 1000)
    assert thawed["BTC_USDT"]["t"] == before["BTC_USDT"]["t"]
    bad = {"faults": ["stale-ticker:NOPE_USDT"]}
    async with aiohttp.ClientSession(emulator.base_url) as http, \
            http.post("/_emulator/faults", json=bad) as r:
        assert r.status == 400 and "NOPE_USDT" in await r.text()
