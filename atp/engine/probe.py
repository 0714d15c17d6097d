"""The probe: a TEST-marked synthetic alert through the real delivery path.

`atp check --probe`, `POST /api/probe` and Telegram's `/test SYMBOL` call `Core.probe`,
which records a probe (apart from the decisions: no count, check or throttle of real
alerts sees it), queues its message in the durable outbox (kind `probe`) in the same
transaction, and wakes the outbox worker that delivers real alerts. Its text starts with
TEST_MARKER. A probe has no decision, no alert outcome and no order intent: the trader
reads intents of accepted real alerts only, so a probe can never place an order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from atp.events import SystemMessageQueued
from atp.logging import PROBE, get_logger, log_marker
from atp.store import configuration as rows
from atp.store import probes, queries
from atp.store.database import Database
from atp.store.journal import record

log = get_logger("atp.probe")

TEST_MARKER = "🧪 TEST"  # the first word of every probe message: never a real signal
EXPIRY_S = 600.0  # a probe not sent within this ends FAILED unsent (no late TEST flood)
SOURCE = "probe"


class ProbeRefused(ValueError):
    """The probe cannot be made; `field` names the input at fault (None: the setup)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def probe_text(probe_id: str, symbol: str, price: float | None, origin: str,
               at: datetime) -> str:
    shown = "unknown" if price is None else f"{price:.8g}"
    return (f"{TEST_MARKER} — ATP probe {probe_id[:8]}: not a trading signal, no order\n"
            f"{symbol} · last price {shown} · from {origin} · queued "
            f"{at.strftime('%Y-%m-%d %H:%M:%S')}Z\n"
            "Reading this proves the alert path works: record → outbox → Telegram.")


def create(db: Database, *, symbol: str, author: str, origin: str, chat_id: str | None,
           now: datetime) -> dict[str, Any]:
    """Record and queue one probe for `symbol` (a watched one); its view."""
    if not chat_id:
        raise ProbeRefused("TELEGRAM_CHAT_ID is not set: a probe has no chat to go to; set "
                           "it and restart")
    probe_id = str(uuid.uuid4())
    with db.unit("core_probe") as uow:
        session = uow.session
        if rows.watch_row(session, symbol) is None:
            raise ProbeRefused(f"{symbol} is not on the watchlist: probe a watched symbol "
                               "(GET /api/watchlist)", "symbol")
        latest = queries.latest_decisions(session, [symbol]).get(symbol)
        price = None if latest is None else latest.get("price")
        probes.insert(session, probe_id=probe_id, symbol=symbol, author=author, origin=origin,
                      price=price, chat_id=chat_id,
                      text=probe_text(probe_id, symbol, price, origin, now), at=now)
        record(session, SystemMessageQueued(source=SOURCE), at=now, instance=origin,
               symbol=symbol, decision_id=probe_id,
               message=f"probe {probe_id} for {symbol} queued by {author}")
        session.flush()
        view = probes.view(session, probe_id)
    assert view is not None
    log_marker(log, PROBE, probe_id=probe_id, stage="queued", symbol=symbol, author=author)
    return view

