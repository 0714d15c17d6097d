"""The adapters' state: Telegram (lease, sends, 409s) and the exchange (auth, proxy).

What the runbook's steps h and i ask, answered from the running adapters and the journal,
so `atp check` can tell "token missing" from "another poller holds the lease" from "the
exchange refuses our key" without reading logs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from atp.api import queries
from atp.api.deps import PlatformDep
from atp.api.schemas import ExchangeState, TelegramState
from atp.engine.lease import lease_holder
from atp.engine.service import POLLER_LEASE, Platform
from atp.store import repository as repo

router = APIRouter(prefix="/api", tags=["state"])


def _telegram_db(platform: Platform, now: datetime) -> dict[str, Any]:
    with platform.db.sessions() as session:
        holder, expires = lease_holder(session, POLLER_LEASE, now)
        pending, oldest = repo.outbox_depth(session)
    return {"holder": holder, "expires": expires, "pending": pending, "oldest": oldest}


@router.get("/telegram/state", response_model=TelegramState)
async def telegram_state(platform: PlatformDep) -> dict[str, Any]:
    """Who polls, what was sent, the 409 count: conflicts must not block outgoing alerts."""
    s = platform.settings
    now = platform.clock.now()
    db = await platform.db.read(_telegram_db, platform, now)
    poller = platform.poller
    status = getattr(poller, "status", None)
    conflicts = getattr(poller, "conflicts", None)
    stats = platform.outbox.stats
    return {
        "token_configured": s.telegram_bot_token is not None,
        "token_valid": platform.telegram_identity.get("token_valid"),
        "bot_username": platform.telegram_identity.get("bot_username"),
        "chat_configured": bool(s.telegram_chat_id),
        "production": s.production,
        "alerts_enabled": s.alerts_enabled,
        "lease_holder": db["holder"],
        "lease_expires_at": db["expires"],
        "polling": bool(getattr(status, "polling", False)),
        "holding_lease": bool(getattr(status, "holding_lease", False)),
        "conflicts": {
            "count": int(getattr(conflicts, "count", 0)),
            "last_at": getattr(conflicts, "last_at", None),
            "last_description": getattr(conflicts, "last_description", None),
        },
        "last_send_at": stats.last_send_at,
        "last_error": stats.last_error,
        "last_error_at": stats.last_error_at,
        "sent": stats.sent,
        "failed": stats.failed,
        "retries": stats.retries,
        "outbox_pending": db["pending"],
        "oldest_pending_age_seconds": (
            None if db["oldest"] is None else round((now - db["oldest"]).total_seconds(), 3)
        ),
    }


def _failure_at(platform: Platform) -> datetime | None:
    with platform.db.sessions() as session:
        return queries.last_exchange_failure_at(session)


@router.get("/exchange/state", response_model=ExchangeState)
async def exchange_state(platform: PlatformDep) -> dict[str, Any]:
    """Credentials, proxy, the last private call that worked and the last diagnosed
    failure (40101 / 40102 / 40103 / proxy 407 told apart, each with its fix)."""
    s = platform.settings
    client = platform.exchange_client
    ok = getattr(client, "last_private_ok", None)
    failure = getattr(client, "last_failure", None)
    last_failure = None
    if failure is not None:
        last_failure = {
            "category": str(getattr(failure, "category", "exchange")),
            "kind": str(getattr(failure, "kind", "exchange")),
            "code": getattr(failure, "code", None),
            "diagnosis": str(getattr(failure, "diagnosis", "")),
            "fix": str(getattr(failure, "fix", "")),
            "at": await platform.db.read(_failure_at, platform),
        }
    return {
        "credentials_configured": (client.has_credentials if client is not None
                                   else s.has_exchange_credentials),
        "proxy_in_use": (client.proxy_in_use if client is not None
                         else s.exchange_proxy_url is not None),
        "last_private_ok_at": None if ok is None else datetime.fromtimestamp(ok, UTC),
        "last_failure": last_failure,
    }
