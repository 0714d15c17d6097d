"""The probe through the real path on a real platform (engine, outbox worker, Telegram
emulator, SQLite and PostgreSQL): a TEST message in the chat, its message id on the probe,
real alerts' records untouched, and never an order intent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from atp.engine.probe import TEST_MARKER
from atp.store.models import (
    AlertOutcomeRow,
    AuditLogRow,
    DecisionRow,
    OrderIntentRow,
    ProbeRow,
    ThrottleStateRow,
    WatchlistRow,
)
from tests.integration.api.conftest import AUTH, Api, field_named
from tests.integration.engine.conftest import CHAT


def _snapshot(api: Api) -> dict[str, Any]:
    """What real alerts are made of: decisions, outcomes, throttle state, intents."""
    with api.platform.db.sessions() as s:
        return {
            "decisions": s.scalar(select(func.count(DecisionRow.id))),
            "outcomes": sorted((o.decision_id, o.outcome) for o in s.scalars(
                select(AlertOutcomeRow))),
            "throttle": sorted((t.symbol, t.side, t.alerted_at.isoformat(), t.price)
                               for t in s.scalars(select(ThrottleStateRow))),
            "intents": s.scalar(select(func.count(OrderIntentRow.id))),
        }


async def _drain(api: Api) -> None:
    for _ in range(5):
        await api.platform.outbox.run_once()
        api.clock.advance(1.0)


async def test_probe_reaches_the_chat_with_its_message_id(api: Api) -> None:
    with api.platform.db.sessions.begin() as s:  # a trading symbol: still no order
        s.execute(WatchlistRow.__table__.update().where(WatchlistRow.symbol == "AAA_USDT")
                  .values(trade_enabled=True, trade_amount_usd=100.0))
    before = _snapshot(api)
    sent_before = len(api.tg.received(CHAT))
    created = await api.client.post("/api/probe", json={"symbol": "AAA_USDT"}, headers=AUTH)
    assert created.status_code == 201, created.text
    probe = created.json()
    assert probe["stage"] == "queued" and probe["symbol"] == "AAA_USDT"
    assert probe["author"] == "api" and probe["text"].startswith(TEST_MARKER)
    await _drain(api)
    body = (await api.client.get(f"/api/probe/{probe['id']}")).json()
    assert body["stage"] == "sent", body
    assert isinstance(body["message_id"], int) and body["latency_ms"] is not None
    messages = api.tg.received(CHAT)[sent_before:]
    [message] = [m for m in messages if m.text.startswith(TEST_MARKER)]
    assert message.message_id == body["message_id"]
    assert probe["id"][:8] in message.text
    await api.platform.trader.step()  # the trader had its chance: it never sees a probe
    assert _snapshot(api) == before
    with api.platform.db.sessions() as s:
        row = s.get(ProbeRow, probe["id"])
        assert row is not None and row.message_id == message.message_id
        audit = s.scalars(select(AuditLogRow).where(AuditLogRow.entity == "probe")).all()
        assert [(a.entity_key, a.author) for a in audit] == [(probe["id"], "api")]
    summary = (await api.client.get("/api/monitoring/summary")).json()
    assert "probe" not in str(summary["alert_outcome_counts"])


async def test_probe_refusals_name_the_field(api: Api) -> None:
    assert (await api.client.post("/api/probe", json={"symbol": "AAA_USDT"})).status_code == 401
    unknown = await api.client.post("/api/probe", json={"symbol": "ZZZ_USDT"}, headers=AUTH)
    assert unknown.status_code == 422 and field_named(unknown.json(), "symbol")
    assert "not on the watchlist" in unknown.text
    bad = await api.client.post("/api/probe", json={"symbol": "eth usdt"}, headers=AUTH)
    assert bad.status_code == 422 and field_named(bad.json(), "symbol")
    missing = await api.client.get("/api/probe/0123abcd")
    assert missing.status_code == 404 and "no probe" in missing.text
    assert (await api.client.get("/api/probe/not-hex!")).status_code == 422


async def test_probe_during_an_outage_stays_queued_with_the_error(api: Api) -> None:
    await api.tg.set_fault("outage")
    probe = (await api.client.post("/api/probe", json={"symbol": "BBB_USDT"},
                                   headers=AUTH)).json()
    await _drain(api)
    body = (await api.client.get(f"/api/probe/{probe['id']}")).json()
    assert body["stage"] == "queued" and body["message_id"] is None
    assert body["attempts"] >= 1 and body["last_error"], body
    api.clock.advance(700)  # past the probe's expiry: it ends FAILED, never sent late
    await api.tg.clear_faults()
    await _drain(api)
    body = (await api.client.get(f"/api/probe/{probe['id']}")).json()
    assert body["stage"] == "failed" and "expired" in body["error"], body
    assert not [m for m in api.tg.received(CHAT) if m.text.startswith(TEST_MARKER)]
