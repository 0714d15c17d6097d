"""The migrations are the schema: they run both ways on both backends and match the models."""

from __future__ import annotations

from dataclasses import fields

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Column, Engine, Integer, MetaData, String, inspect, select

from atp.domain.presets import DEFAULT_PRESETS, Preset
from atp.store import migrate
from atp.store import repository as repo
from atp.store.db import make_engine, make_session_factory
from atp.store.models import PresetRow, metadata

APP_TABLES = {t.name for t in metadata.sorted_tables}
TRADING_TABLES = {"order_intents", "positions", "paper_balances", "paper_orders",
                  "trading_notices"}  # revision 0004
REPORT_TABLES = {"report_runs"}  # revision 0006r
LATER_TABLES = {"probes"}  # revision 0006q


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _server_default_differs(
    context: object,
    inspected_column: object,
    metadata_column: Column[object],
    inspected_default: str | None,
    metadata_default: object,
    rendered_metadata_default: str | None,
) -> bool | None:
    # PostgreSQL cannot compare JSON values with "=" (alembic's default check), and
    # renders the default with a cast: compare the literal text instead.
    if isinstance(metadata_column.type, JSON):
        return (inspected_default or "").split("::")[0] != (rendered_metadata_default or "")
    return None  # alembic's own comparison


def _schema_diff(engine: Engine, target: MetaData) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "compare_server_default": _server_default_differs},
        )
        return list(compare_metadata(context, target))


@pytest.fixture
def engine(db_url: str):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_upgrade_downgrade_upgrade(db_url: str, engine: Engine) -> None:
    assert migrate.current(db_url) is None
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()
    assert _tables(engine) == APP_TABLES

    migrate.downgrade(db_url, "base")
    assert migrate.current(db_url) is None
    assert _tables(engine) == set()

    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()
    assert _tables(engine) == APP_TABLES
    assert _schema_diff(engine, metadata) == []


def test_every_revision_steps_down_and_up(db_url: str, engine: Engine) -> None:
    migrate.upgrade(db_url, "0001")
    assert _tables(engine) == APP_TABLES - TRADING_TABLES - REPORT_TABLES - LATER_TABLES
    with engine.connect() as conn:
        assert conn.scalar(select(PresetRow.name)) is None  # schema only, no seed yet
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "0001")
    with engine.connect() as conn:
        assert list(conn.scalars(select(PresetRow.name))) == []
    migrate.upgrade(db_url)  # upgrading an up-to-date database is a no-op
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()


def test_models_match_migrated_schema(migrated_db) -> None:
    """Autogenerate finds nothing to do: the models and the migrations describe one schema."""
    assert _schema_diff(migrated_db.engine, metadata) == []


def test_schema_comparison_would_catch_drift(migrated_db) -> None:
    """Guard against a vacuous comparison: a changed model must show up as a difference."""
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["throttle_state"].append_column(Column("extra", Integer, nullable=True))
    drifted.tables["events"].c.type.type = String(8)
    diffs = _schema_diff(migrated_db.engine, drifted)
    # alembic reports table-level changes as tuples, column changes as lists of tuples.
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in diffs}  # type: ignore[index]
    assert kinds == {"add_column", "modify_type"}


def test_default_presets_are_seeded(migrated_db) -> None:
    with migrated_db.session_factory() as session:
        rows = session.scalars(select(PresetRow).order_by(PresetRow.name)).all()
        stored = {row.name: repo.preset_of(row) for row in rows}
        assert {row.updated_by for row in rows} == {"migration"}
    assert stored == DEFAULT_PRESETS


def test_presets_table_has_one_column_per_preset_field(migrated_db) -> None:
    columns = {c["name"] for c in inspect(migrated_db.engine).get_columns("presets")}
    assert columns == {f.name for f in fields(Preset)} | {"updated_at", "updated_by"}


def test_seed_rows_round_trip_through_the_model(migrated_db) -> None:
    from datetime import UTC, datetime

    preset = DEFAULT_PRESETS["scalp-aggressive"]
    at = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    with migrated_db.session_factory.begin() as session:
        session.delete(session.get(PresetRow, preset.name))
        session.flush()
        session.add(PresetRow.from_domain(preset, updated_at=at, updated_by="test"))
    with migrated_db.session_factory() as session:
        row = session.get(PresetRow, preset.name)
        assert row is not None
        assert repo.preset_of(row) == preset
        assert row.updated_at == at


