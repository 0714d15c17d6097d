"""Shared fixtures: real databases on both backends, isolated and cleaned up.

- `db_url`: an EMPTY database URL (never migrated), parametrized `sqlite` | `postgresql`.
  SQLite: a file in tmp_path. PostgreSQL: a fresh schema (selected through `search_path`
  in the URL) inside a database created for this test session.
- `migrated_db`: a `MigratedDb` (url, engine, session_factory, backend) at the newest
  revision, parametrized the same way. One migrated database per backend per session;
  before each test every table is emptied and the seed rows the migrations wrote (the
  presets) are restored, so each test starts from a freshly migrated state cheaply.

PostgreSQL: the admin URL defaults to postgresql+psycopg://postgres@127.0.0.1:5432/postgres
(override with ATP_TEST_PG_URL). The session creates `atp_test_<epoch>_<random>` and drops
it at the end, failures included (and sweeps ones left by runs killed hours ago). When the
server is unreachable the PostgreSQL variants skip, or fail when ATP_REQUIRE_PG=1 (as
`make test` sets it). `-m "not pg"` deselects them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, delete, insert, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
STALE_AFTER_S = 6 * 3600

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.pg),
]


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _pg_admin_url() -> URL:
    url = make_url(os.environ.get("ATP_TEST_PG_URL") or DEFAULT_PG_ADMIN_URL)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _admin_engine(url: URL) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def _drop_stale_databases(conn: Connection) -> None:
    """Drop test databases of sessions killed before their teardown (SIGKILL, CI timeout).

    Only those created more than STALE_AFTER_S ago: a concurrent run's database is safe.
    """
    names = conn.scalars(
        text("SELECT datname FROM pg_database WHERE datname LIKE 'atp\\_test\\_%'")
    ).all()
    for name in names:
        created = name.split("_")[2]
        if created.isdigit() and time.time() - int(created) > STALE_AFTER_S:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))



@pytest.fixture(autouse=True, scope="session")
def _isolated_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Platforms started by tests register in a state directory of the test run, never in
    the user's (`atp.local_runs`): a demo on this machine cannot leak into a test."""
    previous = os.environ.get("ATP_STATE_DIR")
    os.environ["ATP_STATE_DIR"] = str(tmp_path_factory.mktemp("atp-state"))
    yield
    if previous is None:
        os.environ.pop("ATP_STATE_DIR", None)
    else:
        os.environ["ATP_STATE_DIR"] = previous

