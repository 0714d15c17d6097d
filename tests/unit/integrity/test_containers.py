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


def test_restarts_are_a_warning_only_while_recent() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    doc = inspect("backend", restarts=3)
    doc["State"]["StartedAt"] = "2026-12-02T11:50:00.123456789Z"
    recent = judge(project(doc), now)
    assert recent.status is Status.WARNING
    assert "backend restarted 3 times, last at 2026-12-02T11:50" in recent.summary
    old = judge(project(doc), now + timedelta(hours=2))
    assert old.status is Status.OK
    assert "backend restarts: 3" in old.summary
    assert old.data["containers"][0]["restart_count"] == 3


def test_remediation_names_a_compose_v1_container() -> None:
    doc = inspect("backend", health="unhealthy")
    doc["Name"] = "/prod_backend_1"  # docker-compose 1.x spells it with underscores
    result = judge(project(doc))
    assert "docker restart prod_backend_1" in (result.remediation or "")


def test_a_stopped_db_is_fixed_first_not_by_restarting_the_backend() -> None:
    result = judge(project(inspect("backend", health="unhealthy"),
                           inspect("db", "exited", None), declared=("backend", "db")))
    assert result.status is Status.CRITICAL
    assert "service db exited (exit code 0)" in result.summary
    assert (result.remediation or "").startswith(
        "start the stopped services: docker compose -p prod up -d")
    assert "if the backend stays unhealthy after that: docker restart prod-backend-1" in \
        (result.remediation or "")
