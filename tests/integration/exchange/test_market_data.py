"""Market data through the real ccxt client: incremental candles, unknown symbols, retries."""

from __future__ import annotations

import pytest

from atp.exchange import MarketDataService, NetworkError, RateLimited

from .conftest import T0


def service(harness, client=None, **kw):
    return MarketDataService(client or harness.client(), clock=harness.clock.now, **kw)


async def test_incremental_candles_one_request_plus_closed_ones(harness, emulator, clock):
    md = service(harness)
    symbols = sorted(emulator.market.instruments)[:10]
    first = await md.refresh(symbols)
    assert first.unknown() == {}
    # instruments, tickers, 10 × 200 hourly candles, 10 × 75 daily candles
    assert first.requests == 2 + 10 + 10
    assert (first.candle_requests, first.daily_requests) == (10, 10)
    btc = first.symbols["BTC_USDT"]
    assert len(btc.candles) == 200
    truth = [r for r in emulator.market.candles("BTC_USDT", 3600, None, 201) if r.closed]
    assert btc.candles.timestamp[-1] == truth[-1].t
    assert btc.candles.close[-1] == pytest.approx(truth[-1].c, rel=1e-6)
    assert btc.price_age_seconds == pytest.approx(0.0, abs=1e-6)

    clock.advance(60)
    steady = await md.refresh(symbols)
    assert steady.requests == 1 and steady.candle_requests == 0

    clock.set(T0 - T0 % 3600 + 3600 + 5)  # the forming candle has just closed
    after_close = await md.refresh(symbols)
    assert after_close.requests == 1 + 10 and after_close.candle_requests == 10
    new = after_close.symbols["BTC_USDT"].candles
    assert len(new) == 200 and new.timestamp[-1] == truth[-1].t + 3_600_000
    assert (new.timestamp[1:] - new.timestamp[:-1] == 3_600_000).all()
    truth2 = [r for r in emulator.market.candles("BTC_USDT", 3600, None, 3) if r.closed]
    assert new.close[-1] == pytest.approx(truth2[-1].c, rel=1e-6)

    clock.advance(30)
    assert (await md.refresh(symbols)).requests == 1


async def test_malformed_symbol_leaves_every_other_symbol_fresh(harness, emulator, clock):
    md = service(harness)
    symbols = sorted(emulator.market.instruments)
    await md.refresh(symbols)
    emulator.set_fault("malformed:ETH_USDT")
    clock.advance(3600)
    snap = await md.refresh(symbols)
    assert set(snap.unknown()) == {"ETH_USDT"}
    assert "malformed" in snap.unknown()["ETH_USDT"]
    for name in symbols:
        if name != "ETH_USDT":
            d = snap.symbols[name]
            assert d.known and d.price_age_seconds == pytest.approx(0.0, abs=1e-6)
            assert d.candles.timestamp[-1] >= (clock.now() - 7200) * 1000

    emulator.clear_faults()
    clock.advance(60)
    assert (await md.refresh(symbols)).unknown() == {}


async def test_malformed_candles_only_make_that_symbol_unknown(harness, emulator, clock):
    md = service(harness)
    symbols = ["BTC_USDT", "SOL_USDT"]
    await md.refresh(symbols)
    clock.advance(3600)
    emulator.set_fault("malformed:SOL_USDT:candles")
    snap = await md.refresh(symbols)
    assert snap.symbols["BTC_USDT"].known
    sol = snap.symbols["SOL_USDT"]
    assert sol.unknown_reason.startswith("malformed candles") or "malformed" in sol.unknown_reason
    assert sol.price is not None  # the ticker was fine
    assert [f.category for f in harness.failures] == ["malformed"]


async def test_an_old_price_goes_through_with_its_age(harness, emulator, clock):
    """Staleness is the domain's call (business-rules §1): the service passes price and age."""
    md = service(harness)
    harness_clock_now = clock.now
    md.clock = lambda: harness_clock_now() + 120  # our clock runs 2 min ahead of the ticker
    snap = await md.refresh(["BTC_USDT"])
    btc = snap.symbols["BTC_USDT"]
    assert btc.price == pytest.approx(emulator.market.price("BTC_USDT"), rel=1e-4)
    assert btc.price_age_seconds == pytest.approx(120.0, abs=1e-6)
    assert btc.price_cause is None and btc.candles is not None


async def test_daily_candles_are_fetched_once_a_day_and_cached(harness, emulator, clock):
    md = service(harness)
    first = await md.refresh(["BTC_USDT", "ETH_USDT"])
    btc = first.symbols["BTC_USDT"]
    assert btc.daily_cause is None and len(btc.daily) == 75
    assert (btc.daily.timestamp[1:] - btc.daily.timestamp[:-1] == 86_400_000).all()
    truth = [r for r in emulator.market.candles("BTC_USDT", 86400, None, 76) if r.closed]
    assert btc.daily.timestamp[-1] == truth[-1].t
    assert btc.daily.close[-1] == pytest.approx(truth[-1].c, rel=1e-6)
    assert emulator.counts["public/get-candlestick"] == 4  # 2 hourly + 2 daily

    clock.advance(3 * 3600)  # hourly candles close, the day has not
    later = await md.refresh(["BTC_USDT", "ETH_USDT"])
    assert (later.candle_requests, later.daily_requests) == (2, 0)
    assert later.symbols["BTC_USDT"].daily is btc.daily  # the cached array, no request

    clock.set(T0 - T0 % 86400 + 86400 + 60)  # the daily candle has closed
    next_day = await md.refresh(["BTC_USDT", "ETH_USDT"])
    assert next_day.daily_requests == 2
    new = next_day.symbols["BTC_USDT"].daily
    assert len(new) == 75 and new.timestamp[-1] == truth[-1].t + 86_400_000


