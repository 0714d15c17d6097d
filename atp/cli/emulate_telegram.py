"""`atp emulate telegram`: the Telegram Bot API emulator alone, until Ctrl-C.

Its own module so the `emulate` group (atp/cli/emulate.py) only registers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from atp.cli.common import PORT_FILE_HELP, fail, write_port_file


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
    port_file: Annotated[Path | None, typer.Option(help=PORT_FILE_HELP)] = None,
) -> None:
    """Telegram Bot API emulator: point TELEGRAM_API_BASE at the printed URL.

    Post user messages and read chats at /_emulator/...; faults can be switched at run
    time with POST/DELETE /_emulator/faults/NAME.
    """
    from atp.emulators.telegram import FaultSpec, TelegramEmulator

    try:
        specs = [FaultSpec.parse(f) for f in fault or []]
    except ValueError as exc:
        fail(str(exc))

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
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
            typer.echo(f"  TELEGRAM_API_BASE={emulator.base_url}")
            typer.echo(f"  control API: {emulator.control_url}/_emulator/")
            active = emulator.state.faults.active()
            typer.echo(f"  faults: {', '.join(active) if active else 'none'}")
            if port_file is not None:
                write_port_file(port_file, emulator.port)
            await stop.wait()
        finally:
            await emulator.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
