"""The limiter that keeps unauthorised chats from costing a reply and a journal row each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.telegram.poller import StrangerLimiter

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TEN_MIN = timedelta(minutes=10)


def test_one_answer_per_chat_per_interval():
    limiter = StrangerLimiter(TEN_MIN, budget=20)
    assert limiter.allow("1", T0)
    assert not limiter.allow("1", T0 + timedelta(seconds=1))
    assert not limiter.allow("1", T0 + TEN_MIN - timedelta(seconds=1))
    assert limiter.allow("2", T0 + timedelta(seconds=2))  # another chat has its own turn
    assert limiter.allow("1", T0 + TEN_MIN)  # the interval has passed


def test_the_budget_caps_all_strangers_together():
    limiter = StrangerLimiter(TEN_MIN, budget=3)
    answered = [limiter.allow(str(chat), T0 + timedelta(seconds=chat)) for chat in range(10)]
    assert answered == [True, True, True] + [False] * 7
    # the budget frees up as the first answers age out of the window
    assert limiter.allow("7", T0 + TEN_MIN + timedelta(seconds=0.5))
    assert not limiter.allow("8", T0 + TEN_MIN + timedelta(seconds=0.6))


def test_memory_stays_bounded_by_the_budget():
    limiter = StrangerLimiter(TEN_MIN, budget=5)
    for i in range(10_000):
        limiter.allow(str(i), T0 + timedelta(seconds=i * 0.01))
    assert len(limiter._last) <= 5 and len(limiter._answered) <= 5


@pytest.mark.parametrize(("interval", "budget"), [(timedelta(0), 1), (TEN_MIN, 0)])
def test_nonsense_limits_are_refused(interval, budget):
    with pytest.raises(ValueError, match="stranger_"):
        StrangerLimiter(interval, budget)
