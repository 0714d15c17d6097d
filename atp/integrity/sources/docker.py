"""The Docker Engine as a check source (docker SDK): the compose project's containers.

Compose labels every container with its project and service; the project's compose file
(label `com.docker.compose.project.config_files`) names the services that should exist,
so a service with no container at all is reported missing, not silently absent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atp.integrity.sources import SourceUnavailable

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
CONFIG_FILES = "com.docker.compose.project.config_files"
DEFAULT_SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    name: str
    service: str
    state: str  # running | exited | restarting | paused | created | dead
    health: str | None  # healthy | unhealthy | starting | None (no healthcheck)
    restart_count: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    health_log: str | None = None
    started_at: str | None = None


@dataclass
class ProjectState:
    project: str
    containers: list[ContainerInfo]
    declared_services: list[str] = field(default_factory=list)


def _read_local(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def services_of(compose_text: str) -> list[str]:
    """Service names of a compose file (YAML); [] when it cannot be read."""
    import yaml

    try:
        doc = yaml.safe_load(compose_text)
    except yaml.YAMLError:
        return []
    services = doc.get("services") if isinstance(doc, dict) else None
    return sorted(str(s) for s in services) if isinstance(services, dict) else []


def container_info(attrs: dict[str, Any]) -> ContainerInfo:
    """A `docker inspect` document reduced to what the check judges."""
    state = attrs.get("State") or {}
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    health = state.get("Health") or None
    log = (health or {}).get("Log") or []
    return ContainerInfo(
        name=str(attrs.get("Name", "")).lstrip("/"),
        service=str(labels.get(SERVICE, "")),
        state=str(state.get("Status", "unknown")),
        health=None if health is None else str(health.get("Status")),
        restart_count=int(attrs.get("RestartCount") or 0),
        exit_code=state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        health_log=str(log[-1].get("Output", "")).strip()[:300] if log else None,
        started_at=state.get("StartedAt"),
    )


class DockerSource:
    """The Engine at `base_url` (None: the environment's, e.g. unix:///var/run/docker.sock)."""

    def __init__(self, base_url: str | None = None,
                 read_file: Callable[[str], str | None] = _read_local) -> None:
        self.base_url = base_url
        self.read_file = read_file
        self._client: Any = None

    @property
    def name(self) -> str:
        return f"Docker Engine {self.base_url or '(environment)'}"

    def client(self) -> Any:
        if self._client is None:
            if not self.base_url and not os.environ.get("DOCKER_HOST") \
                    and not Path(DEFAULT_SOCKET).exists():
                # No engine to ask: say so without importing the SDK (requests, urllib3:
                # ~80 ms of every local `atp check` on a host without Docker).
                raise SourceUnavailable("docker", f"{self.name} not reachable: no socket at "
                                        f"{DEFAULT_SOCKET} and DOCKER_HOST unset")
            try:
                import docker
            except ImportError:
                raise SourceUnavailable("docker", "the docker SDK is not installed") from None
            try:
                if self.base_url:
                    self._client = docker.DockerClient(base_url=self.base_url, timeout=10)
                else:
                    self._client = docker.from_env(timeout=10)
                self._client.ping()
            except Exception as exc:  # DockerException, requests errors: all "unreachable"
                self._client = None
                raise SourceUnavailable("docker", f"{self.name} not reachable: "
                                        f"{type(exc).__name__}") from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def projects_with(self, service: str = "backend") -> list[str]:
        """Compose projects that have a container for `service` (autodetection)."""
        found = self.client().containers.list(all=True, filters={"label": f"{SERVICE}={service}"})
        return sorted({str(c.labels.get(PROJECT)) for c in found if c.labels.get(PROJECT)})

    def project(self, project: str) -> ProjectState:
        listed = self.client().containers.list(all=True,
                                               filters={"label": f"{PROJECT}={project}"})
        infos = [container_info(c.attrs) for c in listed]
        declared: set[str] = set()
        for c in listed:
            for path in str(c.labels.get(CONFIG_FILES) or "").split(","):
                if path and (text := self.read_file(path)) is not None:
                    declared.update(services_of(text))
        return ProjectState(project, sorted(infos, key=lambda i: (i.service, i.name)),
                            sorted(declared))

    def container(self, name: str) -> Any:
        """The container `name`; `PROJECT-SERVICE-N` (compose v2's spelling) also finds
        docker-compose 1.x's `PROJECT_SERVICE_N`, by the compose labels."""
        import docker

        client = self.client()
        try:
            return client.containers.get(name)
        except docker.errors.NotFound:
            m = re.fullmatch(r"(.+)-([^-]+)-(\d+)", name)
            found = [] if m is None else client.containers.list(all=True, filters={
                "label": [f"{PROJECT}={m[1]}", f"{SERVICE}={m[2]}"]})
            if not found:
                raise
            return found[0]

    def root_dir(self) -> str:
        """The Engine's data directory (images, containers, named volumes)."""
        root = self.client().info().get("DockerRootDir")
        if not root:
            raise SourceUnavailable("docker", f"{self.name} did not report DockerRootDir")
        return str(root)

    def container_logs(self, name: str, since: Any = None, tail: int | None = None) -> bytes:
        container = self.container(name)
        out = container.logs(stdout=True, stderr=True, since=since,
                             tail="all" if tail is None else tail)
        return bytes(out)
