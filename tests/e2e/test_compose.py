"""The production stack as operators run it (issue 13): the image built offline from a
wheelhouse made on the host and a debootstrapped Debian base, `docker-compose up -d` of the
repository's docker-compose.yml on a private dockerd (no bridge, host networking), the
exchange and Telegram emulators on the host as the outside world.

The stack comes up healthy; `atp check --compose-project` passes every check, locally and
through a real sshd; stopping `db` makes `backend` unhealthy and `atp check` critical naming
`containers` and the fix; starting `db` again recovers it without restarting `backend`; a
backend process that ends is started again by the restart policy and the restart reported.

The Engine's data root is kept in /var/cache/atp-docker/engine (base image and dependency
layers reused: a warm run rebuilds only the atp layer); a lock serialises runs sharing it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.canary import CANARY_KEY, CANARY_SECRET, scan
from tests.integration.integrity import dockerd, sshd
from tests.processes import read_port_file

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ATP_DOCKER_CACHE", "/var/cache/atp-docker"))
ATP = [sys.executable, "-m", "atp.cli.main"]
IMAGE, DB_IMAGE, BASE = "atp-compose-test:latest", "atp-compose-test-db:latest", \
    "atp-base:bookworm"
TOKEN, CHAT = "4242:compose-test-token", 9001


def _available() -> bool:
    return dockerd.available() and sshd.available() and shutil.which("docker-compose") \
        is not None and shutil.which("debootstrap") is not None


if not _available() and os.environ.get("ATP_REQUIRE_DOCKER") == "1":
    raise RuntimeError("docker.io, docker-compose, debootstrap and openssh-server are "
                       "required (ATP_REQUIRE_DOCKER=1): run scripts/ensure-integrity-tools.sh")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not _available(), reason="docker-compose, debootstrap or "
                                 "dockerd not installed (make test installs them)")]


def free_port() -> int:
    """A port for a server inside a container (it cannot report one back): bound and
    released here, the short window before the container binds it accepted."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(times: dict[str, float], step: str, argv: list[str], env: dict[str, str],
          timeout: float = 900) -> str:
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False, cwd=REPO)
    times[step] = round(time.monotonic() - start, 1)
    assert done.returncode == 0, f"{step}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@dataclass
