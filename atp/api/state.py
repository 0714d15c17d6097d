"""The adapters' state: Telegram (lease, sends, 409s) and the exchange (auth, proxy).

What the runbook's steps h and i ask, answered from the running adapters and the journal,
so `atp check` can tell "token missing" from "another poller holds the lease" from "the
exchange refuses our key" without reading logs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from atp.api.deps import CoreDep, StatusDep
from atp.api.schemas import ExchangeState, TelegramState
from atp.engine.service import POLLER_LEASE, PRESENCE_PREFIX, SENDER_LEASE

router = APIRouter(prefix="/api", tags=["state"])


@router.get("/telegram/state", response_model=TelegramState)
async def telegram_state(p: StatusDep, core: CoreDep) -> dict[str, Any]:
    """Who polls, what was sent, the 409 count: conflicts must not block outgoing alerts."""
    t, o = p.telegram, p.outbox
    now = core.clock.now()
    holder, expires = await core.lease(POLLER_LEASE)
    sender, _ = await core.lease(SENDER_LEASE)
    pending, oldest = await core.outbox_depth()
    return {
        "owner": p.owner,
        "processes": await core.processes(PRESENCE_PREFIX),
        "sender_lease_holder": sender,
        "polling_stopped_reason": t.polling_stopped_reason,
        "poll_restarts": t.poll_restarts,
        "token_configured": t.token_configured,
        "token_valid": t.token_valid,
        "bot_username": t.bot_username,
        "chat_configured": t.chat_configured,
        "production": t.production,
        "alerts_enabled": t.alerts_enabled,
        "lease_holder": holder,
        "lease_expires_at": expires,
        "polling": t.polling,
        "holding_lease": t.holding_lease,
        "conflicts": {
            "count": t.conflicts,
            "last_at": t.conflict_last_at,
            "last_description": t.conflict_last_description,
        },
        "unauthorised_dropped": t.unauthorised_dropped,
        "last_send_at": o.last_send_at,
        "last_error": o.last_error,
        "last_error_at": o.last_error_at,
        "sent": o.sent,
        "failed": o.failed,
        "retries": o.retries,
        "system_sent": o.system_sent,
        "possible_repeats": o.repeats,
        "possible_repeats_total": await core.outbox_repeats(),
        "outbox_pending": pending,
        "oldest_pending_age_seconds": (
            None if oldest is None else round((now - oldest).total_seconds(), 3)
        ),
    }


@router.get("/exchange/state", response_model=ExchangeState)
async def exchange_state(p: StatusDep, core: CoreDep) -> dict[str, Any]:
    """Credentials, proxy, the last private call that worked and the last diagnosed
    failure (40101 / 40102 / 40103 / proxy 407 told apart, each with its fix)."""
    e = p.exchange
    last_failure = None
    if e.last_failure is not None:
        f = e.last_failure
        last_failure = {"category": f.category, "kind": f.kind, "code": f.code,
                        "diagnosis": f.diagnosis, "fix": f.fix,
                        "at": await core.last_exchange_failure_at()}
    return {
        "credentials_configured": e.credentials_configured,
        "proxy_in_use": e.proxy_in_use,
        "last_private_ok_at": e.last_private_ok_at,
        "last_failure": last_failure,
    }
