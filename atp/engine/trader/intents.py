"""Order intents: the gates each PENDING intent meets (kill switch, live refusal, the buy
gate, something to sell), placing entries and exits with the row written ahead, and
recording the one outcome each (business-rules §6). `atp.engine.intents.record_intent`
records the intents in the alert's transaction; this layer decides them. A BUY that
fills is protected at once, hence it sits on the protection layer."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from atp.domain.orders import OpenBuy, buy_gate, floor_quantity
from atp.domain.portfolio import base_of, entry_fill, exit_pnls, exit_proceeds
from atp.domain.trading import (
    BrokerError,
    BrokerUnavailable,
    DuplicateOrder,
    MarketOrder,
    OrderRejected,
    OrderState,
    OutcomeUnknown,
)
from atp.engine.ports import Broker
from atp.engine.trader.base import (
    INTENT_BATCH,
    _close,
    _describe,
    _Intent,
    _lookup,
    _preset,
    _q,
    _snap,
    log,
)
from atp.engine.trader.protection import TraderProtection
from atp.events import (
    OrderBlocked,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderRejectedEvent,
)
from atp.store import trading as rows
from atp.store.models import OrderIntentRow, OrderRow
from atp.store.uow import UnitOfWork
from atp.telegram.format import format_price

PRICE_WAIT_S = 120.0  # a paper intent waits this long for the monitor's first price


class TraderIntents(TraderProtection):
    """Gates and placing; on top of protection because a BUY that fills is protected
    at once."""

    # ── intents ────────────────────────────────────────────────────────────────────────

    async def run_once(self) -> int:
        """Decide every PENDING intent: one outcome each."""
        pending = await self.db.run(self._pending)
        now = self.clock.now()
        for it in pending:
            if (it.mode == "paper" and self.paper.price(it.symbol) is None
                    and (now - it.created_at).total_seconds() < PRICE_WAIT_S):
                continue  # just started: the paper broker has seen no price yet
            try:
                await self._decide(it)
            except Exception as exc:  # a bug or an outage: FAILED, never silently pending
                log.error("order intent failed", decision_id=it.decision_id,
                          error=f"{type(exc).__name__}: {exc}", exc_info=True)
                with contextlib.suppress(Exception):
                    await self.db.run(self._fail_pending, it, _describe(exc))
            self.stats.decided += 1
        return len(pending)

    def _pending(self) -> list[_Intent]:
        with self.db.unit("trader_read") as uow:
            return [_snap(r) for r in rows.intents_with_outcome(uow.session, ["PENDING"],
                                                                INTENT_BATCH)]

    async def _decide(self, it: _Intent) -> None:
        live_switch, kill = await self.switches()
        if kill:
            await self.db.run(self._block, it, "kill switch", "kill_switch")
            return
        if it.mode == "live":
            refusal = (await self.live_refusal() if live_switch
                       else "live trading refused: the live switch was turned off")
            if refusal is not None:
                await self.db.run(self._block, it, refusal, "live")
                return
        broker = self.broker(it.mode)
        assert broker is not None
        if it.side == "BUY":
            verdict = await self.db.run(self._buy_gate, it)
            if verdict is not None:
                await self.db.run(self._block, it, *verdict)
                return
            order = MarketOrder(it.symbol, "BUY", it.client_oid, notional=it.notional)
            await self._place(it, broker, order, "entry")
            return
        legs, quantity = await self.db.run(self._exit_plan, it)
        if quantity <= 0:
            await self.db.run(self._block, it, f"no {it.mode} position in {it.symbol} to sell",
                              "position")
            return
        for list_id in legs:  # the SL/TP legs hold the quantity: free it first
            try:
                await broker.cancel_protection(it.symbol, list_id)
                await self._note_call(broker, "cancel_protection", None)
            except BrokerError as exc:
                await self._note_call(broker, "cancel_protection", exc)
                await self.db.run(self._fail_pending, it, f"could not cancel SL/TP {list_id} "
                                  f"before selling: {_describe(exc)}")
                return
        await self.db.run(self._legs_cancelled, it, legs)
        rules = await broker.instrument(it.symbol)
        qty = floor_quantity(quantity, rules.quantity_tick)
        order = MarketOrder(it.symbol, "SELL", it.client_oid, quantity=qty)
        await self._place(it, broker, order, "exit")

    def _buy_gate(self, it: _Intent) -> tuple[str, str] | None:
        now = self.clock.now()
        base = base_of(it.symbol)
        price = self.paper.price(it.symbol) or it.price
        with self.db.unit("trader_read") as uow:
            s = uow.session
            if price is None:
                return f"no price for {it.symbol}", "price"
            held = [p for p in rows.open_positions(s, base=base) if p.mode == it.mode]
            preset = _preset(s, it.symbol, it.preset)
            gate = buy_gate(
                base=base, price=price, now=now,
                open_buys=[OpenBuy(p.entry_price, p.opened_at, p.quantity * price)
                           for p in held],
                last_buy_at=rows.last_buy_at(s, base), holdings_usd=0.0,
                trade_amount_usd=it.notional or 0.0,
                min_price_change_pct=preset.min_price_change_pct)
        return None if gate.allowed else (gate.reason, gate.gate)

    def _exit_plan(self, it: _Intent) -> tuple[list[str], float]:
        with self.db.unit("trader_read") as uow:
            held = [p for p in rows.open_positions(uow.session, symbol=it.symbol)
                    if p.mode == it.mode]
            legs = [p.protection_list_id for p in held
                    if p.protection_list_id and p.protection_status == "active"]
            return legs, sum(p.quantity for p in held)

    def _legs_cancelled(self, it: _Intent, list_ids: list[str]) -> None:
        now = self.clock.now()
        with self.db.unit("trader_exit") as uow:
            s = uow.session
            for p in rows.open_positions(s, symbol=it.symbol):
                if p.protection_list_id in list_ids:
                    p.protection_status = "cancelled"
            for row in rows.open_orders(s, roles=("stop_loss", "take_profit")):
                if row.list_id in list_ids:
                    row.status, row.updated_at = "CANCELLED", now
                    self._event(uow, OrderCancelled(side=row.side, client_oid=row.client_order_id,
                                                    role=row.role, by="exit"),
                                row.symbol, row.decision_id,
                                f"{row.role} cancelled to sell {it.symbol}")

    async def _place(self, it: _Intent, broker: Broker, order: MarketOrder, role: str) -> None:
        await self.db.run(self._write_ahead, it, order, role, broker.mode)
        await self._send(it, broker, order)

    async def _send(self, it: _Intent, broker: Broker, order: MarketOrder) -> None:
        try:
            state = await broker.place_market(order)
        except DuplicateOrder:
            # 204: already placed (a retry after a lost answer) — look it up, carry on
            await self._note_call(broker, "create_order", None)
            found = await _lookup(broker, order.symbol, order.client_oid)
            if found is not None:
                await self._entry_state(order.client_oid, found, broker)
            return
        except OrderRejected as exc:
            await self._note_call(broker, "create_order", exc)
            await self.db.run(self._rejected, it, order.client_oid, exc.code, exc.message)
            return
        except BrokerUnavailable as exc:
            await self._note_call(broker, "create_order", exc)
            await self.db.run(self._failed_order, it, order.client_oid, _describe(exc))
            return
        except (OutcomeUnknown, Exception) as exc:
            # maybe placed: stays `unknown`; the sync looks it up by client_oid first
            await self._note_call(broker, "create_order", exc)
            log.warning("order outcome unknown, will look it up", client_oid=order.client_oid,
                        error=_describe(exc))
            return
        await self._note_call(broker, "create_order", None)
        await self._entry_state(order.client_oid, state, broker)

    def _write_ahead(self, it: _Intent, order: MarketOrder, role: str, mode: str) -> None:
        """The order's row exists, `unknown`, before the request leaves: a crash after
        sending is reconciled by lookup, never by a second send."""
        now = self.clock.now()
        with self.db.unit("trader_place") as uow:
            s = uow.session
            intent = rows.intent(s, it.decision_id)
            assert intent is not None
            intent.outcome, intent.attempts, intent.updated_at = "PLACED", it.attempts + 1, now
            intent.reason = None
            row = rows.order(s, order.client_oid)
            if row is None:
                rows.insert_order(
                    s, client_order_id=order.client_oid, decision_id=it.decision_id,
                    symbol=it.symbol, side=order.side, order_type="MARKET",
                    notional=order.notional, quantity=order.quantity, price=it.price,
                    status="NEW", dry_run=mode == "paper", role=role, unknown=True,
                    created_at=now, updated_at=now)
            else:
                row.unknown, row.updated_at = True, now

    async def _entry_state(self, oid: str, state: OrderState, broker: Broker) -> None:
        tick = 0.0
        if state.status == "FILLED":
            with contextlib.suppress(Exception):
                tick = (await broker.instrument(state.symbol)).quantity_tick
        protect = await self.db.run(self._apply_entry, oid, state, "outside", tick)
        if protect is not None:
            await self.protect(protect)

    def _apply_entry(self, oid: str, state: OrderState, by: str = "outside",
                     quantity_tick: float = 0.0) -> str | None:
        """Record what the broker says of an entry / exit; the entry oid to protect when
        a BUY just filled."""
        now = self.clock.now()
        with self.db.unit("trader_order") as uow:
            s = uow.session
            row = rows.order(s, oid)
            if row is None:
                return None
            intent = rows.intent(s, row.decision_id or "")
            was_unknown, was = row.unknown, row.status
            rows.apply_state(row, state, now)
            mode = "paper" if row.dry_run else "live"
            if was_unknown and state.status in ("NEW", "ACTIVE", "FILLED"):
                self._event(uow, OrderPlaced(side=row.side, client_oid=oid, mode=mode,
                                             exchange_order_id=state.exchange_order_id,
                                             order_type=row.order_type, role=row.role),
                            row.symbol, row.decision_id, f"{row.side} {row.symbol} placed")
                if state.status != "FILLED":
                    self._notify(uow, f"{row.symbol}:placed:{oid}", row.decision_id,
                                 f"📨 {row.side} {row.symbol} placed ({mode}) · {oid}")
            if state.status == "FILLED" and (was != "FILLED" or was_unknown):
                return self._filled(uow, row, intent, state, mode, now, quantity_tick)
            if state.status in ("CANCELLED", "EXPIRED") and was not in ("CANCELLED", "EXPIRED"):
                self._set_outcome(intent, "CANCELLED", now, reason=f"cancelled ({by})")
                self._event(uow, OrderCancelled(side=row.side, client_oid=oid, role=row.role,
                                                by=by), row.symbol, row.decision_id,
                            f"{row.side} {row.symbol} cancelled ({by})")
            if state.status == "REJECTED" and was != "REJECTED":
                reason = state.reason or "rejected"
                self._set_outcome(intent, "REJECTED", now, message=reason)
                self._event(uow, OrderRejectedEvent(side=row.side, client_oid=oid, role=row.role,
                                                    exchange_message=reason),
                            row.symbol, row.decision_id, reason)
                # a rejection the exchange reported later (not on the create call): told
                # once per symbol and cause, like the create call's, cleared by a fill
                self._notify(uow, f"{row.symbol}:rejected:{reason}", row.decision_id,
                             f"⛔ {row.side} {row.symbol} rejected ({mode}): {reason}")
            return None

    def _filled(self, uow: UnitOfWork, row: OrderRow, intent: OrderIntentRow | None,
                state: OrderState, mode: str, now: datetime,
                quantity_tick: float) -> str | None:
        s = uow.session
        qty, price = state.filled_quantity, state.avg_price or 0.0
        self._set_outcome(intent, "FILLED", now)
        rows.clear_notices(s, f"{row.symbol}:rejected")
        if row.role == "entry":
            fill = entry_fill(row.symbol, qty, price, state.fee, state.fee_currency,
                              quantity_tick)
            rows.insert_position(
                s, symbol=row.symbol, base=base_of(row.symbol), mode=mode,
                decision_id=row.decision_id or "", entry_client_oid=row.client_order_id,
                quantity=fill.quantity, entry_price=price, avg_entry=fill.avg_entry,
                cost=fill.cost, status="open", opened_at=now, preset=intent.preset if intent
                else "swing-conservative", atr=intent.atr if intent else None,
                protection_status="pending")
            self._event(uow, OrderFilled(side="BUY", client_oid=row.client_order_id, mode=mode,
                                         role="entry", quantity=qty, avg_price=price,
                                         fee=state.fee, fee_currency=state.fee_currency),
                        row.symbol, row.decision_id, f"BUY {row.symbol} filled")
            self._notify(uow, f"{row.client_order_id}:filled", row.decision_id,
                         f"✅ BUY {row.symbol} filled ({mode}): {_q(qty)} @ "
                         f"{format_price(price)}, fee {_q(state.fee)} {state.fee_currency or ''}"
                         .rstrip())
            return row.client_order_id
        # an exit: it closes every open position of the symbol (in this mode)
        held = [p for p in rows.open_positions(s, symbol=row.symbol) if p.mode == mode]
        proceeds = exit_proceeds(row.symbol, qty, price, state.fee, state.fee_currency)
        pnl = 0.0
        for p, p_pnl in zip(held, exit_pnls([(p.cost, p.quantity) for p in held], qty,
                                            proceeds), strict=True):
            pnl += p_pnl
            _close(p, "sell", price, p_pnl, now)
            rows.clear_notices(s, f"{p.symbol}:protection")
        self._event(uow, OrderFilled(side="SELL", client_oid=row.client_order_id, mode=mode,
                                     role=row.role, quantity=qty, avg_price=price, fee=state.fee,
                                     fee_currency=state.fee_currency,
                                     realised_pnl=round(pnl, 8)),
                    row.symbol, row.decision_id, f"SELL {row.symbol} filled, P&L {pnl:+.2f}")
        self._notify(uow, f"{row.client_order_id}:filled", row.decision_id,
                     f"✅ SELL {row.symbol} filled ({mode}): {_q(qty)} @ {format_price(price)}, "
                     f"P&L {pnl:+.2f}")
        return None

    def _rejected(self, it: _Intent, oid: str, code: int, message: str) -> None:
        now = self.clock.now()
        with self.db.unit("trader_order") as uow:
            s = uow.session
            row = rows.order(s, oid)
            if row is not None:
                row.status, row.unknown, row.updated_at = "REJECTED", False, now
                row.error_code, row.error_message = str(code), message
            self._set_outcome(rows.intent(s, it.decision_id), "REJECTED", now, code=code,
                              message=message)
            if it.side == "SELL":
                _reprotect(s, it.symbol)
            self._event(uow, OrderRejectedEvent(side=it.side, client_oid=oid, role="entry"
                                                if it.side == "BUY" else "exit", code=code,
                                                exchange_message=message),
                        it.symbol, it.decision_id, f"{code} {message}")
            self._notify(uow, f"{it.symbol}:rejected:{code}", it.decision_id,
                         f"⛔ {it.side} {it.symbol} rejected ({it.mode}): {code} {message}")

    def _failed_order(self, it: _Intent, oid: str, error: str) -> None:
        now = self.clock.now()
        with self.db.unit("trader_order") as uow:
            s = uow.session
            row = rows.order(s, oid)
            if row is not None:
                row.status, row.unknown, row.updated_at = "REJECTED", False, now
                row.error_message = error
            if it.side == "SELL":
                _reprotect(s, it.symbol)
            self._fail(uow, it, error, now)

    def _fail_pending(self, it: _Intent, error: str) -> None:
        with self.db.unit("trader_order") as uow:
            intent = rows.intent(uow.session, it.decision_id)
            if intent is not None and intent.outcome in ("PENDING", "PLACED"):
                if it.side == "SELL":
                    _reprotect(uow.session, it.symbol)
                self._fail(uow, it, error, self.clock.now())

    def _fail(self, uow: UnitOfWork, it: _Intent, error: str, now: datetime) -> None:
        self._set_outcome(rows.intent(uow.session, it.decision_id), "FAILED", now,
                          message=error)
        self._event(uow, OrderFailed(side=it.side, client_oid=it.client_oid,
                                     role="entry" if it.side == "BUY" else "exit", error=error),
                    it.symbol, it.decision_id, error)
        # once per symbol while it keeps failing (whatever the error text): cleared by a fill
        self._notify(uow, f"{it.symbol}:rejected:failed", it.decision_id,
                     f"❗ {it.side} {it.symbol} order failed ({it.mode}): {error}")

    def _block(self, it: _Intent, reason: str, gate: str) -> None:
        now = self.clock.now()
        with self.db.unit("trader_block") as uow:
            self._set_outcome(rows.intent(uow.session, it.decision_id), "BLOCKED", now,
                              reason=reason)
            self._event(uow, OrderBlocked(side=it.side, client_oid=it.client_oid, gate=gate,
                                          reason=reason), it.symbol, it.decision_id, reason)

    @staticmethod
    def _set_outcome(intent: OrderIntentRow | None, outcome: str, now: datetime, *,
                     reason: str | None = None, code: int | None = None,
                     message: str | None = None) -> None:
        if intent is None:
            return
        intent.outcome, intent.updated_at = outcome, now
        if reason is not None:
            intent.reason = reason
        if code is not None:
            intent.error_code = code
        if message is not None:
            intent.error_message = message


def _reprotect(session: Any, symbol: str) -> None:
    """An exit refused after its SL/TP pair was cancelled for it: protect again."""
    for p in rows.open_positions(session, symbol=symbol):
        if p.protection_status == "cancelled" and p.protection_error is None:
            p.protection_status, p.protection_next_at = "pending", None
