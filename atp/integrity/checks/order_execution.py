"""The tenth check: every trade-enabled accepted alert has its order outcome, and every
open position is protected by an SL/TP pair (business-rules §6, failure modes 19 and 25).

A reconciliation over the HTTP API, like `alert_emissions`: the accepted alerts of the
window (`/api/alerts/outcomes`) joined to the order intents (`/api/orders`) by decision
id. Whether a symbol traded *at the alert's time* is the watchlist row now with every
audited change since undone (`/api/audit`), so switching trading on does not turn the
window's earlier alerts into false alarms. Critical, each named: an accepted alert with
no intent, an intent PENDING or PLACED (outcome unknown) for more than 2 minutes, an open
position without its SL/TP pair (the "naked position" incident). Exchange rejections are
counted by code and warn: they are recorded outcomes, not lost ones.

A target without `/api/trading/state` (404: ATP from before the trader) cannot place
orders, so there is nothing to reconcile: `skipped`, saying so. `unknown` would turn every
such deployment's verdict into "incomplete" for a check that does not apply to it; any
other failure to read still makes the check `unknown`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from atp.integrity.checks._common import hhmmss, limit_list, plural
from atp.integrity.context import PENDING_LIMIT_S, CheckContext
from atp.integrity.report import CheckResult, Status, ago
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.http import parse_time

ID = "order_execution"
TITLE = "Order execution (accepted alert → order outcome, SL/TP)"
ACCEPTED = ("PENDING", "SENT", "FAILED")  # alert outcomes that mean "accepted" (§5)
UNDECIDED = ("PENDING", "PLACED")  # intent outcomes that are not final yet
IN_FLIGHT_S = 15.0  # an alert this young may still be getting its intent
PROTECT_GRACE_S = 15.0  # a fill this young may still be getting its SL/TP pair
ORDERS_LIMIT = 1000  # the API's maximum page of intents
TRADE_FIELDS = ("trade_enabled", "trade_amount_usd")
_NAKED_FIX = ("check the API key's permission for conditional (trigger / OCO) orders in the "
              "exchange's API settings (code 140001 = no permission), then ATP retries the "
              "SL/TP pair; or close the position (sell it) now")
_REJECTION_FIX = {
    306: "insufficient balance: fund the account or lower trade_amount_usd",
    609: "insufficient margin: fund the account or lower trade_amount_usd",
    209: "the exchange does not know the instrument: fix or remove the watchlist symbol",
    140001: "the API key may not place conditional orders: grant it in the exchange's API "
            "settings",
    42901: "rate limit: fewer symbols trading at once, or a higher monitor interval",
    220: "an SL/TP price was refused: check the symbol's SL/TP overrides",
    229: "an SL/TP trigger was on the wrong side of the market: check the SL/TP overrides",
}


def _alert_name(a: dict[str, Any]) -> str:
    return (f"{a.get('symbol')} {a.get('side')} at {hhmmss(parse_time(a.get('created_at')))}"
            f" (decision {a.get('decision_id')})")


def _intent_name(i: dict[str, Any]) -> str:
    return (f"{i.get('symbol')} {i.get('side')} at {hhmmss(parse_time(i.get('created_at')))}"
            f" (decision {i.get('decision_id')}, client_oid {i.get('client_oid')})")


class TradingHistory:
    """Whether a symbol traded at a given time: its watchlist row now, with each audited
    change after that time undone (newest first)."""

    def __init__(self, watchlist: list[dict[str, Any]], audit: list[dict[str, Any]]) -> None:
        self._now = {str(w.get("symbol")): {f: w.get(f) for f in TRADE_FIELDS}
                     for w in watchlist}
        self._changes: dict[str, list[tuple[datetime, str, Any]]] = {}
        for row in audit:
            at = parse_time(row.get("at"))
            field = str(row.get("field"))
            if at is None or (field != "row" and field not in TRADE_FIELDS):
                continue
            self._changes.setdefault(str(row.get("entity_key")), []).append(
                (at, field, row.get("old_value")))
        for changes in self._changes.values():
            changes.sort(key=lambda c: c[0], reverse=True)

    def trading(self, symbol: str, at: datetime | None) -> bool:
        current = self._now.get(symbol)
        state = None if current is None else dict(current)
        for changed_at, field, old in self._changes.get(symbol, []):
            if at is not None and changed_at <= at:
                break
            if field == "row":  # inserted (old None) or deleted (old = the row) after `at`
                state = ({f: old.get(f) for f in TRADE_FIELDS} if isinstance(old, dict)
                         else None)
            elif state is not None:
                state[field] = old
        return _trades(state)

    @property
    def any_in_window(self) -> bool:
        """Whether any symbol traded at some time the audit covers: now, or in a state
        one of its audited changes replaced (each state, as of just before each change)."""
        if self.symbols_now:
            return True
        tick = timedelta(microseconds=1)
        return any(self.trading(symbol, at - tick)
                   for symbol, changes in self._changes.items() for at, _, _ in changes)

    @property
    def symbols_now(self) -> list[str]:
        return sorted(s for s, state in self._now.items() if _trades(state))


def _trades(state: dict[str, Any] | None) -> bool:
    if not state or state.get("trade_enabled") is not True:
        return False
    amount = state.get("trade_amount_usd")
    return isinstance(amount, int | float) and amount > 0


async def _trading_state(ctx: CheckContext) -> dict[str, Any] | None:
    """The trading state, or None when the target predates the trading API (404)."""
    try:
        state = await ctx.api.get("/api/trading/state")
    except SourceUnavailable as exc:
        if exc.http_status == 404:
            return None
        raise
    if not isinstance(state, dict):
        raise SourceUnavailable("HTTP API", "/api/trading/state did not answer an object")
    return state


def _rejections(body: dict[str, Any], intents: list[dict[str, Any]],
                positions: list[dict[str, Any]]) -> tuple[Counter[str], dict[str, str]]:
    """Rejections by exchange code (the API's count when it gives one) and a message each."""
    counts: Counter[str] = Counter()
    given = body.get("rejections_by_code")
    if isinstance(given, dict):
        counts.update({str(k): int(v) for k, v in given.items() if isinstance(v, int) and v})
    messages: dict[str, str] = {}
    for intent in intents:
        if intent.get("outcome") == "REJECTED":
            code = str(intent.get("error_code"))
            if not isinstance(given, dict):
                counts[code] += 1
            messages.setdefault(code, str(intent.get("error_message") or ""))
    for position in positions:
        error = position.get("protection_error") or {}
        if error.get("code") is not None:
            messages.setdefault(str(error["code"]), str(error.get("message") or ""))
    return counts, messages


def _rejection_text(counts: Counter[str], messages: dict[str, str]) -> str:
    return ", ".join(f"{code} ×{n}" + (f" ({messages[code]})" if messages.get(code) else "")
                     for code, n in counts.most_common())


def _age(now: datetime, value: Any) -> float:
    at = parse_time(value)
    return 0.0 if at is None else (now - at).total_seconds()


async def run(ctx: CheckContext) -> CheckResult:
    state = await _trading_state(ctx)
    if state is None:
        return CheckResult(ID, Status.SKIPPED, "the target has no trading API (/api/trading/"
                           "state answers 404: ATP from before the trader), so no orders to "
                           "reconcile", ["upgrade the backend to check order outcomes"])
    since = ctx.since_iso()
    watchlist = await ctx.api.get("/api/watchlist")
    audit = await ctx.api.get_all("/api/audit", entity="watchlist", since=since)
    history = TradingHistory(watchlist if isinstance(watchlist, list) else [], audit)
    # No symbol traded in the window (alerts only: the usual case): no accepted alert can
    # need an order, so the window's outcomes are not read at all.
    alerts = (await ctx.api.get_all("/api/alerts/outcomes", since=since)
              if history.any_in_window else [])
    # Intents are read after the alerts: an intent is never older than its alert. A
    # minute's margin before the window keeps an alert at its edge with its intent.
    body = await ctx.api.get("/api/orders", since=(ctx.since - timedelta(minutes=1))
                             .isoformat(), limit=ORDERS_LIMIT)
    if not isinstance(body, dict) or not isinstance(body.get("intents"), list):
        raise SourceUnavailable("HTTP API", "/api/orders did not answer {intents: [...]} "
                                "(a backend older than its /api/trading/state?)")
    intents: list[dict[str, Any]] = body["intents"]
    positions_body = await ctx.api.get("/api/positions")
    positions: list[dict[str, Any]] = list((positions_body or {}).get("positions") or [])

    by_decision: dict[str, list[dict[str, Any]]] = {}
    for intent in intents:
        by_decision.setdefault(str(intent.get("decision_id")), []).append(intent)

    trade_alerts = [a for a in alerts if a.get("outcome") in ACCEPTED
                    and history.trading(str(a.get("symbol")), parse_time(a.get("created_at")))]
    missing: list[dict[str, Any]] = []
    in_flight = 0
    for alert in trade_alerts:
        if str(alert.get("decision_id")) in by_decision:
            continue
        if _age(ctx.now, alert.get("created_at")) < IN_FLIGHT_S:
            in_flight += 1
        else:
            missing.append(alert)

    tally: Counter[str] = Counter(str(i.get("outcome")) for i in intents)
    stuck: list[tuple[dict[str, Any], float]] = []
    for intent in intents:
        if intent.get("outcome") in UNDECIDED:
            age = _age(ctx.now, intent.get("updated_at") or intent.get("created_at"))
            if age > PENDING_LIMIT_S:
                stuck.append((intent, age))
    failed = [i for i in intents if i.get("outcome") == "FAILED"]

    naked = [p for p in positions if not p.get("protected")
             and _age(ctx.now, p.get("opened_at")) >= PROTECT_GRACE_S]
    protected = sum(1 for p in positions if p.get("protected"))
    rejections, messages = _rejections(body, intents, positions)

    mode = str(state.get("mode") or "?")
    switches = (f"mode {mode}; live switch {'on' if state.get('live_switch') else 'off'}; "
                f"kill switch {'ON' if state.get('kill_switch') else 'off'}")
    breakdown = ", ".join(f"{k.lower()} {n}" for k, n in sorted(tally.items())) or "none"
    details = [
        switches + (f"; live refused: {state['live_refused_reason']}"
                    if state.get("live_refused_reason") else ""),
        f"trade-enabled symbols now: {', '.join(history.symbols_now) or 'none'}",
        f"{plural(len(trade_alerts), 'trade-enabled accepted alert')} in the window; "
        f"order intents: {len(intents)} ({breakdown})"
        + (f"; {in_flight} in flight" if in_flight else "")
        + ("; more than the API's page, the oldest were not read"
           if int(body.get("total") or 0) > len(intents) else ""),
        f"open positions: {len(positions)}, protected by SL/TP: {protected}",
    ]
    for p in positions:
        prot = p.get("protection") or {}
        details.append(f"position {p.get('symbol')} {p.get('quantity')} @ {p.get('avg_entry')}"
                       + (f": SL {prot.get('stop_loss')} / TP {prot.get('take_profit')}"
                          if p.get("protected") else ": UNPROTECTED"))
    if rejections:
        details.append("rejections by code: " + _rejection_text(rejections, messages))
    data: dict[str, Any] = {
        "mode": mode, "kill_switch": bool(state.get("kill_switch")),
        "live_switch": bool(state.get("live_switch")),
        "live_refused_reason": state.get("live_refused_reason"),
        "trade_enabled_symbols": history.symbols_now,
        "trade_alerts": len(trade_alerts), "intents": len(intents), "outcomes": dict(tally),
        "in_flight": in_flight,
        "missing": [{"decision_id": a.get("decision_id"), "symbol": a.get("symbol"),
                     "side": a.get("side"), "created_at": a.get("created_at")}
                    for a in missing],
        "undecided_over_limit": [{"decision_id": i.get("decision_id"),
                                  "symbol": i.get("symbol"), "outcome": i.get("outcome"),
                                  "client_oid": i.get("client_oid"), "age_s": round(a)}
                                 for i, a in stuck],
        "positions": len(positions), "protected": protected,
        "unprotected": [{"symbol": p.get("symbol"), "quantity": p.get("quantity"),
                         "opened_at": p.get("opened_at"),
                         "protection_error": p.get("protection_error")} for p in naked],
        "rejections_by_code": dict(rejections),
        "failed": [{"decision_id": i.get("decision_id"), "symbol": i.get("symbol"),
                    "error": i.get("error_message") or i.get("reason")} for i in failed],
    }

    problems: list[str] = []
    fixes: list[str] = []
    if naked:
        names = []
        for p in naked:
            error = p.get("protection_error") or {}
            why = (f"; protection failed: {error.get('code')} {error.get('message')}"
                   f" ({plural(int(error.get('attempts') or 0), 'attempt')})" if error else "")
            names.append(f"{p.get('symbol')} {p.get('quantity')} open for "
                         f"{ago(_age(ctx.now, p.get('opened_at')))} without SL/TP{why}")
        details += limit_list(["UNPROTECTED: " + n for n in names])
        problems.append(f"{plural(len(naked), 'open position')} without an SL/TP pair: "
                        + "; ".join(names[:3]) + ("; …" if len(names) > 3 else ""))
        fixes.append(_NAKED_FIX)
    if missing:
        details += limit_list(["no order outcome: " + _alert_name(a) for a in missing])
        problems.append(f"{plural(len(missing), 'trade-enabled accepted alert')} without an "
                        "order intent: " + "; ".join(_alert_name(a) for a in missing[:3])
                        + ("; …" if len(missing) > 3 else ""))
        fixes.append("the trader dropped these alerts: read atp logs --since 15m around "
                     "their times and restart the backend (intents are reconciled on start)")
    if stuck:
        details += limit_list([f"{i.get('outcome')} {a:.0f} s: {_intent_name(i)}"
                               for i, a in stuck])
        problems.append(f"{plural(len(stuck), 'order intent')} PENDING/PLACED with the "
                        f"outcome unknown for more than {PENDING_LIMIT_S:.0f} s: "
                        + "; ".join(f"{_intent_name(i)} {i.get('outcome')} {a:.0f} s"
                                    for i, a in stuck[:3]) + ("; …" if len(stuck) > 3 else ""))
        fixes.append("the exchange sync does not settle these orders: look them up on the "
                     "exchange by client_oid, check exchange_auth, read atp logs --since 15m")
    if problems:
        return CheckResult(ID, Status.CRITICAL, " | ".join(problems), details,
                           "; ".join(fixes), data)

    warnings: list[str] = []
    fixes = []
    if rejections:
        warnings.append(f"{plural(sum(rejections.values()), 'order')} rejected by the "
                        f"exchange: {_rejection_text(rejections, messages)}")
        fixes += [_REJECTION_FIX[int(c)] for c in rejections
                  if c.isdigit() and int(c) in _REJECTION_FIX]
        fixes = fixes or ["read each rejection's code and message in /api/orders"]
    if failed:
        details += limit_list([f"FAILED: {_intent_name(i)}: "
                               f"{i.get('error_message') or i.get('reason')}" for i in failed])
        warnings.append(f"{plural(len(failed), 'order')} FAILED: "
                        f"{failed[0].get('error_message') or failed[0].get('reason')}")
        fixes.append("read atp logs --since 15m for the error; see exchange_auth")
    if state.get("live_refused_reason"):
        warnings.append(f"live trading switched on but refused: {state['live_refused_reason']}"
                        " (every intent is refused)")
        fixes.append("give the backend exchange credentials that pass a private call, or "
                     "switch live trading off")
    if warnings:
        return CheckResult(ID, Status.WARNING, "; ".join(warnings), details, "; ".join(fixes),
                           data)

    if not trade_alerts and not intents and not positions and not history.symbols_now:
        return CheckResult(ID, Status.OK, f"no trade-enabled symbols (nothing to order; "
                           f"{switches})", details, None, data)
    kill = "; kill switch ON: new orders are blocked" if state.get("kill_switch") else ""
    return CheckResult(
        ID, Status.OK,
        f"every trade-enabled accepted alert ({len(trade_alerts)}) has its order outcome "
        f"({breakdown}); {plural(len(positions), 'open position')}, "
        f"{'all' if positions else 'none to be'} protected by SL/TP; mode {mode}{kill}",
        details, None, data)
