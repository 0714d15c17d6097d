"""Decisions, alert outcomes, events, throttle state and the audit trail.

All of it read from the journal the engine wrote, filtered and paged; the "Monitoring →
Telegram Messages" view of the runbook is `/api/alerts/outcomes`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from atp.api.deps import (
    DECISION_ID_PATTERN,
    EVENT_TYPES_PATTERN,
    CoreDep,
    Limit,
    Offset,
    Since,
    SymbolFilter,
    Until,
    aware,
    unprocessable,
)
from atp.api.schemas import (
    AlertOutcomeOut,
    AlertReconciliationOut,
    AuditOut,
    DecisionOut,
    DecisionRunOut,
    EventCountsOut,
    EventKindOut,
    EventOut,
    Outcome,
    ThrottleOut,
)
from atp.events import EventKind, catalogue

DECISIONS = ("BUY", "SELL", "WAIT")

router = APIRouter(prefix="/api", tags=["journal"])

DecisionIdFilter = Annotated[str | None, Query(pattern=DECISION_ID_PATTERN)]


def _kinds(decision: str | None) -> list[str] | None:
    if decision is None:
        return None
    kinds = [k.strip().upper() for k in decision.split(",") if k.strip()]
    bad = [k for k in kinds if k not in DECISIONS]
    if bad or not kinds:
        raise unprocessable(["query", "decision"],
                            f"must be a comma-separated list of {', '.join(DECISIONS)}")
    return kinds


def _types(value: str | None) -> list[str] | None:
    if value is None:
        return None
    known = {k.value for k in EventKind}
    types = value.split(",")
    bad = [t for t in types if t not in known]
    if bad:
        raise unprocessable(["query", "type"], f"unknown event type(s) {', '.join(bad)}; "
                            "GET /api/events/kinds lists them")
    return types


@router.get("/decisions", response_model=list[DecisionOut])
async def decisions(
    core: CoreDep,
    symbol: SymbolFilter = None,
    decision: Annotated[str | None, Query(max_length=64, description="e.g. BUY,SELL")] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Decisions newest first with flags, indicator values and reasons (failure mode 13:
    flips are visible because each decision keeps what it was made from)."""
    return await core.decisions(symbol=symbol, kinds=_kinds(decision),
                       since=aware(since, "since"), until=aware(until, "until"),
                       limit=limit, offset=offset)


@router.get("/decisions/runs", response_model=list[DecisionRunOut])
async def decision_runs(
    core: CoreDep,
    since: Since = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The decision rows still decided since `since`, newest first, with their span and
    repeats but without flags, indicators and reasons: what `atp check` counts, in a
    tenth of the bytes of /api/decisions."""
    return await core.decision_runs(since=aware(since, "since"), limit=limit, offset=offset)


@router.get("/alerts/outcomes", response_model=list[AlertOutcomeOut])
async def alert_outcomes(
    core: CoreDep,
    since: Since = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    symbol: SymbolFilter = None,
    decision_id: DecisionIdFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The Telegram messages view: each BUY/SELL decision's outcome, its reason, the
    message text and Telegram's message id, newest first."""
    return await core.outcomes(since=aware(since, "since"),
                       outcome=outcome, symbol=symbol, decision_id=decision_id,
                       limit=limit, offset=offset)


@router.get("/alerts/reconciliation", response_model=AlertReconciliationOut)
async def alert_reconciliation(core: CoreDep, since: Since = None,
                               limit: Limit = 1000) -> dict[str, Any]:
    """Every BUY/SELL decision since `since` joined to its outcome, counted in the
    database: `atp check`'s `alert_emissions` in one bounded request, the decisions
    without an outcome and the outcomes not final or failed listed by name."""
    return await core.alert_reconciliation(aware(since, "since"), limit)


@router.get("/events/counts", response_model=EventCountsOut)
async def event_counts(core: CoreDep, since: Since = None,
                       until: Until = None) -> dict[str, Any]:
    """Events per type and severity in the window, with the newest message of each
    error group: `atp check`'s `errors` without paging through the journal."""
    return await core.event_counts(aware(since, "since"), aware(until, "until"))


@router.get("/events/latest", response_model=list[EventOut])
async def latest_events(
    core: CoreDep,
    type: Annotated[str | None, Query(pattern=EVENT_TYPES_PATTERN,
                                      description="event type(s), comma-separated")] = None,
    since: Since = None,
) -> list[dict[str, Any]]:
    """The newest event of each symbol (of these types, since `since`), newest first: one
    row per symbol however many there are, e.g. why each symbol was last skipped."""
    return await core.latest_events(_types(type), aware(since, "since"))


@router.get("/events", response_model=list[EventOut])
async def events(
    core: CoreDep,
    type: Annotated[str | None, Query(pattern=EVENT_TYPES_PATTERN,
                                      description="event type(s), comma-separated")] = None,
    symbol: SymbolFilter = None,
    decision_id: DecisionIdFilter = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The event journal, newest first, filtered and paged."""
    return await core.events(
         types=_types(type), symbol=symbol,
                       decision_id=decision_id, since=aware(since, "since"),
                       until=aware(until, "until"), limit=limit, offset=offset)


@router.get("/events/kinds", response_model=list[EventKindOut])
async def event_kinds() -> list[dict[str, Any]]:
    """Every event kind with its default severity and payload fields, as defined once in
    `atp.events` (the producers and the journal reader use the same classes)."""
    return catalogue()


@router.get("/throttle", response_model=list[ThrottleOut])
async def throttle(core: CoreDep) -> list[dict[str, Any]]:
    """The last accepted alert per (symbol, preset): the input of every throttle verdict."""
    return await core.throttle()


@router.get("/audit", response_model=list[AuditOut])
async def audit(
    core: CoreDep,
    entity: Annotated[Literal["setting", "preset", "watchlist"] | None, Query()] = None,
    entity_key: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,128}$")] = None,
    since: Since = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Every change to settings, presets and the watchlist: when, who, old → new."""
    return await core.audit(entity=entity, entity_key=entity_key,
                       since=aware(since, "since"), limit=limit, offset=offset)

