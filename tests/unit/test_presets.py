"""The six presets of business-rules §2 and validated per-symbol overrides."""

from __future__ import annotations

import pytest

from atp.domain.presets import DEFAULT_PRESETS, PresetError, apply_overrides, validate_values


@pytest.mark.parametrize(
    ("name", "buy", "sell", "ema", "ma50", "ma200"),
    [
        ("swing-conservative", 40, 70, True, True, True),
        ("swing-aggressive", 45, 68, True, True, True),
        ("intraday-conservative", 45, 70, True, True, False),
        ("intraday-aggressive", 50, 65, True, True, False),
        ("scalp-conservative", 50, 70, True, False, False),
        ("scalp-aggressive", 55, 65, False, False, False),
    ],
)
def test_defaults(name, buy, sell, ema, ma50, ma200):
    p = DEFAULT_PRESETS[name]
    assert (p.rsi_buy_below, p.rsi_sell_above) == (buy, sell)
    assert (p.check_ema10, p.check_ma50, p.check_ma200) == (ema, ma50, ma200)
    assert (p.min_volume_ratio, p.cooldown_minutes, p.min_price_change_pct) == (0.5, 5.0, 1.0)


def test_risk_levels():
    assert DEFAULT_PRESETS["swing-aggressive"].sl_pct == 2.0
    assert DEFAULT_PRESETS["swing-conservative"].tp_atr_mult == 3.0


def test_override_applies_on_top_of_preset():
    p = apply_overrides(DEFAULT_PRESETS["swing-conservative"], {"rsi_buy_below": 35})
    assert p.rsi_buy_below == 35.0 and p.rsi_sell_above == 70


def test_every_bad_field_is_named():
    with pytest.raises(PresetError) as err:
        validate_values({"rsi_buy_below": "low", "check_ma50": 1, "colour": "red",
                         "cooldown_minutes": -1})
    assert set(err.value.problems) == {"rsi_buy_below", "check_ma50", "colour",
                                       "cooldown_minutes"}


def test_buy_threshold_must_stay_below_sell_threshold():
    with pytest.raises(PresetError, match="rsi_buy_below"):
        apply_overrides(DEFAULT_PRESETS["swing-conservative"], {"rsi_buy_below": 75})
