"""Figure: resident memory of a real `atp run` watching N symbols (issue 14: < 200 MB at
500 symbols × 200 candles), next to the import floor.

`atp emulate exchange --symbols N` in its own process serves the market; `atp run` (its own
process, SQLite in a temp dir, alerts off) watches every instrument with 200 hourly
candles and is measured from /proc after its third completed monitor cycle, so candle
buffers, indicator arrays and the per-cycle objects are all allocated.

    .venv/bin/python bench/rss.py [100 500 1000]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _result import emit, row

ATP = str(Path(sys.executable).with_name("atp"))
TARGET_MB_AT_500 = 200


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _port(path: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}")
        time.sleep(0.1)
    raise RuntimeError(f"no port from {proc.args}")


def measure(symbols: int, tmp: Path) -> tuple[float, float]:
    """(RSS after three cycles, seconds of the last cycle)."""
    emu_port = tmp / f"emu-{symbols}"
    emu = subprocess.Popen([ATP, "emulate", "exchange", "--port", "0", "--port-file",
                            str(emu_port), "--symbols", str(symbols)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = None
    try:
        port = _port(emu_port, emu)
        base = f"http://127.0.0.1:{port}"
        names = [i["symbol"] for i in httpx.get(f"{base}/exchange/v1/public/get-instruments",
                                                timeout=30).json()["result"]["data"]]
        db = tmp / f"atp-{symbols}.db"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "EXCHANGE_BASE_URL": base,
               "ALERTS_ENABLED": "false", "MONITOR_INTERVAL_SECONDS": "10",
               "CANDLE_COUNT": "200", "API_TOKEN": "b" * 32, "LOG_LEVEL": "WARNING"}
        subprocess.run([ATP, "db", "upgrade"], env=env, check=True, capture_output=True)
        api_port = tmp / f"api-{symbols}"
        run = subprocess.Popen([ATP, "run", "--port", "0", "--port-file", str(api_port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        api = f"http://127.0.0.1:{_port(api_port, run)}"
        headers = {"Authorization": f"Bearer {env['API_TOKEN']}"}
        for chunk in range(0, len(names), 100):
            for name in names[chunk:chunk + 100]:
                httpx.post(f"{api}/api/watchlist", json={"symbol": name}, headers=headers,
                           timeout=30).raise_for_status()
        start = int(httpx.get(f"{api}/api/health", timeout=30).json()["signal_monitor_ticks"])
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            summary = httpx.get(f"{api}/api/monitoring/summary", timeout=30).json()
            if summary["signal_monitor_ticks"] >= start + 3 and \
                    summary["last_cycle_symbols"] == len(names):
                return rss_mb(run.pid), float(summary["last_cycle_duration_ms"]) / 1000
            time.sleep(1)
        raise RuntimeError("three full cycles did not complete in 10 minutes")
    finally:
        for proc in (run, emu):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def import_floor() -> float:
    code = ("import atp.runtime, atp.api.app;"
            "print(int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return int(out.stdout) / 1024


def main(sizes: list[int]) -> None:
    floor = import_floor()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            rows[n] = measure(n, Path(tmp))
    print(f"rss: import floor (atp.runtime + API) {floor:.0f} MB")
    print(f"  {'symbols':>8} {'RSS MB':>8} {'cycle s':>8}")
    for n, (mb, cycle) in rows.items():
        print(f"  {n:>8} {mb:>8.0f} {cycle:>8.2f}")
    if 500 in rows:
        ok = rows[500][0] < TARGET_MB_AT_500
        print(f"  target: < {TARGET_MB_AT_500} MB at 500 symbols: "
              f"{'met' if ok else 'NOT met'}")
    emit([row("RSS, import floor", floor, "MB")]
         + [row(f"RSS, {n} symbols × 200 candles", mb, "MB",
                f"< {TARGET_MB_AT_500} MB" if n == 500 else "",
                mb < TARGET_MB_AT_500 if n == 500 else None) for n, (mb, _) in rows.items()]
         + [row(f"cycle time, {n} symbols", cycle, "s") for n, (_, cycle) in rows.items()])
    print(json.dumps({"figure": "rss", "floor_mb": round(floor),
                      "rss_mb": {n: round(v[0]) for n, v in rows.items()}}))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 500])
