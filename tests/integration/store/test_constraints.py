"""The schema enforces the rules whose violation once failed silently in production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from atp.store.models import (
    AlertOutcomeRow,
    DecisionRow,
    EventRow,
    OrderRow,
    ThrottleStateRow,
    WatchlistRow,
)
from atp.store.uow import UnitOfWork, write_errors

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _decision(decision_id: str = "d-1", decision: str = "BUY") -> DecisionRow:
    return DecisionRow(
        id=decision_id,
        cycle_id=1,
        symbol="BTC_USDT",
        preset="swing-conservative",
        decision=decision,
        buy_index=100,
        price=50_000.0,
        flags={"buy_rsi_ok": True},
        indicators={"rsi": 25.0},
        reasons=[],
        created_at=T0,
    )


def _outcome(decision_id: str = "d-1", outcome: str = "SENT") -> AlertOutcomeRow:
    return AlertOutcomeRow(
        decision_id=decision_id,
        symbol="BTC_USDT",
        side="BUY",
        preset="swing-conservative",
        outcome=outcome,
        origin="test",
        created_at=T0,
        updated_at=T0,
    )


def test_one_watchlist_row_per_exchange_and_symbol(migrated_db) -> None:
    """Failure mode 12: two rows for one symbol let the UI and the monitor disagree."""
    with UnitOfWork(migrated_db.session_factory) as uow:
        uow.session.add(WatchlistRow(symbol="ETH_USDT"))
    before = write_errors.get("add_watchlist")
    with pytest.raises(IntegrityError), UnitOfWork(
        migrated_db.session_factory, "add_watchlist"
    ) as uow:
        uow.session.add(WatchlistRow(symbol="ETH_USDT", exchange="cryptocom"))
    assert write_errors.get("add_watchlist") == before + 1
    # Another exchange may list the same symbol.
    with UnitOfWork(migrated_db.session_factory) as uow:
        uow.session.add(WatchlistRow(symbol="ETH_USDT", exchange="other"))
    with migrated_db.session_factory() as session:
        assert len(session.scalars(select(WatchlistRow)).all()) == 2


def test_alert_flags_default_true_when_a_writer_omits_them(migrated_db) -> None:
    """Failure mode 2: a NULL flag was read as "off"; here the database fills in true."""
    with migrated_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO watchlist (symbol) VALUES ('SOL_USDT')"))
    with migrated_db.session_factory() as session:
        row = session.scalars(select(WatchlistRow)).one()
    assert (row.enabled, row.alert_enabled, row.buy_alert_enabled, row.sell_alert_enabled) == (
        True,
        True,
        True,
        True,
    )
    assert (row.exchange, row.preset, row.overrides) == ("cryptocom", "swing-conservative", {})
    assert (row.trade_enabled, row.trade_amount_usd, row.buy_target) == (False, 0.0, None)
    assert row.created_at.tzinfo is not None


@pytest.mark.parametrize("flag", ["alert_enabled", "buy_alert_enabled", "sell_alert_enabled"])
def test_alert_flags_cannot_be_null(migrated_db, flag: str) -> None:
    with pytest.raises(IntegrityError), migrated_db.engine.begin() as conn:
        conn.execute(insert(WatchlistRow), {"symbol": "ADA_USDT", flag: None})


def test_watchlist_preset_must_exist(migrated_db) -> None:
    with pytest.raises(IntegrityError), UnitOfWork(migrated_db.session_factory) as uow:
        uow.session.add(WatchlistRow(symbol="XRP_USDT", preset="no-such-preset"))


def test_exactly_one_outcome_per_decision(migrated_db) -> None:
    """Failure mode 1 and §5: one outcome per BUY/SELL decision, recorded by its id."""
    with UnitOfWork(migrated_db.session_factory) as uow:
        uow.session.add(_decision())
        uow.session.flush()
        uow.session.add(_outcome(outcome="PENDING"))
    before = write_errors.get("record_outcome")
    with pytest.raises(IntegrityError), UnitOfWork(
        migrated_db.session_factory, "record_outcome"
    ) as uow:
        uow.session.add(_outcome(outcome="THROTTLED"))
    assert write_errors.get("record_outcome") == before + 1
    with migrated_db.session_factory() as session:
        assert session.scalars(select(AlertOutcomeRow.outcome)).all() == ["PENDING"]


def test_outcome_needs_its_decision(migrated_db) -> None:
    with pytest.raises(IntegrityError), UnitOfWork(migrated_db.session_factory) as uow:
        uow.session.add(_outcome(decision_id="never-decided"))


@pytest.mark.parametrize(
    ("row", "why"),
    [
        (lambda: _decision(decision="MAYBE"), "decision"),
        (lambda: _outcome(outcome="LOST"), "outcome"),
        (lambda: EventRow(at=T0, type="x", severity="fatal", instance="i"), "severity"),
        (
            lambda: ThrottleStateRow(
                symbol="BTC_USDT", preset="p", side="HOLD", alerted_at=T0, price=1.0,
                decision_id="d",
            ),
            "side",
        ),
        (
            lambda: OrderRow(
                client_order_id="c-1", symbol="BTC_USDT", side="buy", order_type="MARKET",
                status="intent",
            ),
            "side",
        ),
        (lambda: WatchlistRow(symbol="DOT_USDT", trade_amount_usd=-5.0), "trade_amount_usd"),
    ],
)
def test_enumerations_and_ranges_are_checked(migrated_db, row, why: str) -> None:
    if why == "outcome":
        with UnitOfWork(migrated_db.session_factory) as uow:
            uow.session.add(_decision())
    with pytest.raises(IntegrityError, match=why), UnitOfWork(
        migrated_db.session_factory
    ) as uow:
        uow.session.add(row())


def test_client_order_id_is_unique(migrated_db) -> None:
    """A retried order can never be placed twice (business-rules §6)."""
    def order() -> OrderRow:
        return OrderRow(
            client_order_id="atp-d-1", symbol="BTC_USDT", side="BUY", order_type="MARKET",
            status="intent", notional=100.0,
        )

    with UnitOfWork(migrated_db.session_factory) as uow:
        uow.session.add(order())
    with pytest.raises(IntegrityError), UnitOfWork(migrated_db.session_factory) as uow:
        uow.session.add(order())


def test_timestamps_come_back_aware_utc(migrated_db) -> None:
    tokyo = T0.astimezone(ZoneInfo("Asia/Tokyo"))
    with UnitOfWork(migrated_db.session_factory) as uow:
        uow.session.add(
            ThrottleStateRow(
                symbol="BTC_USDT", preset="swing-conservative", side="BUY", alerted_at=tokyo,
                price=1.5, decision_id="d-1",
            )
        )
    with migrated_db.session_factory() as session:
        row = session.scalars(select(ThrottleStateRow)).one()
    assert row.alerted_at == T0
    assert row.alerted_at.utcoffset() == timedelta(0)
    assert row.alerted_at.microsecond == T0.microsecond


def test_naive_timestamps_are_rejected(migrated_db) -> None:
    """"Local or UTC?" is never guessed."""
    with pytest.raises(StatementError, match="naive datetime"), UnitOfWork(
        migrated_db.session_factory
    ) as uow:
        uow.session.add(
            EventRow(at=datetime(2025, 1, 1), type="x", instance="i")
        )
