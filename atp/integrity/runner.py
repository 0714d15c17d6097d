"""Evaluate the checks independently and concurrently: a check whose source fails goes
`unknown` and the others still run (the runbook's abort-at-first-error is what this
replaces)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from atp.integrity.checks import CHECKS, PROBE_CHECKS
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Report, Status
from atp.integrity.sources import SourceUnavailable

CHECK_TIMEOUT_S = 20.0
_REACH = {
    "HTTP API": "check that the backend answers at the target URL (atp check --url …) and "
                "see backend_health",
    "log": "give a readable log (LOG_FILE / --log-file) or check the SSH access to it",
    "docker": "check that the Docker Engine runs and this user may read it (docker ps)",
}


async def _one(module: object, ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    result = await _answer(module, ctx)
    return dataclasses.replace(result, duration_ms=round((time.perf_counter() - started)
                                                         * 1000, 1))


async def _answer(module: object, ctx: CheckContext) -> CheckResult:
    check_id: str = getattr(module, "ID")  # noqa: B009
    limit = getattr(module, "timeout_s", lambda _ctx: CHECK_TIMEOUT_S)(ctx)
    try:
        result: CheckResult = await asyncio.wait_for(getattr(module, "run")(ctx),  # noqa: B009
                                                     limit)
        return result
    except SourceUnavailable as exc:
        return CheckResult(check_id, Status.UNKNOWN, f"could not read the {exc.source}: "
                           f"{exc.reason}", remediation=_REACH.get(exc.source, "check the "
                           f"access to the {exc.source}"), data={"source": exc.source})
    except TimeoutError:
        return CheckResult(check_id, Status.UNKNOWN, f"no answer within {limit:.0f} s",
                           remediation="the backend is overloaded or a source hangs: retry, "
                           "then read atp logs --tail 200")
    except Exception as exc:  # a bug in one check must not hide the others' answers
        return CheckResult(check_id, Status.UNKNOWN, f"check failed: {type(exc).__name__}: "
                           f"{exc}", remediation="report this as an ATP bug with the output "
                           "of atp check --format json")


def server_now(ctx_now: datetime | None, server_date: datetime | None) -> datetime:
    """Now, on the target's clock when its Date header is more than 2 s off ours."""
    now = ctx_now or datetime.now(UTC)
    if server_date is not None and abs((server_date - now).total_seconds()) > 2:
        return server_date
    return now


async def evaluate(ctx: CheckContext, only: Iterable[str] | None = None) -> Report:
    """Run the selected checks (all by default; `end_to_end` only with a probe) and return
    the report in runbook order."""
    started = time.perf_counter()
    wanted = set(only) if only else None
    offered = (*CHECKS, *PROBE_CHECKS) if ctx.probe is not None else CHECKS
    modules = [m for m in offered if wanted is None or m.ID in wanted]
    # One cheap request first: it fixes the target's clock for the window (SSH targets
    # may be seconds off) and warms the connection the checks then share.
    with contextlib.suppress(SourceUnavailable):
        await ctx.api.get("/api/health")
    ctx.now = server_now(ctx.now, ctx.api.server_date)
    results = await asyncio.gather(*(_one(m, ctx) for m in modules))
    return Report(list(results), target=ctx.target, window_seconds=ctx.window.total_seconds(),
                  generated_at=ctx.now,
                  duration_ms=round((time.perf_counter() - started) * 1000, 1))


def default_window() -> timedelta:
    return timedelta(minutes=15)
