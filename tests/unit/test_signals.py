"""Table tests for every BUY/SELL rule and boundary of business-rules §3–§4."""

from __future__ import annotations

from dataclasses import replace

import pytest

from atp.domain.indicators import Indicators
from atp.domain.presets import DEFAULT_PRESETS, apply_overrides
from atp.domain.signals import (
    buy_index,
    buy_ma_ok,
    buy_price_ok,
    buy_rsi_ok,
    buy_target_ok,
    buy_volume_ok,
    decide,
    sell_rsi_ok,
    sell_trend_ok,
    sell_volume_ok,
)

SWING = DEFAULT_PRESETS["swing-conservative"]
INTRADAY = DEFAULT_PRESETS["intraday-conservative"]
SCALP = DEFAULT_PRESETS["scalp-conservative"]
SCALP_AGG = DEFAULT_PRESETS["scalp-aggressive"]

BUYABLE = Indicators(
    price=100.0, rsi=30.0, ma50=101.0, ma200=99.0, ema10=100.0, atr=1.0, volume_ratio=1.0
)
SELLABLE = Indicators(
    price=100.0, rsi=80.0, ma50=95.0, ma200=90.0, ema10=100.0, atr=1.0, volume_ratio=1.0
)


def ind(**changes: float | None) -> Indicators:
    return replace(BUYABLE, **changes)


@pytest.mark.parametrize(
    ("rsi", "expected"),
    [(39.99, True), (40.0, False), (40.01, False), (None, None)],
)
def test_buy_rsi_threshold_is_strict(rsi, expected):
    assert buy_rsi_ok(ind(rsi=rsi), SWING).value is expected


@pytest.mark.parametrize(
    ("rsi", "expected"),
    [(70.01, True), (70.0, False), (69.0, False), (None, None)],
)
def test_sell_rsi_threshold_is_strict(rsi, expected):
    assert sell_rsi_ok(ind(rsi=rsi), SWING).value is expected


def test_sell_uses_the_presets_sell_above_not_a_hard_coded_70():
    aggressive = DEFAULT_PRESETS["intraday-aggressive"]  # sells above 65
    assert sell_rsi_ok(ind(rsi=66.0), aggressive).value is True
    assert sell_rsi_ok(ind(rsi=66.0), SWING).value is False


@pytest.mark.parametrize(
    ("ma50", "ema10", "expected"),
    [
        (100.01, 100.0, True),  # MA50 above EMA10
        (99.95, 100.0, True),  # exactly 0.05 % below: flat market, inclusive
        (99.951, 100.0, True),  # inside the band
        (99.949, 100.0, False),  # just outside the band
        (99.0, 100.0, False),
        (0.00009995, 0.0001, True),  # the band is relative: works at tiny prices
        (0.00009990, 0.0001, False),  # 0.1 % below at a tiny price is not flat
        (None, 100.0, None),
        (100.0, None, None),
    ],
)
def test_buy_ma_flat_market_band(ma50, ema10, expected):
    # price far above MA200 so only the MA50/EMA10 rule decides
    got = buy_ma_ok(ind(ma50=ma50, ema10=ema10, ma200=1e-9, price=1.0), SWING)
    assert got.value is expected


@pytest.mark.parametrize(
    ("price", "ma200", "expected"),
    [(99.5, 100.0, True), (99.49, 100.0, False), (120.0, 100.0, True), (None, 100.0, None)],
)
def test_buy_ma200_tolerance_half_percent(price, ma200, expected):
    got = buy_ma_ok(ind(price=price, ma200=ma200, ma50=101.0, ema10=100.0), SWING)
    assert got.value is expected


def test_ma200_unknown_makes_the_flag_unknown_not_ok():
    got = buy_ma_ok(ind(ma200=None), SWING)
    assert got.value is None
    assert got.reason is not None and "ma200" in got.reason


def test_ma200_not_checked_by_intraday():
    assert buy_ma_ok(ind(ma200=None), INTRADAY).value is True


@pytest.mark.parametrize(
    ("price", "ma50", "expected"),
    [(99.5, 100.0, True), (99.49, 100.0, False), (None, 100.0, None), (100.0, None, None)],
)
def test_buy_ma50_without_ema10_tolerance(price, ma50, expected):
    preset = apply_overrides(SWING, {"check_ema10": False, "check_ma200": False})
    assert buy_ma_ok(ind(price=price, ma50=ma50), preset).value is expected


@pytest.mark.parametrize(
    ("price", "ema10", "expected"),
    [(95.0, 100.0, True), (94.99, 100.0, False), (None, 100.0, None), (100.0, None, None)],
)
def test_buy_ema10_only_scalp_tolerance_five_percent(price, ema10, expected):
    assert buy_ma_ok(ind(price=price, ema10=ema10, ma50=None), SCALP).value is expected


