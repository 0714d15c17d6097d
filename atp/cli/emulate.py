"""`atp emulate ...`: run one built-in emulator alone, in the foreground, until Ctrl-C.

One command per emulator; add another with `@emulate_app.command("name")` and serve it
with `serve_until_interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from atp.cli.common import fail

emulate_app = typer.Typer(help="Run a built-in emulator alone (loopback test doubles).",
                          no_args_is_help=True)


def serve_until_interrupted(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `run(stop)` on a fresh loop; Ctrl-C sets `stop` so it can shut down cleanly."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run(stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@emulate_app.command("telegram")
def telegram(
    port: Annotated[int, typer.Option(help="Port of the Bot API (0 = any free port).")] = 8081,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    token: Annotated[
        list[str] | None,
        typer.Option(help="Valid bot token (repeatable); none = any well-formed token."),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="Fault from the start (repeatable): conflict, outage, "
                          "rate_limit[:SECONDS], blocked_chat:CHAT_ID, invalid_token, "
                          "server_error."),
    ] = None,
    control_port: Annotated[
        int | None,
        typer.Option(help="Extra port for /_emulator/... that stays open during an outage."),
    ] = None,
    strict_chats: Annotated[
        bool, typer.Option(help="Unknown chats answer 'chat not found'.")
    ] = False,
) -> None:
    """Telegram Bot API emulator: point TELEGRAM_API_BASE at the printed URL."""
    from atp.emulators.telegram import FaultSpec, TelegramEmulator

    try:
        specs = [FaultSpec.parse(f) for f in fault or []]
    except ValueError as exc:
        fail(str(exc))

    async def run(stop: asyncio.Event) -> None:
        emulator = TelegramEmulator(
            host=host, port=port, tokens=token or None, faults=specs,
            control_port=control_port, strict_chats=strict_chats,
        )
        try:
            await emulator.start()
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        try:
            typer.echo(f"Telegram Bot API emulator: {emulator.base_url}")
            typer.echo(f"  control API: {emulator.control_url}/_emulator/")
            active = emulator.state.faults.active()
            typer.echo(f"  faults: {', '.join(active) if active else 'none'}")
            typer.echo("  Ctrl-C to stop")
            await stop.wait()
        finally:
            await emulator.stop()

    serve_until_interrupted(run)
