"""Runbook step d, as a reconciliation: every BUY/SELL decision joined to its outcome.

A decision with no outcome is what a crash between decision and alert leaves behind
(failure mode 1); it is named with symbol, time and decision id. Decisions inside a
blocked run point at the BLOCKED outcome that covers them (`alert_ref`), business-rules §5.
ABANDONED is what the platform gives such an orphan at start when it is too old to alert:
no gap any more, but an alert that never went out, so a warning naming each.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from atp.integrity.checks._common import hhmmss, limit_list, plural
from atp.integrity.context import PENDING_LIMIT_S, CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.http import parse_time

ID = "alert_emissions"
TITLE = "Alert emissions (decision → outcome)"
IN_FLIGHT_S = 15.0  # a decision this young may be between its insert and its outcome
NAMED_OUTCOMES = ("PENDING", "FAILED", "ABANDONED")  # each named; the rest only counted
ROWS_LIMIT = 1000  # named rows read from the server (the counts are always complete)


def _name(d: dict[str, Any]) -> str:
    return (f"{d.get('symbol')} {d.get('decision')} at {hhmmss(parse_time(d.get('created_at')))}"
            f" (decision {d.get('id')})")


@dataclass
class Joined:
    """The window's BUY/SELL decisions joined to their outcomes: the count, the tally per
    outcome, and the rows worth naming (no outcome, or PENDING / FAILED / ABANDONED)."""

    decisions: int = 0
    tally: Counter[str] = field(default_factory=Counter)
    without: list[dict[str, Any]] = field(default_factory=list)  # decisions, not covered
    named: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    truncated: bool = False


async def _reconciled(ctx: CheckContext) -> Joined | None:
    """The join done by the server (/api/alerts/reconciliation, one bounded request);
    None from a backend older than that endpoint."""
    try:
        body = await ctx.api.get("/api/alerts/reconciliation", since=ctx.since_iso(),
                                 limit=ROWS_LIMIT)
    except SourceUnavailable as exc:
        if exc.http_status == 404:
            return None
        raise
    joined = Joined(decisions=int(body.get("decisions") or 0),
                    truncated=bool(body.get("truncated")))
    joined.tally.update({str(k): int(n) for k, n in (body.get("outcomes") or {}).items()})
    if body.get("covered"):
        joined.tally["BLOCKED (covered)"] = int(body["covered"])
    for r in body.get("rows") or []:
        d = {"id": r.get("decision_id"), "symbol": r.get("symbol"),
             "decision": r.get("decision"), "created_at": r.get("created_at")}
        if r.get("outcome") is None:
            joined.without.append(d)
        else:
            joined.named.append((d, {"decision_id": r.get("decision_id"),
                                     "symbol": r.get("symbol"), "side": r.get("decision"),
                                     "outcome": r.get("outcome"), "reason": r.get("reason"),
                                     "error": r.get("error"),
                                     "created_at": r.get("outcome_at")}))
    return joined


async def _paged(ctx: CheckContext) -> Joined:
    """The join done here, over every decision and outcome of the window (paged)."""
    decisions = await ctx.api.get_all("/api/decisions", decision="BUY,SELL",
                                      since=ctx.since_iso())
    # Outcomes are read after decisions: an outcome is never older than its decision.
    outcomes = await ctx.api.get_all("/api/alerts/outcomes", since=ctx.since_iso())
    by_decision = {str(o.get("decision_id")): o for o in outcomes}
    joined = Joined(decisions=len(decisions))
    for d in decisions:
        outcome = by_decision.get(str(d.get("id")))
        if outcome is None:
            if d.get("alert_ref"):
                joined.tally["BLOCKED (covered)"] += 1
            else:
                joined.without.append(d)
            continue
        joined.tally[str(outcome.get("outcome"))] += 1
        if outcome.get("outcome") in NAMED_OUTCOMES:
            joined.named.append((d, outcome))
    return joined


async def run(ctx: CheckContext) -> CheckResult:
    joined = await _reconciled(ctx) or await _paged(ctx)
    missing: list[dict[str, Any]] = []
    in_flight = 0
    tally = joined.tally
    pending_old: list[tuple[dict[str, Any], float]] = []
    failed: list[dict[str, Any]] = []
    abandoned: list[dict[str, Any]] = []
    for d in joined.without:
        at = parse_time(d.get("created_at"))
        if at is not None and (ctx.now - at).total_seconds() < IN_FLIGHT_S:
            in_flight += 1
        else:
            missing.append(d)
    for d, outcome in joined.named:
        kind = str(outcome.get("outcome"))
        if kind == "PENDING":
            at = parse_time(outcome.get("created_at"))
            age = 0.0 if at is None else (ctx.now - at).total_seconds()
            if age > PENDING_LIMIT_S:
                pending_old.append((outcome, age))
        elif kind == "FAILED":
            failed.append(outcome)
        elif kind == "ABANDONED":
            abandoned.append({**outcome, "created_at": d.get("created_at"),
                              "decision": d.get("decision"), "id": d.get("id")})
    n_decisions = joined.decisions

    breakdown = ", ".join(f"{k.lower()} {n}" for k, n in sorted(tally.items())) or "none"
    details = [f"{plural(n_decisions, 'BUY/SELL decision')} in the window; outcomes: "
               f"{breakdown}" + (f"; {in_flight} in flight" if in_flight else "")]
    if joined.truncated:
        details.append(f"only the newest {ROWS_LIMIT} decisions without a final outcome "
                       "are named below")
    data: dict[str, Any] = {
        "decisions": n_decisions, "outcomes": dict(tally), "in_flight": in_flight,
        "missing": [{"decision_id": d.get("id"), "symbol": d.get("symbol"),
                     "side": d.get("decision"), "created_at": d.get("created_at")}
                    for d in missing],
        "pending_over_limit": [{"decision_id": o.get("decision_id"), "symbol": o.get("symbol"),
                                "age_s": round(a)} for o, a in pending_old],
        "failed": [{"decision_id": o.get("decision_id"), "symbol": o.get("symbol"),
                    "error": o.get("error")} for o in failed],
        "abandoned": [{"decision_id": o.get("decision_id"), "symbol": o.get("symbol"),
                       "reason": o.get("reason")} for o in abandoned],
    }
    if missing:
        details += limit_list(["no outcome: " + _name(d) for d in missing])
        return CheckResult(
            ID, Status.CRITICAL,
            f"{plural(len(missing), 'BUY/SELL decision')} without an alert outcome: "
            + "; ".join(_name(d) for d in missing[:3]) + ("; …" if len(missing) > 3 else ""),
            details,
            "the alert pipeline dropped these decisions (crash between decision and alert?): "
            "read atp logs --since 15m around their times and restart the backend",
            data)
    if failed:
        details += limit_list([f"FAILED: {o.get('symbol')} {o.get('side')} (decision "
                               f"{o.get('decision_id')}): {o.get('error')}" for o in failed])
        return CheckResult(ID, Status.CRITICAL, f"{plural(len(failed), 'alert')} FAILED: "
                           + str(failed[0].get("error")), details,
                           "a permanent Telegram error (bot blocked, chat not found): fix "
                           "TELEGRAM_CHAT_ID / unblock the bot; see the telegram check", data)
    if abandoned:
        details += limit_list([f"ABANDONED: {_name(o)}: {o.get('reason')}" for o in abandoned])
        return CheckResult(
            ID, Status.WARNING,
            f"{plural(len(abandoned), 'BUY/SELL decision')} ABANDONED (found without outcome "
            "after a restart, too old to alert): "
            + "; ".join(_name(o) for o in abandoned[:3]) + ("; …" if len(abandoned) > 3
                                                             else ""),
            details,
            "the process stopped between these decisions and their alerts (a crash or "
            "SIGKILL): read atp logs around their times; the alerts were not sent", data)
    if pending_old:
        oldest = max(a for _, a in pending_old)
        details += limit_list([f"PENDING {a:.0f} s: {o.get('symbol')} {o.get('side')} "
                               f"(decision {o.get('decision_id')})" for o, a in pending_old])
        return CheckResult(ID, Status.WARNING,
                           f"{plural(len(pending_old), 'alert')} PENDING for more than "
                           f"{PENDING_LIMIT_S:.0f} s (oldest {oldest:.0f} s): accepted, "
                           "not delivered yet", details,
                           "delivery is being retried: see the telegram check for why the "
                           "Bot API is not accepting messages", data)
    if not n_decisions:
        return CheckResult(ID, Status.OK, "no BUY/SELL decision in the window (nothing to "
                           "emit)", details, None, data)
    return CheckResult(ID, Status.OK, f"every BUY/SELL decision ({n_decisions}) has its "
                       f"outcome: {breakdown}", details, None, data)
