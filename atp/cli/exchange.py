"""`atp exchange …`: the exchange adapter's operator commands."""

from __future__ import annotations

import asyncio
import json

import typer

from atp.cli.common import settings_or_exit

exchange_app = typer.Typer(help="Crypto.com Exchange: diagnose credentials, proxy, clock.",
                           no_args_is_help=True)


@exchange_app.command("diagnose")
def diagnose_command(
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of text."),
) -> None:
    """Credentials, public API, a private call, clock offset and proxy: verdict and fix each.

    Exit code 0 ok, 1 warning, 2 critical.
    """
    # imported here: ccxt takes a second to import, other commands should not pay for it
    from atp.exchange.diagnose import CRITICAL, WARNING, diagnose, render_text

    settings = settings_or_exit()
    result = asyncio.run(diagnose(settings))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        typer.echo(render_text(result))
    raise typer.Exit({CRITICAL: 2, WARNING: 1}.get(result.status, 0))
