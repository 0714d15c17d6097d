"""Properties of the rule engine that must hold for every input (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from atp.domain.indicators import Indicators
from atp.domain.presets import DEFAULT_PRESETS
from atp.domain.signals import BUY_FLAGS, SELL_FLAGS, decide
from atp.domain.throttle import ThrottleState, throttle_verdict

presets = st.sampled_from(list(DEFAULT_PRESETS.values()))
positive = st.floats(min_value=1e-8, max_value=1e6, allow_nan=False)
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
indicators = st.builds(
    Indicators,
    price=maybe(positive),
    rsi=maybe(st.floats(0, 100)),
    ma50=maybe(positive),
    ma200=maybe(positive),
    ema10=maybe(positive),
    atr=maybe(positive),
    volume_ratio=maybe(st.floats(0, 10)),
    ma10w=maybe(positive),
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@given(indicators, presets, maybe(positive))
def test_decision_is_single_and_consistent_with_flags(ind, preset, target):
    d = decide(ind, preset, target)
    buy = all(d.flags[f] is True for f in BUY_FLAGS)
    sell = all(d.flags[f] is True for f in SELL_FLAGS)
    assert d.decision in ("BUY", "SELL", "WAIT")
    assert (d.decision == "BUY") == buy
    # SELL needs a known price too: nothing is acted on blind (business-rules §1)
    assert (d.decision == "SELL") == (sell and not buy and ind.price is not None)
    assert 0 <= d.buy_index <= 100
    assert len(d.reasons) == sum(1 for v in d.flags.values() if v is not True)


@given(indicators, presets, st.sampled_from(["price", "rsi", "volume_ratio"]))
def test_any_unknown_buy_input_means_not_buy(ind, preset, field):
    from dataclasses import replace

    d = decide(replace(ind, **{field: None}), preset)
    assert d.decision != "BUY"


@given(indicators, presets)
def test_unknown_checked_ma_means_not_buy(ind, preset):
    from dataclasses import replace

    d = decide(replace(ind, ma50=None, ma200=None, ema10=None), preset)
    if preset.check_ema10 or preset.check_ma50 or preset.check_ma200:
        assert d.decision != "BUY"


@given(presets, st.floats(0.0, 29.0), positive)
def test_sell_is_reachable_for_every_preset(preset, extra_rsi, price):
    rsi = min(100.0, preset.rsi_sell_above + 0.01 + extra_rsi)
    if rsi <= preset.rsi_sell_above:
        return
    ind = Indicators(price=price, rsi=rsi, ma50=price * 0.9, ma200=price, ema10=price,
                     atr=1.0, volume_ratio=1.0)
    assert decide(ind, preset).decision == "SELL"


sides = st.sampled_from(["BUY", "SELL"])


@given(sides, st.floats(0, 600), positive, positive, st.floats(0, 60), st.floats(0, 50))
def test_throttle_never_blocks_the_opposite_side(side, minutes, p0, p1, cooldown, change):
    other = "SELL" if side == "BUY" else "BUY"
    last = ThrottleState(other, T0 - timedelta(minutes=minutes), p0)
    assert throttle_verdict(last, side, p1, T0, cooldown, change).allowed


@given(sides, positive, st.floats(0, 60), st.floats(0, 50))
def test_first_alert_always_allowed(side, price, cooldown, change):
    assert throttle_verdict(None, side, price, T0, cooldown, change).allowed


@given(sides, st.floats(0, 600), positive, positive, st.floats(0.1, 60), st.floats(0.1, 50))
def test_same_side_throttled_reason_states_measurements(side, minutes, p0, p1, cd, change):
    last = ThrottleState(side, T0 - timedelta(minutes=minutes), p0)
    v = throttle_verdict(last, side, p1, T0, cd, change)
    assert v.reason.startswith("cooldown ") and " min; price change " in v.reason
    if minutes < cd:
        assert not v.allowed


# ── orders (business-rules §6) ──────────────────────────────────────────────────────────

_steps = st.lists(
    st.tuples(st.sampled_from(["BUY", "SELL"]), st.sampled_from(["ETH", "BTC"]),
              st.floats(min_value=1.0, max_value=1000.0), st.floats(0.0, 900.0)),
    max_size=60)


@given(_steps, st.floats(min_value=1.0, max_value=500.0))
def test_open_buys_never_exceed_three_and_client_oids_never_repeat(steps, amount):
    """Whatever the decisions and prices: at most 3 open BUY positions per base, and every
    order (entry and SL/TP legs of every attempt) has its own client_oid."""
    from atp.domain.orders import (
        MAX_OPEN_BUYS,
        OpenBuy,
        buy_gate,
        client_order_id,
        protection_oids,
    )

    now = T0
    open_buys: dict[str, list[OpenBuy]] = {}
    last_buy: dict[str, datetime] = {}
    oids: set[str] = set()
    for n, (side, base, price, dt) in enumerate(steps):
        now += timedelta(seconds=dt)
        decision_id = f"00000000-0000-4000-8000-{n:012d}"
        if side == "SELL":
            open_buys[base] = []
            continue
        held = open_buys.setdefault(base, [])
        gate = buy_gate(base=base, price=price, now=now, open_buys=held,
                        last_buy_at=last_buy.get(base), holdings_usd=0.0,
                        trade_amount_usd=amount, min_price_change_pct=1.0)
        if not gate.allowed:
            continue
        entry = client_order_id(decision_id)
        legs = [*protection_oids(entry, 1), *protection_oids(entry, 2)]
        for oid in (entry, *legs):
            assert oid not in oids and len(oid) <= 36
            oids.add(oid)
        held.append(OpenBuy(price, now, amount))
        last_buy[base] = now
        assert len(held) <= MAX_OPEN_BUYS
