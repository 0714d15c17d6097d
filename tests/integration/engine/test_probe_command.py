"""Telegram `/test SYMBOL` through the real poller and the Bot API emulator: the same
probe as `POST /api/probe` (audited as the Telegram user), its TEST message delivered by the
outbox worker, never an order; a stranger's `/test` queues nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from atp.engine.lease import DbLease
from atp.engine.probe import TEST_MARKER
from atp.store.models import AuditLogRow, OrderIntentRow, ProbeRow
from atp.telegram.poller import TelegramPoller
from tests.integration.engine.conftest import CHAT, TOKEN


async def test_test_command_sends_a_probe_through_the_outbox(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    poller = TelegramPoller(TOKEN, core=p.commands, lease=DbLease(p.db, "tg", "test-1", clock),
                            allowed_chat_ids=[str(CHAT)], api_base=tg.base_url,
                            poll_timeout=1)
    await poller.start()
    try:
        await tg.post_user_message(CHAT, "/test", token=TOKEN)
        await tg.wait_for_message(CHAT, "Usage: /test SYMBOL", timeout=10)
        await tg.post_user_message(CHAT, "/test zzz_usdt", token=TOKEN)
        await tg.wait_for_message(CHAT, "ZZZ_USDT is not on the watchlist", timeout=10)
        await tg.post_user_message(CHAT, "/test aaa_usdt", token=TOKEN)
        reply = await tg.wait_for_message(CHAT, "Probe ", timeout=10)
        assert "AAA_USDT" in reply.text and "never an order" in reply.text
        stranger = 999
        await tg.post_user_message(stranger, "/test AAA_USDT", token=TOKEN)
        await tg.wait_for_message(stranger, "not authorised", timeout=10)
    finally:
        await poller.stop()
    await p.outbox.run_once()
    [message] = [m for m in tg.received(CHAT) if m.text.startswith(TEST_MARKER)]
    with p.db.sessions() as s:
        [probe] = s.scalars(select(ProbeRow)).all()  # the stranger's made none
        audit = s.scalars(select(AuditLogRow).where(AuditLogRow.entity == "probe")).one()
        intents = s.scalar(select(func.count(OrderIntentRow.id)))
    assert probe.id in reply.text and probe.message_id == message.message_id
    by = f"telegram:{CHAT}"  # the user who asked (Telegram gave no username)
    assert (probe.author, audit.author, audit.entity_key) == (by, by, probe.id)
    assert intents == 0


async def test_a_probe_on_a_non_production_instance_is_logged_not_sent(make_platform, tg):
    """The origin gatekeeper holds for probes too: only production talks to the chat."""
    p = make_platform({"AAA_USDT": "down"}, production=False, instance_name="staging")
    probe = await p.core.probe("AAA_USDT", "api")
    await p.outbox.run_once()
    body = await p.core.probe_status(probe["id"])
    assert body["stage"] == "sent" and body["message_id"] is None
    assert "not the production instance" in (body["error"] or "")
    assert not [m for m in tg.received(CHAT) if m.text.startswith(TEST_MARKER)]
