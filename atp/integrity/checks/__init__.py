"""The checks: product.md §4's nine in runbook order (a–i), then §6's `order_execution`
(the trader's reconciliation) and `host_resources` — eleven that always run — and
`end_to_end`, the twelfth, only with `atp check --probe`. One module per check id; each
exposes `ID`, `TITLE` and `async run(ctx) -> CheckResult` (optionally `timeout_s(ctx)`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType

from atp.integrity.checks import (
    alert_emissions,
    backend_health,
    containers,
    end_to_end,
    errors,
    exchange_auth,
    host_resources,
    order_execution,
    signal_monitor_cycles,
    strategy_decisions,
    telegram,
    throttled_alerts,
)
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult

CHECKS: tuple[ModuleType, ...] = (
    backend_health, signal_monitor_cycles, strategy_decisions, alert_emissions,
    throttled_alerts, errors, containers, exchange_auth, telegram,
    order_execution, host_resources,
)
PROBE_CHECKS: tuple[ModuleType, ...] = (end_to_end,)  # only with --probe
CHECK_IDS: tuple[str, ...] = tuple(m.ID for m in CHECKS)
ALL_CHECK_IDS: tuple[str, ...] = CHECK_IDS + tuple(m.ID for m in PROBE_CHECKS)
TITLES: dict[str, str] = {m.ID: m.TITLE for m in (*CHECKS, *PROBE_CHECKS)}
CheckFn = Callable[[CheckContext], Awaitable[CheckResult]]
