"""A misbehaving exchange under a running `atp run` (issue 14, item 8): 429 on every
request, answers slower than the client's timeout, and malformed replies for one symbol,
each for more intervals than five minutes hold at the default 30 s interval.

Throughout, the process stays up and cycles on: every watched symbol gets a decision every
cycle (a WAIT naming the cause while its inputs are unknown), `/api/health` says `degraded`
naming the exchange while it cannot be reached, and afterwards the chain is whole again
without a restart: new alerts are delivered once, every BUY/SELL decision has one outcome.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from atp.emulators.telegram.server import TelegramEmulator
from atp.store.models import DecisionRow, MonitorCycleRow
from tests.e2e.crash_harness import Deliveries, Runs, wait_for
from tests.e2e.test_crash_delivery import accepted, env, scripted_exchange, settled, watch
from tests.outcomes import assert_one_outcome_per_decision

pytestmark = pytest.mark.slow
TOKEN, CHAT = "779:crash-delivery-token", 557  # the scripted env() of the crash tests
INTERVAL = 2.0
# 5 minutes at the default 30 s interval are 10 intervals; each fault lasts longer.
FAULT_INTERVALS = 11


def _cycles(runs: Runs) -> int:
    with runs.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(MonitorCycleRow)).scalar_one())


def _decisions_of_cycles_after(runs: Runs, first: int) -> dict[int, Counter[str]]:
    """Per finished cycle numbered above `first`: how many decisions each symbol got."""
    with runs.engine.connect() as conn:
        finished = {r.id for r in conn.execute(
            select(MonitorCycleRow.id).where(MonitorCycleRow.id > first,
                                             MonitorCycleRow.finished_at.is_not(None)))}
        rows = conn.execute(select(DecisionRow.cycle_id, DecisionRow.symbol)
                            .where(DecisionRow.cycle_id > first)).all()
    out: dict[int, Counter[str]] = {c: Counter() for c in finished}
    for cycle_id, symbol in rows:
        if cycle_id in out:
            out[cycle_id][symbol] += 1
    return out


def _reasons_since(runs: Runs, first: int, symbol: str) -> list[str]:
    with runs.engine.connect() as conn:
        rows = conn.execute(select(DecisionRow.decision, DecisionRow.reasons,
                                   DecisionRow.unknown_inputs)
                            .where(DecisionRow.cycle_id > first,
                                   DecisionRow.symbol == symbol)).all()
    return [f"{d} {reasons} {unknown}" for d, reasons, unknown in rows]


async def test_exchange_429_timeouts_and_malformed_replies_keep_the_chain_whole(
        tmp_path: Path, canary: Any) -> None:
    exchange, symbols = scripted_exchange(5)
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    db_url = f"sqlite:///{tmp_path / 'atp.db'}"
    # DECISION_HEARTBEAT_MINUTES=0: a row per decision, so every cycle's rows prove that
    # each symbol was decided in it (compact storage folds an unchanged WAIT into one row)
    runs = Runs(db_url, tmp_path, env(exchange, tg, MONITOR_INTERVAL_SECONDS=str(INTERVAL),
                                      STALL_EXIT_INTERVALS="10",
                                      DECISION_HEARTBEAT_MINUTES="0"))
    watched = symbols[:3]
    try:
        watch(runs, watched)
        proc = runs.start()
        api = f"http://127.0.0.1:{int((tmp_path / 'port-0').read_text())}"

        def health() -> dict[str, Any]:
            return httpx.get(f"{api}/api/health", timeout=10).json()

        await wait_for(lambda: settled(runs) and len(accepted(runs)) >= len(watched), 60,
                       "the first alerts delivered")

        phases: list[tuple[str, dict[str, Any], str | None]] = [
            # (what, emulator fault, what /api/health must name while it lasts)
            ("429 on every request", {"rate_limit_next": -1}, "exchange"),
            ("answers slower than the client's timeout", {"slow_seconds": 12.0}, "exchange"),
            (f"malformed replies for {watched[0]}",
             {"malformed_symbol": watched[0], "malformed_part": "both"}, None),
        ]
        for what, fault, named in phases:
            first = _cycles(runs)
            exchange.set_faults(**fault)
            seen_degraded: list[str] = []
            for _ in range(FAULT_INTERVALS):
                await asyncio.sleep(INTERVAL)
                h = await asyncio.to_thread(health)  # the emulators share this loop
                if h["status"] != "ok":
                    seen_degraded.append(f"{h['status']}: {h.get('reason')}")
                assert proc.poll() is None, f"atp run exited during '{what}'"
            exchange.clear_faults()
            if named is not None:
                assert any(named in s and s.startswith("degraded") for s in seen_degraded), \
                    f"{what}: /api/health never said degraded naming the {named}: " \
                    f"{seen_degraded}"
            per_cycle = _decisions_of_cycles_after(runs, first)
            assert per_cycle, f"no cycle finished during '{what}'"
            for cycle_id, counts in per_cycle.items():
                assert sorted(counts) == sorted(watched) and set(counts.values()) == {1}, \
                    f"{what}: cycle {cycle_id} decided {dict(counts)}"
            if what.startswith("malformed"):
                reasons = _reasons_since(runs, first, watched[0])
                assert reasons and all(r.startswith("WAIT") for r in reasons), reasons[:3]
                assert any("malformed" in r.lower() for r in reasons), reasons[:3]
                others = _reasons_since(runs, first, watched[1])
                assert others and not any("malformed" in r.lower() for r in others)

        await wait_for(lambda: health()["status"] == "ok", 60, "health ok after the faults")
        watch(runs, symbols[3:])  # fresh alerts after the faults, same process
        await wait_for(lambda: settled(runs) and len(accepted(runs)) >= len(symbols), 60,
                       "alerts of the symbols added after the faults delivered")
        assert proc.poll() is None  # recovered without a restart
    finally:
        runs.stop()
        await tg.stop()
        await exchange.stop()
    assert_one_outcome_per_decision(runs.sessions())
    deliveries = Deliveries.of(tg.received(CHAT), accepted(runs))
    assert deliveries.lost == [] and deliveries.doubled == [], deliveries.figures()
    runs.engine.dispose()
