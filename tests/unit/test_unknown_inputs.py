"""Business-rules §1 through the one entry point `evaluate`: each unknown input gives WAIT,
the flags that need it `None`, and a reason naming the input, the cause and the measured
value; `unknown_inputs` records them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from atp.domain.candles import Candles
from atp.domain.limits import limits
from atp.domain.presets import DEFAULT_PRESETS
from atp.domain.signals import BUY_FLAGS, FLAG_NAMES, evaluate

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
SWING = DEFAULT_PRESETS["swing-conservative"]
SCALP = DEFAULT_PRESETS["scalp-aggressive"]  # no MA checks


def falling(n: int = 220, volume: float = 10.0) -> Candles:
    close = 100.0 * np.exp(-0.01 * np.arange(n))
    ts = np.arange(n, dtype=np.int64) * 3_600_000
    return Candles(ts, close.copy(), close * 1.001, close * 0.999, close, np.full(n, volume))


def run(candles: Candles | None = None, preset=SCALP, **kw):
    """`evaluate` on (by default) 220 falling candles, priced at the last close, fresh."""
    c = falling() if candles is None else candles
    values = {"price": float(c.close[-1]), "price_at": NOW, "now": NOW, **kw}
    return evaluate(c, preset, **values)


def test_everything_known_decides_with_nothing_unknown():
    d = run()
    assert d.decision == "BUY" and d.unknown_inputs == {}


def test_stale_price_is_wait_with_age_and_limit():
    d = run(price_at=NOW - timedelta(seconds=74), max_price_age_seconds=60)
    assert d.decision == "WAIT"
    assert d.flags["buy_price_ok"] is None and d.flags["buy_rsi_ok"] is True
    assert d.indicators.price is None
    assert "price stale: 74 s old (limit 60 s)" in d.reasons
    assert d.unknown_inputs == {"price": "price stale: 74 s old (limit 60 s)"}


def test_price_exactly_at_the_limit_is_still_fresh():
    assert run(price_at=NOW - timedelta(seconds=60)).decision == "BUY"


@pytest.mark.parametrize(
    ("kw", "cause"),
    [({"price": None, "price_cause": "no ticker from the exchange"},
      "no price: no ticker from the exchange"),
     ({"price": None}, "no price: none received"),
     ({"price": -1.0}, "price invalid: -1 (must be a number > 0)"),
     ({"price_at": None}, "price has no timestamp"),
     ({"price_at": NOW + timedelta(seconds=90)},
      "price from the future: 90 s ahead (limit 60 s); check the host clock")],
)
def test_absent_or_invalid_price(kw, cause):
    d = run(**kw)
    assert d.decision == "WAIT" and d.flags["buy_price_ok"] is None
    assert d.unknown_inputs == {"price": cause} and cause in d.reasons


def test_no_price_holds_a_sell_back():
    rising = Candles(*(lambda c: (c.timestamp, c.close[::-1].copy(), c.high[::-1].copy(),
                                   c.low[::-1].copy(), c.close[::-1].copy(), c.volume))(falling()))
    assert run(rising).decision == "SELL"
    d = run(rising, price=None, price_cause="exchange unreachable (RequestTimeout)")
    assert d.decision == "WAIT" and all(d.flags[f] for f in ("sell_rsi_ok", "sell_volume_ok"))
    assert "SELL held back: price unknown" in d.reasons
    assert d.unknown_inputs["price"] == "no price: exchange unreachable (RequestTimeout)"


def test_no_candles_names_the_exchange_cause():
    d = evaluate(None, SCALP, price=100.0, price_at=NOW, now=NOW,
                 candles_cause="exchange unreachable (RequestTimeout)")
    assert d.decision == "WAIT"
    assert d.flags["buy_rsi_ok"] is None and d.flags["buy_volume_ok"] is None
    assert d.flags["buy_price_ok"] is True
    assert d.unknown_inputs == {"candles": "no candles: exchange unreachable (RequestTimeout)"}
    assert "no candles: exchange unreachable (RequestTimeout)" in d.reasons


def test_incomplete_candles_are_not_used():
    d = run(candles_cause="stale candles: the newest closed candle is missing")
    assert d.decision == "WAIT" and d.indicators.rsi is None
    assert d.unknown_inputs == {
        "candles": "candles unusable: stale candles: the newest closed candle is missing"}


def test_too_little_history_names_the_count_and_the_need():
    d = run(falling(30), preset=SWING)
    assert d.decision == "WAIT" and d.flags["buy_ma_ok"] is None
    assert d.unknown_inputs["ma200"] == "too little history: 30 closed candles (MA200 needs 200)"
    assert "too little history: 30 closed candles (MA200 needs 200)" in d.reasons


def test_zero_volume_makes_both_volume_flags_unknown():
    c = falling()
    volume = c.volume.copy()
    volume[-1] = 0.0
    d = run(Candles(c.timestamp, c.open, c.high, c.low, c.close, volume))
    assert d.decision == "WAIT"
    assert d.flags["buy_volume_ok"] is None and d.flags["sell_volume_ok"] is None
    assert d.unknown_inputs == {
        "volume_ratio": "zero volume: the last closed candle traded 0"}


def test_ma10w_decides_the_sell_trend_once_daily_closes_are_given():
    c = falling(220)
    no_daily = run(c, preset=SWING, daily_cause="exchange unreachable (RequestTimeout)")
    assert no_daily.flags["sell_trend_ok"] is None
    assert no_daily.unknown_inputs["ma10w"] == "no daily candles: exchange unreachable " \
        "(RequestTimeout)"
    few = run(c, preset=SWING, daily_close=np.full(30, 50.0))
    assert few.unknown_inputs["ma10w"] == ("too little daily history: 30 closed daily "
                                           "candles (MA10w needs 70)")
    above = run(c, preset=SWING, daily_close=np.full(75, 1000.0))  # price < MA10w
    assert above.indicators.ma10w == pytest.approx(1000.0)
    assert above.flags["sell_trend_ok"] is True and "ma10w" not in above.unknown_inputs
    below = run(c, preset=SWING, daily_close=np.full(75, 0.001))
    assert below.flags["sell_trend_ok"] is False


def test_invalid_overrides_make_every_flag_unknown():
    d = run(preset_cause="invalid overrides: rsi_buy_below must be between 0 and 100")
    assert d.decision == "WAIT" and d.buy_index == 0
    assert all(d.flags[f] is None for f in FLAG_NAMES)
    assert d.reasons == ("invalid overrides: rsi_buy_below must be between 0 and 100",)
    assert list(d.unknown_inputs) == ["overrides"]


def test_limits_derive_from_the_interval():
    lim = limits(30)
    assert lim.price_max_age_seconds == 60 and lim.cycle_stale_after_seconds == 60
    assert limits(5).price_max_age_seconds == 10 and lim.daily_candles == 75
    with pytest.raises(ValueError, match="interval_seconds"):
        limits(0)
    assert len(BUY_FLAGS) == 5
