"""Figure: the database after N days at 1,000 symbols, its size per day, and `atp check` and
`/api/monitoring/summary` times against a server on it (issue 14: < 1 GB for 30 days at
1,000 symbols; `atp check` < 1 s).

The rows are the engine's own: one real monitor cycle over 1,000 synthetic symbols is the
template (its decision rows, journal events and cycle row), cloned through atp/store's
tables with bulk inserts onto a timeline ending now, with new ids and shifted times. The
mix: WAIT mostly, ~0.5 % BUY/SELL per cycle, each with its alert outcome (SENT or
THROTTLED) and journal event. Every 30-s cycle for the last `--dense-hours` (what the
windowed reads see; default 1 h), then one cycle every `--sparse-minutes` back to
`--days` (default 30), so the table spans the horizon without generating 86 million rows
by default; the size per day is extrapolated from the bytes per stored row at the real
cadence. `--dense-hours 720` generates the whole thing (hours, ~80 GB).

    .venv/bin/python bench/db_30days.py [--days 30] [--dense-hours 2] [--sparse-minutes 360]
        [--symbols 1000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _result import emit, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from health_latency import SyntheticMarket
from sqlalchemy import func, select

from atp.api.app import create_app
from atp.api.server import serve
from atp.config import Settings
from atp.engine.service import Platform
from atp.logging import setup_logging
from atp.store import migrate
from atp.store import repository as repo
from atp.store.models import AlertOutcomeRow, DecisionRow, EventRow, MonitorCycleRow
from atp.store.uow import UnitOfWork

INTERVAL_S = 30
ACTIVE_SHARE = 0.005  # BUY/SELL decisions per cycle, of the symbols
DEFAULT_CHANGE_RATE = 0.04  # changed WAITs per cycle, of the symbols (see change_rate)
TARGET_GB_30D = 1.0
TARGET_CHECK_S = 1.0
ATP = str(Path(sys.executable).with_name("atp"))


def timeline(now: datetime, days: float, dense_hours: float, sparse_min: float
             ) -> list[datetime]:
    """Cycle start times, oldest first: sparse back to `days`, every 30 s near now."""
    dense_from = now - timedelta(hours=dense_hours)
    times = []
    t = now - timedelta(days=days)
    while t < dense_from:
        times.append(t)
        t += timedelta(minutes=sparse_min)
    t = dense_from
    while t <= now:
        times.append(t)
        t += timedelta(seconds=INTERVAL_S)
    return times


def _sql_value(value: Any) -> Any:
    """A value as SQLite stores it through atp/store's types: JSON text, naive UTC text."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def template(platform: Platform) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                           dict[str, Any]]:
    """The real cycle's rows, JSON already encoded (each clone reuses the text)."""
    with platform.db.sessions() as s:
        decisions = [dict(r._mapping) for r in s.execute(select(DecisionRow.__table__))]
        events = [dict(r._mapping) for r in s.execute(select(EventRow.__table__))]
        cycle = dict(s.execute(select(MonitorCycleRow.__table__)).one()._mapping)
    for rows in (decisions, events):
        for r in rows:
            for k, v in r.items():
                if isinstance(v, dict | list):
                    r[k] = json.dumps(v)
    return decisions, events, cycle


def bulk_insert(session: Any, table: Any, rows: list[dict[str, Any]] | list[tuple[Any, ...]],
                names: list[str] | None = None) -> None:
    """One executemany through the store's session: the ORM's per-row JSON and datetime
    processing made generating 30 days take hours (~2,000 rows/s on this machine).
    Dicts are converted here; tuples (with `names`) are already SQLite values."""
    names = names or list(rows[0])  # type: ignore[arg-type]
    sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "
           f"VALUES ({', '.join('?' for _ in names)})")
    values = rows if isinstance(rows[0], tuple) else \
        [tuple(_sql_value(r[n]) for n in names) for r in rows]  # type: ignore[index]
    session.connection().exec_driver_sql(sql, values)


