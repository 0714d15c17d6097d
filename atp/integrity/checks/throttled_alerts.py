"""Runbook step e, recomputed: each THROTTLED verdict is re-derived from its recorded state.

The pipeline records, with every `alert_throttled` event, the state it judged from (last
side, time and price; price; cooldown; minimum change). This check feeds that state to the
same rule engine (`atp.domain.throttle.throttle_verdict`, one engine, never a copy) and
flags every verdict the rules would not have produced, and every reason that does not
state the measured values.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from atp.domain.throttle import ThrottleState, throttle_verdict
from atp.event_kinds import EventKind
from atp.integrity.checks._common import hhmmss, limit_list, plural
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources.http import parse_time

ID = "throttled_alerts"
TITLE = "Throttled alerts (recomputed)"
_STATE_KEYS = ("last_side", "last_alerted_at", "last_price", "price", "cooldown_minutes",
               "min_price_change_pct")


def recompute(event: dict[str, Any]) -> tuple[str, str | None]:
    """(`ok` | `wrong` | `reason` | `no_state`, what the rules say) for one throttle event."""
    payload = event.get("payload") or {}
    at = parse_time(event.get("at"))
    last_at = parse_time(payload.get("last_alerted_at"))
    side = payload.get("side")
    if at is None or last_at is None or side not in ("BUY", "SELL") or any(
        payload.get(k) is None for k in _STATE_KEYS
    ) or payload["last_side"] not in ("BUY", "SELL"):
        return "no_state", None
    verdict = throttle_verdict(
        ThrottleState(side=payload["last_side"], alerted_at=last_at,
                      price=float(payload["last_price"])),
        side, float(payload["price"]), at, float(payload["cooldown_minutes"]),
        float(payload["min_price_change_pct"]),
    )
    if verdict.allowed:
        return "wrong", verdict.reason
    if verdict.reason != str(event.get("message") or ""):
        return "reason", verdict.reason
    return "ok", verdict.reason


def _name(event: dict[str, Any]) -> str:
    side = (event.get("payload") or {}).get("side", "?")
    return (f"{event.get('symbol')} {side} at {hhmmss(parse_time(event.get('at')))} "
            f"(decision {event.get('decision_id')})")


async def run(ctx: CheckContext) -> CheckResult:
    events = await ctx.api.get_all("/api/events", type=EventKind.ALERT_THROTTLED.value,
                                   since=ctx.since_iso())
    results: dict[str, list[tuple[dict[str, Any], str | None]]] = {
        "ok": [], "wrong": [], "reason": [], "no_state": []}
    for event in events:
        kind, expected = recompute(event)
        results[kind].append((event, expected))
    by_limit: Counter[str] = Counter()
    for event, _ in results["ok"]:
        payload = event.get("payload") or {}
        at, last_at = parse_time(event.get("at")), parse_time(payload.get("last_alerted_at"))
        assert at is not None and last_at is not None
        cooled = (at - last_at).total_seconds() / 60 >= float(payload["cooldown_minutes"])
        by_limit["price change too small" if cooled else "cooldown"] += 1
    details = [f"{plural(len(events), 'throttled alert')} in the window; "
               f"{len(results['ok'])} recomputed and confirmed"
               + (" (" + ", ".join(f"{k} {n}" for k, n in sorted(by_limit.items())) + ")"
                  if by_limit else "")]
    data = {"throttled": len(events), "confirmed": len(results["ok"]),
            "by_limit": dict(by_limit),
            "wrong": [{"decision_id": e.get("decision_id"), "symbol": e.get("symbol"),
                       "recorded": e.get("message"), "rules": x} for e, x in results["wrong"]],
            "reason_mismatch": [{"decision_id": e.get("decision_id"),
                                 "recorded": e.get("message"), "rules": x}
                                for e, x in results["reason"]],
            "without_state": [e.get("decision_id") for e, _ in results["no_state"]]}
    if results["wrong"]:
        details += limit_list([f"throttled but the rules allow it: {_name(e)}: recorded "
                               f"'{e.get('message')}', rules say '{x}'"
                               for e, x in results["wrong"]])
        return CheckResult(ID, Status.CRITICAL,
                           f"{plural(len(results['wrong']), 'alert')} throttled that the "
                           f"rules would have sent: " + _name(results["wrong"][0][0]),
                           details, "the running throttle disagrees with atp.domain.throttle: "
                           "deploy one build everywhere (atp --version) and report the "
                           "decision ids above", data)
    problems = []
    if results["reason"]:
        details += limit_list([f"reason differs: {_name(e)}: recorded '{e.get('message')}', "
                               f"measured '{x}'" for e, x in results["reason"]])
        problems.append(f"{plural(len(results['reason']), 'reason')} not matching the "
                        "measured values")
    if results["no_state"]:
        details += limit_list([f"no recorded throttle state: {_name(e)}"
                               for e, _ in results["no_state"]])
        problems.append(f"{plural(len(results['no_state']), 'verdict')} without recorded "
                        "state (cannot be recomputed)")
    if problems:
        return CheckResult(ID, Status.WARNING, "; ".join(problems), details,
                           "upgrade the backend so every alert_throttled event carries its "
                           "measured state and reason", data)
    if not events:
        return CheckResult(ID, Status.OK, "no throttled alert in the window", details, None,
                           data)
    return CheckResult(ID, Status.OK, f"all {len(events)} throttle verdicts recomputed and "
                       "confirmed by the rules", details, None, data)
