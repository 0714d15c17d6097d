"""The live chain from decision to Telegram, over real HTTP to the Bot API emulator,
on SQLite and PostgreSQL, with time from an injected clock."""

from __future__ import annotations

from sqlalchemy import select, update

from atp.store.models import AlertOutcomeRow, DecisionRow, EventRow, OutboxRow, WatchlistRow
from tests.integration.engine.conftest import CHAT


def outcomes(platform, symbol=None):
    with platform.db.sessions() as s:
        q = select(AlertOutcomeRow).order_by(AlertOutcomeRow.id)
        if symbol:
            q = q.where(AlertOutcomeRow.symbol == symbol)
        return list(s.scalars(q))


async def cycle(platform, clock, seconds=30.0):
    stats = await platform.monitor.run_cycle()
    await platform.outbox.run_once()
    clock.advance(seconds)
    return stats


async def test_buy_reaches_the_chat_with_outcome_sent(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down", "BBB_USDT": "flat"})
    stats = await cycle(p, clock)
    assert stats.decisions == {"BUY": 1, "WAIT": 1}
    [o] = outcomes(p)
    assert (o.symbol, o.side, o.outcome) == ("AAA_USDT", "BUY", "SENT")
    [msg] = tg.received(CHAT)
    assert o.message_id == msg.message_id
    assert "BUY AAA_USDT" in msg.text and "Origin: test-1" in msg.text
    assert o.decision_id in msg.text


async def test_repeat_within_cooldown_is_throttled_with_exact_reason(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await cycle(p, clock)
    await cycle(p, clock)
    first, second = outcomes(p)
    assert first.outcome == "SENT"
    assert second.outcome == "THROTTLED"
    assert second.reason == "cooldown 0.5/5.0 min; price change 0.00/1.00 %"
    assert len(tg.received(CHAT)) == 1


async def test_opposite_side_is_never_throttled(make_platform, clock, market, tg):
    p = make_platform({"AAA_USDT": "down"})
    await cycle(p, clock)
    market.set("AAA_USDT", "up")
    await cycle(p, clock)
    market.set("AAA_USDT", "down")
    await cycle(p, clock)
    assert [(o.side, o.outcome) for o in outcomes(p)] == [
        ("BUY", "SENT"), ("SELL", "SENT"), ("BUY", "SENT")
    ]
    assert len(tg.received(CHAT)) == 3


async def test_after_cooldown_and_move_the_alert_goes_again(make_platform, clock, market):
    p = make_platform({"AAA_USDT": "down"})
    await cycle(p, clock, seconds=301)
    market.set("AAA_USDT", "down", price=98.0)
    await cycle(p, clock)
    assert [o.outcome for o in outcomes(p)] == ["SENT", "SENT"]


async def test_disabled_flag_gives_one_blocked_outcome_naming_it(
    make_platform, clock, migrated_db,
                                                               tg):
    p = make_platform({"AAA_USDT": "down"})
    with migrated_db.session_factory.begin() as s:
        s.execute(update(WatchlistRow).values(buy_alert_enabled=False))
    for _ in range(4):
        await cycle(p, clock)
    [o] = outcomes(p)
    assert o.outcome == "BLOCKED" and o.reason == "buy_alert_enabled is off"
    # the blocked run is one row (compact storage): the BLOCKED decision and 3 repeats
    with p.db.sessions() as s:
        rows = list(s.scalars(select(DecisionRow).order_by(DecisionRow.created_at)))
    assert [(d.id, d.decision, d.repeats, d.alert_ref) for d in rows] == [
        (o.decision_id, "BUY", 3, None)]
    assert tg.received(CHAT) == []


async def test_a_blocked_run_without_compaction_points_at_its_outcome(
        make_platform, clock, migrated_db, tg):
    """DECISION_HEARTBEAT_MINUTES=0 (a row per decision): the later decisions of a
    blocked run point at the run's BLOCKED outcome (`alert_ref`), none gets its own."""
    p = make_platform({"AAA_USDT": "down"}, decision_heartbeat_minutes=0)
    with migrated_db.session_factory.begin() as s:
        s.execute(update(WatchlistRow).values(buy_alert_enabled=False))
    for _ in range(4):
        await cycle(p, clock)
    [o] = outcomes(p)
    with p.db.sessions() as s:
        refs = [d.alert_ref for d in s.scalars(select(DecisionRow)
                                               .order_by(DecisionRow.created_at))]
    assert refs == [None, o.decision_id, o.decision_id, o.decision_id]


async def test_a_throttled_run_is_one_row_with_one_outcome(make_platform, clock, market, tg):
    """Compact storage of BUY/SELL (issue 14): a BUY throttled again after a THROTTLED
    folds into that row, which keeps its one outcome; the SENT row stays its own, and
    the BUY that the throttle lets through again starts a row with its own outcome."""
    p = make_platform({"AAA_USDT": "down"})
    for _ in range(5):
        await cycle(p, clock)
    with p.db.sessions() as s:
        rows = list(s.scalars(select(DecisionRow).order_by(DecisionRow.created_at)))
        events = list(s.scalars(select(EventRow.type).where(
            EventRow.type == "alert_throttled")))
    assert [(d.decision, d.repeats) for d in rows] == [("BUY", 0), ("BUY", 3)]
    assert [(o.decision_id, o.outcome) for o in outcomes(p)] == [
        (rows[0].id, "SENT"), (rows[1].id, "THROTTLED")]
    assert len(events) == 1 and len(tg.received(CHAT)) == 1
    clock.advance(301)  # past the cooldown, and the price moved: accepted again
    market.set("AAA_USDT", "down", price=98.0)
    await cycle(p, clock)
    assert [o.outcome for o in outcomes(p)] == ["SENT", "THROTTLED", "SENT"]
    assert len(tg.received(CHAT)) == 2


async def test_telegram_outage_delays_but_loses_and_duplicates_nothing(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await tg.set_fault("outage")
    await p.monitor.run_cycle()
    for _ in range(20):  # ten minutes of outage, retried with backoff
        await p.outbox.run_once()
        clock.advance(30)
    [o] = outcomes(p)
    assert o.outcome == "PENDING"
    with p.db.sessions() as s:
        [row] = s.scalars(select(OutboxRow))
    assert row.status == "pending" and row.attempts >= 5 and row.last_error
    await tg.clear_fault("outage")
    clock.advance(60)
    await p.outbox.run_once()
    await p.outbox.run_once()
    [o] = outcomes(p)
    assert o.outcome == "SENT"
    assert len(tg.received(CHAT)) == 1


async def test_permanent_error_ends_as_failed_with_reason(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await tg.set_fault("blocked_chat", chat_id=CHAT)
    await cycle(p, clock)
    [o] = outcomes(p)
    assert o.outcome == "FAILED" and "blocked" in (o.error or "").lower()


def decisions(platform, symbol):
    with platform.db.sessions() as s:
        return list(s.scalars(select(DecisionRow).where(DecisionRow.symbol == symbol)
                              .order_by(DecisionRow.created_at)))


async def test_malformed_symbol_is_a_stored_wait_naming_the_cause(make_platform, clock, market):
    p = make_platform({"AAA_USDT": "down", "BAD_USDT": "down"})
    market.broken.add("BAD_USDT")
    stats = await cycle(p, clock)
    assert (stats.processed, stats.skipped) == (2, 0)
    assert [o.symbol for o in outcomes(p)] == ["AAA_USDT"]
    [bad] = decisions(p, "BAD_USDT")
    assert bad.decision == "WAIT"
    assert bad.flags["buy_rsi_ok"] is None and bad.flags["buy_price_ok"] is None
    assert "no candles: malformed reply: a field is missing or not a number" in bad.reasons
    assert "no price: malformed ticker: no timestamp" in bad.reasons
    assert bad.unknown_inputs["candles"].startswith("no candles: malformed reply")
    assert bad.unknown_inputs["price"] == "no price: malformed ticker: no timestamp"
    [good] = decisions(p, "AAA_USDT")
    assert good.decision == "BUY" and good.unknown_inputs == {}


async def test_stale_price_is_a_wait_with_its_age_and_limit(make_platform, clock, market):
    p = make_platform({"AAA_USDT": "down", "OLD_USDT": "down"})
    market.age["OLD_USDT"] = 74.0
    await cycle(p, clock)
    [old] = decisions(p, "OLD_USDT")
    assert old.decision == "WAIT" and old.price is None
    assert old.flags["buy_price_ok"] is None and old.flags["buy_rsi_ok"] is True
    assert "price stale: 74 s old (limit 60 s)" in old.reasons
    assert old.unknown_inputs == {"price": "price stale: 74 s old (limit 60 s)"}
    assert [o.symbol for o in outcomes(p)] == ["AAA_USDT"]
    market.age["OLD_USDT"] = 59.0  # within 2 monitor intervals: decides again
    await cycle(p, clock)
    assert decisions(p, "OLD_USDT")[-1].decision == "BUY"


async def test_invalid_overrides_are_a_wait_with_every_flag_unknown(make_platform, clock):
    p = make_platform({"AAA_USDT": "down"})
    with p.db.sessions.begin() as s:
        s.execute(update(WatchlistRow).values(overrides={"rsi_buy_below": 500}))
    await cycle(p, clock)
    [d] = decisions(p, "AAA_USDT")
    assert d.decision == "WAIT" and set(d.flags.values()) == {None}
    assert d.reasons[0].startswith("invalid overrides") and "rsi_buy_below" in d.reasons[0]
    assert list(d.unknown_inputs) == ["overrides"]


async def test_only_an_evaluation_bug_skips_a_symbol_and_counts_as_error(
    make_platform, clock, market
):
    p = make_platform({"AAA_USDT": "down", "BUG_USDT": "down"})
    market.buggy.add("BUG_USDT")
    stats = await cycle(p, clock)
    assert (stats.processed, stats.skipped) == (1, 1)
    assert p.monitor.evaluation_errors == 1
    assert decisions(p, "BUG_USDT") == []
    with p.db.sessions() as s:
        [event] = s.scalars(select(EventRow).where(EventRow.type == "symbol_skipped"))
    assert event.severity == "error" and event.symbol == "BUG_USDT"
    assert "evaluation failed: TypeError" in (event.message or "")


async def test_non_production_instance_only_logs(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"}, production=False)
    await cycle(p, clock)
    [o] = outcomes(p)
    assert o.outcome == "SENT" and o.message_id is None and "logged only" in (o.reason or "")
    assert tg.received(CHAT) == []


async def test_decision_flips_are_counted(make_platform, clock, market):
    p = make_platform({"AAA_USDT": "down"})
    await cycle(p, clock)
    market.set("AAA_USDT", "flat")
    await cycle(p, clock)
    market.set("AAA_USDT", "down", price=90)
    await cycle(p, clock)
    assert p.monitor.flips["AAA_USDT"] == 2


async def test_second_pollers_409_never_delays_a_send(make_platform, clock, tg):
    import asyncio

    from atp.engine.lease import DbLease
    from atp.telegram.poller import TelegramPoller
    from tests.integration.engine.conftest import TOKEN

    p = make_platform({"AAA_USDT": "down"})
    lease = DbLease(p.db, "telegram-poller", "test-1", clock)
    poller = TelegramPoller(TOKEN, core=p.commands, lease=lease, allowed_chat_ids=[str(CHAT)],
                            api_base=tg.base_url, poll_timeout=1, retry_interval=0.05,
                            max_retry_interval=0.1)
    await tg.set_fault("conflict")
    await poller.start()
    try:
        for _ in range(200):
            if poller.conflicts.count >= 1:
                break
            await asyncio.sleep(0.05)
        assert poller.conflicts.count >= 1
        await p.monitor.run_cycle()
        assert await p.outbox.run_once() == 1  # delivered on the first attempt
        [o] = outcomes(p)
        assert o.outcome == "SENT"
        with p.db.sessions() as s:
            [row] = s.scalars(select(OutboxRow))
        assert row.attempts == 1
    finally:
        await poller.stop()


async def test_db_lease_one_holder_at_a_time(make_platform, clock):
    from atp.engine.lease import DbLease

    p = make_platform()
    a = DbLease(p.db, "telegram-poller", "a", clock, ttl_seconds=30)
    b = DbLease(p.db, "telegram-poller", "b", clock, ttl_seconds=30)
    assert await a.acquire() and not await b.acquire()
    assert await a.renew()
    clock.advance(31)  # a stopped renewing: its lease expired
    assert await b.acquire() and not await a.renew()
    await b.release()
    assert await a.acquire()


async def test_two_replicas_never_send_the_same_message(make_platform, clock, tg):
    a = make_platform({"AAA_USDT": "down"}, instance_name="replica-a")
    b = make_platform(instance_name="replica-b")  # same database, no symbols of its own
    await a.monitor.run_cycle()
    assert await b.outbox.step() == 1  # b took the sender lease first and delivers
    assert await a.outbox.step() == 0  # a stands by while b holds it
    clock.advance(31)  # b stopped renewing: its lease expired
    assert await a.outbox.step() == 0 and a.outbox.holding_lease
    assert len(tg.received(CHAT)) == 1
    [o] = outcomes(a)
    assert o.outcome == "SENT"
