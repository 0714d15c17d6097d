"""Unit of work: one session, one transaction, and database failures that cannot hide.

Failure mode 9: inserts into a missing table were swallowed and the Monitoring panel
stayed empty for days. Here a failed unit rolls back, is counted in `write_errors` (which
/metrics exports) and re-raises. Nothing in the store catches a database error to carry on.

    with UnitOfWork(session_factory, "record_decision") as uow:
        uow.session.add(row)
    # committed here; on any exception: rolled back, re-raised
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker


class WriteErrorCounter:
    """Thread-safe counts of failed units of work, keyed by operation (or table) name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        # the last failure (monotonic), so health can say "the database refuses writes
        # now": a full disk reads fine and writes nothing
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    def increment(self, key: str, error: BaseException | None = None) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            if error is not None:
                self.last_error = f"{type(error).__name__}: {error}".splitlines()[0][:300]
                self.last_error_at = time.monotonic()

    def failing(self, within_s: float) -> str | None:
        """The last write error if it came within `within_s` seconds (None: writes work
        as far as anyone saw)."""
        at = self.last_error_at
        if at is None or time.monotonic() - at > within_s:
            return None
        return self.last_error

    def snapshot(self) -> dict[str, int]:
        """A copy of the counts, safe to read while others write."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def reset(self) -> None:
        """For tests only: counters are process-lifetime totals."""
        with self._lock:
            self._counts.clear()
            self.last_error = self.last_error_at = None


write_errors = WriteErrorCounter()

_TARGET = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[\"`]?(\w+)", re.IGNORECASE)


def table_of(exc: BaseException) -> str | None:
    """The table a failed INSERT/UPDATE/DELETE statement targeted, if known."""
    statement = exc.statement if isinstance(exc, StatementError) else None
    match = _TARGET.match(statement or "")
    return match.group(1) if match else None


class UnitOfWork:
    """A context manager around one session and its transaction.

    Commits when the block ends normally. On any exception (in the block or at commit)
    it rolls back and re-raises; database errors are also counted in `write_errors` under
    `name`, or under the failing statement's table when no name was given.
    Later repositories can subclass this and hang themselves off `self.session`.
    """

    def __init__(self, session_factory: sessionmaker[Session], name: str | None = None) -> None:
        self._factory = session_factory
        self.name = name
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork.session used outside its `with` block")
        return self._session

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: a database error inside rolls back only this part,
        is counted under the unit's name and leaves as `StoreError`."""
        from atp.store.errors import StoreError

        try:
            with self.session.begin_nested():
                yield
        except SQLAlchemyError as exc:
            write_errors.increment(self.name or table_of(exc) or "unknown", exc)
            raise StoreError(f"{type(exc).__name__}: {exc}") from exc

    def __enter__(self) -> UnitOfWork:
        if self._session is not None:
            raise RuntimeError("a UnitOfWork is not re-entrant; create a new one")
        self._session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if exc is None:
                try:
                    session.commit()
                except BaseException as commit_error:
                    self._failed(session, commit_error)
                    raise
            else:
                self._failed(session, exc)
        finally:
            session.close()
            self._session = None
        # Returning None never suppresses the exception.

    def _failed(self, session: Session, exc: BaseException) -> None:
        if isinstance(exc, SQLAlchemyError):
            write_errors.increment(self.name or table_of(exc) or "unknown", exc)
        session.rollback()
