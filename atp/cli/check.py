"""`atp check`: the runtime integrity check (product.md §4), local or over SSH."""

from __future__ import annotations

import asyncio
import os
import shlex
from datetime import UTC, datetime
from enum import StrEnum

import typer

from atp.cli.common import fail
from atp.integrity.checks import ALL_CHECK_IDS, CHECK_IDS
from atp.integrity.context import ProbeSpec
from atp.integrity.report import CheckResult, Report, Status, parse_duration
from atp.integrity.runner import evaluate
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.http import DEFAULT_URL
from atp.integrity.target import TargetSpec, open_target


class Format(StrEnum):
    text = "text"
    json = "json"
    nagios = "nagios"


def _local_setting(name: str) -> str | None:
    """One setting as `atp run` would read it (environment, then `.env`), without loading
    and validating all of them: pydantic-settings alone is ~200 ms of start-up."""
    for key, value in os.environ.items():
        if key.upper() == name and value:
            return value
    if not os.path.isfile(".env"):
        return None
    from dotenv import dotenv_values

    for key, found in dotenv_values(".env").items():
        if key.upper() == name and found:
            return found
    return None


def local_log_file() -> str | None:
    """LOG_FILE from the environment or `.env` (without failing on unrelated settings),
    else the log of the newest platform running on this machine (`atp demo`, `atp run`)."""
    configured = _local_setting("LOG_FILE")
    if configured:
        return configured
    from atp import local_runs

    for run in local_runs.running():
        if run.log_file:
            return run.log_file
    return None


def no_log_hint() -> str:
    """What to pass when no log was found: exact, naming a running platform if one is."""
    from atp import local_runs

    runs = local_runs.running()
    if runs:
        run = runs[0]
        return (f"the platform running here (atp {run.kind}, pid {run.pid}, {run.url}) logs "
                "only to its stdout: restart it with LOG_FILE=/path/atp.log, or pass "
                "--compose-project NAME to read a container's docker logs")
    return ("no platform is running on this machine and LOG_FILE is not set: pass "
            "--log-file PATH, or --compose-project NAME to read the backend container's "
            "docker logs")


def local_token() -> str | None:
    return _local_setting("API_TOKEN")


def _same_url(a: str, b: str) -> bool:
    def norm(u: str) -> str:
        return u.rstrip("/").replace("://localhost", "://127.0.0.1")

    return norm(a) == norm(b)


def probe_token(url: str) -> str | None:
    """The token of a local `atp demo` at `url`: public (its view prints it), so `atp
    check --probe` against the demo works unasked. None for any other target."""
    from atp import local_runs

    if any(r.kind == "demo" and _same_url(r.url, url) for r in local_runs.running()):
        from atp.demo import DEMO_API_TOKEN

        return DEMO_API_TOKEN
    return None


def local_data_paths() -> list[tuple[str, str]]:
    """The SQLite database's directory when DATABASE_URL (environment / .env) names one."""
    url = _local_setting("DATABASE_URL") or ""
    scheme, sep, rest = url.partition(":///")
    if not sep or not scheme.startswith("sqlite"):
        return []
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:":
        return []
    return [("database", os.path.dirname(os.path.abspath(path)))]


async def run_check(spec: TargetSpec, only: list[str] | None = None) -> Report:
    """Evaluate a target; an unreachable SSH host makes every check `unknown`."""
    try:
        async with open_target(spec) as ctx:
            return await evaluate(ctx, only)
    except SourceUnavailable as exc:
        offered = ALL_CHECK_IDS if spec.probe is not None else CHECK_IDS
        ids = [i for i in offered if not only or i in only]
        return Report([CheckResult(i, Status.UNKNOWN, f"could not reach the target: "
                                   f"{exc.reason}", remediation="check that `ssh HOST true` "
                                   "works without a prompt (keys, ~/.ssh/config alias)")
                       for i in ids], target=spec.describe(),
                      window_seconds=spec.window.total_seconds(), generated_at=datetime.now(UTC))


