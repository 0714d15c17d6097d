"""What every layer of the trader shares: its fields, stats and store snapshots, and the
helpers that record a journal event, a Telegram notice and the last private order call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from atp.domain.presets import DEFAULT_PRESETS, Preset
from atp.domain.trading import (
    BrokerMode,
    DuplicateOrder,
    OrderRejected,
    OrderSide,
    OrderState,
)
from atp.engine.clock import Clock
from atp.engine.intents import LAST_ORDER_CALL
from atp.engine.paper import PaperBroker
from atp.engine.ports import Broker
from atp.events import Event
from atp.logging import get_logger
from atp.store import repository as repo
from atp.store import trading as rows
from atp.store.database import Database
from atp.store.journal import record
from atp.store.models import OrderIntentRow, PositionRow
from atp.store.uow import UnitOfWork

log = get_logger("atp.trader")

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
class TraderBase:
    """The trader's fields (its whole attribute state) and the helpers every layer
    shares; each layer in the package subclasses the one below it."""

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


def _close(p: PositionRow, by: str, price: float, pnl: float, now: datetime) -> None:
    p.status, p.closed_at, p.closed_by = "closed", now, by
    p.exit_price, p.realised_pnl = price, pnl


def _preset(session: Any, symbol: str, name: str) -> Preset:
    """The symbol's effective preset (overrides included: per-symbol sl_pct / tp_pct)."""
    for item in repo.load_watchlist(session, enabled_only=False):
        if item.symbol == symbol:
            return item.preset
    presets = repo.load_presets(session)
    return presets.get(name) or DEFAULT_PRESETS["swing-conservative"]


async def _lookup(broker: Broker, symbol: str, oid: str) -> OrderState | None:
    try:
        return await broker.lookup(symbol, oid)
    except Exception:
        return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _q(value: float) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".") or "0"
