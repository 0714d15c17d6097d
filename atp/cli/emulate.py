"""`atp emulate …`: run an emulator alone (for manual testing and other processes)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import typer

from atp.cli.common import PORT_FILE_HELP, fail, write_port_file

emulate_app = typer.Typer(help="Run a protocol-faithful emulator of an external system.",
                          no_args_is_help=True)


@emulate_app.command("exchange")
def exchange(
    port: int = typer.Option(8801, help="Port to listen on (0 = any free port)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    seed: int = typer.Option(1, help="Market seed: same seed, same candles."),
    speed: float = typer.Option(1.0, help="Market clock speed (60 = an hour per minute)."),
    symbols: int = typer.Option(20, help="Number of instruments."),
    key: list[str] = typer.Option(
        ["demo-key:demo-secret"], help="API key as KEY:SECRET (repeatable)."
    ),
    fault: list[str] = typer.Option([], help="Fault switch, e.g. malformed:BTC_USDT (repeatable)."),
    port_file: Path | None = typer.Option(None, "--port-file", help=PORT_FILE_HELP),
) -> None:
    """Crypto.com Exchange v1 API emulator with a synthetic market.

    Point ATP at it with EXCHANGE_BASE_URL=http://HOST:PORT. Faults and scenarios can be
    changed at run time: POST /_emulator/faults, POST /_emulator/scenario.
    """
    from atp.emulators.clock import AcceleratedClock
    from atp.emulators.cryptocom import CryptoComEmulator

    emu = CryptoComEmulator(clock=AcceleratedClock(speed=speed), seed=seed, symbols=symbols,
                            host=host, port=port)
    for spec in key:
        k, sep, s = spec.partition(":")
        if not sep or not k or not s:
            fail(f"--key must be KEY:SECRET, got {spec.split(':')[0]}:…")
        emu.add_key(k, s)
    try:
        for spec in fault:
            emu.set_fault(spec)
    except ValueError as exc:
        fail(str(exc))

    async def serve() -> None:
        url = await emu.start()
        typer.echo(f"Crypto.com emulator at {url} ({symbols} symbols, seed {seed}, "
                   f"speed {speed}x, keys: {', '.join(k.split(':')[0] for k in key)})")
        typer.echo(f"  EXCHANGE_BASE_URL={url}")
        if port_file is not None:
            write_port_file(port_file, emu.port)
        try:
            await asyncio.Event().wait()
        finally:
            await emu.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


# The Telegram emulator's command lives in its own module (separate owner).
from atp.cli.emulate_telegram import telegram  # noqa: E402

emulate_app.command("telegram")(telegram)
