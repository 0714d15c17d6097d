"""Telegram commands answered by the platform's core, through the real poller and the
Bot API emulator: what a trader types reaches the same records the engine wrote."""

from __future__ import annotations

from sqlalchemy import select

from atp.engine.lease import DbLease
from atp.store.models import AuditLogRow, EventRow, WatchlistRow
from atp.telegram.poller import TelegramPoller
from atp.telegram.sender import TelegramSender
from tests.integration.engine.conftest import CHAT, TOKEN


async def test_status_signals_and_alert_toggle(make_platform, clock, tg):
    p = make_platform({"AAA_USDT": "down"})
    await p.monitor.run_cycle()
    poller = TelegramPoller(TOKEN, core=p.commands, lease=DbLease(p.db, "tg", "test-1", clock),
                            allowed_chat_ids=[str(CHAT)], api_base=tg.base_url,
                            poll_timeout=1)
    await poller.start()
    try:
        await tg.post_user_message(CHAT, "/status", token=TOKEN)
        status = await tg.wait_for_message(CHAT, "Monitor: cycle", timeout=10)
        assert "1 symbols" in status.text
        await tg.post_user_message(CHAT, "/signals", token=TOKEN)
        assert "AAA_USDT: BUY" in (await tg.wait_for_message(CHAT, "AAA_USDT", timeout=10)).text
        await tg.post_user_message(CHAT, "/alerts AAA_USDT buy off", token=TOKEN,
                                   username="operator")
        reply = await tg.wait_for_message(CHAT, "buy off", timeout=10)
        assert "AAA_USDT: alerts on, buy off, sell on" in reply.text
        with p.db.sessions() as s:
            row = s.scalars(select(WatchlistRow)).one()
            audit = s.scalars(select(AuditLogRow)).one()
        assert row.buy_alert_enabled is False
        # audited as the user who asked, as /menu, /add and /remove are
        assert (audit.author, audit.field, audit.new_value) == ("telegram:@operator",
                                                                "buy_alert_enabled", False)
        stranger = 999
        await tg.post_user_message(stranger, "/status", token=TOKEN)
        refusal = await tg.wait_for_message(stranger, "not authorised", timeout=10)
        assert "Monitor" not in refusal.text
    finally:
        await poller.stop()


async def test_token_is_checked_with_getme_at_start(make_platform, tg):
    good = make_platform()
    await good.check_telegram_token()
    assert good.telegram_identity["token_valid"] is True
    assert good.telegram_identity["bot_username"]
    bad = make_platform()
    await bad.sender.aclose()
    bad.sender = TelegramSender("999:not-a-token-the-emulator-knows", api_base=tg.base_url)
    await bad.check_telegram_token()
    assert bad.telegram_identity["token_valid"] is False
    with bad.db.sessions() as s:
        events = [e for e in s.scalars(select(EventRow)) if e.type == "telegram_token_checked"]
    assert any(e.severity == "error" for e in events)


