"""`atp run` killed with SIGKILL between accepting an alert and delivering it delivers
after restart: the outbox is durable. Real process, real emulators, real database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from atp.emulators.cryptocom import CryptoComEmulator
from atp.emulators.telegram.server import TelegramEmulator
from atp.store import migrate
from atp.store.models import AlertOutcomeRow, EventRow, OutboxRow, WatchlistRow
from tests.canary import CANARY_KEY, CANARY_SECRET, scan
from tests.outcomes import assert_one_outcome_per_decision
from tests.processes import read_port_file

ATP = str(Path(sys.executable).with_name("atp"))
TOKEN = "777:restart-test-token"
CHAT = 555
KEY, SECRET = CANARY_KEY, CANARY_SECRET


async def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def outcomes(engine) -> list[AlertOutcomeRow]:
    with engine.connect() as conn:
        return list(conn.execute(select(AlertOutcomeRow)).all())


@pytest.mark.slow
async def test_sigkill_between_acceptance_and_delivery_loses_nothing(db_url, canary, tmp_path):
    import sqlalchemy.orm

    migrate.upgrade(db_url)
    engine = create_engine(db_url)
    with sqlalchemy.orm.Session(engine) as s, s.begin():
        s.add(WatchlistRow(symbol="SOL_USDT", preset="swing-aggressive"))
    exchange = CryptoComEmulator(symbols=["BTC_USDT", "SOL_USDT"], seed=3)
    exchange.add_key(KEY, SECRET)
    # A rise that began 15 hourly candles ago: RSI is above 70 from the first cycle.
    exchange.script("SOL_USDT", "rsi_high", candles=40, pct_per_candle=2.0,
                    start=time.time() - 15 * 3600)
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    await tg.set_fault("outage")
    env = {
        **os.environ,
        "DATABASE_URL": db_url, "EXCHANGE_BASE_URL": exchange.base_url,
        "EXCHANGE_API_KEY": KEY, "EXCHANGE_API_SECRET": SECRET,
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_ID": str(CHAT),
        "TELEGRAM_API_BASE": tg.base_url, "PRODUCTION": "true",
        "MONITOR_INTERVAL_SECONDS": "2",
        "LOG_FILE": str(tmp_path / "atp.log"), "INSTANCE_NAME": "restart-test",
    }
    procs: list[subprocess.Popen[bytes]] = []

    async def start() -> subprocess.Popen[bytes]:
        err = (tmp_path / f"stderr-{len(procs)}.log").open("wb")
        port_file = tmp_path / f"port-{len(procs)}"
        proc = subprocess.Popen([ATP, "run", "--port", "0", "--port-file", str(port_file)],
                                env=env, cwd=tmp_path,
                                stdout=err, stderr=subprocess.STDOUT)  # the console log
        procs.append(proc)
        # up: its API accepts. Waited in a thread: the emulators live in this event loop,
        # and start-up asks Telegram's getMe (a blocked loop would hold it to its timeout)
        await asyncio.to_thread(read_port_file, port_file, proc, 60, Path(err.name))
        return proc

    try:
        first = await start()
        await wait_for(lambda: any(o.outcome == "PENDING" for o in outcomes(engine)), 90,
                       "an accepted (PENDING) alert")
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        assert all(o.outcome in ("PENDING", "THROTTLED") for o in outcomes(engine))
        await tg.clear_fault("outage")
        await start()
        await wait_for(lambda: len(tg.received(CHAT)) >= 1
                       and not any(o.outcome == "PENDING" for o in outcomes(engine)), 90,
                       "delivery after restart")
        sent = [o for o in outcomes(engine) if o.outcome == "SENT"]
        assert len(sent) == len(tg.received(CHAT)) >= 1  # nothing lost, nothing twice
        with engine.connect() as conn:
            assert all(r.status == "sent" for r in conn.execute(select(OutboxRow)).all())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:  # in a thread: its shutdown talks to the emulators in this loop
                    await asyncio.to_thread(proc.wait, 15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        await tg.stop()
        await exchange.stop()
    assert_one_outcome_per_decision(sqlalchemy.orm.sessionmaker(engine))
    with engine.connect() as conn:
        for row in conn.execute(select(EventRow)):
            scan("event row (atp run)", f"{row.message} {row.payload}")
    engine.dispose()
    scan("atp run log file", (tmp_path / "atp.log").read_text())
    for path in tmp_path.glob("stderr-*.log"):
        scan("atp run console (stdout + stderr)", path.read_text(errors="replace"))
