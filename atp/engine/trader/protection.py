"""Protection: the SL/TP pair of a filled entry, placed (or found after a lost answer)
and retried with backoff while the position is naked, always told."""

from __future__ import annotations

from datetime import timedelta

from atp.domain.orders import (
    floor_quantity,
    protection_backoff_seconds,
    protection_levels,
    protection_oids,
)
from atp.domain.presets import Preset
from atp.domain.trading import (
    BrokerError,
    DuplicateOrder,
    OrderRejected,
    OutcomeUnknown,
    ProtectionOrder,
    ProtectionState,
)
from atp.engine.ports import Broker
from atp.engine.trader.base import _describe, _lookup, _preset, _q
from atp.engine.trader.state import TraderState
from atp.events import ProtectionFailed, ProtectionPlaced
from atp.store import trading as rows
from atp.telegram.format import format_price


class TraderProtection(TraderState):
    """SL/TP of a filled entry, with retry and backoff while it is naked."""

    # ── protection ─────────────────────────────────────────────────────────────────────

    async def protect(self, entry_oid: str) -> bool:
        """Place (or find) the SL/TP pair of a filled entry; False while it is naked."""
        plan = await self.db.run(self._protect_plan, entry_oid)
        if plan is None:
            return True
        symbol, mode, quantity, entry, atr, preset, attempts, unknown = plan
        broker = self.broker(mode)
        if broker is None:
            return False
        if unknown and attempts > 0:  # the last attempt's answer was lost: look first
            sl_oid, tp_oid = protection_oids(entry_oid, attempts)
            found = await _lookup_pair(broker, symbol, sl_oid, tp_oid)
            if found is not None:
                await self.db.run(self._protected, entry_oid, found, attempts)
                return True
        rules = await broker.instrument(symbol)
        levels = protection_levels(entry, atr, preset, rules.price_tick)
        qty = floor_quantity(quantity, rules.quantity_tick)
        attempt = attempts + 1
        sl_oid, tp_oid = protection_oids(entry_oid, attempt)
        order = ProtectionOrder(symbol, qty, levels.stop_loss, levels.take_profit, sl_oid, tp_oid)
        await self.db.run(self._protect_ahead, entry_oid, attempt)
        try:
            state = await broker.place_protection(order)
        except DuplicateOrder:
            await self._note_call(broker, "create_oco", None)
            found = await _lookup_pair(broker, symbol, sl_oid, tp_oid)
            if found is None:
                await self.db.run(self._protect_failed, entry_oid, attempt, 204,
                                  "DUPLICATE_CLORDID and the pair was not found", True)
                return False
            state = found
        except OrderRejected as exc:
            await self._note_call(broker, "create_oco", exc)
            await self.db.run(self._protect_failed, entry_oid, attempt, exc.code, exc.message,
                              False)
            return False
        except Exception as exc:  # timeout / lost answer: maybe placed, look up next time
            await self._note_call(broker, "create_oco", exc)
            await self.db.run(self._protect_failed, entry_oid, attempt, None, _describe(exc),
                              isinstance(exc, OutcomeUnknown) or not isinstance(exc, BrokerError))
            return False
        await self._note_call(broker, "create_oco", None)
        await self.db.run(self._protected, entry_oid, state, attempt)
        return True

    def _protect_plan(self, entry_oid: str) -> tuple[str, str, float, float, float | None,
                                                      Preset, int, bool] | None:
        with self.db.unit("trader_read") as uow:
            s = uow.session
            p = rows.position_by_entry(s, entry_oid)
            if p is None or p.status != "open" or p.protection_status == "active":
                return None
            return (p.symbol, p.mode, p.quantity, p.entry_price, p.atr,
                    _preset(s, p.symbol, p.preset), p.protection_attempts, p.protection_unknown)

    def _protect_ahead(self, entry_oid: str, attempt: int) -> None:
        with self.db.unit("trader_protect") as uow:
            p = rows.position_by_entry(uow.session, entry_oid)
            if p is not None:
                p.protection_attempts, p.protection_unknown = attempt, True

    def _protected(self, entry_oid: str, state: ProtectionState, attempt: int) -> None:
        now = self.clock.now()
        with self.db.unit("trader_protect") as uow:
            s = uow.session
            p = rows.position_by_entry(s, entry_oid)
            if p is None:
                return
            p.protection_status, p.protection_list_id = "active", state.list_id
            p.stop_loss = state.stop_loss.trigger_price
            p.take_profit = state.take_profit.trigger_price
            p.protection_unknown, p.protection_attempts = False, attempt
            p.protection_error = p.protection_error_code = None
            p.protection_error_since = p.protection_next_at = None
            for leg, role in ((state.stop_loss, "stop_loss"), (state.take_profit, "take_profit")):
                if rows.order(s, leg.client_oid) is None:
                    rows.insert_order(
                        s, client_order_id=leg.client_oid, decision_id=p.decision_id,
                        symbol=p.symbol, side="SELL", order_type=leg.order_type,
                        quantity=leg.quantity, trigger_price=leg.trigger_price,
                        status=leg.status, dry_run=p.mode == "paper", role=role,
                        exchange_order_id=leg.exchange_order_id, list_id=state.list_id,
                        parent_client_order_id=entry_oid, created_at=now, updated_at=now)
            self._event(uow, ProtectionPlaced(client_oid=entry_oid, list_id=state.list_id,
                                              quantity=state.stop_loss.quantity or p.quantity,
                                              stop_loss=p.stop_loss or 0.0,
                                              take_profit=p.take_profit or 0.0),
                        p.symbol, p.decision_id,
                        f"SL {p.stop_loss} / TP {p.take_profit} for {p.symbol}")
            rows.clear_notices(s, f"{p.symbol}:protection")
            self._notify(uow, f"{entry_oid}:protected", p.decision_id,
                         f"🛡 SL/TP placed for {p.symbol} ({p.mode}): SL "
                         f"{format_price(p.stop_loss)} / TP {format_price(p.take_profit)}, "
                         f"qty {_q(state.stop_loss.quantity or p.quantity)}")

    def _protect_failed(self, entry_oid: str, attempt: int, code: int | None, message: str,
                        unknown: bool) -> None:
        now = self.clock.now()
        delay = protection_backoff_seconds(attempt)
        with self.db.unit("trader_protect") as uow:
            s = uow.session
            p = rows.position_by_entry(s, entry_oid)
            if p is None:
                return
            p.protection_status, p.protection_unknown = "failed", unknown
            p.protection_error_code, p.protection_error = code, message
            p.protection_error_since = p.protection_error_since or now
            p.protection_next_at = now + timedelta(seconds=delay)
            sl_oid = protection_oids(entry_oid, attempt)[0]
            if code is not None and code != 204 and rows.order(s, sl_oid) is None:
                # the refused pair is on the record with the exchange's code (counted)
                rows.insert_order(
                    s, client_order_id=sl_oid, decision_id=p.decision_id, symbol=p.symbol,
                    side="SELL", order_type="OCO", quantity=p.quantity, status="REJECTED",
                    dry_run=p.mode == "paper", role="stop_loss", error_code=str(code),
                    error_message=message, parent_client_order_id=entry_oid,
                    created_at=now, updated_at=now)
            self._event(uow, ProtectionFailed(client_oid=entry_oid, code=code,
                                              exchange_message=message, attempt=attempt,
                                              retry_in_s=delay),
                        p.symbol, p.decision_id,
                        f"{p.symbol} NOT protected: {code or ''} {message}".replace("  ", " "))
            self._notify(uow, f"{p.symbol}:protection", p.decision_id,
                         f"⚠️ {p.symbol} position NOT protected ({p.mode}): "
                         f"{'' if code is None else f'{code} '}{message}; retrying with backoff")


async def _lookup_pair(broker: Broker, symbol: str, sl_oid: str, tp_oid: str
                       ) -> ProtectionState | None:
    sl = await _lookup(broker, symbol, sl_oid)
    tp = await _lookup(broker, symbol, tp_oid)
    if sl is None or tp is None or sl.status not in rows.OPEN_ORDER_STATUSES:
        return None
    return ProtectionState(sl.list_id or tp.list_id or "", sl, tp)