async def test_malformed_daily_candles_cost_only_ma10w_its_input(harness, emulator):
    emulator.set_fault("malformed:BTC_USDT:candles")
    snap = await service(harness).refresh(["BTC_USDT", "ETH_USDT"])
    btc = snap.symbols["BTC_USDT"]
    assert btc.daily is None and btc.daily_cause.startswith("malformed reply")
    assert btc.candles_cause.startswith("malformed reply")
    assert snap.symbols["ETH_USDT"].daily_cause is None


async def test_unlisted_symbol_is_unknown_others_go_on(harness):
    snap = await service(harness).refresh(["BTC_USDT", "NOPE_USDT"])
    assert snap.symbols["BTC_USDT"].known
    assert snap.unknown() == {"NOPE_USDT": "not listed on the exchange"}


async def test_rate_limit_is_retried_then_succeeds(harness, emulator):
    client = harness.client()
    await client.ensure_markets()
    emulator.set_fault("rate-limit:2")
    tickers = await client.fetch_tickers()
    assert "BTC_USDT" in tickers
    assert [type(f) for f in harness.failures] == [RateLimited, RateLimited]
    assert all(f.will_retry and f.code == 42901 for f in harness.failures)
    assert harness.sleeps == [1.0, 1.0]


async def test_rate_limit_past_the_retries_fails_typed(harness, emulator):
    client = harness.client(retries=1)
    await client.ensure_markets()
    emulator.set_fault("rate-limit")
    with pytest.raises(RateLimited):
        await client.fetch_tickers()
    snap = await service(harness, client).refresh(["BTC_USDT"])
    assert "rate limited" in snap.unknown()["BTC_USDT"]


async def test_configured_request_rate(harness, emulator):
    emulator.rate_limit_per_second = 3
    client = harness.client(retries=0)
    await client.ensure_markets()
    await client.fetch_tickers()
    await client.fetch_tickers()
    with pytest.raises(RateLimited):
        await client.fetch_tickers()


async def test_exchange_down_is_a_network_error(harness, emulator):
    client = harness.client(retries=1)
    await client.ensure_markets()
    emulator.set_fault("down")
    with pytest.raises(NetworkError):
        await client.fetch_tickers()
    assert harness.sleeps == [0.5]
    emulator.set_fault("unavailable")
    emulator.set_faults(down=False)
    with pytest.raises(NetworkError):
        await client.fetch_tickers()
    emulator.clear_faults()
    assert await client.fetch_tickers()


async def test_slow_replies_time_out_as_network_errors(harness, emulator):
    client = harness.client(retries=0, timeout_ms=200)
    await client.ensure_markets()
    emulator.set_fault("slow:1")
    with pytest.raises(NetworkError):
        await client.fetch_tickers()


async def test_markets_refresh_hourly(harness, emulator, clock):
    client = harness.client()
    await client.ensure_markets()
    await client.ensure_markets()
    assert emulator.counts["public/get-instruments"] == 1
    clock.advance(3601)
    await client.ensure_markets()
    assert emulator.counts["public/get-instruments"] == 2


async def test_a_request_budget_spreads_candle_fetches_over_cycles_oldest_first(
        harness, emulator, clock):
    """At most `request_budget` candle requests per refresh (issue 14, item 6): a first
    load or a close of every candle is spread over the next cycles, oldest candles first;
    a symbol left for later keeps its candles, one never loaded says why it has none."""
    md = service(harness, request_budget=7)
    symbols = sorted(emulator.market.instruments)[:10]  # 10 hourly + 10 daily to fetch
    first = await md.refresh(symbols)
    assert first.candle_requests + first.daily_requests == 7 and md.deferred == 13
    waiting = {s: c for s, c in first.unknown().items()}
    assert len(waiting) == 3, waiting  # 7 got hourly candles; 3 wait
    assert all("next cycle" in c and "7 candle requests" in c for c in waiting.values())
    loads = [first]
    while md.deferred or len(loads) == 1:
        clock.advance(30)
        loads.append(await md.refresh(symbols))
        assert loads[-1].candle_requests + loads[-1].daily_requests <= 7
    assert len(loads) == 3 and loads[-1].unknown() == {}  # 20 requests in 3 cycles
    assert all(md.daily(s) is not None for s in symbols)

    clock.set(T0 - T0 % 3600 + 3600 + 5)  # every hourly candle closes at once
    closing = await md.refresh(symbols)
    assert closing.candle_requests == 7 and md.deferred == 3
    waiting = closing.unknown()  # the 3 left keep their candles, one hour behind, and say so
    assert len(waiting) == 3 and all("next cycle" in c for c in waiting.values()), waiting
    assert all(closing.symbols[s].candles is not None for s in waiting)
    clock.advance(30)
    caught_up = await md.refresh(symbols)
    assert caught_up.candle_requests == 3 and md.deferred == 0 and caught_up.unknown() == {}
    newest = {int(md.candles(s).timestamp[-1]) for s in symbols}
    assert len(newest) == 1, newest  # all current after the second cycle