def change_rate() -> tuple[float, str]:
    """The share of 30-s cycles whose WAIT differs from the one before (a flag turned, an
    input became (un)known): measured on the real 5-minute candles in ../shared when they
    are there (indicators move at each close; 10 cycles a candle), else 4 %."""
    files = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "candles")
                   .glob("*.csv"))
    if not files:
        return DEFAULT_CHANGE_RATE, "default (no ../shared/data/candles)"
    from atp.analysis import read_candles_csv
    from atp.backtest import fast_decisions
    from atp.domain.presets import DEFAULT_PRESETS

    total = changed = 0
    for path in files:
        loaded = read_candles_csv(path)
        candles = getattr(loaded, "candles", loaded)
        previous = None
        for d in fast_decisions(candles, DEFAULT_PRESETS["swing-aggressive"], every=True):
            if d is None:
                continue
            key = (d.decision, tuple(d.flags.items()), frozenset(d.unknown_inputs))
            total += 1
            changed += key != previous
            previous = key
    per_close = changed / max(1, total)
    return per_close * INTERVAL_S / 300, (f"{per_close:.0%} of {total:,} real 5-min closes "
                                         "change the decision's flags")


Template = tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]


def generate(platform: Platform, tmpl: Template, times: list[datetime], dense_from: datetime,
             rate: float, heartbeat: timedelta, seed: int = 7) -> dict[str, int]:
    """Rows as the monitor stores them (domain/compaction.py), at the real cadence from
    `dense_from`: each 30-s cycle a symbol decides BUY/SELL (ACTIVE_SHARE; a row, its
    outcome and event) or a WAIT again (its row's seen_until and repeats move; with
    flags that turned, `rate`, an entry in the row's flag timeline) until the heartbeat
    starts a new row. Before
    `dense_from`, one row per symbol per sparse time (history for the reads to skip)."""
    decisions, events, cycle = tmpl
    rng = random.Random(seed)
    base = cycle["started_at"]
    counts = {"cycles": 0, "decisions": 0, "rows": 0, "events": 0, "outcomes": 0}
    next_cycle = int(cycle["id"]) + 1 + (0 if seed == 7 else 10**7)
    names = list(decisions[0])
    at_id, at_cycle, at_created, at_decision, at_seen, at_repeats, at_changes = (
        names.index(k) for k in ("id", "cycle_id", "created_at", "decision", "seen_until",
                                 "repeats", "flag_changes"))
    rows = [tuple(_sql_value(v) for v in d.values()) for d in decisions]
    batch_d: list[tuple[Any, ...]] = []
    batch_e: list[dict[str, Any]] = []
    batch_o: list[dict[str, Any]] = []
    batch_c: list[dict[str, Any]] = []
    open_rows: dict[int, tuple[list[Any], datetime]] = {}  # symbol index -> WAIT row, start

    timelines: dict[int, list[list[Any]]] = {}  # symbol index -> its open row's flag turns
    codes = ("FTTTTFTF", "FFTTTFTF", "FTFTTFTF", "FFFTTFFF", "FTTTTF-F", "FFTTTTTF")

    def close(i: int) -> None:
        if i in open_rows:
            row_values, _ = open_rows.pop(i)
            changes = timelines.pop(i, None)
            if changes:
                row_values[at_changes] = json.dumps(changes, separators=(",", ":"))
            batch_d.append(tuple(row_values))

    def flush() -> None:
        with platform.db.sessions.begin() as s:
            for table, batch in ((MonitorCycleRow, batch_c), (DecisionRow, batch_d),
                                 (AlertOutcomeRow, batch_o), (EventRow, batch_e)):
                if batch:
                    bulk_insert(s, table.__table__, batch,
                                names if table is DecisionRow else None)
                    batch.clear()

    event_rows = [{k: v for k, v in e.items() if k != "id"} for e in events]
    serial = 0
    for at in times:
        shift = at - base
        cid = next_cycle
        next_cycle += 1
        dense = at >= dense_from
        batch_c.append({**cycle, "id": cid, "started_at": at, "finished_at":
                        cycle["finished_at"] and cycle["finished_at"] + shift})
        stamp = _sql_value(at)
        for i, d in enumerate(decisions):
            counts["decisions"] += 1
            roll = rng.random() if dense else 1.0
            current = open_rows.get(i)
            if (current is not None and roll >= ACTIVE_SHARE
                    and at - current[1] < heartbeat):
                current[0][at_seen] = stamp  # a WAIT again: the run goes on
                current[0][at_repeats] += 1
                if roll < ACTIVE_SHARE + rate:  # its flags turned: a timeline entry
                    turns = timelines.setdefault(i, [[0.0, rng.choice(codes)]])
                    turns.append([round((at - current[1]).total_seconds(), 3),
                                  rng.choice(codes)])
                continue
            close(i)
            serial += 1
            new = list(rows[i])
            new[at_id] = f"{cid:08x}-{i:04x}-4000-{seed:04x}-{serial:012x}"
            new[at_cycle], new[at_created], new[at_seen], new[at_repeats] = cid, stamp, stamp, 0
            counts["rows"] += 1
            if roll < ACTIVE_SHARE:
                side = rng.choice(("BUY", "SELL"))
                new[at_decision] = side
                sent = rng.random() < 0.3
                batch_o.append({"decision_id": new[at_id], "symbol": d["symbol"], "side": side,
                                "preset": d["preset"], "outcome": "SENT" if sent
                                else "THROTTLED",
                                "reason": None if sent else "throttle: 1 alert per 5 min",
                                "price": d["price"], "message_id": rng.randrange(1, 10**9)
                                if sent else None, "error": None, "origin": "monitor",
                                "created_at": at,
                                "updated_at": at + timedelta(milliseconds=80)})
                batch_e.append({"at": at, "type": "alert_sent" if sent
                                else "alert_throttled", "severity": "info",
                                "symbol": d["symbol"], "decision_id": new[at_id],
                                "instance": "bench", "message": f"{side} {d['symbol']}",
                                "payload": {"message_id": 1, "attempts": 1, "chat_id": "1",
                                            "possible_repeat": False} if sent else
                                {"side": side, "price": d["price"] or 0.0,
                                 "cooldown_minutes": 5.0}})
                counts["outcomes"] += 1
                counts["events"] += 1
                batch_d.append(tuple(new))
                continue
            new[at_decision] = "WAIT"  # the template's BUY/SELL had its own outcome
            open_rows[i] = (new, at)
            if not dense:
                close(i)
        # the cycle's own journal rows (not the template's per-decision alert events)
        batch_e.extend({**e, "at": e["at"] + shift} for e in event_rows
                       if not str(e.get("type", "")).startswith("alert_"))
        counts["cycles"] += 1
        counts["events"] += sum(1 for e in event_rows
                                if not str(e.get("type", "")).startswith("alert_"))
        if len(batch_d) >= 50_000 or len(batch_e) >= 50_000:
            flush()
    for i in list(open_rows):
        close(i)
    flush()
    return counts


