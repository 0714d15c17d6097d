"""A send whose fate is unknown goes once more, marked, after Telegram answers again; never
a third time. Real Telegram emulator (slow / frozen), real sender, migrated database."""

from __future__ import annotations

from sqlalchemy import select

from atp.engine.outbox import REPEAT_MARKER, OutboxWorker
from atp.store import outbox as rows
from atp.store.models import AlertOutcomeRow, EventRow, OutboxRow
from atp.telegram.sender import TelegramSender
from tests.integration.engine.conftest import CHAT, TOKEN


def outcome(platform) -> AlertOutcomeRow:
    with platform.db.sessions() as s:
        [o] = s.scalars(select(AlertOutcomeRow))
        return o


def outbox_row(platform) -> OutboxRow:
    with platform.db.sessions() as s:
        [r] = s.scalars(select(OutboxRow))
        return r


async def quick_sender(platform, tg) -> TelegramSender:
    """Short timeouts: a slow answer is a timeout within a test's patience."""
    await platform.sender.aclose()
    platform.sender = platform.outbox.sender = TelegramSender(
        TOKEN, api_base=tg.base_url, connect_timeout=1, read_timeout=0.3, write_timeout=1)
    await platform.sender.identify()  # getMe done: the next call is the sendMessage itself
    return platform.outbox.sender


async def rounds(platform, clock, n: int, seconds: float = 61.0) -> None:
    for _ in range(n):
        await platform.outbox.run_once()
        clock.advance(seconds)


async def test_timed_out_send_is_repeated_once_with_the_marker(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await quick_sender(p, tg)
    await tg.set_fault("slow", seconds=0.8)  # delivered, answered after the read timeout
    await p.monitor.run_cycle()
    await p.outbox.run_once()
    assert len(tg.received(CHAT)) == 1  # it arrived, the sender does not know
    row = outbox_row(p)
    assert row.status == "pending" and row.possible_repeat and row.sending_since is None
    assert "timed out" in (row.last_error or "")
    await tg.clear_fault("slow")
    clock.advance(61)
    await rounds(p, clock, 3)
    first, second = tg.received(CHAT)
    assert second.text == f"{REPEAT_MARKER}\n{first.text}"
    assert not first.text.startswith(REPEAT_MARKER)
    assert outcome(p).outcome == "SENT" and outcome(p).message_id == second.message_id
    assert p.outbox.stats.repeats == 1
    with p.db.sessions() as s:
        assert rows.count_repeats(s) == 1
        sent = [e for e in s.scalars(select(EventRow).where(EventRow.type == "alert_sent"))]
    assert [e.payload.get("possible_repeat") for e in sent] == [True]


async def test_a_repeat_of_unknown_fate_is_never_sent_a_third_time(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await quick_sender(p, tg)
    await tg.set_fault("slow", seconds=0.8)
    await p.monitor.run_cycle()
    await rounds(p, clock, 6)
    await tg.clear_fault("slow")
    await rounds(p, clock, 3)
    copies = tg.received(CHAT)
    assert len(copies) == 2 and copies[1].text.startswith(REPEAT_MARKER)
    o = outcome(p)
    assert o.outcome == "FAILED" and "not sent a third time" in (o.error or "")


async def test_a_send_in_flight_when_the_process_died_is_a_marked_repeat(
        make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await p.monitor.run_cycle()
    # The dead process: it marked the row `sending`, its message went out, no answer stored.
    [due] = await p.db.run(p.outbox._due, clock.now(), 10)
    await p.db.run(p.outbox._sending, due, clock.now())
    await p.sender.send(CHAT, due.text)
    restarted = OutboxWorker(p.db, p.sender, clock, "test-1")
    await restarted.run_once()
    await restarted.run_once()
    first, second = tg.received(CHAT)
    assert second.text == f"{REPEAT_MARKER}\n{first.text}"
    assert outcome(p).outcome == "SENT" and restarted.stats.repeats == 1
    await restarted.run_once()
    assert len(tg.received(CHAT)) == 2


async def test_a_repeat_in_flight_when_the_process_died_is_not_sent_again(
        make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await p.monitor.run_cycle()
    [due] = await p.db.run(p.outbox._due, clock.now(), 10)
    with p.db.sessions.begin() as s:
        s.get(OutboxRow, due.id).possible_repeat = True
    [due] = await p.db.run(p.outbox._due, clock.now(), 10)
    await p.db.run(p.outbox._sending, due, clock.now())
    restarted = OutboxWorker(p.db, p.sender, clock, "test-1")
    await restarted.run_once()
    assert tg.received(CHAT) == []
    o = outcome(p)
    assert o.outcome == "FAILED" and "process stopped while sending" in (o.error or "")


async def test_refused_connections_are_plain_retries_without_marker(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await tg.set_fault("outage")
    await p.monitor.run_cycle()
    await rounds(p, clock, 3)
    assert not outbox_row(p).possible_repeat
    await tg.clear_fault("outage")
    await rounds(p, clock, 2)
    [msg] = tg.received(CHAT)
    assert not msg.text.startswith(REPEAT_MARKER) and outcome(p).outcome == "SENT"


async def test_frozen_telegram_holds_the_repeat_until_it_answers(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down", "BBB_USDT": "down"})
    await quick_sender(p, tg)
    await tg.set_fault("freeze")
    await p.monitor.run_cycle()
    await rounds(p, clock, 4)  # the first times out; its repeat waits for getMe
    assert tg.received(CHAT) == []
    with p.db.sessions() as s:
        marked = [r.possible_repeat for r in s.scalars(select(OutboxRow).order_by(OutboxRow.id))]
    assert marked == [True, False]  # one unknown fate at a time: the round stops there
    await tg.clear_fault("freeze")  # the held send is carried out now
    await tg.wait_for_message(CHAT, timeout=5)
    await rounds(p, clock, 3)
    texts = [m.text for m in tg.received(CHAT)]
    assert len(texts) == 3
    repeats = [t for t in texts if t.startswith(REPEAT_MARKER)]
    assert [t.removeprefix(REPEAT_MARKER + "\n") for t in repeats] == [texts[0]]
    with p.db.sessions() as s:
        assert {o.outcome for o in s.scalars(select(AlertOutcomeRow))} == {"SENT"}
