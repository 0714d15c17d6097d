"""`atp logs`: the backend's structured log, local or remote, filtered, human-readable —
the successor of `aws_backend_logs.sh --tail`."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import typer

from atp.cli.check import local_log_file, no_log_hint
from atp.cli.common import fail
from atp.integrity.report import parse_duration
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.docker import DockerSource
from atp.integrity.sources.logs import (
    LEVELS,
    CommandLog,
    DockerLog,
    FileLog,
    LogRecord,
    LogSource,
    RemoteFileLog,
    format_record,
    iter_records,
    parse_line,
)
from atp.integrity.sources.ssh import SshTunnel


def matches(record: LogRecord, marker: str | None, symbol: str | None, since: datetime | None,
            level: int) -> bool:
    if marker and (record.marker or "").upper() != marker.upper().strip("[]"):
        return False
    if symbol and record.fields.get("symbol") != symbol and f"symbol={symbol}" not in \
            record.event:
        return False
    if since is not None and record.timestamp is not None and record.timestamp < since:
        return False
    return LEVELS.get(record.level, 20) >= level


def _tail_files(source: FileLog, tail: int, keep: Callable[[LogRecord], bool]
                ) -> list[LogRecord]:
    """The last `tail` kept records, reading rotated files (newest first) only while the
    newer ones hold fewer than `tail`."""
    kept: list[LogRecord] = []
    for path in reversed(source.files()):
        if len(kept) >= tail:
            break
        part = deque((r for r in iter_records(FileLog(path).blocks()) if keep(r)),
                     maxlen=tail - len(kept))
        kept = [*part, *kept]
    return kept


def _follow_file(path: Path) -> Iterator[str]:
    """New lines appended to a local file, as `tail -F` would show them."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        handle.seek(0, 2)
        while True:
            line = handle.readline()
            if line:
                yield line
            else:
                time.sleep(0.5)


def logs(
    ssh: str | None = typer.Option(None, "--ssh", help="Read the log on this host (system "
                                   "ssh; ~/.ssh/config aliases work)."),
    tail: int | None = typer.Option(None, "--tail", help="Only the last N matching lines."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    marker: str | None = typer.Option(None, "--marker", help="Only this runbook marker, e.g. "
                                      "ALERT_EMIT_FINAL."),
    symbol: str | None = typer.Option(None, "--symbol", help="Only lines about this symbol."),
    since: str | None = typer.Option(None, "--since", help="Only the last 90s / 15m / 2h."),
    level: str = typer.Option("debug", "--level", help="Minimum level: debug, info, warning, "
                              "error."),
    log_file: str | None = typer.Option(None, "--log-file", help="The log file (default "
                                        "LOG_FILE, else the log of the platform running "
                                        "here; a remote path with --ssh)."),
    compose_project: str | None = typer.Option(None, "--compose-project", help="Read `docker "
                                               "logs` of this project's backend container."),
    raw: bool = typer.Option(False, "--raw", help="Print the JSON lines as stored."),
    ssh_option: list[str] = typer.Option([], "--ssh-option", help="Extra ssh arguments "
                                         "(repeatable)."),
) -> None:
    """Print the backend's structured log, filtered by marker, symbol, time and level."""
    try:
        cutoff = None if since is None else datetime.now(UTC) - parse_duration(since)
    except ValueError as exc:
        fail(f"--since: {exc}")
    if level.lower() not in LEVELS:
        fail(f"--level: '{level}' is not one of debug, info, warning, error")
    floor = LEVELS[level.lower()]
    path = log_file or (None if ssh else local_log_file())
    if path is None and compose_project is None:
        fail(f"no log to read: {no_log_hint()}")
    tunnel: SshTunnel | None = None
    docker: DockerSource | None = None
    try:
        if ssh:
            tunnel = SshTunnel(ssh, "http://127.0.0.1:1",
                               remote_docker_socket=None if path else "/var/run/docker.sock",
                               ssh_args=[a for o in ssh_option for a in shlex.split(o)]).open()
        source: LogSource
        if path:
            if tunnel is not None:
                if tail and not (marker or symbol or since):
                    source = CommandLog(tunnel.command(["tail", "-n", str(tail), path]),
                                        f"{ssh}:{path}")
                else:  # the window and the marker are filtered on the host
                    source = RemoteFileLog(tunnel.command, path, f"{ssh}:{path}",
                                           needle=f"[{marker.upper().strip('[]')}]"
                                           if marker else "")
            else:
                source = FileLog(path)
        else:
            assert compose_project is not None
            docker = DockerSource(tunnel.docker_url if tunnel else None)
            source = DockerLog(docker, f"{compose_project}-backend-1")

        def show(record: LogRecord) -> str:
            return record.raw if raw else format_record(record)

        picked = (r for r in iter_records(source.blocks(cutoff))
                  if matches(r, marker, symbol, cutoff, floor))
        if tail is not None and cutoff is None and isinstance(source, FileLog):
            for record in _tail_files(source, tail, lambda r: matches(r, marker, symbol,
                                                                      None, floor)):
                typer.echo(show(record))
        elif tail is not None:
            for record in deque(picked, maxlen=tail):
                typer.echo(show(record))
        else:
            for record in picked:
                typer.echo(show(record))
        if follow:
            lines: Iterator[str]
            if tunnel is not None and path:
                proc = subprocess.Popen(tunnel.command(["tail", "-n", "0", "-F", path]),
                                        stdout=subprocess.PIPE, text=True)
                assert proc.stdout is not None
                lines = iter(proc.stdout)
            elif path:
                lines = _follow_file(Path(path))
            else:
                fail("--follow with docker logs: use docker logs -f")
            for line in lines:
                record = parse_line(line)
                if matches(record, marker, symbol, None, floor):
                    typer.echo(show(record))
                    sys.stdout.flush()
    except SourceUnavailable as exc:
        fail(f"cannot read the log: {exc.reason}")
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `atp logs | head`
        pass
    finally:
        if docker is not None:
            docker.close()
        if tunnel is not None:
            tunnel.close()
