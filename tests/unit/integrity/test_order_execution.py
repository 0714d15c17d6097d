"""`order_execution` (and `exchange_auth`'s order call) over the recorded demo payloads,
with trading edited in as /api/trading/state, /api/orders and /api/positions answer it
(trading contract): pure, no network."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from atp.integrity.checks import CHECK_IDS, exchange_auth, order_execution
from atp.integrity.render import render_json, render_nagios, render_text
from atp.integrity.report import Status
from atp.integrity.runner import evaluate
from atp.integrity.sources.http import parse_time

from .fakes import context, load

SYMBOL = "ETH_USDT"


def _iso(p: dict[str, Any], seconds_ago: float) -> str:
    now = parse_time(p["now"])
    assert now is not None
    return (now - timedelta(seconds=seconds_ago)).isoformat()


def _trading(p: dict[str, Any], symbol: str = SYMBOL, amount: float = 100.0) -> None:
    row = next(w for w in p["/api/watchlist"] if w["symbol"] == symbol)
    row.update(trade_enabled=True, trade_amount_usd=amount)


def _accepted(p: dict[str, Any], symbol: str = SYMBOL) -> list[dict[str, Any]]:
    return [o for o in p["/api/alerts/outcomes"]
            if o["symbol"] == symbol and o["outcome"] in ("PENDING", "SENT", "FAILED")]


def _intent(alert: dict[str, Any], outcome: str = "FILLED", **extra: Any) -> dict[str, Any]:
    intent = {"decision_id": alert["decision_id"], "client_oid": "atp-" + alert["decision_id"][:8],
              "symbol": alert["symbol"], "side": alert["side"], "mode": "paper",
              "outcome": outcome, "reason": None, "error_code": None, "error_message": None,
              "created_at": alert["created_at"], "updated_at": alert["created_at"],
              "orders": []}
    intent.update(extra)
    return intent


def _position(p: dict[str, Any], protected: bool = True, opened_s: float = 60,
              **extra: Any) -> dict[str, Any]:
    position = {"symbol": SYMBOL, "quantity": 0.043, "avg_entry": 2291.4, "mark_price": 2300.0,
                "unrealised_pnl": 0.37, "opened_at": _iso(p, opened_s),
                "entry_client_oid": "atp-entry", "decision_id": "d-1", "protected": protected,
                "protection": ({"list_id": "L1", "stop_loss": 2222.6, "take_profit": 2360.2,
                                "status": "ACTIVE"} if protected else None),
                "protection_error": None}
    position.update(extra)
    return position


def _with_filled_trade(p: dict[str, Any]) -> dict[str, Any]:
    _trading(p)
    [alert] = _accepted(p)
    p["/api/orders"]["intents"] = [_intent(alert)]
    p["/api/orders"]["total"] = 1
    p["/api/positions"]["positions"] = [_position(p)]
    return alert


async def test_no_trade_enabled_symbols_is_ok_and_says_so() -> None:
    ctx = context(load())
    result = await order_execution.run(ctx)
    assert result.status is Status.OK
    assert "no trade-enabled symbols" in result.summary
    assert "mode paper" in result.summary
    # nothing traded in the window: the window's alert outcomes are not even read
    assert "/api/alerts/outcomes" not in ctx.api.calls  # type: ignore[attr-defined]


async def test_target_without_trading_api_is_skipped_with_why() -> None:
    p = load()
    for path in ("/api/trading/state", "/api/orders", "/api/positions"):
        del p[path]
    report = await evaluate(context(p))
    result = report.check("order_execution")
    assert result.status is Status.SKIPPED and "404" in result.summary
    assert report.check("exchange_auth").status is Status.OK  # reads as before the trader
    assert report.exit_code == 0 and report.counts["skipped"] == 3  # with host_resources


async def test_unreachable_trading_api_is_unknown_not_skipped() -> None:
    report = await evaluate(context(load(), broken=("/api/trading/state",)))
    assert report.check("order_execution").status is Status.UNKNOWN


async def test_every_accepted_alert_with_its_outcome_and_protected_positions_is_ok() -> None:
    p = load()
    _with_filled_trade(p)
    result = await order_execution.run(context(p))
    assert result.status is Status.OK, result.as_dict()
    assert "every trade-enabled accepted alert (1) has its order outcome (filled 1)" in \
        result.summary
    assert "1 open position, all protected by SL/TP" in result.summary
    assert any("SL 2222.6 / TP 2360.2" in line for line in result.details)


async def test_accepted_alert_without_intent_is_critical_and_named() -> None:
    p = load()
    alert = _with_filled_trade(p)
    p["/api/orders"]["intents"] = []
    result = await order_execution.run(context(p))
    assert result.status is Status.CRITICAL
    assert alert["decision_id"] in result.summary and SYMBOL in result.summary
    at = parse_time(alert["created_at"])
    assert at is not None and at.strftime("%H:%M:%S") in result.summary
    assert result.data["missing"][0]["decision_id"] == alert["decision_id"]
    assert result.remediation


async def test_throttled_alerts_and_young_alerts_need_no_intent() -> None:
    p = load()
    _trading(p)
    [alert] = _accepted(p)
    alert["created_at"] = _iso(p, 3)  # between the alert's commit and its intent
    result = await order_execution.run(context(p))
    assert result.status is Status.OK and result.data["in_flight"] == 1
    assert result.data["trade_alerts"] == 1  # the THROTTLED ones were never accepted


async def test_alerts_from_before_trading_was_switched_on_need_no_intent() -> None:
    p = load()
    _trading(p)
    [alert] = _accepted(p)
    after = (parse_time(alert["created_at"]) + timedelta(seconds=1)).isoformat()  # type: ignore[operator]
    p["/api/audit"] = [
        {"id": 2, "at": after, "author": "api", "entity": "watchlist", "entity_key": SYMBOL,
         "field": "trade_amount_usd", "old_value": 0.0, "new_value": 100.0},
        {"id": 1, "at": after, "author": "api", "entity": "watchlist", "entity_key": SYMBOL,
         "field": "trade_enabled", "old_value": False, "new_value": True}]
    result = await order_execution.run(context(p))
    assert result.status is Status.OK and result.data["trade_alerts"] == 0
    # switched off after the alert: it was a trading alert then, so it needs its intent
    row = next(w for w in p["/api/watchlist"] if w["symbol"] == SYMBOL)
    row["trade_enabled"] = False
    p["/api/audit"] = [{"id": 3, "at": after, "author": "telegram", "entity": "watchlist",
                        "entity_key": SYMBOL, "field": "trade_enabled", "old_value": True,
                        "new_value": False}]
    result = await order_execution.run(context(p))
    assert result.status is Status.CRITICAL and alert["decision_id"] in result.summary


async def test_intent_placed_with_unknown_outcome_over_2_min_is_critical() -> None:
    p = load()
    alert = _with_filled_trade(p)
    intent = p["/api/orders"]["intents"][0]
    intent.update(outcome="PLACED", updated_at=_iso(p, 30))
    assert (await order_execution.run(context(p))).status is Status.OK
    intent["updated_at"] = _iso(p, 200)
    result = await order_execution.run(context(p))
    assert result.status is Status.CRITICAL
    assert "PLACED 200 s" in result.summary and alert["decision_id"] in result.summary
    assert intent["client_oid"] in result.summary
    intent.update(outcome="PENDING")
    assert (await order_execution.run(context(p))).status is Status.CRITICAL


async def test_unprotected_position_is_critical_naming_symbol_and_the_fix() -> None:
    p = load()
    _with_filled_trade(p)
    p["/api/positions"]["positions"] = [_position(
        p, protected=False, opened_s=90, protection_error={
            "code": 140001, "message": "API key lacks permission for conditional orders",
            "attempts": 3, "since": _iso(p, 89)})]
    result = await order_execution.run(context(p))
    assert result.status is Status.CRITICAL
    assert SYMBOL in result.summary and "without an SL/TP pair" in result.summary
    assert "140001" in result.summary
    assert result.remediation and "140001" in result.remediation
    assert "close the position" in result.remediation
    assert result.data["unprotected"][0]["symbol"] == SYMBOL
    # a fill seconds old is still getting its pair
    p["/api/positions"]["positions"][0]["opened_at"] = _iso(p, 2)
    assert (await order_execution.run(context(p))).status is Status.OK


async def test_rejections_warn_with_counts_and_codes() -> None:
    p = load()
    _trading(p)
    [alert] = _accepted(p)
    message = "INSUFFICIENT_AVAILABLE_BALANCE"
    p["/api/orders"] = {"intents": [_intent(alert, "REJECTED", error_code=306,
                                            error_message=message)],
                        "total": 1, "rejections_by_code": {"306": 3, "42901": 1}}
    result = await order_execution.run(context(p))
    assert result.status is Status.WARNING
    assert "4 orders rejected" in result.summary
    assert f"306 ×3 ({message})" in result.summary and "42901 ×1" in result.summary
    assert result.remediation and "balance" in result.remediation
    assert result.data["rejections_by_code"] == {"306": 3, "42901": 1}


async def test_live_switch_refused_warns_and_kill_switch_is_stated() -> None:
    p = load()
    _with_filled_trade(p)
    p["/api/trading/state"]["kill_switch"] = True
    result = await order_execution.run(context(p))
    assert result.status is Status.OK and "kill switch ON" in result.summary
    p["/api/trading/state"].update(live_switch=True,
                                   live_refused_reason="no exchange credentials")
    result = await order_execution.run(context(p))
    assert result.status is Status.WARNING and "no exchange credentials" in result.summary


async def test_exchange_auth_reports_the_last_private_order_call() -> None:
    p = load()
    call = {"at": _iso(p, 10), "operation": "create-oco", "ok": True, "code": None,
            "message": None}
    p["/api/trading/state"]["last_private_order_call"] = call
    result = await exchange_auth.run(context(p))
    assert result.status is Status.OK and "last order call create-oco at" in result.summary
    assert result.data["last_private_order_call"] == call
    call.update(ok=False, code=306, message="INSUFFICIENT_AVAILABLE_BALANCE")
    result = await exchange_auth.run(context(p))
    assert result.status is Status.OK and "306" in result.summary  # order_execution's to judge
    call.update(code=40101, message="AUTHENTICATION_FAILURE")
    result = await exchange_auth.run(context(p))
    assert result.status is Status.CRITICAL and "40101" in result.summary


async def test_eleven_checks_rendered_in_every_format() -> None:
    p = load()
    _with_filled_trade(p)
    p["/api/positions"]["positions"][0].update(protected=False, protection=None)
    report = await evaluate(context(p))
    assert [c.id for c in report.checks] == list(CHECK_IDS) and len(CHECK_IDS) == 11
    assert report.exit_code == 2
    text = render_text(report)
    assert "[10] Order execution" in text and "(order_execution)" in text
    section = text.split("(order_execution)")[1]
    assert "❌" in section and "→ fix:" in section
    body = json.loads(render_json(report))
    named = next(c for c in body["checks"] if c["id"] == "order_execution")
    assert named["status"] == "critical" and named["data"]["unprotected"]
    nagios = render_nagios(report)
    assert nagios.startswith("ATP CRITICAL - order_execution critical: ")
    assert "positions_unprotected=1;;1;0" in nagios


async def test_an_order_refusal_is_not_an_exchange_auth_failure() -> None:
    p = load()
    p["/api/trading/state"]["last_private_order_call"] = {
        "at": _iso(p, 5), "operation": "create_oco", "ok": False, "code": 140001,
        "message": "CONDITIONAL_ORDER_NOT_PERMITTED"}
    p["/api/exchange/state"].update(last_private_ok_at=_iso(p, 60), last_failure={
        "category": "rejected", "kind": "rejected", "code": 140001,
        "diagnosis": "rejected by the exchange", "fix": "check the order", "at": _iso(p, 5)})
    result = await exchange_auth.run(context(p))
    assert result.status is Status.OK, result.as_dict()
    assert any("see order_execution" in line for line in result.details)
    p["/api/exchange/state"]["last_failure"]["code"] = 209  # not the order call's refusal
    assert (await exchange_auth.run(context(p))).status is Status.WARNING
