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


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (None: not SQLite, or in memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):  # the URI form: file:PATH?mode=ro&uri=true
        database = database.removeprefix("file:").split("?", 1)[0]
        if database in ("", ":memory:"):
            return None
    return database


def unusable_reason(url: str) -> str | None:
    """Why a SQLite database file cannot be written, said as the fix (a full disk or a
    read-only file are the two seen in production); None: nothing visibly wrong."""
    import os
    import shutil

    path = sqlite_path(url)
    if path is None:
        return None
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        return f"the folder {folder} does not exist; fix: create it or change DATABASE_URL"
    free = shutil.disk_usage(folder).free
    if free < 1024 * 1024:
        return (f"the disk holding {folder} is full ({free // 1024} KiB free); fix: free "
                "space there (old logs, docker images) or point DATABASE_URL at a volume "
                "with room")
    target = path if os.path.exists(path) else folder
    if not os.access(target, os.W_OK):
        return (f"{target} is read-only for this user; fix: make the database file and "
                "its folder writable, or point DATABASE_URL elsewhere")
    return None
