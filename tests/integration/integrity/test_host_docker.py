"""host_resources with a real Docker Engine as the target's: the Engine's data root
(DockerRootDir, what images, containers and named volumes fill) is judged with the rest,
and a critical disk names the Docker clean-up in its fix."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from atp.integrity.checks import host_resources
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources.docker import DockerSource
from atp.integrity.sources.host import LocalHost, Thresholds
from atp.integrity.sources.http import ApiSource

from . import dockerd

if not dockerd.available() and os.environ.get("ATP_REQUIRE_DOCKER") == "1":
    raise RuntimeError("docker.io and busybox-static are required (ATP_REQUIRE_DOCKER=1): "
                       "run scripts/ensure-integrity-tools.sh")
pytestmark = pytest.mark.skipif(not dockerd.available(), reason="dockerd not installed")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dockerd.LoopbackDockerd]:
    server = dockerd.LoopbackDockerd(tmp_path_factory.mktemp("dockerd")).start()
    yield server
    server.stop()


async def _run(daemon: dockerd.LoopbackDockerd, thresholds: Thresholds) -> CheckResult:
    docker = DockerSource(daemon.url)
    ctx = CheckContext(api=ApiSource("http://127.0.0.1:1"), now=datetime.now(UTC),
                       window=timedelta(minutes=15), docker=docker, compose_project="atp",
                       host=LocalHost(), thresholds=thresholds)
    try:
        return await host_resources.run(ctx)
    finally:
        docker.close()


async def test_docker_root_is_read_and_named_in_the_fix(daemon: dockerd.LoopbackDockerd) -> None:
    root = str(daemon.root / "data")
    result = await _run(daemon, Thresholds())
    assert result.status is Status.OK, result.as_dict()
    assert any(f"Docker root {root}" in " ".join(d["paths"]) for d in result.data["disks"])
    forced = await _run(daemon, Thresholds(disk_crit_pct=99.9))
    assert forced.status is Status.CRITICAL and forced.remediation
    assert "docker system prune" in forced.remediation
