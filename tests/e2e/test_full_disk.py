"""A full disk under SQLite (issue 14, item 8; the old platform's servers filled up before).

On a small tmpfs of the test's own: `atp run` refused at start on a full disk says so in
one line with the fix (exit 2); a disk that fills mid-run costs cycles, not the process:
`/api/health` says `degraded` naming the database's refused writes, and once space is freed
the chain goes on without a restart, every BUY/SELL decision with one outcome and no alert
lost or sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from atp.emulators.telegram.server import TelegramEmulator
from tests.e2e.crash_harness import ATP, Deliveries, Runs, wait_for
from tests.e2e.test_crash_delivery import accepted, env, scripted_exchange, settled, watch
from tests.outcomes import assert_one_outcome_per_decision

pytestmark = pytest.mark.slow
TOKEN, CHAT = "779:crash-delivery-token", 557  # the scripted env() of the crash tests


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs: a disk the test can fill (mounting needs root, as CI has)."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write until the disk is full; the file to delete to free it."""
    filler = disk / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            try:
                f.write(b"\0" * 65536)
                f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                raise
    return filler


def test_full_disk_at_start_is_one_line_with_the_fix(small_disk: Path, tmp_path: Path) -> None:
    fill(small_disk)
    done = subprocess.run(
        [ATP, "run", "--port", "0"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{small_disk / 'atp.db'}",
             "ALERTS_ENABLED": "false", "LOG_FILE": str(tmp_path / "atp.log")})
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "full" in lines[0] and "fix:" in lines[0] and str(small_disk) in lines[0], lines[0]


async def test_disk_filling_mid_run_degrades_then_recovers_losing_nothing(
        small_disk: Path, tmp_path: Path, canary: Any) -> None:
    exchange, symbols = scripted_exchange(4)
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    runs = Runs(f"sqlite:///{small_disk / 'atp.db'}", tmp_path, env(exchange, tg))
    try:
        watch(runs, symbols[:2])
        proc = runs.start()
        api = f"http://127.0.0.1:{int((tmp_path / 'port-0').read_text())}"

        def health() -> dict[str, Any]:
            return httpx.get(f"{api}/api/health", timeout=10).json()

        await wait_for(lambda: settled(runs) and len(accepted(runs)) >= 2, 60,
                       "the first alerts delivered")
        filler = fill(small_disk)
        said: list[str] = []
        for _ in range(20):
            await asyncio.sleep(1)
            h = await asyncio.to_thread(health)
            said.append(f"{h['status']}: {h.get('reason')}")
            if "database refuses writes" in said[-1] and said[-1].startswith("degraded"):
                break
        else:
            raise AssertionError(f"/api/health never named the refused writes: {said[-5:]}")
        assert "full" in said[-1].lower(), said[-1]
        await asyncio.sleep(6)  # cycles fail meanwhile: nothing may be half-recorded
        assert proc.poll() is None, "atp run died on a full disk"
        filler.unlink()
        watch(runs, symbols[2:])  # new alerts after the space came back, same process
        await wait_for(lambda: settled(runs) and len(accepted(runs)) >= len(symbols), 60,
                       "alerts of the symbols added after the disk was freed delivered")
        await wait_for(lambda: health()["status"] == "ok", 30, "health ok again")
        assert proc.poll() is None
    finally:
        runs.stop()
        await tg.stop()
        await exchange.stop()
    assert_one_outcome_per_decision(runs.sessions())
    deliveries = Deliveries.of(tg.received(CHAT), accepted(runs))
    assert deliveries.lost == [] and deliveries.doubled == [], deliveries.figures()
    runs.engine.dispose()
