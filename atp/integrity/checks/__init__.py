"""The ten checks: product.md §4's nine in runbook order (a–i), then `order_execution`
(§6, the trader's reconciliation). One module per check id; each exposes `ID`, `TITLE`
and `async run(ctx) -> CheckResult`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType

from atp.integrity.checks import (
    alert_emissions,
    backend_health,
    containers,
    errors,
    exchange_auth,
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
    order_execution,
)
CHECK_IDS: tuple[str, ...] = tuple(m.ID for m in CHECKS)
TITLES: dict[str, str] = {m.ID: m.TITLE for m in CHECKS}
CheckFn = Callable[[CheckContext], Awaitable[CheckResult]]
