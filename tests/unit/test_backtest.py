"""The backtest's pieces: indicator series = per-prefix indicators, the fast decisions =
the prefix decisions, candle SL/TP fills, market fills and the exit P&L split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atp.backtest import fast_decisions, naive_decisions, run_backtest
from atp.domain.candles import Candles
from atp.domain.fills import (
    BELOW_MIN,
    INSUFFICIENT_BALANCE,
    INVALID_PRICE,
    candle_exit,
    check_protection,
    default_rules,
    first_crossed,
    market_fill,
)
from atp.domain.indicators import (
    Indicators,
    compute_indicators,
    indicator_series,
    ma10w,
    ma10w_series,
)
from atp.domain.portfolio import exit_pnls
from atp.domain.presets import DEFAULT_PRESETS
from atp.domain.signals import decide, may_act
from atp.domain.trading import OrderRejected

DAY = 86_400_000


def walk(n: int, seed: int = 3, step: int = 300_000, zero_volume_every: int = 0) -> Candles:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(opens, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(opens, close) * (1 - rng.uniform(0, 0.01, n))
    volume = rng.uniform(1, 10, n)
    if zero_volume_every:
        volume[::zero_volume_every] = 0.0
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * step
    return Candles(ts, opens, high, low, close, volume)


def test_series_equal_the_indicators_of_every_prefix_bit_for_bit() -> None:
    c = walk(420, zero_volume_every=37)
    series = indicator_series(c)
    for i in range(len(c)):
        want = compute_indicators(c.head(i + 1), None).to_dict()
        for name in ("rsi", "ma50", "ma200", "ema10", "atr", "volume_ratio"):
            got = float(getattr(series, name)[i])
            expected = want[name]
            assert (math.isnan(got) if expected is None else got == expected), (name, i)


def test_ma10w_series_equals_ma10w_of_the_closed_daily_candles() -> None:
    daily = walk(120, seed=5, step=DAY)
    counts = np.array([0, 1, 69, 70, 71, 100, 120])
    got = ma10w_series(daily.close, counts)
    for j, n in enumerate(counts):
        want = ma10w(daily.close[:n] if n else None)
        assert (math.isnan(got[j]) if want is None else got[j] == want), n


@pytest.mark.parametrize("preset", ["swing-conservative", "scalp-aggressive"])
def test_fast_decisions_equal_the_prefix_decisions(preset: str) -> None:
    c = walk(700, seed=11, zero_volume_every=53)
    daily = walk(90, seed=2, step=DAY)
    daily = Candles(daily.timestamp - 80 * DAY + int(c.timestamp[0]), daily.open, daily.high,
                    daily.low, daily.close, daily.volume)
    p = DEFAULT_PRESETS[preset]
    for with_daily in (None, daily):
        every = list(fast_decisions(c, p, with_daily, every=True))
        slow = list(naive_decisions(c, p, with_daily))
        assert every == slow  # kind, flags, indicators, reasons, unknown inputs
        skipping = list(fast_decisions(c, p, with_daily))
        for fast, full in zip(skipping, slow, strict=True):
            assert fast == full if fast is not None else full.decision == "WAIT"
        assert 0 < sum(d is None for d in skipping) < len(c)
    assert {d.decision for d in slow} >= {"BUY", "WAIT"}


@settings(max_examples=300, deadline=None)
@given(rsi=st.one_of(st.none(), st.floats(0, 100)), preset=st.sampled_from(list(DEFAULT_PRESETS)),
       other=st.floats(0.001, 1000))
def test_may_act_false_means_the_decision_is_wait(rsi: float | None, preset: str,
                                                  other: float) -> None:
    p = DEFAULT_PRESETS[preset]
    ind = Indicators(price=other, rsi=rsi, ma50=other, ma200=other * 0.9, ema10=other,
                     atr=other / 100, volume_ratio=2.0, ma10w=other * 2)
    acts = bool(may_act(np.array([math.nan if rsi is None else rsi]), p)[0])
    if not acts:
        assert decide(ind, p).decision == "WAIT"


def test_fast_and_naive_replays_give_the_same_trades() -> None:
    c = walk(900, seed=4)
    p = DEFAULT_PRESETS["scalp-aggressive"]
    fast = run_backtest(c, p, symbol="ETH_USDT")
    slow = run_backtest(c, p, symbol="ETH_USDT", naive=True)
    every = run_backtest(c, p, symbol="ETH_USDT", every=True)
    assert fast.trades == slow.trades == every.trades
    assert fast.summary == slow.summary == every.summary
    assert fast.summary.trades > 0


@pytest.mark.parametrize(("o", "h", "lo", "expected"), [
    (100, 101, 99, None),  # inside both legs
    (94, 96, 93, ("STOP_LOSS", 94)),  # opened below the stop: fills at the open (gap)
    (106, 107, 104, ("TAKE_PROFIT", 106)),  # gapped above the take-profit
    (100, 101, 95, ("STOP_LOSS", 95)),  # touched the stop exactly: at the trigger
    (100, 105, 99, ("TAKE_PROFIT", 105)),  # touched the take-profit: at the trigger
    (100, 107, 90, ("STOP_LOSS", 95)),  # both in one candle: the stop first
])
def test_candle_exit(o: float, h: float, lo: float, expected: object) -> None:
    assert candle_exit(95.0, 105.0, o, h, lo) == expected


def test_first_crossed_fills_at_the_sampled_price() -> None:
    legs = [("STOP_LOSS", 95.0), ("TAKE_PROFIT", 105.0)]
    assert first_crossed(legs, [100, 99, 94.5, 106]) == (0, 94.5)
    assert first_crossed(legs, [100, 105.5]) == (1, 105.5)
    assert first_crossed(legs, [100, 101]) is None


def test_market_fills_charge_the_taker_fee_and_refuse_as_the_exchange() -> None:
    rules = default_rules("ETH_USDT")  # quantity tick 0.0001, taker fee 0.5 %
    buy = market_fill("BUY", 2000.0, rules, 10_000.0, notional=100.0)
    assert (buy.quantity, buy.fee, buy.fee_in) == (0.05, pytest.approx(0.00025), "base")
    sell = market_fill("SELL", 2100.0, rules, 1.0, quantity=0.04999)
    assert sell.quantity == 0.0499 and sell.fee == pytest.approx(0.0499 * 2100 * 0.005)
    assert sell.fee_in == "quote"
    with pytest.raises(OrderRejected) as below:
        market_fill("BUY", 2000.0, rules, 10_000.0, notional=0.1)
    assert below.value.code == BELOW_MIN[0]
    with pytest.raises(OrderRejected) as poor:
        market_fill("BUY", 2000.0, rules, 50.0, notional=100.0)
    assert poor.value.code == INSUFFICIENT_BALANCE[0]
    with pytest.raises(OrderRejected) as wrong_side:
        check_protection(2010.0, 2100.0, 2000.0, 0.05, 1.0)
    assert wrong_side.value.code == INVALID_PRICE[0]


def test_an_exit_shares_proceeds_by_quantity() -> None:
    pnls = exit_pnls([(100.0, 1.0), (300.0, 3.0)], 4.0, 440.0)
    assert pnls == [pytest.approx(10.0), pytest.approx(30.0)]
