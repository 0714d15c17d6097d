"""The probe (product.md §6): `POST /api/probe` sends a TEST-marked synthetic alert through
the real path — probe record, durable outbox, Telegram — and `GET /api/probe/{id}` says
which stage it reached. `atp check --probe` uses both; Telegram's `/test` the same core.

A probe is recorded apart from the decisions (no count, check or throttle of real alerts
sees it) and has no order intent: it can never place an order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from atp.api.deps import SYMBOL_PATTERN, Author, CoreDep

router = APIRouter(prefix="/api", tags=["probe"])

PROBE_ID_PATTERN = r"^[0-9a-fA-F-]{1,36}$"
_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong API token"},
    403: {"description": "writes disabled: API_TOKEN not configured"},
    409: {"description": "no Telegram chat configured (TELEGRAM_CHAT_ID)"},
}


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=SYMBOL_PATTERN, description="a watched symbol, e.g. BTC_USDT")


class ProbeOut(BaseModel):
    """A probe and the stage it reached (`recorded`: queued but its outbox row is gone)."""

    id: str
    symbol: str
    author: str
    origin: str
    price: float | None = None
    stage: Literal["recorded", "queued", "sent", "failed"]
    created_at: datetime
    finished_at: datetime | None = None
    message_id: int | None = Field(None, description="Telegram's message id once sent")
    latency_ms: float | None = Field(None, description="queued → Telegram's answer")
    error: str | None = Field(None, description="why it failed (or a note on a send)")
    attempts: int | None = None
    last_error: str | None = Field(None, description="the last delivery error, while queued")
    next_attempt_at: datetime | None = None
    text: str | None = None


@router.post("/probe", response_model=ProbeOut, status_code=status.HTTP_201_CREATED,
             responses=_REFUSALS)
async def create_probe(body: ProbeRequest, core: CoreDep, author: Author) -> dict[str, Any]:
    """Queue a TEST-marked alert for a watched symbol (audited); answers the probe with its
    id. Poll `GET /api/probe/{id}` for its message id and latency."""
    return await core.probe(body.symbol, author)


@router.get("/probe/{probe_id}", response_model=ProbeOut,
            responses={404: {"description": "no such probe"}})
async def get_probe(
    probe_id: Annotated[str, Path(pattern=PROBE_ID_PATTERN)], core: CoreDep
) -> dict[str, Any]:
    """The stage a probe reached: queued (with the last delivery error), sent (message id,
    latency) or failed (the reason)."""
    return await core.probe_status(probe_id)