@pytest.fixture(scope="session")
def pg_database() -> Iterator[URL]:
    """A PostgreSQL database of this test session's own, dropped at the end."""
    admin_url = _pg_admin_url()
    admin = _admin_engine(admin_url)
    shown = admin_url.render_as_string(hide_password=True)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        admin.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        message = f"PostgreSQL unreachable at {shown} ({reason})"
        if os.environ.get("ATP_REQUIRE_PG") == "1":
            pytest.fail(
                f"{message}. ATP_REQUIRE_PG=1 requires it: start the server "
                "(`make services`) or point ATP_TEST_PG_URL at one.",
                pytrace=False,
            )
        pytest.skip(f"{message}; set ATP_TEST_PG_URL, or ATP_REQUIRE_PG=1 to fail instead")

    name = f"atp_test_{int(time.time())}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        _drop_stale_databases(conn)
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_admin(pg_database: URL) -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the session database, for creating and dropping schemas."""
    engine = _admin_engine(pg_database)
    yield engine
    engine.dispose()


def _pg_schema_url(pg_database: URL, schema: str) -> URL:
    # psycopg passes `options` to the server: every connection starts in this schema.
    return pg_database.update_query_dict({"options": f"-csearch_path={schema}"})


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: `sqlite` (a file) or `postgresql` (a fresh schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'atp.db'}"
        return
    pg_database: URL = request.getfixturevalue("pg_database")
    admin: Engine = request.getfixturevalue("pg_admin")
    schema = f"t_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _render(_pg_schema_url(pg_database, schema))
    finally:
        with admin.connect() as conn:
            # Don't hang on a connection a failed test left inside a transaction; the
            # whole database is dropped at the end of the session anyway.
            conn.execute(text("SET lock_timeout = '5s'"))
            with contextlib.suppress(SQLAlchemyError):
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@dataclass(frozen=True)
class MigratedDb:
    """A database at the newest revision, emptied (and re-seeded) before each test."""

    backend: str
    url: str
    engine: Engine
    session_factory: sessionmaker[Session]
    seed: dict[str, list[dict[str, Any]]]

    def reset(self) -> None:
        """Empty every table, then restore the rows the migrations seeded."""
        from atp.store.models import EventRow, metadata
        from tests.canary import scan

        with self.engine.begin() as conn:
            # what the previous test journaled is looked at for secrets before it goes
            for message, payload in conn.execute(select(EventRow.message, EventRow.payload)):
                scan("event row", f"{message} {payload}")
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
            for table in metadata.sorted_tables:
                if self.seed.get(table.name):
                    conn.execute(insert(table), self.seed[table.name])


def _migrate_once(url: str, backend: str) -> Iterator[MigratedDb]:
    from atp.store import migrate
    from atp.store.db import make_engine, make_session_factory
    from atp.store.models import metadata

    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        seed = {
            table.name: [dict(row) for row in conn.execute(select(table)).mappings()]
            for table in metadata.sorted_tables
        }
    try:
        yield MigratedDb(backend, url, engine, make_session_factory(engine), seed)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedDb]:
    path = tmp_path_factory.mktemp("migrated") / "atp.db"
    yield from _migrate_once(f"sqlite:///{path}", "sqlite")


@pytest.fixture(scope="session")
def _migrated_postgresql(pg_database: URL, pg_admin: Engine) -> Iterator[MigratedDb]:
    with pg_admin.connect() as conn:
        conn.execute(text('CREATE SCHEMA "migrated"'))
    yield from _migrate_once(_render(_pg_schema_url(pg_database, "migrated")), "postgresql")


@pytest.fixture(params=BACKENDS)
def migrated_db(request: pytest.FixtureRequest) -> MigratedDb:
    """A migrated database (both backends), reset to its freshly migrated state."""
    db: MigratedDb = request.getfixturevalue(f"_migrated_{request.param}")
    db.reset()
    return db


# ── the canary watch (tests/canary.py, tests/test_canary.py) ───────────────────────────


class _CanaryTrap(logging.Handler):
    """Sees every log record of the run (the `atp` loggers at DEBUG) for the canary."""

    def emit(self, record: logging.LogRecord) -> None:
        from tests.canary import scan

        try:
            text = logging.Formatter().format(record)
        except Exception:
            text = str(record.msg)
        scan(f"log record {record.name}", f"{text} {record.msg!r} {record.args!r}")


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_CanaryTrap(level=logging.DEBUG))
    logging.getLogger("atp").setLevel(logging.DEBUG)


_CANARY_USED = pytest.StashKey[bool]()


@pytest.fixture
def canary(request: pytest.FixtureRequest) -> Any:
    """The canary API key and secret, for a test that puts them to use. Asking for them
    enrols the test: tests/test_canary.py requires such tests to have passed in the run."""
    from tests.canary import Canary

    request.node.stash[_CANARY_USED] = True
    return Canary()


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    from tests.canary import exercised, scan

    if call.excinfo is not None:
        scan(f"exception in {item.nodeid}", str(call.excinfo.getrepr()))
    elif call.when == "call" and item.stash.get(_CANARY_USED, False):
        exercised(item.nodeid)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The canary test judges the whole run, so it runs last."""
    last = [i for i in items if i.nodeid.startswith("tests/test_canary.py")]
    items[:] = [i for i in items if i not in last] + last
