"""The synthetic market: deterministic, consistent across timeframes, scriptable."""

import itertools

import numpy as np
import pytest

from atp.domain.indicators import rsi
from atp.emulators.clock import ManualClock
from atp.emulators.cryptocom.market import MarketConfig, SyntheticMarket

T0 = 1_750_000_000.0


def market(seed=1, symbols=5, t=T0):
    return SyntheticMarket(ManualClock(t), MarketConfig(seed=seed, symbols=symbols))


def test_same_seed_same_candles_whatever_the_symbol_count():
    a = market(symbols=3).candles("BTC_USDT", 3600, None, 50)
    b = market(symbols=500).candles("BTC_USDT", 3600, None, 50)
    c = market(seed=2).candles("BTC_USDT", 3600, None, 50)
    assert a == b
    assert [r.c for r in a] != [r.c for r in c]


def test_candles_close_on_timeframe_boundaries_and_last_one_forms():
    m = market(t=T0)
    rows = m.candles("ETH_USDT", 3600, None, 10)
    assert all(r.t % 3_600_000 == 0 for r in rows)
    assert [r.closed for r in rows] == [True] * 9 + [False]
    assert rows[-1].c == pytest.approx(m.price("ETH_USDT"))
    for prev, cur in itertools.pairwise(rows):
        assert cur.o == pytest.approx(prev.c)
        assert cur.t - prev.t == 3_600_000
    for r in rows:
        assert r.low <= min(r.o, r.c) <= max(r.o, r.c) <= r.h
        assert r.v > 0


def test_hour_is_the_aggregate_of_its_quarters():
    m = market()
    hours = [r for r in m.candles("SOL_USDT", 3600, None, 4) if r.closed]
    quarters = [r for r in m.candles("SOL_USDT", 900, None, 16) if r.closed]
    last_hour = hours[-1]
    inside = [q for q in quarters if last_hour.t <= q.t < last_hour.t + 3_600_000]
    assert len(inside) == 4
    assert inside[0].o == pytest.approx(last_hour.o)
    assert inside[-1].c == pytest.approx(last_hour.c)
    assert max(q.h for q in inside) == pytest.approx(last_hour.h)
    assert min(q.low for q in inside) == pytest.approx(last_hour.low)
    assert sum(q.v for q in inside) == pytest.approx(last_hour.v)


def test_forming_candle_is_a_prefix_of_the_closed_one():
    clock = ManualClock(T0 - T0 % 3600 + 600)
    m = SyntheticMarket(clock, MarketConfig(symbols=3))
    forming = m.candles("BTC_USDT", 3600, None, 1)[0]
    clock.advance(3600)
    closed = next(r for r in m.candles("BTC_USDT", 3600, None, 3) if r.t == forming.t)
    assert closed.closed and closed.o == forming.o
    assert closed.h >= forming.h and closed.low <= forming.low and closed.v >= forming.v


def test_ticker_matches_forming_candle():
    m = market(symbols=20)
    tickers = {t.symbol: t for t in m.tickers()}
    assert len(tickers) == 20
    for name in ("BTC_USDT", "SYN0000_USDT" if "SYN0000_USDT" in tickers else "SUI_USDT"):
        forming = m.candles(name, 3600, None, 1)[0]
        assert tickers[name].last == pytest.approx(forming.c)
        assert tickers[name].low <= tickers[name].last <= tickers[name].high
        assert tickers[name].t == int(T0 * 1000)


def closes(m, symbol, n=60):
    return np.array([r.c for r in m.candles(symbol, 3600, None, n + 1) if r.closed])


@pytest.mark.parametrize("kind, check", [
    ("rsi_low", lambda v: v < 40), ("rsi_high", lambda v: v > 70),
])
def test_scripted_scenarios_drive_rsi(kind, check):
    clock = ManualClock(T0)
    m = SyntheticMarket(clock, MarketConfig(symbols=10))
    for symbol in m.instruments:
        m.script(symbol, kind, candles=20)
    clock.advance(10 * 3600)
    values = [rsi(closes(m, s)) for s in m.instruments]
    assert all(v is not None and check(v) for v in values), values


def test_backdated_scenario_shapes_history_at_start():
    clock = ManualClock(T0)
    m = SyntheticMarket(clock, MarketConfig(symbols=3))
    m.script("BTC_USDT", "rsi_low", candles=20, start=T0 - 12 * 3600)
    assert rsi(closes(m, "BTC_USDT")) < 40


def test_hold_keeps_history_and_stops_the_drift_where_it_is():
    """Two twins, one held mid-decline: same past, and from then on the held one moves only
    by the noise an unscripted twin shows (the decline it had left would be ~33 %)."""
    clock = ManualClock(T0)
    held, plain, free = (SyntheticMarket(clock, MarketConfig(symbols=3)) for _ in range(3))
    for m in (held, plain):
        m.script("BTC_USDT", "rsi_low", candles=40, pct_per_candle=2.0)
    clock.advance(20 * 3600)
    before = closes(held, "BTC_USDT", 30)
    assert [s.kind for s in held.hold("BTC_USDT")] == ["hold"]
    assert held.hold("ETH_USDT") == []  # nothing under way: nothing to hold
    np.testing.assert_allclose(closes(held, "BTC_USDT", 30), before)
    at_hold = held.price("BTC_USDT")
    clock.advance(25 * 3600)  # past the decline's end
    drift = held.price("BTC_USDT") / at_hold
    noise = free.price("BTC_USDT") / free.price("BTC_USDT", T0 + 20 * 3600)
    assert drift == pytest.approx(noise, rel=1e-3)  # prices interpolate between grid points
    assert plain.price("BTC_USDT") / at_hold == pytest.approx(noise * 1.02 ** -20, rel=1e-3)


def test_symbol_count_is_settable():
    m = market(symbols=3)
    m.set_symbols(1000)
    assert len(m.instruments) == 1000
    assert "SYN0980_USDT" in m.instruments
    assert len(m.tickers()) == 1000


def test_extremes_bound_the_path():
    m = market()
    lo, hi = m.extremes("BTC_USDT", T0 - 7200, T0)
    rows = [r for r in m.candles("BTC_USDT", 3600, None, 3)][-3:]
    assert lo == pytest.approx(min(r.low for r in rows[1:]))
    assert hi == pytest.approx(max(r.h for r in rows[1:]))
