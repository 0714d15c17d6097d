"""Order gates, SL/TP levels and client order ids (business-rules §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.domain.orders import OpenBuy, buy_gate, client_order_id, protection_levels
from atp.domain.presets import DEFAULT_PRESETS

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def gate(**kw):
    args = dict(base="BTC", price=100.0, now=NOW, open_buys=[], last_buy_at=None,
                holdings_usd=0.0, trade_amount_usd=100.0, min_price_change_pct=1.0)
    args.update(kw)
    return buy_gate(**args)


def buys(n, price=100.0, value=50.0):
    return [OpenBuy(price, NOW - timedelta(hours=i + 1), value) for i in range(n)]


def test_all_gates_pass():
    assert gate().allowed


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"open_buys": buys(3, value=1.0)}, "3 open BUY positions"),
        ({"last_buy_at": NOW - timedelta(minutes=4)}, "min 5 min"),
        ({"open_buys": buys(1), "price": 100.5}, "from last open BUY"),
        ({"holdings_usd": 250.0}, "exposure in BTC"),
        ({"trade_amount_usd": 0.0}, "not positive"),
    ],
)
def test_each_gate_blocks_with_reason(kw, reason):
    g = gate(**kw)
    assert not g.allowed and reason in g.reason


def test_gate_boundaries():
    assert gate(last_buy_at=NOW - timedelta(minutes=5)).allowed
    assert gate(open_buys=buys(2, value=50.0), price=101.0).allowed  # exactly 1 %, 200 USD
    assert gate(holdings_usd=200.0).allowed  # exactly 3 × trade amount


def test_protection_wider_level_wins_and_rounds_to_tick():
    conservative = DEFAULT_PRESETS["swing-conservative"]  # 3 % / 3 %, ATR 2× / 3×
    p = protection_levels(100.0, 1.0, conservative, 0.01)
    assert (p.stop_loss, p.take_profit) == (97.0, 103.0)  # percent == ATR here
    p = protection_levels(100.0, 2.0, conservative, 0.01)
    assert (p.stop_loss, p.take_profit) == (96.0, 106.0)  # ATR is wider
    aggressive = DEFAULT_PRESETS["swing-aggressive"]  # 2 % / 2 %, ATR 1× / 2×
    p = protection_levels(100.0, None, aggressive, 0.5)
    assert (p.stop_loss, p.take_profit) == (98.0, 102.0)
    p = protection_levels(100.3, None, aggressive, 0.5)
    assert p.stop_loss == 98.0 and p.take_profit == 102.5  # SL floors, TP ceils


def test_client_order_id_is_deterministic_and_short():
    a = client_order_id("d-1")
    assert a == client_order_id("d-1") and a != client_order_id("d-2")
    assert client_order_id("d-1", "sl") != a and len(a) <= 36
