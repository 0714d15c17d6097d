"""`atp demo`: the whole platform on emulators (product.md §2)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from atp.cli.common import PORT_FILE_HELP, fail, write_port_file

FAULT_HELP = ("inject a failure (repeatable): telegram-conflict, telegram-outage, exchange-auth, "
              "proxy-auth, monitor-stall, alert-drop, stale-ticker:SYMBOL (e.g. "
              "stale-ticker:ETH_USDT), order-reject (trades LIVE on the emulator, every order "
              "refused with 306), naked-position (LIVE, the key may not place SL/TP: 140001)")


def demo(
    port: int = typer.Option(8002, "--port",
                             help="Port of the dashboard and API (0 = any free port)."),
    port_file: Path | None = typer.Option(None, "--port-file", help=PORT_FILE_HELP),
    fault: list[str] = typer.Option([], "--fault", help=FAULT_HELP),
    duration: float | None = typer.Option(None, "--duration", help="Stop after N seconds."),
    no_live: bool = typer.Option(False, "--no-live", help="Plain output (no live view)."),
    workdir: Path | None = typer.Option(None, "--workdir",
                                        help="Keep the database and log here."),
) -> None:
    """Run ATP with built-in Crypto.com and Telegram emulators; Ctrl-C stops it.

    It trades in dry run (paper orders, positions and SL/TP pairs) on a few symbols."""
    from atp.demo import FAULTS, run_demo, unknown_faults

    unknown = unknown_faults(fault)
    if unknown:
        fail(f"--fault: unknown fault {', '.join(unknown)}; fix: use one of {', '.join(FAULTS)}")
    try:
        asyncio.run(run_demo(port, fault, duration, live=not no_live, workdir=workdir,
                             on_ready=None if port_file is None
                             else lambda bound: write_port_file(port_file, bound)))
    except OSError as exc:
        fail(f"atp demo could not start: {exc.strerror or exc} (is port {port} free? "
             "fix: pass --port N, or --port 0 for any free one)")
    except KeyboardInterrupt:
        pass
