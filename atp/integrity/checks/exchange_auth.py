"""Runbook step h: credentials configured, last private call succeeded, failures diagnosed.

The diagnosis (40101 wrong key or signature, 40102 clock, 40103 IP allowlist, proxy 407)
is made once, by the exchange adapter's error classes (the same ones `atp exchange
diagnose` reports), and reaches this check through `/api/exchange/state`; the check
reuses its category, kind and fix rather than guessing from log text.
"""

from __future__ import annotations

from collections import Counter

from atp.integrity.checks._common import hhmmss, plural
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources.http import parse_time

ID = "exchange_auth"
TITLE = "Crypto.com auth / proxy"
FATAL = ("auth", "proxy")
_CREDENTIALS_FIX = ("set EXCHANGE_API_KEY and EXCHANGE_API_SECRET (market data works without "
                    "them; orders and balances do not)")


async def run(ctx: CheckContext) -> CheckResult:
    state = await ctx.api.get("/api/exchange/state")
    events = await ctx.api.get_all("/api/events", since=ctx.since_iso(), type="exchange_auth")
    events += await ctx.api.get_all("/api/events", since=ctx.since_iso(), type="exchange_proxy")
    configured = bool(state.get("credentials_configured"))
    proxy = bool(state.get("proxy_in_use"))
    ok_at = parse_time(state.get("last_private_ok_at"))
    failure = state.get("last_failure") or None
    failed_at = parse_time(failure.get("at")) if failure else None
    kinds = Counter(str((e.get("payload") or {}).get("kind") or e.get("type")) for e in events)
    details = [f"credentials configured: {'yes' if configured else 'no'}; proxy: "
               f"{'yes' if proxy else 'no'}; last private call ok: {hhmmss(ok_at)}"]
    if kinds:
        details.append(f"auth/proxy failures in the window: {sum(kinds.values())} ("
                       + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")")
    data = {"credentials_configured": configured, "proxy_in_use": proxy,
            "last_private_ok_at": state.get("last_private_ok_at"), "last_failure": failure,
            "failures_in_window": dict(kinds)}
    current = failure is not None and (ok_at is None or (failed_at is not None
                                                          and failed_at > ok_at))
    if failure is not None:
        code = failure.get("code")
        details.append(f"last failure {hhmmss(failed_at)}: {failure.get('category')}/"
                       f"{failure.get('kind')}: {failure.get('diagnosis')}"
                       + (f" (code {code})" if code is not None else "")
                       + ("" if current else " — recovered since"))
    if current and failure is not None:
        category = str(failure.get("category"))
        code = failure.get("code")
        where = "proxy" if category == "proxy" else "exchange"
        text = (f"{where} {'rejects' if category in FATAL else 'failing'}: "
                f"{failure.get('diagnosis')}" + (f" (code {code})" if code is not None else ""))
        status = Status.CRITICAL if category in FATAL else Status.WARNING
        fix = str(failure.get("fix") or "run atp exchange diagnose on the backend host")
        return CheckResult(ID, status, text, details, fix, data)
    if not configured:
        return CheckResult(ID, Status.WARNING, "API credentials not configured (market data "
                           "only: no orders, no balances)", details, _CREDENTIALS_FIX, data)
    if ok_at is None:
        return CheckResult(ID, Status.OK, "credentials configured; no private call made yet",
                           details, None, data)
    via = " via proxy" if proxy else ""
    recovered = f" ({plural(sum(kinds.values()), 'earlier failure')} recovered)" if kinds else ""
    return CheckResult(ID, Status.OK, f"last private call{via} succeeded at {hhmmss(ok_at)}"
                       + recovered, details, None, data)
