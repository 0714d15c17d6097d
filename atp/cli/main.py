"""Entry point of the `atp` console script."""

from __future__ import annotations

import typer

from atp.cli.analyze import analyze
from atp.cli.demo import demo
from atp.cli.run import run

app = typer.Typer(
    name="atp",
    help="ATP: automated crypto trading with a provable runtime integrity check.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command("analyze")(analyze)
app.command("demo")(demo)
app.command("run")(run)


def _register() -> None:
    """Attach the command groups; each lives in its own module."""
    from atp.cli.check import check
    from atp.cli.db import db_app
    from atp.cli.emulate import emulate_app
    from atp.cli.exchange import exchange_app
    from atp.cli.logs import logs

    app.add_typer(db_app, name="db")
    app.add_typer(exchange_app, name="exchange")
    app.add_typer(emulate_app, name="emulate")
    app.command("check")(check)
    app.command("logs")(logs)


_register()

if __name__ == "__main__":
    app()
