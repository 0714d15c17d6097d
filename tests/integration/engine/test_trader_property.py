"""Property of the whole trader (intents → gates → paper fills → SL/TP → sync) on a real
database: for any sequence of decisions and prices, open BUY positions per base never
exceed 3 and no two orders share a client_oid."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from atp.domain.alerts import AlertFlags
from atp.domain.orders import MAX_OPEN_BUYS
from atp.domain.presets import DEFAULT_PRESETS
from atp.engine.clock import ManualClock
from atp.engine.intents import record_intent
from atp.engine.paper import PaperBroker
from atp.engine.trader import Trader
from atp.store.database import Database
from atp.store.models import OrderRow, PositionRow
from atp.store.repository import WatchItem

SYMBOLS = ("ETH_USDT", "ETH_USD", "BTC_USDT")
steps = st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), st.sampled_from(SYMBOLS),
                           st.floats(min_value=50.0, max_value=150.0),
                           st.sampled_from([10.0, 60.0, 301.0])),
                 min_size=1, max_size=25)


def _item(symbol: str) -> WatchItem:
    return WatchItem(symbol=symbol, preset=DEFAULT_PRESETS["scalp-aggressive"],
                     flags=AlertFlags(), buy_target=None, trade_enabled=True,
                     trade_amount_usd=100.0)


async def _run(url: str, sequence: list[tuple[str, str, float, float]]) -> None:
    db = Database(url)
    clock = ManualClock()
    paper = PaperBroker(db, clock, 1_000_000.0)
    trader = Trader(db, clock, "prop", paper)

    def intent(side: str, symbol: str, price: float) -> None:
        with db.unit("test") as uow:
            record_intent(uow, decision_id=str(uuid.uuid4()), symbol=symbol, side=side,
                          price=price, atr=None, item=_item(symbol), now=clock.now(),
                          instance="prop")

    try:
        for side, symbol, price, dt in sequence:
            paper.observe({symbol: price})
            await db.run(intent, side, symbol, price)
            await trader.run_once()
            await trader.sync_once()
            clock.advance(dt)
            with db.sessions() as s:
                per_base = s.execute(select(PositionRow.base, func.count())
                                     .where(PositionRow.status == "open")
                                     .group_by(PositionRow.base)).all()
                assert all(n <= MAX_OPEN_BUYS for _, n in per_base), per_base
        with db.sessions() as s:
            oids = list(s.scalars(select(OrderRow.client_order_id)))
        assert len(oids) == len(set(oids))
    finally:
        db.close()


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_any_sequence_keeps_three_open_buys_per_base_and_unique_oids(
        migrated_db: Any, sequence: list[tuple[str, str, float, float]]) -> None:
    migrated_db.reset()
    asyncio.run(_run(migrated_db.url, sequence))
