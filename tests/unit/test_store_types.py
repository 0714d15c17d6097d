"""The compact decision columns (store/types.py): every dict the engine writes comes back
equal, any other dict is kept as JSON, and rows written before in JSON stay readable."""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.dialects import sqlite

from atp.domain.indicators import Indicators
from atp.domain.signals import FLAG_NAMES
from atp.store.db import make_engine
from atp.store.types import DecisionFlags, DecisionIndicators, indicator_keys

DIALECT = sqlite.dialect()
INDICATORS = {"price": 64_123.456789012345, "rsi": 43.21000000000001, "ma50": 1e-12,
              "ma200": 0.1 + 0.2, "ema10": -0.0, "atr": 1.7976931348623157e308,
              "volume_ratio": 5e-324, "ma10w": None, "price_age_seconds": 3.5}


def test_the_stored_orders_are_pinned() -> None:
    """The encodings are positional: these orders are part of the stored format. If this
    fails, the domain's names changed: add a new encoding, do not edit this test."""
    assert FLAG_NAMES == (
        "buy_rsi_ok", "buy_ma_ok", "buy_volume_ok", "buy_target_ok", "buy_price_ok",
        "sell_rsi_ok", "sell_trend_ok", "sell_volume_ok")
    assert indicator_keys() == ("price", "rsi", "ma50", "ma200", "ema10", "atr",
                                "volume_ratio", "ma10w", "price_age_seconds")


@pytest.mark.parametrize("values", list(itertools.product((True, False, None), repeat=2)))
def test_flags_round_trip_every_value_in_every_position(values: tuple[bool | None, ...]) -> None:
    t = DecisionFlags()
    for first, second in itertools.permutations(range(len(FLAG_NAMES)), 2):
        flags = dict.fromkeys(FLAG_NAMES, False)
        flags[FLAG_NAMES[first]], flags[FLAG_NAMES[second]] = values
        stored = t.process_bind_param(flags, DIALECT)
        assert isinstance(stored, str) and len(stored) == len(FLAG_NAMES)
        back = t.process_result_value(stored, DIALECT)
        assert back == flags and all(back[k] is flags[k] for k in FLAG_NAMES)


def test_flags_code_reads_as_documented() -> None:
    flags = {"buy_rsi_ok": False, "buy_ma_ok": False, "buy_volume_ok": False,
             "buy_target_ok": True, "buy_price_ok": True, "sell_rsi_ok": False,
             "sell_trend_ok": None, "sell_volume_ok": False}
    assert DecisionFlags().process_bind_param(flags, DIALECT) == "FFFTTF-F"
    assert list(DecisionFlags().process_result_value("FFFTTF-F", DIALECT)) == list(FLAG_NAMES)


@pytest.mark.parametrize("flags", [
    {}, {"buy_rsi_ok": True}, {**dict.fromkeys(FLAG_NAMES, True), "extra": False},
    {**dict.fromkeys(FLAG_NAMES, True), "buy_ma_ok": 1},  # not a bool: kept as it is
    {**dict.fromkeys(FLAG_NAMES, True), "buy_ma_ok": "yes"},
])
def test_other_flag_dicts_stay_json_objects(flags: dict[str, object]) -> None:
    t = DecisionFlags()
    stored = t.process_bind_param(flags, DIALECT)
    assert stored is flags
    assert t.process_result_value(stored, DIALECT) == flags


def test_indicators_round_trip_exactly() -> None:
    t = DecisionIndicators()
    for value in (INDICATORS, dict.fromkeys(indicator_keys()),
                  {**Indicators(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0).to_dict(),
                   "price_age_seconds": None}):
        stored = t.process_bind_param(value, DIALECT)
        assert stored == [value[k] for k in indicator_keys()]
        through_json = json.loads(json.dumps(stored, separators=(",", ":")))
        back = t.process_result_value(through_json, DIALECT)
        assert back == value and list(back) == list(indicator_keys())
        # exact: the same repr, -0.0 and the extremes included
        assert [repr(back[k]) for k in value] == [repr(v) for v in value.values()]


@pytest.mark.parametrize("indicators", [
    {}, {"price": 1.0}, {**INDICATORS, "extra": 1.0},
    {k: v for k, v in INDICATORS.items() if k != "price_age_seconds"},  # before the age
])
def test_other_indicator_dicts_stay_json_objects(indicators: dict[str, object]) -> None:
    t = DecisionIndicators()
    assert t.process_bind_param(indicators, DIALECT) is indicators
    assert t.process_result_value(indicators, DIALECT) == indicators


def test_a_code_of_the_wrong_shape_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="flag code"):
        DecisionFlags().process_result_value("TTF", DIALECT)
    with pytest.raises(ValueError, match="flag code"):
        DecisionFlags().process_result_value("TTFTTFTX", DIALECT)
    with pytest.raises(ValueError, match="values"):
        DecisionIndicators().process_result_value([1.0, 2.0], DIALECT)


def test_through_a_database_old_and_new_rows_read_back() -> None:
    """Written through the types (compact text stored) and as raw JSON text (a row from
    before the encoding): both read back as the dicts."""
    meta = MetaData()
    t = Table("d", meta, Column("id", Integer, primary_key=True),
              Column("flags", DecisionFlags(), nullable=False),
              Column("indicators", DecisionIndicators(), nullable=False))
    engine = make_engine("sqlite://")
    flags = dict(zip(FLAG_NAMES, (True, False, None, True, False, None, True, False),
                     strict=True))
    with engine.begin() as conn:
        meta.create_all(conn)
        conn.execute(insert(t), [{"id": 1, "flags": flags, "indicators": INDICATORS}])
        conn.execute(text("INSERT INTO d VALUES (2, :f, :i)"),
                     {"f": json.dumps(flags), "i": json.dumps(INDICATORS)})
        raw = conn.execute(text("SELECT flags, indicators FROM d WHERE id = 1")).one()
        assert raw[0] == '"TF-TF-TF"'
        assert json.loads(raw[1]) == [INDICATORS[k] for k in indicator_keys()]
        rows = conn.execute(select(t.c.flags, t.c.indicators).order_by(t.c.id)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(flags, INDICATORS)] * 2
