"""Runbook step c: fresh decisions for every enabled symbol; BUY/SELL/WAIT and flips.

Freshness is judged against the monitor's own rhythm (twice the median cycle interval,
at least 90 s), so a slow production interval is not mistaken for staleness.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from datetime import datetime

from atp.integrity.checks._common import limit_list, plural
from atp.integrity.checks.signal_monitor_cycles import enabled_symbols
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status, ago
from atp.integrity.sources.http import parse_time

ID = "strategy_decisions"
TITLE = "Strategy decisions (BUY/SELL/WAIT)"
MIN_FRESH_S = 90.0


async def run(ctx: CheckContext) -> CheckResult:
    decisions = await ctx.api.get_all("/api/decisions", since=ctx.since_iso())
    watchlist = await ctx.api.get("/api/watchlist")
    summary = await ctx.api.get("/api/monitoring/summary")
    enabled = enabled_symbols(watchlist)

    counts = Counter(str(d.get("decision")) for d in decisions)
    by_symbol: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for d in decisions:
        at = parse_time(d.get("created_at"))
        if at is not None:
            by_symbol[str(d.get("symbol"))].append((at, str(d.get("decision"))))
    flips: dict[str, int] = {}
    newest: dict[str, datetime] = {}
    for symbol, rows in by_symbol.items():
        rows.sort()
        newest[symbol] = rows[-1][0]
        flips[symbol] = sum(1 for a, b in itertools.pairwise(rows) if a[1] != b[1])

    cycle_times = sorted({at for rows in by_symbol.values() for at, _ in rows})
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(cycle_times)]
    fresh_s = max(MIN_FRESH_S, 2 * statistics.median(gaps)) if gaps else MIN_FRESH_S
    stale = {s: (ctx.now - newest[s]).total_seconds() if s in newest else None
             for s in enabled
             if s not in newest or (ctx.now - newest[s]).total_seconds() > fresh_s}

    minutes = ctx.window.total_seconds() / 60
    counts_text = (f"BUY {counts.get('BUY', 0)}, SELL {counts.get('SELL', 0)}, "
                   f"WAIT {counts.get('WAIT', 0)}")
    flip_total = sum(flips.values())
    details = [f"decisions in the last {minutes:.0f} min: {counts_text}",
               f"flips in the window: {flip_total}"
               + (" (" + ", ".join(f"{s} {n}" for s, n in sorted(flips.items()) if n) + ")"
                  if flip_total else ""),
               f"flips since start: {sum((summary.get('decision_flips') or {}).values())}"]
    data = {"counts": {k: counts.get(k, 0) for k in ("BUY", "SELL", "WAIT")},
            "flips": flips, "flips_per_hour": round(flip_total / (minutes / 60), 2),
            "since_start": summary.get("decision_counts"),
            "stale_symbols": stale, "fresh_limit_s": fresh_s}
    fix = ("a symbol without fresh decisions is being skipped or the monitor is stalled: "
           "see signal_monitor_cycles and atp logs --marker DEBUG_SIGNAL_MONITOR")
    if not decisions:
        status = Status.OK if not enabled else Status.WARNING
        return CheckResult(ID, status, f"no decisions in the last {minutes:.0f} min"
                           + ("" if enabled else " (no enabled watchlist symbol)"), details,
                           None if status is Status.OK else fix, data)
    if stale:
        details += limit_list([f"{s}: last decision {ago(age)} ago" if age is not None
                               else f"{s}: no decision in the window"
                               for s, age in sorted(stale.items())])
        return CheckResult(ID, Status.WARNING, f"{plural(len(stale), 'enabled symbol')} "
                           f"without a decision in the last {fresh_s:.0f} s: "
                           + ", ".join(sorted(stale)), details, fix, data)
    return CheckResult(ID, Status.OK, f"{counts_text} in the last {minutes:.0f} min; every "
                       f"enabled symbol ({len(enabled)}) decided within {fresh_s:.0f} s",
                       details, None, data)
