"""Engines and sessions configured the same way for the app, the CLI and the tests.

SQLite needs care to behave like a real database under several threads (monitor, outbox
sender, API): WAL so readers don't block the writer, enforced foreign keys (off by default
in SQLite!), a busy timeout so a writer waits instead of failing at once, and real
transactions (the sqlite3 driver's legacy mode runs SELECTs and DDL outside any
transaction). Every transaction starts with BEGIN IMMEDIATE: SQLite allows one writer at a
time anyway, and taking the write lock up front means a transaction that reads and then
writes waits its turn instead of failing with "database is locked" halfway. Read-only
sessions (`read_session_factory`) start with a plain deferred BEGIN instead: in WAL mode a
reader never takes the write lock, so the API, the watchdog and the dashboard cannot
stretch a monitor cycle or get "database is locked" (issue 14).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000
READ_ONLY_OPTION = "atp_read_only"
PG_CONNECT_TIMEOUT_S = 5


def make_engine(url: str | URL, *, foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """An engine for `url` (SQLite or PostgreSQL) with ATP's connection settings.

    `foreign_keys=False` is for migrations only: SQLite rebuilds tables in batch mode, and
    with enforcement on, dropping the old copy of a parent table would cascade or fail.
    Extra keyword arguments go to `sqlalchemy.create_engine`.
    """
    url = make_url(url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the bundled driver
    backend = url.get_backend_name()
    # JSON columns without the default ", " / ": " padding: ~40 bytes of every decision
    # row (flags, indicators, reasons), a million rows a month at 1,000 symbols
    kwargs.setdefault("json_serializer", _compact_json)
    if backend == "sqlite":
        connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, foreign_keys=foreign_keys)
        return engine
    if backend == "postgresql":
        connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_S, **kwargs.pop("connect_args", {})}
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, connect_args=connect_args, **kwargs)
    raise ValueError(f"unsupported database backend {backend!r} (use sqlite or postgresql)")


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 driver (see module docstring);
        # the pragmas below must also run outside a transaction to take effect.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        reading = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads only: on SQLite their transactions never take the write lock."""
    return make_session_factory(engine.execution_options(**{READ_ONLY_OPTION: True}))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (no lazy reload surprises when a
    service returns a row it just wrote)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
