"""Figure: the database after N days at 1,000 symbols, its size per day, and `atp check` and
`/api/monitoring/summary` times against a server on it (issue 14: < 1 GB for 30 days at
1,000 symbols; `atp check` < 1 s).

The rows are the engine's own: one real monitor cycle over 1,000 synthetic symbols is the
template (its decision rows, journal events and cycle row), cloned through atp/store's
tables with bulk inserts onto a timeline ending now, with new ids and shifted times. The
mix is measured on the real candles (`measured_mix`): WAIT runs whose flags turn, and
BUY/SELL runs, each row with its alert outcome (SENT or THROTTLED) and journal event.
Every 30-s cycle for the last `--dense-hours` (default two heartbeats, 8 h),
then one cycle every `--sparse-minutes` back to
`--days` (default 30), so the table spans the horizon without generating 86 million rows
by default; the size per day is the bytes per stored row at the real cadence times the
rows an hour once running (after the first heartbeat, which starts every symbol's row).
`--dense-hours 720` generates the whole thing (hours).

    .venv/bin/python bench/db_30days.py [--days 30] [--dense-hours 8] [--sparse-minutes 360]
        [--symbols 1000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
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
PRESET = "swing-aggressive"  # the bench's watchlist preset
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


def _json(value: Any) -> str:
    """JSON as atp/store's engine writes it (no padding)."""
    return json.dumps(value, separators=(",", ":"))


def _sql_value(value: Any) -> Any:
    """A value as SQLite stores it through atp/store's types: JSON text, naive UTC text."""
    if isinstance(value, dict | list):
        return _json(value)
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
    dialect = platform.db.engine.dialect
    for rows, table in ((decisions, DecisionRow.__table__), (events, EventRow.__table__)):
        for r in rows:
            for k, v in r.items():
                if isinstance(v, dict | list):
                    # as the engine stores it: through the column's type and serializer
                    encode = table.c[k].type.bind_processor(dialect)
                    r[k] = encode(v) if encode else _json(v)
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


@dataclass(frozen=True)
class Mix:
    """What the symbols decide, per 30-s cycle: flag turns inside WAIT runs (`rate`) and
    BUY/SELL runs (`run_start` of the symbols start one, lasting `run_cycles` on average,
    `sends_per_run` of them with an alert the throttle lets go: at the run's start here,
    its other decisions throttled)."""

    rate: float
    run_start: float
    run_cycles: float
    sends_per_run: float
    source: str


def measured_mix() -> Mix:
    """Measured on the real 5-minute candles in ../shared when they are there, with the
    bench's preset (indicators move at each close; 10 cycles a candle): the share of
    closes whose decision differs from the one before, and the BUY/SELL runs with the
    alerts the preset's throttle (domain/throttle.py) lets go in them. Without them, the
    figures this measured on 2026-12-02 (18 files, 17,946 closes)."""
    from atp.domain.presets import DEFAULT_PRESETS
    from atp.domain.throttle import ThrottleState, accept, throttle_verdict

    preset = DEFAULT_PRESETS[PRESET]
    per_candle = 300 / INTERVAL_S
    files = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "candles")
                   .glob("*.csv"))
    if not files:
        return Mix(0.43 / per_candle, 0.035 / per_candle, 2.3 * per_candle, 0.37,
                   "measured 2026-12-02 (no ../shared/data/candles here)")
    from atp.analysis import read_candles_csv
    from atp.backtest import fast_decisions

    total = changed = active = runs = sends = 0
    for path in files:
        loaded = read_candles_csv(path)
        candles = getattr(loaded, "candles", loaded)
        previous = None
        kind = None
        state: ThrottleState | None = None
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        for k, d in enumerate(fast_decisions(candles, preset, every=True)):
            if d is None:
                continue
            key = (d.decision, tuple(d.flags.items()), frozenset(d.unknown_inputs))
            total += 1
            changed += key != previous
            if d.decision in ("BUY", "SELL"):
                active += 1
                runs += d.decision != kind
                at, price = t0 + timedelta(minutes=5 * k), d.indicators.price or 0.0
                if throttle_verdict(state, d.decision, price, at, preset.cooldown_minutes,
                                    preset.min_price_change_pct).allowed:
                    sends += 1
                    state = accept(d.decision, price, at)
            previous, kind = key, d.decision
    total = max(1, total)
    return Mix(changed / total / per_candle, runs / total / per_candle,
               active / max(1, runs) * per_candle, sends / max(1, runs),
               f"{changed / total:.0%} of {total:,} real 5-min closes change the decision's "
               f"flags, {active / total:.1%} are BUY/SELL in runs of "
               f"{active / max(1, runs):.1f} closes ({PRESET})")


