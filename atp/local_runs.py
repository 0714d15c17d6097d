"""Platforms running on this machine, so `atp logs` and `atp check` find them unasked.

`atp run` and `atp demo` each leave a small JSON file (pid, API URL, log file) in the
state directory (`ATP_STATE_DIR`, else `$XDG_STATE_HOME/atp`, else `~/.local/state/atp`)
and remove it when they stop; a reader ignores files whose process is gone (a SIGKILL
leaves one behind). Standard library only: the CLI reads it before loading anything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LocalRun:
    pid: int
    kind: str  # run | demo
    url: str
    log_file: str | None
    started_at: float


def state_dir() -> Path:
    explicit = os.environ.get("ATP_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "atp"


def _runs_dir() -> Path:
    return state_dir() / "runs"


def register(kind: str, url: str, log_file: str | None) -> Path | None:
    """Record this process; None when the state directory is not writable (never fatal:
    finding the log is a convenience, not a reason to refuse to start)."""
    run = LocalRun(os.getpid(), kind, url, log_file, time.time())
    path = _runs_dir() / f"{run.pid}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(run)), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        return None
    return path


def unregister(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running() -> list[LocalRun]:
    """Live platforms on this machine, newest first."""
    found: list[LocalRun] = []
    try:
        entries = list(_runs_dir().glob("*.json"))
    except OSError:
        return []
    for entry in entries:
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            run = LocalRun(int(data["pid"]), str(data["kind"]), str(data["url"]),
                           data.get("log_file"), float(data["started_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(run.pid):
            found.append(run)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    return sorted(found, key=lambda r: r.started_at, reverse=True)
