"""Two `atp run` started from one `.env` (same INSTANCE_NAME) on one database and one bot
token: leases are owned per process, so one sends and one polls — no alert goes out
twice, no 409 storm — and `atp check` is critical, naming both owners (issue 14, item 3).
Real processes, real emulators, real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from atp.emulators.cryptocom import CryptoComEmulator
from atp.emulators.telegram.server import TelegramEmulator
from atp.store import migrate
from atp.store.models import AlertOutcomeRow, WatchlistRow
from tests.processes import ATP, read_port_file

TOKEN = "778:two-copies-token"
CHAT = 556
KEY, SECRET = "two-copies-key", "two-copies-secret"
DECISION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

pytestmark = pytest.mark.slow


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_copies_from_one_env_never_double_send_and_check_names_both(
        db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(db_url)
    engine = create_engine(db_url)
    with Session(engine) as s, s.begin():
        for symbol in ("SOL_USDT", "ETH_USDT"):
            s.add(WatchlistRow(symbol=symbol, preset="scalp-aggressive"))  # as the crash tests
    exchange = CryptoComEmulator(symbols=["BTC_USDT", "SOL_USDT", "ETH_USDT"], seed=5)
    exchange.add_key(KEY, SECRET)
    for symbol in ("SOL_USDT", "ETH_USDT"):  # RSI below 30 from the first cycle: BUYs
        exchange.script(symbol, "rsi_low", candles=40, pct_per_candle=2.0,
                        start=time.time() - 15 * 3600)
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    env = {**os.environ, "DATABASE_URL": db_url, "EXCHANGE_BASE_URL": exchange.base_url,
           "EXCHANGE_API_KEY": KEY, "EXCHANGE_API_SECRET": SECRET,
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_ID": str(CHAT),
           "TELEGRAM_API_BASE": tg.base_url, "PRODUCTION": "true",
           "MONITOR_INTERVAL_SECONDS": "2", "INSTANCE_NAME": "atp", "API_TOKEN": "t" * 32}
    procs: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    try:
        for n in range(2):  # the same environment twice: what two copies of one .env do
            port_file = tmp_path / f"port-{n}"
            out = (tmp_path / f"console-{n}.log").open("wb")
            proc = subprocess.Popen([ATP, "run", "--port", "0", "--port-file", str(port_file)],
                                    env=env, cwd=tmp_path, stdout=out,
                                    stderr=subprocess.STDOUT)
            procs.append(proc)
            ports.append(read_port_file(port_file, proc, 60, Path(out.name)))

        def sent() -> list[AlertOutcomeRow]:
            with engine.connect() as conn:
                return [r for r in conn.execute(select(AlertOutcomeRow)).all()
                        if r.outcome == "SENT"]

        await _until(lambda: len(sent()) >= 2 and len(tg.received(CHAT)) >= 2, 90,
                     "alerts delivered")
        state = [httpx.get(f"http://127.0.0.1:{p}/api/telegram/state", timeout=10).json()
                 for p in ports]
        owners = {s["owner"] for s in state}
        assert len(owners) == 2 and all(o.startswith("atp@") for o in owners)
        assert {p["owner"] for p in state[0]["processes"]} == owners
        assert sum(s["holding_lease"] for s in state) <= 1  # one poller
        assert all(s["conflicts"]["count"] == 0 for s in state)  # so no 409s
        assert state[0]["sender_lease_holder"] in owners
        check = subprocess.run([ATP, "check", "--url", f"http://127.0.0.1:{ports[1]}",
                                "--format", "json"],
                               capture_output=True, text=True, timeout=60, env=env,
                               cwd=tmp_path, check=False)
        report = json.loads(check.stdout)
        [telegram] = [c for c in report["checks"] if c["id"] == "telegram"]
        assert telegram["status"] == "critical" and check.returncode == 2, telegram
        assert all(o in telegram["summary"] for o in owners), telegram["summary"]
        assert "INSTANCE_NAME" in telegram["remediation"]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        await tg.stop()
        await exchange.stop()
    # nothing sent twice: every delivered message names a decision no other message names
    messages = [m.text for m in tg.received(CHAT)]
    ids = Counter(m for text in messages for m in set(DECISION_ID.findall(text)))
    assert ids and max(ids.values()) == 1, ids.most_common(3)
    assert len(messages) == len(sent())
    engine.dispose()
