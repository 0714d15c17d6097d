"""Runbook step c: fresh decisions for every enabled symbol; BUY/SELL/WAIT and flips.

Freshness is judged against the monitor's own rhythm (twice the median cycle interval,
at least 90 s), so a slow production interval is not mistaken for staleness. A symbol that
has decided WAIT on the same unknown input (a decision's `unknown_inputs`: a stale price,
no candles, …) for more than 10 minutes is named with the input and its cause: it is being
decided, but blind.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from atp.domain.limits import UNKNOWN_WARN_AFTER_SECONDS
from atp.integrity.checks._common import limit_list, plural
from atp.integrity.checks.signal_monitor_cycles import enabled_symbols
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status, ago
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.http import parse_time

ID = "strategy_decisions"
TITLE = "Strategy decisions (BUY/SELL/WAIT)"
MIN_FRESH_S = 90.0


def waiting_on_unknown(decisions: list[dict[str, Any]], now: datetime
                       ) -> dict[str, tuple[str, float, str]]:
    """symbol → (input, seconds, cause): how long each symbol's decisions up to its newest
    have all been WAIT with that input unknown (the longest such input per symbol)."""
    by_symbol: dict[str, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for d in decisions:
        at = parse_time(d.get("created_at"))
        if at is not None:
            by_symbol[str(d.get("symbol"))].append((at, d))
    out: dict[str, tuple[str, float, str]] = {}
    for symbol, rows in by_symbol.items():
        rows.sort(key=lambda r: r[0])
        newest = rows[-1][1]
        unknown = newest.get("unknown_inputs") or {}
        if newest.get("decision") != "WAIT" or not isinstance(unknown, dict):
            continue
        for name, cause in unknown.items():
            start = rows[-1][0]
            for at, d in reversed(rows):
                if d.get("decision") != "WAIT" or name not in (d.get("unknown_inputs") or {}):
                    break
                start = at
            seconds = (now - start).total_seconds()
            if symbol not in out or seconds > out[symbol][1]:
                out[symbol] = (str(name), seconds, str(cause))
    return out


def made_since(decision: dict[str, Any], since: datetime) -> int:
    """How many of a row's decisions fell at or after `since`: a compacted WAIT row
    (created_at … seen_until, `repeats` folded in) counts its share of the window."""
    made = 1 + int(decision.get("repeats") or 0)
    start = parse_time(decision.get("created_at"))
    end = parse_time(decision.get("seen_until")) or start
    if start is None or end is None or start >= since:
        return made
    if end < since:
        return 0
    span = (end - start).total_seconds()
    return max(1, round(made * (end - since).total_seconds() / span)) if span > 0 else made


async def run(ctx: CheckContext) -> CheckResult:
    # Far enough back to see a 10-minute run of unknown inputs whatever the window.
    reach = min(ctx.since, ctx.now - timedelta(seconds=UNKNOWN_WARN_AFTER_SECONDS + 120))
    try:  # the rows without their explanation; a backend older than it: the whole rows
        fetched = await ctx.api.get_all("/api/decisions/runs", since=reach.isoformat())
    except SourceUnavailable as exc:
        if exc.http_status != 404:
            raise
        fetched = await ctx.api.get_all("/api/decisions", since=reach.isoformat())
    decisions = [d for d in fetched
                 if (at := parse_time(d.get("seen_until") or d.get("created_at"))) is None
                 or at >= ctx.since]
    watchlist = await ctx.api.get("/api/watchlist")
    summary = await ctx.api.get("/api/monitoring/summary")
    enabled = enabled_symbols(watchlist)

    counts: Counter[str] = Counter()
    for d in decisions:
        counts[str(d.get("decision"))] += made_since(d, ctx.since)
    by_symbol: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    newest: dict[str, datetime] = {}
    for d in decisions:
        at = parse_time(d.get("created_at"))
        if at is not None:
            symbol = str(d.get("symbol"))
            by_symbol[symbol].append((at, str(d.get("decision"))))
            last = parse_time(d.get("seen_until")) or at
            newest[symbol] = max(newest.get(symbol, last), last)
    flips: dict[str, int] = {}
    for symbol, rows in by_symbol.items():
        rows.sort()
        flips[symbol] = sum(1 for a, b in itertools.pairwise(rows) if a[1] != b[1])

    # the monitor's rhythm from its cycles: compacted rows no longer mark every cycle
    cycles = await ctx.api.get("/api/monitoring/cycles", since=ctx.since_iso(), limit=1000)
    cycle_times = sorted({at for c in (cycles if isinstance(cycles, list) else [])
                          if (at := parse_time(c.get("started_at"))) is not None})
    if len(cycle_times) < 2:
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
    blind = {s: v for s, v in waiting_on_unknown(fetched, ctx.now).items()
             if s in enabled and v[1] > UNKNOWN_WARN_AFTER_SECONDS}
    data["unknown_inputs"] = {s: {"input": i, "seconds": round(sec), "cause": c}
                              for s, (i, sec, c) in blind.items()}
    blind_lines = [f"{s}: {i} unknown for {sec / 60:.0f} min ({c})"
                   for s, (i, sec, c) in sorted(blind.items())]
    fix = ("a symbol without fresh decisions is being skipped or the monitor is stalled: "
           "see signal_monitor_cycles and atp logs --marker DEBUG_SIGNAL_MONITOR")
    blind_fix = ("a symbol decided WAIT on an unknown input for over "
                 f"{UNKNOWN_WARN_AFTER_SECONDS / 60:.0f} min: look at the input named (price "
                 "stale: the exchange's ticker for that symbol; no candles: the exchange's "
                 "reply, atp logs --since 15m; too little history: a new listing fills in "
                 "as candles close) and /api/decisions?symbol=SYMBOL")
    if not decisions:
        status = Status.OK if not enabled else Status.WARNING
        return CheckResult(ID, status, f"no decisions in the last {minutes:.0f} min"
                           + ("" if enabled else " (no enabled watchlist symbol)"), details,
                           None if status is Status.OK else fix, data)
    if stale:
        details += limit_list([f"{s}: last decision {ago(age)} ago" if age is not None
                               else f"{s}: no decision in the window"
                               for s, age in sorted(stale.items())])
        details += limit_list(blind_lines)
        return CheckResult(ID, Status.WARNING, f"{plural(len(stale), 'enabled symbol')} "
                           f"without a decision in the last {fresh_s:.0f} s: "
                           + ", ".join(sorted(stale)), details, fix, data)
    if blind:
        details += limit_list(blind_lines)
        return CheckResult(ID, Status.WARNING, "WAIT on an unknown input for over "
                           f"{UNKNOWN_WARN_AFTER_SECONDS / 60:.0f} min: "
                           + "; ".join(blind_lines[:3])
                           + (f"; … and {len(blind_lines) - 3} more" if len(blind_lines) > 3
                              else ""), details, blind_fix, data)
    return CheckResult(ID, Status.OK, f"{counts_text} in the last {minutes:.0f} min; every "
                       f"enabled symbol ({len(enabled)}) decided within {fresh_s:.0f} s",
                       details, None, data)
