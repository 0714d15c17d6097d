"""The trader: every layer, and its loop — one round as a replica (the lease holder
reconciles once, decides the intents, syncs every `sync_seconds`) and the worker."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from atp.engine.trader.base import INTENT_BATCH, log
from atp.engine.trader.sync import TraderSync
from atp.store import trading as rows


@dataclass
class Trader(TraderSync):
    """The trader: every layer (base → state → protection → intents → sync) and the
    loop that runs them."""

    # ── the loop ───────────────────────────────────────────────────────────────────────

    async def step(self) -> int:
        """One round as a replica: only the lease holder trades and syncs."""
        if self.paper.record is not None:  # replicas: the other shards' prices
            await self.paper.refresh(await self.db.read(self._paper_symbols))
        if self.lease is not None:
            held = self.holding_lease and await self.lease.renew()
            if not held:  # expired while we slept (or never held): take it if it is free
                held = await self.lease.acquire()
            if held != self.holding_lease:
                log.info("trader lease " + ("acquired" if held else "lost"),
                         instance=self.instance)
                if held:
                    self._reconciled = False
            self.holding_lease = held
            if not held:
                return 0
        done = 0
        if not self._reconciled:
            done += await self.sync_once(startup=True)  # start-up reconciliation
            self._reconciled = True
        done += await self.run_once()
        now = self.clock.monotonic()
        if self._last_sync is None or now - self._last_sync >= self.sync_seconds:
            self._last_sync = now
            done += await self.sync_once()
        return done

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # cleared before the round, not after: a wake-up set while the round runs (a
            # cycle's new intents) starts the next round at once instead of being lost
            self.wake.clear()
            try:
                await self.step()
            except Exception as exc:  # a database outage: record, keep the worker alive
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.error("trader round failed", error=self.stats.last_error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.sync_seconds)

    def _paper_symbols(self) -> list[str]:
        """The symbols the paper broker needs a price of: pending intents, open paper
        orders (SL/TP legs walk the path) and open paper positions (their mark)."""
        with self.db.sessions() as s:
            found = {r.symbol for r in rows.intents_with_outcome(s, ["PENDING"], INTENT_BATCH)}
            found |= {r.symbol for r in rows.open_paper_orders(s)}
            found |= {p.symbol for p in rows.open_positions(s) if p.mode == "paper"}
        return sorted(found)