def check(
    url: str = typer.Option(DEFAULT_URL, "--url", help="The backend's base URL (on the SSH "
                            "host when --ssh is given)."),
    ssh: str | None = typer.Option(None, "--ssh", help="Check a remote host through the system "
                                   "ssh client (~/.ssh/config aliases work)."),
    compose_project: str | None = typer.Option(
        None, "--compose-project", help="Docker Compose project of the platform (default: the "
        "one with a `backend` service, if any)."),
    window: str = typer.Option("15m", "--window", help="How far back to reconcile: 90s, 15m, "
                               "2h."),
    fmt: Format = typer.Option(Format.text, "--format", help="text, json or nagios."),
    log_file: str | None = typer.Option(None, "--log-file", help="The backend's structured "
                                        "log (default LOG_FILE locally; remote path with "
                                        "--ssh; else docker logs of the backend)."),
    docker_host: str | None = typer.Option(None, "--docker-host", help="Docker Engine URL "
                                           "(with --ssh: the remote socket path)."),
    ssh_option: list[str] = typer.Option([], "--ssh-option", help="Extra ssh arguments, e.g. "
                                         "'-F ./ssh_config' (repeatable)."),
    only: list[str] = typer.Option([], "--check", help="Run only this check id "
                                   "(repeatable)."),
    probe: bool = typer.Option(False, "--probe", help="Also send a TEST-marked alert through "
                               "the real path (never an order) and report end_to_end."),
    probe_symbol: str | None = typer.Option(None, "--probe-symbol", help="The watched symbol "
                                            "to probe (default: the first enabled one)."),
    probe_timeout: str = typer.Option("30s", "--probe-timeout", help="How long to wait for "
                                      "the probe's Telegram message id."),
    api_token: str | None = typer.Option(None, "--api-token", envvar="ATP_API_TOKEN",
                                         show_default=False, help="The platform's API token "
                                         "for --probe (default: API_TOKEN locally; "
                                         "prefer the ATP_API_TOKEN variable)."),
    data_path: list[str] = typer.Option([], "--data-path", help="A data directory on the "
                                        "target host for host_resources (repeatable; "
                                        "default: the SQLite database's and the log's)."),
    threshold: list[str] = typer.Option([], "--threshold", help="host_resources threshold "
                                        "NAME=VALUE, e.g. disk_warn_pct=20 (repeatable; "
                                        "also ATP_CHECK_DISK_WARN_PCT=20)."),
) -> None:
    """Prove the chain (signals → monitor → alerts → Telegram → exchange → containers) works, or name where it breaks, with the fix.

    Exit code 0 ok, 1 warning, 2 critical, 3 unknown.
    """  # noqa: E501
    from atp.integrity.render import RENDERERS

    try:
        span = parse_duration(window)
    except ValueError as exc:
        fail(f"--window: {exc}", 3)
    unknown = [c for c in only if c not in ALL_CHECK_IDS]
    if unknown:
        fail(f"--check: unknown id {', '.join(unknown)} (known: {', '.join(ALL_CHECK_IDS)})",
             3)
    probe = probe or "end_to_end" in only
    try:
        wait = parse_duration(probe_timeout).total_seconds()
    except ValueError as exc:
        fail(f"--probe-timeout: {exc}", 3)
    from atp.integrity.sources.host import Thresholds

    try:
        limits = Thresholds.from_env(os.environ, threshold)
    except ValueError as exc:
        fail(f"--threshold: {exc}", 3)
    token = api_token or (None if ssh else local_token())
    if probe and token is None and not ssh:
        token = probe_token(url)
    hint = ("pass --api-token or set ATP_API_TOKEN to the platform's API_TOKEN" if ssh else
            "set API_TOKEN (the platform's, in the environment or ./.env) or ATP_API_TOKEN, "
            "or pass --api-token")
    spec = TargetSpec(
        url=url, ssh=ssh, ssh_args=[a for o in ssh_option for a in shlex.split(o)],
        compose_project=compose_project, window=span,
        log_file=log_file or (None if ssh else local_log_file()), docker_host=docker_host,
        token=token,
        data_paths=[("data", p) for p in data_path] or ([] if ssh else local_data_paths()),
        thresholds=limits,
        probe=ProbeSpec(probe_symbol.upper() if probe_symbol else None, wait, hint)
        if probe else None,
    )
    report = asyncio.run(run_check(spec, only or None))
    typer.echo(RENDERERS[fmt.value](report))
    raise typer.Exit(report.exit_code)
