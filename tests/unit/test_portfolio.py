"""The portfolio's figures, computed once in the domain: USD values, P&L, expected TP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.domain.portfolio import (
    HeldPosition,
    expected_take_profit,
    fee_in_quote,
    in_usd,
    pnl_summary,
    unrealised_pct,
    usd_price,
    value_balances,
)
from atp.telegram.format import format_pct, format_signed, format_usd


def test_stablecoins_count_one_to_one_and_others_at_their_usd_ticker() -> None:
    tickers = {"ETH_USDT": 2000.0, "SOL_USD": 150.0, "ETH_BTC": 0.05}
    assert usd_price("USDC", tickers) == (1.0, "1:1", None)
    assert usd_price("ETH", tickers) == (2000.0, "ETH_USDT", None)
    assert usd_price("SOL", tickers) == (150.0, "SOL_USD", None)
    price, source, reason = usd_price("BTC", tickers)  # ETH_BTC is no BTC price in USD
    assert (price, source) == (None, None) and reason is not None and "BTC_USDT" in reason


def test_an_unpriced_balance_is_left_out_of_the_total_and_named() -> None:
    valued, total, unvalued = value_balances(
        {"USDT": 900.0, "ETH": 0.05, "XYZ": 3.0, "DUST": 0.0}, {"ETH_USDT": 2000.0})
    by = {b.currency: b for b in valued}
    assert set(by) == {"USDT", "ETH", "XYZ"}  # a zero balance is not shown
    assert by["ETH"].value_usd == pytest.approx(100.0)
    assert by["XYZ"].value_usd is None and by["XYZ"].reason
    assert total == pytest.approx(1000.0) and unvalued == ["XYZ"]


def test_unrealised_percentage_and_fees_in_quote() -> None:
    assert unrealised_pct(100.0, 110.0) == pytest.approx(10.0)
    assert unrealised_pct(100.0, None) is None
    assert fee_in_quote("ETH_USDT", 0.001, "ETH", 2000.0) == pytest.approx(2.0)
    assert fee_in_quote("ETH_USDT", 0.5, "USDT", 2000.0) == 0.5
    assert fee_in_quote("ETH_USDT", 0.001, "ETH", None) is None


def test_expected_take_profit_covers_what_a_tp_leg_sells() -> None:
    tp = expected_take_profit("ETH_USDT", 0.3, [HeldPosition(0.1, 200.0, 2200.0),
                                                HeldPosition(0.1, 210.0, 2400.0),
                                                HeldPosition(0.05, 100.0, None)], 0.005)
    assert (tp.held, tp.covered, tp.uncovered) == (0.3, pytest.approx(0.2), pytest.approx(0.1))
    proceeds = (0.1 * 2200 + 0.1 * 2400) * (1 - 0.005)
    assert tp.proceeds_at_tp == pytest.approx(proceeds)
    assert tp.profit_at_tp == pytest.approx(proceeds - 410.0)
    assert tp.avg_take_profit == pytest.approx(2300.0)
    naked = expected_take_profit("ADA_USDT", None, [HeldPosition(10.0, 5.0, None)], 0.005)
    assert (naked.covered, naked.uncovered, naked.profit_at_tp) == (0.0, 10.0, None)


def test_pnl_today_is_what_closed_since_midnight() -> None:
    midnight = datetime(2026, 3, 29, tzinfo=UTC)
    s = pnl_summary([(midnight - timedelta(seconds=1), -5.0), (midnight, 2.5),
                     (midnight + timedelta(hours=3), 1.0)], [3.0, None, -1.0], midnight)
    assert (s.realised_today, s.closed_today) == (3.5, 2)
    assert (s.realised_total, s.closed_total) == (-1.5, 3)
    assert (s.unrealised, s.unpriced_positions) == (2.0, 1)
    unvalued = pnl_summary([(midnight, 4.0), (midnight, None)], [], midnight)
    assert (unvalued.realised_total, unvalued.closed_total, unvalued.unpriced_closed) == \
        (4.0, 1, 1)


def test_pnl_in_a_non_usd_quote_is_valued_at_the_quotes_ticker() -> None:
    assert in_usd(2.0, "ETH_USDC", {}) == 2.0
    assert in_usd(0.01, "ETH_BTC", {"BTC_USDT": 50_000.0}) == pytest.approx(500.0)
    assert in_usd(0.01, "ETH_BTC", {}) is None


def test_figures_are_formatted_one_way() -> None:
    assert format_usd(9992.842064189) == "9,992.84" and format_usd(None) == "unknown"
    assert format_signed(18.0) == "+18.00" and format_signed(-1234.5) == "-1,234.50"
    assert format_pct(-1.9262) == "-1.93%"
