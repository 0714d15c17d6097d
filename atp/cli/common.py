"""What every command shares: settings that fail as a clear message with exit code 2,
and the port file through which `--port 0` reports the port it got.

Nothing heavy at import time: `atp --help` imports this module (start-up budget 300 ms).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from atp.config import Settings

PORT_FILE_HELP = ("Write the bound port to this file once it accepts connections "
                  "(with --port 0: any free port, race-free).")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a user-facing error (never a traceback) and exit."""
    print(message, file=sys.stderr, flush=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    from atp.config import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(exc.render())


def write_port_file(path: Path, port: int) -> None:
    """Write `port` atomically, so a reader polling for the file never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n", encoding="utf-8")
    tmp.replace(path)
