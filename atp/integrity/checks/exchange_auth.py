"""Runbook step h: credentials configured, last private call succeeded, failures diagnosed.

The diagnosis (40101 wrong key or signature, 40102 clock, 40103 IP allowlist, proxy 407)
is made once, by the exchange adapter's error classes (the same ones `atp exchange
diagnose` reports), and reaches this check through `/api/exchange/state`; the check
reuses its category, kind and fix rather than guessing from log text. The last private
*order* call (create-order, create-oco, …) comes from `/api/trading/state`: an order call
refused with an auth code is named here; other refusals (306, 140001, …) are
`order_execution`'s. A target without that endpoint (before the trader) is read as before.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from atp.integrity.checks._common import hhmmss, plural
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.http import parse_time

ID = "exchange_auth"
TITLE = "Crypto.com auth / proxy"
FATAL = ("auth", "proxy")
AUTH_CODES = (40101, 40102, 40103)
_ORDER_AUTH_FIX = ("the key is refused on order calls: run atp exchange diagnose on the "
                   "backend host (40101 key/signature, 40102 clock, 40103 IP allowlist)")
_CREDENTIALS_FIX = ("set EXCHANGE_API_KEY and EXCHANGE_API_SECRET (market data works without "
                    "them; orders and balances do not)")


async def _last_order_call(ctx: CheckContext) -> dict[str, Any] | None:
    """`last_private_order_call` of /api/trading/state; None before the first or on a
    target without the trading API (404)."""
    try:
        trading = await ctx.api.get("/api/trading/state")
    except SourceUnavailable as exc:
        if exc.http_status == 404:
            return None
        raise
    call = trading.get("last_private_order_call") if isinstance(trading, dict) else None
    return call if isinstance(call, dict) else None


def _call_text(call: dict[str, Any]) -> str:
    outcome = "ok" if call.get("ok") else (f"failed: {call.get('code')} "
                                          f"{call.get('message') or ''}".rstrip())
    return f"{call.get('operation')} at {hhmmss(parse_time(call.get('at')))} {outcome}"


async def run(ctx: CheckContext) -> CheckResult:
    state, order_call, auth, proxy = await asyncio.gather(  # independent reads
        ctx.api.get("/api/exchange/state"), _last_order_call(ctx),
        ctx.api.get_all("/api/events", since=ctx.since_iso(), type="exchange_auth"),
        ctx.api.get_all("/api/events", since=ctx.since_iso(), type="exchange_proxy"))
    events = auth + proxy
    configured = bool(state.get("credentials_configured"))
    proxy = bool(state.get("proxy_in_use"))
    ok_at = parse_time(state.get("last_private_ok_at"))
    failure = state.get("last_failure") or None
    failed_at = parse_time(failure.get("at")) if failure else None
    kinds = Counter(str((e.get("payload") or {}).get("kind") or e.get("type")) for e in events)
    details = [f"credentials configured: {'yes' if configured else 'no'}; proxy: "
               f"{'yes' if proxy else 'no'}; last private call ok: {hhmmss(ok_at)}"]
    details.append("last private order call: "
                   + (_call_text(order_call) if order_call else "none yet"))
    if kinds:
        details.append(f"auth/proxy failures in the window: {sum(kinds.values())} ("
                       + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")")
    data = {"credentials_configured": configured, "proxy_in_use": proxy,
            "last_private_ok_at": state.get("last_private_ok_at"), "last_failure": failure,
            "failures_in_window": dict(kinds), "last_private_order_call": order_call}
    current = failure is not None and (ok_at is None or (failed_at is not None
                                                          and failed_at > ok_at))
    # The exchange refusing an order (306, 140001, …) is the order's outcome, named by
    # order_execution; the key and the connection are fine.
    refusal = (failure is not None and failure.get("category") == "rejected"
               and order_call is not None and not order_call.get("ok")
               and order_call.get("code") == failure.get("code"))
    if failure is not None:
        code = failure.get("code")
        details.append(f"last failure {hhmmss(failed_at)}: {failure.get('category')}/"
                       f"{failure.get('kind')}: {failure.get('diagnosis')}"
                       + (f" (code {code})" if code is not None else "")
                       + ("" if current else " — recovered since")
                       + (" — an order refusal: see order_execution" if refusal else ""))
    if current and failure is not None and not refusal:
        category = str(failure.get("category"))
        code = failure.get("code")
        where = "proxy" if category == "proxy" else "exchange"
        text = (f"{where} {'rejects' if category in FATAL else 'failing'}: "
                f"{failure.get('diagnosis')}" + (f" (code {code})" if code is not None else ""))
        status = Status.CRITICAL if category in FATAL else Status.WARNING
        fix = str(failure.get("fix") or "run atp exchange diagnose on the backend host")
        return CheckResult(ID, status, text, details, fix, data)
    if order_call and not order_call.get("ok") and order_call.get("code") in AUTH_CODES:
        return CheckResult(ID, Status.CRITICAL, "exchange rejects order calls: "
                           + _call_text(order_call), details, _ORDER_AUTH_FIX, data)
    if not configured:
        return CheckResult(ID, Status.WARNING, "API credentials not configured (market data "
                           "only: no orders, no balances)", details, _CREDENTIALS_FIX, data)
    if ok_at is None:
        return CheckResult(ID, Status.OK, "credentials configured; no private call made yet",
                           details, None, data)
    via = " via proxy" if proxy else ""
    recovered = f" ({plural(sum(kinds.values()), 'earlier failure')} recovered)" if kinds else ""
    orders = f"; last order call {_call_text(order_call)}" if order_call else ""
    return CheckResult(ID, Status.OK, f"last private call{via} succeeded at {hhmmss(ok_at)}"
                       + recovered + orders, details, None, data)
