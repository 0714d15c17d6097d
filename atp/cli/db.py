"""`atp db upgrade | downgrade REV | current`: the only way ATP's schema is created or changed.

Every failure a user can cause (bad DATABASE_URL, database unreachable, unknown revision)
ends as one clear message and exit code 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

from atp.cli.common import fail, settings_or_exit

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)

T = TypeVar("T")


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def _with_database(action: Callable[[str], T]) -> tuple[str, T]:
    """Run `action(url)` and turn database failures into a one-line message + exit 2."""
    url = settings_or_exit().database_url
    # Imported late: alembic and the models cost ~0.5 s that other commands shouldn't pay.
    from alembic.util.exc import CommandError

    from atp.config import mask_url
    from atp.store.errors import StoreError, StoreUrlError, translated
    from atp.store.migrate import MigrationError

    shown = mask_url(url)
    try:
        with translated():
            return shown, action(url)
    except CommandError as exc:
        fail(f"Migration failed on {shown}: {exc}")
    except MigrationError as exc:
        fail(f"Migration failed on {shown}: {exc}")
    except StoreUrlError as exc:
        fail(
            f"DATABASE_URL is not usable ({_first_line(exc)}); "
            "fix: set DATABASE_URL to sqlite:///path/to/atp.db or "
            "postgresql://user@host:5432/dbname"
        )
    except StoreError as exc:
        fail(f"Cannot use the database at {shown}: {_first_line(exc)}; fix: {_fix_for(url)}")
    except ModuleNotFoundError as exc:
        fail(
            f"DATABASE_URL needs a driver that is not installed ({exc.name}); "
            "fix: use sqlite:///… or postgresql://… (psycopg 3 is bundled)"
        )


def _fix_for(url: str) -> str:
    if url.startswith("sqlite"):
        return "make sure the directory in DATABASE_URL exists and is writable"
    return (
        "make sure the PostgreSQL server is running and reachable from here, and that the "
        "user, password and database name in DATABASE_URL are right"
    )


@db_app.command("upgrade")
def upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the newest)."),
) -> None:
    """Apply schema migrations (safe to run again: an up-to-date database is left alone)."""

    def run(url: str) -> tuple[str | None, str]:
        from atp.store import migrate

        migrate.upgrade(url, revision)
        return migrate.current(url), migrate.head()

    shown, (now, newest) = _with_database(run)
    typer.echo(f"Database {shown} is at revision {now} (newest shipped: {newest}).")


@db_app.command("downgrade")
def downgrade(
    revision: str = typer.Argument(..., help='Target revision, e.g. 0001, -1 or "base".'),
) -> None:
    """Revert schema migrations down to REVISION ("base" drops every ATP table)."""

    def run(url: str) -> str | None:
        from atp.store import migrate

        migrate.downgrade(url, revision)
        return migrate.current(url)

    shown, now = _with_database(run)
    typer.echo(f"Database {shown} is at revision {now or 'base (empty)'}.")


@db_app.command("current")
def current() -> None:
    """Show the database's schema revision and whether it is up to date."""

    def run(url: str) -> tuple[str | None, str]:
        from atp.store import migrate

        return migrate.current(url), migrate.head()

    shown, (now, newest) = _with_database(run)
    state = "up to date" if now == newest else "run `atp db upgrade`"
    typer.echo(
        f"Database {shown} is at revision {now or 'base (empty)'}; newest is {newest} ({state})."
    )
