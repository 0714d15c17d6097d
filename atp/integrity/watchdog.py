"""The watchdog inside the service: every minute, the checks visible from inside.

It reads the platform the way `atp check` does — its own HTTP API on loopback and its own
log file — so it proves the same chain an operator's check proves (the dependency rule:
no engine internals). When the verdict worsens it sends ONE Telegram message through the
durable outbox, and one more when it recovers (after two healthy evaluations in a row, so
a flapping check cannot spam the chat). After each healthy evaluation it pings an
optional dead-man's-switch URL, so an external monitor notices when ATP itself is dead.

Plugging in (the Platform / API own the lifecycle):

    watchdog = Watchdog(f"http://127.0.0.1:{port}", notify=text_sink,
                        log_file=settings.log_file, deadman_url=settings.deadman_url)
    await watchdog.start() … await watchdog.stop()
    app.state.integrity = integrity_endpoint(base_url, log_file)  # GET /api/monitoring/integrity
    watchdog.gauges()  # {check_id: 0 ok | 1 warning | 2 critical | 3 unknown | -1 skipped}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from atp.integrity.context import CheckContext
from atp.integrity.report import Report, Status
from atp.integrity.runner import evaluate
from atp.integrity.sources.http import ApiSource
from atp.integrity.sources.logs import FileLog

log = logging.getLogger("atp.watchdog")

Notify = Callable[[str], Awaitable[None]]
INSIDE_CHECKS = ("backend_health", "signal_monitor_cycles", "strategy_decisions",
                 "alert_emissions", "throttled_alerts", "errors", "exchange_auth", "telegram")
_ICON = {Status.OK: "✅", Status.WARNING: "⚠️", Status.CRITICAL: "❌", Status.UNKNOWN: "❔"}


async def evaluate_inside(base_url: str, log_file: str | None = None,
                          window: timedelta = timedelta(minutes=15),
                          client: httpx.AsyncClient | None = None) -> Report:
    """The report of the checks visible from inside the service (no Docker Engine)."""
    api = ApiSource(base_url, client=client)
    try:
        ctx = CheckContext(api=api, now=datetime.now(UTC), window=window,
                           logs=FileLog(log_file) if log_file else None, target=base_url)
        return await evaluate(ctx, INSIDE_CHECKS)
    finally:
        await api.aclose()


def integrity_endpoint(base_url: str, log_file: str | None = None
                       ) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The callable for `app.state.integrity`: GET /api/monitoring/integrity's JSON."""

    async def report() -> dict[str, Any]:
        return (await evaluate_inside(base_url, log_file)).as_dict()

    return report


def message(report: Report, origin: str) -> str:
    """The Telegram text: the verdict, then each failing check with its fix."""
    if report.status is Status.OK:
        return f"✅ ATP watchdog [{origin}]: recovered — all checks pass"
    lines = [f"{_ICON.get(report.status, '❔')} ATP watchdog [{origin}]: "
             f"{str(report.status).upper()}"]
    for check in report.checks:
        if check.status in (Status.WARNING, Status.CRITICAL, Status.UNKNOWN):
            lines.append(f"{_ICON[check.status]} {check.id}: {check.summary}")
            if check.remediation:
                lines.append(f"   fix: {check.remediation}")
    return "\n".join(lines)[:3500]


class Watchdog:
    def __init__(
        self,
        base_url: str,
        notify: Notify | None = None,
        *,
        origin: str = "atp",
        interval_s: float = 60.0,
        log_file: str | None = None,
        deadman_url: str | None = None,
        window: timedelta = timedelta(minutes=15),
        recovery_evaluations: int = 2,
        evaluator: Callable[[], Awaitable[Report]] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url, self.notify, self.origin = base_url, notify, origin
        self.interval_s, self.log_file, self.deadman_url = interval_s, log_file, deadman_url
        self.window = window
        self.recovery_evaluations = recovery_evaluations
        self._evaluator = evaluator
        self._http = http
        self.last_report: Report | None = None
        self.notified = Status.OK  # the worst status the chat has been told about
        self._healthy_streak = 0
        self.evaluations = 0
        self.messages_sent = 0
        self.deadman_failures = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    # ── what /metrics reads ────────────────────────────────────────────────────────────

    def gauges(self) -> dict[str, int]:
        """Per-check status for `/metrics`: 0 ok, 1 warning, 2 critical, 3 unknown,
        -1 skipped; plus `overall`. Empty before the first evaluation."""
        if self.last_report is None:
            return {}
        out = {c.id: -1 if c.status is Status.SKIPPED else c.status.exit_code
               for c in self.last_report.checks}
        out["overall"] = self.last_report.exit_code
        return out

    # ── one evaluation ─────────────────────────────────────────────────────────────────

    async def evaluate_once(self) -> Report:
        if self._evaluator is not None:
            report = await self._evaluator()
        else:
            report = await evaluate_inside(self.base_url, self.log_file, self.window)
        self.last_report = report
        self.evaluations += 1
        await self._transition(report)
        if report.status is Status.OK:
            await self._ping_deadman()
        return report

    async def _transition(self, report: Report) -> None:
        status = report.status
        if status.severity > self.notified.severity:
            self._healthy_streak = 0
            self.notified = status
            await self._send(message(report, self.origin))
        elif status is Status.OK and self.notified is not Status.OK:
            self._healthy_streak += 1
            if self._healthy_streak >= self.recovery_evaluations:
                self.notified = Status.OK
                self._healthy_streak = 0
                await self._send(message(report, self.origin))
        elif status is not Status.OK:
            self._healthy_streak = 0

    async def _send(self, text: str) -> None:
        if self.notify is None:
            log.warning("watchdog: %s", text)
            return
        try:
            await self.notify(text)
            self.messages_sent += 1
        except Exception:  # the watchdog must outlive a failing database write
            log.exception("watchdog could not enqueue its message")

    async def _ping_deadman(self) -> None:
        if not self.deadman_url:
            return
        try:
            if self._http is not None:
                response = await self._http.get(self.deadman_url, timeout=10)
            else:
                async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
                    response = await client.get(self.deadman_url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self.deadman_failures += 1
            log.warning("watchdog: dead-man's-switch ping failed: %s", type(exc).__name__)

    # ── lifecycle ──────────────────────────────────────────────────────────────────────

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="atp-watchdog")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)
            if self._stop.is_set():
                return
            try:
                await self.evaluate_once()
            except Exception:
                log.exception("watchdog evaluation failed")
