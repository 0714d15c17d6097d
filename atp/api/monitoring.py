"""Health and monitoring: what the runbook's step a and `atp check` read first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends

from atp.api.deps import get_platform
from atp.store import repository as repo
from atp.store.uow import UnitOfWork

if TYPE_CHECKING:
    from atp.engine.service import Platform

router = APIRouter(prefix="/api", tags=["monitoring"])

STALE_AFTER_S = 60.0


@router.get("/health")
async def health(platform: Platform = Depends(get_platform)) -> dict[str, Any]:
    """Answered from memory only, so it stays fast while a cycle runs (failure mode 10)."""
    ago = platform.last_update_seconds_ago()
    status, reason = "ok", "monitor cycling"
    if platform.monitor.ticks == 0:
        status, reason = "degraded", "no monitor cycle completed yet"
    elif ago is not None and ago > STALE_AFTER_S:
        status, reason = "degraded", f"last monitor cycle {ago:.0f} s ago (> {STALE_AFTER_S:.0f} s)"
    return {
        "status": status,
        "reason": reason,
        "instance": platform.settings.instance_name,
        "scheduler_ticks": platform.scheduler_ticks,
        "signal_monitor_ticks": platform.monitor.ticks,
        "last_update_seconds_ago": ago,
    }


@router.get("/monitoring/summary")
async def summary(platform: Platform = Depends(get_platform)) -> dict[str, Any]:
    """Counters since this instance started, from the same records `atp check` reconciles."""
    counts = await platform.db.read(_counts, platform)
    last = platform.monitor.last
    return {
        "instance": platform.settings.instance_name,
        "started_at": platform.started_at.isoformat() if platform.started_at else None,
        "scheduler_ticks": platform.scheduler_ticks,
        "signal_monitor_ticks": platform.monitor.ticks,
        "last_update_seconds_ago": platform.last_update_seconds_ago(),
        "last_cycle_duration_ms": None if last is None else round(last.duration_ms, 1),
        "last_cycle_symbols": None if last is None else last.symbols,
        "last_cycle_skipped": None if last is None else last.skipped,
        "missed_cycles": platform.missed_cycles,
        "decision_counts": counts["decisions"],
        "alert_outcome_counts": counts["outcomes"],
        "outbox_pending": counts["outbox_pending"],
        "decision_flips": dict(platform.monitor.flips),
    }


def _counts(platform: Platform) -> dict[str, Any]:
    since = platform.started_at
    with UnitOfWork(platform.db.sessions, "read_summary") as uow:
        pending, _ = repo.outbox_depth(uow.session)
        return {
            "decisions": repo.decision_counts(uow.session, since),
            "outcomes": repo.outcome_counts(uow.session, since),
            "outbox_pending": pending,
        }
