"""Sync and panic: one read of every open ATP order (one list per broker, look-ups for
the rest), fills, positions and realised P&L, the other leg of a filled SL/TP pair,
orders cancelled outside ATP (recorded, not fought), resends of orders the exchange
never got, the start-up reconciliation, and /panic."""

from __future__ import annotations

import contextlib
from typing import Any

from atp.domain.orders import floor_quantity
from atp.domain.portfolio import exit_proceeds, realised_pnl
from atp.domain.trading import MarketOrder, OrderState
from atp.engine.ports import Broker
from atp.engine.trader.base import _close, _describe, _lookup, _Open, _q, _snap, log
from atp.engine.trader.intents import TraderIntents
from atp.events import OrderCancelled, OrderFilled, ProtectionFilled
from atp.store import trading as rows
from atp.store.models import OrderIntentRow, OrderRow
from atp.telegram.format import format_price

REPLACE_AFTER_S = 10.0  # an unanswered order the exchange never got is sent again after
MAX_ATTEMPTS = 3


class TraderSync(TraderIntents):
    """Sync and panic; on top of intents because a fill it reads records the intent's
    outcome, and an order the exchange never got is placed again."""

    # ── sync ───────────────────────────────────────────────────────────────────────────

    async def sync_once(self, startup: bool = False) -> int:
        """Read the state of every open ATP order; record what changed."""
        await self.paper.settle()
        opened = await self.db.run(self._open)
        now = self.clock.now()
        changed = 0
        listed = await self._listed({"paper" if o.dry_run else "live" for o in opened})
        for o in opened:
            mode = "paper" if o.dry_run else "live"
            broker = self.broker(mode)
            if broker is None:
                continue
            try:
                # one list read per broker answers every order still open; only the ones
                # that left the list (filled, cancelled) or were never seen are looked up
                state = listed.get(mode, {}).get(o.client_oid) or \
                    await broker.lookup(o.symbol, o.client_oid)
            except Exception as exc:
                log.warning("order lookup failed", client_oid=o.client_oid,
                            error=_describe(exc))
                continue
            changed += 1
            if o.role in ("entry", "exit"):
                if state is not None:
                    await self._entry_state(o.client_oid, state, broker)
                elif o.unknown and (startup or (now - o.updated_at).total_seconds()
                                    >= REPLACE_AFTER_S):
                    await self._resend(o, broker)
            elif state is not None:
                await self._leg(o, state, broker)
        for entry_oid in await self.db.run(self._due_protection):
            await self.protect(entry_oid)
        self.stats.synced += 1
        self.stats.last_sync_at = now
        return changed

    async def _listed(self, modes: set[str]) -> dict[str, dict[str, OrderState]]:
        """The open orders of each broker in one read (a failed read: look each up)."""
        out: dict[str, dict[str, OrderState]] = {}
        for mode in modes:
            broker = self.broker(mode)
            if broker is None:
                continue
            try:
                out[mode] = {s.client_oid: s for s in await broker.open_orders()}
            except Exception as exc:
                log.warning("open orders read failed; looking orders up one by one",
                            mode=mode, error=_describe(exc))
        return out

    def _open(self) -> list[_Open]:
        with self.db.unit("trader_read") as uow:
            return [_Open(r.client_order_id, r.symbol, r.side, r.role, r.dry_run, r.unknown,
                          r.decision_id, r.list_id, r.parent_client_order_id, r.updated_at)
                    for r in rows.open_orders(uow.session)]

    def _due_protection(self) -> list[str]:
        with self.db.unit("trader_read") as uow:
            return [p.entry_client_oid
                    for p in rows.positions_to_protect(uow.session, self.clock.now())]

    async def _resend(self, o: _Open, broker: Broker) -> None:
        """The exchange never got the order (looked up: not there): send it again, same
        client_oid (a 204 would mean it did arrive after all)."""
        it = await self.db.run(self._intent_of, o.decision_id or "")
        if it is None or it.outcome != "PLACED":
            return
        snap = _snap(it)
        if snap.attempts >= MAX_ATTEMPTS:
            await self.db.run(self._failed_order, snap, o.client_oid,
                              f"order not found on the exchange after {snap.attempts} attempts")
            return
        order = (MarketOrder(o.symbol, "BUY", o.client_oid, notional=snap.notional)
                 if o.side == "BUY" else
                 MarketOrder(o.symbol, "SELL", o.client_oid,
                             quantity=floor_quantity(snap.quantity or 0.0,
                                                     (await broker.instrument(o.symbol))
                                                     .quantity_tick)))
        await self._place(snap, broker, order, o.role)

    def _intent_of(self, decision_id: str) -> OrderIntentRow | None:
        with self.db.unit("trader_read") as uow:
            row = rows.intent(uow.session, decision_id)
            if row is not None:
                uow.session.expunge(row)
            return row

    async def _leg(self, o: _Open, state: OrderState, broker: Broker) -> None:
        other = await self.db.run(self._apply_leg, o, state)
        if other is not None and o.list_id:
            # one leg filled: make sure the other is gone
            with contextlib.suppress(Exception):
                await broker.cancel_protection(o.symbol, o.list_id)
                await self._note_call(broker, "cancel_protection", None)
            found = await _lookup(broker, o.symbol, other)
            await self.db.run(self._apply_leg_other, other, found)

    def _apply_leg(self, o: _Open, state: OrderState) -> str | None:
        """A protection leg's report; the other leg's oid when this one filled."""
        now = self.clock.now()
        with self.db.unit("trader_leg") as uow:
            s = uow.session
            row = rows.order(s, o.client_oid)
            if row is None:
                return None
            was = row.status
            rows.apply_state(row, state, now)
            p = rows.position_by_entry(s, o.parent or "")
            if state.status == "FILLED" and was != "FILLED":
                qty, price = state.filled_quantity, state.avg_price or 0.0
                pnl = 0.0
                if p is not None and p.status == "open":
                    proceeds = exit_proceeds(p.symbol, qty, price, state.fee, state.fee_currency)
                    pnl = realised_pnl(p.cost, p.quantity, qty, proceeds)
                    _close(p, row.role, price, pnl, now)
                    p.protection_status = "filled"
                    rows.clear_notices(s, f"{p.symbol}:protection")
                mode = "paper" if row.dry_run else "live"
                self._event(uow, ProtectionFilled(client_oid=o.parent or "", leg=row.role,
                                                  quantity=qty, avg_price=price, fee=state.fee,
                                                  realised_pnl=round(pnl, 8)),
                            row.symbol, row.decision_id,
                            f"{row.role} filled for {row.symbol}, P&L {pnl:+.2f}")
                self._event(uow, OrderFilled(side="SELL", client_oid=row.client_order_id,
                                             mode=mode, role=row.role, quantity=qty,
                                             avg_price=price, fee=state.fee,
                                             fee_currency=state.fee_currency,
                                             realised_pnl=round(pnl, 8)),
                            row.symbol, row.decision_id, f"{row.role} filled")
                label = "TP" if row.role == "take_profit" else "SL"
                self._notify(uow, f"{row.client_order_id}:filled", row.decision_id,
                             f"{'🎯' if label == 'TP' else '🛑'} {label} filled for {row.symbol} "
                             f"({mode}): {_q(qty)} @ {format_price(price)}, P&L {pnl:+.2f}")
                siblings = [r for r in rows.open_orders(s, roles=("stop_loss", "take_profit"))
                            if r.list_id == row.list_id and r.client_order_id != o.client_oid]
                return siblings[0].client_order_id if siblings else None
            if state.status in ("CANCELLED", "EXPIRED") and was not in ("CANCELLED", "EXPIRED"):
                sibling_filled = any(
                    r.status == "FILLED" for r in _legs(s, row.list_id) if r is not row)
                by = "oco" if sibling_filled else "outside"
                self._event(uow, OrderCancelled(side="SELL", client_oid=row.client_order_id,
                                                role=row.role, by=by),
                            row.symbol, row.decision_id, f"{row.role} cancelled ({by})")
                if by == "outside" and p is not None and p.status == "open":
                    # recorded, not fought: the position shows unprotected until closed
                    p.protection_status = "cancelled"
                    p.protection_error = "SL/TP cancelled outside ATP"
                    p.protection_error_since = p.protection_error_since or now
            return None

    def _apply_leg_other(self, oid: str, found: OrderState | None) -> None:
        now = self.clock.now()
        with self.db.unit("trader_leg") as uow:
            row = rows.order(uow.session, oid)
            if row is None or row.status not in rows.OPEN_ORDER_STATUSES:
                return
            if found is not None:
                rows.apply_state(row, found, now)
            if row.status in rows.OPEN_ORDER_STATUSES:
                row.status = "CANCELLED"
            row.updated_at = now
            self._event(uow, OrderCancelled(side="SELL", client_oid=oid, role=row.role, by="oco"),
                        row.symbol, row.decision_id, f"{row.role} cancelled (oco)")

    # ── panic ──────────────────────────────────────────────────────────────────────────

    async def panic(self, author: str) -> list[str]:
        """Cancel every open ATP entry order; SL/TP legs stay (they protect what is held)."""
        opened = [o for o in await self.db.run(self._open) if o.role == "entry"]
        cancelled: list[str] = []
        for o in opened:
            broker = self.broker("paper" if o.dry_run else "live")
            if broker is None:
                continue
            try:
                state = await broker.cancel(o.symbol, o.client_oid)
                await self._note_call(broker, "cancel_order", None)
            except Exception as exc:
                await self._note_call(broker, "cancel_order", exc)
                log.warning("panic: cancel failed", client_oid=o.client_oid,
                            error=_describe(exc))
                continue
            if state is None:
                state = await _lookup(broker, o.symbol, o.client_oid)
            if state is not None and state.status == "FILLED":
                await self._entry_state(o.client_oid, state, broker)
                continue
            if state is None or state.status in rows.OPEN_ORDER_STATUSES:
                state = _cancelled(o)
            await self.db.run(self._apply_entry, o.client_oid, state, "panic")
            cancelled.append(o.client_oid)
        log.warning("panic: open entry orders cancelled", author=author, count=len(cancelled))
        return cancelled


def _legs(session: Any, list_id: str | None) -> list[OrderRow]:
    if not list_id:
        return []
    return rows.orders_by_list(session, list_id)


def _cancelled(o: _Open) -> OrderState:
    return OrderState(symbol=o.symbol, side="BUY" if o.side == "BUY" else "SELL",
                      client_oid=o.client_oid, exchange_order_id=None, order_type="MARKET",
                      status="CANCELLED", quantity=None, filled_quantity=0.0, avg_price=None,
                      fee=0.0, fee_currency=None)
