"""The containers verdict over `docker inspect`-shaped data: healthy, unhealthy, exited,
restarting, missing and OOM-killed services each get their status."""

from __future__ import annotations

from typing import Any

import pytest

from atp.integrity.checks.containers import judge
from atp.integrity.report import Status
from atp.integrity.sources.docker import ProjectState, container_info, services_of


def inspect(service: str, status: str = "running", health: str | None = "healthy",
            restarts: int = 0, exit_code: int = 0, oom: bool = False) -> dict[str, Any]:
    state: dict[str, Any] = {"Status": status, "ExitCode": exit_code, "OOMKilled": oom}
    if health is not None:
        state["Health"] = {"Status": health, "Log": [{"Output": "curl: (7) refused\n"}]}
    return {"Name": f"/prod-{service}-1", "RestartCount": restarts, "State": state,
            "Config": {"Labels": {"com.docker.compose.project": "prod",
                                  "com.docker.compose.service": service}}}


def project(*containers: dict[str, Any], declared: tuple[str, ...] = ()) -> ProjectState:
    return ProjectState("prod", [container_info(c) for c in containers], list(declared))


COMPOSE = "services:\n  backend:\n    image: atp\n  db:\n    image: postgres\n"


@pytest.mark.parametrize(("state", "status", "words"), [
    (project(inspect("backend"), inspect("db", health=None), declared=("backend", "db")),
     Status.OK, "2 services"),
    (project(inspect("backend", health="unhealthy"), inspect("db", health=None)),
     Status.CRITICAL, "backend UNHEALTHY: curl: (7) refused"),
    (project(inspect("backend"), inspect("db", "exited", None, exit_code=137, oom=True)),
     Status.CRITICAL, "service db exited (killed by the OOM killer)"),
    (project(inspect("backend", "restarting", None, restarts=5)),
     Status.CRITICAL, "backend restarting (crash loop, 5 restarts)"),
    (project(inspect("backend"), declared=("backend", "db")),
     Status.CRITICAL, "service db missing"),
    (project(inspect("db", health=None)), Status.CRITICAL, "service backend missing"),
    (project(inspect("backend", restarts=2)), Status.WARNING, "backend restarted 2 times"),
    (project(inspect("backend", health="starting")), Status.WARNING, "health starting"),
    (project(), Status.CRITICAL, "no containers"),
])
def test_judge(state: ProjectState, status: Status, words: str) -> None:
    result = judge(state)
    assert result.status is status, result
    assert words in result.summary
    if status is not Status.OK:
        assert result.remediation


def test_services_of_reads_the_compose_file() -> None:
    assert services_of(COMPOSE) == ["backend", "db"]
    assert services_of(": not yaml : [") == []
