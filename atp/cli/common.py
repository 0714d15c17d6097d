"""What every command shares: settings that fail as a clear message with exit code 2."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from atp.config import Settings

err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a user-facing error (never a traceback) and exit."""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    from atp.config import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(exc.render())
