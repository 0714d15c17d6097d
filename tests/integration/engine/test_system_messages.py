"""System messages (the watchdog's) share the alerts' durable outbox but never count or
log as alerts: their own events and their own `[WATCHDOG]` marker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from atp.store.models import EventRow
from tests.integration.engine.conftest import CHAT


async def test_a_watchdog_message_is_delivered_as_a_system_message(
        make_platform, tg, monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_platform()
    assert await p.core.notify_system("watchdog", "❌ ATP watchdog [atp]: CRITICAL")
    import atp.engine.outbox as outbox_module

    markers: list[str] = []
    real = outbox_module.log_marker

    def spy(logger: object, name: str, *args: object, **fields: object) -> None:
        markers.append(name)
        real(logger, name, *args, **fields)

    monkeypatch.setattr(outbox_module, "log_marker", spy)
    assert await p.outbox.run_once() == 1
    delivered = await tg.wait_for_message(CHAT, "ATP watchdog", timeout=10)
    assert delivered.text.startswith("❌ ATP watchdog")
    assert markers == ["WATCHDOG"]  # its own marker, never ALERT_EMIT_FINAL
    with p.db.sessions() as s:
        kinds = [e.type for e in s.scalars(select(EventRow))]
    assert "system_message_queued" in kinds and "system_message_sent" in kinds
    assert not [k for k in kinds if k.startswith("alert_")]
    status = p.status()
    assert status.outbox.sent == 0 and status.outbox.system_sent == 1
