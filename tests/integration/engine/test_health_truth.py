"""`/api/health` tells the truth (issue 14, item 4): `degraded`, with the reason, once the
database cannot be read or alerts wait in the outbox for more than 2 minutes; `ok` again
when they recover. The database is a real PostgreSQL behind a TCP gate that drops it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import make_url

from atp.api.monitoring import health_of
from atp.store import repository as repo
from tests.tcpgate import TcpGate

pytestmark = pytest.mark.parametrize("migrated_db", ["postgresql"], indirect=True)


async def test_database_down_is_degraded_with_the_reason_and_recovers(
        migrated_db, make_platform, clock) -> None:
    url = make_url(migrated_db.url)
    gate = TcpGate(url.host or "127.0.0.1", url.port or 5432)
    port = await gate.open()
    p = make_platform(database_url=url.set(port=port).render_as_string(hide_password=False))
    await p.probe(timeout=5)
    assert p.db_error is None
    await gate.close()  # the database goes away: connections drop, new ones are refused
    await p.probe(timeout=5)
    status = p.status()
    health = health_of(status)
    assert health["status"] == "degraded", health
    assert "database unreachable" in health["reason"] and health["problems"]
    await gate.open()
    await p.probe(timeout=10)
    assert p.db_error is None and not any("database" in x for x in p.status().problems)
    await gate.close()


async def test_alerts_stuck_in_the_outbox_over_two_minutes_are_degraded(
        migrated_db, make_platform, clock) -> None:
    p = make_platform()
    with p.db.unit("test") as uow:
        repo.enqueue(uow.session, kind="alert", chat_id="1", text="x", origin="t",
                     at=clock.now() - timedelta(minutes=3))
    await p.probe()
    problems = p.status().problems
    assert any("stuck in the outbox" in x and "180 s" in x for x in problems), problems
