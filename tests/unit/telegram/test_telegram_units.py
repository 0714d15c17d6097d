"""Pure parts of the Telegram adapter: rate limiter, message format, commands, lease."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atp.telegram.commands import AlertsRequest, UsageError, parse_alerts, parse_kill
from atp.telegram.format import MAX_MESSAGE, format_alert, format_price, split_text
from atp.telegram.lease import InMemoryLease, LeaseBoard
from atp.telegram.ratelimit import RateLimiter
from atp.telegram.redact import REDACTED, redact


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rate_limiter_spaces_one_chat_by_a_second():
    clock = FakeClock()
    limiter = RateLimiter(clock)
    assert limiter.try_acquire(1) == 0.0
    assert limiter.try_acquire(1) == pytest.approx(1.0)
    assert limiter.try_acquire(2) == 0.0  # other chats are not held back
    clock.t += 0.4
    assert limiter.try_acquire(1) == pytest.approx(0.6)
    clock.t += 0.6
    assert limiter.try_acquire(1) == 0.0


def test_rate_limiter_caps_thirty_per_second_overall():
    clock = FakeClock()
    limiter = RateLimiter(clock)
    for chat in range(30):
        assert limiter.try_acquire(chat) == 0.0
        clock.t += 0.01
    assert limiter.try_acquire(99) == pytest.approx(0.7)  # first send leaves the window
    clock.t += 0.7
    assert limiter.try_acquire(99) == 0.0


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 0.5)), max_size=200))
def test_rate_limiter_never_exceeds_its_limits(steps):
    clock = FakeClock()
    limiter = RateLimiter(clock, global_limit=5)
    sent: list[tuple[float, int]] = []
    for chat, dt in steps:
        clock.t += dt
        if limiter.try_acquire(chat) == 0.0:
            sent.append((clock.t, chat))
    for i, (t, chat) in enumerate(sent):
        assert sum(1 for u, _ in sent if t - 1.0 < u <= t) <= 5
        earlier = [u for u, c in sent[:i] if c == chat]
        assert not earlier or t - earlier[-1] >= 1.0 - 1e-9


def test_alert_text_carries_every_field():
    text = format_alert(
        symbol="ETH_USDT", side="sell", price=0.000012345, preset="scalp-aggressive",
        reasons=["RSI 75 > 70", "below EMA10"], buy_index=41.5, origin="aws-prod",
        decision_id="d-17",
    )
    assert text.splitlines() == [
        "🔴 SELL ETH_USDT @ 0.00001234",
        "Preset: scalp-aggressive",
        "Buy index: 41.5",
        "Reasons:",
        "• RSI 75 > 70",
        "• below EMA10",
        "Origin: aws-prod · decision d-17",
    ]


def test_alert_text_is_bounded_and_keeps_the_origin():
    text = format_alert(symbol="X_USDT", side="BUY", price=1, preset="p",
                        reasons=["r" * 500] * 20, buy_index=None, origin="aws-prod")
    assert len(text) <= MAX_MESSAGE and text.endswith("Origin: aws-prod")


def test_prices():
    assert format_price(65432.1) == "65,432.10"
    assert format_price("1.50000") == "1.5"
    assert format_price(None) == format_price(float("nan")) == "unknown"


def test_split_text():
    assert split_text("a\nb", limit=2) == ["a", "b"]
    assert split_text("") == []
    assert all(len(p) <= 10 for p in split_text("x" * 35, limit=10))


def test_parse_alerts():
    assert parse_alerts([]) == AlertsRequest()
    assert parse_alerts(["btc/usdt"]) == AlertsRequest("BTC_USDT")
    assert parse_alerts(["BTC_USDT", "SELL", "on"]) == AlertsRequest("BTC_USDT", "sell", True)
    for bad in (["X", "buy"], ["X", "both", "on"], ["X", "buy", "maybe"]):
        with pytest.raises(UsageError):
            parse_alerts(bad)


def test_parse_kill():
    assert parse_kill([]) is None
    assert parse_kill(["ON"]) is True and parse_kill(["off"]) is False
    for bad in (["maybe"], ["on", "now"]):
        with pytest.raises(UsageError, match="/kill on"):
            parse_kill(bad)


async def test_in_memory_lease_is_exclusive_and_expires():
    clock = FakeClock()
    board = LeaseBoard()
    a = InMemoryLease("a", board, ttl=10, clock=clock)
    b = InMemoryLease("b", board, ttl=10, clock=clock)
    assert await a.acquire() and not await b.acquire()
    clock.t += 5
    assert await a.renew() and not await b.renew()
    clock.t += 11
    assert a.holder is None and await b.acquire()
    assert not await a.renew()
    await a.release()  # not the holder: no effect
    assert board.holder == "b"
    await b.release()
    assert await a.acquire()


def test_redact_plain_and_url_encoded():
    token = "123:SECRETsecret_42"
    text = f"url /bot{token}/x and 123%3ASECRETsecret_42 and SECRETsecret_42"
    assert redact(text, token) == f"url /bot{REDACTED}/x and {REDACTED} and {REDACTED}"
