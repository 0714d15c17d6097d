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
    ("kw", "reason", "name"),
    [
        ({"open_buys": buys(3, value=1.0)}, "open BUYs in BTC 3/3", "open_buys"),
        ({"last_buy_at": NOW - timedelta(minutes=2.1)}, "last BUY 2.1/5.0 min ago",
         "cooldown"),
        ({"open_buys": [OpenBuy(2291.4, NOW - timedelta(hours=1), 50.0)], "price": 2301.0},
         "price change 0.42/1.00 % from last BUY 2291.4", "price_change"),
        ({"holdings_usd": 290.0}, "exposure 390/300 USD", "exposure"),
        ({"trade_amount_usd": 0.0}, "trade amount 0 USD is not positive", "amount"),
    ],
)
def test_each_gate_blocks_with_its_measured_reason(kw, reason, name):
    g = gate(**kw)
    assert not g.allowed and g.reason == reason and g.gate == name


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


def test_quantities_floor_and_protection_ids_per_attempt():
    from atp.domain.orders import floor_quantity, protection_backoff_seconds, protection_oids

    assert floor_quantity(0.99999, 0.0001) == 0.9999 and floor_quantity(1.0, 0.0001) == 1.0
    sl1, tp1 = protection_oids("atp-x", 1)
    assert sl1 != tp1 and protection_oids("atp-x", 1) == (sl1, tp1)
    assert protection_oids("atp-x", 2)[0] != sl1 and len(sl1) <= 36
    assert [protection_backoff_seconds(n) for n in (1, 2, 3, 10)] == [5.0, 10.0, 20.0, 300.0]


def test_realised_pnl_of_a_round_trip():
    from atp.domain.portfolio import entry_fill, exit_proceeds, realised_pnl

    fill = entry_fill("ETH_USDT", 1.0, 100.0, 0.005, "ETH", 0.0001)
    assert (fill.quantity, fill.cost) == (0.995, 100.0)
    proceeds = exit_proceeds("ETH_USDT", 0.995, 110.0, 0.995 * 110.0 * 0.005, "USDT")
    assert abs(realised_pnl(fill.cost, fill.quantity, 0.995, proceeds)
               - (0.995 * 110 * 0.995 - 100)) < 1e-9
    quote_fee = entry_fill("ETH_USDT", 1.0, 100.0, 0.5, "USDT", 0.0001)
    assert (quote_fee.quantity, quote_fee.cost) == (1.0, 100.5)
