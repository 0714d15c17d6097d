"""`make bench`: run every bench script, collect their `BENCH {json}` lines into one table.

Each script prints its prose as it runs (passed through here) and ends with one
machine-readable line (bench/_result.py); this prints the table of every figure with
its target and pass/fail at the end and writes it as Markdown (bench/results.md by
default) for the README's figures section. Defaults stay small so the whole run takes
minutes; bigger scales are flags of each script (`--full` here passes the big ones).

    .venv/bin/python bench/collect.py [--only NAME ...] [--full] [--out bench/results.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _result import PREFIX

HERE = Path(__file__).resolve().parent

# script -> (default arguments, --full arguments); scripts not listed run with none.
ARGS: dict[str, tuple[list[str], list[str]]] = {
    "rss.py": ([], ["100", "500", "1000", "3000"]),
    "db_30days.py": ([], ["--dense-hours", "24"]),
    "market_data.py": ([], ["--symbols", "3000"]),
    "candle_refresh.py": (["--symbols", "1000"], ["--symbols", "3000"]),
    "replicas.py": (["--symbols", "100", "1000", "--replicas", "1", "3"],
                    ["--symbols", "100", "500", "1000", "3000", "--replicas", "1", "3"]),
}
ORDER = ["strategy_cpu.py", "backtest_speed.py", "market_data.py", "candle_refresh.py",
         "alert_latency.py", "health_latency.py", "order_latency.py", "startup.py",
         "check_speed.py", "rss.py", "replicas.py", "feed_bytes.py", "db_30days.py"]
TIMEOUT_S = 1800


def scripts() -> list[str]:
    """Every bench script: the known order first, then any new one (not this, not _*)."""
    found = sorted(p.name for p in HERE.glob("*.py")
                   if p.name != Path(__file__).name and not p.name.startswith("_"))
    return [s for s in ORDER if s in found] + [s for s in found if s not in ORDER]


def run(script: str, full: bool) -> tuple[list[dict[str, Any]], float, str]:
    """Run one script, echoing its output; return its rows, wall seconds and an error."""
    default, big = ARGS.get(script, ([], []))
    argv = [sys.executable, str(HERE / script), *(big if full else default)]
    print(f"== {script} {' '.join(argv[2:])}", flush=True)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    error = ""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=HERE.parent,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(PREFIX):
                rows = json.loads(line[len(PREFIX):])["rows"]
            else:
                print(line, end="", flush=True)
        try:
            code = proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = -9
    if code != 0:
        error = f"exit {code}"
    elif not rows:
        error = "no BENCH line"
    return rows, time.perf_counter() - started, error


def cell(value: Any, unit: str) -> str:
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f"{text}{unit}" if unit in ("×", "%") else f"{text} {unit}".strip()


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("pass" if ok else "FAIL")


def table(results: list[tuple[str, list[dict[str, Any]], float, str]]) -> list[str]:
    lines = ["| script | what | figure | target | result |", "|---|---|---|---|---|"]
    for script, rows, _, error in results:
        if error:
            lines.append(f"| `{script}` | (did not finish) | {error} | | FAIL |")
        for r in rows:
            lines.append(f"| `{script}` | {r['what']} | {cell(r['value'], r['unit'])} | "
                         f"{r['target'] or ''} | {verdict(r['ok'])} |")
    return lines


def merged(previous: str, header: str, lines: list[str], chosen: list[str]
           ) -> tuple[str, list[str]]:
    """The earlier table with the chosen scripts' rows replaced (in script order), and a
    header saying which rows are from when."""
    def script_of(line: str) -> str:
        return line.split("`")[1] if line.startswith("| `") else ""

    old_rows = [ln for ln in previous.splitlines() if script_of(ln)]
    new_rows = lines[2:]
    order = scripts()
    kept = [ln for ln in old_rows if script_of(ln) not in chosen]
    rows = sorted(kept + new_rows, key=lambda ln: order.index(script_of(ln))
                  if script_of(ln) in order else len(order))
    before = next((ln for ln in previous.splitlines() if ln.startswith("Measured")), "")
    note = (f"{header} Rows of {', '.join(f'`{c}`' for c in chosen)}; the others from the "
            f"earlier run: {before}")
    return note, lines[:2] + rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="script names, e.g. rss.py")
    parser.add_argument("--full", action="store_true", help="the big scales (slow)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--merge", action="store_true",
                        help="replace only the chosen scripts' rows in --out, keep the rest")
    args = parser.parse_args()
    chosen = [s for s in scripts()
              if not args.only or s in args.only or s.removesuffix(".py") in args.only]
    started = time.perf_counter()
    results = [(s, *run(s, args.full)) for s in chosen]
    lines = table(results)
    load = os.getloadavg()
    header = (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench`"
              f"{' --full' if args.full else ''} in {time.perf_counter() - started:.0f} s on "
              f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / "
              f"{load[2]:.1f} (a shared machine: timings are noisy).")
    print("\n" + header)
    print("\n".join(lines))
    if args.merge and args.out.exists():
        header, lines = merged(args.out.read_text(), header, lines, chosen)
    args.out.write_text(header + "\n\n" + "\n".join(lines) + "\n")
    print(f"\nwritten to {args.out}")
    failed = [s for s, _, _, error in results if error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
