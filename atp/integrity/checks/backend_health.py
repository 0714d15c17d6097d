"""Runbook step a: the API answers, the scheduler and the monitor tick, recently.

Only "the backend is down or its scheduler is dead" is critical here; a monitor that
stopped cycling is `signal_monitor_cycles`' finding (so a fault is named once).
"""

from __future__ import annotations

from typing import Any

from atp.domain.shards import ranges
from atp.integrity.context import STALE_AFTER_S, CheckContext
from atp.integrity.report import CheckResult, Status, ago
from atp.integrity.sources import SourceUnavailable

ID = "backend_health"
TITLE = "Backend health summary"
WARMUP_S = 90.0

_RESTART = ("start the backend (atp run, or docker restart <project>-backend-1) and check "
            "its logs: atp logs --tail 200")


def replicas_line(view: dict[str, Any]) -> str:
    """`replicas: a@h/1/x (shards 0-3; telegram-sender), b@h/2/y (shards 4-7)`: who holds
    what on this database, from /api/health's `replicas`."""
    parts = []
    for r in view.get("replicas") or []:
        held = [f"shards {ranges(r.get('shards') or [])}"] + [str(n) for n in r.get("holds")
                                                             or []]
        parts.append(f"{r.get('owner')}{'' if r.get('alive') else ' (gone)'}"
                     f"{' (this one)' if r.get('me') else ''} ({'; '.join(held)})")
    unowned = view.get("unowned_shards") or []
    mode = f"{view.get('shards')} shards" if view.get("sharded") else "SQLite, one process"
    return (f"replicas ({mode}): " + (", ".join(parts) or "none")
            + (f"; unowned shards {ranges(unowned)}" if unowned else ""))


async def run(ctx: CheckContext) -> CheckResult:
    try:
        health = await ctx.api.get("/api/health")
    except SourceUnavailable as exc:
        return CheckResult(ID, Status.CRITICAL, f"backend not answering: {exc.reason}",
                           remediation=_RESTART, data={"reachable": False})
    sched = int(health.get("scheduler_ticks") or 0)
    ticks = int(health.get("signal_monitor_ticks") or 0)
    last = health.get("last_update_seconds_ago")
    verdict = str(health.get("status", "?"))
    data = {"reachable": True, "status": verdict, "scheduler_ticks": sched,
            "signal_monitor_ticks": ticks, "last_update_seconds_ago": last,
            "instance": health.get("instance")}
    details = [f"API status: {verdict}" + (f" ({health['reason']})" if health.get("reason")
                                           else ""),
               f"scheduler_ticks={sched}  signal_monitor_ticks={ticks}  "
               f"last_update_seconds_ago={'n/a' if last is None else f'{last:.0f}'}"]
    replicas = health.get("replicas")
    if isinstance(replicas, dict):
        details.append(replicas_line(replicas))
        data["replicas"] = {str(r.get("owner")): {"shards": r.get("shards"),
                                                  "holds": r.get("holds")}
                            for r in replicas.get("replicas") or []}
    text = (f"API 200, {verdict}; scheduler {sched} ticks, monitor {ticks} ticks, "
            f"last update {ago(last)} ago")
    if verdict == "down":
        return CheckResult(ID, Status.CRITICAL, text, details, _RESTART, data)
    if sched == 0:
        return CheckResult(ID, Status.CRITICAL, "scheduler is not ticking (scheduler_ticks=0)",
                           details, "restart the backend; if it persists, read the startup "
                           "errors: atp logs --tail 500", data)
    if ticks == 0 or last is None:
        status = Status.OK if sched < WARMUP_S else Status.WARNING
        return CheckResult(
            ID, status, f"API 200; monitor has not completed a cycle yet "
            f"(scheduler up {sched} s)", details,
            None if status is Status.OK else "see signal_monitor_cycles", data)
    problems = [str(x) for x in health.get("problems") or []]
    if problems and float(last) < STALE_AFTER_S:
        data["problems"] = problems
        return CheckResult(ID, Status.WARNING, f"API 200, degraded: {'; '.join(problems)}",
                           details, "the monitor cycles, a dependency does not: see "
                           "exchange_auth / telegram, or check DATABASE_URL and the database "
                           "server", data)
    if float(last) >= STALE_AFTER_S or verdict != "ok":
        return CheckResult(ID, Status.WARNING, text, details,
                           "the monitor is not cycling: see signal_monitor_cycles", data)
    return CheckResult(ID, Status.OK, text, details, None, data)