def test_migrations_ship_inside_the_package() -> None:
    """`atp db upgrade` must work from a wheel, whatever the current directory."""
    assert (migrate.MIGRATIONS_DIR / "alembic.ini").is_file()
    assert (migrate.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert migrate.head() == "0008f"


def test_session_factory_keeps_objects_readable_after_commit(migrated_db) -> None:
    factory = make_session_factory(migrated_db.engine)
    with factory.begin() as session:
        row = session.get(PresetRow, "swing-conservative")
    assert row is not None and row.rsi_buy_below == 40.0


def test_0005_indexes_windows_and_marks_sends(db_url: str, engine: Engine) -> None:
    """0005 on a database holding rows: windowed reads get their `created_at` index, outbox
    rows keep their data and are not repeats, ABANDONED becomes a valid outcome; and back."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    migrate.upgrade(db_url, "0004")
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).isoformat()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO outbox (kind, chat_id, text, status, attempts, "
                          "next_attempt_at, origin) VALUES ('alert', '1', 'hi', 'pending', "
                          "0, :at, 'test')"), {"at": at})
    migrate.upgrade(db_url, "0005")
    names = {t: {i["name"] for i in inspect(engine).get_indexes(t)}
             for t in ("decisions", "alert_outcomes", "orders")}
    assert "ix_decisions_created_at" in names["decisions"]
    assert "ix_alert_outcomes_created_at" in names["alert_outcomes"]
    assert "ix_orders_created_at" in names["orders"]
    with engine.begin() as conn:
        row = conn.execute(text("SELECT text, possible_repeat, sending_since FROM outbox")).one()
        assert (row[0], bool(row[1]), row[2]) == ("hi", False, None)
        conn.execute(text("INSERT INTO decisions (id, symbol, preset, decision, buy_index, "
                          "flags, indicators, reasons) VALUES ('d1', 'X_USDT', 'p', 'BUY', 0, "
                          "'{}', '{}', '[]')"))
        conn.execute(text("INSERT INTO alert_outcomes (decision_id, symbol, side, preset, "
                          "outcome, origin) VALUES ('d1', 'X_USDT', 'BUY', 'p', 'ABANDONED', "
                          "'test')"))
    migrate.downgrade(db_url, "0004")
    assert "ix_decisions_created_at" not in {
        i["name"] for i in inspect(engine).get_indexes("decisions")}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT outcome FROM alert_outcomes")) == "FAILED"
    assert "possible_repeat" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    migrate.upgrade(db_url)
    assert _schema_diff(engine, metadata) == []


def test_0006s_lease_names_fit_every_owner(db_url: str, engine: Engine) -> None:
    """`presence:` + the longest owner (a 64-character INSTANCE_NAME on a 32-character
    host) is a valid lease name after 0006s, on both backends; and back."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    migrate.upgrade(db_url, "0005")
    migrate.upgrade(db_url, "0006s")
    owner = f"{'i' * 64}@{'h' * 32}/4194304/deadbeef"
    at = datetime(2026, 12, 2, tzinfo=UTC).isoformat()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO leases (name, holder, acquired_at, renewed_at, "
                          "expires_at) VALUES (:n, :h, :at, :at, :at)"),
                     {"n": f"presence:{owner}", "h": owner, "at": at})
        assert conn.scalar(text("SELECT holder FROM leases")) == owner
        conn.execute(text("DELETE FROM leases"))
    migrate.downgrade(db_url, "0005")
    migrate.upgrade(db_url)
    assert _schema_diff(engine, metadata) == []


def test_0007w_rows_cover_their_own_instant(db_url: str, engine: Engine) -> None:
    """0007w on a database holding decisions: each old row covers its own instant
    (seen_until = created_at, no repeats), windowed reads get the seen_until index, the
    BUY/SELL index is partial; and back, the rows intact."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from atp.store.types import UtcDateTime

    migrate.upgrade(db_url, "0006s")
    at = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    stamp = UtcDateTime().process_bind_param(at, engine.dialect)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO decisions (id, symbol, preset, decision, buy_index, "
                          "flags, indicators, reasons, created_at) VALUES ('d1', 'X_USDT', "
                          "'p', 'WAIT', 0, '{}', '{}', '[]', :at)"), {"at": stamp})
    migrate.upgrade(db_url, "0007w")
    names = {i["name"] for i in inspect(engine).get_indexes("decisions")}
    assert {"ix_decisions_seen_until", "ix_decisions_active_created_at"} <= names
    assert not names & {"ix_decisions_created_at", "ix_decisions_cycle_id",
                        "ix_decisions_decision_created_at"}
    with engine.connect() as conn:
        row = conn.execute(text("SELECT created_at, seen_until, repeats FROM decisions")).one()
    assert row[1] == row[0] and row[2] == 0
    migrate.downgrade(db_url, "0006s")
    columns = {c["name"] for c in inspect(engine).get_columns("decisions")}
    assert not {"seen_until", "repeats"} & columns
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT id FROM decisions")) == "d1"
    migrate.upgrade(db_url)
    assert _schema_diff(engine, metadata) == []
