"""Assemble a check target from command-line choices: local or over SSH, which log,
which Docker Engine. The CLI and the bench use this; the watchdog builds its own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from atp.integrity.context import CheckContext, ProbeSpec
from atp.integrity.sources.docker import DockerSource
from atp.integrity.sources.host import HostSource, LocalHost, SshHost, Thresholds
from atp.integrity.sources.http import DEFAULT_URL, ApiSource
from atp.integrity.sources.logs import DockerLog, FileLog, LogSource, RemoteFileLog
from atp.integrity.sources.ssh import SshTunnel


@dataclass
class TargetSpec:
    url: str = DEFAULT_URL
    ssh: str | None = None
    ssh_args: list[str] = field(default_factory=list)
    compose_project: str | None = None
    window: timedelta = timedelta(minutes=15)
    log_file: str | None = None
    docker_host: str | None = None  # local: Engine URL; with --ssh: the remote socket path
    use_docker: bool = True
    token: str | None = None
    # host_resources: paths on the target host to judge (what, path), and the thresholds
    data_paths: list[tuple[str, str]] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)
    probe: ProbeSpec | None = None

    def describe(self) -> str:
        return f"{self.url} via ssh {self.ssh}" if self.ssh else self.url


def _backend_container(project: str) -> str:
    return f"{project}-backend-1"


LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "")


def _host_source(spec: TargetSpec, tunnel: SshTunnel | None
                 ) -> tuple[HostSource | None, list[tuple[str, str]], str | None]:
    """Where host_resources reads: this machine for a loopback URL, the SSH host, or
    nothing (a remote URL without --ssh: its disks are out of reach from here)."""
    paths = list(spec.data_paths)
    if spec.log_file:
        paths.append(("log", os.path.dirname(spec.log_file) or "."))
    if tunnel is not None:
        return SshHost(tunnel.command, name=f"ssh {spec.ssh}"), paths, None
    host = urlsplit(spec.url).hostname or ""
    if host in LOOPBACK:
        return LocalHost(), paths, None
    return None, paths, (f"the target {host} is another host reached by URL only: pass "
                         f"--ssh {host} to read its disk and memory")


@contextlib.asynccontextmanager
async def open_target(spec: TargetSpec) -> AsyncIterator[CheckContext]:
    tunnel: SshTunnel | None = None
    docker: DockerSource | None = None
    api: ApiSource | None = None
    try:
        if spec.ssh:
            tunnel = SshTunnel(
                spec.ssh, spec.url, ssh_args=spec.ssh_args,
                remote_docker_socket=(spec.docker_host or "/var/run/docker.sock")
                if spec.use_docker else None,
            ).open()
            api = ApiSource(tunnel.local_url, token=spec.token, uds=tunnel.http_socket)
            if spec.use_docker:
                docker = DockerSource(tunnel.docker_url, read_file=tunnel.read_file)
        else:
            api = ApiSource(spec.url, token=spec.token)
            if spec.use_docker:
                docker = DockerSource(spec.docker_host)
        logs: LogSource | None = None
        if spec.log_file:
            logs = (RemoteFileLog(tunnel.command, spec.log_file, f"{spec.ssh}:{spec.log_file}")
                    if tunnel else FileLog(spec.log_file))
        elif spec.compose_project and docker is not None:
            logs = DockerLog(docker, _backend_container(spec.compose_project))
        host, paths, skip = _host_source(spec, tunnel)
        yield CheckContext(api=api, now=datetime.now(UTC), window=spec.window, logs=logs,
                           docker=docker, compose_project=spec.compose_project,
                           target=spec.describe(), host=host, host_paths=paths,
                           host_skip_reason=skip, thresholds=spec.thresholds,
                           probe=spec.probe)
    finally:
        if api is not None:
            await api.aclose()
        if docker is not None:
            docker.close()
        if tunnel is not None:
            tunnel.close()
