"""Runbook step b: the monitor cycles every ~30 s, with no gap > 60 s, over every symbol.

Reads the recorded cycles (not log lines), so a gap is measured between two cycle start
times and a stall is measured from the last finished cycle to now.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections import Counter
from datetime import datetime
from typing import Any

from atp.event_kinds import EventKind
from atp.integrity.checks._common import hhmmss, limit_list, plural
from atp.integrity.context import STALE_AFTER_S, CheckContext
from atp.integrity.report import CheckResult, Status, ago
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.http import parse_time

ID = "signal_monitor_cycles"
TITLE = "SignalMonitor cycles"
WARMUP_S = 90.0

_STALLED_FIX = ("the signal monitor is not cycling: read its errors (atp logs --marker "
                "DEBUG_SIGNAL_MONITOR --since 15m; atp logs --since 15m | grep -i error) "
                "and restart the backend")


def enabled_symbols(watchlist: list[dict[str, object]]) -> list[str]:
    return sorted(str(r["symbol"]) for r in watchlist if r.get("enabled", True))


def covered_symbols(done: list[dict[str, Any]]) -> int:
    """Symbols covered by the latest cycle of each instance still cycling (replicas on
    one PostgreSQL each cover their shards; a single process covers all)."""
    if not done:
        return 0
    newest = parse_time(done[-1].get("started_at"))
    latest: dict[str, dict[str, Any]] = {}
    for c in done:
        at = parse_time(c.get("started_at"))
        if newest is not None and at is not None and \
                (newest - at).total_seconds() <= STALE_AFTER_S:
            latest[str(c.get("instance"))] = c
    return sum(int(c.get("symbols") or 0) for c in latest.values())


async def _skipped(ctx: CheckContext) -> list[dict[str, Any]]:
    """Each symbol's newest `symbol_skipped` event of the window, newest first: one row
    per symbol from /api/events/latest (an exchange outage skips every symbol every
    cycle), or every such event paged from a backend older than that endpoint."""
    kind = EventKind.SYMBOL_SKIPPED.value
    try:
        latest: list[dict[str, Any]] = await ctx.api.get("/api/events/latest", type=kind,
                                                         since=ctx.since_iso())
        return latest
    except SourceUnavailable as exc:
        if exc.http_status != 404:
            raise
    return await ctx.api.get_all("/api/events", type=kind, since=ctx.since_iso())


async def run(ctx: CheckContext) -> CheckResult:
    # Independent reads, concurrently: the check's time is its slowest read, not their sum.
    summary, cycles, watchlist, skipped_events = await asyncio.gather(
        ctx.api.get("/api/monitoring/summary"),
        ctx.api.get("/api/monitoring/cycles", since=ctx.since_iso(), limit=1000),
        ctx.api.get("/api/watchlist"), _skipped(ctx))
    enabled = enabled_symbols(watchlist)
    started_at = parse_time(summary.get("started_at"))
    uptime = None if started_at is None else (ctx.now - started_at).total_seconds()
    last_ago = summary.get("last_update_seconds_ago")
    ticks = int(summary.get("signal_monitor_ticks") or 0)

    done = sorted(
        (c for c in cycles if parse_time(c.get("started_at")) is not None),
        key=lambda c: parse_time(c["started_at"]) or ctx.now,
    )
    starts: list[datetime] = [t for c in done if (t := parse_time(c["started_at"]))]
    intervals = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    gaps = [(a, b, s) for a, b, s in zip(starts, starts[1:], intervals, strict=False)
            if s > STALE_AFTER_S]
    typical = statistics.median(intervals) if intervals else None
    data: dict[str, object] = {
        "cycles_in_window": len(done), "signal_monitor_ticks": ticks,
        "last_update_seconds_ago": last_ago, "median_interval_s": typical,
        "gaps": [{"from": a.isoformat(), "to": b.isoformat(), "seconds": round(s, 1)}
                 for a, b, s in gaps],
        "missed_cycles": summary.get("missed_cycles"), "enabled_symbols": len(enabled),
    }
    details = [f"{plural(len(done), 'cycle')} in the last {ctx.window.total_seconds() / 60:.0f}"
               f" min" + (f", every ~{typical:.0f} s" if typical is not None else "")
               + f"; last completed {ago(last_ago)} ago"]
    if summary.get("last_cycle_duration_ms") is not None:
        details.append(f"last cycle: {summary.get('last_cycle_symbols')} symbols in "
                       f"{summary['last_cycle_duration_ms']:.0f} ms, "
                       f"{summary.get('last_cycle_skipped') or 0} skipped")
    if summary.get("missed_cycles"):
        details.append(f"overrun cycles (not started because the previous one was still "
                       f"running): {summary['missed_cycles']}")

    # A stall now: no completed cycle for > 60 s (or never, past warm-up).
    stalled_for = None if last_ago is None else float(last_ago)
    if ticks == 0 or stalled_for is None:
        if uptime is not None and uptime < WARMUP_S:
            return CheckResult(ID, Status.OK, f"warming up: no cycle yet ({uptime:.0f} s "
                               "since start)", details, None, data)
        since = f" in {ago(uptime)} since start" if uptime is not None else ""
        return CheckResult(ID, Status.CRITICAL, f"no monitor cycle completed{since}",
                           details, _STALLED_FIX, data)
    if stalled_for > STALE_AFTER_S:
        return CheckResult(ID, Status.CRITICAL, f"monitor stalled: no cycle for "
                           f"{ago(stalled_for)} (limit {STALE_AFTER_S:.0f} s)",
                           details, _STALLED_FIX, data)

    problems: list[str] = []
    if gaps:
        details += limit_list([f"gap of {s:.0f} s between cycles at {hhmmss(a)} and "
                               f"{hhmmss(b)}" for a, b, s in gaps])
        problems.append(f"{plural(len(gaps), 'gap')} > {STALE_AFTER_S:.0f} s in the window")

    # Every enabled symbol processed: judged on the latest cycle, so a symbol that was
    # skipped once during warm-up does not keep the check warning for the whole window.
    latest = done[-1] if done else None
    latest_skipped: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for ev in skipped_events:
        reasons.setdefault(str(ev.get("symbol")), str(ev.get("message") or "?"))
        if latest is not None and (ev.get("payload") or {}).get("cycle") == latest.get("id"):
            latest_skipped[str(ev.get("symbol"))] += 1
    if skipped_events:
        details.append("skipped in the window: " + ", ".join(
            f"{s} ({reasons[s]})" for s in sorted(reasons)))
    data["skipped_symbols"] = reasons
    if latest is not None and int(latest.get("skipped") or 0) > 0:
        names = ", ".join(f"{s} ({reasons.get(s, '?')})" for s in sorted(latest_skipped))
        problems.append(f"{latest['skipped']} of {latest.get('symbols')} symbols skipped in "
                        f"the latest cycle" + (f": {names}" if names else ""))
    covered = covered_symbols(done)
    if latest is not None and enabled and covered < len(enabled):
        problems.append(f"latest cycle covered {covered} of {len(enabled)} "
                        "enabled symbols")
    if problems:
        return CheckResult(ID, Status.WARNING, "; ".join(problems), details,
                           "read why symbols were skipped (atp logs --marker "
                           "DEBUG_SIGNAL_MONITOR --since 15m) and the exchange check", data)
    every = f"every ~{typical:.0f} s" if typical is not None else "running"
    return CheckResult(ID, Status.OK, f"{plural(len(done), 'cycle')} in the window, {every}, "
                       f"no gap > {STALE_AFTER_S:.0f} s; last {ago(last_ago)} ago",
                       details, None, data)