@pytest.mark.parametrize(
    ("price", "expected"), [(99.5, True), (99.49, False)]
)
def test_buy_ema10_only_non_scalp_tolerance_half_percent(price, expected):
    preset = apply_overrides(INTRADAY, {"check_ma50": False})
    assert buy_ma_ok(ind(price=price, ema10=100.0), preset).value is expected


def test_buy_ma_ok_true_when_preset_checks_no_ma():
    unknown_everything = ind(ma50=None, ma200=None, ema10=None)
    assert buy_ma_ok(unknown_everything, SCALP_AGG).value is True


def test_buy_ma_three_valued_false_beats_unknown():
    # MA50/EMA10 unknown but MA200 failing: the flag is False, not None
    got = buy_ma_ok(ind(ma50=None, price=90.0, ma200=100.0), SWING)
    assert got.value is False


@pytest.mark.parametrize(
    ("ratio", "expected"), [(0.5, True), (0.4999, False), (2.0, True), (None, None)]
)
def test_volume_ratio_minimum_inclusive(ratio, expected):
    assert buy_volume_ok(ind(volume_ratio=ratio), SWING).value is expected
    assert sell_volume_ok(ind(volume_ratio=ratio), SWING).value is expected


@pytest.mark.parametrize(
    ("price", "target", "expected"),
    [(100.0, None, True), (100.0, 100.0, True), (100.0, 99.99, False), (None, 100.0, None)],
)
def test_buy_target(price, target, expected):
    assert buy_target_ok(ind(price=price), target).value is expected


@pytest.mark.parametrize(("price", "expected"), [(1e-8, True), (0.0, False), (None, None)])
def test_buy_price_ok(price, expected):
    assert buy_price_ok(ind(price=price)).value is expected


@pytest.mark.parametrize(
    ("ema10", "ma50", "ma10w", "price", "expected"),
    [
        (100.5, 100.0, None, 100.0, True),  # EMA10 exactly 0.5 % above MA50
        (100.49, 100.0, None, 100.0, None),  # EMA side fails, MA10w unknown ⇒ unknown
        (100.49, 100.0, 101.0, 100.0, True),  # price below MA10w is enough
        (100.49, 100.0, 99.0, 100.0, False),  # both sides known and failing
        (None, 100.0, 101.0, 100.0, True),  # a known True side is enough
        (None, 100.0, 99.0, 100.0, None),
        (None, None, None, None, None),
    ],
)
def test_sell_trend_three_valued_or(ema10, ma50, ma10w, price, expected):
    got = sell_trend_ok(ind(ema10=ema10, ma50=ma50, ma10w=ma10w, price=price), SWING)
    assert got.value is expected


def test_sell_trend_true_when_ma50_not_checked():
    assert sell_trend_ok(ind(ema10=None, ma50=None), SCALP).value is True


def test_buy_when_all_five_flags_true():
    d = decide(BUYABLE, SWING)
    assert d.decision == "BUY"
    assert d.buy_index == 100
    assert all(r.startswith("sell_") for r in d.reasons)


def test_sell_when_all_three_sell_flags_true():
    d = decide(SELLABLE, SWING)
    assert d.decision == "SELL"
    assert d.flags["sell_rsi_ok"] and d.flags["sell_trend_ok"] and d.flags["sell_volume_ok"]


@pytest.mark.parametrize(
    "missing", ["price", "rsi", "ma50", "ma200", "ema10", "volume_ratio"]
)
def test_each_unknown_input_gives_wait_with_a_reason_naming_it(missing):
    d = decide(ind(**{missing: None}), SWING)
    assert d.decision == "WAIT"
    assert any(missing in r and "unknown" in r for r in d.reasons), d.reasons


def test_buy_wins_over_sell_when_thresholds_overlap():
    preset = replace(SWING, rsi_buy_below=60, rsi_sell_above=50)
    both = ind(rsi=55.0, ma50=100.0, ema10=100.0, ma200=90.0)
    d = decide(both, preset)
    assert d.flags["sell_rsi_ok"] is True and d.decision == "BUY"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [([True] * 5, 100), ([True, True, True, True, None], 80), ([False] * 5, 0),
     ([True, None, False, True, None], 40), ([None] * 5, 0)],
)
def test_buy_index(flags, expected):
    assert buy_index(flags) == expected


def test_reasons_one_per_flag_not_true():
    d = decide(ind(rsi=50.0, volume_ratio=None), SWING)
    assert len(d.reasons) == sum(1 for v in d.flags.values() if v is not True)
    assert any(r.startswith("buy_rsi_ok: RSI 50.00 not below 40") for r in d.reasons)
