"""Throttle verdicts and the exact reason string of business-rules §5.2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.domain.alerts import AlertFlags, blocking_flag, is_new_signal
from atp.domain.throttle import ThrottleState, accept, throttle_verdict

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def state(side="BUY", minutes_ago=0.0, price=100.0, now=T0):
    return ThrottleState(side=side, alerted_at=now - timedelta(minutes=minutes_ago), price=price)


def test_first_alert_allowed():
    v = throttle_verdict(None, "BUY", 100.0, T0, 5.0, 1.0)
    assert v.allowed and v.reason == "first alert"


def test_reason_string_exactly_as_specified():
    last = state(minutes_ago=2.1, price=100.0)
    v = throttle_verdict(last, "BUY", 100.42, T0, 5.0, 1.0)
    assert not v.allowed
    assert v.reason == "cooldown 2.1/5.0 min; price change 0.42/1.00 %"


@pytest.mark.parametrize(
    ("minutes_ago", "price", "allowed"),
    [
        (2.0, 110.0, False),  # cooldown not passed, big move: still throttled (OR)
        (10.0, 100.5, False),  # cooled down, small move: throttled
        (10.0, 101.0, True),  # exactly the minimum change is enough
        (5.0, 102.0, True),  # exactly the cooldown is enough
        (4.99, 102.0, False),
        (10.0, 99.0, True),  # a fall counts as a move too
        (10.0, 99.01, False),
    ],
)
def test_same_side_needs_both_cooldown_and_move(minutes_ago, price, allowed):
    v = throttle_verdict(state(minutes_ago=minutes_ago), "BUY", price, T0, 5.0, 1.0)
    assert v.allowed is allowed
    assert v.reason.startswith("cooldown ")


def test_opposite_side_never_throttled_and_resets_the_pair():
    last = state(side="BUY", minutes_ago=0.1)
    v = throttle_verdict(last, "SELL", 100.0, T0, 5.0, 1.0)
    assert v.allowed and "opposite side" in v.reason
    after_sell = accept("SELL", 100.0, T0)
    # a BUY right after is again the opposite side of the new history
    assert throttle_verdict(after_sell, "BUY", 100.0, T0, 5.0, 1.0).allowed


@pytest.mark.parametrize(
    ("flags", "side", "expected"),
    [
        (AlertFlags(), "BUY", None),
        (AlertFlags(alert_enabled=False), "SELL", "alert_enabled"),
        (AlertFlags(buy_alert_enabled=False), "BUY", "buy_alert_enabled"),
        (AlertFlags(buy_alert_enabled=False), "SELL", None),
        (AlertFlags(sell_alert_enabled=False), "SELL", "sell_alert_enabled"),
    ],
)
def test_blocking_flag_names_the_flag(flags, side, expected):
    assert blocking_flag(flags, side) == expected


def test_blocked_recorded_once_per_change_of_decision():
    assert is_new_signal(None, "BUY")
    assert not is_new_signal("BUY", "BUY")
    assert is_new_signal("WAIT", "BUY")
