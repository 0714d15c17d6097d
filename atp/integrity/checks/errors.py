"""Runbook step f: errors and tracebacks by class from the structured log.

Expected transient errors (exchange timeouts, network blips the adapters retry) are
counted, not failed; errors another check already names (exchange auth, Telegram,
failed alerts, order refusals and failed SL/TP) are counted under that check, so one
fault fails one check. Without a readable log the check falls back to the journal's
error events, and says so.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from atp.event_kinds import EventKind
from atp.integrity.checks._common import limit_list, plural
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.logs import ErrorScan, scan_errors

ID = "errors"
TITLE = "Recent errors / exceptions"
_ATTRIBUTE = {EventKind.EXCHANGE_AUTH.value: "exchange_auth",
              EventKind.EXCHANGE_PROXY.value: "exchange_auth",
              EventKind.ALERT_FAILED.value: "alert_emissions",
              # order refusals and naked positions are order_execution's to name
              EventKind.ORDER_REJECTED.value: "order_execution",
              EventKind.ORDER_FAILED.value: "order_execution",
              EventKind.PROTECTION_FAILED.value: "order_execution"}
_FIX = ("read the tracebacks (atp logs --since 15m | grep -B2 -A20 Traceback), fix the "
        "cause, restart the backend")


def _tally(scan: ErrorScan, kind: str, severity: object, n: int, example: object) -> None:
    if severity not in ("error", "critical"):
        return
    key = _ATTRIBUTE.get(kind) or ("telegram" if kind.startswith("telegram_") else None)
    if key:
        scan.attributed[key] += n
    elif kind.startswith("exchange_"):
        scan.expected[kind] += n
    else:
        scan.unexpected[kind] += n
        scan.examples.setdefault(kind, str(example or "")[:200])


async def _from_journal(ctx: CheckContext) -> ErrorScan:
    """The journal's error events of the window: counted by the server (one GROUP BY),
    or, from a backend older than /api/events/counts, paged through and counted here."""
    try:
        counts = await ctx.api.get("/api/events/counts", since=ctx.since_iso())
    except SourceUnavailable as exc:
        if exc.http_status != 404:
            raise
    else:
        scan = ErrorScan(lines=int(counts.get("total") or 0))
        for g in counts.get("groups") or []:
            _tally(scan, str(g.get("type")), g.get("severity"), int(g.get("count") or 0),
                   g.get("example"))
        return scan
    events = await ctx.api.get_all("/api/events", since=ctx.since_iso())
    scan = ErrorScan(lines=len(events))
    for e in events:
        _tally(scan, str(e.get("type")), e.get("severity"), 1, e.get("message"))
    return scan


async def run(ctx: CheckContext) -> CheckResult:
    if ctx.logs is not None:
        source = ctx.logs.name
        logs = ctx.logs
        scan = await asyncio.to_thread(scan_errors, logs, ctx.since)
        size = (plural(scan.lines, "log line") if scan.lines >= 0
                else f"{scan.bytes_read / 1e6:.1f} MB of log")
        origin = f"{size} read from {source}"
    else:
        scan = await _from_journal(ctx)
        origin = (f"no log file given (LOG_FILE / --log-file): counted from "
                  f"{plural(scan.lines, 'journal event')} instead")
    details = [origin]
    if scan.expected:
        details.append("expected, transient (counted, not failed): " + _fmt(scan.expected))
    if scan.attributed:
        details.append("named by other checks: " + _fmt(scan.attributed))
    data = {"unexpected": dict(scan.unexpected), "expected": dict(scan.expected),
            "attributed": dict(scan.attributed), "tracebacks": scan.tracebacks,
            "lines": scan.lines, "source": "log" if ctx.logs is not None else "journal"}
    total = sum(scan.unexpected.values())
    if total:
        details += limit_list([f"{key} ×{n}: {scan.examples.get(key, '')}"
                               for key, n in scan.unexpected.most_common()])
        return CheckResult(ID, Status.CRITICAL, f"{plural(total, 'unexpected error')} in the "
                           f"window ({scan.tracebacks} tracebacks): " + _fmt(scan.unexpected),
                           details, _FIX, data)
    quiet = sum(scan.expected.values()) + sum(scan.attributed.values())
    return CheckResult(ID, Status.OK, "no unexpected errors or tracebacks"
                       + (f" ({quiet} expected/attributed counted)" if quiet else ""),
                       details, None, data)


def _fmt(counter: Counter[str], n: int = 5) -> str:
    parts = [f"{k} ×{v}" for k, v in counter.most_common(n)]
    if len(counter) > n:
        parts.append(f"+{len(counter) - n} more")
    return ", ".join(parts)
