"""The one core every channel calls: Telegram commands (and, later, the API) read here.

Answers come from the journal and the stored decisions (what the engine returned), never
from a second copy of the rules (failure mode 3).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from atp.engine.clock import Clock
from atp.engine.db import Database
from atp.store.models import AuditLogRow, DecisionRow, WatchlistRow
from atp.store.uow import UnitOfWork


def latest_decisions(session: Any) -> list[DecisionRow]:
    """The newest decision per symbol."""
    newest = (
        select(DecisionRow.symbol, func.max(DecisionRow.created_at).label("at"))
        .group_by(DecisionRow.symbol)
        .subquery()
    )
    query = select(DecisionRow).join(
        newest, (DecisionRow.symbol == newest.c.symbol) & (DecisionRow.created_at == newest.c.at)
    ).order_by(DecisionRow.symbol)
    seen: dict[str, DecisionRow] = {}
    for row in session.scalars(query):
        seen.setdefault(row.symbol, row)
    return list(seen.values())


def set_alert_flag(
    session: Any, symbol: str, field: str, on: bool, author: str, now: datetime
) -> bool:
    """Switch one alert flag of a watchlist row, audited; False when the symbol is unknown."""
    row = session.scalars(select(WatchlistRow).where(WatchlistRow.symbol == symbol)).first()
    if row is None:
        return False
    old = getattr(row, field)
    if old != on:
        setattr(row, field, on)
        row.updated_at = now
        session.add(AuditLogRow(at=now, author=author, entity="watchlist", entity_key=symbol,
                                field=field, old_value=old, new_value=on))
    return True


class PlatformCore:
    """Implements the Telegram `CommandCore` over the database and the live platform."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        status_text: Callable[[], str],
        balance: Callable[[], Any] | None = None,
    ) -> None:
        self.db, self.clock = db, clock
        self._status_text = status_text
        self._balance = balance

    async def status(self) -> str:
        return self._status_text()

    async def signals(self) -> str:
        rows = await self.db.read(self._latest)
        if not rows:
            return "No decisions yet."
        lines = ["Latest decisions:"]
        for symbol, decision, index, price in rows:
            lines.append(f"{symbol}: {decision} (buy index {index}, price {price})")
        return "\n".join(lines)

    def _latest(self) -> list[tuple[str, str, int, float | None]]:
        with UnitOfWork(self.db.sessions, "read_signals") as uow:
            return [(r.symbol, r.decision, r.buy_index, r.price)
                    for r in latest_decisions(uow.session)]

    async def watchlist(self) -> str:
        rows = await self.db.read(self._watchlist)
        if not rows:
            return "The watchlist is empty."
        return "Watchlist:\n" + "\n".join(rows)

    def _watchlist(self) -> list[str]:
        with UnitOfWork(self.db.sessions, "read_watchlist") as uow:
            rows = uow.session.scalars(select(WatchlistRow).order_by(WatchlistRow.symbol))
            return [
                f"{r.symbol}: {r.preset}{'' if r.enabled else ' (disabled)'}"
                f"{' trade ' + format(r.trade_amount_usd, 'g') + ' USD' if r.trade_enabled else ''}"
                for r in rows
            ]

    async def alerts(self, symbol: str | None, side: str | None, on: bool | None) -> str:
        if symbol is not None and side is not None and on is not None:
            field = f"{side}_alert_enabled"
            ok = await self.db.run(self._toggle, symbol, field, on)
            if not ok:
                return f"{symbol} is not on the watchlist."
        rows = await self.db.read(self._flags, symbol)
        if not rows:
            return f"{symbol} is not on the watchlist." if symbol else "The watchlist is empty."
        return "\n".join(rows)

    def _toggle(self, symbol: str, field: str, on: bool) -> bool:
        with UnitOfWork(self.db.sessions, "watchlist") as uow:
            return set_alert_flag(uow.session, symbol, field, on, "telegram", self.clock.now())

    def _flags(self, symbol: str | None) -> list[str]:
        def mark(v: bool) -> str:
            return "on" if v else "off"

        with UnitOfWork(self.db.sessions, "read_watchlist") as uow:
            query = select(WatchlistRow).order_by(WatchlistRow.symbol)
            if symbol:
                query = query.where(WatchlistRow.symbol == symbol)
            return [
                f"{r.symbol}: alerts {mark(r.alert_enabled)}, buy {mark(r.buy_alert_enabled)}, "
                f"sell {mark(r.sell_alert_enabled)}"
                for r in uow.session.scalars(query)
            ]

    async def balance(self) -> str:
        if self._balance is None:
            return "No exchange credentials configured."
        balances = await self._balance()
        if not balances:
            return "No balances."
        lines = ["Balances:"]
        for ccy, amounts in sorted(balances.items()):
            total = amounts.get("total", 0.0) if isinstance(amounts, dict) else amounts
            lines.append(f"{ccy}: {total:g}")
        return "\n".join(lines)

    async def portfolio(self) -> str:
        return await self.balance()
