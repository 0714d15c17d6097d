"""Start-up stays cheap by construction (issue 10; figures in bench/startup.py): what
`atp --help` and `atp check` import is asserted here, not their time, so this cannot
flake on a busy machine. Each runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atp.cli.main import COMMANDS, app, load_command
from atp.integrity.sources.docker import DEFAULT_SOCKET

# Heavy for any command that does not need them (ccxt alone is ~400 ms of imports).
NEVER_AT_START = ("ccxt", "talib", "numpy", "sqlalchemy", "alembic", "fastapi", "starlette",
                  "uvicorn", "pydantic_settings", "structlog", "aiohttp", "telegram",
                  "rich", "pygments", "atp.engine", "atp.store", "atp.exchange", "atp.api",
                  "atp.config", "atp.domain.indicators")
# `atp --help` needs Typer and the command table only. (pydantic: Typer's own coercion of
# option values, loaded once a command with options is invoked.)
NOT_FOR_HELP = (*NEVER_AT_START, "pydantic", "httpx", "atp.integrity", "atp.cli.check")
# `atp check` on a host without Docker does not load the Docker SDK either, and it filters
# on event kinds (`atp.event_kinds`) without building their payload classes.
NO_DOCKER = not Path(DEFAULT_SOCKET).exists()
NOT_FOR_CHECK = (*NEVER_AT_START, "atp.events",
                 *(("docker", "requests", "yaml") if NO_DOCKER else ()))

PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(k for k, v in sys.modules.items() if v)),
                              file=sys.stderr))
from atp.cli.main import app
sys.argv = ["atp", *json.loads(sys.argv[1])]
app()
"""


def modules_loaded(args: list[str]) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True,
                          text=True, timeout=60, check=False,
                          env={**os.environ, "DOCKER_HOST": ""})
    return set(json.loads(done.stderr.strip().splitlines()[-1])), done


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_help_loads_no_command_module():
    modules, done = modules_loaded(["--help"])
    assert done.returncode == 0, done.stderr
    assert loaded(modules, NOT_FOR_HELP) == []
    for name in COMMANDS:
        assert name in done.stdout


def test_check_loads_only_what_it_needs():
    with socket.socket() as held:  # bound, never listening: refused at once, and ours
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        modules, done = modules_loaded(["check", "--url", url, "--format", "json"])
    assert done.returncode == 2, done.stdout  # backend_health critical: nothing answers
    assert json.loads(done.stdout)["checks"][0]["id"] == "backend_health"
    assert loaded(modules, NOT_FOR_CHECK) == []
    assert "httpx" in modules and "atp.integrity.runner" in modules  # it did run


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_help_is_the_commands_own(name: str):
    command = load_command(name)
    own = (command.help or "").split("\n\n")[0].replace("\n", " ").strip()
    assert COMMANDS[name][1] == own


def test_every_command_runs_through_the_lazy_table():
    result = CliRunner().invoke(app, ["db", "--help"])
    assert result.exit_code == 0 and "upgrade" in result.output
    result = CliRunner().invoke(app, ["no-such-command"])
    assert result.exit_code == 2 and "No such command" in result.output
