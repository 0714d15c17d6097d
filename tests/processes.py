"""Servers started as real processes on port 0: each writes the port it bound to a file
(`--port-file`), the test reads it. No free-port guess that another process can take
between the guess and the bind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ATP = str(Path(sys.executable).with_name("atp"))


def read_port_file(path: Path, proc: subprocess.Popen[bytes], timeout: float,
                   stderr: Path | None = None) -> int:
    """The port `proc` wrote to `path`; fails at once (with its stderr) if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # readiness poll on a file the process writes
        if path.exists():
            return int(path.read_text().strip())
        if proc.poll() is not None:
            err = stderr.read_text(errors="replace")[-2000:] if stderr else ""
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode}: {err}")
        time.sleep(0.05)
    raise AssertionError(f"{proc.args!r} wrote no port to {path} within {timeout:.0f} s")


@dataclass
class DemoProcess:
    """`atp demo --port 0` in its own process, its log and database in `workdir`."""

    workdir: Path
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "atp.log"

    @property
    def state_dir(self) -> Path:
        """Where this demo registered itself (`atp.local_runs`): `atp logs` and `atp check`
        run with `ATP_STATE_DIR` set to it find this demo and no other."""
        return self.workdir / "state"

    def stop(self, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def spawn_demo(workdir: Path, faults: Sequence[str] = ()) -> tuple[subprocess.Popen[bytes], Path]:
    """Start `atp demo --port 0` without waiting; returns the process and its port file."""
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "port"
    argv = [ATP, "demo", "--port", "0", "--port-file", str(port_file), "--no-live",
            "--workdir", str(workdir)]
    for fault in faults:
        argv += ["--fault", fault]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=(workdir / "stderr.txt").open("wb"),
                            env={**os.environ, "ATP_STATE_DIR": str(workdir / "state")})
    return proc, port_file


def start_demo(workdir: Path, faults: Sequence[str] = (), timeout: float = 60) -> DemoProcess:
    """`atp demo --port 0`, returned once its API accepts connections."""
    proc, port_file = spawn_demo(workdir, faults)
    try:
        port = read_port_file(port_file, proc, timeout, workdir / "stderr.txt")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return DemoProcess(workdir, proc, port)


HEALTHY = "healthy"


class DemoFleet:
    """Demos by name, started together on first request (tests/e2e/conftest.py)."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.running: dict[str, DemoProcess] = {}
        self.retired: set[str] = set()  # stopped early on purpose: never started again
        self._procs: list[subprocess.Popen[bytes]] = []

    def demos(self, names: Iterable[str]) -> dict[str, DemoProcess]:
        """Demo per name (`healthy`, or a fault of `atp demo --fault`), each on port 0;
        retired names are left out."""
        wanted = [name for name in names if name not in self.retired]
        spawned: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        for name in wanted:
            if name not in self.running and name not in spawned:
                proc, port_file = spawn_demo(self.tmp.mktemp(name),
                                             [] if name == HEALTHY else [name])
                self._procs.append(proc)
                spawned[name] = (proc, port_file)
        for name, (proc, port_file) in spawned.items():
            port = read_port_file(port_file, proc, 90, port_file.with_name("stderr.txt"))
            self.running[name] = DemoProcess(port_file.parent, proc, port)
        return {name: self.running[name] for name in wanted}

    def retire(self, keep: Iterable[str]) -> None:
        """Stop every running demo but those in `keep` (the tests left need only them)."""
        kept = set(keep)
        going = {n: d for n, d in self.running.items() if n not in kept}
        for demo in going.values():
            if demo.proc.poll() is None:
                demo.proc.terminate()
        for name, demo in going.items():
            demo.stop()
            self._procs.remove(demo.proc)
            del self.running[name]
            self.retired.add(name)

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        self.running.clear()
