"""Health and monitoring: what the runbook's step a and `atp check` read first."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from atp.api import queries
from atp.api.deps import Limit, PlatformDep, Since, aware
from atp.api.schemas import Cycle, Health, Summary
from atp.engine.service import Platform

router = APIRouter(prefix="/api", tags=["monitoring"])


def health_of(platform: Platform) -> dict[str, Any]:
    """The verdict from memory only, so it stays fast while a cycle runs (failure mode 10)."""
    ago = platform.last_update_seconds_ago()
    stale_after = platform.settings.limits.cycle_stale_after_seconds
    status, reason = "ok", "monitor cycling"
    if platform.started_at is not None and not platform.running:
        status, reason = "down", "the scheduler is not running"
    elif platform.monitor.ticks == 0:
        status, reason = "degraded", "no monitor cycle completed yet"
    elif ago is not None and ago > stale_after:
        status, reason = "degraded", f"last monitor cycle {ago:.0f} s ago (> {stale_after:.0f} s)"
    return {
        "status": status,
        "reason": reason,
        "instance": platform.settings.instance_name,
        "scheduler_ticks": platform.scheduler_ticks,
        "signal_monitor_ticks": platform.monitor.ticks,
        "last_update_seconds_ago": ago,
    }


@router.get("/health", response_model=Health)
async def health(platform: PlatformDep) -> dict[str, Any]:
    """Liveness plus a one-word verdict (`ok` / `degraded` / `down`) and its reason."""
    return health_of(platform)


@router.get("/monitoring/summary", response_model=Summary)
async def summary(platform: PlatformDep) -> dict[str, Any]:
    """Counters since this instance started, from the same records `atp check` reconciles."""
    counts = await platform.db.read(_counts, platform)
    last = platform.monitor.last
    return {
        "instance": platform.settings.instance_name,
        "started_at": platform.started_at,
        "scheduler_ticks": platform.scheduler_ticks,
        "signal_monitor_ticks": platform.monitor.ticks,
        "last_update_seconds_ago": platform.last_update_seconds_ago(),
        "last_cycle_id": None if last is None else last.cycle_id,
        "last_cycle_duration_ms": None if last is None else round(last.duration_ms, 1),
        "last_cycle_symbols": None if last is None else last.symbols,
        "last_cycle_processed": None if last is None else last.processed,
        "last_cycle_skipped": None if last is None else last.skipped,
        "missed_cycles": platform.missed_cycles,
        "cycle_errors": platform.cycle_errors,
        "decision_counts": counts["decisions"],
        "alert_outcome_counts": counts["outcomes"],
        "outbox_pending": counts["outbox_pending"],
        "decision_flips": dict(platform.monitor.flips),
    }


def _counts(platform: Platform) -> dict[str, Any]:
    with platform.db.sessions() as session:
        return queries.summary_counts(session, platform.started_at)


@router.get("/monitoring/cycles", response_model=list[Cycle])
async def cycles(platform: PlatformDep, since: Since = None,
                 limit: Limit = 100) -> list[dict[str, Any]]:
    """Monitor cycles, newest first: gaps and lag show a stalled or overrunning monitor."""
    start = aware(since, "since")
    return await platform.db.read(_cycles, platform, start, limit)


def _cycles(platform: Platform, since: Any, limit: int) -> list[dict[str, Any]]:
    with platform.db.sessions() as session:
        return queries.cycles(session, since, limit)


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
