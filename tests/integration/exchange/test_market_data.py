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
    assert first.requests == 2 + 10  # instruments, tickers, 10 × 200 candles
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


async def test_stale_price_is_unknown(harness, emulator, clock):
    md = service(harness, max_price_age_seconds=60)
    harness_clock_now = clock.now
    md.clock = lambda: harness_clock_now() + 120  # our clock runs 2 min ahead of the ticker
    snap = await md.refresh(["BTC_USDT"])
    assert "stale price" in snap.unknown()["BTC_USDT"]


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
