"""Order intents: what an accepted alert on a trade-enabled symbol asks the trader for.

`record_intent` runs inside the alert pipeline's own transaction (in its own savepoint),
so no accepted alert can lose its intent and trading never blocks or undoes the alert.
The trader (`atp.engine.trader`) then gives each intent its one outcome.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from atp.domain.orders import client_order_id
from atp.domain.trading import BrokerMode
from atp.events import OrderBlocked, OrderIntent
from atp.store import configuration as settings_rows
from atp.store import trading as rows
from atp.store.journal import record
from atp.store.repository import WatchItem
from atp.store.uow import UnitOfWork

LIVE_TRADING = "live_trading"
KILL_SWITCH = "kill_switch"
LAST_ORDER_CALL = "last_private_order_call"
NO_CREDENTIALS = "live trading refused: no exchange credentials"

def lease_name(api_key: str | None) -> str:
    """One trader per exchange account: the key's digest names it (never the key)."""
    if not api_key:
        return "trader-cryptocom-paper"
    return "trader-cryptocom-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


# ── in the alert's transaction ─────────────────────────────────────────────────────────


def record_intent(uow: UnitOfWork, *, decision_id: str, symbol: str, side: str,
                  price: float | None, atr: float | None, item: WatchItem, now: datetime,
                  instance: str) -> str | None:
    """The intent of an accepted alert on a trade-enabled symbol (None: not traded).

    A SELL sells what the symbol holds; with nothing held the intent is recorded BLOCKED
    at once, so every trade-enabled accepted alert still has its one order outcome."""
    if not item.trade_enabled or item.trade_amount_usd <= 0:
        return None
    session = uow.session
    mode: BrokerMode = (
        "live" if settings_rows.get_setting(session, LIVE_TRADING) is True else "paper")
    oid = client_order_id(decision_id)
    notional = quantity = None
    outcome, reason = "PENDING", None
    if side == "BUY":
        notional = item.trade_amount_usd
    else:
        held = [p for p in rows.open_positions(session, symbol=symbol) if p.mode == mode]
        quantity = sum(p.quantity for p in held)
        if quantity <= 0:
            outcome, reason = "BLOCKED", f"no {mode} position in {symbol} to sell"
    rows.insert_intent(session, decision_id=decision_id, client_oid=oid, symbol=symbol,
                       side=side, mode=mode, preset=item.preset.name, notional=notional,
                       quantity=quantity or None, price=price, atr=atr, outcome=outcome,
                       reason=reason, created_at=now, updated_at=now)
    record(session, OrderIntent(side=side, client_oid=oid, mode=mode, notional=notional,
                                quantity=quantity or None),
           at=now, instance=instance, symbol=symbol, decision_id=decision_id,
           message=f"{side} {symbol} intent ({mode})")
    if reason is not None:
        record(session, OrderBlocked(side=side, client_oid=oid, gate="position", reason=reason),
               at=now, instance=instance, symbol=symbol, decision_id=decision_id,
               message=reason)
    return oid
