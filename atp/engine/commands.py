"""Telegram's commands as calls of the one core: each answer is translated to text here.

The bot (`atp.telegram.poller`) moves text between Telegram and this `CommandCore`;
what /signals says is `Core.coins()` — the same record the API and the dashboard show —
and `/alerts SYMBOL buy off` is `Core.set_alert_flag`, the API's audited write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from atp.engine.core import Core, CoreError
from atp.engine.status import PlatformStatus


def status_text(status: PlatformStatus) -> str:
    last = status.last_cycle
    lines = [f"ATP {status.instance}"]
    if last is None:
        lines.append("Monitor: no cycle completed yet")
    else:
        ago = status.last_update_seconds_ago or 0.0
        lines.append(f"Monitor: cycle {last.cycle_id}, {last.symbols} symbols, "
                     f"{last.duration_ms:.0f} ms, {ago:.0f} s ago")
        lines.append("Decisions: " + ", ".join(f"{k} {v}" for k, v in
                                              sorted(last.decisions.items())))
    o = status.outbox
    lines.append(f"Alerts: {o.sent} sent, {o.failed} failed, {o.retries} retries")
    if status.telegram.polling or status.telegram.conflicts:
        lines.append(f"Telegram 409 conflicts: {status.telegram.conflicts}")
    return "\n".join(lines)


class CommandAnswers:
    """Implements the bot's `CommandCore` over `Core` (author "telegram" on writes)."""

    def __init__(self, core: Core, status: Callable[[], PlatformStatus],
                 balance: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.core, self._status, self._balance = core, status, balance

    async def status(self) -> str:
        return status_text(self._status())

    async def signals(self) -> str:
        coins = await self.core.coins()
        if not coins:
            return "The watchlist is empty."
        lines = ["Latest decisions:"]
        for c in coins:
            if c["decision"] is None:
                lines.append(f"{c['symbol']}: {c['error'] or 'no decision yet'}")
                continue
            line = (f"{c['symbol']}: {c['decision']} (buy index {c['buy_index']}, "
                    f"price {c['price']})")
            # the cause the domain recorded (`price stale: 74 s old`), not a flag's echo
            # of it (`buy_price_ok unknown: price unknown`)
            causes = list((c.get("unknown_inputs") or {}).values())
            if c["decision"] == "WAIT" and causes:
                line += f" — {'; '.join(causes)}"
            lines.append(f"{line} · {str(c['decision_id'])[:8]}")
        return "\n".join(lines)

    async def watchlist(self) -> str:
        rows = await self.core.watchlist()
        if not rows:
            return "The watchlist is empty."
        def line(r: dict[str, Any]) -> str:
            trade = f" trade {r['trade_amount_usd']:g} USD" if r["trade_enabled"] else ""
            return f"{r['symbol']}: {r['preset']}{'' if r['enabled'] else ' (disabled)'}{trade}"

        return "Watchlist:\n" + "\n".join(line(r) for r in rows)

    async def alerts(self, symbol: str | None, side: str | None, on: bool | None) -> str:
        if symbol is not None and side is not None and on is not None:
            try:
                await self.core.set_alert_flag(symbol, side, on, "telegram")
            except CoreError as exc:
                return exc.message
        rows = await self.core.watchlist(symbol)
        if not rows:
            return f"{symbol} is not on the watchlist." if symbol else "The watchlist is empty."

        def mark(v: bool) -> str:
            return "on" if v else "off"

        return "\n".join(
            f"{r['symbol']}: alerts {mark(r['alert_enabled'])}, buy "
            f"{mark(r['buy_alert_enabled'])}, sell {mark(r['sell_alert_enabled'])}"
            for r in rows
        )

    async def balance(self) -> str:
        if self._balance is None:
            return "No exchange credentials configured."
        balances = await self._balance()
        if not balances:
            return "No balances."
        lines = ["Balances:"]
        for ccy, amounts in sorted(balances.items()):
            total = amounts.get("total", 0.0) if isinstance(amounts, dict) else amounts
            lines.append(f"{ccy}: {total:g}")
        return "\n".join(lines)

    async def portfolio(self) -> str:
        return await self.balance()

    async def kill(self, on: bool | None) -> str:
        """`/kill on|off`: the same audited switch as the API's and the dashboard's."""
        if on is None:
            state = await self.core.trading_state()
            return (f"Kill switch is {'ON: no new orders' if state['kill_switch'] else 'off'}"
                    f" (mode {state['mode']}).")
        state = await self.core.set_kill_switch(on, "telegram")
        if state.get("kill_switch", on):
            return ("Kill switch ON: no new orders (intents are BLOCKED with reason "
                    "'kill switch'). Open orders and SL/TP stay; /panic cancels open entries.")
        return "Kill switch off: orders from accepted alerts are allowed again."

    async def panic(self) -> str:
        """`/panic`: cancel every open ATP entry order; the SL/TP pairs stay in place."""
        result = await self.core.panic("telegram")
        cancelled = list(result.get("cancelled") or [])
        if not cancelled:
            return "Panic: no open ATP entry order to cancel. SL/TP orders untouched."
        return (f"Panic: cancelled {len(cancelled)} open entry order(s): "
                + ", ".join(cancelled) + ". SL/TP orders stay in place.")

    async def test(self, symbol: str) -> str:
        """`/test SYMBOL`: the same probe as `atp check --probe` (audited, author
        "telegram"); its TEST message follows through the outbox."""
        try:
            probe = await self.core.probe(symbol, "telegram")
        except CoreError as exc:
            return exc.message
        return (f"Probe {probe['id']} queued for {probe['symbol']}: a TEST message follows "
                f"through the outbox (never an order). GET /api/probe/{probe['id']} shows "
                "its stage.")
