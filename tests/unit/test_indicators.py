"""Indicators against the plain-Python reference, on generated and edge-case candles."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from atp.domain.candles import Candles
from atp.domain.indicators import compute_indicators, volume_ratio
from tests.reference import atr_series, ema_series, rsi_series, sma_series


def walk(n: int, seed: int = 1) -> Candles:
    rng = random.Random(seed)
    price, rows = 100.0, []
    for i in range(n):
        price *= math.exp(rng.gauss(0, 0.01))
        rows.append((i * 60_000, price, price * 1.01, price * 0.99, price, rng.uniform(1, 5)))
    return Candles.from_rows(rows)


@pytest.mark.parametrize("n", [5, 6, 10, 14, 15, 49, 50, 199, 200, 500])
def test_matches_reference_at_every_history_length(n):
    c = walk(n)
    got = compute_indicators(c, price=float(c.close[-1]))
    close, high, low = c.close.tolist(), c.high.tolist(), c.low.tolist()
    expected = {
        "rsi": rsi_series(close)[-1],
        "ma50": sma_series(close, 50)[-1],
        "ma200": sma_series(close, 200)[-1],
        "ema10": ema_series(close, 10)[-1],
        "atr": atr_series(high, low, close)[-1],
    }
    for name, want in expected.items():
        have = getattr(got, name)
        if want is None:
            assert have is None, name
        else:
            assert have == pytest.approx(want, rel=1e-9), name


def test_volume_ratio_rules():
    assert volume_ratio(np.array([1.0, 1, 1, 1, 1])) is None  # first five candles
    assert volume_ratio(np.array([1.0, 1, 1, 1, 1, 2])) == 2.0
    assert volume_ratio(np.array([1.0, 1, 1, 1, 1, 0])) is None  # zero last volume
    assert volume_ratio(np.array([0.0, 0, 0, 0, 0, 3])) is None  # zero average
    # only the five candles *before* the last count
    assert volume_ratio(np.array([100.0, 2, 2, 2, 2, 2, 4])) == 2.0


def test_closed_at_drops_the_forming_candle():
    c = walk(10)
    hour = 60_000
    # at 9 min 30 s the candle opened at 9 min is still forming
    assert len(c.closed_at(9 * hour + 30_000, hour)) == 9
    assert len(c.closed_at(10 * hour, hour)) == 10
