"""Switches and state: the live and kill switches, why live orders are refused, the mode
orders are placed in, and the reads behind GET /api/trading/state and the positions."""

from __future__ import annotations

from typing import Any

from atp.domain.portfolio import unrealised_pct, unrealised_pnl
from atp.engine.intents import KILL_SWITCH, LAST_ORDER_CALL, LIVE_TRADING, NO_CREDENTIALS
from atp.engine.ports import Broker
from atp.engine.trader.base import TraderBase, _describe
from atp.store import configuration as settings_rows
from atp.store import trading as rows
from atp.store.models import PositionRow

LIVE_PROBE_TTL_S = 60.0
# a refusal is probed again sooner: once the cause is fixed (NTP, a new key) the next BUY
# must not be refused for the rest of a minute on a stale answer
LIVE_REFUSAL_TTL_S = 5.0


class TraderState(TraderBase):
    """Switches and state: the layer every other one asks for a broker and the mode."""

    # ── switches and state ─────────────────────────────────────────────────────────────

    def broker(self, mode: str) -> Broker | None:
        return self.paper if mode == "paper" else self.live

    async def live_refusal(self, force: bool = False) -> str | None:
        """Why live orders are refused now (None: allowed): credentials, then a private
        call that succeeded within the last minute."""
        if not self.credentials:
            return NO_CREDENTIALS
        if self.live is None:
            return "live trading refused: no live broker configured"
        now = self.clock.monotonic()
        if not force and self._probe is not None and now - self._probe[0] < (
                LIVE_PROBE_TTL_S if self._probe[1] is None else LIVE_REFUSAL_TTL_S):
            return self._probe[1]
        refusal: str | None = None
        try:
            await self.live.balances()
        except Exception as exc:
            refusal = f"live trading refused: private call failed: {_describe(exc)}"
        self._probe = (now, refusal)
        return refusal

    async def switches(self) -> tuple[bool, bool]:
        def read() -> tuple[bool, bool]:
            with self.db.sessions() as s:
                return (settings_rows.get_setting(s, LIVE_TRADING) is True,
                        settings_rows.get_setting(s, KILL_SWITCH) is True)

        return await self.db.read(read)

    async def state(self) -> dict[str, Any]:
        """The body of GET /api/trading/state."""
        live_switch, kill = await self.switches()
        refusal = await self.live_refusal() if live_switch else None

        def read() -> dict[str, Any]:
            with self.db.sessions() as s:
                last = settings_rows.get_setting(s, LAST_ORDER_CALL)
                positions = rows.open_positions(s)
                return {
                    "last_private_order_call": last if isinstance(last, dict) else None,
                    "open_orders": rows.count_open_orders(s),
                    "open_positions": len(positions),
                    "unprotected_positions": sum(1 for p in positions
                                                 if p.protection_status != "active"),
                }

        counts = await self.db.read(read)
        return {"mode": "live" if live_switch and refusal is None else "paper",
                "live_switch": live_switch, "kill_switch": kill,
                "credentials": self.credentials, "live_refused_reason": refusal, **counts}

    async def mode(self) -> str:
        """The mode orders are placed in now: live only with the switch on and not refused."""
        live_switch, _ = await self.switches()
        refusal = await self.live_refusal() if live_switch else None
        return "live" if live_switch and refusal is None else "paper"

    async def positions(self) -> dict[str, Any]:
        mode = await self.mode()

        def read() -> list[dict[str, Any]]:
            with self.db.sessions() as s:
                return [self._position_view(p) for p in rows.open_positions(s)
                        if p.mode == mode]

        return {"positions": await self.db.read(read), "mode": mode}

    def _position_view(self, p: PositionRow) -> dict[str, Any]:
        mark = self.paper.price(p.symbol)
        error = None
        if p.protection_status != "active" and (p.protection_error or p.protection_attempts):
            error = {"code": p.protection_error_code,
                     "message": p.protection_error or "protection not placed yet",
                     "attempts": p.protection_attempts,
                     "since": p.protection_error_since or p.opened_at}
        return {
            "symbol": p.symbol, "quantity": p.quantity, "avg_entry": p.avg_entry,
            "mark_price": mark, "unrealised_pnl": unrealised_pnl(p.quantity, p.avg_entry, mark),
            "unrealised_pnl_pct": unrealised_pct(p.avg_entry, mark),
            "opened_at": p.opened_at, "entry_client_oid": p.entry_client_oid,
            "decision_id": p.decision_id, "protected": p.protection_status == "active",
            "protection": None if p.protection_list_id is None else {
                "list_id": p.protection_list_id, "stop_loss": p.stop_loss,
                "take_profit": p.take_profit, "status": p.protection_status},
            "protection_error": error,
        }
