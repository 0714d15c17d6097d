"""`atp exchange diagnose`: is the exchange usable from here, and if not, why and what to do.

Returns data (checks with a verdict, summary and fix), not text: the CLI renders it, and the
integrity check reuses it for runbook step h. Each check is evaluated on its own so one
failure does not hide the next (a wrong key and a skewed clock are reported together).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from atp.config import Settings
from atp.exchange.client import ExchangeClient
from atp.exchange.errors import ExchangeFailure, ProxyError

OK, WARNING, CRITICAL, SKIPPED = "ok", "warning", "critical", "skipped"
_RANK = {OK: 0, SKIPPED: 0, WARNING: 1, CRITICAL: 2}
CLOCK_WARN_SECONDS = 5.0
CLOCK_LIMIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class DiagnosticCheck:
    id: str
    verdict: str
    summary: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    checks: list[DiagnosticCheck]

    @property
    def status(self) -> str:
        worst = max((_RANK[c.verdict] for c in self.checks), default=0)
        return {0: OK, 1: WARNING, 2: CRITICAL}[worst]

    def check(self, check_id: str) -> DiagnosticCheck:
        return next(c for c in self.checks if c.id == check_id)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "checks": [asdict(c) for c in self.checks]}


def _failure_check(check_id: str, what: str, failure: ExchangeFailure) -> DiagnosticCheck:
    return DiagnosticCheck(
        check_id, CRITICAL, f"{what} failed: {failure.diagnosis}"
        + (f" (code {failure.code})" if failure.code is not None else ""),
        failure.fix,
        {"category": failure.category, "kind": failure.kind, "code": failure.code},
    )


def _tcp_reachable(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout):
            return True, f"{host}:{port}"
    except OSError as exc:
        return False, f"{host}:{port} ({exc.strerror or type(exc).__name__})"


async def diagnose(
    settings: Settings,
    *,
    client: ExchangeClient | None = None,
    client_factory: Callable[[Settings], ExchangeClient] | None = None,
) -> Diagnosis:
    """Run every check; never raises for an exchange problem (that is the answer)."""
    own = client is None
    if client is None:
        client = (client_factory or (lambda s: ExchangeClient(s, retries=0)))(settings)
    checks: list[DiagnosticCheck] = []
    try:
        checks.append(_credentials(settings))
        checks.append(await _proxy_reachable(settings))
        public = await _public(client)
        checks.append(public)
        checks.append(await _private(settings, client))
        checks.append(await _clock(client))
        if settings.exchange_proxy_url is not None:
            checks = _proxy_verdict(checks, client)
    finally:
        if own:
            await client.close()
    return Diagnosis(checks)


def _credentials(settings: Settings) -> DiagnosticCheck:
    if settings.has_exchange_credentials:
        return DiagnosticCheck("credentials", OK, "API key and secret are configured")
    return DiagnosticCheck(
        "credentials", CRITICAL, "API credentials not configured",
        "set EXCHANGE_API_KEY and EXCHANGE_API_SECRET (market data works without them; "
        "orders and balances do not)",
    )


async def _proxy_reachable(settings: Settings) -> DiagnosticCheck:
    if settings.exchange_proxy_url is None:
        return DiagnosticCheck("proxy", SKIPPED, "no proxy configured (direct connection)")
    url = settings.exchange_proxy_url.get_secret_value()
    ok, where = await asyncio.to_thread(_tcp_reachable, url)
    if not ok:
        return DiagnosticCheck(
            "proxy", CRITICAL, f"proxy not reachable at {where}",
            ProxyError._KINDS["proxy_unreachable"][1], {"reachable": False},
        )
    return DiagnosticCheck("proxy", OK, f"proxy reachable at {where}", None,
                           {"reachable": True})


async def _public(client: ExchangeClient) -> DiagnosticCheck:
    started = time.perf_counter()
    try:
        await client.ensure_markets()
        tickers = await client.fetch_tickers()
    except ExchangeFailure as failure:
        return _failure_check("public_api", "public API", failure)
    ms = (time.perf_counter() - started) * 1000
    return DiagnosticCheck(
        "public_api", OK, f"public API reachable: {len(tickers)} tickers in {ms:.0f} ms",
        None, {"tickers": len(tickers), "latency_ms": round(ms)},
    )


async def _private(settings: Settings, client: ExchangeClient) -> DiagnosticCheck:
    if not settings.has_exchange_credentials:
        return DiagnosticCheck("private_api", SKIPPED, "no credentials: private call not tried")
    try:
        balances = await client.fetch_balance()
    except ExchangeFailure as failure:
        return _failure_check("private_api", "private call (user-balance)", failure)
    return DiagnosticCheck(
        "private_api", OK, f"private call succeeded ({len(balances)} balances)", None,
        {"balances": len(balances)},
    )


async def _clock(client: ExchangeClient) -> DiagnosticCheck:
    offset = await client.exchange_time_offset()
    if offset is None:
        return DiagnosticCheck("clock", WARNING, "clock offset unknown (no reply from the "
                               "exchange to read its time from)",
                               "fix the checks above, then run diagnose again")
    details = {"offset_seconds": round(offset, 1)}
    text = f"clock offset to the exchange: {offset:+.0f} s"
    if abs(offset) > CLOCK_LIMIT_SECONDS:
        return DiagnosticCheck("clock", CRITICAL, text + " (over the 60 s the exchange allows)",
                               "enable NTP on this host (timedatectl set-ntp true, or chrony)",
                               details)
    if abs(offset) > CLOCK_WARN_SECONDS:
        return DiagnosticCheck("clock", WARNING, text, "enable NTP on this host", details)
    return DiagnosticCheck("clock", OK, text, None, details)


def _proxy_verdict(checks: list[DiagnosticCheck], client: ExchangeClient) -> list[DiagnosticCheck]:
    """A reachable proxy that refused our calls is the proxy's fault: say so on its line."""
    failure = client.last_failure
    proxy = next(c for c in checks if c.id == "proxy")
    if proxy.verdict == OK and isinstance(failure, ProxyError):
        replaced = DiagnosticCheck(
            "proxy", CRITICAL, f"proxy reachable but failing: {failure.diagnosis}",
            failure.fix, {"reachable": True, "kind": failure.kind},
        )
        return [replaced if c.id == "proxy" else c for c in checks]
    return checks


def render_text(diagnosis: Diagnosis) -> str:
    icons = {OK: "✅", WARNING: "⚠️", CRITICAL: "❌", SKIPPED: "➖"}
    lines = []
    for c in diagnosis.checks:
        lines.append(f"{icons[c.verdict]} {c.id}: {c.summary}")
        if c.fix:
            lines.append(f"   fix: {c.fix}")
    lines.append(f"Exchange: {diagnosis.status}")
    return "\n".join(lines)
