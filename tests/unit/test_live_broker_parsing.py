"""The live broker's pure parts: reading the exchange's order records defensively, mapping
ATP's exchange failures to the broker's answers, and the emulator's order fault specs."""

from __future__ import annotations

import pytest

from atp.domain.trading import (
    BrokerError,
    BrokerUnavailable,
    DuplicateOrder,
    OrderRejected,
    OutcomeUnknown,
)
from atp.emulators.cryptocom import parse_fault
from atp.exchange.errors import AuthError, ExchangeRejected, NetworkError, RateLimited
from atp.exchange.orders import _translate, parse_order

GOOD = {"order_id": "61", "client_oid": "atp-1", "order_type": "STOP_LOSS", "side": "SELL",
        "status": "CANCELED", "quantity": "2.5", "cumulative_quantity": "0",
        "avg_price": "0", "cumulative_fee": "0", "ref_price": "101.5", "list_id": "77",
        "instrument_name": "SOL_USDT", "fee_instrument_name": "USDT",
        "update_time": 1_750_000_000_000}


def test_an_order_record_becomes_an_order_state():
    state = parse_order(GOOD)
    assert (state.status, state.order_type, state.trigger_price) == ("CANCELLED", "STOP_LOSS",
                                                                     101.5)
    assert state.avg_price is None and state.quantity == 2.5 and state.list_id == "77"
    assert state.exchange_order_id == "61" and state.updated_at.year == 2025


@pytest.mark.parametrize(("change", "reason"), [
    ({"side": "LONG"}, "side"), ({"status": "WEIRD"}, "status"),
    ({"client_oid": None}, "client_oid"),
    ({"quantity": "lots"}, "quantity"), ({"cumulative_fee": "nan"}, "cumulative_fee"),
])
def test_a_malformed_record_is_a_broker_error_naming_the_field(change, reason):
    with pytest.raises(BrokerError) as info:
        parse_order({**GOOD, **change})
    assert reason in str(info.value)
    with pytest.raises(BrokerError):
        parse_order(["not", "an", "object"])


def test_failures_map_to_the_broker_answers():
    rejected = ExchangeRejected("x", code=306, exchange_message="INSUFFICIENT_AVAILABLE_BALANCE")
    answer = _translate(rejected, placing=True)
    assert isinstance(answer, OrderRejected) and answer.code == 306
    assert isinstance(_translate(ExchangeRejected("x", code=204), placing=True), DuplicateOrder)
    assert isinstance(_translate(NetworkError("timeout"), placing=True), OutcomeUnknown)
    assert isinstance(_translate(NetworkError("timeout"), placing=False), BrokerUnavailable)
    auth = AuthError("40101", kind="wrong_key_or_signature", code=40101)
    assert isinstance(_translate(auth, placing=True), BrokerUnavailable)
    limited = _translate(RateLimited("busy", code=42901, exchange_message="TOO_MANY_REQUESTS"),
                         placing=True)
    assert isinstance(limited, OrderRejected) and limited.code == 42901


def test_order_fault_specs():
    assert parse_fault("order-reject:306") == {"order_reject_code": 306}
    assert parse_fault("conditional-denied") == {"conditional_denied": True}
    assert parse_fault("order-answer-lost") == {"answer_lost_next": 1}
    assert parse_fault("order-answer-lost:3") == {"answer_lost_next": 3}
    assert parse_fault("order-answer-slow:20") == {"answer_slow_seconds": 20.0,
                                                   "answer_slow_next": 1}
    assert parse_fault("order-answer-slow:2.5:3") == {"answer_slow_seconds": 2.5,
                                                      "answer_slow_next": 3}
    with pytest.raises(ValueError):
        parse_fault("order-answer-slow:soon")
    with pytest.raises(ValueError):
        parse_fault("order-reject:abc")
