"""Health and monitoring: what the runbook's step a and `atp check` read first."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from atp.api.deps import CoreDep, Limit, Since, StatusDep, aware
from atp.api.schemas import Cycle, Health, Summary
from atp.engine.status import PlatformStatus

router = APIRouter(prefix="/api", tags=["monitoring"])


def health_of(p: PlatformStatus) -> dict[str, Any]:
    """The verdict from the status snapshot only, so it stays fast while a cycle runs
    (failure mode 10)."""
    ago = p.last_update_seconds_ago
    stale_after = p.cycle_stale_after_seconds
    status, reason = "ok", "monitor cycling"
    if p.started_at is not None and not p.running:
        status, reason = "down", "the scheduler is not running"
    elif p.monitor_ticks == 0:
        status, reason = "degraded", "no monitor cycle completed yet"
    elif ago is not None and ago > stale_after:
        status, reason = "degraded", f"last monitor cycle {ago:.0f} s ago (> {stale_after:.0f} s)"
    if p.problems and status != "down":
        reasons = [] if status == "ok" else [reason]
        status, reason = "degraded", "; ".join([*reasons, *p.problems])
    return {
        "status": status,
        "reason": reason,
        "instance": p.instance,
        "scheduler_ticks": p.scheduler_ticks,
        "signal_monitor_ticks": p.monitor_ticks,
        "last_update_seconds_ago": ago,
        "problems": list(p.problems),
        "replicas": p.replicas,
    }


@router.get("/health", response_model=Health)
async def health(status: StatusDep) -> dict[str, Any]:
    """Liveness plus a one-word verdict (`ok` / `degraded` / `down`) and its reason."""
    return health_of(status)


@router.get("/monitoring/summary", response_model=Summary)
async def summary(p: StatusDep, core: CoreDep) -> dict[str, Any]:
    """Counters since this instance started, from the same records `atp check` reconciles."""
    counts = await core.summary_counts(p.started_at)
    last = p.last_cycle
    return {
        "instance": p.instance,
        "started_at": p.started_at,
        "scheduler_ticks": p.scheduler_ticks,
        "signal_monitor_ticks": p.monitor_ticks,
        "last_update_seconds_ago": p.last_update_seconds_ago,
        "last_cycle_id": None if last is None else last.cycle_id,
        "last_cycle_duration_ms": None if last is None else round(last.duration_ms, 1),
        "last_cycle_symbols": None if last is None else last.symbols,
        "last_cycle_processed": None if last is None else last.processed,
        "last_cycle_skipped": None if last is None else last.skipped,
        "missed_cycles": p.missed_cycles,
        "cycle_errors": p.cycle_errors,
        "evaluation_errors": p.evaluation_errors,
        "decision_counts": counts["decisions"],
        "alert_outcome_counts": counts["outcomes"],
        "outbox_pending": counts["outbox_pending"],
        "decision_flips": dict(p.decision_flips),
    }


@router.get("/monitoring/cycles", response_model=list[Cycle])
async def cycles(core: CoreDep, since: Since = None,
                 limit: Limit = 100) -> list[dict[str, Any]]:
    """Monitor cycles, newest first: gaps and lag show a stalled or overrunning monitor."""
    return await core.cycles(aware(since, "since"), limit)


@router.get(
    "/monitoring/integrity",
    responses={503: {"description": "the integrity check is not plugged in"}},
)
async def integrity(request: Request) -> Any:
    """The integrity report (product.md §4 JSON), from the callable the integrity package
    plugs into `app.state.integrity`; 503 until it does."""
    check = getattr(request.app.state, "integrity", None)
    if check is None:
        return JSONResponse({"detail": "integrity check not available"}, status_code=503)
    result = check()
    if inspect.isawaitable(result):
        result = await result
    return result