Template = tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]


def generate(platform: Platform, tmpl: Template, times: list[datetime], dense_from: datetime,
             mix: Mix, heartbeat: timedelta, seed: int = 7,
             steady_from: datetime | None = None) -> dict[str, int]:
    """Rows as the monitor stores them (domain/compaction.py), at the real cadence from
    `dense_from`: each 30-s cycle a symbol goes on with its run — a WAIT again (its row's
    seen_until and repeats move; with flags that turned, `mix.rate`, an entry in the
    row's flag timeline) until the heartbeat starts a new row — or is inside a BUY/SELL
    run (a SENT row whenever the cooldown let an alert go, then one THROTTLED row the
    run's other decisions fold into). Before `dense_from`, one row per symbol per sparse
    time (history for the reads to skip). `steady_rows` counts the rows begun from
    `steady_from` on: the first heartbeat of the dense span starts every symbol's row,
    which a running platform does once, not every hour."""
    decisions, events, cycle = tmpl
    rng = random.Random(seed)
    base = cycle["started_at"]
    counts = {"cycles": 0, "decisions": 0, "rows": 0, "events": 0, "outcomes": 0,
              "steady_rows": 0}
    steady = False
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
                row_values[at_changes] = _json(changes)
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
    active: dict[int, list[Any]] = {}  # symbol index -> [side, cycles left, position]
    sent_first: dict[int, bool] = {}  # symbol index -> its run opened with a SENT alert

    def fresh(i: int, cid: int, stamp: Any) -> list[Any]:
        nonlocal serial
        serial += 1
        counts["rows"] += 1
        counts["steady_rows"] += steady
        new = list(rows[i])
        new[at_id] = f"{cid:08x}-{i:04x}-4000-{seed:04x}-{serial:012x}"
        new[at_cycle], new[at_created], new[at_seen], new[at_repeats] = cid, stamp, stamp, 0
        new[at_changes] = None
        return new

    def outcome(decision_id: str, d: dict[str, Any], side: str, sent: bool,
                at: datetime) -> None:
        batch_o.append({"decision_id": decision_id, "symbol": d["symbol"], "side": side,
                        "preset": d["preset"], "outcome": "SENT" if sent else "THROTTLED",
                        "reason": None if sent else "cooldown 0.5/5.0 min; price change "
                        "0.12/1.00 %", "price": d["price"],
                        "message_id": rng.randrange(1, 10**9) if sent else None,
                        "error": None, "origin": "monitor", "created_at": at,
                        "updated_at": at + timedelta(milliseconds=80)})
        batch_e.append({"at": at, "type": "alert_sent" if sent else "alert_throttled",
                        "severity": "info", "symbol": d["symbol"],
                        "decision_id": decision_id, "instance": "bench",
                        "message": f"{side} {d['symbol']}",
                        "payload": {"message_id": 1, "attempts": 1, "chat_id": "1",
                                    "possible_repeat": False} if sent else
                        {"side": side, "last_side": side, "last_alerted_at": at.isoformat(),
                         "last_price": d["price"] or 0.0, "price": d["price"] or 0.0,
                         "cooldown_minutes": 5.0, "min_price_change_pct": 1.0}})
        counts["outcomes"] += 1
        counts["events"] += 1
    for at in times:
        shift = at - base
        cid = next_cycle
        next_cycle += 1
        dense = at >= dense_from
        steady = steady_from is not None and at >= steady_from
        batch_c.append({**cycle, "id": cid, "started_at": at, "finished_at":
                        cycle["finished_at"] and cycle["finished_at"] + shift})
        stamp = _sql_value(at)
        for i, d in enumerate(decisions):
            counts["decisions"] += 1
            roll = rng.random() if dense else 1.0
            current = open_rows.get(i)
            run = active.get(i)
            if run is None and roll < mix.run_start:
                run = active[i] = [rng.choice(("BUY", "SELL")),
                                   max(1, round(rng.expovariate(1 / mix.run_cycles))), 0]
            if run is not None:
                side, left, pos = run
                run[1], run[2] = left - 1, pos + 1
                if left <= 1:
                    del active[i]
                # a SENT row when the run opens with an alert the throttle lets go, and
                # one THROTTLED row; the run's other decisions repeat that row's outcome
                if (current is not None and current[0][at_decision] == side
                        and not (pos == 1 and sent_first.get(i))):
                    current[0][at_seen] = stamp
                    current[0][at_repeats] += 1
                    continue
                close(i)
                new = fresh(i, cid, stamp)
                new[at_decision] = side
                sent = pos == 0 and rng.random() < mix.sends_per_run
                sent_first[i] = sent
                outcome(new[at_id], d, side, sent, at)
                if sent:
                    batch_d.append(tuple(new))
                else:
                    open_rows[i] = (new, at)
                    if not dense:
                        close(i)
                continue
            if (current is not None and current[0][at_decision] == "WAIT"
                    and at - current[1] < heartbeat):
                current[0][at_seen] = stamp  # a WAIT again: the run goes on
                current[0][at_repeats] += 1
                if roll < mix.run_start + mix.rate:  # its flags turned: a timeline entry
                    turns = timelines.setdefault(i, [[0, rng.choice(codes)]])
                    turns.append([round((at - current[1]).total_seconds()),
                                  rng.choice(codes)])
                continue
            close(i)
            new = fresh(i, cid, stamp)
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
            print(f"    check {c['id']:<22} {c['status']:<8} {c.get('duration_ms', 0):>6.0f} ms")
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


