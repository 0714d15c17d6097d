"""`end_to_end` (product.md §6, only with `atp check --probe`): prove the chain by using
it. A TEST-marked probe is posted through the HTTP API (`POST /api/probe`, the token),
and its stage polled (`GET /api/probe/{id}`) until Telegram's message id comes back or
the wait ends: ok with the delivery latency, or critical naming the stage where it
stopped — recorded, queued in the outbox (with the last delivery error), or failed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from atp.integrity.context import CheckContext, ProbeSpec
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources import SourceUnavailable

ID = "end_to_end"
TITLE = "End to end (TEST probe through outbox → Telegram)"
POLL_S = 0.2
SLOW_S = 10.0  # delivered, but slower than this: warning
TG_FIX = ("see the telegram check for the cause (Bot API reachable? token valid? chat "
          "id right?); fix it, then run atp check --probe again")


def timeout_s(ctx: CheckContext) -> float:
    """The runner's limit for this check: the probe's wait plus room for the requests."""
    return (ctx.probe.timeout_s if ctx.probe else 0.0) + 15.0


def _refused(status: int, body: Any, spec: ProbeSpec) -> CheckResult:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        detail = "; ".join(str(d.get("msg", d)) for d in detail if isinstance(d, dict))
    why = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        return CheckResult(ID, Status.UNKNOWN, f"the platform refused the probe ({why})",
                           remediation="the check needs the platform's API token: "
                           + spec.token_hint, data={"http_status": status})
    if status in (404, 405):
        return CheckResult(ID, Status.UNKNOWN, "the target does not serve POST /api/probe "
                           "(an older ATP?)", remediation="upgrade the platform, or run "
                           "atp check without --probe", data={"http_status": status})
    if status == 422:
        return CheckResult(ID, Status.UNKNOWN, f"probe refused: {why}",
                           remediation="pass --probe-symbol with a watched symbol (GET "
                           "/api/watchlist)", data={"http_status": status})
    if status == 409:
        return CheckResult(ID, Status.CRITICAL, f"stopped before the record: {why}",
                           remediation="set TELEGRAM_CHAT_ID and restart the platform: "
                           "no alert can reach anyone", data={"http_status": status})
    return CheckResult(ID, Status.CRITICAL, f"stopped before the record: the platform could "
                       f"not record the probe ({why})", remediation="read atp logs --tail 200 "
                       "and see backend_health (database down?)", data={"http_status": status})


async def _symbol(ctx: CheckContext, spec: ProbeSpec) -> str | None:
    if spec.symbol:
        return spec.symbol
    watchlist = await ctx.api.get("/api/watchlist")
    enabled = [w["symbol"] for w in watchlist if isinstance(w, dict) and w.get("enabled")]
    return enabled[0] if enabled else None


async def _outbox_state(ctx: CheckContext) -> tuple[int | None, list[str]]:
    """Pending messages and the health problems now (why a probe waits unattempted)."""
    pending: int | None = None
    problems: list[str] = []
    try:
        status, summary = await ctx.api.request("GET", "/api/monitoring/summary")
        if status == 200 and isinstance(summary, dict):
            pending = summary.get("outbox_pending")
        status, health = await ctx.api.request("GET", "/api/health")
        if status == 200 and isinstance(health, dict):
            problems = [str(p) for p in health.get("problems") or []]
    except SourceUnavailable:
        pass
    return pending, problems


def _stopped(probe: dict[str, Any], waited: float, spec: ProbeSpec,
             pending: int | None = None, problems: list[str] | None = None) -> CheckResult:
    stage = probe.get("stage")
    pid = str(probe.get("id"))
    data = {"probe_id": pid, "stage": stage, "attempts": probe.get("attempts"),
            "last_error": probe.get("last_error"), "error": probe.get("error"),
            "waited_s": round(waited, 1)}
    if stage == "failed":
        return CheckResult(ID, Status.CRITICAL, f"probe {pid[:8]} failed at Telegram: "
                           f"{probe.get('error')}", [f"probe {pid}"], TG_FIX, data)
    if stage == "queued":
        attempts = probe.get("attempts") or 0
        if attempts:
            why = f"Telegram: {probe.get('last_error') or 'no answer'} ({attempts} attempts)"
            fix = TG_FIX
        else:
            why = "not attempted yet" + (f", behind {pending - 1} other pending messages"
                                         if pending and pending > 1 else "")
            if problems:
                why += "; " + "; ".join(problems)
                fix = TG_FIX
            else:
                why += ": the outbox worker is not delivering"
                fix = ("the outbox worker does not run or does not hold the sender lease: "
                       "read atp logs --tail 200 for 'outbox' and see the telegram check "
                       "(lease holder)")
        return CheckResult(ID, Status.CRITICAL, f"queued in the outbox for "
                           f"{spec.timeout_s:.0f} s, not sent: {why}", [f"probe {pid}"],
                           fix, data)
    return CheckResult(ID, Status.CRITICAL, f"probe {pid[:8]} recorded but not in the outbox "
                       f"(stage {stage})", [f"probe {pid}"], "read atp logs --tail 200 for "
                       "'outbox' and report this with atp check --format json", data)


async def run(ctx: CheckContext) -> CheckResult:
    spec = ctx.probe or ProbeSpec()
    if not ctx.api.has_token:
        return CheckResult(ID, Status.UNKNOWN, "no API token to post the probe with",
                           remediation=spec.token_hint)
    symbol = await _symbol(ctx, spec)
    if symbol is None:
        return CheckResult(ID, Status.UNKNOWN, "no enabled symbol on the watchlist to probe",
                           remediation="add or enable a symbol, or pass --probe-symbol")
    started = time.monotonic()
    try:
        status, body = await ctx.api.request("POST", "/api/probe", {"symbol": symbol})
    except SourceUnavailable as exc:
        return CheckResult(ID, Status.CRITICAL, f"stopped before the record: could not post "
                           f"the probe ({exc.reason})", remediation="see backend_health: "
                           "the API does not answer")
    if status != 201 or not isinstance(body, dict) or "id" not in body:
        return _refused(status, body, spec)
    probe: dict[str, Any] = body
    deadline = started + spec.timeout_s
    while probe.get("stage") in ("queued", "recorded") and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)  # a remote process: nothing to drive, only to ask
        try:
            status, polled = await ctx.api.request("GET", f"/api/probe/{probe['id']}")
        except SourceUnavailable:
            continue  # a hiccup between polls: the deadline still bounds the wait
        if status == 200 and isinstance(polled, dict):
            probe = polled
    waited = time.monotonic() - started
    if probe.get("stage") in ("queued", "recorded") and not probe.get("attempts"):
        return _stopped(probe, waited, spec, *await _outbox_state(ctx))
    if probe.get("stage") != "sent":
        return _stopped(probe, waited, spec)
    pid = str(probe["id"])
    latency_ms = probe.get("latency_ms")
    latency_s = (latency_ms / 1000.0) if isinstance(latency_ms, int | float) else waited
    data = {"probe_id": pid, "symbol": symbol, "message_id": probe.get("message_id"),
            "latency_ms": latency_ms, "round_trip_ms": round(waited * 1000, 1),
            "stage": "sent"}
    details = [f"probe {pid} for {symbol}", f"round trip seen by the check {waited:.2f} s"]
    if probe.get("message_id") is None:
        return CheckResult(ID, Status.WARNING, f"probe {pid[:8]} was only logged, not sent: "
                           f"{probe.get('error') or 'not the production instance'}", details,
                           "run the check against the production instance (the only one that "
                           "talks to the real chat)", data)
    summary = (f"TEST probe delivered in {latency_s:.2f} s (Telegram message "
               f"{probe['message_id']}, {symbol})")
    if latency_s > SLOW_S:
        return CheckResult(ID, Status.WARNING, summary + f": slower than {SLOW_S:.0f} s",
                           details, "see the telegram check (retries, rate limit) and the "
                           "outbox depth in /api/health", data)
    return CheckResult(ID, Status.OK, summary, details, None, data)
