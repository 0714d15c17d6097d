"""Entry point of the `atp` console script.

Start-up is a budget (issue 10: `atp --help` < 300 ms, `atp check` < 1 s), so commands
are imported only when invoked: `COMMANDS` names each one's module, attribute and the
one-line help `atp --help` lists (a test keeps that line equal to the command's own).
Help is plain text: Typer's Rich formatter alone costs ~300 ms of imports.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
import typer.main
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperGroup

# name → ("module:attribute", one-line help). The attribute is a command function or a
# Typer sub-app (a group).
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("atp.cli.analyze:analyze",
                "Print the decision, flags, indicators and reasons for the candles of a file."),
    "backtest": ("atp.cli.backtest:backtest",
                 "Replay candles through the live rules (throttle, gates, paper fills, SL/TP) "
                 "and report."),
    "demo": ("atp.cli.demo:demo",
             "Run ATP with built-in Crypto.com and Telegram emulators; Ctrl-C stops it."),
    "run": ("atp.cli.run:run",
            "Start the platform; refuses to start, listing what is missing or invalid."),
    "check": ("atp.cli.check:check",
              "Prove the chain (signals → monitor → alerts → Telegram → exchange → containers) "
              "works, or name where it breaks, with the fix."),
    "logs": ("atp.cli.logs:logs",
             "Print the backend's structured log, filtered by marker, symbol, time and level."),
    "db": ("atp.cli.db:db_app", "Database schema (Alembic migrations)."),
    "exchange": ("atp.cli.exchange:exchange_app",
                 "Crypto.com Exchange: diagnose credentials, proxy, clock."),
    "emulate": ("atp.cli.emulate:emulate_app",
                "Run a protocol-faithful emulator of an external system."),
}


def load_command(name: str) -> Command:
    """Import command `name` and build its click command (a group for a sub-app)."""
    module, _, attribute = COMMANDS[name][0].partition(":")
    target: Any = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        target.rich_markup_mode = None  # plain help throughout, as for the root
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer(rich_markup_mode=None, add_completion=False)
    single.command(name)(target)
    return typer.main.get_command(single)


class LazyGroup(TyperGroup):
    """Lists every command from `COMMANDS`; imports one only to run it."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="atp",
    cls=LazyGroup,
    help="ATP: automated crypto trading with a provable runtime integrity check.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """ATP: automated crypto trading with a provable runtime integrity check."""


if __name__ == "__main__":
    app()