async def test_kill_switch_and_panic_from_telegram_go_through_the_core(make_platform, clock, tg):
    """`/kill on|off` is the core's audited switch (the API's and dashboard's), `/panic`
    the core's cancel; a stranger's `/kill` changes nothing."""
    p = make_platform({"AAA_USDT": "down"})
    poller = TelegramPoller(TOKEN, core=p.commands, lease=DbLease(p.db, "tg", "test-1", clock),
                            allowed_chat_ids=[str(CHAT)], api_base=tg.base_url,
                            poll_timeout=1)
    await poller.start()
    try:
        await tg.post_user_message(CHAT, "/kill on", token=TOKEN, username="operator")
        assert "no new orders" in (await tg.wait_for_message(CHAT, "Kill switch ON",
                                                             timeout=10)).text
        assert await p.core.kill_switch() is True
        assert (await p.core.trading_state())["kill_switch"] is True
        await tg.post_user_message(CHAT, "/kill", token=TOKEN)
        await tg.wait_for_message(CHAT, "Kill switch is ON", timeout=10)
        await tg.post_user_message(CHAT, "/kill maybe", token=TOKEN)
        await tg.wait_for_message(CHAT, "Usage: /kill on", timeout=10)

        stranger = 999
        await tg.post_user_message(stranger, "/kill off", token=TOKEN)
        await tg.wait_for_message(stranger, "not authorised", timeout=10)
        assert await p.core.kill_switch() is True

        await tg.post_user_message(CHAT, "/panic", token=TOKEN)
        reply = await tg.wait_for_message(CHAT, "Panic", timeout=10)
        assert "SL/TP orders" in reply.text
        await tg.post_user_message(CHAT, "/kill off", token=TOKEN)  # no username: the id
        await tg.wait_for_message(CHAT, "Kill switch off", timeout=10)
        assert await p.core.kill_switch() is False
        with p.db.sessions() as s:
            audit = [(a.author, a.entity_key, a.new_value) for a in s.scalars(
                select(AuditLogRow).order_by(AuditLogRow.id))]
            switches = [(e.payload["on"], e.payload["author"]) for e in s.scalars(
                select(EventRow).order_by(EventRow.id)) if e.type == "trading_switch_changed"]
        by_id = f"telegram:{CHAT}"
        assert audit == [("telegram:@operator", "kill_switch", True),
                         (by_id, "kill_switch", False)]
        assert switches == [(True, "telegram:@operator"), (False, by_id)]
    finally:
        await poller.stop()


async def test_portfolio_orders_and_pnl_answer_with_the_cores_figures(make_platform, clock, tg):
    """/portfolio, /orders and /pnl after a paper BUY with its SL/TP pair: the texts are
    the formatters applied to what the API serves (Core.portfolio() and friends)."""
    from sqlalchemy import update

    from atp.engine.commands import EXECUTED_SHOWN, orders_text, pnl_text, portfolio_text
    from atp.telegram.format import format_price, format_signed, format_usd

    p = make_platform({"AAA_USDT": "down"})
    with p.db.sessions.begin() as s:
        s.execute(update(WatchlistRow).values(trade_enabled=True, trade_amount_usd=100.0))
    await p.monitor.run_cycle()
    await p.trader.step()
    poller = TelegramPoller(TOKEN, core=p.commands, lease=DbLease(p.db, "tg", "test-1", clock),
                            allowed_chat_ids=[str(CHAT)], api_base=tg.base_url,
                            poll_timeout=1)
    await poller.start()
    try:
        portfolio = await p.core.portfolio()
        [pos] = portfolio["positions"]
        await tg.post_user_message(CHAT, "/portfolio", token=TOKEN)
        text = (await tg.wait_for_message(CHAT, "Portfolio (", timeout=10)).text
        assert text == portfolio_text(portfolio)
        assert f"total {format_usd(portfolio['total_usd'])} USD" in text
        assert f"SL {format_price(pos['stop_loss'])} / TP {format_price(pos['take_profit'])}" \
            in text and format_signed(pos["unrealised_pnl"]) in text
        await tg.post_user_message(CHAT, "/orders", token=TOKEN)
        text = (await tg.wait_for_message(CHAT, "Open orders", timeout=10)).text
        assert text == orders_text(await p.core.open_orders(),
                                   await p.core.executed_orders(limit=EXECUTED_SHOWN))
        assert "AAA_USDT SELL stop_loss" in text and "AAA_USDT SELL take_profit" in text
        assert "AAA_USDT BUY entry" in text
        await tg.post_user_message(CHAT, "/pnl", token=TOKEN)
        text = (await tg.wait_for_message(CHAT, "P&L (", timeout=10)).text
        assert text == pnl_text(await p.core.pnl())
        assert "Realised total: +0.00 USD (0 closed)" in text
    finally:
        await poller.stop()
