"""/metrics: Prometheus text with the platform's numbers, one registry per app."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from atp.api.app import create_app
from atp.store.uow import write_errors
from tests.integration.api.conftest import Api


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_report_the_platform(api: Api) -> None:
    await api.cycle()
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    m = _samples(response.text)
    assert m[("atp_monitor_cycles_total", ())] == 2
    assert m[("atp_scheduler_ticks_total", ())] == 0
    assert m[("atp_monitor_cycle_duration_seconds_count", ())] == 2
    assert m[("atp_decisions_total", (("decision", "BUY"),))] == 2
    assert m[("atp_alert_outcomes", (("outcome", "sent"),))] == 2
    assert m[("atp_alert_outcomes", (("outcome", "throttled"),))] == 2
    assert m[("atp_outbox_pending", ())] == 0
    assert m[("atp_telegram_sends_total", (("result", "sent"),))] == 2
    assert m[("atp_telegram_conflicts_total", ())] == 0
    assert ("atp_outbox_oldest_pending_age_seconds", ()) in m
    assert "atp_exchange_errors" in response.text
    assert "atp_db_write_errors" in response.text


async def test_write_errors_and_exchange_errors_are_exported(api: Api) -> None:
    write_errors.increment("test_metrics_op")
    api.platform.exchange_failures["auth"] += 1
    try:
        m = _samples((await api.client.get("/metrics")).text)
    finally:
        write_errors.reset()
    assert m[("atp_db_write_errors_total", (("operation", "test_metrics_op"),))] >= 1
    assert m[("atp_exchange_errors_total", (("category", "auth"),))] == 1


async def test_two_apps_on_one_platform_do_not_clash(api: Api) -> None:
    second = create_app(api.platform)  # a second registry: no "Duplicated timeseries"
    second.state.metrics.detach()
    assert (await api.client.get("/metrics")).status_code == 200


async def test_watchdog_gauges_per_check(api: Api) -> None:
    class Gauges:
        def gauges(self) -> dict[str, int]:
            return {"overall": 2, "telegram": 2, "errors": 0}

    api.platform.watchdog = Gauges()
    m = _samples((await api.client.get("/metrics")).text)
    assert m[("atp_integrity_check_status", (("check", "telegram"),))] == 2
    assert m[("atp_integrity_check_status", (("check", "overall"),))] == 2
    assert m[("atp_integrity_check_status", (("check", "errors"),))] == 0


async def test_possible_repeats_are_a_metric_and_a_state_field(api: Api) -> None:
    from sqlalchemy import update

    from atp.store.models import OutboxRow

    await api.cycle()
    api.platform.outbox.stats.repeats = 1  # as after one marked repeat in this process
    with api.platform.db.sessions.begin() as s:  # …and two in the outbox's history
        s.execute(update(OutboxRow).values(possible_repeat=True))
    m = _samples((await api.client.get("/metrics")).text)
    assert m[("atp_telegram_possible_repeats_total", ())] == 1
    state = (await api.client.get("/api/telegram/state")).json()
    assert state["possible_repeats"] == 1 and state["possible_repeats_total"] == 2
