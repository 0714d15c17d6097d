"""A BUY/SELL decision and its outcome are never separated by a crash: they commit together,
and whatever was left without outcome is completed at start (fresh: alerted; old:
ABANDONED with the reason). Real database, real Telegram emulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from atp.store.models import (
    AlertOutcomeRow,
    DecisionRow,
    EventRow,
    OrderIntentRow,
    OutboxRow,
    WatchlistRow,
)
from tests.integration.engine.conftest import CHAT


def all_rows(p, model):
    with p.db.sessions() as s:
        return list(s.scalars(select(model)))


async def orphan_cycle(p) -> None:
    """A cycle whose outcomes are lost, as a crash between the two used to lose them."""
    p.pipeline.faults.drop_outcomes = True
    await p.monitor.run_cycle()
    p.pipeline.faults.drop_outcomes = False


async def test_decisions_and_outcomes_commit_together(make_platform, clock, monkeypatch):
    p = make_platform({"AAA_USDT": "down", "BBB_USDT": "flat"})

    def crash(*args, **kwargs):
        raise RuntimeError("killed between the decisions and their outcomes")

    monkeypatch.setattr(p.pipeline, "process_in", crash)
    with pytest.raises(RuntimeError):
        await p.monitor.run_cycle()
    assert all_rows(p, DecisionRow) == [] and all_rows(p, AlertOutcomeRow) == []


async def test_a_fresh_orphan_goes_through_the_pipeline_at_start(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await orphan_cycle(p)
    [d] = [d for d in all_rows(p, DecisionRow) if d.decision == "BUY"]
    assert all_rows(p, AlertOutcomeRow) == []
    clock.advance(p.monitor.limits.orphan_max_age_seconds - 1)
    restarted = make_platform()  # a new process on the same database
    assert await restarted.monitor.complete_orphans() == {"PENDING": 1}
    await restarted.outbox.run_once()
    [o] = all_rows(p, AlertOutcomeRow)
    assert (o.decision_id, o.outcome) == (d.id, "SENT")
    [msg] = tg.received(CHAT)
    assert d.id in msg.text
    assert await restarted.monitor.complete_orphans() == {}  # once


async def test_an_old_orphan_is_abandoned_with_the_reason(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await orphan_cycle(p)
    limit = p.monitor.limits.orphan_max_age_seconds
    clock.advance(limit + 35)
    restarted = make_platform()
    assert await restarted.monitor.complete_orphans() == {"ABANDONED": 1}
    [o] = all_rows(p, AlertOutcomeRow)
    assert o.outcome == "ABANDONED"
    assert o.reason == (f"the process stopped between the decision and its outcome; found "
                        f"{limit + 35:.0f} s after the decision (limit {limit:.0f} s): too old "
                        "to alert")
    assert all_rows(p, OutboxRow) == [] and tg.received(CHAT) == []
    [event] = [e for e in all_rows(p, EventRow) if e.type == "alert_abandoned"]
    assert event.severity == "warning" and event.decision_id == o.decision_id
    assert (await restarted.core.summary_counts(None))["outcomes"]["abandoned"] == 1


async def test_a_fresh_trade_enabled_orphan_gets_its_order_intent(make_platform, clock,
                                                                 migrated_db):
    p = make_platform({"AAA_USDT": "down"})
    with migrated_db.session_factory.begin() as s:
        s.execute(update(WatchlistRow).values(trade_enabled=True, trade_amount_usd=50.0))
    await orphan_cycle(p)
    restarted = make_platform()
    assert await restarted.monitor.complete_orphans() == {"PENDING": 1}
    [o] = all_rows(p, AlertOutcomeRow)
    [intent] = all_rows(p, OrderIntentRow)
    assert intent.decision_id == o.decision_id and intent.side == "BUY"


async def test_a_trade_enabled_accepted_alert_always_has_its_intent(make_platform, clock,
                                                                   migrated_db):
    """The intent is written in the alert's own transaction: accepted ⇒ intent."""
    p = make_platform({"AAA_USDT": "down", "BBB_USDT": "down"})
    with migrated_db.session_factory.begin() as s:
        s.execute(update(WatchlistRow).values(trade_enabled=True, trade_amount_usd=50.0))
    await p.monitor.run_cycle()
    accepted = {o.decision_id for o in all_rows(p, AlertOutcomeRow) if o.outcome == "PENDING"}
    assert len(accepted) == 2
    assert {i.decision_id for i in all_rows(p, OrderIntentRow)} == accepted
