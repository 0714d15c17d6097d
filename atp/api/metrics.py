"""`/metrics` in Prometheus format, with a registry of the app's own.

Counters are read from the platform at scrape time (the same numbers /status and
`atp check` use) instead of being incremented a second time here; only the cycle
duration histogram is observed as cycles finish, through the monitor's `on_cycle` hook.
A registry per app keeps two apps in one process (tests) from clashing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from atp.engine.monitor import CycleStats
from atp.engine.service import Platform
from atp.engine.status import PlatformStatus
from atp.store.uow import write_errors

router = APIRouter(tags=["monitoring"])

CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)


class _PlatformCollector(Collector):
    """Exports a snapshot the async handler took just before rendering."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] = {}
        self.status: PlatformStatus | None = None

    def collect(self) -> Iterable[Metric]:
        p, snap = self.status, self.snapshot
        if p is None:
            return
        yield CounterMetricFamily("atp_scheduler_ticks", "Scheduler ticks since start",
                                  value=p.scheduler_ticks)
        yield CounterMetricFamily("atp_monitor_cycles", "Signal monitor cycles completed",
                                  value=p.monitor_ticks)
        yield CounterMetricFamily("atp_monitor_missed_cycles",
                                  "Cycles skipped because the previous one overran",
                                  value=p.missed_cycles)
        yield CounterMetricFamily("atp_monitor_cycle_errors", "Monitor cycles that failed",
                                  value=p.cycle_errors)
        yield CounterMetricFamily("atp_monitor_evaluation_errors",
                                  "Symbols whose evaluation raised (a bug), since start",
                                  value=p.evaluation_errors)
        ago = p.last_update_seconds_ago
        yield GaugeMetricFamily("atp_monitor_last_update_seconds",
                                "Seconds since the last completed monitor cycle",
                                value=-1 if ago is None else ago)
        decisions = CounterMetricFamily("atp_decisions", "Decisions since start, by kind",
                                        labels=["decision"])
        for kind, n in sorted(snap.get("decisions", {}).items()):
            decisions.add_metric([kind], n)
        yield decisions
        outcomes = GaugeMetricFamily("atp_alert_outcomes",
                                     "Alert outcomes of decisions since start, by outcome",
                                     labels=["outcome"])
        for kind, n in sorted(snap.get("outcomes", {}).items()):
            outcomes.add_metric([kind], n)
        yield outcomes
        yield GaugeMetricFamily("atp_outbox_pending", "Messages waiting in the outbox",
                                value=snap.get("outbox_pending", 0))
        yield GaugeMetricFamily("atp_outbox_oldest_pending_age_seconds",
                                "Age of the oldest pending message (0 when none)",
                                value=snap.get("oldest_age", 0.0))
        errors = CounterMetricFamily("atp_exchange_errors",
                                     "Exchange failures recorded since start, by class",
                                     labels=["category"])
        for category, n in sorted(p.exchange.failures.items()):
            errors.add_metric([category], n)
        yield errors
        stats = p.outbox
        sends = CounterMetricFamily("atp_telegram_sends", "Telegram deliveries, by result",
                                    labels=["result"])
        sends.add_metric(["sent"], stats.sent)
        sends.add_metric(["failed"], stats.failed)
        sends.add_metric(["retry"], stats.retries)
        sends.add_metric(["system"], stats.system_sent)
        yield sends
        yield CounterMetricFamily(
            "atp_telegram_possible_repeats",
            "Messages sent a second time with the possible-repeat marker (the first send's "
            "fate was unknown: a timeout, or the process died mid-send)", value=stats.repeats)
        yield CounterMetricFamily("atp_telegram_conflicts", "getUpdates 409 conflicts",
                                  value=p.telegram.conflicts)
        yield CounterMetricFamily("atp_telegram_unauthorised_dropped",
                                  "Messages from unknown chats dropped by the rate limit",
                                  value=p.telegram.unauthorised_dropped)
        db = CounterMetricFamily("atp_db_write_errors",
                                 "Failed database units of work, by operation",
                                 labels=["operation"])
        for name, n in sorted(write_errors.snapshot().items()):
            db.add_metric([name], n)
        yield db
        if p.watchdog_gauges:
            checks = GaugeMetricFamily(
                "atp_integrity_check_status",
                "Watchdog's last verdict per check: 0 ok, 1 warning, 2 critical, 3 unknown, "
                "-1 skipped; check=overall is the worst",
                labels=["check"])
            for check_id, value in sorted(p.watchdog_gauges.items()):
                checks.add_metric([check_id], value)
            yield checks


class Metrics:
    """The app's registry, its platform collector and the cycle histogram."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.registry = CollectorRegistry(auto_describe=True)
        self.collector = _PlatformCollector()
        self.registry.register(self.collector)
        self.cycle_seconds = Histogram(
            "atp_monitor_cycle_duration_seconds", "Duration of signal monitor cycles",
            buckets=CYCLE_BUCKETS, registry=self.registry,
        )
        platform.monitor.on_cycle.append(self.observe)

    def observe(self, stats: CycleStats) -> None:
        self.cycle_seconds.observe(stats.duration_ms / 1000)

    def detach(self) -> None:
        if self.observe in self.platform.monitor.on_cycle:
            self.platform.monitor.on_cycle.remove(self.observe)

    async def _snapshot(self) -> dict[str, Any]:
        p = self.platform
        now = p.clock.now()
        counts = await p.core.summary_counts(p.started_at)
        oldest = counts["oldest_pending"]
        return {
            "decisions": counts["decisions"],
            "outcomes": counts["outcomes"],
            "outbox_pending": counts["outbox_pending"],
            "oldest_age": 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
        }

    async def render(self) -> bytes:
        self.collector.status = self.platform.status()
        self.collector.snapshot = await self._snapshot()
        return generate_latest(self.registry)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request) -> Response:
    """Prometheus text format: ticks, cycle durations, decisions and outcomes by kind,
    outbox depth and age, exchange errors by class, Telegram sends and conflicts."""
    m: Metrics = request.app.state.metrics
    return Response(await m.render(), media_type=CONTENT_TYPE_LATEST)