class Stack:
    project: str
    workdir: Path
    env: dict[str, str]
    api_port: int
    docker_url: str
    client: Any
    times: dict[str, float] = field(default_factory=dict)

    def compose(self, *args: str) -> str:
        return timed(self.times, f"compose {args[0]}",
                     ["docker-compose", "-p", self.project, "--project-directory",
                      str(self.workdir), "-f", str(self.workdir / "docker-compose.yml"),
                      *args], self.env, timeout=300)

    def container(self, service: str) -> dict[str, Any]:
        found = self.client.containers.list(all=True, filters={"label": [
            f"com.docker.compose.project={self.project}",
            f"com.docker.compose.service={service}"]})
        assert len(found) == 1, f"{service}: {found}"
        return dict(self.client.api.inspect_container(found[0].id))

    def until(self, service: str, done: Callable[[dict[str, Any]], bool],
              timeout: float = 120) -> dict[str, Any]:
        """Wait for a container state (a condition with a deadline, not a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while True:
            doc = self.container(service)
            if done(doc["State"]):
                return doc
            if time.monotonic() > deadline:
                logs = self.client.containers.get(doc["Id"]).logs(tail=60).decode(
                    errors="replace")
                raise AssertionError(f"{service}: {json.dumps(doc['State'])[:1500]}\n{logs}")
            time.sleep(0.2)

    def check(self, *extra: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [*ATP, "check", "--compose-project", self.project, "--url",
             f"http://127.0.0.1:{self.api_port}", "--format", "json", *extra],
            capture_output=True, text=True, timeout=90, check=False, cwd=self.workdir,
            env=self.env)
        assert done.stdout, done.stderr
        return done.returncode, json.loads(done.stdout)

    def check_until(self, want: int, *extra: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            code, report = self.check(*extra)
            if code == want:
                return report
            if time.monotonic() > deadline:
                pytest.fail(f"atp check {' '.join(extra)} never exited {want} (last {code}): "
                            + json.dumps(report["checks"], indent=1)[:5000])
            time.sleep(1)


def health(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda state: bool((state.get("Health") or {}).get("Status") == status)


def _emulator(kind: str, args: list[str], root: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = root / f"{kind}.port"
    err = root / f"{kind}.err"
    proc = subprocess.Popen([*ATP, "emulate", kind, "--port", "0", "--port-file",
                             str(port_file), *args], stdout=subprocess.DEVNULL,
                            stderr=err.open("wb"))
    return proc, read_port_file(port_file, proc, 60, err)


@pytest.fixture(scope="module")
def engine_lock() -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "engine.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time on the shared data root
        yield


@pytest.fixture(scope="module")
def stack(engine_lock: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import docker

    times: dict[str, float] = {}
    root = tmp_path_factory.mktemp("compose")
    start = time.monotonic()
    daemon = dockerd.LoopbackDockerd(root / "engine", data_root=CACHE / "engine")
    (root / "engine").mkdir()
    daemon.start()
    times["dockerd"] = round(time.monotonic() - start, 1)
    client = docker.DockerClient(base_url=daemon.url, timeout=120)
    project = f"atpcompose{os.getpid()}"
    env = {**os.environ, "DOCKER_HOST": daemon.url, "COMPOSE_HTTP_TIMEOUT": "300"}
    procs: list[subprocess.Popen[bytes]] = []
    s: Stack | None = None
    try:
        for c in client.containers.list(all=True, filters={"label": "com.docker.compose.project"}):
            c.remove(force=True)  # left by a run that was killed
        client.volumes.prune()
        ctx = root / "context"
        (ctx / "scripts").mkdir(parents=True)
        with ThreadPoolExecutor(2) as pool:  # cold: debootstrap and pip download overlap
            base = pool.submit(timed, times, "base image",
                               ["bash", "scripts/build-base-image.sh", BASE], env)
            timed(times, "wheelhouse", ["bash", "scripts/build-wheelhouse.sh",
                                        str(ctx / "wheelhouse")], env)
            base.result()
        shutil.copy(REPO / "Dockerfile", ctx)
        shutil.copy(REPO / "requirements.lock", ctx)
        shutil.copy(REPO / "scripts" / "docker-entrypoint.sh", ctx / "scripts")
        t = time.monotonic()
        client.images.build(path=str(ctx), tag=IMAGE, buildargs={"BASE": BASE}, rm=True)
        client.images.build(path=str(REPO / "deploy" / "offline-db"), tag=DB_IMAGE,
                            buildargs={"BASE": BASE}, rm=True)
        times["image build"] = round(time.monotonic() - t, 1)
        client.images.prune(filters={"dangling": True})

        exchange, ex_port = _emulator("exchange", ["--key", f"{CANARY_KEY}:{CANARY_SECRET}",
                                                   "--symbols", "5"], root)
        procs.append(exchange)
        telegram, tg_port = _emulator("telegram", ["--token", TOKEN], root)
        procs.append(telegram)
        api_port, db_port = free_port(), free_port()
        work = root / "project"
        work.mkdir()
        shutil.copy(REPO / "docker-compose.yml", work)
        values = {
            "INSTANCE_NAME": "compose-test", "PRODUCTION": "true",
            "EXCHANGE_API_KEY": CANARY_KEY, "EXCHANGE_API_SECRET": CANARY_SECRET,
            "EXCHANGE_BASE_URL": f"http://127.0.0.1:{ex_port}",
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_ID": str(CHAT),
            "TELEGRAM_API_BASE": f"http://127.0.0.1:{tg_port}",
            "API_HOST": "127.0.0.1", "API_PORT": str(api_port), "API_TOKEN": "compose-api-t",
            "MONITOR_INTERVAL_SECONDS": "2", "STALL_EXIT_INTERVALS": "100",
            "POSTGRES_PASSWORD": "compose-db-pw", "ATP_DB_PORT": str(db_port),
            "ATP_IMAGE": IMAGE, "ATP_DB_IMAGE": DB_IMAGE,
            "ATP_HEALTH_INTERVAL": "1s", "ATP_HEALTH_RETRIES": "2",
            "ATP_HEALTH_START_PERIOD": "60s", "ATP_DB_HEALTH_INTERVAL": "1s",
        }
        lines = []
        for line in (REPO / ".env.example").read_text().splitlines():  # .env from the example
            key = line.partition("=")[0]
            lines.append(f"{key}={values.pop(key)}" if key in values else line)
        lines += [f"{k}={v}" for k, v in values.items()]
        (work / ".env").write_text("\n".join(lines) + "\n")
        s = Stack(project, work, env, api_port, daemon.url, client, times)
        t = time.monotonic()
        s.compose("up", "-d", "--no-build")
        s.until("backend", health("healthy"))
        times["up to healthy"] = round(time.monotonic() - t, 1)
        yield s
    finally:
        if s is not None:
            logs = "".join(client.containers.get(s.container(n)["Id"]).logs().decode(
                errors="replace") for n in ("backend", "db"))
            scan("docker logs of the compose stack", logs)
            s.compose("down", "-v", "--timeout", "20")
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
        client.close()
        daemon.stop()
        print(f"\ncompose test timings (s): {times}", file=sys.stderr)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd.LoopbackSshd]:
    server = sshd.LoopbackSshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def test_stack_healthy_checked_locally_and_over_ssh_db_outage_recovery_restart(
        stack: Stack, host: sshd.LoopbackSshd) -> None:
    report = stack.check_until(0)
    got = statuses(report)
    assert got["containers"] == "ok", report
    assert all(v in ("ok", "skipped") for v in got.values()), got
    assert got["backend_health"] == "ok" and got["exchange_auth"] == "ok", got
    socket_path = stack.docker_url.removeprefix("unix://")
    remote = stack.check_until(0, "--ssh", host.alias, "--ssh-option", host.ssh_option,
                               "--docker-host", socket_path)
    assert statuses(remote)["containers"] == "ok", remote
    before = stack.container("backend")

    stack.compose("stop", "db")
    stack.until("backend", health("unhealthy"), timeout=60)
    code, report = stack.check()
    assert code == 2, report
    containers = next(c for c in report["checks"] if c["id"] == "containers")
    assert containers["status"] == "critical"
    assert "service db exited" in containers["summary"]
    assert "backend UNHEALTHY" in containers["summary"]
    assert "database unreachable" in containers["summary"]
    assert containers["remediation"].startswith(f"start the stopped services: docker compose "
                                                f"-p {stack.project} up -d"), containers

    stack.compose("start", "db")
    after = stack.until("backend", health("healthy"), timeout=90)
    assert after["RestartCount"] == before["RestartCount"] == 0
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]  # never restarted
    # The outage stays in the window's log (`errors` names it); the live state is back.
    report = stack.check_until(0, "--check", "containers", "--check", "backend_health",
                               "--check", "signal_monitor_cycles")
    assert "backend restarts: 0" in next(c for c in report["checks"]
                                        if c["id"] == "containers")["summary"]
    _, report = stack.check()
    errors = next(c for c in report["checks"] if c["id"] == "errors")
    assert "database unavailable" in errors["summary"], errors

    # The process ends (SIGTERM to PID 1, as a stalled monitor's exit 3 would): the restart
    # policy starts it again and `atp check` reports the restart.
    backend = stack.client.containers.get(after["Id"])
    assert backend.exec_run(["sh", "-c", "kill -TERM 1"]).exit_code == 0
    stack.until("backend", lambda state: state["Status"] == "running"
                and state["StartedAt"] != after["State"]["StartedAt"], timeout=60)
    code, report = stack.check("--check", "containers")
    containers = report["checks"][0]
    assert code == 1 and containers["status"] == "warning", containers
    assert "backend restarted 1 time, last at" in containers["summary"], containers
    assert containers["data"]["containers"][0]["restart_count"] == 1
