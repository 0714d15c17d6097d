"""`atp demo` delivers an alert to the emulated chat soon after start (issue 5), through
the real adapters, and answers /api/health on its port."""

from __future__ import annotations

import time

import httpx
import pytest

from atp.demo import DEMO_CHAT, Demo
from tests.e2e.test_restart_delivery import wait_for
from tests.outcomes import assert_one_outcome_per_decision


@pytest.mark.slow
async def test_demo_delivers_an_alert_within_two_minutes(tmp_path):
    demo = Demo(port=0, workdir=tmp_path / "demo")
    started = time.monotonic()
    await demo.start()
    try:
        assert demo.telegram is not None and demo.platform is not None
        assert demo.port > 0  # port 0 asked for; the demo reports the one it bound
        await wait_for(lambda: len(demo.telegram.received(DEMO_CHAT)) > 0, 120,
                       "an alert in the emulated chat")
        elapsed = time.monotonic() - started
        assert elapsed < 120
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{demo.port}") as client:
            health = (await client.get("/api/health")).json()
            summary = (await client.get("/api/monitoring/summary")).json()
        assert health["status"] == "ok" and health["signal_monitor_ticks"] > 0
        assert summary["alert_outcome_counts"]["sent"] >= 1
        text = demo.telegram.received(DEMO_CHAT)[0].text
        assert "Origin: demo" in text
        log = (tmp_path / "demo" / "atp.log").read_text()
        assert "[ALERT_EMIT_FINAL]" in log and "[DEBUG_STRATEGY_FINAL]" in log
        assert "demo-api-secret-not-real" not in log and "demo-bot-token-not-real" not in log
        assert_one_outcome_per_decision(demo.platform.db.sessions)
    finally:
        await demo.stop()
