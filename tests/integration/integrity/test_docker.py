"""The `containers` check against a real dockerd: healthy, unhealthy, exited, restarting
and missing compose services each get the right status."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from atp.integrity.checks import containers
from atp.integrity.context import CheckContext
from atp.integrity.report import Status
from atp.integrity.sources.docker import DockerSource

from . import dockerd

if not dockerd.available() and os.environ.get("ATP_REQUIRE_DOCKER") == "1":
    raise RuntimeError("docker.io and busybox-static are required (ATP_REQUIRE_DOCKER=1): "
                       "run scripts/ensure-integrity-tools.sh")
pytestmark = pytest.mark.skipif(not dockerd.available(), reason="dockerd not installed")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import docker

    daemon = dockerd.LoopbackDockerd(tmp_path_factory.mktemp("dockerd")).start()
    client = docker.DockerClient(base_url=daemon.url, timeout=30)
    client.daemon_url = daemon.url  # type: ignore[attr-defined]
    yield client
    client.close()
    daemon.stop()


def service(client: Any, project: str, name: str, command: str, *,
            health: str | None = None, restart: bool = False,
            compose_file: Path | None = None) -> Any:
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": name}
    if compose_file is not None:
        labels["com.docker.compose.project.config_files"] = str(compose_file)
    kwargs: dict[str, Any] = {}
    if health is not None:
        kwargs["healthcheck"] = {"test": ["CMD-SHELL", health], "interval": 200_000_000,
                                 "retries": 1, "start_period": 0}
    if restart:
        kwargs["restart_policy"] = {"Name": "always"}
    return client.containers.run(dockerd.IMAGE, ["sh", "-c", command], detach=True,
                                 name=f"{project}-{name}-1", labels=labels,
                                 network_mode="host", **kwargs)


def until(client: Any, name: str, done: Callable[[dict[str, Any]], bool]) -> None:
    """Wait for a container state (a condition with a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = client.api.inspect_container(name)["State"]
        if done(state):
            return
        time.sleep(0.05)
    raise AssertionError(f"{name}: state never reached: {state}")


def healthy(state: dict[str, Any]) -> bool:
    return bool((state.get("Health") or {}).get("Status") == "healthy")


async def check(client: Any, project: str | None) -> Any:
    ctx = CheckContext(api=None, now=datetime.now(UTC),  # type: ignore[arg-type]
                       window=timedelta(minutes=15),
                       docker=DockerSource(client.daemon_url), compose_project=project)
    try:
        return await containers.run(ctx)
    finally:
        assert ctx.docker is not None
        ctx.docker.close()


async def test_healthy_project(engine: Any, tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  backend: {}\n  db: {}\n")
    service(engine, "ok", "backend", "sleep 600", health="true", compose_file=compose)
    service(engine, "ok", "db", "sleep 600", compose_file=compose)
    until(engine, "ok-backend-1", healthy)
    result = await check(engine, "ok")
    assert result.status is Status.OK, result
    assert result.data["declared_services"] == ["backend", "db"]


async def test_unhealthy_backend_is_critical(engine: Any) -> None:
    service(engine, "sick", "backend", "sleep 600", health="echo refused; false")
    until(engine, "sick-backend-1",
          lambda s: (s.get("Health") or {}).get("Status") == "unhealthy")
    result = await check(engine, "sick")
    assert result.status is Status.CRITICAL
    assert "backend UNHEALTHY: refused" in result.summary
    assert "docker restart sick-backend-1" in (result.remediation or "")


async def test_exited_service_is_critical(engine: Any) -> None:
    service(engine, "ex", "backend", "sleep 600", health="true")
    service(engine, "ex", "db", "exit 3")
    until(engine, "ex-db-1", lambda s: s["Status"] == "exited")
    until(engine, "ex-backend-1", healthy)
    result = await check(engine, "ex")
    assert result.status is Status.CRITICAL and "service db exited (exit code 3)" in \
        result.summary


async def test_restarting_backend_is_critical(engine: Any) -> None:
    service(engine, "loop", "backend", "exit 1", restart=True)
    until(engine, "loop-backend-1", lambda s: s["Status"] == "restarting")
    result = await check(engine, "loop")
    assert result.status in (Status.CRITICAL, Status.WARNING), result
    assert "restart" in result.summary


async def test_missing_service_is_critical(engine: Any, tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  backend: {}\n  worker: {}\n")
    service(engine, "gone", "backend", "sleep 600", health="true", compose_file=compose)
    until(engine, "gone-backend-1", healthy)
    result = await check(engine, "gone")
    assert result.status is Status.CRITICAL and "service worker missing" in result.summary


async def test_no_project_named_and_several_found_is_skipped(engine: Any) -> None:
    result = await check(engine, None)
    assert result.status is Status.SKIPPED and "pass --compose-project" in result.summary


async def test_unknown_project_is_critical(engine: Any) -> None:
    result = await check(engine, "nothing-here")
    assert result.status is Status.CRITICAL and "no containers" in result.summary
