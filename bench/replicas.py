"""Figure: cycle time, CPU per cycle and RSS of `atp run` at N symbols, 1 replica vs 3 on
one PostgreSQL (issue 14, item 5: the watchlist split by shard leases; item 9: the figures
at 100 / 500 / 1,000 / 3,000 symbols).

`atp emulate exchange --symbols N` in its own process serves the market (one emulator per
symbol count, so its all-tickers answer is the watchlist's size); a fresh database on the
local PostgreSQL (ATP_BENCH_PG_URL, default the tests' admin URL) holds the watchlist; R
`atp run` processes (alerts off, 10 s interval) share it. After every shard is held and
each replica's last two cycles are steady (no decision waits for market data: every candle
loaded, no failed exchange read), a window of cycles is measured (again when a loading
cycle, e.g. an hour close, falls inside it): each replica's cycle duration (from its
recorded cycles), its whole process's CPU time (user + system, /proc: the cycle plus every
background loop) divided by the cycles it completed in the window, and its RSS (/proc
VmRSS) at the window's end, the largest replica's reported.

    .venv/bin/python bench/replicas.py [--symbols 100 1000] [--replicas 1 3]
    .venv/bin/python bench/replicas.py 1000 1 3      # the old form: symbols, replica counts
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _result import emit, row
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from atp.store import migrate
from atp.store import repository as repo
from atp.store.models import MonitorCycleRow

ATP = str(Path(sys.executable).with_name("atp"))
ADMIN = os.environ.get("ATP_BENCH_PG_URL",
                       "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
INTERVAL = 10.0
WINDOW_CYCLES = 4
TARGET_CYCLE_S = 30.0  # the default MONITOR_INTERVAL_SECONDS: a cycle must fit it
TARGET_MB_AT_500 = 200


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _port(path: Path, proc: subprocess.Popen[bytes], timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}")
        time.sleep(0.1)
    raise RuntimeError(f"no port from {proc.args}")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def measure(base: str, names: list[str], replicas: int, tmp: Path) -> dict[str, float]:
    """Median and longest cycle seconds, CPU seconds per cycle (median replica and summed
    over replicas), the largest replica's RSS in MB at the window's end."""
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    dbname = f"atp_bench_replicas_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    url = make_url(ADMIN).set(database=dbname).render_as_string(hide_password=False)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        migrate.upgrade(url)
        engine = create_engine(url)
        with Session(engine) as s, s.begin():
            repo.add_symbols(s, names, "swing-aggressive")
        env = {**os.environ, "DATABASE_URL": url, "EXCHANGE_BASE_URL": base,
               "ALERTS_ENABLED": "false", "MONITOR_INTERVAL_SECONDS": str(INTERVAL),
               "CANDLE_COUNT": "200", "API_TOKEN": "b" * 32, "LOG_LEVEL": "WARNING",
               "STALL_EXIT_INTERVALS": "0"}
        for n in range(replicas):
            port_file = tmp / f"api-{replicas}-{n}"
            procs.append(subprocess.Popen(
                [ATP, "run", "--port", "0", "--port-file", str(port_file)],
                env={**env, "INSTANCE_NAME": f"bench-{n}"}, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        ports = [_port(tmp / f"api-{replicas}-{n}", p) for n, p in enumerate(procs)]

        def cycles() -> dict[str, list[MonitorCycleRow]]:
            out: dict[str, list[MonitorCycleRow]] = {}
            with Session(engine) as s:
                for c in s.scalars(select(MonitorCycleRow).where(
                        MonitorCycleRow.finished_at.is_not(None)).order_by(MonitorCycleRow.id)):
                    out.setdefault(c.instance, []).append(c)
            return out

        def unknowns(ids: list[int]) -> dict[int, tuple[int, bool]]:
            """Per cycle: decisions with an unknown input, and whether any still waits for
            market data (candles deferred by the budget, an exchange read that failed)."""
            with engine.connect() as conn:
                found = conn.execute(text(
                    "SELECT cycle_id, count(*) FILTER (WHERE unknown_inputs::text <> '{}'),"
                    " coalesce(bool_or(unknown_inputs::text LIKE '%not fetched yet%'"
                    " OR unknown_inputs::text LIKE '%unavailable%'), false)"
                    " FROM decisions WHERE cycle_id = ANY(:ids) GROUP BY cycle_id"),
                    {"ids": ids}).all()
            return {int(c): (int(n), bool(w)) for c, n, w in found}

        def steady(mine: list[MonitorCycleRow], base: int | None = None) -> bool:
            """No cycle waits for market data and each has as many unknowns as the last
            (a symbol the emulator cannot fill stays unknown; a loading one does not)."""
            state = unknowns([c.id for c in mine])
            counts = [state.get(c.id, (0, False)) for c in mine]
            return (not any(w for _, w in counts)
                    and len({n for n, _ in counts} | ({base} if base is not None else set()))
                    == 1)

        def settled() -> bool:
            view = httpx.get(f"http://127.0.0.1:{ports[0]}/api/health",
                             timeout=30).json().get("replicas") or {}
            owners = [r for r in view.get("replicas", []) if r["shards"]]
            last = cycles()
            return (not view.get("unowned_shards", [0]) and len(owners) == replicas
                    and all(len(last.get(f"bench-{n}", [])) >= 3 for n in range(replicas))
                    and sum(last[f"bench-{n}"][-1].symbols for n in range(replicas))
                    == len(names)
                    and all(steady(last[f"bench-{n}"][-2:]) for n in range(replicas)))

        deadline = time.monotonic() + 900
        clean = False
        for _attempt in range(3):
            while not settled():
                if time.monotonic() > deadline:
                    raise RuntimeError("replicas did not settle in 15 minutes")
                time.sleep(2)
            before = {p.pid: cpu_seconds(p.pid) for p in procs}
            seen = cycles()
            time.sleep(INTERVAL * WINDOW_CYCLES + 1)
            cpu = {p.pid: cpu_seconds(p.pid) - before[p.pid] for p in procs}
            rss = max(rss_mb(p.pid) for p in procs)
            now = cycles()
            window = {n: now[f"bench-{n}"][len(seen[f"bench-{n}"]):] for n in range(replicas)}
            # an hour close inside the window refetches every symbol: measure again
            if all(steady(window[n], unknowns([seen[f"bench-{n}"][-1].id]).get(
                    seen[f"bench-{n}"][-1].id, (0, False))[0]) for n in range(replicas)):
                clean = True
                break
            print(f"  ({len(names)} symbols, {replicas} replicas: market data loaded in "
                  f"the window, measuring again)", flush=True)
        durations, per_cycle = [], []
        for n, p in enumerate(procs):
            mine = window[n]
            durations += [float(c.duration_ms or 0) / 1000 for c in mine]
            per_cycle.append(cpu[p.pid] / max(1, len(mine)))
        if not clean:
            print(f"  ({len(names)} symbols, {replicas} replicas: no steady window in three "
                  f"tries: these figures include loading)", flush=True)
        engine.dispose()
        return {"cycle_s": statistics.median(durations), "cycle_max_s": max(durations),
                "cpu_s_per_cycle": statistics.median(per_cycle),
                "cpu_s_per_cycle_all": sum(per_cycle), "rss_mb": rss}
    finally:
        _stop(procs)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


def sweep(symbols: int, counts: list[int]) -> dict[int, dict[str, float]]:
    """Every replica count at one symbol count, against one emulator of that size."""
    rows: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        emu_port = Path(tmp) / "emu"
        emu = subprocess.Popen([ATP, "emulate", "exchange", "--port", "0", "--port-file",
                                str(emu_port), "--symbols", str(symbols)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{_port(emu_port, emu)}"
            names = [i["symbol"] for i in httpx.get(
                f"{base}/exchange/v1/public/get-instruments",
                timeout=30).json()["result"]["data"]][:symbols]
            for replicas in counts:
                rows[replicas] = measure(base, names, replicas, Path(tmp))
        finally:
            _stop([emu])
    return rows


def bench_rows(results: dict[int, dict[int, dict[str, float]]]) -> list[dict[str, object]]:
    """The BENCH rows: per (symbols, replicas) cycle time, CPU per cycle, RSS."""
    out: list[dict[str, object]] = []
    for symbols, rows in results.items():
        for n, r in rows.items():
            at = f"{symbols} symbols, {n} replica{'s' if n > 1 else ''}"
            out.append(row(f"replicas: cycle time (median), {at}", r["cycle_s"], "s",
                           f"< {TARGET_CYCLE_S:.0f} s interval",
                           r["cycle_s"] < TARGET_CYCLE_S))
            out.append(row(f"replicas: CPU per cycle per replica, {at}",
                           r["cpu_s_per_cycle"], "s"))
            if n > 1:
                out.append(row(f"replicas: CPU per cycle, all replicas, {at}",
                               r["cpu_s_per_cycle_all"], "s"))
            judged = symbols == 500
            out.append(row(f"replicas: RSS per replica (largest), {at}", r["rss_mb"], "MB",
                           f"< {TARGET_MB_AT_500} MB" if judged else "",
                           r["rss_mb"] < TARGET_MB_AT_500 if judged else None))
    return out


def main(sizes: list[int], counts: list[int]) -> None:
    load = os.getloadavg()
    results = {symbols: sweep(symbols, counts) for symbols in sizes}
    print(f"replicas: one PostgreSQL, {INTERVAL:.0f} s interval, steady cycles (candles "
          f"already loaded), window {WINDOW_CYCLES} intervals; load average at start "
          f"{load[0]:.1f}, at end {os.getloadavg()[0]:.1f}")
    print(f"  {'symbols':>7} {'replicas':>8} {'cycle s':>8} {'longest':>8} "
          f"{'CPU s/cycle/replica':>20} {'CPU s/cycle, all':>17} {'RSS MB':>7}")
    for symbols, rows in results.items():
        for n, r in rows.items():
            print(f"  {symbols:>7} {n:>8} {r['cycle_s']:>8.2f} {r['cycle_max_s']:>8.2f} "
                  f"{r['cpu_s_per_cycle']:>20.3f} {r['cpu_s_per_cycle_all']:>17.3f} "
                  f"{r['rss_mb']:>7.0f}")
    print(json.dumps({"figure": "replicas",
                      "rows": {s: {n: {k: round(v, 3) for k, v in r.items()}
                                   for n, r in rows.items()}
                               for s, rows in results.items()}}))
    emit(bench_rows(results))


def parse(argv: list[str]) -> tuple[list[int], list[int]]:
    """`--symbols … --replicas …`, or the old positional `symbols [replica counts…]`."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("legacy", nargs="*", type=int,
                        help="old form: one symbol count, then replica counts")
    parser.add_argument("--symbols", nargs="+", type=int)
    parser.add_argument("--replicas", nargs="+", type=int)
    args = parser.parse_args(argv)
    sizes = args.symbols or args.legacy[:1] or [100, 1000]
    counts = args.replicas or args.legacy[1:] or [1, 3]
    return sizes, counts


if __name__ == "__main__":
    main(*parse(sys.argv[1:]))
