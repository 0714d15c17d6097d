"""The store's own exceptions: callers outside `store/` never see SQLAlchemy's classes.

`Database.run` / `Database.read` translate, so the API can answer 409 / 503 and the CLI
print one line without importing the ORM (the dependency rule).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class StoreError(Exception):
    """A database operation failed; `str()` is the driver's one-line reason."""


class StoreConflict(StoreError):
    """A uniqueness or integrity constraint refused the write (e.g. two writers racing)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or refused the operation (down, locked, read-only)."""


class StoreUrlError(StoreError):
    """DATABASE_URL is not a usable SQLAlchemy URL."""


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Run store work with SQLAlchemy's errors turned into the store's own (the CLI
    prints them as one line without importing the ORM)."""
    from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

    try:
        yield
    except ArgumentError as exc:
        raise StoreUrlError(str(exc).splitlines()[0]) from exc
    except IntegrityError as exc:
        raise StoreConflict(str(exc.orig)) from exc
    except SQLAlchemyError as exc:
        raise StoreUnavailable(str(exc).splitlines()[0]) from exc
