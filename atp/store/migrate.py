"""Schema migrations, driven through Alembic's API.

The schema exists only through these migrations, never through `create_all` (failure
mode 8). The Alembic config is built here from the files shipped inside the package and the
connection is handed to `env.py`, so this works from any directory and from an installed
wheel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from atp.store.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x41545030  # "ATP0": the advisory lock held while migrating PostgreSQL


class MigrationError(RuntimeError):
    """The migrations left the database inconsistent (e.g. dangling foreign keys)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic config of the shipped migrations, optionally bound to a connection."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _connection(target: str | URL | Engine) -> Iterator[Connection]:
    """A connection in one transaction, committed when the block succeeds.

    An engine we create ourselves has SQLite foreign keys off (see `make_engine`); the
    result is then checked with `PRAGMA foreign_key_check` before commit.
    """
    if isinstance(target, Engine):
        engine, owned = target, False
    else:
        engine, owned = make_engine(target, foreign_keys=False), True
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two instances starting at once must not both migrate; SQLite's
                # BEGIN IMMEDIATE (see db.py) already serialises them there.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield connection
            if connection.dialect.name == "sqlite":
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise MigrationError(f"foreign key violations after migration: {problems}")
    finally:
        if owned:
            engine.dispose()


def _run(target: str | URL | Engine, action: Callable[[Config], None]) -> None:
    with _connection(target) as connection:
        action(alembic_config(connection))


def upgrade(url: str | URL | Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (default: the newest)."""
    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str | URL | Engine, revision: str) -> None:
    """Revert migrations down to `revision` ("base" removes every table)."""
    _run(url, lambda config: command.downgrade(config, revision))


def current(url: str | URL | Engine) -> str | None:
    """The database's revision, or None for an empty (never migrated) database."""
    with _connection(url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    """The newest revision shipped with this version of ATP."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships migrations
        raise MigrationError("no migrations found in the package")
    return revision
