"""Start-up figures (issue 10): `atp --help` < 300 ms and `atp check` < 1 s, wall time of
the real console script, median of N runs.

`atp check` runs against a live local platform: this bench starts `atp demo --port 0`
in the background (the demo reports its port through `--port-file`), waits for its
first monitor cycle, times the CLI, then stops the demo. `python -c pass` is printed
beside them: the floor no import work can go under on this machine.

Two interpreter states, because start-up is mostly compiling and executing imports:
"bytecode cached" (a private PYTHONPYCACHEPREFIX, warmed by one run: an installed ATP)
and "as inherited" (this shell's environment: with PYTHONDONTWRITEBYTECODE=1 and no
__pycache__ in the venv, every third-party and ATP module is compiled on each run). CPU
is user + system time of the child: less sensitive than wall time to a busy machine.

    python bench/startup.py [--runs N] [--source DIR]

`--source DIR` times another checkout's `atp` package with this venv (e.g. the code
before a change, exported with `git archive`), so before/after share one machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from _result import emit, row

ATP = str(Path(sys.executable).parent / "atp")
HELP_TARGET_S, CHECK_TARGET_S = 0.300, 1.0


@dataclass
class Figure:
    wall_s: float
    cpu_s: float
    exit_code: int


def timed(argv: list[str], runs: int, env: dict[str, str]) -> Figure:
    """Median wall and CPU time of `runs` runs after one warm-up run; last exit code."""
    subprocess.run(argv, capture_output=True, check=False, env=env)
    walls, cpus, code = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        code = subprocess.run(argv, capture_output=True, check=False, env=env).returncode
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return Figure(statistics.median(walls), statistics.median(cpus), code)


def wait_for_port(port_file: Path, proc: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists():
            return int(port_file.read_text())
        if proc.poll() is not None:
            raise SystemExit(f"atp demo exited with {proc.returncode}")
        time.sleep(0.1)
    raise SystemExit("atp demo reported no port in time")


def wait_for_cycle(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).json().get("signal_monitor_ticks"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit("atp demo did not complete a monitor cycle in time")


def environments(source: Path | None, cache: Path) -> dict[str, dict[str, str]]:
    inherited = dict(os.environ, PYTHONWARNINGS="ignore")
    if source is not None:
        inherited["PYTHONPATH"] = str(source.resolve())
    cached = {k: v for k, v in inherited.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(cache / "pyc")
    dont_write = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    return {"bytecode cached": cached,
            f"as inherited (PYTHONDONTWRITEBYTECODE={dont_write})": inherited}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--source", type=Path, help="time this checkout's atp package")
    args = parser.parse_args()
    atp = [ATP]
    if args.source is not None:
        # -P: no cwd first on sys.path, so PYTHONPATH (the other checkout) wins
        atp = [sys.executable, "-P", "-c", "import sys; from atp.cli.main import app; "
               "sys.argv[0] = 'atp'; app()"]
    figures: dict[str, dict[str, Figure]] = {}
    with tempfile.TemporaryDirectory(prefix="atp-bench-startup-") as tmp:
        work = Path(tmp)
        envs = environments(args.source, work)
        port_file = work / "port"
        demo = subprocess.Popen([ATP, "demo", "--port", "0", "--port-file", str(port_file),
                                 "--no-live", "--workdir", str(work / "demo")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{wait_for_port(port_file, demo, 60)}"
            wait_for_cycle(url)
            check = [*atp, "check", "--url", url, "--log-file", str(work / "demo" / "atp.log")]
            for mode, env in envs.items():
                figures[mode] = {
                    "python -c pass": timed([sys.executable, "-c", "pass"], args.runs, env),
                    "atp --help": timed([*atp, "--help"], args.runs, env),
                    "atp check": timed(check, args.runs, env),
                }
        finally:
            demo.terminate()
            demo.wait(timeout=30)

    targets = {"atp --help": HELP_TARGET_S, "atp check": CHECK_TARGET_S}
    print(f"source: {args.source or 'installed'}; median of {args.runs} runs; "
          "`atp check` against a local demo")
    for mode, rows in figures.items():
        print(f"  {mode}:")
        for name, f in rows.items():
            target = f"   (target < {targets[name] * 1000:.0f} ms)" if name in targets else ""
            print(f"    {name:15} {f.wall_s * 1000:6.0f} ms wall, {f.cpu_s * 1000:5.0f} ms CPU, "
                  f"exit {f.exit_code}{target}")
    print(json.dumps({mode: {name: asdict(f) for name, f in rows.items()}
                      for mode, rows in figures.items()}))
    cached = figures["bytecode cached"]
    emit([row(f"startup, {name} wall (bytecode cached)", cached[name].wall_s * 1000, "ms",
              f"< {limit * 1000:.0f} ms", cached[name].wall_s < limit)
          for name, limit in targets.items()])


if __name__ == "__main__":
    main()
