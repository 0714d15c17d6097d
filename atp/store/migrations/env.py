"""Alembic environment: runs the migrations on the connection `atp.store.migrate` hands in.

Run by `atp db upgrade` (connection passed in `config.attributes["connection"]`) or by the
`alembic` command during development (URL from `sqlalchemy.url`, else `DATABASE_URL`).
SQLite gets batch mode, because it cannot ALTER most things in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from atp.store.models import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return

    # Developer path (`alembic -c .../alembic.ini ...`): build our own engine.
    from atp.store.db import make_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from atp.config import load_settings

        url = load_settings().database_url
    engine = make_engine(url, foreign_keys=False)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported; run against a database")
_run_online()