async def measure_db(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Build the database `args` describe, print what it holds, return its BENCH rows."""
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
            repo.add_symbols(uow.session, names, PRESET)
        await platform.monitor.run_cycle()
        empty = file_bytes(path)
        heartbeat = timedelta(minutes=settings.decision_heartbeat_minutes)
        if args.dense_hours is None:
            args.dense_hours = max(2.0, 2 * heartbeat.total_seconds() / 3600)
        now = datetime.now(UTC)
        times = timeline(now, args.days, args.dense_hours, args.sparse_minutes)
        dense_from = now - timedelta(hours=args.dense_hours)
        mix = measured_mix()
        if args.change_rate is not None:
            mix = dataclasses.replace(mix, rate=args.change_rate,
                                      source=f"{mix.source}; --change-rate")
        t0 = time.perf_counter()
        # the real cadence first: its bytes are the size per day
        tmpl = template(platform)
        # rows per hour from after the first heartbeat (or half the span, if shorter)
        steady_from = dense_from + min(heartbeat, timedelta(hours=args.dense_hours / 2))
        steady_hours = (times[-1] - steady_from).total_seconds() / 3600 + INTERVAL_S / 3600
        counts = generate(platform, tmpl, [t for t in times if t >= dense_from], dense_from,
                          mix, heartbeat, steady_from=steady_from)
        platform.db.close()
        dense_bytes = file_bytes(path) - empty
        platform = Platform(settings, market=SyntheticMarket(names), sender=None)
        older = generate(platform, tmpl, [t for t in times if t < dense_from], dense_from,
                         mix, heartbeat, seed=8)
        gen_s = time.perf_counter() - t0
        with platform.db.sessions() as s:
            stored = s.scalar(select(func.count()).select_from(DecisionRow)) or 0
        platform.db.close()
        size = file_bytes(path)
        platform = Platform(settings, market=SyntheticMarket(names), sender=None)
        per_row = dense_bytes / max(1, counts["rows"])
        rows_per_hour = counts["steady_rows"] / steady_hours
        per_day = per_row * rows_per_hour * 24
        folded = args.symbols * 3600 / INTERVAL_S / max(1.0, rows_per_hour)
        check_s, summary_ms, code = await measure(platform, args.runs)
        platform.db.close()
    gb_30 = per_day * 30 / 1e9
    print(f"db_30days: {args.symbols} symbols, {len(times):,} cycles over {args.days:g} days "
          f"({args.dense_hours:g} h at {INTERVAL_S} s, then every {args.sparse_minutes:g} "
          f"min): {stored:,} decision rows, {counts['outcomes'] + older['outcomes']:,} "
          f"outcomes, {counts['events'] + older['events']:,} events, generated in "
          f"{gen_s:.0f} s")
    print(f"  {mix.source}: flags turn for {mix.rate:.2%} of symbols a cycle, "
          f"{mix.run_start:.2%} start a BUY/SELL run of {mix.run_cycles:.0f} cycles on "
          f"average, {mix.sends_per_run:.2f} alerts sent a run; heartbeat "
          f"{heartbeat.total_seconds() / 60:g} min")
    print(f"  the {args.dense_hours:g} h at the real cadence: {counts['decisions']:,} decisions "
          f"stored as {counts['rows']:,} rows, {dense_bytes / 1e6:,.1f} MB = {per_row:,.0f} "
          "bytes a row (with its share of events, outcomes and indexes); once running, "
          f"{rows_per_hour:,.0f} rows an hour ({folded:.1f} decisions a row)")
    print(f"  -> {per_day / 1e9:.3f} GB/day -> {gb_30:.2f} GB for 30 days (target < "
          f"{TARGET_GB_30D:g} GB); database file {size / 1e6:,.0f} MB")
    print(f"  atp check: {check_s:.2f} s wall (median of {args.runs}, exit {code}; target < "
          f"{TARGET_CHECK_S:g} s); /api/monitoring/summary {summary_ms:.0f} ms (median)")
    n = f"{args.symbols:,} symbols"
    reads = [row(f"atp check on the {args.days:g}-day database, {n}", check_s, "s",
                 f"< {TARGET_CHECK_S:g} s", check_s < TARGET_CHECK_S),
             row(f"/api/monitoring/summary on the {args.days:g}-day database, {n}",
                 summary_ms, "ms", "< 1,000 ms", summary_ms < 1000)]
    if args.reads_only:
        return reads
    return [row(f"database per day, {n} (30-s cycles)", per_day / 1e9, "GB"),
            row("decisions per stored row (compact storage)", folded, "×"),
            row(f"database for 30 days, {n}", gb_30, "GB", f"< {TARGET_GB_30D:g} GB",
                gb_30 < TARGET_GB_30D), *reads]


async def main(args: argparse.Namespace) -> None:
    rows = await measure_db(args)
    for symbols in args.also_symbols:
        # the read figures at a larger watchlist: a day of its rows is the same windows
        print(f"\n-- {symbols:,} symbols, {args.also_days:g} day(s) --")
        rows += await measure_db(argparse.Namespace(**{
            **vars(args), "symbols": symbols, "days": args.also_days, "dense_hours": None,
            "keep": None, "reads_only": True}))
    emit(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--dense-hours", type=float, default=None,
                        help="hours at the real cadence (default: two heartbeats, the first "
                        "one warm-up; at least 2)")
    parser.add_argument("--change-rate", type=float, default=None,
                        help="flag turns per cycle, of the symbols (default: measured)")
    parser.add_argument("--sparse-minutes", type=float, default=360)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="write the database here and keep it")
    parser.add_argument("--also-symbols", type=int, nargs="*", default=[3000],
                        help="then the read figures at these watchlist sizes too")
    parser.add_argument("--also-days", type=float, default=1,
                        help="days of rows for the --also-symbols databases")
    parser.set_defaults(reads_only=False)
    asyncio.run(main(parser.parse_args()))
