"""Runbook step g, from the Docker Engine: every compose service up, the backend's
healthcheck healthy, restart counts and OOM kills reported.

`skipped` when the platform does not run in containers (no Engine, or no compose project
given or found); `unknown` when a project was named but the Engine cannot be read.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

from atp.integrity.checks._common import limit_list, plural
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.docker import ContainerInfo, ProjectState

ID = "containers"
TITLE = "Docker container status"
BACKEND = "backend"
# A restart this recent is a warning (something killed or crashed the process); an older
# one is reported in the details and the data, the stack having run cleanly since.
RECENT_RESTART = timedelta(hours=1)


def _started(c: ContainerInfo) -> datetime | None:
    """Docker's StartedAt (RFC 3339 with nanoseconds) as a datetime; None if unset."""
    raw = (c.started_at or "").replace("Z", "+00:00")
    if not raw or raw.startswith("0001-"):
        return None
    raw = re.sub(r"\.(\d{6})\d+", r".\1", raw)  # nanoseconds -> microseconds
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def _restarted_recently(c: ContainerInfo, now: datetime | None) -> bool:
    started = _started(c)
    return now is None or started is None or now - started < RECENT_RESTART


def _line(c: ContainerInfo) -> str:
    bits = [c.state + (f" ({c.health})" if c.health else "")]
    if c.state != "running" and c.exit_code is not None:
        bits.append(f"exit code {c.exit_code}")
    if c.oom_killed:
        bits.append("OOM-killed")
    if c.restart_count:
        bits.append(f"{plural(c.restart_count, 'restart')}")
    return f"{c.name} [{c.service}]: " + ", ".join(bits)


def judge(state: ProjectState, now: datetime | None = None) -> CheckResult:
    """The verdict for one project's containers (pure: unit-tested on inspect data).
    `now` dates the restarts: without it every restart counts as recent."""
    project = state.project
    backends = [c.name for c in state.containers if c.service == BACKEND]
    # compose v2 names it PROJECT-backend-1, docker-compose 1.x PROJECT_backend_1
    backend_name = backends[0] if backends else f"{project}-{BACKEND}-1"
    restart = f"docker restart {backend_name}"
    if not state.containers:
        return CheckResult(ID, Status.CRITICAL, f"no containers for compose project "
                           f"'{project}'", [], f"start it: docker compose -p {project} up -d",
                           {"project": project})
    by_service: dict[str, list[ContainerInfo]] = {}
    for c in state.containers:
        by_service.setdefault(c.service, []).append(c)
    details = [_line(c) for c in state.containers]
    critical: list[str] = []
    warning: list[str] = []
    missing = [s for s in state.declared_services if s not in by_service]
    if BACKEND not in by_service and BACKEND not in missing:
        missing.append(BACKEND)
    for s in missing:
        details.append(f"{s}: no container (declared in the compose file)"
                       if s in state.declared_services else f"{s}: no container")
        critical.append(f"service {s} missing")
    for service, cs in sorted(by_service.items()):
        c = max(cs, key=lambda x: x.state == "running")
        label = "backend" if service == BACKEND else f"service {service}"
        if c.state == "restarting":
            critical.append(f"{label} restarting (crash loop, {c.restart_count} restarts)")
        elif c.state != "running":
            why = "killed by the OOM killer" if c.oom_killed else f"exit code {c.exit_code}"
            critical.append(f"{label} {c.state} ({why})")
        elif c.health == "unhealthy":
            text = f"{label} UNHEALTHY" + (f": {c.health_log}" if c.health_log else "")
            (critical if service == BACKEND else warning).append(text)
        elif c.health == "starting":
            warning.append(f"{label} health starting")
        elif service == BACKEND and c.health is None:
            warning.append("backend has no healthcheck")
        if c.state == "running" and c.oom_killed:
            warning.append(f"{label} was OOM-killed")
        if c.state == "running" and c.restart_count and _restarted_recently(c, now):
            warning.append(f"{label} restarted {plural(c.restart_count, 'time')}, last at "
                           f"{c.started_at or '?'}")
    data = {"project": project, "declared_services": state.declared_services,
            "containers": [{"name": c.name, "service": c.service, "state": c.state,
                            "health": c.health, "restart_count": c.restart_count,
                            "oom_killed": c.oom_killed, "exit_code": c.exit_code,
                            "started_at": c.started_at}
                           for c in state.containers], "missing": missing}
    details = limit_list(details, 30)
    if critical:
        # A stopped dependency (db) first: the backend is unhealthy because of it and
        # recovers by itself once it is back; restarting the backend would not help.
        stopped = [s for s, cs in by_service.items() if s != BACKEND
                   and not any(c.state == "running" for c in cs)]
        backend_fix = (f"{restart}; then read why: docker logs --tail 200 {backend_name}")
        if stopped or missing:
            fix = (f"start the stopped services: docker compose -p {project} up -d; read "
                   "docker logs of each for why it stopped")
            if any("backend" in c for c in critical):
                fix += f"; if the backend stays unhealthy after that: {backend_fix}"
        else:
            fix = backend_fix
        return CheckResult(ID, Status.CRITICAL, "; ".join(critical), details, fix, data)
    if warning:
        return CheckResult(ID, Status.WARNING, "; ".join(warning), details,
                           f"read docker logs of the named containers; {restart} if the "
                           "backend is affected", data)
    n = len(by_service)
    restarts = sum(c.restart_count for c in state.containers if c.service == BACKEND)
    return CheckResult(ID, Status.OK, f"{plural(n, 'service')} of '{project}' up; backend "
                       f"healthy; backend restarts: {restarts}", details, None, data)


async def run(ctx: CheckContext) -> CheckResult:
    if ctx.docker is None:
        return CheckResult(ID, Status.SKIPPED, "not running in containers (no Docker Engine "
                           "to read)")
    docker = ctx.docker
    project = ctx.compose_project
    try:
        if project is None:
            found = await asyncio.to_thread(docker.projects_with, BACKEND)
            if len(found) != 1:
                why = ("no compose project with a backend service" if not found else
                       f"several compose projects ({', '.join(found)}): pass --compose-project")
                return CheckResult(ID, Status.SKIPPED, f"not running in containers ({why})")
            project = found[0]
        state = await asyncio.to_thread(docker.project, project)
    except SourceUnavailable as exc:
        if ctx.compose_project is None:
            return CheckResult(ID, Status.SKIPPED, f"not running in containers ({exc.reason})")
        raise
    return judge(state, ctx.now)
