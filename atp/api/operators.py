"""Endpoints kept for the tools operators already have (product.md §6).

The old platform's compose healthcheck and nginx map call `/health`, `/ping_fast` and
`/__ping`; its dashboard and scripts read `/api/monitoring/telegram-messages` and
`/api/dashboard/snapshot`. They answer from the same status snapshot and stored records as
the rest of the API (nothing computed twice), in the shapes those tools expect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from atp.api.deps import CoreDep, Limit, Since, StatusDep, aware
from atp.api.monitoring import health_of
from atp.api.schemas import DashboardSnapshot, Health, TelegramMessages

router = APIRouter(tags=["kept for existing tools"])

_KEPT = "Kept for existing tools (the old platform's healthcheck and nginx map); same " \
        "answer as `GET /api/health`."


@router.get("/health", response_model=Health, description=_KEPT)
async def health_alias(status: StatusDep) -> dict[str, Any]:
    return health_of(status)


@router.get("/ping_fast", response_model=Health, description=_KEPT)
async def ping_fast(status: StatusDep) -> dict[str, Any]:
    return health_of(status)


@router.get("/__ping", response_model=Health, description=_KEPT)
async def dunder_ping(status: StatusDep) -> dict[str, Any]:
    return health_of(status)


@router.get("/api/monitoring/telegram-messages", response_model=TelegramMessages)
async def telegram_messages(core: CoreDep, since: Since = None,
                            limit: Limit = 100) -> dict[str, Any]:
    """Kept for existing tools ("Monitoring → Telegram Messages"): one entry per BUY/SELL
    decision's alert outcome, newest first, with an ISO `timestamp`; `total` counts every
    outcome in the window, not only this page."""
    found = await core.telegram_messages(aware(since, "since"), limit)
    messages = []
    for row in found["rows"]:
        outcome = str(row["outcome"])
        messages.append({
            "timestamp": row["created_at"],
            "symbol": row["symbol"],
            "side": row["side"],
            "status": outcome.lower(),
            "blocked": outcome in ("BLOCKED", "THROTTLED"),
            "message": row.get("message"),
            "reason": row.get("reason"),
            "message_id": row.get("message_id"),
            "decision_id": row["decision_id"],
            "origin": row.get("origin"),
        })
    return {"messages": messages, "total": found["total"]}


@router.get("/api/dashboard/snapshot", response_model=DashboardSnapshot)
async def dashboard_snapshot(status: StatusDep, core: CoreDep) -> dict[str, Any]:
    """Kept for existing tools: what the dashboard shows, in one answer — the verdict, the
    latest stored decision per watchlist symbol and the newest alert outcomes."""
    coins = await core.coins()
    recent = await core.telegram_messages(None, 20)
    return {
        "data": {
            "health": health_of(status),
            "coins": coins,
            "recent_alerts": recent["rows"],
        },
        "generated_at": datetime.now(UTC),
    }
