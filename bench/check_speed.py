"""How fast `atp check` answers, locally and over SSH, and how the `errors` scan compares
with `grep -cE` over the same 1,000,000-line log (issue 7: < 2 s, < 5 s, ≤ 3×).

Starts `atp demo` on a free port (and, when openssh-server is installed, a loopback sshd
with its own keys), times the real CLI, then stops what it started.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _result import emit, row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atp.integrity.sources.logs import FileLog, scan_errors  # noqa: E402
from tests.integration.integrity import sshd  # noqa: E402

ATP = str(Path(sys.executable).parent / "atp")
GREP = "Traceback|Exception|ERROR"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(argv: list[str], runs: int = 3) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        code = subprocess.run(argv, capture_output=True, check=False).returncode
        times.append(time.perf_counter() - t0)
    return statistics.median(times), code


def wait_for_cycles(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).json().get("signal_monitor_ticks"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit("atp demo did not complete a monitor cycle in time")


def generate_log(path: Path, lines: int = 1_000_000) -> None:
    rng = random.Random(7)
    t0 = datetime.now(UTC) - timedelta(hours=2)
    normal = ('{"event": "[DEBUG_SIGNAL_MONITOR] cycle=%d | symbol=ETH_USDT | status=processed'
              ' | decision=WAIT", "marker": "DEBUG_SIGNAL_MONITOR", "cycle": %d, "symbol": '
              '"ETH_USDT", "level": "info", "logger": "atp.monitor", "timestamp": "%s"}\n')
    error = ('{"event": "monitor cycle failed", "error": "ValueError: boom", "level": "error", '
             '"logger": "atp.service", "timestamp": "%s", "exception": "Traceback (most recent '
             'call last):\\n  File \\"x.py\\", line 1\\nValueError: boom"}\n')
    with path.open("w") as out:
        for i in range(lines):
            at = (t0 + timedelta(milliseconds=7 * i)).isoformat().replace("+00:00", "Z")
            out.write(error % at if rng.random() < 0.002 else normal % (i, i, at))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="atp-bench-") as tmp:
        work = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        demo = subprocess.Popen([ATP, "demo", "--port", str(port), "--no-live", "--workdir",
                                 str(work / "demo")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        server = None
        remote: float | None = None
        try:
            wait_for_cycles(url)
            log = str(work / "demo" / "atp.log")
            local, code = timed([ATP, "check", "--url", url, "--log-file", log])
            print(f"atp check (local):      {local:.2f} s wall, exit {code}   (target < 2 s)")
            if sshd.available():
                server = sshd.LoopbackSshd(work / "sshd").start()
                remote, code = timed([ATP, "check", "--ssh", server.alias, "--ssh-option",
                                      server.ssh_option, "--url", url, "--log-file", log])
                print(f"atp check (over SSH):   {remote:.2f} s wall, exit {code}   "
                      "(target < 5 s)")
            else:
                print("atp check (over SSH):   skipped (openssh-server not installed)")
        finally:
            demo.terminate()
            demo.wait(timeout=30)
            if server is not None:
                server.stop()

        big = work / "big.log"
        generate_log(big)
        grep_s = scan_s = float("inf")
        for _ in range(3):  # best of three each, page cache warm for both
            t0 = time.perf_counter()
            grep = subprocess.run(["grep", "-cE", GREP, str(big)], capture_output=True,
                                  text=True, check=False)
            grep_s = min(grep_s, time.perf_counter() - t0)
            t0 = time.perf_counter()
            scan = scan_errors(FileLog(big))
            scan_s = min(scan_s, time.perf_counter() - t0)
        print(f"errors scan, 1,000,000 lines ({big.stat().st_size / 1e6:.0f} MB): "
              f"{scan_s:.2f} s; grep -cE: {grep_s:.2f} s ({grep.stdout.strip()} lines); "
              f"ratio {scan_s / grep_s:.1f}x (target <= 3x)")
        rows = [row("atp check, local", local, "s", "< 2 s", local < 2)]
        if remote is not None:
            rows.append(row("atp check, over SSH", remote, "s", "< 5 s", remote < 5))
        ratio = scan_s / grep_s
        rows.append(row("errors scan vs grep -cE, 1M log lines", ratio, "×", "≤ 3×", ratio <= 3))
        print(json.dumps({"check_local_s": round(local, 3),
                          "errors_scan_s": round(scan_s, 3), "grep_s": round(grep_s, 3),
                          "unexpected": dict(scan.unexpected)}))
        emit(rows)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
