"""Issue 14's reliability tests from outside: `atp run` killed with SIGKILL at random moments
while alerts flow to a slow Telegram, and a Telegram that freezes (accepts, never answers)
until sends time out. Afterwards every BUY/SELL decision has exactly one outcome, nothing
accepted is lost, and no alert arrives more than twice, the second copy always marked.
Real processes, real emulators, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from atp.emulators.cryptocom import CryptoComEmulator
from atp.emulators.telegram.server import TelegramEmulator
from atp.store import repository as repo
from atp.store.models import OutboxRow
from tests.canary import CANARY_KEY, CANARY_SECRET
from tests.e2e.crash_harness import Deliveries, Runs, wait_for
from tests.outcomes import assert_one_outcome_per_decision

TOKEN, CHAT = "779:crash-delivery-token", 557
SEED = 1414


def scripted_exchange(n: int) -> tuple[CryptoComEmulator, list[str]]:
    """`n` symbols, each with a BUY from the first cycle (a fall that began 15 h ago)."""
    exchange = CryptoComEmulator(symbols=n + 1, seed=7)
    exchange.add_key(CANARY_KEY, CANARY_SECRET)
    symbols = sorted(exchange.market.instruments)[:n]
    for symbol in symbols:
        exchange.script(symbol, "rsi_low", candles=40, pct_per_candle=2.0,
                        start=time.time() - 15 * 3600)
    return exchange, symbols


def env(exchange: CryptoComEmulator, tg: TelegramEmulator, **extra: str) -> dict[str, str]:
    return {"EXCHANGE_BASE_URL": exchange.base_url, "EXCHANGE_API_KEY": CANARY_KEY,
            "EXCHANGE_API_SECRET": CANARY_SECRET, "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_CHAT_ID": str(CHAT), "TELEGRAM_API_BASE": tg.base_url,
            "MONITOR_INTERVAL_SECONDS": "2", "INSTANCE_NAME": "crash-delivery", **extra}


def watch(runs: Runs, symbols: list[str]) -> None:
    with runs.session() as s, s.begin():
        repo.add_symbols(s, symbols, "scalp-aggressive")


def accepted(runs: Runs) -> list[str]:
    """Decision ids of the accepted alerts: the ones with an alert in the outbox."""
    return [r.decision_id for r in runs.rows(OutboxRow) if r.kind == "alert"]


def settled(runs: Runs) -> bool:
    rows = [r for r in runs.rows(OutboxRow) if r.kind == "alert"]
    return bool(rows) and all(r.status != "pending" for r in rows)


def check(runs: Runs, tg: TelegramEmulator) -> dict[str, int]:
    """The verdicts every delivery test ends with; returns its figures."""
    assert_one_outcome_per_decision(runs.sessions())
    ids = accepted(runs)
    deliveries = Deliveries.of(tg.received(CHAT), ids)
    deliveries.assert_at_most_one_marked_repeat()
    outcome = {o.decision_id: o for o in runs.outcomes()}
    for decision_id, copies in deliveries.copies.items():
        o = outcome[decision_id]
        if o.outcome == "SENT":
            assert copies, f"alert {decision_id} SENT but never arrived"
        else:  # the only way to fail here: a repeat whose fate was unknown too
            assert o.outcome == "FAILED" and "not sent a third time" in (o.error or ""), o
    return {**deliveries.figures(),
            "failed_no_third": sum(1 for d in ids if outcome[d].outcome == "FAILED")}


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the production database;
# the same path on SQLite is covered by the frozen-Telegram test and test_crash_order (suite time)
async def test_sigkill_at_random_moments_loses_nothing_and_marks_every_repeat(
        db_url, canary, tmp_path, capsys):
    kills, per_run = 5, 3
    exchange, symbols = scripted_exchange(kills * per_run + 2)
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    await tg.set_fault("slow", seconds=1.2)  # delivered at once, answered 1.2 s later
    runs = Runs(db_url, tmp_path, env(exchange, tg))
    rng = random.Random(SEED)
    delays = []
    try:
        for k in range(kills):
            # new symbols each run: fresh alerts are in flight when the kill comes
            watch(runs, symbols[k * per_run:(k + 1) * per_run])
            proc = runs.start()
            delays.append(round(rng.uniform(0.3, 5.0), 2))
            await asyncio.sleep(delays[-1])  # the random moment itself, not a sync
            runs.kill(proc)
        watch(runs, symbols[kills * per_run:])
        runs.start()
        await wait_for(lambda: settled(runs) and len(accepted(runs)) >= len(symbols), 60,
                       "every accepted alert delivered after the last restart")
    finally:
        runs.stop()
        await tg.stop()
        await exchange.stop()
    figures = check(runs, tg)
    runs.engine.dispose()
    with capsys.disabled():
        print(f"\nrandom SIGKILLs (seed {SEED}, delays {delays} s): kills {kills}, {figures}")
    assert figures["lost"] == 0 and figures["alerts"] == len(symbols)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL: the SIGKILL test
async def test_frozen_telegram_delivers_every_alert_at_most_once_plus_a_marked_repeat(
        db_url, canary, tmp_path, capsys):
    exchange, symbols = scripted_exchange(5)
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    runs = Runs(db_url, tmp_path, env(exchange, tg, TELEGRAM_SEND_TIMEOUT_SECONDS="1.5"))
    try:
        watch(runs, symbols[:2])
        runs.start()
        await wait_for(lambda: settled(runs) and len(tg.received(CHAT)) >= 2, 45,
                       "the first alerts delivered")
        await tg.set_fault("freeze")  # connections accepted, nothing answered
        watch(runs, symbols[2:])  # three alerts accepted while Telegram is frozen

        def timed_out() -> bool:
            return any(r.possible_repeat for r in runs.rows(OutboxRow) if r.kind == "alert")

        await wait_for(timed_out, 45, "a send timed out (its fate unknown)")
        frozen_for = 0.0
        start = time.monotonic()
        await asyncio.sleep(4)  # frozen a while longer: getMe unanswered, nothing is sent
        frozen_for = time.monotonic() - start
        assert not tg.received(CHAT)[2:]  # nothing got through while frozen
        await tg.clear_fault("freeze")  # thaw: the held calls are carried out
        await wait_for(lambda: settled(runs) and len(accepted(runs)) == 5, 45,
                       "every accepted alert delivered after the thaw")
    finally:
        runs.stop()
        await tg.stop()
        await exchange.stop()
    figures = check(runs, tg)
    runs.engine.dispose()
    with capsys.disabled():
        print(f"\nfrozen Telegram (+{frozen_for:.0f} s after the first timeout): {figures}")
    assert figures["lost"] == 0 and figures["alerts"] == 5
    assert figures["repeats"] == figures["doubled"] == 1  # one unknown fate, not one each
