"""`atp check --probe` against a running demo (the real platform on the emulators): the
end_to_end check prints ok with the delivery latency and the emulated chat holds the
TEST message; the probe has its message id and no decision, outcome, throttle row or
order intent. With Telegram down (`--fault telegram-outage`) end_to_end is critical and
names the stage: queued in the outbox, with Telegram's error."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from atp.demo import DEMO_CHAT, Demo
from atp.engine.probe import TEST_MARKER
from atp.store.models import AlertOutcomeRow, OrderIntentRow, ProbeRow, ThrottleStateRow


async def _check(cwd: Path, *args: str) -> tuple[int, str]:
    """`atp check` as an operator runs it: no token passed, no .env in the directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "ATP_API_TOKEN")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "atp.cli.main", "check", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo registers here and `atp check` finds it (and its public token) here."""
    monkeypatch.setenv("ATP_STATE_DIR", str(tmp_path / "state"))


async def test_check_probe_against_the_demo_is_ok_and_the_chat_holds_the_test(
        tmp_path: Path) -> None:
    demo = Demo(port=0, workdir=tmp_path / "demo")
    await demo.start()
    try:
        assert demo.telegram is not None and demo.platform is not None
        url = f"http://127.0.0.1:{demo.port}"
        # the latency counts the queue ahead of the probe: let the start-up burst of alerts
        # drain first (Telegram's per-chat rate limit spaces them), as a quiet system is
        for _ in range(240):
            pending, _oldest = await demo.platform.core.outbox_depth()
            if pending == 0 and demo.telegram.received(DEMO_CHAT):
                break
            await asyncio.sleep(0.5)
        _, out = await _check(tmp_path, "--probe", "--url", url)  # warm-up: others may fail
        section = out.split("(end_to_end)")[1].split("\n[")[0]
        assert "✅" in section and "TEST probe delivered in" in section, out
        assert "\n[12]" in out and "(host_resources)" in out  # twelve with --probe
        seconds = float(section.split("delivered in ")[1].split(" s")[0])
        assert seconds < 5
        tests = [m for m in demo.telegram.received(DEMO_CHAT) if m.text.startswith(TEST_MARKER)]
        assert len(tests) == 1 and f"Telegram message {tests[0].message_id}," in section
        with demo.platform.db.sessions() as s:
            [probe] = s.scalars(select(ProbeRow)).all()
            assert probe.message_id == tests[0].message_id and probe.id[:8] in tests[0].text
            for row in (AlertOutcomeRow, ThrottleStateRow, OrderIntentRow):
                found = s.scalars(select(row).where(row.decision_id == probe.id)).all()
                assert found == [], row.__tablename__
    finally:
        await demo.stop()


async def test_check_probe_names_the_stage_when_telegram_is_down(tmp_path: Path) -> None:
    demo = Demo(port=0, workdir=tmp_path / "demo", faults=["telegram-outage"])
    await demo.start()
    try:
        code, out = await _check(tmp_path, "--probe", "--probe-timeout", "3s", "--url",
                                 f"http://127.0.0.1:{demo.port}", "--check", "end_to_end",
                                 "--format", "json")
        [result] = json.loads(out)["checks"]
        assert code == 2 and result["status"] == "critical", out
        # behind the outage's backlog, or tried and refused: either way the stage and
        # Telegram's trouble are named
        assert result["summary"].startswith("queued in the outbox for 3 s, not sent: ")
        assert "Telegram" in result["summary"], result
        assert result["data"]["stage"] == "queued"
        assert "telegram check" in result["remediation"]
        assert demo.telegram is not None
        assert not [m for m in demo.telegram.received(DEMO_CHAT)
                    if m.text.startswith(TEST_MARKER)]
    finally:
        await demo.stop()
