"""DATABASE_URL parsing, the store's business: settings validation asks here.

SQLAlchemy is imported inside the functions: it costs ~0.4 s at start and `atp --help`
or `atp check` never need it.
"""

from __future__ import annotations


def normalise_database_url(value: str) -> str:
    """The URL ATP will connect with; ValueError naming what is wrong otherwise.

    A bare `postgresql://` means psycopg 3, the driver shipped with ATP."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("not a database URL") from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    if backend != "sqlite":
        raise ValueError(f"unsupported database '{backend}' (use sqlite or postgresql)")
    return value


def mask_url(url: str) -> str:
    """A database URL with its password hidden, safe for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url.split("@")[-1] if "@" in url else url


def backend_name(url: str) -> str:
    """`sqlite` or `postgresql`, for status pages."""
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()
