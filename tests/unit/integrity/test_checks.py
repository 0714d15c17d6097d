"""Each check over recorded API payloads (a real demo run), healthy and with the fault
edited in: pure, no network, milliseconds each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from atp.integrity.checks import (
    alert_emissions,
    backend_health,
    errors,
    exchange_auth,
    signal_monitor_cycles,
    strategy_decisions,
    telegram,
    throttled_alerts,
)
from atp.integrity.report import Status
from atp.integrity.runner import evaluate
from atp.integrity.sources.http import parse_time

from .fakes import context, load


def _iso(payloads: dict[str, Any], seconds_ago: float) -> str:
    now = parse_time(payloads["now"])
    assert now is not None
    return (now - timedelta(seconds=seconds_ago)).isoformat()


async def test_healthy_recording_passes_every_check() -> None:
    report = await evaluate(context(load()))
    statuses = {c.id: c.status for c in report.checks}
    assert statuses.pop("containers") is Status.SKIPPED
    assert statuses.pop("host_resources") is Status.SKIPPED  # a recording has no host
    assert set(statuses.values()) == {Status.OK}, [c.as_dict() for c in report.checks]
    assert report.exit_code == 0
    assert report.counts == {"passed": 9, "warnings": 0, "failed": 0, "unknown": 0,
                             "skipped": 2}
    assert len(report.checks) == 11  # end_to_end only with --probe
    # each check's time to answer, in the JSON too: where an evaluation spends
    assert all(c.duration_ms is not None and c.duration_ms >= 0 for c in report.checks)
    assert all("duration_ms" in c for c in report.as_dict()["checks"])


async def test_decision_without_outcome_is_critical_and_named() -> None:
    p = load()
    victim = [d for d in p["/api/decisions"] if d["decision"] in ("BUY", "SELL")][-1]
    p["/api/alerts/outcomes"] = [o for o in p["/api/alerts/outcomes"]
                                 if o["decision_id"] != victim["id"]]
    result = await alert_emissions.run(context(p))
    assert result.status is Status.CRITICAL
    assert victim["id"] in result.summary and victim["symbol"] in result.summary
    assert result.data["missing"][0]["decision_id"] == victim["id"]
    assert result.remediation


async def test_a_very_young_decision_is_in_flight_not_missing() -> None:
    p = load()
    victim = next(d for d in p["/api/decisions"] if d["decision"] in ("BUY", "SELL"))
    victim["created_at"] = _iso(p, 2)
    p["/api/alerts/outcomes"] = [o for o in p["/api/alerts/outcomes"]
                                 if o["decision_id"] != victim["id"]]
    result = await alert_emissions.run(context(p))
    assert result.status is Status.OK and result.data["in_flight"] == 1


async def test_blocked_run_decisions_are_covered_by_alert_ref() -> None:
    p = load()
    victim = next(d for d in p["/api/decisions"] if d["decision"] in ("BUY", "SELL"))
    p["/api/alerts/outcomes"] = [o for o in p["/api/alerts/outcomes"]
                                 if o["decision_id"] != victim["id"]]
    victim["alert_ref"] = "00000000-0000-0000-0000-000000000001"
    assert (await alert_emissions.run(context(p))).status is Status.OK


async def test_old_pending_warns_and_failed_is_critical() -> None:
    p = load()
    outcome = p["/api/alerts/outcomes"][0]
    outcome["outcome"], outcome["created_at"] = "PENDING", _iso(p, 300)
    pending = await alert_emissions.run(context(p))
    assert pending.status is Status.WARNING and "PENDING" in pending.summary
    outcome["outcome"], outcome["error"] = "FAILED", "chat not found"
    failed = await alert_emissions.run(context(p))
    assert failed.status is Status.CRITICAL and "chat not found" in failed.summary


def _throttled(p: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in p["/api/events"] if e["type"] == "alert_throttled")


async def test_throttle_verdicts_are_recomputed_with_the_rule_engine() -> None:
    p = load()
    ok = await throttled_alerts.run(context(p))
    assert ok.status is Status.OK and ok.data["confirmed"] == ok.data["throttled"] > 0
    event = _throttled(p)
    # Recorded state says the last alert was an hour ago with a big move: rules allow it.
    event["payload"]["last_alerted_at"] = _iso(p, 3600)
    event["payload"]["last_price"] = event["payload"]["price"] / 2
    wrong = await throttled_alerts.run(context(p))
    assert wrong.status is Status.CRITICAL
    assert event["decision_id"] in wrong.summary


async def test_throttle_reason_mismatch_and_missing_state_warn() -> None:
    p = load()
    event = _throttled(p)
    event["message"] = "cooldown"
    assert (await throttled_alerts.run(context(p))).status is Status.WARNING
    p = load()
    _throttled(p)["payload"] = {"side": "BUY"}
    result = await throttled_alerts.run(context(p))
    assert result.status is Status.WARNING and result.data["without_state"]


async def test_monitor_stall_is_named_by_signal_monitor_cycles_only() -> None:
    p = load()
    for key in ("/api/health", "/api/monitoring/summary"):
        p[key]["last_update_seconds_ago"] = 400.0
        p[key]["scheduler_ticks"] = 500
    p["/api/health"]["status"] = "degraded"
    p["/api/monitoring/cycles"] = [c for c in p["/api/monitoring/cycles"]
                                   if parse_time(c["started_at"]) < parse_time(_iso(p, 400))]  # type: ignore[operator]
    report = await evaluate(context(p))
    assert report.check("signal_monitor_cycles").status is Status.CRITICAL
    assert "stalled" in report.check("signal_monitor_cycles").summary
    assert report.check("backend_health").status is Status.WARNING
    others = [c.id for c in report.checks if c.status is Status.CRITICAL]
    assert others == ["signal_monitor_cycles"]


async def test_monitor_that_never_cycled_is_critical_after_warmup() -> None:
    p = load()
    p["/api/monitoring/summary"].update(signal_monitor_ticks=0, last_update_seconds_ago=None,
                                        started_at=_iso(p, 600))
    p["/api/monitoring/cycles"] = []
    result = await signal_monitor_cycles.run(context(p))
    assert result.status is Status.CRITICAL and "no monitor cycle" in result.summary
    p["/api/monitoring/summary"]["started_at"] = _iso(p, 20)
    assert (await signal_monitor_cycles.run(context(p))).status is Status.OK


async def test_gap_and_skipped_symbols_warn() -> None:
    p = load()
    cycles = p["/api/monitoring/cycles"]
    oldest = cycles[-1]
    oldest["started_at"] = _iso(p, 600)
    result = await signal_monitor_cycles.run(context(p))
    assert result.status is Status.WARNING and "gap" in result.summary
    p = load()
    latest = p["/api/monitoring/cycles"][0]
    latest["skipped"] = 1
    p["/api/events"].append({"id": 999, "at": latest["started_at"], "type": "symbol_skipped",
                             "severity": "error", "symbol": "ADA_USDT", "decision_id": None,
                             "instance": "demo",
                             "message": "evaluation failed: TypeError: bad operand",
                             "payload": {"cycle": latest["id"]}})
    result = await signal_monitor_cycles.run(context(p))
    assert result.status is Status.WARNING
    assert "ADA_USDT (evaluation failed: TypeError: bad operand)" in result.summary


async def test_stale_symbol_decisions_warn() -> None:
    p = load()
    p["/api/decisions"] = [d for d in p["/api/decisions"] if d["symbol"] != "ADA_USDT"]
    result = await strategy_decisions.run(context(p))
    assert result.status is Status.WARNING and "ADA_USDT" in result.summary
    assert set(result.data["counts"]) == {"BUY", "SELL", "WAIT"}


async def test_backend_down_is_critical_and_other_checks_unknown() -> None:
    report = await evaluate(context(load(), broken=("*",)))
    assert report.check("backend_health").status is Status.CRITICAL
    assert report.check("telegram").status is Status.UNKNOWN
    assert report.check("containers").status is Status.SKIPPED
    assert report.exit_code == 2  # critical outranks unknown


async def test_one_broken_endpoint_makes_only_its_checks_unknown() -> None:
    report = await evaluate(context(load(), broken=("/api/telegram/state",)))
    assert report.check("telegram").status is Status.UNKNOWN
    assert report.check("telegram").remediation
    assert report.check("alert_emissions").status is Status.OK
    assert report.exit_code == 3


@pytest.mark.parametrize(("failure", "status", "words"), [
    ({"category": "auth", "kind": "wrong_key_or_signature", "code": 40101,
      "diagnosis": "wrong key or signature", "fix": "copy EXCHANGE_API_KEY again"},
     Status.CRITICAL, "40101"),
    ({"category": "auth", "kind": "clock", "code": 40102, "diagnosis": "clock",
      "fix": "enable NTP"}, Status.CRITICAL, "40102"),
    ({"category": "auth", "kind": "ip_allowlist", "code": 40103, "diagnosis": "IP allowlist",
      "fix": "add this host's IP"}, Status.CRITICAL, "40103"),
    ({"category": "proxy", "kind": "proxy_auth", "code": None,
      "diagnosis": "proxy authentication", "fix": "fix user:password in EXCHANGE_PROXY_URL"},
     Status.CRITICAL, "proxy"),
    ({"category": "network", "kind": "network", "code": None,
      "diagnosis": "exchange unreachable", "fix": "check the network"},
     Status.WARNING, "unreachable"),
])
async def test_exchange_failures_are_told_apart(failure: dict[str, Any], status: Status,
                                                words: str) -> None:
    p = load()
    state = p["/api/exchange/state"]
    state["last_private_ok_at"] = _iso(p, 600)
    state["last_failure"] = {**failure, "at": _iso(p, 5)}
    result = await exchange_auth.run(context(p))
    assert result.status is status
    assert words in result.summary
    assert result.remediation == failure["fix"]


async def test_exchange_recovered_and_unconfigured() -> None:
    p = load()
    state = p["/api/exchange/state"]
    state["last_private_ok_at"] = _iso(p, 5)
    state["last_failure"] = {"category": "auth", "kind": "clock", "code": 40102,
                             "diagnosis": "clock", "fix": "NTP", "at": _iso(p, 60)}
    assert (await exchange_auth.run(context(p))).status is Status.OK
    state.update(credentials_configured=False, last_failure=None, last_private_ok_at=None)
    result = await exchange_auth.run(context(p))
    assert result.status is Status.WARNING and "not configured" in result.summary


async def test_telegram_conflicts_warn_and_show_alerts_unaffected() -> None:
    p = load()
    state = p["/api/telegram/state"]
    state["conflicts"] = {"count": 7, "last_at": _iso(p, 60),
                          "last_description": "Conflict: terminated by other getUpdates"}
    result = await telegram.run(context(p))
    assert result.status is Status.WARNING
    assert "second poller" in result.summary and "409" in result.summary
    state["conflicts"]["last_description"] = ("Conflict: can't use getUpdates method while "
                                              "webhook is active")
    result = await telegram.run(context(p))
    assert "webhook" in result.summary and "deleteWebhook" in (result.remediation or "")


async def test_telegram_outage_is_critical() -> None:
    p = load()
    state = p["/api/telegram/state"]
    state.update(last_error="network: connection refused", last_error_at=_iso(p, 2),
                 last_send_at=_iso(p, 200), outbox_pending=3, oldest_pending_age_seconds=150)
    result = await telegram.run(context(p))
    assert result.status is Status.CRITICAL and "3 alerts waiting" in result.summary


async def test_telegram_invalid_token_is_critical() -> None:
    p = load()
    p["/api/telegram/state"].update(last_error="Unauthorized", last_error_at=_iso(p, 1))
    result = await telegram.run(context(p))
    assert result.status is Status.CRITICAL and "token" in result.summary


async def test_backend_health_scheduler_dead_is_critical() -> None:
    p = load()
    p["/api/health"]["scheduler_ticks"] = 0
    assert (await backend_health.run(context(p))).status is Status.CRITICAL


def _unknown_run(p: dict[str, Any], symbol: str, minutes: float, cause: str | None) -> None:
    """Replace `symbol`'s decisions by one every 30 s for `minutes`, up to now: WAIT with
    the price unknown (`cause`), or decided normally when `cause` is None."""
    p["/api/decisions"] = [d for d in p["/api/decisions"] if d["symbol"] != symbol]
    steps = int(minutes * 2)
    for k in range(steps, -1, -1):
        p["/api/decisions"].append({
            "id": f"{symbol}-{k}", "cycle_id": k, "symbol": symbol, "preset": "swing",
            "decision": "WAIT", "buy_index": 40, "price": None, "flags": {},
            "reasons": [cause] if cause else [], "alert_ref": None,
            "unknown_inputs": {"price": cause} if cause else {},
            "created_at": _iso(p, 2 + 30 * k)})


async def test_symbol_waiting_on_an_unknown_input_for_over_10_min_warns_by_name() -> None:
    p = load()
    cause = "price stale: 74 s old (limit 60 s)"
    _unknown_run(p, "ETH_USDT", 12, cause)
    result = await strategy_decisions.run(context(p))
    assert result.status is Status.WARNING
    assert f"ETH_USDT: price unknown for 12 min ({cause})" in result.summary
    assert result.data["unknown_inputs"]["ETH_USDT"]["input"] == "price"
    assert result.remediation and "ticker" in result.remediation


async def test_unknown_input_for_less_than_10_min_or_recovered_is_ok() -> None:
    p = load()
    _unknown_run(p, "ETH_USDT", 9, "price stale: 74 s old (limit 60 s)")
    assert (await strategy_decisions.run(context(p))).status is Status.OK
    p = load()
    _unknown_run(p, "ETH_USDT", 12, "price stale: 74 s old (limit 60 s)")
    newest = max(p["/api/decisions"], key=lambda d: d["created_at"])
    newest.update(unknown_inputs={}, reasons=[])  # the price came back this cycle
    assert (await strategy_decisions.run(context(p))).status is Status.OK


async def test_an_evaluation_bug_counts_as_an_unexpected_error() -> None:
    p = load()
    p["/api/events"].append({"id": 998, "at": _iso(p, 5), "type": "symbol_skipped",
                             "severity": "error", "symbol": "ADA_USDT", "decision_id": None,
                             "instance": "demo",
                             "message": "evaluation failed: TypeError: bad operand",
                             "payload": {"cycle": 1}})
    result = await errors.run(context(p))
    assert result.status is Status.CRITICAL and "symbol_skipped" in result.summary


async def test_abandoned_decisions_warn_by_name_not_critical() -> None:
    p = load()
    victim = [d for d in p["/api/decisions"] if d["decision"] in ("BUY", "SELL")][-1]
    [outcome] = [o for o in p["/api/alerts/outcomes"] if o["decision_id"] == victim["id"]]
    outcome.update(outcome="ABANDONED", reason="the process stopped between the decision and "
                   "its outcome; found 95 s after the decision (limit 60 s): too old to alert")
    result = await alert_emissions.run(context(p))
    assert result.status is Status.WARNING
    assert "ABANDONED" in result.summary
    assert victim["id"] in result.summary and victim["symbol"] in result.summary
    assert result.data["abandoned"][0]["decision_id"] == victim["id"]
    assert any("too old to alert" in line for line in result.details)
    assert result.data["outcomes"]["ABANDONED"] == 1


async def test_possible_repeats_are_shown_by_the_telegram_check_not_warned() -> None:
    p = load()
    p["/api/telegram/state"]["possible_repeats_total"] = 2
    sent = next(e for e in p["/api/events"] if e["type"] == "alert_sent")
    sent.setdefault("payload", {})["possible_repeat"] = True
    result = await telegram.run(context(p))
    assert result.status is Status.OK
    assert any("possible repeats" in line and "1 in the window, 2 ever" in line
               for line in result.details)
    assert result.data["possible_repeats_in_window"] == 1
