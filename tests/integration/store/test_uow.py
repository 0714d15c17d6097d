"""Unit of work: commit on success, roll back on error, and never swallow a failed write."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from atp.store import migrate
from atp.store.db import make_engine, make_session_factory
from atp.store.journal import append_event
from atp.store.models import EventRow, SettingRow
from atp.store.uow import UnitOfWork, WriteErrorCounter, write_errors

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _setting(key: str, value: object) -> SettingRow:
    return SettingRow(key=key, value=value, updated_at=T0, updated_by="test")


def test_commits_when_the_block_succeeds(migrated_db) -> None:
    with UnitOfWork(migrated_db.session_factory, "save_setting") as uow:
        uow.session.add(_setting("live_trading", False))
    with migrated_db.session_factory() as session:
        assert session.get(SettingRow, "live_trading").value is False  # type: ignore[union-attr]


def test_rolls_back_and_reraises_an_application_error(migrated_db) -> None:
    before = write_errors.snapshot()
    with pytest.raises(KeyError), UnitOfWork(migrated_db.session_factory, "save_setting") as uow:
        uow.session.add(_setting("k", 1))
        uow.session.flush()
        raise KeyError("boom")
    with migrated_db.session_factory() as session:
        assert session.get(SettingRow, "k") is None
    # Not a database failure, so not a write error.
    assert write_errors.snapshot() == before


def test_session_only_lives_inside_the_block(migrated_db) -> None:
    uow = UnitOfWork(migrated_db.session_factory)
    with pytest.raises(RuntimeError, match="outside"):
        _ = uow.session
    with uow:
        pass
    with pytest.raises(RuntimeError, match="outside"):
        _ = uow.session


def test_a_write_into_a_missing_table_raises_and_is_counted(db_url: str) -> None:
    """Failure mode 9: inserts into a missing table were swallowed; the panel stayed empty."""
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE events"))
        factory = make_session_factory(engine)

        named = write_errors.get("journal_append")
        with pytest.raises((OperationalError, ProgrammingError)), UnitOfWork(
            factory, "journal_append"
        ) as uow:
            append_event(uow.session, "signal_decision", at=T0, instance="test")
        assert write_errors.get("journal_append") == named + 1

        # Without an operation name the failing statement's table is the key.
        by_table = write_errors.get("events")
        with pytest.raises((OperationalError, ProgrammingError)), UnitOfWork(factory) as uow:
            append_event(uow.session, "signal_decision", at=T0, instance="test")
        assert write_errors.get("events") == by_table + 1

        # The failure left nothing half-written elsewhere and the engine still works.
        with UnitOfWork(factory) as uow:
            uow.session.add(_setting("after", 1))
    finally:
        engine.dispose()


def test_write_error_counter_is_thread_safe() -> None:
    counter = WriteErrorCounter()

    def bump() -> None:
        for _ in range(1000):
            counter.increment("outbox")

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.snapshot() == {"outbox": 8000}
    assert counter.total == 8000
    counter.reset()
    assert counter.total == 0


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000
    finally:
        engine.dispose()


def test_sqlite_rollback_really_undoes_ddl_and_reads_are_transactional(tmp_path) -> None:
    """The sqlite3 driver's legacy mode would autocommit DDL; ours runs it in the transaction."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.rollback()
            tables = conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
        assert "t" not in tables
    finally:
        engine.dispose()


def test_concurrent_writers_wait_for_each_other_on_sqlite(tmp_path) -> None:
    """Two threads read-then-write at once: BEGIN IMMEDIATE serialises them, no lost update
    and no "database is locked"."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            uow.session.add(_setting("counter", 0))
        errors: list[BaseException] = []

        def increment() -> None:
            try:
                for _ in range(25):
                    with UnitOfWork(factory, "increment") as uow:
                        row = uow.session.get(SettingRow, "counter")
                        assert row is not None
                        row.value = row.value + 1
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=increment) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with factory() as session:
            assert session.scalar(select(SettingRow.value)) == 100
    finally:
        engine.dispose()


def test_events_written_in_a_failed_unit_are_not_kept(migrated_db) -> None:
    with pytest.raises(ValueError), UnitOfWork(migrated_db.session_factory) as uow:
        append_event(uow.session, "alert_sent", at=T0, instance="test")
        uow.session.flush()
        raise ValueError("later step failed")
    with migrated_db.session_factory() as session:
        assert session.scalars(select(EventRow)).all() == []