async def measure(platform: Platform, runs: int) -> tuple[float, float, int]:
    """Median `atp check` wall time and `/api/monitoring/summary` ms, against a real server."""
    await platform.start()  # as `atp run` serves it: monitor, readiness probe, retention
    server = await serve(create_app(platform), "127.0.0.1", 0)
    try:
        checks = []
        code = -1
        for _ in range(runs):
            t0 = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                ATP, "check", "--url", server.url, "--format", "json",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            out, _ = await proc.communicate()
            checks.append(time.perf_counter() - t0)
            code = proc.returncode or 0
        report = json.loads(out or b"{}")
        for c in report.get("checks", []):
            print(f"    check {c['id']:<22} {c['status']}")
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            summary = []
            for _ in range(max(runs, 5)):
                t0 = time.perf_counter()
                (await client.get("/api/monitoring/summary")).raise_for_status()
                summary.append((time.perf_counter() - t0) * 1000)
    finally:
        await server.stop()
        await platform.stop()
    return statistics.median(checks), statistics.median(summary), code


def file_bytes(url_path: Path) -> int:
    return sum(p.stat().st_size for p in url_path.parent.glob(url_path.name + "*"))


async def main(args: argparse.Namespace) -> None:
    setup_logging("WARNING", None, console=False)
    with tempfile.TemporaryDirectory(prefix="atp-db30-") as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "30days.db"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        names = [f"SYN{i:04d}_USDT" for i in range(args.symbols)]
        settings = Settings(_env_file=None, database_url=url, instance_name="bench",  # type: ignore[call-arg]
                            telegram_chat_id="1", production=False)
        platform = Platform(settings, market=SyntheticMarket(names), sender=None)
        with UnitOfWork(platform.db.sessions, "bench_seed") as uow:
            repo.add_symbols(uow.session, names, "swing-aggressive")
        await platform.monitor.run_cycle()
        empty = file_bytes(path)
        now = datetime.now(UTC)
        times = timeline(now, args.days, args.dense_hours, args.sparse_minutes)
        dense_from = now - timedelta(hours=args.dense_hours)
        rate, rate_source = change_rate() if args.change_rate is None else (
            args.change_rate, "--change-rate")
        heartbeat = timedelta(minutes=settings.decision_heartbeat_minutes)
        t0 = time.perf_counter()
        # the real cadence first: its bytes are the size per day
        tmpl = template(platform)
        counts = generate(platform, tmpl, [t for t in times if t >= dense_from], dense_from,
                          rate, heartbeat)
        platform.db.close()
        dense_bytes = file_bytes(path) - empty
        platform = Platform(settings, market=SyntheticMarket(names), sender=None)
        older = generate(platform, tmpl, [t for t in times if t < dense_from], dense_from,
                         rate, heartbeat, seed=8)
        gen_s = time.perf_counter() - t0
        with platform.db.sessions() as s:
            stored = s.scalar(select(func.count()).select_from(DecisionRow)) or 0
        platform.db.close()
        size = file_bytes(path)
        platform = Platform(settings, market=SyntheticMarket(names), sender=None)
        per_day = dense_bytes * 24 / args.dense_hours
        per_row = dense_bytes / max(1, counts["rows"])
        check_s, summary_ms, code = await measure(platform, args.runs)
        platform.db.close()
    gb_30 = per_day * 30 / 1e9
    print(f"db_30days: {args.symbols} symbols, {len(times):,} cycles over {args.days:g} days "
          f"({args.dense_hours:g} h at {INTERVAL_S} s, then every {args.sparse_minutes:g} "
          f"min): {stored:,} decision rows, {counts['outcomes'] + older['outcomes']:,} "
          f"outcomes, {counts['events'] + older['events']:,} events, generated in "
          f"{gen_s:.0f} s")
    print(f"  flags turned: {rate:.2%} of symbols a cycle ({rate_source}); BUY/SELL "
          f"{ACTIVE_SHARE:.1%}; heartbeat {heartbeat.total_seconds() / 60:g} min")
    print(f"  the {args.dense_hours:g} h at the real cadence: {counts['decisions']:,} decisions "
          f"stored as {counts['rows']:,} rows ({counts['decisions'] / max(1, counts['rows']):.1f}"
          f" decisions a row), {dense_bytes / 1e6:,.1f} MB = {per_row:,.0f} bytes a row "
          "(with its share of events, outcomes and indexes)")
    print(f"  -> {per_day / 1e9:.3f} GB/day -> {gb_30:.2f} GB for 30 days (target < "
          f"{TARGET_GB_30D:g} GB); database file {size / 1e6:,.0f} MB")
    print(f"  atp check: {check_s:.2f} s wall (median of {args.runs}, exit {code}; target < "
          f"{TARGET_CHECK_S:g} s); /api/monitoring/summary {summary_ms:.0f} ms (median)")
    emit([row("database per day, 1,000 symbols (30-s cycles)", per_day / 1e9, "GB"),
          row("decisions per stored row (compact WAIT storage)",
              counts["decisions"] / max(1, counts["rows"]), "×"),
          row("database for 30 days, 1,000 symbols", gb_30, "GB", f"< {TARGET_GB_30D:g} GB",
              gb_30 < TARGET_GB_30D),
          row(f"atp check on the {args.days:g}-day database", check_s, "s",
              f"< {TARGET_CHECK_S:g} s", check_s < TARGET_CHECK_S),
          row(f"/api/monitoring/summary on the {args.days:g}-day database", summary_ms, "ms",
              "< 1,000 ms", summary_ms < 1000)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--dense-hours", type=float, default=2,
                        help="hours at the real cadence (at least the 60-min heartbeat)")
    parser.add_argument("--change-rate", type=float, default=None,
                        help="changed WAITs per cycle, of the symbols (default: measured)")
    parser.add_argument("--sparse-minutes", type=float, default=360)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="write the database here and keep it")
    asyncio.run(main(parser.parse_args()))
