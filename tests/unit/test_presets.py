"""The six presets of business-rules §2 and validated per-symbol overrides."""

from __future__ import annotations

import math

import pytest

from atp.domain.presets import (
    DEFAULT_PRESETS,
    NOT_FINITE,
    NUMERIC_RANGES,
    PresetError,
    apply_overrides,
    validate_values,
)


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


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, float("1e999"), 10**400])
def test_a_number_that_is_not_finite_is_refused_naming_the_field(value):
    with pytest.raises(PresetError) as err:
        apply_overrides(DEFAULT_PRESETS["swing-conservative"], {"cooldown_minutes": value})
    assert err.value.problems == {"cooldown_minutes": NOT_FINITE}


@pytest.mark.parametrize("field", sorted(NUMERIC_RANGES))
def test_a_boolean_is_not_a_number(field):
    with pytest.raises(PresetError) as err:
        validate_values({field: True})
    assert err.value.problems == {field: "must be a number"}


def test_an_int_is_a_number_and_stored_as_float():
    assert validate_values({"cooldown_minutes": 9}) == {"cooldown_minutes": 9.0}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"rsi_sell_above": 30}, {"rsi_sell_above"}),  # below buy 40
        ({"rsi_buy_below": 70}, {"rsi_buy_below"}),  # equal to sell 70
        ({"rsi_buy_below": 60, "rsi_sell_above": 50}, {"rsi_buy_below", "rsi_sell_above"}),
    ],
)
def test_sell_above_must_stay_above_buy_below_naming_the_changed_field(changes, named):
    with pytest.raises(PresetError) as err:
        apply_overrides(DEFAULT_PRESETS["swing-conservative"], changes)
    assert set(err.value.problems) == named
    assert all("rsi_buy_below" in why or "rsi_sell_above" in why
               for why in err.value.problems.values())


def test_overrides_on_a_preset_are_checked_against_that_preset():
    # 60 is fine on top of swing-conservative (sell 70), not on scalp-aggressive (sell 65)
    assert apply_overrides(DEFAULT_PRESETS["swing-conservative"],
                           {"rsi_buy_below": 60}).rsi_buy_below == 60
    with pytest.raises(PresetError, match=r"must be below rsi_sell_above \(65\)"):
        apply_overrides(DEFAULT_PRESETS["scalp-aggressive"], {"rsi_buy_below": 66})


def test_a_failed_check_changes_nothing():
    preset = DEFAULT_PRESETS["swing-conservative"]
    with pytest.raises(PresetError):
        apply_overrides(preset, {"rsi_buy_below": 30, "sl_pct": math.nan})
    assert preset == DEFAULT_PRESETS["swing-conservative"] and preset.rsi_buy_below == 40
