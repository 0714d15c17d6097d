"""Running blocking database work off the event loop, one writer at a time.

SQLAlchemy sessions are synchronous; the loop must stay free for /api/health (failure
mode 10). One worker thread serialises writes, which is also what SQLite wants. Errors
leave as the store's own classes (`atp.store.errors`), so nothing outside `store/`
needs to know SQLAlchemy to answer "conflict" or "database unavailable".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from atp.store.db import make_engine, make_session_factory, read_session_factory
from atp.store.errors import StoreConflict, StoreUnavailable
from atp.store.uow import UnitOfWork, write_errors

P = ParamSpec("P")
T = TypeVar("T")


def _translated(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except IntegrityError as exc:
        raise StoreConflict(f"conflicts with the stored data: {exc.orig}") from exc
    except OperationalError as exc:
        raise StoreUnavailable(f"database unavailable: {exc.orig}") from exc


class Database:
    """An engine, its session factory and the writer thread, for one process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        # reads: a deferred transaction that never holds SQLite's write lock
        self.read_sessions: sessionmaker[Session] = read_session_factory(self.engine)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atp-db")

    @property
    def backend(self) -> str:
        return self.engine.url.get_backend_name()

    def unit(self, name: str) -> UnitOfWork:
        """A unit of work (one transaction) named for the write-error counters."""
        return UnitOfWork(self.sessions, name)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._writer, lambda: _translated(lambda: fn(*args, **kwargs)))

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Reads go to the default pool so a long write never delays the API."""
        return await asyncio.to_thread(_translated, lambda: fn(*args, **kwargs))

    def write_failure(self, within_s: float) -> str | None:
        """The last failed write of this process, if recent (see `write_errors`)."""
        return write_errors.failing(within_s)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self.engine.dispose()
