"""The trader: accepted alerts → order intents → one order outcome each (business-rules §6).

- `atp.engine.intents.record_intent` runs inside the alert pipeline's transaction: an
  accepted alert on a trade-enabled symbol can never lose its intent.
- `Trader.run_once` ends every PENDING intent with exactly one outcome: BLOCKED (a gate,
  the kill switch, live refused), PLACED → FILLED / CANCELLED, REJECTED (code + message)
  or FAILED. Before an order is sent its row is written with `unknown` set; only the
  broker's answer clears it. A crash in between leaves an order to look up by its
  client_oid — never one to send again blind (never a duplicate).
- `Trader.sync_once` (one replica, under a lease) reads the state of every open ATP order,
  records fills, positions and realised P&L, removes the other leg of a filled SL/TP
  pair, records orders cancelled outside ATP without fighting them, and retries the
  protection of a filled entry until it holds (never naked for long, always told).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from atp.domain.orders import (
    OpenBuy,
    buy_gate,
    floor_quantity,
    protection_backoff_seconds,
    protection_levels,
    protection_oids,
)
from atp.domain.portfolio import (
    base_of,
    entry_fill,
    exit_pnls,
    exit_proceeds,
    realised_pnl,
    unrealised_pct,
    unrealised_pnl,
)
from atp.domain.presets import DEFAULT_PRESETS, Preset
from atp.domain.trading import (
    BrokerError,
    BrokerMode,
    BrokerUnavailable,
    DuplicateOrder,
    MarketOrder,
    OrderRejected,
    OrderSide,
    OrderState,
    OutcomeUnknown,
    ProtectionOrder,
    ProtectionState,
)
from atp.engine.clock import Clock
from atp.engine.intents import KILL_SWITCH, LAST_ORDER_CALL, LIVE_TRADING, NO_CREDENTIALS
from atp.engine.paper import PaperBroker
from atp.engine.ports import Broker
from atp.events import (
    Event,
    OrderBlocked,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderRejectedEvent,
    ProtectionFailed,
    ProtectionFilled,
    ProtectionPlaced,
)
from atp.logging import get_logger
from atp.store import configuration as settings_rows
from atp.store import repository as repo
from atp.store import trading as rows
from atp.store.database import Database
from atp.store.journal import record
from atp.store.models import OrderIntentRow, OrderRow, PositionRow
from atp.store.uow import UnitOfWork
from atp.telegram.format import format_price

log = get_logger("atp.trader")

REPLACE_AFTER_S = 10.0  # an unanswered order the exchange never got is sent again after
PRICE_WAIT_S = 120.0  # a paper intent waits this long for the monitor's first price
MAX_ATTEMPTS = 3
LIVE_PROBE_TTL_S = 60.0
# a refusal is probed again sooner: once the cause is fixed (NTP, a new key) the next BUY
# must not be refused for the rest of a minute on a stale answer
LIVE_REFUSAL_TTL_S = 5.0
INTENT_BATCH = 50


# ── the worker ─────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class _Intent:
    decision_id: str
    client_oid: str
    symbol: str
    side: OrderSide
    mode: BrokerMode
    preset: str
    notional: float | None
    quantity: float | None
    price: float | None
    attempts: int
    created_at: datetime


def _snap(row: OrderIntentRow) -> _Intent:
    return _Intent(row.decision_id, row.client_oid, row.symbol,
                   "BUY" if row.side == "BUY" else "SELL",
                   "live" if row.mode == "live" else "paper", row.preset, row.notional,
                   row.quantity, row.price, row.attempts, row.created_at)


@dataclass(frozen=True, slots=True)
class _Open:
    client_oid: str
    symbol: str
    side: str
    role: str
    dry_run: bool
    unknown: bool
    decision_id: str | None
    list_id: str | None
    parent: str | None
    updated_at: datetime


@dataclass
class TraderStats:
    decided: int = 0
    synced: int = 0
    last_sync_at: datetime | None = None
    last_error: str | None = None


@dataclass
class Trader:
    db: Database
    clock: Clock
    instance: str
    paper: PaperBroker
    live: Broker | None = None
    credentials: bool = False
    chat_id: str | None = None
    lease: Any = None  # DbLease; None = always the one trader (tests, single process)
    sync_seconds: float = 3.0
    wake_outbox: Callable[[], None] | None = None
    holding_lease: bool = False
    stats: TraderStats = field(default_factory=TraderStats)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _probe: tuple[float, str | None] | None = None  # (monotonic, refusal) of the last probe
    _last_sync: float | None = None
    _reconciled: bool = False

    # ── switches and state ─────────────────────────────────────────────────────────────

    def broker(self, mode: str) -> Broker | None:
        return self.paper if mode == "paper" else self.live

    async def live_refusal(self, force: bool = False) -> str | None:
        """Why live orders are refused now (None: allowed): credentials, then a private
        call that succeeded within the last minute."""
        if not self.credentials:
            return NO_CREDENTIALS
        if self.live is None:
            return "live trading refused: no live broker configured"
        now = self.clock.monotonic()
        if not force and self._probe is not None and now - self._probe[0] < (
                LIVE_PROBE_TTL_S if self._probe[1] is None else LIVE_REFUSAL_TTL_S):
            return self._probe[1]
        refusal: str | None = None
        try:
            await self.live.balances()
        except Exception as exc:
            refusal = f"live trading refused: private call failed: {_describe(exc)}"
        self._probe = (now, refusal)
        return refusal

    async def switches(self) -> tuple[bool, bool]:
        def read() -> tuple[bool, bool]:
            with self.db.sessions() as s:
                return (settings_rows.get_setting(s, LIVE_TRADING) is True,
                        settings_rows.get_setting(s, KILL_SWITCH) is True)

        return await self.db.read(read)

    async def state(self) -> dict[str, Any]:
        """The body of GET /api/trading/state."""
        live_switch, kill = await self.switches()
        refusal = await self.live_refusal() if live_switch else None

        def read() -> dict[str, Any]:
            with self.db.sessions() as s:
                last = settings_rows.get_setting(s, LAST_ORDER_CALL)
                positions = rows.open_positions(s)
                return {
                    "last_private_order_call": last if isinstance(last, dict) else None,
                    "open_orders": rows.count_open_orders(s),
                    "open_positions": len(positions),
                    "unprotected_positions": sum(1 for p in positions
                                                 if p.protection_status != "active"),
                }

        counts = await self.db.read(read)
        return {"mode": "live" if live_switch and refusal is None else "paper",
                "live_switch": live_switch, "kill_switch": kill,
                "credentials": self.credentials, "live_refused_reason": refusal, **counts}

    async def mode(self) -> str:
        """The mode orders are placed in now: live only with the switch on and not refused."""
        live_switch, _ = await self.switches()
        refusal = await self.live_refusal() if live_switch else None
        return "live" if live_switch and refusal is None else "paper"

    async def positions(self) -> dict[str, Any]:
        mode = await self.mode()

        def read() -> list[dict[str, Any]]:
            with self.db.sessions() as s:
                return [self._position_view(p) for p in rows.open_positions(s)
                        if p.mode == mode]

        return {"positions": await self.db.read(read), "mode": mode}

    def _position_view(self, p: PositionRow) -> dict[str, Any]:
        mark = self.paper.price(p.symbol)
        error = None
        if p.protection_status != "active" and (p.protection_error or p.protection_attempts):
            error = {"code": p.protection_error_code,
                     "message": p.protection_error or "protection not placed yet",
                     "attempts": p.protection_attempts,
                     "since": p.protection_error_since or p.opened_at}
        return {
            "symbol": p.symbol, "quantity": p.quantity, "avg_entry": p.avg_entry,
            "mark_price": mark, "unrealised_pnl": unrealised_pnl(p.quantity, p.avg_entry, mark),
            "unrealised_pnl_pct": unrealised_pct(p.avg_entry, mark),
            "opened_at": p.opened_at, "entry_client_oid": p.entry_client_oid,
            "decision_id": p.decision_id, "protected": p.protection_status == "active",
            "protection": None if p.protection_list_id is None else {
                "list_id": p.protection_list_id, "stop_loss": p.stop_loss,
                "take_profit": p.take_profit, "status": p.protection_status},
            "protection_error": error,
        }

    # ── the loop ───────────────────────────────────────────────────────────────────────

    async def step(self) -> int:
        """One round as a replica: only the lease holder trades and syncs."""
        if self.paper.record is not None:  # replicas: the other shards' prices
            await self.paper.refresh(await self.db.read(self._paper_symbols))
        if self.lease is not None:
            held = self.holding_lease and await self.lease.renew()
            if not held:  # expired while we slept (or never held): take it if it is free
                held = await self.lease.acquire()
            if held != self.holding_lease:
                log.info("trader lease " + ("acquired" if held else "lost"),
                         instance=self.instance)
                if held:
                    self._reconciled = False
            self.holding_lease = held
            if not held:
                return 0
        done = 0
        if not self._reconciled:
            done += await self.sync_once(startup=True)  # start-up reconciliation
            self._reconciled = True
        done += await self.run_once()
        now = self.clock.monotonic()
        if self._last_sync is None or now - self._last_sync >= self.sync_seconds:
            self._last_sync = now
            done += await self.sync_once()
        return done

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # cleared before the round, not after: a wake-up set while the round runs (a
            # cycle's new intents) starts the next round at once instead of being lost
            self.wake.clear()
            try:
                await self.step()
            except Exception as exc:  # a database outage: record, keep the worker alive
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.error("trader round failed", error=self.stats.last_error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.sync_seconds)

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

    def _paper_symbols(self) -> list[str]:
        """The symbols the paper broker needs a price of: pending intents, open paper
        orders (SL/TP legs walk the path) and open paper positions (their mark)."""
        with self.db.sessions() as s:
            found = {r.symbol for r in rows.intents_with_outcome(s, ["PENDING"], INTENT_BATCH)}
            found |= {r.symbol for r in rows.open_paper_orders(s)}
            found |= {p.symbol for p in rows.open_positions(s) if p.mode == "paper"}
        return sorted(found)

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

    # ── helpers ────────────────────────────────────────────────────────────────────────

    def _event(self, uow: UnitOfWork, event: Event, symbol: str | None,
               decision_id: str | None, message: str) -> None:
        record(uow.session, event, at=self.clock.now(), instance=self.instance, symbol=symbol,
               decision_id=decision_id, message=message[:500])

    def _notify(self, uow: UnitOfWork, cause: str, decision_id: str | None, text: str) -> None:
        """One Telegram notice per cause, through the durable outbox (kind `order`)."""
        if not self.chat_id or not rows.first_notice(uow.session, cause[:128],
                                                     self.clock.now()):
            return
        repo.enqueue(uow.session, kind="order", chat_id=self.chat_id,
                     text=f"{text}\nOrigin: {self.instance}", origin=self.instance,
                     at=self.clock.now(), decision_id=decision_id)
        if self.wake_outbox is not None:
            self.wake_outbox()

    async def _note_call(self, broker: Broker, operation: str,
                         exc: Exception | None) -> None:
        """The last private order call (live only: paper makes none), for /api/trading/state."""
        if broker.mode != "live":
            return
        code = exc.code if isinstance(exc, OrderRejected) else None
        value = {"at": self.clock.now().isoformat(), "operation": operation,
                 "ok": exc is None or isinstance(exc, DuplicateOrder), "code": code,
                 "message": None if exc is None else _describe(exc)[:300]}

        def write() -> None:
            with self.db.unit("trader_call") as uow:
                rows.put_state(uow.session, LAST_ORDER_CALL, value, self.clock.now())

        try:
            await self.db.run(write)
        except Exception as exc:  # the record of a call must not fail the call's handling
            log.warning("last private order call not recorded", error=_describe(exc))


def _reprotect(session: Any, symbol: str) -> None:
    """An exit refused after its SL/TP pair was cancelled for it: protect again."""
    for p in rows.open_positions(session, symbol=symbol):
        if p.protection_status == "cancelled" and p.protection_error is None:
            p.protection_status, p.protection_next_at = "pending", None


def _close(p: PositionRow, by: str, price: float, pnl: float, now: datetime) -> None:
    p.status, p.closed_at, p.closed_by = "closed", now, by
    p.exit_price, p.realised_pnl = price, pnl


def _legs(session: Any, list_id: str | None) -> list[OrderRow]:
    if not list_id:
        return []
    return rows.orders_by_list(session, list_id)


def _preset(session: Any, symbol: str, name: str) -> Preset:
    """The symbol's effective preset (overrides included: per-symbol sl_pct / tp_pct)."""
    for item in repo.load_watchlist(session, enabled_only=False):
        if item.symbol == symbol:
            return item.preset
    presets = repo.load_presets(session)
    return presets.get(name) or DEFAULT_PRESETS["swing-conservative"]


def _cancelled(o: _Open) -> OrderState:
    return OrderState(symbol=o.symbol, side="BUY" if o.side == "BUY" else "SELL",
                      client_oid=o.client_oid, exchange_order_id=None, order_type="MARKET",
                      status="CANCELLED", quantity=None, filled_quantity=0.0, avg_price=None,
                      fee=0.0, fee_currency=None)


async def _lookup(broker: Broker, symbol: str, oid: str) -> OrderState | None:
    try:
        return await broker.lookup(symbol, oid)
    except Exception:
        return None


async def _lookup_pair(broker: Broker, symbol: str, sl_oid: str, tp_oid: str
                       ) -> ProtectionState | None:
    sl = await _lookup(broker, symbol, sl_oid)
    tp = await _lookup(broker, symbol, tp_oid)
    if sl is None or tp is None or sl.status not in rows.OPEN_ORDER_STATUSES:
        return None
    return ProtectionState(sl.list_id or tp.list_id or "", sl, tp)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _q(value: float) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".") or "0"


