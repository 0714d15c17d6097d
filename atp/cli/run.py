"""`atp run`: production — real Crypto.com and Telegram, settings from the environment."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import Any

import typer

from atp.cli.common import PORT_FILE_HELP, fail, settings_or_exit, write_port_file


def run(
    skip_migration_check: bool = typer.Option(False, help="Start even if the schema is old."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535,
                                    help="Listen on this port instead of API_PORT "
                                         "(0 = any free port)."),
    port_file: Path | None = typer.Option(None, "--port-file", help=PORT_FILE_HELP),
) -> None:
    """Start the platform; refuses to start, listing what is missing or invalid."""
    from atp.config import SettingsError, mask_url, require

    settings = settings_or_exit()
    try:
        if settings.alerts_enabled:
            # Failure mode 5: Telegram silent for days because the token was missing.
            require(settings, "telegram_bot_token", "telegram_chat_id")
    except SettingsError as exc:
        fail(exc.render() + "\n  (or set ALERTS_ENABLED=false to run without Telegram)")
    from atp.store import migrate

    if not skip_migration_check:
        try:
            current, head = migrate.current(settings.database_url), migrate.head()
        except Exception as exc:
            from atp.store.urls import unusable_reason

            why = unusable_reason(settings.database_url)
            if why is not None:
                fail(f"database {mask_url(settings.database_url)} cannot be written: {why}")
            fail(f"database {mask_url(settings.database_url)} is not reachable "
                 f"({type(exc).__name__}); fix: check DATABASE_URL and that the server runs")
        if current != head:
            fail(f"database schema is at {current or 'nothing'}, this ATP needs {head}; "
                 "fix: run `atp db upgrade`")
    asyncio.run(_serve(settings, port, port_file))


async def _serve(settings: object, port: int | None, port_file: Path | None) -> None:
    from atp import local_runs
    from atp.config import Settings, mask_url
    from atp.logging import setup_logging
    from atp.runtime import PlatformApi, build_platform
    from atp.store.errors import StoreError

    assert isinstance(settings, Settings)
    try:
        setup_logging(settings.log_level, settings.log_file, fmt=settings.log_format,
                      max_bytes=settings.log_max_bytes, backups=settings.log_backups)
    except OSError as exc:
        fail(f"LOG_FILE={settings.log_file}: {exc.strerror or exc}; fix: point LOG_FILE at a "
             "file in a writable directory (not a directory), or leave it empty")
    platform = build_platform(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await platform.start()
    except StoreError as exc:
        with contextlib.suppress(Exception):
            await platform.stop()
        from atp.store.urls import unusable_reason

        why = unusable_reason(settings.database_url)
        if why is not None:
            fail(f"database {mask_url(settings.database_url)} cannot be written: {why}")
        fail(f"database {mask_url(settings.database_url)} refused a write ({exc}); fix: make "
             "the database file and its directory writable (SQLite), check free disk space "
             "and that the user may write to DATABASE_URL")
    bind = settings.api_port if port is None else port
    api = PlatformApi(platform, settings.api_host, bind)
    registration = None
    exit_code = 0
    try:
        try:
            await api.start()
        except OSError as exc:
            fail(f"cannot listen on {settings.api_host}:{bind}: {exc.strerror or exc}; fix: "
                 "stop what uses the port (another ATP?), set API_PORT to a free port, or "
                 "pass --port 0 for any free port")
        logging.getLogger("atp.run").info("API listening on %s", api.base_url)
        if port_file is not None:
            write_port_file(port_file, api.server.port)
        registration = local_runs.register("run", api.base_url, settings.log_file)
        stalled = asyncio.create_task(_exit_when_stalled(platform, settings, stop))
        await stop.wait()
        stalled.cancel()
        if stalled.done() and not stalled.cancelled() and stalled.result():
            exit_code = STALLED_EXIT
    finally:
        local_runs.unregister(registration)
        await api.stop()
        await platform.stop()
    if exit_code:
        raise typer.Exit(exit_code)


STALLED_EXIT = 3


async def _exit_when_stalled(platform: Any, settings: Any, stop: asyncio.Event) -> bool:
    """Self-healing: Docker never restarts an unhealthy container by itself, so a monitor
    that completed no cycle for STALL_EXIT_INTERVALS intervals ends the process (exit 3)
    and the restart policy starts a fresh one. True when it did."""
    intervals = int(settings.stall_exit_intervals)
    if intervals <= 0:
        return False
    limit = intervals * float(settings.monitor_interval_seconds)
    started = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(min(5.0, limit / 4))
        ago = platform.last_update_seconds_ago()
        idle = (time.monotonic() - started) if ago is None else float(ago)
        if idle > limit:
            logging.getLogger("atp.run").error(
                "[WATCHDOG] monitor completed no cycle for %.0f s (%d intervals); exiting "
                "with code %d so the restart policy restarts the backend", idle, intervals,
                STALLED_EXIT)
            stop.set()
            return True
    return False
